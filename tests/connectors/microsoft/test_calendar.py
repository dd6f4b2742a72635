"""calendarView/delta over the fake Graph: paging, deltaLink in keyed state, @removed,
410 resync with prune, the empty-resync refusal, throttling and a mid-run 401."""

from __future__ import annotations

from typing import Any

import pytest
from peerpulse.connectors.microsoft.calendar import EmptyResyncRefused
from peerpulse.connectors.microsoft.connector import MicrosoftConnector
from peerpulse.connectors.records import EventType, ResponseStatus, Transparency

from tests.connectors.microsoft.conftest import connect, drain, make_context, sign_in, source_named
from tests.connectors.microsoft.fake_data import USER, event


@pytest.fixture
def calendar(fake, state_dir, store) -> Any:
    sign_in(fake, state_dir)

    def build(**overrides: Any) -> Any:
        overrides.setdefault("page_size", 10)
        context = make_context(fake, state_dir, store, mail=False, **overrides)
        return source_named(MicrosoftConnector(*context), "calendar")

    return build


def _events(store) -> dict[str, Any]:
    return {e.source_id: e for e in store.iter_events("alice")}


def test_a_full_round_pages_with_maxpagesize_and_normalizes(fake, store, calendar):
    cal = fake.calendars[USER]
    for n in range(23):
        cal.put(event(n))
    cal.put(event(100, guests=1, showAs="oof", sensitivity="private", type="occurrence",
                   seriesMasterId="AAMkSeries1=",
                   attendees=[{"type": "required", "status": {"response": "declined"},
                               "emailAddress": {"name": "Carol", "address": "Carol@Contoso.com"}},
                              {"type": "resource", "status": {"response": "accepted"},
                               "emailAddress": {"name": "Room", "address": "room1@contoso.com"}}],
                   isOrganizer=False, organizer={"emailAddress": {"address": "bob@contoso.com"}},
                   responseStatus={"response": "tentativelyAccepted"}))
    cal.put(event(101, isAllDay=True, showAs="free",
                  start={"dateTime": "2026-06-03T00:00:00.0000000", "timeZone": "UTC"},
                  end={"dateTime": "2026-06-04T00:00:00.0000000", "timeZone": "UTC"}))
    cal.put(event(102, isCancelled=True))
    batches = drain(store, calendar())
    assert len(batches) == 3  # 25 live events at 10 a page
    assert all("odata.maxpagesize=10" in p and 'IdType="ImmutableId"' in p for p in fake.prefer)
    events = _events(store)
    assert len(events) == 25 and "AAMkEvent00102=" not in events
    plain = events["AAMkEvent00001="]
    assert plain.organizer == USER and plain.attendee_count == 3  # organizer + 2 guests
    assert plain.title == "Meeting 1" and plain.self_response == ResponseStatus.ACCEPTED
    private = events["AAMkEvent00100="]
    assert private.title is None  # sensitivity private keeps no title
    assert private.event_type == EventType.OUT_OF_OFFICE and private.recurring
    assert private.series_id == "AAMkSeries1="
    assert private.self_response == ResponseStatus.TENTATIVE
    assert [(a.email, a.response, a.is_resource, a.is_organizer) for a in private.attendees] == [
        ("bob@contoso.com", ResponseStatus.ACCEPTED, False, True),
        ("carol@contoso.com", ResponseStatus.DECLINED, False, False),
        ("room1@contoso.com", ResponseStatus.ACCEPTED, True, False),
    ]
    assert private.attendee_count == 2
    all_day = events["AAMkEvent00101="]
    assert all_day.all_day and all_day.transparency == Transparency.FREE
    assert all_day.start.isoformat() == "2026-06-02T22:00:00+00:00"  # midnight in Berlin
    assert store.state_get("alice", "calendar", "calendarView") is not None


def test_an_increment_costs_one_request_and_applies_removed(fake, store, calendar):
    cal = fake.calendars[USER]
    for n in range(5):
        cal.put(event(n))
    drain(store, calendar())
    before = fake.graph_requests("calendarView")
    assert sum(len(b.upserts) for b in drain(store, calendar())) == 0
    assert fake.graph_requests("calendarView") == before + 1
    cal.delete("AAMkEvent00002=")
    cal.put(event(3, subject="Moved"))
    batches = drain(store, calendar())
    assert [d.source_id for b in batches for d in b.deletions] == ["AAMkEvent00002="]
    events = _events(store)
    assert set(events) == {f"AAMkEvent{n:05d}=" for n in (0, 1, 3, 4)}
    assert events["AAMkEvent00003="].title == "Moved"


@pytest.mark.parametrize("how", ["410", "syncStateNotFound"])
def test_an_expired_delta_token_resyncs_and_prunes(fake, store, calendar, how):
    cal = fake.calendars[USER]
    for n in range(5):
        cal.put(event(n))
    drain(store, calendar())
    if how == "410":
        fake.expire_rounds()
    else:
        fake.inject("calendarView/delta", 400, "SyncStateNotFound")
    cal.items.pop("AAMkEvent00001=")  # gone without a tombstone: only a prune removes it
    drain(store, calendar())
    assert set(_events(store)) == {f"AAMkEvent{n:05d}=" for n in (0, 2, 3, 4)}


def test_an_empty_resync_where_many_events_were_stored_is_refused(fake, store, calendar):
    cal = fake.calendars[USER]
    for n in range(12):
        cal.put(event(n))
    drain(store, calendar())
    fake.expire_rounds()
    cal.items.clear()
    with pytest.raises(EmptyResyncRefused, match="12 events"):
        drain(store, calendar())
    assert len(_events(store)) == 12


