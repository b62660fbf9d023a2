"""Every event the outbox carries to webhooks: what `events.emit` accepts and what a webhook
may subscribe to (besides "*")."""

from __future__ import annotations

from enum import StrEnum


class EventType(StrEnum):
    PROJECT_CREATED = "project.created"
    PROJECT_DELETED = "project.deleted"
    BRANCH_CREATED = "branch.created"
    BRANCH_DELETED = "branch.deleted"
    BRANCH_EXPIRED = "branch.expired"
    BRANCH_RESTORED = "branch.restored"
    BRANCH_RESET = "branch.reset"
    BRANCH_ARCHIVE_FAILED = "branch.archive_failed"
    ENDPOINT_SUSPENDED = "endpoint.suspended"
    ENDPOINT_RESUMED = "endpoint.resumed"
    ENDPOINT_UPDATED = "endpoint.updated"
    ENDPOINT_FAILED = "endpoint.failed"
    DATABASE_CREATED = "database.created"
    DATABASE_DELETED = "database.deleted"
    ROLE_CREATED = "role.created"
    ROLE_DELETED = "role.deleted"
    EXTENSION_INSTALLED = "extension.installed"
    EXTENSION_UNINSTALLED = "extension.uninstalled"
    ALLOWLIST_UPDATED = "allowlist.updated"
    API_KEY_CREATED = "api_key.created"
    API_KEY_REVOKED = "api_key.revoked"
    WEBHOOK_DISABLED = "webhook.disabled"
    WEBHOOK_TEST = "webhook.test"


ALL_EVENTS = "*"
"""A webhook subscribed to "*" gets every event type."""
