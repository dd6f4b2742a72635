"""ICS quirks → event instances: one small real-shaped calendar per case."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from peerpulse.connectors.files.ics import IcsOptions, ics_items_from_bytes
from peerpulse.connectors.records import (
    EventInstance,
    EventStatus,
    EventType,
    ResponseStatus,
    SkippedInput,
    Transparency,
)

OWNER = frozenset({"owner@example.com", "o.alias@example.com"})
OPTIONS = IcsOptions(
    window_start=datetime(2024, 1, 1, tzinfo=UTC),
    window_end=datetime(2024, 12, 31, tzinfo=UTC),
    timezone="Europe/Berlin",
    owner=OWNER,
)


def calendar(*events: str, header: str = "") -> bytes:
    body = "".join(f"BEGIN:VEVENT\n{e.strip()}\nEND:VEVENT\n" for e in events)
    return (
        f"BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//test//EN\n{header}{body}END:VCALENDAR\n".encode()
    )


def read(
    data: bytes, options: IcsOptions = OPTIONS
) -> tuple[list[EventInstance], list[SkippedInput]]:
    items = list(ics_items_from_bytes(data, "cal.ics", options))
    events = sorted((i for i in items if isinstance(i, EventInstance)), key=lambda e: e.start)
    return events, [i for i in items if isinstance(i, SkippedInput)]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


WEEKLY_WITH_EXCEPTIONS = calendar(
    """UID:weekly-1
DTSTART;TZID=Europe/Berlin:20240306T100000
DTEND;TZID=Europe/Berlin:20240306T103000
RRULE:FREQ=WEEKLY;COUNT=5
EXDATE;TZID=Europe/Berlin:20240313T100000
SUMMARY:Sync with Bob
ORGANIZER;CN=Owner:mailto:owner@example.com
ATTENDEE;PARTSTAT=ACCEPTED:mailto:bob@example.com""",
    """UID:weekly-1
RECURRENCE-ID;TZID=Europe/Berlin:20240320T100000
DTSTART;TZID=Europe/Berlin:20240320T150000
DTEND;TZID=Europe/Berlin:20240320T153000
SUMMARY:Sync with Bob (moved)
ORGANIZER:mailto:owner@example.com
ATTENDEE;PARTSTAT=ACCEPTED:mailto:bob@example.com""",
    """UID:weekly-1
