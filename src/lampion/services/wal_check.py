"""A point of history is refused, never restored wrongly, when its WAL is not all there."""

from __future__ import annotations

from pathlib import Path

from lampion.errors import InvalidRequest
from lampion.pg import recovery
from lampion.storage import replay_check
from lampion.storage.history import RecoveryTarget


async def require_complete(history: Path, target: RecoveryTarget, field_prefix: str) -> None:
    """400 naming the missing segments when the archive in ``history`` lacks WAL that a
    replay from its base to ``target`` reads (``field_prefix``: ``parent`` or ``source``)."""
    if target.lsn is not None:
        field, value = f"{field_prefix}_lsn", target.lsn
        gap = await replay_check.first_gap(history, lsn=recovery.lsn_value(target.lsn))
    else:
        assert target.time is not None
        field, value = f"{field_prefix}_timestamp", target.time.isoformat()
        gap = await replay_check.first_gap(history, time=target.time)
    if gap is None:
        return
    missing = gap.first if gap.first == gap.last else f"{gap.first} to {gap.last}"
    raise InvalidRequest(
        f"{field} {value} cannot be restored: the branch's WAL archive is missing "
        f"segment {missing}",
        details={
            "field": field,
            "reason": "wal_missing",
            "missing_from": gap.first,
            "missing_to": gap.last,
        },
    )
