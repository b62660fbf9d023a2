"""Which WAL segments an archive lacks for a replay (pure: names in, missing range out).

A segment file is named ``TTTTTTTTXXXXXXXXYYYYYYYY``: timeline, then the segment number
split in two (``XXXXXXXX`` counts 4 GiB units, ``YYYYYYYY`` the segments inside one). A
replay from a base needs every segment number from the base's start to the target's, each
from some timeline of the target timeline's ancestry that had begun by that segment: what
PostgreSQL's recovery reads (``TTTTTTTT.history`` lists a timeline's ancestors and where
each one ended). ``.partial`` files, ``.backup`` labels and ``.``-prefixed files (an archive
copy in progress) never count.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from lampion.storage.wal import SEGMENT_BYTES

_SEGMENT = re.compile(r"^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})$")
_HISTORY = re.compile(r"^([0-9A-F]{8})\.history$")


@dataclass(frozen=True, order=True)
class Segment:
    timeline: int
    number: int

    def name(self, segment_bytes: int = SEGMENT_BYTES) -> str:
        per_unit = 0x1_0000_0000 // segment_bytes
        high, low = divmod(self.number, per_unit)
        return f"{self.timeline:08X}{high:08X}{low:08X}"


@dataclass(frozen=True)
class Gap:
    """Segments ``first`` .. ``last`` (names, inclusive) are missing."""

    first: str
    last: str


def parse_segment(name: str, segment_bytes: int = SEGMENT_BYTES) -> Segment | None:
    match = _SEGMENT.match(name)
    if match is None:
        return None
    timeline, high, low = (int(part, 16) for part in match.groups())
    return Segment(timeline, high * (0x1_0000_0000 // segment_bytes) + low)


def history_timeline(name: str) -> int | None:
    """The timeline of a ``TTTTTTTT.history`` file's name."""
    match = _HISTORY.match(name)
    return int(match.group(1), 16) if match else None


def segment_of(lsn: int, segment_bytes: int = SEGMENT_BYTES) -> int:
    return lsn // segment_bytes


def timeline_spans(
    timeline: int, history_text: str | None, segment_bytes: int = SEGMENT_BYTES
) -> dict[int, tuple[int, int | None]]:
    """``timeline`` and its ancestors, each with the segment numbers (first, last; None: no
    end) its files serve: an ancestor's last is the segment its successor branched off in.
    ``history_text``: ``timeline``'s history file (``parent_tli <TAB> switch_lsn <TAB> why``
    a line)."""
    spans: dict[int, tuple[int, int | None]] = {}
    begin = 0
    for line in (history_text or "").splitlines():
        fields = line.split()
        if len(fields) < 2 or not fields[0].isdigit():
            continue  # a comment or blank line
        high, low = fields[1].split("/")
        switch = segment_of((int(high, 16) << 32) | int(low, 16), segment_bytes)
        spans[int(fields[0])] = (begin, switch)
        begin = switch
    spans[timeline] = (begin, None)
    return spans


def latest_timeline(names: Iterable[str]) -> int:
    """The newest timeline an archive knows (recovery's ``recovery_target_timeline=latest``)."""
    newest = 1
    for name in names:
        segment = parse_segment(name)
        timeline = segment.timeline if segment else history_timeline(name)
        if timeline is not None:
            newest = max(newest, timeline)
    return newest


def first_gap(
    names: Iterable[str],
    start: int,
    end: int,
    spans: Mapping[int, tuple[int, int | None]],
    segment_bytes: int = SEGMENT_BYTES,
) -> Gap | None:
    """The first run of segment numbers in ``start`` .. ``end`` (inclusive) that no usable
    file in ``names`` holds; ``spans`` as :func:`timeline_spans` gives them."""
    have = set(usable_numbers(names, spans, segment_bytes))
    number = start
    while number <= end:
        if number in have:
            number += 1
            continue
        last = number
        while last + 1 <= end and last + 1 not in have:
            last += 1
        return Gap(
            first=_name_for(number, spans, segment_bytes),
            last=_name_for(last, spans, segment_bytes),
        )
    return None


def usable_numbers(
    names: Iterable[str],
    spans: Mapping[int, tuple[int, int | None]],
    segment_bytes: int = SEGMENT_BYTES,
) -> Iterable[int]:
    """The segment numbers that files in ``names`` serve to a replay along ``spans``."""
    for name in names:
        segment = parse_segment(name, segment_bytes)
        if segment is None or segment.timeline not in spans:
            continue
        if _holds(spans[segment.timeline], segment.number):
            yield segment.number


def _name_for(number: int, spans: Mapping[int, tuple[int, int | None]], segment_bytes: int) -> str:
    """The name recovery looks for first: the newest timeline whose span holds the number."""
    holding = [t for t, span in spans.items() if _holds(span, number)]
    return Segment(max(holding, default=max(spans)), number).name(segment_bytes)


def _holds(span: tuple[int, int | None], number: int) -> bool:
    begin, end = span
    return begin <= number and (end is None or number <= end)