@pytest.mark.parametrize("trailing", [False, True])
def test_a_run_killed_after_any_page_resumes_to_the_same_store(
    fake, state_dir, tmp_path, calendar, trailing
):
    from peerpulse.worker.store import open_store

    fake.trailing_delta_page = trailing
    cal = fake.calendars[USER]
    for n in range(35):
        cal.put(event(n))
    with open_store(tmp_path / "whole.sqlite3") as whole:
        source = source_named(
            connect(fake, state_dir, whole, mail=False, page_size=10),
            "calendar",
        )
        drain(whole, source)
        expected = sorted(e.source_id for e in whole.iter_events("alice"))
    for kill_after in range(1, 4 + trailing):
        with open_store(tmp_path / f"killed{kill_after}.sqlite3") as killed:
            context = make_context(fake, state_dir, killed, mail=False, page_size=10)
            source = source_named(MicrosoftConnector(*context), "calendar")
            for i, batch in enumerate(source.sync(killed.cursor("alice", "calendar"))):
                if i == kill_after:
                    break  # killed before this batch was committed
                killed.apply_batch("alice", "calendar", batch)
            context = make_context(fake, state_dir, killed, mail=False, page_size=10)
            drain(killed, source_named(MicrosoftConnector(*context), "calendar"))
            assert sorted(e.source_id for e in killed.iter_events("alice")) == expected


def test_429_waits_retry_after_and_a_401_refreshes_once(fake, store, calendar):
    fake.calendars[USER].put(event(1))
    source = calendar()
    waits: list[float] = []
    source.client.sleep = waits.append
    fake.inject("calendarView/delta", 429, "ApplicationThrottled", count=2, **{"Retry-After": "3"})
    drain(store, source)
    assert waits == [3.0, 3.0] and source.client.throttled == 2
    fake.expire_access_tokens()
    fake.calendars[USER].put(event(2))
    source = calendar()
    drain(store, source)
    assert len(_events(store)) == 2


def test_a_retry_after_longer_than_the_run_may_wait_keeps_the_cursor(fake, store, calendar):
    from peerpulse.connectors.base import SourceUnavailable

    fake.calendars[USER].put(event(1))
    drain(store, calendar())
    cursor = store.cursor("alice", "calendar")
    state = store.state_get("alice", "calendar", "calendarView")
    fake.inject("delta", 429, "ApplicationThrottled", **{"Retry-After": "900"})
    with pytest.raises(SourceUnavailable, match="900"):
        drain(store, calendar(max_retry_wait_seconds=60))
    assert store.cursor("alice", "calendar") == cursor
    assert store.state_get("alice", "calendar", "calendarView") == state


def _stored_count(store) -> int:
    import json

    return json.loads(store.state_get("alice", "calendar", "calendarView"))["count"]


def test_the_stored_count_stays_exact_through_updates_and_deletions(fake, store, calendar):
    # Seen after one round of changes: the count fed to the empty-resync guard said 344
    # where 315 events were stored, because every update of a stored event counted as
    # one more event and a removal of an event never stored as one less.
    cal = fake.calendars[USER]
    for n in range(30):
        cal.put(event(n))
    drain(store, calendar())
    assert _stored_count(store) == len(_events(store)) == 30
    for n in range(10):
        cal.put(event(n, subject=f"Moved {n}"))  # updates of stored events
    for n in (10, 11, 12):
        cal.delete(f"AAMkEvent{n:05d}=")  # deletions of stored events
    cal.put(event(40))
    cal.delete("AAMkEvent00040=")  # created and deleted between two runs: never stored
    cal.put(event(41))  # a new one
    for _ in range(2):  # and a second round of updates to the same events
        drain(store, calendar())
        assert _stored_count(store) == len(_events(store)) == 28
        for n in range(5):
            cal.put(event(n, subject=f"Again {n}"))
    fake.expire_rounds()  # a full round recounts: the same figure
    drain(store, calendar())
    assert _stored_count(store) == len(_events(store)) == 28


def test_a_token_that_expires_again_after_other_faults_is_refreshed_again(fake, store, calendar):
    # Found by `make chaos-microsoft`: one refresh per request. A 401 (refresh), then a 500,
    # then the new token expiring too ended the run with "refused the token twice" and
    # asked for a new sign-in, while the grant was fine.
    fake.calendars[USER].put(event(1))
    fake.inject("calendarView/delta", 401, "InvalidAuthenticationToken")
    fake.inject("calendarView/delta", 500, "InternalServerError")
    fake.inject("calendarView/delta", 401, "InvalidAuthenticationToken")
    source = calendar()
    source.client.sleep = lambda _: None
    drain(store, source)
    assert len(_events(store)) == 1
    assert sum(1 for r in fake.token_requests if r["grant_type"] == "refresh_token") == 2


def test_a_freshly_refreshed_token_refused_still_asks_for_a_new_sign_in(fake, store, calendar):
    from peerpulse.connectors.base import AuthRequired

    fake.calendars[USER].put(event(1))
    fake.inject("calendarView/delta", 401, "InvalidAuthenticationToken", count=2)
    with pytest.raises(AuthRequired, match="token twice") as refused:
        drain(store, calendar())
    assert refused.value.command == "peerpulse auth microsoft --account alice"
