"""An ICS file split into its VEVENT and VTIMEZONE blocks, line by line.

Parsing a whole export with ``Calendar.from_ical`` holds every event as an
icalendar component at once: a 20 MB file of 100k events peaked at 514 MB
(issue 10, item 8). Reading it as a stream of blocks keeps one event in memory
at a time; each block is parsed on its own by the caller. It is also how a
broken file is salvaged: a VEVENT without its END line, or a file without
``END:VCALENDAR``, costs that block only.

Blocks carry the index of the VCALENDAR they sit in (files may hold several,
each with its own ``X-WR-TIMEZONE``, ``METHOD`` and time zones), which
:func:`calendar_layout` collects in a first, cheap pass (with the series whose
VEVENTs are not adjacent, which the reader expands in a second pass).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from icalendar import Calendar, Component
from peerpulse.connectors.files.ics_markers import MarkerSet, marker

#: Calendar properties a series' expansion needs from its VCALENDAR.
CALENDAR_PROPS = (b"X-WR-TIMEZONE", b"METHOD", b"CALSCALE", b"VERSION", b"PRODID")
_KINDS = (b"VEVENT", b"VTIMEZONE")
_UID = re.compile(rb"^UID(?:;[^:\r\n]*)?:([^\r\n]*(?:\r?\n[ \t][^\r\n]*)*)", re.M | re.I)
_FOLD = re.compile(rb"\r?\n[ \t]")

Opener = Callable[[], BinaryIO]


@dataclass(frozen=True, slots=True)
class Block:
    """One VEVENT or VTIMEZONE as it is in the file; ``complete`` is False when
    the file went on (or ended) before its END line."""

    kind: str
    calendar: int
    data: bytes
    complete: bool = True


@dataclass
class _CalendarLines:
    props: list[bytes] = field(default_factory=list)
    zones: list[bytes] = field(default_factory=list)


def blocks(handle: BinaryIO) -> Iterator[Block]:
    """Every VEVENT and VTIMEZONE block in file order (nested VALARM, STANDARD,
    DAYLIGHT stay inside their block); the calendar properties of
    :data:`CALENDAR_PROPS` come as ``PROPS`` blocks of one line."""
    calendar = -1
    current: list[bytes] | None = None
    kind = b""
    depth = 0
    for line in handle:
        head = line[:6].upper()
        if current is not None:
            if head.startswith(b"BEGIN:"):
                name = line[6:].strip().upper()
                if name in _KINDS and depth == 0:
                    # A new block while this one is open: its END line is missing.
                    yield Block(kind.decode(), calendar, b"".join(current), complete=False)
                    current, kind, depth = [line], name, 0
                    continue
                depth += 1
            elif head.startswith(b"END:"):
                name = line[4:].strip().upper()
                if name == b"VCALENDAR":
                    yield Block(kind.decode(), calendar, b"".join(current), complete=False)
                    current = None
                    continue
                if depth == 0 and name == kind:
                    current.append(line)
                    yield Block(kind.decode(), calendar, b"".join(current))
                    current = None
                    continue
                depth = max(0, depth - 1)
            current.append(line)
            continue
        if head.startswith(b"BEGIN:"):
            name = line[6:].strip().upper()
            if name == b"VCALENDAR":
                calendar += 1
            elif name in _KINDS:
                current, kind, depth = [line], name, 0
                calendar = max(calendar, 0)
            continue
        # A calendar property (its folded continuation lines, if any, are dropped:
        # only short ones such as X-WR-TIMEZONE and METHOD matter).
        if calendar >= 0 and line.split(b":", 1)[0].split(b";", 1)[0].upper() in CALENDAR_PROPS:
            yield Block("PROPS", calendar, line.rstrip(b"\r\n"))
    if current is not None:
        yield Block(kind.decode(), calendar, b"".join(current), complete=False)


@dataclass(frozen=True, slots=True)
class Layout:
    """What the first, cheap pass learns about a file: per VCALENDAR index a
    calendar holding only its properties and time zones (what expanding a series
    needs), whether the file had any VCALENDAR, and the ``marker((calendar, uid))``
    of every series whose VEVENTs are not all adjacent (*scattered*)."""

    contexts: dict[int, Calendar]
    has_calendar: bool
    scattered: frozenset[int]


def calendar_layout(open_file: Opener, uid_of: Callable[[bytes], str | None]) -> Layout:
    """The file's :class:`Layout`; ``uid_of`` reads a complete VEVENT block's UID
    as the reader decodes it (None: unknown, never counted as scattered).

    Scattered series must be known before any record is yielded: a series read
    from its first run of blocks alone yields occurrences that its later
    overrides replace or move, and not every such occurrence comes back under
    the same source id for the store to overwrite (an all-day master keyed by
    date, its override by a RECURRENCE-ID date-time)."""
    found: dict[int, _CalendarLines] = {}
    seen_calendar = False
    seen = MarkerSet()  # one 8-byte marker per series: see ics_markers
    scattered: set[int] = set()
    current: int | None = None
    with open_file() as handle:
        for block in blocks(handle):
            lines = found.setdefault(block.calendar, _CalendarLines())
            if block.kind == "PROPS":
                lines.props.append(block.data)
                seen_calendar = True
            elif block.kind == "VTIMEZONE" and block.complete:
                lines.zones.append(block.data)
            elif block.kind == "VEVENT" and block.complete:
                uid = uid_of(block.data)
                if uid is None:
                    continue
                series = marker((block.calendar, uid))
                if series != current:
                    if series in seen:
                        scattered.add(series)
                    seen.add(series)
                    current = series
    if not seen_calendar:
        seen_calendar = _has_vcalendar(open_file)
    contexts = {index: _context(lines) for index, lines in found.items()}
    return Layout(contexts, seen_calendar, frozenset(scattered))


def quick_uid(data: bytes) -> str | None:
    """The UID of a VEVENT block read off its raw line (unfolded), or None when it
    has none or one whose text escapes would need the parser to read right."""
    match = _UID.search(data)
    if match is None:
        return None
    raw = _FOLD.sub(b"", match.group(1))
    if b"\\" in raw:
        return None
    return raw.decode("utf-8", "replace").strip() or None


def _has_vcalendar(open_file: Opener) -> bool:
    with open_file() as handle:
        return any(line[:15].strip().upper() == b"BEGIN:VCALENDAR" for line in handle)


def _context(lines: _CalendarLines) -> Calendar:
    calendar = Calendar()
    try:
        parsed = Calendar.from_ical(b"BEGIN:VCALENDAR\r\n" + b"\r\n".join(lines.props)
                                    + b"\r\nEND:VCALENDAR\r\n")
        for key, value in parsed.items():
            calendar[key] = value
    except Exception:  # a garbled property: expand without it
        calendar = Calendar()
    for data in lines.zones:
        try:
            calendar.add_component(Component.from_ical(data))
        except Exception:  # noqa: S112 - a broken VTIMEZONE: UTC offsets stay as written
            continue
    return calendar
