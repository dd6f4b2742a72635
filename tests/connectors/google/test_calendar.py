"""Calendar events: windowed full sync, syncToken increments, 410, the empty-resync refusal."""

from __future__ import annotations

from typing import Any

import pytest
from peerpulse.connectors.google.calendar import EmptyResyncRefused
from peerpulse.connectors.google.connector import GoogleConnector
from peerpulse.connectors.records import EventType, ResponseStatus, Transparency

from tests.connectors.google.conftest import READ_SCOPES, USER, drain, make_context, write_token
from tests.connectors.google.fake_data import Calendar


def event(n: int, **extra: Any) -> dict[str, Any]:
    day = 1 + n % 28
    return {
        "kind": "calendar#event",
        "id": f"ev{n}",
        "status": "confirmed",
        "summary": f"Sync {n}",
        "iCalUID": f"ev{n}@google.com",
        "etag": '"1"',
        "start": {"dateTime": f"2026-06-{day:02d}T10:00:00+02:00", "timeZone": "Europe/Berlin"},
        "end": {"dateTime": f"2026-06-{day:02d}T10:30:00+02:00", "timeZone": "Europe/Berlin"},
        "organizer": {"email": "Bob@Example.com"},
        "attendees": [
            {"email": "bob@example.com", "organizer": True, "responseStatus": "accepted"},
            {"email": USER, "self": True, "responseStatus": "tentative"},
        ],
        **extra,
    }


def calendar_source(fake: Any, state_dir: Any, **overrides: Any) -> Any:
    write_token(state_dir, fake, READ_SCOPES)
    (source,) = GoogleConnector(*make_context(fake, state_dir, mail=False, **overrides)).sources()
    return source


def fill(fake: Any, count: int) -> Calendar:
    cal = fake.calendars[(USER, "primary")]
    for n in range(count):
        cal.put(event(n))
    return cal


def test_full_sync_then_an_unchanged_calendar_costs_one_request(fake, state_dir, store):
    fill(fake, 12)
    drain(store, calendar_source(fake, state_dir))
    assert len(list(store.iter_events("alice"))) == 12
    (query,) = [q for name, q in fake.log if name == "events.list"]
    assert '"singleEvents": "true"' in query and '"maxResults": "2500"' in query
    assert '"timeMin"' in query and '"fields"' in query and '"showDeleted": "true"' in query
    fake.reset_counters()
    drain(store, calendar_source(fake, state_dir))
    assert fake.calls("events.list") == 1 and fake.http_requests <= 2  # + token refresh


def test_increments_apply_changes_and_cancellations(fake, state_dir, store):
    cal = fill(fake, 5)
    drain(store, calendar_source(fake, state_dir))
    cal.cancel("ev1")
    cal.put(event(2, summary="Moved"))
    drain(store, calendar_source(fake, state_dir))
    by_id = {e.source_id: e for e in store.iter_events("alice")}
    assert "ev1" not in by_id and by_id["ev2"].title == "Moved" and len(by_id) == 4


def test_an_expired_sync_token_resyncs_that_calendar_and_prunes_stale_events(
    fake, state_dir, store
):
    cal = fill(fake, 15)
    drain(store, calendar_source(fake, state_dir))
    del cal.events["ev3"], cal.changed["ev3"]  # vanished without a tombstone
    cal.oldest_token = cal.seq + 1  # every token so far is expired -> 410
    cal.seq += 1
    drain(store, calendar_source(fake, state_dir))
    ids = {e.source_id for e in store.iter_events("alice")}
    assert len(ids) == 14 and "ev3" not in ids


def test_a_full_resync_that_comes_back_empty_is_refused(fake, state_dir, store):
    cal = fill(fake, 15)
    drain(store, calendar_source(fake, state_dir))
    cal.events.clear()
    cal.changed.clear()
    cal.oldest_token = cal.seq + 1
    with pytest.raises(EmptyResyncRefused, match="came back empty"):
        drain(store, calendar_source(fake, state_dir))
    assert len(list(store.iter_events("alice"))) == 15


def test_event_fields_map_onto_the_instance(fake, state_dir, store):
    cal = fake.calendars[(USER, "primary")]
    cal.put(
        event(
            1,
            transparency="transparent",
            eventType="focusTime",
            attendeesOmitted=True,
            recurringEventId="series1",
        )
    )
    cal.put(event(2, eventType="outOfOffice"))
    drain(store, calendar_source(fake, state_dir))
    one, two = sorted(store.iter_events("alice"), key=lambda e: e.source_id)
    assert one.transparency == Transparency.FREE and one.event_type == EventType.FOCUS_TIME
    assert one.attendee_count == 3 and one.recurring and one.series_id == "ev1@google.com"
    assert one.self_response == ResponseStatus.TENTATIVE and one.organizer == "bob@example.com"
    assert two.event_type == EventType.OUT_OF_OFFICE


def test_each_calendar_is_its_own_scope(fake, state_dir, store):
    fill(fake, 3)
    team = Calendar()
    team.put(event(1))
    fake.calendars[(USER, "team@group.calendar.google.com")] = team
    drain(
        store,
        calendar_source(fake, state_dir, calendars=["primary", "team@group.calendar.google.com"]),
    )
    ids = sorted(e.source_id for e in store.iter_events("alice"))
    assert ids == ["ev0", "ev1", "ev2", "team@group.calendar.google.com/ev1"]


def test_the_stored_count_stays_exact_through_updates_and_cancellations(fake, state_dir, store):
    # The count that feeds the empty-resync guard drifted up with every update (each
    # changed event counted as one more) and down with every cancellation of an event
    # never stored: 344 counted against 315 stored after one round of changes.
    import json

    def source() -> Any:
        write_token(state_dir, fake, READ_SCOPES)
        (found,) = GoogleConnector(*make_context(fake, state_dir, store, mail=False)).sources()
        return found

    def count() -> int:
        return json.loads(store.cursor("alice", "calendar"))["calendars"]["primary"]["count"]

    def stored() -> int:
        return len(list(store.iter_events("alice")))

    cal = fill(fake, 20)
    drain(store, source())
    assert count() == stored() == 20
    for n in range(8):
        cal.put(event(n, summary=f"Moved {n}", etag='"2"'))
    for n in (8, 9):
        cal.cancel(f"ev{n}")
    cal.put(event(30))
    cal.cancel("ev30")  # created and cancelled between two runs: never stored
    cal.put(event(31))
    for _ in range(2):
        drain(store, source())
        assert count() == stored() == 19
        for n in range(4):
            cal.put(event(n, summary=f"Again {n}", etag='"3"'))
    cal.oldest_token = cal.seq + 1  # a full resync recounts: the same figure
    cal.seq += 1
    drain(store, source())
    assert count() == stored() == 19
