"""The time the control plane goes by: replaceable, so usage can be tested at known times."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

_source: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731


def now() -> datetime:
    return _source()


def set_source(source: Callable[[], datetime]) -> Callable[[], datetime]:
    """Replaces the clock; returns the previous one (to put back)."""
    global _source
    previous, _source = _source, source
    return previous
