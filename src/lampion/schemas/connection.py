"""How to reach a compute: the fields that projects, branches and endpoints all return."""

from __future__ import annotations

from pydantic import Field

from lampion.schemas.common import ResponseModel


class ConnectionInfo(ResponseModel):
    connection_string: str = Field(
        examples=[
            "postgresql://cloud_admin:YaQYfbg@db-test.lampion.cloud:5432/postgres"
            "?sslmode=require&options=endpoint%3Dep-abc"
        ],
        description="Through the connection proxy, as the compute's superuser",
    )
    pg_password: str = Field(examples=["YaQYfbg..."])
    host: str = Field(examples=["db-test.lampion.cloud"])
    port: int = Field(examples=[5432], description="The connection proxy's port")
    pg_port: int = Field(
        examples=[55436], description="The compute's own PostgreSQL port (direct connections)"
    )
    pooled_connection_string: str | None = Field(
        None,
        examples=[
            "postgresql://cloud_admin:YaQYfbg@db-test.lampion.cloud:5432/ep-abc-pooler.postgres"
            "?sslmode=require"
        ],
        description="Through the connection proxy to the compute's PgBouncer; null when the "
        "endpoint's pooler is disabled",
    )