RECURRENCE-ID;TZID=Europe/Berlin:20240327T100000
DTSTART;TZID=Europe/Berlin:20240327T100000
DTEND;TZID=Europe/Berlin:20240327T103000
STATUS:CANCELLED
SUMMARY:Sync with Bob""",
)


def test_series_expands_with_exdate_override_and_cancelled_instance() -> None:
    events, skipped = read(WEEKLY_WITH_EXCEPTIONS)
    assert skipped == []
    # 5 occurrences, one EXDATE'd: 6 Mar, 20 Mar (moved), 27 Mar (cancelled), 3 Apr (after DST).
    assert [e.source_id for e in events] == [
        "weekly-1@2024-03-06T09:00:00Z",
        "weekly-1@2024-03-20T09:00:00Z",
        "weekly-1@2024-03-27T09:00:00Z",
        "weekly-1@2024-04-03T08:00:00Z",
    ]
    moved, cancelled, after_dst = events[1], events[2], events[3]
    assert moved.start == utc(2024, 3, 20, 14) and moved.title == "Sync with Bob (moved)"
    assert cancelled.status is EventStatus.CANCELLED
    assert after_dst.start == utc(2024, 4, 3, 8)  # 10:00 CEST is 08:00 UTC
    assert after_dst.original_tz == "Europe/Berlin"
    assert all(e.recurring and e.series_id == "weekly-1" for e in events)
    assert [e.self_response for e in events] == [ResponseStatus.ACCEPTED] * 2 + [None] + [
        ResponseStatus.ACCEPTED
    ]  # the owner organizes; the bare cancelled override names nobody


@pytest.mark.parametrize(
    ("name", "event", "header", "expected"),
    [
        (
            "utc time",
            "UID:u\nDTSTART:20240301T100000Z\nDTEND:20240301T110000Z",
            "",
            {
                "start": utc(2024, 3, 1, 10),
                "end": utc(2024, 3, 1, 11),
                "all_day": False,
                "source_id": "u",
                "recurring": False,
            },
        ),
        (
            "floating time is the account's zone",
            "UID:f\nDTSTART:20240301T100000\nDURATION:PT1H",
            "",
            {
                "start": utc(2024, 3, 1, 9),
                "end": utc(2024, 3, 1, 10),
                "original_tz": "Europe/Berlin",
            },
        ),
        (
            "tzid in new york",
            "UID:n\nDTSTART;TZID=America/New_York:20240710T090000\n"
            "DTEND;TZID=America/New_York:20240710T100000",
            "",
            {"start": utc(2024, 7, 10, 13), "original_tz": "America/New_York"},
        ),
        (
            "all-day event",
            "UID:a\nDTSTART;VALUE=DATE:20240301\nDTEND;VALUE=DATE:20240302",
            "",
            {"all_day": True, "start": utc(2024, 2, 29, 23), "end": utc(2024, 3, 1, 23)},
        ),
        (
            "x-wr-timezone google export",
            "UID:g\nDTSTART:20240301T100000Z\nDTEND:20240301T110000Z",
            "X-WR-TIMEZONE:America/New_York\n",
            {"start": utc(2024, 3, 1, 10), "original_tz": "America/New_York"},
        ),
        (
            "transparent is free",
            "UID:t\nDTSTART:20240301T100000Z\nTRANSP:TRANSPARENT",
            "",
            {"transparency": Transparency.FREE},
        ),
        (
            "outlook oof",
            "UID:o\nDTSTART:20240301T100000Z\nX-MICROSOFT-CDO-BUSYSTATUS:OOF",
            "",
            {"event_type": EventType.OUT_OF_OFFICE, "transparency": Transparency.BUSY},
        ),
        (
            "outlook free",
            "UID:of\nDTSTART:20240301T100000Z\nX-MICROSOFT-CDO-BUSYSTATUS:FREE",
            "",
            {"transparency": Transparency.FREE},
        ),
        (
            "outlook intended oof",
            "UID:oi\nDTSTART:20240301T100000Z\nX-MICROSOFT-CDO-INTENDEDSTATUS:OOF",
            "",
            {"event_type": EventType.OUT_OF_OFFICE},
        ),
        (
            "google out of office title",
            "UID:go\nDTSTART:20240301T100000Z\nSUMMARY:Out of office",
            "",
            {"event_type": EventType.OUT_OF_OFFICE},
        ),
        (
            "google focus time title",
            "UID:gf\nDTSTART:20240301T100000Z\nSUMMARY:Focus time",
            "",
            {"event_type": EventType.FOCUS_TIME},
        ),
        (
            "a meeting titled focus time stays a meeting",
            "UID:gm\nDTSTART:20240301T100000Z\nSUMMARY:Focus time\n"
            "ATTENDEE:mailto:bob@example.com\nORGANIZER:mailto:owner@example.com",
            "",
            {"event_type": EventType.DEFAULT},
        ),
        (
            "tentative status",
            "UID:ts\nDTSTART:20240301T100000Z\nSTATUS:TENTATIVE",
            "",
            {"status": EventStatus.TENTATIVE},
        ),
        (
            "imip cancel",
            "UID:c\nDTSTART:20240301T100000Z",
            "METHOD:CANCEL\n",
            {"status": EventStatus.CANCELLED},
        ),
        (
            "no attendees still counts the owner",
            "UID:s\nDTSTART:20240301T100000Z",
            "",
            {"attendee_count": 1, "organizer": None, "self_response": None},
        ),
    ],
)
def test_single_event_fields(name: str, event: str, header: str, expected: dict) -> None:
    events, skipped = read(calendar(event, header=header))
    assert skipped == [], name
    assert len(events) == 1, name
    for field, value in expected.items():
        assert getattr(events[0], field) == value, (name, field)


def test_attendees_map_partstat_rooms_and_the_owners_answer() -> None:
    events, _ = read(
        calendar(
            """UID:m1
