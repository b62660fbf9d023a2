"""A point of history is refused, never restored wrongly, when its WAL is not all there."""

from __future__ import annotations

import asyncio

from lampion.errors import InvalidRequest
from lampion.pg import recovery
from lampion.storage import replay_check
from lampion.storage.base import StorageError
from lampion.storage.history import History, RecoveryTarget


async def require_complete(
    history: History, branch_id: str, target: RecoveryTarget, field_prefix: str
) -> None:
    """400 naming the missing segments when the branch's archive lacks WAL that a replay
    from the base recovery would use to ``target`` reads (``field_prefix``: ``parent`` or
    ``source``)."""
    try:
        base = await asyncio.to_thread(history.base_for, branch_id, target)
    except StorageError:
        return  # no base before the point: the window check refuses it
    root = history.dir(branch_id)
    if target.lsn is not None:
        field, value = f"{field_prefix}_lsn", target.lsn
        gap = await replay_check.first_gap(root, base, lsn=recovery.lsn_value(target.lsn))
    else:
        assert target.time is not None
        field, value = f"{field_prefix}_timestamp", target.time.isoformat()
        gap = await replay_check.first_gap(root, base, time=target.time)
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
