"""Pricing plans and their limits."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Plan(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str = Field(examples=["free"])
    max_projects: int = Field(examples=[3])
    max_branches_per_project: int
    max_compute_units: float
    cu_hour_usd: float = Field(
        examples=[0.106], description="Price of one compute unit for an hour"
    )
    storage_gb_month_usd: float
    transfer_gb_usd: float
    api_requests_per_hour: int
    api_burst: int
