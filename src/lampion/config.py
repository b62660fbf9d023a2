"""Settings, read from the environment (prefix ``LAMPION_``)."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LAMPION_", extra="ignore")

    data_dir: Path = Path(".lampion")
    database_url: str | None = None
    """Metadata store. Default: a SQLite file in ``data_dir``."""

    api_host: str = "127.0.0.1"
    api_port: int = Field(8080, ge=1, le=65535)
    public_host: str = "127.0.0.1"
    """Host name put in connection strings."""
    connection_routing: Literal["options", "sni", "database"] = "options"
    """How the connection strings the API hands out name their endpoint (the proxy accepts
    every form): ``options=endpoint%3D<id>`` (every libpq-based client and asyncpg, on any host
    name or address; survives ``\\c otherdb`` and Django's test databases), ``sni`` (host
    ``<id>.<public_host>``: needs wildcard DNS for ``public_host`` and TLS), or ``database``
    (``<id>.<dbname>``, for clients that pass no options; lost when the client changes the
    database)."""
    proxy_port: int = Field(6432, ge=1, le=65535)
    proxy_host: str = "127.0.0.1"
    """Address the connection proxy listens on (0.0.0.0 to take clients from the network)."""
    proxy_enabled: bool = True
    """Run the proxy inside `lampion serve` (off when it runs apart as `lampion proxy`)."""
    proxy_require_tls: bool = False
    proxy_source_host: str = "127.0.0.2"
    """Source address of the proxy's connections to computes; their pg_hba always admits it
    (the proxy enforces the allowlist itself, on the client's address)."""
    proxy_handshake_timeout: float = Field(10.0, gt=0)
    proxy_kernel_relay: bool = True
    """After the startup phase, let the kernel copy plaintext sessions' bytes (eBPF sockmap)
    where the kernel allows it; otherwise, and for TLS sessions, the proxy copies them."""
    proxy_auth_failures_per_address: int = Field(10, ge=1)
    proxy_auth_failures_per_endpoint: int = Field(100, ge=1)
    proxy_auth_failure_window: float = Field(60.0, gt=0)
    """Failed logins at the proxy (seconds of the window): over a limit an address is refused
    until the window passes. Counted per proxy process."""
    tls_cert: Path | None = None
    tls_key: Path | None = None
    """PEM certificate and key for the proxy. Default: self-signed, made into data_dir/tls."""
    meter_flush_interval: float = Field(5.0, gt=0)

    metrics_interval: float = Field(30.0, ge=0)
    """Seconds between metrics samples of running computes; 0 switches the sampler off."""
    metrics_public: bool = False
    """Serve GET /metrics (Prometheus) without an API key."""

    webhook_interval: float = Field(10.0, ge=0)
    """Seconds between the webhook worker's safety-net passes (committed events wake it at
    once, on every replica of a PostgreSQL store, and it wakes itself for retries); 0
    switches delivery off."""
    webhook_timeout: float = Field(10.0, gt=0)
    webhook_retry_schedule: Annotated[list[float], NoDecode] = [
        5,
        300,
        1800,
        7200,
        18000,
        36000,
        36000,
    ]
    """Seconds before each retry (with jitter); when exhausted the webhook is disabled."""
    webhook_concurrency: int = Field(16, ge=1)
    """Webhooks delivered to at once, each one delivery at a time, in order."""
    webhook_allow_private: bool = False
    """Allow webhook URLs on loopback, private, link-local… addresses (tests, trusted LANs)."""
    webhook_allowed_cidrs: Annotated[list[str], NoDecode] = []
    """Networks allowed even though private (e.g. 10.1.2.0/24), comma-separated."""

    cors_origins: Annotated[list[str], NoDecode] = []
    """Origins a browser console may call the API from (comma-separated; none by default)."""
    rate_limit_enabled: bool = True
    """Token buckets per API key (the plan's rate and burst) and per org (three times both),
    kept in the metadata store so that they hold across replicas."""

    sql_statement_timeout: float = Field(30.0, gt=0, le=300)
    """Default statement timeout of the SQL API, in seconds (a request may ask up to 300)."""
    sql_max_rows: int = Field(10000, ge=1)
    sql_max_bytes: int = Field(10 * 1024 * 1024, ge=1024)
    """A result larger than this (rows or bytes) comes back cut, with ``truncated: true``."""

    compute_backend: Literal["process", "docker"] = "process"
    """``process``: computes are postgres processes on this machine; ``docker``: containers."""
    compute_image: str = "lampion/compute:{pg_version}"
    """Docker backend: the compute image; ``{pg_version}`` becomes the project's major."""
    docker_network: str = "host"
    """Docker backend: ``host`` (postgres listens on its loopback port) or a network name
    (the proxy reaches each compute at its address on that network)."""
    docker_host: str | None = None
    """Docker backend: the engine's address. Default: ``DOCKER_HOST``, else the local socket."""
    storage_driver: Literal["auto", "copy", "reflink"] = "auto"
    storage_concurrency: int = Field(2, ge=1)
    """Data-dir copies and deletes run at once; more wait their turn, first come first served."""
    pg_user: str | None = None
    """OS user computes run as. Default: the current user, or ``postgres`` when root."""
    pg_bin: Path | None = None
    """A PostgreSQL ``bin`` directory to prefer over the discovered installations."""
    templates_dir: Path | None = None
    """Where template clusters live. Default: ``data_dir/templates``."""
    compute_listen_host: str = "127.0.0.1"
    port_range_start: int = Field(55432, ge=1024, le=65535)
    port_range_end: int = Field(55999, ge=1024, le=65535)
    compute_start_timeout: float = Field(30.0, gt=0)

    regions: Annotated[list[str], NoDecode] = ["fr-par-1"]
    master_key: str | None = None
    """Encrypts stored secrets. Generated into ``data_dir`` when absent."""

    log_level: str = "INFO"
    log_json: bool | None = None
    """JSON logs. Default: JSON unless stderr is a terminal."""

    reconcile_on_start: bool = True
    reconcile_interval: float = Field(10.0, ge=0)
    """Seconds between reconciler passes; 0 switches the worker off."""
    autosuspend_interval: float = Field(5.0, ge=0)
    """Seconds between auto-suspend checks; 0 switches the worker off."""
    expiry_interval: float = Field(30.0, ge=0)
    """Seconds between passes deleting expired branches; 0 switches the worker off."""
    provisioning_grace: float = Field(600.0, gt=0)
    """A create still unfinished after this long was cut short by a crash: undo it."""
    history_retention: int = Field(86_400, ge=0)
    """Seconds of history a branch keeps (points it can be branched at); a project's
    ``history_retention_seconds`` overrides it, both capped by the plan."""
    history_interval: float = Field(30.0, ge=0)
    """Seconds between the history worker's passes (snapshots when due, then pruning of what
    fell out of each branch's window); 0 switches the worker off."""
    snapshot_interval: int = Field(300, ge=0)
    """Seconds after which a branch with new WAL gets a further base snapshot, on ``reflink``
    storage (there a snapshot costs metadata only); 0 switches the time schedule off."""
    snapshot_wal_bytes: int = Field(1024**3, ge=0)
    """A further base snapshot once this much WAL was written since the newest base (on any
    storage; what drives snapshots on ``copy``); 0 switches it off."""
    reflink_snapshot_wal_bytes: int = Field(128 * 1024**2, ge=0)
    """The same on ``reflink`` storage, where a snapshot costs metadata only: a lower
    threshold keeps replay to any point short under heavy writes; 0 switches it off."""

    @field_validator(
        "regions", "webhook_allowed_cidrs", "webhook_retry_schedule", "cors_origins", mode="before"
    )
    @classmethod
    def _split_regions(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if not self.regions:
            raise ValueError("LAMPION_REGIONS must name at least one region")
        if self.port_range_end <= self.port_range_start:
            raise ValueError("LAMPION_PORT_RANGE_END must be above LAMPION_PORT_RANGE_START")
        if self.connection_routing == "sni" and _is_address(self.public_host):
            raise ValueError(
                "LAMPION_CONNECTION_ROUTING=sni needs LAMPION_PUBLIC_HOST to be a DNS name "
                "with a wildcard record (*.<host>): TLS clients send no server name for an "
                "address"
            )
        self.data_dir = self.data_dir.expanduser().absolute()
        return self

    @property
    def store_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / 'lampion.db'}"

    @property
    def template_root(self) -> Path:
        return (self.templates_dir or self.data_dir / "templates").expanduser().absolute()

    @property
    def branches_dir(self) -> Path:
        return self.data_dir / "branches"

    @property
    def computes_dir(self) -> Path:
        return self.data_dir / "computes"


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True
