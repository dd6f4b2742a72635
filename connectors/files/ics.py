"""An ICS export → one :class:`EventInstance` per occurrence inside the sync window.

Series are expanded with ``recurring-ical-events`` (RRULE, RDATE, EXDATE,
RECURRENCE-ID overrides, DST) after ``x-wr-timezone`` has turned Google's
``X-WR-TIMEZONE`` convention into standard TZIDs. Each UID is expanded on its
own, so one broken series becomes one :class:`SkippedInput` naming its VEVENT
instead of losing the file. The file is never parsed whole: it is split into
VEVENT blocks as it is read (:mod:`.ics_blocks`), so memory grows only by an
8-byte marker per series (:mod:`.ics_markers`) and the bytes of scattered
series on a calendar of a million events, and a broken block (Outlook has served files
without ``END:VEVENT``) costs that block only.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import Any, BinaryIO, TypeAlias
from zoneinfo import ZoneInfo

import recurring_ical_events
from icalendar import Calendar, Component, Event
from peerpulse.connectors.addresses import normalize_address, private_text
from peerpulse.connectors.files.ics_blocks import (
    Block,
    Opener,
    blocks,
    calendar_layout,
    quick_uid,
)
from peerpulse.connectors.files.ics_markers import MarkerSet, marker
from peerpulse.connectors.records import (
    Attendee,
    EventInstance,
    EventStatus,
    EventType,
    ResponseStatus,
    SkippedInput,
    Transparency,
)

IcsItem: TypeAlias = EventInstance | SkippedInput

_PARTSTAT = {
    "ACCEPTED": ResponseStatus.ACCEPTED,
    "TENTATIVE": ResponseStatus.TENTATIVE,
    "DECLINED": ResponseStatus.DECLINED,
    "NEEDS-ACTION": ResponseStatus.NEEDS_ACTION,
    "DELEGATED": ResponseStatus.DECLINED,  # delegated away: the attendee is not coming
}
_STATUS = {
    "CONFIRMED": EventStatus.CONFIRMED,
    "TENTATIVE": EventStatus.TENTATIVE,
    "CANCELLED": EventStatus.CANCELLED,
    "CANCELED": EventStatus.CANCELLED,
}
# Google exports out-of-office and focus-time blocks as plain VEVENTs titled by
# their type (no X-GOOGLE property carries eventType); only trusted when nobody
# else is invited, so a meeting called "Focus time review" stays a meeting.
_TITLE_TYPES = {
    "out of office": EventType.OUT_OF_OFFICE,
    "ooo": EventType.OUT_OF_OFFICE,
    "focus time": EventType.FOCUS_TIME,
}
# Occurrences a day a recurrence rule may produce (see _runaway_rule).
MAX_PER_DAY = 48
_PER_DAY = {"SECONDLY": 86400, "MINUTELY": 1440, "HOURLY": 24}
# BY parts that multiply occurrences within one FREQ period (RFC 5545 3.3.10 "expand").
_EXPANDING = {
    "MINUTELY": ("BYSECOND",),
    "HOURLY": ("BYMINUTE", "BYSECOND"),
    "DAILY": ("BYHOUR", "BYMINUTE", "BYSECOND"),
    "WEEKLY": ("BYHOUR", "BYMINUTE", "BYSECOND"),
    "MONTHLY": ("BYHOUR", "BYMINUTE", "BYSECOND"),
    "YEARLY": ("BYHOUR", "BYMINUTE", "BYSECOND"),
}
_CALENDAR_PROPS = ("X-WR-TIMEZONE", "METHOD", "CALSCALE", "VERSION", "PRODID")


@dataclass(frozen=True, slots=True)
class IcsOptions:
    """The account facts that shape events: window, zone, owner and privacy."""

    window_start: datetime
    window_end: datetime
    timezone: str = "UTC"
    owner: frozenset[str] = frozenset()
    subjects: str = "kept"


def ics_items(path: Path, label: str, options: IcsOptions) -> Iterator[IcsItem]:
    """Every occurrence in the window, or a skip for each part that cannot be read.

    The file is read as a stream of VEVENT blocks (never parsed whole), so memory
    grows by ~70 bytes a VEVENT at most (docs/RELIABILITY.md), not by its events."""
    try:
        with path.open("rb"):
            pass
    except OSError as exc:
        yield SkippedInput(label, f"cannot read: {exc.strerror or exc}")
        return
    yield from _quiet(lambda: path.open("rb"), label, options)


def ics_items_from_bytes(data: bytes, label: str, options: IcsOptions) -> Iterator[IcsItem]:
    yield from _quiet(lambda: io.BytesIO(data), label, options)


def _quiet(open_file: Opener, label: str, options: IcsOptions) -> Iterator[IcsItem]:
    # icalendar warns about guessed vendor TZIDs ("/mozilla.org/.../Europe/Berlin");
    # the guess is right for every export we have seen, and a warning per file is noise.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield from _items(open_file, label, options)


def _items(open_file: Opener, label: str, options: IcsOptions) -> Iterator[IcsItem]:
    """Series are expanded as soon as their last adjacent block is read (exports
    write a series' overrides right after its master). A series whose blocks are
    *scattered* over the file (known from the first, cheap pass) is left out of
    this pass: its blocks are gathered in a second pass and expanded together,
    so it yields each occurrence once and never one its overrides replace. A
    series the cheap pass could not see scattered (a UID only the parser reads
    the same) still goes to the second pass, whose expansion replaces what this
    pass gave for it (same source ids; the store keeps the last)."""
    layout = calendar_layout(open_file, _block_uid)
    contexts, has_calendar = layout.contexts, layout.has_calendar
    seen = MarkerSet()  # every series expanded so far, 8 bytes each (see ics_markers)
    for series in layout.scattered:
        seen.add(series)
    scattered: set[int] = set(layout.scattered)
    group: list[tuple[int, Component]] = []
    group_key: tuple[int, str] | None = None
    events = 0
    with open_file() as handle:
        for number, block in _numbered_events(handle):
            events = number
            member = _member(block, number, label)
            if isinstance(member, SkippedInput):
                yield member
                continue
            uid, component = member
            key = (block.calendar, uid)
            if key != group_key:
                yield from _flush(group_key, group, seen, scattered, contexts, label, options)
                group, group_key = [], key
            group.append((number, component))
        yield from _flush(group_key, group, seen, scattered, contexts, label, options)
    if events == 0 and not has_calendar:
        yield SkippedInput(label, "not an iCalendar file: no VCALENDAR or VEVENT in it")
        return
    if scattered:
        yield from _scattered(open_file, scattered, contexts, label, options)


def _numbered_events(handle: BinaryIO) -> Iterator[tuple[int, Block]]:
    """VEVENT blocks numbered from 1 in file order (the number skips name)."""
    number = 0
    for block in blocks(handle):
        if block.kind == "VEVENT":
            number += 1
            yield number, block


def _member(block: Block, number: int, label: str) -> tuple[str, Component] | SkippedInput:
    """A parsed VEVENT ready to expand, or the skip saying why it cannot be."""
    uid = quick_uid(block.data) or "?"
    if not block.complete:
        return SkippedInput(f"{label}:VEVENT #{number} (UID {uid})",
                            "VEVENT without END:VEVENT (the file is cut or malformed)")
    try:
        component = Event.from_ical(block.data)
        uid = _uid_of(component)
    except Exception as exc:
        return SkippedInput(f"{label}:VEVENT #{number} (UID {uid})", f"unreadable VEVENT: {exc}")
    if component.get("DTSTART") is None:
        return SkippedInput(f"{label}:VEVENT #{number} (UID {uid})", "VEVENT without DTSTART")
    fatal = _drop_broken_properties(component)
    if fatal:
        return SkippedInput(f"{label}:VEVENT #{number} (UID {uid})",
                            f"unparsable property: {fatal}")
    return uid, component


def _flush(
    key: tuple[int, str] | None,
    group: list[tuple[int, Component]],
    seen: MarkerSet,
    scattered: set[int],
    contexts: dict[int, Calendar],
    label: str,
    options: IcsOptions,
) -> Iterator[IcsItem]:
    if key is None or not group:
        return
    series = marker(key)  # a collision only sends a series through the second pass
    if series in seen:
        scattered.add(series)
        return
    seen.add(series)
    yield from _expand_series(contexts.get(key[0], Calendar()), key[1], group, label, options)


def _scattered(
    open_file: Opener,
    scattered: set[int],
    contexts: dict[int, Calendar],
    label: str,
    options: IcsOptions,
) -> Iterator[IcsItem]:
    """Second pass: every block of the scattered series, expanded together.

    The blocks wait as their bytes and are parsed again when their series is
    expanded: a parsed VEVENT weighs ~10x its text, and at 1M events the 10,000
    scattered series of the benchmark held as components were most of the peak."""
    groups: dict[tuple[int, str], list[Block]] = {}
    numbers: dict[tuple[int, str], list[int]] = {}
    with open_file() as handle:
        for number, block in _numbered_events(handle):
            uid = quick_uid(block.data)
            if uid is not None and marker((block.calendar, uid)) not in scattered:
                continue
            member = _member(block, number, label)
            if isinstance(member, SkippedInput):
                continue  # reported by the first pass
            key = (block.calendar, member[0])
            if marker(key) in scattered:
                groups.setdefault(key, []).append(block)
                numbers.setdefault(key, []).append(number)
    for key in list(groups):
        blocks_of, numbers_of = groups.pop(key), numbers.pop(key)
        members = []
        for number, block in zip(numbers_of, blocks_of, strict=True):
            member = _member(block, number, label)
            if not isinstance(member, SkippedInput):
                members.append((number, member[1]))
        calendar, uid = key
        if members:
            yield from _expand_series(contexts.get(calendar, Calendar()), uid, members,
                                      label, options)


def _block_uid(data: bytes) -> str | None:
    """A VEVENT block's UID as :func:`_member` reads it, cheaply when the raw line
    allows; None when the block cannot be parsed (it is skipped anyway)."""
    uid = quick_uid(data)
    if uid is not None:
        return uid
    try:
        return _uid_of(Event.from_ical(data))
    except Exception:  # noqa: BLE001 - reported as a skip by the first pass
        return None


def _uid_of(event: Component) -> str:
    value = event.get("UID", "")
    if isinstance(value, list):  # a repeated UID line: the first one, not the list's repr
        value = value[0] if value else ""
    uid = str(value).strip()
    if uid:
        return uid
    # No UID (hand-written files): the content identifies it, stable across re-reads.
    return "sha256:" + hashlib.sha256(event.to_ical()).hexdigest()[:32]


_TIME_PROPERTIES = frozenset({"DTSTART", "DTEND", "DURATION", "RRULE", "RDATE", "EXDATE",
                              "RECURRENCE-ID"})


def _drop_broken_properties(component: Component) -> str | None:
    """Remove unparsable properties we can live without; describe a fatal one.

    A bogus SEQUENCE or DTSTAMP (Nylas' ``bogus_sequence_number.ics``) would
    otherwise make the expansion fail for the whole series.
    """
    errors = getattr(component, "errors", None) or []
    for name, message in errors:
        key = str(name).upper()
        if key in _TIME_PROPERTIES:
            return f"{key}: {message}"
    for name, _ in errors:
        key = str(name).upper()
        if key in component:
            del component[key]
    return None


def _expand_series(
    calendar: Calendar,
    uid: str,
    members: list[tuple[int, Component]],
    label: str,
    options: IcsOptions,
) -> Iterator[IcsItem]:
    first = members[0][0]
    where = f"{label}:VEVENT #{first} (UID {uid})"
    recurring = any(
        c.get("RRULE") is not None or c.get("RDATE") is not None
        or c.get("RECURRENCE-ID") is not None
        for _, c in members
    )
    cancelled_file = str(calendar.get("METHOD", "")).upper() == "CANCEL"
    if not recurring and len(members) == 1:
        # Most events are single: expanding them through a calendar of their own
        # costs ~1 ms each, reading them directly ~0.1 ms.
        try:
            span = _single_span(members[0][1], calendar, options)
            if span is not None:
                yield _instance(members[0][1], span, uid, False, cancelled_file, options)
        except Exception as exc:
            yield SkippedInput(where, f"unreadable event: {type(exc).__name__}: {exc}")
        return
    runaway = next(filter(None, (_runaway_rule(c) for _, c in members)), None)
    if runaway is not None:
        yield SkippedInput(where, runaway)
        return
    mini = Calendar()
    for prop in _CALENDAR_PROPS:
        if prop in calendar:
            mini[prop] = calendar[prop]
    for component in calendar.walk("VTIMEZONE"):
        mini.add_component(component)
    for _, component in members:
        mini.add_component(component)
    try:
        occurrences = list(
            recurring_ical_events.of(mini).between(options.window_start, options.window_end)
        )
    except Exception as exc:
        yield SkippedInput(where, f"cannot expand: {type(exc).__name__}: {exc}")
        return
    for occurrence in occurrences:
        try:
            end_prop: Any = occurrence.get("DTEND")
            start: Any = occurrence["DTSTART"].dt
            span = (start, end_prop.dt if end_prop is not None else start)
            yield _instance(occurrence, span, uid, recurring, cancelled_file, options)
        except Exception as exc:
            yield SkippedInput(where, f"unreadable occurrence: {type(exc).__name__}: {exc}")


def _runaway_rule(component: Component) -> str | None:
    """Describe an RRULE no calendar app writes and the expansion cannot afford.

    dateutil expands a rule from its DTSTART period by period and builds the
    whole window as a list: ``FREQ=SECONDLY`` took 18 s and gigabytes for a
    three-month window, and ``INTERVAL=0`` never ends. Such rules, and rules of
    more than one occurrence per half hour, are skipped instead (Google, Outlook
    and Apple offer daily at the finest).
    """
    for rule in _as_list(component.get("RRULE")):
        if not hasattr(rule, "get"):
            continue
        freq = str((rule.get("FREQ") or [""])[0]).upper()
        per_day = _PER_DAY.get(freq, 1)
        for part in _EXPANDING.get(freq, ()):
            per_day *= max(1, len(rule.get(part) or ()))
        try:
            interval = int((rule.get("INTERVAL") or [1])[0])
        except (TypeError, ValueError):
            interval = 1
        if interval < 1:  # dateutil loops forever on INTERVAL=0
            return f"RRULE INTERVAL={interval} is not a positive number"
        if per_day / interval > MAX_PER_DAY:
            return f"RRULE too frequent ({freq or 'no FREQ'}, ~{per_day // interval} a day)"
    return None


def _single_span(
    event: Component, calendar: Calendar, options: IcsOptions
) -> tuple[Any, Any] | None:
    """(start, end) of a non-recurring VEVENT, or None when outside the window.

    Mirrors what x-wr-timezone + recurring-ical-events do for a single event:
    UTC and floating times of a calendar with X-WR-TIMEZONE are in that zone.
    """
    start: Any = event["DTSTART"].dt  # type: ignore[union-attr]
    end_prop: Any = event.get("DTEND")
    duration: Any = event.get("DURATION")
    if end_prop is not None:
        end: Any = end_prop.dt
    elif duration is not None:
        end = start + duration.dt
    elif isinstance(start, datetime):
        end = start
    else:
        end = start + timedelta(days=1)
    wr_zone = str(calendar.get("X-WR-TIMEZONE", "")).strip()
    if wr_zone and isinstance(start, datetime) and isinstance(end, datetime):
        try:
            zone = ZoneInfo(wr_zone)
        except Exception:
            zone = None
        if zone is not None:
            start, end = (
                (v.replace(tzinfo=zone) if v.tzinfo is None else
                 v.astimezone(zone) if v.utcoffset() == timedelta(0) else v)
                for v in (start, end)
            )
    lo, _, _ = _moment(start, options)
    hi, _, _ = _moment(end, options)
    if hi < lo:
        hi = lo
    if lo >= options.window_end or (hi <= options.window_start and not (
            hi == lo and lo >= options.window_start)):
        return None
    return start, end


def _zone(options: IcsOptions) -> tzinfo:
    try:
        return ZoneInfo(options.timezone)
    except Exception:
        return UTC


def _moment(value: date | datetime, options: IcsOptions) -> tuple[datetime, str | None, bool]:
    """(aware UTC datetime, zone name, all-day?) for a DTSTART/DTEND/RECURRENCE-ID value."""
    if not isinstance(value, datetime):
        zone = _zone(options)
        local = datetime.combine(value, time(), tzinfo=zone)
        return local.astimezone(UTC), options.timezone, True
    if value.tzinfo is None:  # floating time: the account's zone (RFC 5545 3.3.5)
        return value.replace(tzinfo=_zone(options)).astimezone(UTC), options.timezone, False
    zone_name = getattr(value.tzinfo, "key", None) or getattr(value.tzinfo, "zone", None)
    if zone_name is None:
        zone_name = value.tzname() or None
    return value.astimezone(UTC), zone_name, False


def _occurrence_key(value: Any, options: IcsOptions) -> str:
    if not isinstance(value, datetime):
        return value.isoformat()  # an all-day occurrence is identified by its date
    moment, _, _ = _moment(value, options)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _param(value: Any, name: str) -> str:
    params = getattr(value, "params", None) or {}
    return str(params.get(name, "")).strip()


def _attendees(event: Component) -> tuple[str | None, list[Attendee]]:
    organizer_value = event.get("ORGANIZER")
    organizer = normalize_address(str(organizer_value)) if organizer_value is not None else None
    people: dict[str, Attendee] = {}
    for value in _as_list(event.get("ATTENDEE")):
        email = normalize_address(str(value))
        if email is None or email in people:
            continue
        cutype = _param(value, "CUTYPE").upper()
        people[email] = Attendee(
            email=email,
            name=_clean_name(_param(value, "CN")),
            response=_PARTSTAT.get(_param(value, "PARTSTAT").upper(), ResponseStatus.NEEDS_ACTION),
            is_organizer=email == organizer,
            is_resource=cutype in ("ROOM", "RESOURCE"),
        )
    if organizer is not None and organizer not in people:
        # The organizer attends their own meeting even when not listed as ATTENDEE.
        people[organizer] = Attendee(
            email=organizer,
            name=_clean_name(_param(organizer_value, "CN")),
            response=ResponseStatus.ACCEPTED,
            is_organizer=True,
        )
    return organizer, list(people.values())


def _clean_name(name: str) -> str:
    return private_text(name, "kept") or ""


def _self_response(
    organizer: str | None, attendees: list[Attendee], owner: frozenset[str]
) -> ResponseStatus | None:
    if organizer is not None and organizer in owner:
        return ResponseStatus.ACCEPTED
    for attendee in attendees:
        if attendee.email in owner:
            return attendee.response
    return None


def _show_as(event: Component) -> tuple[Transparency, EventType]:
    transparency = Transparency.BUSY
    if str(event.get("TRANSP", "")).upper() == "TRANSPARENT":
        transparency = Transparency.FREE
    busy = str(event.get("X-MICROSOFT-CDO-BUSYSTATUS", "")).upper()
    intended = str(event.get("X-MICROSOFT-CDO-INTENDEDSTATUS", "")).upper()
    outlook = busy or intended  # INTENDEDSTATUS is what an invitation asks the attendee to show
    event_type = EventType.DEFAULT
    if "OOF" in (busy, intended):
        event_type = EventType.OUT_OF_OFFICE
    elif outlook == "FREE":
        transparency = Transparency.FREE
    return transparency, event_type


def _instance(
    occurrence: Component,
    span: tuple[Any, Any],
    uid: str,
    recurring: bool,
    cancelled_file: bool,
    options: IcsOptions,
) -> EventInstance:
    start_value, end_value = span
    start, zone_name, all_day = _moment(start_value, options)
    end, _, _ = _moment(end_value, options)
    if end < start:
        end = start
    recurrence_id: Any = occurrence.get("RECURRENCE-ID")
    if recurring:
        original = recurrence_id.dt if recurrence_id is not None else start_value
        source_id = f"{uid}@{_occurrence_key(original, options)}"
    else:
        source_id = uid
    organizer, attendees = _attendees(occurrence)
    people = sum(1 for a in attendees if not a.is_resource)
    transparency, event_type = _show_as(occurrence)
    summary = str(occurrence.get("SUMMARY", "")) if occurrence.get("SUMMARY") is not None else None
    others = [a for a in attendees if not a.is_resource and a.email not in options.owner]
    if event_type is EventType.DEFAULT and summary and not others:
        event_type = _TITLE_TYPES.get(summary.strip().casefold(), EventType.DEFAULT)
    status = _STATUS.get(str(occurrence.get("STATUS", "")).upper(), EventStatus.CONFIRMED)
    if cancelled_file:
        status = EventStatus.CANCELLED
    return EventInstance(
        source_id=source_id,
        series_id=uid,
        start=start,
        end=end,
        organizer=organizer,
        attendees=tuple(attendees),
        attendee_count=max(1, people),
        all_day=all_day,
        original_tz=zone_name,
        title=private_text(summary, options.subjects),
        status=status,
        transparency=transparency,
        event_type=event_type,
        recurring=recurring,
        self_response=_self_response(organizer, attendees, options.owner),
    )