DTSTART:20240301T100000Z
DTEND:20240301T110000Z
SUMMARY:Planning
ORGANIZER;CN="Carol":mailto:Carol@Example.com
ATTENDEE;CN=Bob;PARTSTAT=DECLINED:mailto:bob@example.com
ATTENDEE;PARTSTAT=TENTATIVE:MAILTO:O.Alias@example.com
ATTENDEE;CUTYPE=ROOM;CN=Room 1;PARTSTAT=ACCEPTED:mailto:room1@resource.example.com
ATTENDEE;CUTYPE=INDIVIDUAL;PARTSTAT=NEEDS-ACTION:mailto:dan@example.com"""
        )
    )
    event = events[0]
    by_email = {a.email: a for a in event.attendees}
    assert event.organizer == "carol@example.com"
    assert by_email["bob@example.com"].response is ResponseStatus.DECLINED
    assert by_email["room1@resource.example.com"].is_resource
    assert by_email["carol@example.com"].is_organizer  # added although not an ATTENDEE
    assert by_email["carol@example.com"].response is ResponseStatus.ACCEPTED
    assert event.attendee_count == 4  # carol, bob, owner (alias), dan; not the room
    assert event.self_response is ResponseStatus.TENTATIVE


@pytest.mark.parametrize(
    ("mode", "title"),
    [("off", None), ("kept", "Hi Bcc: evil@example.com"), ("hashed", "sha256:")],
)
def test_title_follows_privacy_setting(mode: str, title: str | None) -> None:
    options = IcsOptions(OPTIONS.window_start, OPTIONS.window_end, "UTC", OWNER, mode)
    events, _ = read(
        calendar("UID:p\nDTSTART:20240301T100000Z\nSUMMARY:Hi\\nBcc: evil@example.com"), options
    )
    if title is None or mode == "kept":
        assert events[0].title == title
    else:
        assert events[0].title is not None and events[0].title.startswith(title)
        assert len(events[0].title) == len("sha256:") + 16


def test_events_outside_the_window_are_left_out_and_infinite_series_are_bounded() -> None:
    events, _ = read(
        calendar(
            "UID:old\nDTSTART:20200301T100000Z",
            "UID:daily\nDTSTART:20240101T080000Z\nRRULE:FREQ=DAILY",
        )
    )
    assert {e.series_id for e in events} == {"daily"}
    assert len(events) == 365  # 2024-01-01 .. 2024-12-30 inclusive (window ends 12-31 00:00)


def test_a_broken_vevent_is_skipped_and_the_rest_of_the_file_is_read() -> None:
    events, skipped = read(
        calendar(
            "UID:good-1\nDTSTART:20240301T100000Z",
            "UID:bad\nDTSTART:2024-03-01 garbage",
            "UID:no-start\nSUMMARY:nothing",
            "UID:good-2\nDTSTART:20240302T100000Z",
        )
    )
    assert [e.source_id for e in events] == ["good-1", "good-2"]
    assert [s.location for s in skipped] == [
        "cal.ics:VEVENT #2 (UID bad)",
        "cal.ics:VEVENT #3 (UID no-start)",
    ]


def test_a_file_without_end_lines_is_salvaged_event_by_event() -> None:
    data = (
        b"BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:a\nDTSTART:20240301T100000Z\nEND:VEVENT\n"
        b"BEGIN:VEVENT\nUID:b\nDTSTART:20240302T100000Z\nEND:VEVENT\nBEGIN:VEVENT\nUID:c\n"
    )
    events, _ = read(data)
    assert [e.source_id for e in events] == ["a", "b"]


def test_garbage_is_one_skip_not_an_exception() -> None:
    events, skipped = read(b"\x00\x01 this is not a calendar")
    assert events == [] and len(skipped) == 1 and skipped[0].location == "cal.ics"
