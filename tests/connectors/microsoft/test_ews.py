"""Exchange Server on premises through exchangelib, against a fake EWS endpoint (responses)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import responses
from peerpulse.connectors.base import SourceContext, SourceUnavailable
from peerpulse.connectors.microsoft.ews import EmptyCalendarRefused, ExchangeConnector
from peerpulse.connectors.microsoft.settings import ExchangeSettings
from peerpulse.connectors.records import Direction, ResponseStatus
from pydantic import ValidationError

from tests.connectors.microsoft.conftest import drain
from tests.connectors.microsoft.fake_data import NOW, USER
from tests.connectors.microsoft.fake_ews import FakeEws

PASSWORD = "correct horse"


@pytest.fixture
def ews() -> Any:
    import exchangelib

    fake = FakeEws("CONTOSO\\alice", PASSWORD)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake.install(rsps)
        yield fake
    # exchangelib caches one protocol (pool size, back-off deadline) per endpoint and
    # credentials: a test that made the fake server busy must not slow the next one down
    exchangelib.close_connections()
    assert fake.violations == []


def _iso(delta: timedelta) -> str:
    return (NOW + delta).strftime("%Y-%m-%dT%H:%M:%SZ")


def _event(n: int, **extra: Any) -> dict[str, Any]:
    event = {"id": f"ev{n}", "subject": f"Review {n}", "start": _iso(timedelta(days=1, hours=n)),
             "end": _iso(timedelta(days=1, hours=n, minutes=30)), "organizer": USER,
             "required": [("bob@contoso.com", "Accept"), ("carol@contoso.com", "Decline")]}
    event.update(extra)
    return event


def _message(n: int, **extra: Any) -> dict[str, Any]:
    message = {"id": f"msg{n}", "subject": f"Re: plan {n}", "received": _iso(-timedelta(hours=n)),
               "conversation": f"conv{n // 2}", "from": "bob@contoso.com", "to": [USER],
               "message_id": f"<m{n}@contoso.com>"}
    message.update(extra)
    return message


def _connector(
    tmp_path: Path, store: Any, *, subjects: str = "kept", **overrides: Any
) -> ExchangeConnector:
    from peerpulse.worker.sync import _CommittedState

    secret = tmp_path / "ews-password"
    secret.write_text(PASSWORD)
    secret.chmod(0o600)
    settings = ExchangeSettings.model_validate(dict(
        server="mail.contoso.local", username="CONTOSO\\alice",
        password={"file": str(secret)}, auth="basic", window_past_days=30,
        window_future_days=30, **overrides,
    ))
    context = SourceContext(
        account="alice", owner_addresses=frozenset({USER}), timezone="Europe/Berlin",
        now=NOW, subjects=subjects,
        committed_state=(lambda name: _CommittedState(store, "alice", name)) if store else None,
    )
    return ExchangeConnector(context, settings)


def _source(connector: ExchangeConnector, name: str) -> Any:
    return next(s for s in connector.sources() if s.name == name)


def test_exchange_online_endpoints_are_refused_with_a_pointer_to_graph():
    with pytest.raises(ValidationError, match="microsoft"):
        ExchangeSettings(server="outlook.office365.com", username="a",
                             password={"env": "X"})


def test_calendar_view_normalizes_and_a_vanished_event_is_pruned(ews, tmp_path, store):
    for n in range(3):
        ews.events[f"ev{n}"] = _event(n)
    ews.events["ev9"] = _event(9, sensitivity="Private", busy="OOF", type="Occurrence",
                               mine="Tentative")
    ews.events["ev8"] = _event(8, start=_iso(timedelta(days=90)), end=_iso(timedelta(days=91)))
    # an all-day event on 3 June in Berlin: midnight to midnight there, sent in UTC
    ews.events["ev7"] = _event(7, all_day=True, zone="W. Europe Standard Time", busy="Free",
                               start="2026-06-02T22:00:00Z", end="2026-06-03T22:00:00Z")
    drain(store, _source(_connector(tmp_path, store), "calendar"))
    events = {e.source_id: e for e in store.iter_events("alice")}
    assert set(events) == {"ev0", "ev1", "ev2", "ev7", "ev9"}  # ev8 is outside the window
    day = events["ev7"]
    assert day.all_day and (day.start.isoformat(), day.end.isoformat()) == (
        "2026-06-02T22:00:00+00:00", "2026-06-03T22:00:00+00:00")
    first = events["ev0"]
    assert first.organizer == USER and first.attendee_count == 3
    assert [(a.email, a.response) for a in first.attendees][1:] == [
        ("bob@contoso.com", ResponseStatus.ACCEPTED),
        ("carol@contoso.com", ResponseStatus.DECLINED),
    ]
    assert events["ev9"].title is None and events["ev9"].recurring
    assert events["ev9"].self_response == ResponseStatus.TENTATIVE
    assert ews.ops[-2:] == ["FindItem", "GetItem"]
    # nothing changed: ids and change keys only, nothing fetched or written
    before = len(ews.ops)
    idle = drain(store, _source(_connector(tmp_path, store), "calendar"))
    assert sum(len(b.upserts) for b in idle) == 0 and "GetItem" not in ews.ops[before:]
    del ews.events["ev1"]
    ews.events["ev2"].update(subject="Moved review", ck="ck2")
    batches = drain(store, _source(_connector(tmp_path, store), "calendar"))
    assert [e.source_id for b in batches for e in b.upserts] == ["ev2"]
    events = {e.source_id: e for e in store.iter_events("alice")}
    assert set(events) == {"ev0", "ev2", "ev7", "ev9"} and events["ev2"].title == "Moved review"


def test_an_empty_calendar_view_where_many_events_were_stored_is_refused(ews, tmp_path, store):
    for n in range(12):
        ews.events[f"ev{n}"] = _event(n % 20)
    drain(store, _source(_connector(tmp_path, store), "calendar"))
    ews.events.clear()
    with pytest.raises(EmptyCalendarRefused):
        drain(store, _source(_connector(tmp_path, store), "calendar"))
    assert len(list(store.iter_events("alice"))) == 12


def test_mail_syncs_page_by_page_with_the_state_committed_and_headers_mapped(ews, tmp_path, store):
    sent = ews.folders["sentitems"]
    inbox = ews.folders["inbox"]
    for n in range(5):
        sent.put(_message(100 + n, **{"from": USER, "to": ["bob@contoso.com"]}))
    for n in range(7):
        inbox.put(_message(n, in_reply_to="<m100@contoso.com>", references="<m100@contoso.com>"))
    inbox.put(_message(50, headers={"List-Id": "<team.lists.contoso.com>",
                                    "Auto-Submitted": "auto-generated"}))
    inbox.put(_message(51, draft=True))
    inbox.put(_message(52, received=_iso(-timedelta(days=60))))  # older than the window
    batches = drain(store, _source(_connector(tmp_path, store, sync_page=4), "mail"))
    assert [len(b.upserts) for b in batches][:2] == [4, 1]  # Sent Items first, 4 a page
    messages = {m.source_id: m for m in store.iter_messages("alice")}
    assert set(messages) == {f"msg{n}" for n in [*range(100, 105), *range(7), 50]}
    reply = messages["msg3"]
    assert reply.in_reply_to == "m100@contoso.com" and reply.thread_id == "conv1"
    assert reply.direction == Direction.RECEIVED and messages["msg100"].direction == Direction.SENT
    assert messages["msg50"].list_id == "team.lists.contoso.com"
    assert messages["msg50"].auto_submitted == "auto-generated"
    assert store.state_get("alice", "mail", "folder/inbox") is not None
    ops_before = len(ews.ops)
    inbox.put(_message(60))
    inbox.delete("msg0")
    again = drain(store, _source(_connector(tmp_path, store, sync_page=4), "mail"))
    assert [m.source_id for b in again for m in b.upserts] == ["msg60"]
    assert "msg0" in {m.source_id for m in store.iter_messages("alice")}  # kept
    assert ews.ops[ops_before:].count("SyncFolderItems") == 2  # one per folder


def test_a_rejected_sync_state_lists_the_folder_again(ews, tmp_path, store):
    for n in range(3):
        ews.folders["inbox"].put(_message(n))
    drain(store, _source(_connector(tmp_path, store), "mail"))
    ews.expired_states |= {store.state_get("alice", "mail", "folder/inbox")}
    ews.folders["inbox"].put(_message(9))
    drain(store, _source(_connector(tmp_path, store), "mail"))
    assert len(list(store.iter_messages("alice"))) == 4


def test_a_command_mail_to_oneself_is_one_command_applied_once(ews, tmp_path, store):
    """A digest action link (issue 13) through Exchange: Sent Items and the Inbox each hold
    a copy; it is a command (never a message) despite hashed subjects, applied once."""
    from zoneinfo import ZoneInfo

    from peerpulse.connectors.records import HASHED, MailCommand, Person
    from peerpulse.worker.overrides import apply_mail_commands, command_subject

    key, bob = bytes(range(32)), "peer7@contoso.com"
    subject = command_subject(key, "alice", "done", bob, "2026-W22")

    def send_to_self(n: int) -> None:
        mail = _message(n, subject=subject, received=_iso(-timedelta(minutes=n)),
                        **{"from": USER, "to": [USER]})
        ews.folders["sentitems"].put(mail)
        ews.folders["inbox"].put({**mail, "id": f"inb{n}"})

    for n in range(4):
        ews.folders["inbox"].put(_message(n))
    send_to_self(10)
    source = _source(_connector(tmp_path, store, subjects="hashed"), "mail")
    records = [r for b in drain(store, source) for r in b.upserts]
    assert [r.command for r in records if isinstance(r, MailCommand)] == [
        subject.removeprefix("peerpulse: ")]
    messages = list(store.iter_messages("alice"))
    assert len(messages) == 4 and all(m.subject.startswith(HASHED) for m in messages)
    people, zone = [Person(bob, "Bob Peer")], ZoneInfo("Europe/Berlin")
    (settled,) = apply_mail_commands(store, "alice", key, people, zone, NOW)
    assert settled.outcome == "applied"
    send_to_self(11)  # clicked again: arrives through the sync state, ignored
    drain(store, _source(_connector(tmp_path, store, subjects="hashed"), "mail"))
    (again,) = apply_mail_commands(store, "alice", key, people, zone, NOW)
    assert again.outcome == "ignored" and again.detail.startswith("already applied")
    assert len(store.overrides("alice", include_undone=True)) == 1
    assert len(list(store.iter_messages("alice"))) == 4


def test_server_busy_backs_off_as_told_and_wrong_credentials_are_reported(ews, tmp_path, store,
                                                                          monkeypatch):
    import time as time_module

    slept: list[float] = []
    monkeypatch.setattr(time_module, "sleep", slept.append)
    ews.events["ev1"] = _event(1)
    ews.busy = 1
    drain(store, _source(_connector(tmp_path, store), "calendar"))
    assert len(list(store.iter_events("alice"))) == 1
    assert slept and 0.5 < sum(slept) <= 2.0  # waited out BackOffMilliseconds = 1000
    import exchangelib

    exchangelib.close_connections()  # the next run is a new process: no cached protocol
    ews.auth = "Basic wrong"
    slept.clear()
    with pytest.raises(SourceUnavailable, match="credentials|Exchange") as caught:
        drain(store, _source(_connector(tmp_path, store), "calendar"))
    assert "refused" in str(caught.value) and slept == []  # a login failure, not throttling


class _OverFakeEws:
    """The shared connector contract for the EWS sources (mixed into SourceContract).

    The sources keep their keyed state in memory (no store behind the context, as
    for the Graph sources): the contract re-reads with one source object without
    committing every batch, which a store-backed state (one batch in flight)
    rightly does not support.
    """

    store = None

    @pytest.fixture(autouse=True)
    def _server(self, ews: Any) -> None:
        self.ews = ews


def _contract_classes() -> tuple[type, type]:
    from tests.connectors.contract import SourceContract

    class TestEwsCalendarContract(_OverFakeEws, SourceContract):
        def populated_source(self, tmp_path: Path) -> Any:
            for n in range(4):
                self.ews.events[f"ev{n}"] = _event(n)
            return _source(_connector(tmp_path, self.store), "calendar")

        def empty_source(self, tmp_path: Path) -> Any:
            return _source(_connector(tmp_path, self.store), "calendar")

    class TestEwsMailContract(_OverFakeEws, SourceContract):
        def populated_source(self, tmp_path: Path) -> Any:
            for n in range(6):
                self.ews.folders["inbox"].put(_message(n))
            return _source(_connector(tmp_path, self.store, sync_page=4), "mail")

        def empty_source(self, tmp_path: Path) -> Any:
            return _source(_connector(tmp_path, self.store), "mail")

    return TestEwsCalendarContract, TestEwsMailContract


TestEwsCalendarContract, TestEwsMailContract = _contract_classes()


class _Next:
    """Faults for the fake EWS: the given kinds for the next requests, then none."""

    def __init__(self, *kinds: str) -> None:
        self.kinds = list(kinds)

    def draw(self, key: str, allowed: tuple[str, ...]) -> str | None:
        return self.kinds.pop(0) if self.kinds else None


@pytest.mark.parametrize("kinds", [("reset",), ("timeout", "reset", "timeout")])
def test_a_dropped_connection_or_read_timeout_is_tried_again(ews, tmp_path, store, monkeypatch,
                                                             kinds):
    # Found by `make chaos-microsoft`: exchangelib re-raises a reset or a read timeout at
    # once (ErrorTimeoutExpired) when its pool is down to one session, and that ended the
    # whole run; at a 20% fault rate no run completed.
    import time as time_module

    slept: list[float] = []
    monkeypatch.setattr(time_module, "sleep", slept.append)
    ews.events["ev1"] = _event(1)
    ews.folders["inbox"].put(_message(1))
    ews.faults = _Next(*kinds)
    drain(store, _source(_connector(tmp_path, store), "calendar"))
    drain(store, _source(_connector(tmp_path, store), "mail"))
    assert len(list(store.iter_events("alice"))) == 1
    assert len(list(store.iter_messages("alice"))) == 1
    assert ews.faults.kinds == [] and len(slept) >= len(kinds)


class _OnOp:
    """Faults for the fake EWS: ``kind`` for the ``nth`` request of operation ``op``."""

    def __init__(self, op: str, kind: str, nth: int = 1) -> None:
        self.op, self.kind, self.left = op, kind, nth

    def draw(self, key: str, allowed: tuple[str, ...]) -> str | None:
        if key.startswith(self.op + " ") and self.kind in allowed and self.left > 0:
            self.left -= 1
            return self.kind if self.left == 0 else None
        return None


def test_a_reset_during_sync_folder_items_is_tried_again(ews, tmp_path, store, monkeypatch):
    # Found by `make chaos-microsoft`: exchangelib's ErrorTimeoutExpired is a response
    # message error, so the page's own error handling reported a reset as "Exchange
    # refused SyncFolderItems" and the run ended instead of trying the page again.
    import time as time_module

    monkeypatch.setattr(time_module, "sleep", lambda _: None)
    for n in range(3):
        ews.folders["inbox"].put(_message(n))
    ews.faults = _OnOp("SyncFolderItems", "reset")
    drain(store, _source(_connector(tmp_path, store), "mail"))
    assert len(list(store.iter_messages("alice"))) == 3 and ews.faults.left == 0


def test_a_state_rejected_in_the_middle_of_a_listing_lists_the_folder_again(ews, tmp_path,
                                                                           store):
    # Found by `make chaos-microsoft`: a rejection of a state this run's own listing had
    # received (the second page of a first sync) ended the run ("refused the sync").
    for n in range(10):
        ews.folders["inbox"].put(_message(n))
    ews.faults = _OnOp("SyncFolderItems", "expired_sync", nth=2)
    drain(store, _source(_connector(tmp_path, store, sync_page=4), "mail"))
    assert len(list(store.iter_messages("alice"))) == 10 and ews.faults.left == 0


def test_the_first_pass_reports_loading_until_every_folder_is_listed(ews, tmp_path, store):
    """The digest's "history still loading" note (issue 15): a first pass that failed in
    its second folder reports the first done and the second loading; the next run that
    ends it reports complete, and a relisting later does not turn it back."""
    from peerpulse.connectors.base import PROGRESS_KEY, SyncProgress

    def progress() -> Any:
        return SyncProgress.load(store.state_get("alice", "mail", PROGRESS_KEY))

    for n in range(3):
        ews.folders["sentitems"].put(_message(100 + n, **{"from": USER, "to": ["bob@x.com"]}))
    for n in range(9):
        ews.folders["inbox"].put(_message(n))
    source = _source(_connector(tmp_path, store, sync_page=4), "mail")
    batches = source.sync(None)
    for _ in range(2):  # Sent Items whole, then the inbox's first page; then the run dies
        store.apply_batch("alice", "mail", next(batches))
    loading = progress()
    assert loading is not None and not loading.complete and loading.done == 0.5
    assert "loading: inbox" in loading.detail
    drain(store, _source(_connector(tmp_path, store, sync_page=4), "mail"))
    assert progress().complete
    ews.expired_states |= {store.state_get("alice", "mail", "folder/inbox")}
    drain(store, _source(_connector(tmp_path, store, sync_page=4), "mail"))
    assert progress().complete
