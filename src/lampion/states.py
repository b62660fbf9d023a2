"""The states a project, branch, endpoint and webhook delivery can be in: one list each, used
by the store's columns, the API's schemas and the code that moves things between them."""

from __future__ import annotations

from enum import StrEnum


class ProjectState(StrEnum):
    PROVISIONING = "provisioning"
    ACTIVE = "active"
    DELETING = "deleting"


class BranchState(StrEnum):
    PROVISIONING = "provisioning"
    READY = "ready"
    DELETING = "deleting"
    RESTORING = "restoring"
    """Its data is being replaced (restore, reset); a crash is settled by the reconciler."""


class EndpointStatus(StrEnum):
    """What the compute was last seen doing."""

    PROVISIONING = "provisioning"
    RUNNING = "running"
    SUSPENDED = "suspended"
    FAILED = "failed"


class DesiredState(StrEnum):
    """What the compute should be doing; the reconciler makes it so."""

    RUNNING = "running"
    SUSPENDED = "suspended"
    DELETED = "deleted"


class DeliveryStatus(StrEnum):
    """Where a webhook delivery stands; `failed`: retries ran out or the webhook went away."""

    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
