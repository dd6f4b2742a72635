"""The Store contract: what any backend must do, tested only through the protocol.

Every test takes ``backend``, a :class:`~peerpulse.worker.store.protocol.Store`
from each implementation: SQLite in a temp file, PostgreSQL in a fresh schema of
the session's own server (tests/pg_cluster.py; skipped, with the reason, when
no server can be started). Both pass the same tests unchanged. Nothing here
opens a connection or writes SQL.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from peerpulse.connectors.records import (
    EventInstance,
    MessageMeta,
    Person,
    RecordKey,
    RecordKind,
    SkippedInput,
    SyncBatch,
)
from peerpulse.connectors.state import StateChange
from peerpulse.worker.store import SqliteStore, open_store
from peerpulse.worker.store.protocol import Store
from peerpulse.worker.store.rows import LedgerState

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
AT = int(T0.timestamp())


def _sqlite(request: pytest.FixtureRequest, tmp_path: Path) -> AbstractContextManager[Store]:
    return SqliteStore(tmp_path / "state.sqlite3")


def _postgres(request: pytest.FixtureRequest, tmp_path: Path) -> AbstractContextManager[Store]:
    return open_store(request.getfixturevalue("pg_url"))


BACKENDS: dict[str, Callable[[pytest.FixtureRequest, Path], AbstractContextManager[Store]]] = {
    "sqlite": _sqlite,
    "postgres": _postgres,
}


@pytest.fixture(params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    with BACKENDS[request.param](request, tmp_path) as store:
        yield store


def message(n: int, **kw: object) -> MessageMeta:
    base: dict[str, object] = dict(
        source_id=f"m{n}@x", message_id=f"m{n}@x", thread_id="t",
        timestamp=T0 + timedelta(hours=n), sender="lee@example.com", to=("dana@example.com",),
    )
    base.update(kw)
    return MessageMeta(**base)  # type: ignore[arg-type]


def event(n: int, **kw: object) -> EventInstance:
    base: dict[str, object] = dict(
        source_id=f"e{n}", series_id=f"e{n}", start=T0 + timedelta(days=n),
        end=T0 + timedelta(days=n, hours=1), organizer="dana@example.com",
    )
    base.update(kw)
    return EventInstance(**base)  # type: ignore[arg-type]


def _failing(batch: SyncBatch) -> SyncBatch:
    """``batch`` plus, last, a record no backend can encode: it fails after the
    earlier rows were written, inside the transaction."""
    batch.upserts.append(message(99, timestamp=None))
    return batch


def test_every_backend_implements_the_whole_protocol(backend):
    """A method merged into the protocol later must reach every backend."""
    wanted = {n for n in vars(Store) if not n.startswith("_")} | set(Store.__annotations__)
    assert "settle_command" in wanted and "read_only" in wanted
    assert sorted(n for n in wanted if not hasattr(backend, n)) == []


# -- records -------------------------------------------------------------------------


def test_a_record_upserted_twice_is_stored_once_with_the_newer_values(backend):
    backend.apply_batch("a", "s", SyncBatch(upserts=[message(1, subject="old")], cursor="c1"))
    backend.apply_batch("a", "s", SyncBatch(upserts=[message(1, subject="new")], cursor="c2"))
    assert [m.subject for m in backend.iter_messages("a")] == ["new"]
    assert backend.counts("a").messages == 1


def test_a_deletion_removes_only_that_record_of_that_source(backend):
    backend.apply_batch("a", "s", SyncBatch(upserts=[event(1), event(2)]))
    backend.apply_batch("a", "other", SyncBatch(upserts=[event(1)]))
    outcome = backend.apply_batch(
        "a", "s", SyncBatch(deletions=[RecordKey(RecordKind.EVENT, "e1")])
    )
    assert outcome.deleted == 1
    assert sorted(e.source_id for e in backend.iter_events("a")) == ["e1", "e2"]
    assert backend.counts("a").events == 2


def test_raw_rows_are_the_digests_rows_undecoded_events_first(backend):
    """The benchmark's baseline reads what the digest reads, on every backend."""
    backend.apply_batch("a", "s", SyncBatch(upserts=[message(1), message(2), event(1)]))
    backend.apply_batch("b", "s", SyncBatch(upserts=[message(3)]))
    rows = list(backend.iter_raw_rows("a"))
    assert [r[0] for r in rows] == [
        *(e.source_id for e in backend.iter_events("a")),
        *(m.source_id for m in backend.iter_messages("a")),
    ]


def test_messages_naming_someone_are_the_decoded_ones_that_name_them(backend):
    """A re-base reads again only the mail of a few people on a day (rules.rebase): the
    test sees the addresses as stored, sender, To and Cc, never Bcc."""
    mails = [
        message(1, sender="Kim@Example.com", to=("dana@example.com",)),
        message(2, to=("dana@example.com", "kim@example.com")),
        message(3, cc=("x@example.com", "kim@example.com")),
        message(4, bcc=("kim@example.com",)),
        message(5),
        message(6, sender=None, to=(), cc=()),
    ]
    backend.apply_batch("a", "s", SyncBatch(upserts=mails))
    seen: list[str] = []

    def naming(address: str) -> bool:
        seen.append(address)
        return address.lower() == "kim@example.com"

    got = list(backend.iter_messages("a", since=T0, until=T0 + timedelta(hours=6),
                                     naming=naming))
    assert [m.source_id for m in got] == ["m1@x", "m2@x", "m3@x"]
    assert got == [m for m in backend.iter_messages("a") if m.source_id in {"m1@x", "m2@x",
                                                                              "m3@x"}]
    assert "kim@example.com" in seen and all(a for a in seen)


def test_accounts_do_not_see_each_others_records(backend):
    backend.apply_batch("a", "s", SyncBatch(upserts=[message(1)]))
    assert list(backend.iter_messages("b")) == []


def test_newest_record_times_look_only_at_or_before_the_bound(backend):
    """The digest's "your record stops early" check (worker/freshness.py): future
    meetings and other accounts' records must not make a cut-off record look fresh."""
    assert backend.newest_record_times("a", T0) == (None, None)
    backend.apply_batch("a", "s", SyncBatch(upserts=[message(1), message(5), event(2), event(9)]))
    backend.apply_batch("b", "s", SyncBatch(upserts=[message(7)]))
    bound = T0 + timedelta(days=3)
    assert backend.newest_record_times("a", bound) == (T0 + timedelta(hours=5),
                                                        T0 + timedelta(days=2))
    assert backend.newest_record_times("a", T0 + timedelta(hours=5)) == (
        T0 + timedelta(hours=5), None)


def test_a_title_change_is_recorded_with_the_syncs_clock(backend):
    person = Person("lee@example.com", "Lee", (), "Finance", "Manager")
    backend.apply_batch("a", "dir", SyncBatch(upserts=[person]), now=T0)
    promoted = Person("lee@example.com", "Lee", (), "Finance", "Director")
    backend.apply_batch("a", "dir", SyncBatch(upserts=[promoted]), now=T0 + timedelta(days=3))
    changes = backend.title_changes("a", T0)
    assert [(c.old_title, c.new_title, c.seen_at) for c in changes] == [
        ("Manager", "Director", T0 + timedelta(days=3))]


def test_the_people_stamp_changes_with_every_write_to_that_accounts_people(backend):
    """A worker keeps a resolved directory while this stamp holds (issue 12): every
    write path (upsert, change, deletion, pruning) must change it, reads must not."""
    assert backend.people_stamp("a") is None
    lee = Person("lee@example.com", "Lee", (), "Finance", "Manager")
    backend.apply_batch("a", "dir", SyncBatch(upserts=[lee], scope="f", run_id="r1"))
    seen = [backend.people_stamp("a")]
    backend.people("a")
    assert backend.people_stamp("a") == seen[-1] and seen[-1] is not None
    backend.apply_batch("b", "dir", SyncBatch(upserts=[lee]))  # another account's people
    assert backend.people_stamp("a") == seen[-1] and backend.people_stamp("b") is not None
    backend.apply_batch("a", "s", SyncBatch(upserts=[message(1)]))  # not people
    assert backend.people_stamp("a") == seen[-1]
    moved = Person("lee@example.com", "Lee", (), "Finance", "Manager", manager="kim@example.com")
    kim = Person("kim@example.com", "Kim")
    for batch in (
        SyncBatch(upserts=[moved], scope="f", run_id="r1"),  # a manager changed
        SyncBatch(upserts=[kim], scope="f", run_id="r1"),  # someone added
        SyncBatch(deletions=[RecordKey(RecordKind.PERSON, kim.source_id)]),  # someone deleted
        SyncBatch(scope="f", run_id="r2", prune_scope=True),  # a full resync without lee
    ):
        backend.apply_batch("a", "dir", batch)
        seen.append(backend.people_stamp("a"))
        assert seen[-1] is not None and seen[-1] not in seen[:-1], batch
    assert backend.people("a") == []


# -- cursor and connector state commit with the batch --------------------------------


def test_cursor_and_state_commit_with_the_batch(backend):
    backend.apply_batch("a", "s", SyncBatch(
        upserts=[message(1)], cursor="c1",
        state=[StateChange("seen/1", "x"), StateChange("seen/2", "y")]))
    assert backend.cursor("a", "s") == "c1"
    assert backend.state_get("a", "s", "seen/1") == "x"
    assert list(backend.state_iter_prefix("a", "s", "seen/")) == [("seen/1", "x"), ("seen/2", "y")]
    backend.apply_batch("a", "s", SyncBatch(state=[StateChange("seen/1", None)]))
    assert backend.state_get("a", "s", "seen/1") is None
    assert backend.cursor("a", "s") == "c1"  # a batch without a cursor keeps the old one


def test_a_failing_batch_commits_neither_records_nor_cursor_nor_state(backend):
    backend.apply_batch("a", "s", SyncBatch(
        upserts=[message(1)], cursor="c1", state=[StateChange("k", "v1")]))
    with pytest.raises(Exception):  # noqa: B017 - which error is the backend's; nothing kept
        backend.apply_batch("a", "s", _failing(SyncBatch(
            upserts=[message(2)], deletions=[RecordKey(RecordKind.MESSAGE, "m1@x")],
            cursor="c2", state=[StateChange("k", "v2"), StateChange("new", "n")],
            skipped=[SkippedInput("x.mbox", "bad")])))
    assert backend.cursor("a", "s") == "c1"
    assert backend.state_get("a", "s", "k") == "v1"
    assert backend.state_get("a", "s", "new") is None
    assert [m.source_id for m in backend.iter_messages("a")] == ["m1@x"]
    assert backend.counts("a").skipped_inputs == 0
    # And the store is usable afterwards: the next batch commits.
    backend.apply_batch("a", "s", SyncBatch(cursor="c3"))
    assert backend.cursor("a", "s") == "c3"


def test_state_is_kept_per_account_and_source(backend):
    backend.apply_batch("a", "s", SyncBatch(state=[StateChange("k", "a-s")]))
    backend.apply_batch("a", "t", SyncBatch(state=[StateChange("k", "a-t")]))
    assert backend.state_get("a", "s", "k") == "a-s"
    assert backend.state_get("b", "s", "k") is None
    assert list(backend.state_iter_prefix("a", "t", "")) == [("k", "a-t")]


# -- the digest ledger ---------------------------------------------------------------

KEY = ("a", "sam@example.com", "2026-W48", 0)


def _first(backend: Store, message_id: str = "<1@x>", picks=None):
    return backend.ledger_insert_first(
        KEY, message_id=message_id, subject="Week 48", message=b"bytes",
        state=LedgerState.PENDING, created_at=AT,
        picks={"peer_of_the_week": ["dana@example.com"]} if picks is None else picks,
    )


def test_the_first_rendering_of_a_period_wins_and_its_picks_are_kept_once(backend):
    first = _first(backend)
    again = _first(backend, message_id="<2@x>", picks={"peer_of_the_week": ["lee@example.com"]})
    assert again == first and again.message_id == "<1@x>" and again.message == b"bytes"
    assert backend.recommendation_history("a", "peer_of_the_week") == [
        ("2026-W48", "dana@example.com")]


def test_picks_of_a_digest_that_never_went_out_leave_the_rotation(backend):
    """A failed or expired week was never read: its peer of the week may come again."""
    _first(backend)
    assert backend.recommendation_history("a", "peer_of_the_week") != []
    backend.ledger_expire_pending("a", "2026-W49", AT + 9, "late")
    assert backend.recommendation_history("a", "peer_of_the_week") == []


def test_a_period_is_claimed_once(backend):
    _first(backend)
    claimed = backend.ledger_claim(KEY, AT + 1)
    assert claimed is not None
    assert (claimed.state, claimed.attempts, claimed.sending_at) == (LedgerState.SENDING, 1, AT + 1)
    assert backend.ledger_claim(KEY, AT + 2) is None
    done = backend.ledger_finish(KEY, LedgerState.SENT, None, "smtp", AT + 3)
    assert (done.state, done.location, done.finished_at) == (LedgerState.SENT, "smtp", AT + 3)
    assert backend.ledger_claim(KEY, AT + 4) is None


def test_finish_changes_only_a_row_being_sent(backend):
    _first(backend)
    row = backend.ledger_finish(KEY, LedgerState.SENT, None, None, AT)
    assert row.state == LedgerState.PENDING


def test_an_interrupted_send_becomes_unknown_then_reported_once(backend):
    _first(backend)
    backend.ledger_claim(KEY, AT)
    settled = backend.ledger_settle_sending("a", AT + 5, "interrupted")
    assert [(e.state, e.last_error, e.finished_at) for e in settled] == [
        (LedgerState.UNKNOWN, "interrupted", AT + 5)]
    assert [e.key for e in backend.ledger_unreported("a")] == [KEY]
    backend.ledger_mark_reported(KEY, AT + 6)
    assert backend.ledger_unreported("a") == []
    assert backend.ledger_requeue(KEY).state == LedgerState.PENDING


def test_pending_rows_of_past_periods_expire_with_the_reason(backend):
    _first(backend)
    assert backend.ledger_expire_pending("a", "2026-W48", AT, "late") == []
    expired = backend.ledger_expire_pending("a", "2026-W49", AT + 9, "late")
    assert [(e.state, e.last_error) for e in expired] == [(LedgerState.FAILED, "late (no attempt)")]


def test_a_resend_gets_the_next_seq_and_latest_returns_it(backend):
    first = _first(backend)
    resend = backend.ledger_insert_next(first, message_id="<r@x>", message=b"again", created_at=AT)
    assert (resend.seq, resend.state, resend.subject) == (1, LedgerState.PENDING, "Week 48")
    assert backend.ledger_latest("a", "sam@example.com", "2026-W48") == resend
    assert [e.seq for e in backend.ledger_entries("a")] == [0, 1]
    summary = backend.ledger_last_summary("a")
    assert summary is not None and (summary.period, summary.state) == ("2026-W48", "pending")


# -- retention purges and purge horizons (issue 10, item 1) --------------------------


def _daily(n: int) -> list[MessageMeta]:
    return [message(0, source_id=f"d{i}", timestamp=T0 - timedelta(days=i)) for i in range(n)]


def test_a_purge_deletes_only_older_records_of_that_account(backend):
    backend.apply_batch("a", "mail", SyncBatch(upserts=_daily(10), cursor="c"))
    backend.apply_batch("b", "mail", SyncBatch(upserts=_daily(10), cursor="c"))
    cutoff = T0 - timedelta(days=4, hours=12)
    assert backend.count_before("a", cutoff) == {"events": 0, "messages": 5}
    assert backend.purge_before("a", cutoff) == {"events": 0, "messages": 5, "commands": 0}
    assert sorted(m.source_id for m in backend.iter_messages("a")) == [
        "d0", "d1", "d2", "d3", "d4"]
    assert backend.counts("b").messages == 10
    assert backend.count_before("a", cutoff) == {"events": 0, "messages": 0}


def test_an_ordinary_retention_purge_never_reopens_a_source(backend):
    backend.apply_batch("a", "mail", SyncBatch(
        upserts=_daily(10), cursor="c", state=[StateChange("k", "v")]))
    backend.purge_before("a", T0 - timedelta(days=5))
    assert backend.reopen_purged("a", T0 - timedelta(days=5)) == []  # the same cutoff
    assert backend.reopen_purged("a", T0 - timedelta(days=4)) == []  # a later one
    assert backend.cursor("a", "mail") == "c"
    assert backend.state_get("a", "mail", "k") == "v"


def test_a_cutoff_behind_the_purge_horizon_reopens_that_source_once(backend):
    for account in ("a", "b"):
        for source in ("mail", "cal", "untouched"):
            days = 1 if source == "untouched" else 10
            backend.apply_batch(account, source, SyncBatch(
                upserts=[message(0, source_id=f"{source}{i}", timestamp=T0 - timedelta(days=i))
                         for i in range(days)],
                cursor=f"{source}-c", state=[StateChange("k", source)]))
    backend.purge_before("a", T0 - timedelta(days=3))
    backend.purge_before("a", T0 - timedelta(days=8))  # an older purge never lowers it
    backend.purge_before("b", T0 - timedelta(days=3))
    assert backend.reopen_purged("a", T0 - timedelta(days=4)) == ["cal", "mail"]
    assert backend.cursor("a", "mail") is None and backend.cursor("a", "cal") is None
    assert backend.state_get("a", "mail", "k") is None
    assert backend.cursor("a", "untouched") == "untouched-c"  # nothing of it was purged
    assert backend.state_get("a", "untouched", "k") == "untouched"
    assert backend.cursor("b", "mail") == "mail-c"  # another account's horizon is its own
    assert backend.reopen_purged("a", T0 - timedelta(days=4)) == []  # cleared with it
    assert backend.reopen_purged("b", T0 - timedelta(days=4)) == ["cal", "mail"]


# -- NUL in text (issue 10 follow-up, item 3) -----------------------------------------


def test_nul_in_any_text_of_a_batch_is_stored_alike_as_a_replacement_character(backend):
    """PostgreSQL refuses U+0000 in text, SQLite takes it: one NUL in a header must
    neither fail a batch on one backend nor be stored differently on the other."""
    from peerpulse.connectors.records import Attendee, MailCommand

    nul_message = message(1, source_id="<a\x00b@x>", subject="hi\x00there",
                          sender_name="Jo\x00", to=("c\x00d@x.com",), list_id="l\x00")
    nul_event = event(1, title="Sync\x00", attendees=(Attendee("e\x00@x.com", "E\x00"),))
    clean = message(2)
    backend.apply_batch("a", "mail", SyncBatch(
        upserts=[nul_message, clean, MailCommand("c\x00", T0, "snooze x\x00")],
        skipped=[SkippedInput("file\x00.eml", "bad\x00")],
        state=[StateChange("k\x00", "v\x00")], cursor="c\x00"))
    backend.apply_batch("a", "cal", SyncBatch(upserts=[nul_event], cursor="e"))
    r = "\ufffd"
    (got, plain) = sorted(backend.iter_messages("a"), key=lambda m: m.source_id)
    assert (got.source_id, got.subject, got.sender_name, got.to, got.list_id) == (
        f"<a{r}b@x>", f"hi{r}there", f"Jo{r}", (f"c{r}d@x.com",), f"l{r}")
    assert plain == clean
    (stored_event,) = backend.iter_events("a")
    assert stored_event.title == f"Sync{r}"
    assert stored_event.attendees[0].email == f"e{r}@x.com"
    assert backend.cursor("a", "mail") == f"c{r}"
    assert backend.state_get("a", "mail", f"k{r}") == f"v{r}"
    assert [c.command for c in backend.pending_commands("a")] == [f"snooze x{r}"]
    assert backend.skipped_inputs("a")[0][1:] == (f"file{r}.eml", f"bad{r}")
    run = backend.begin_sync_run("a", "mail")
    backend.finish_sync_run(run, "failed", 0, 0, 0, "cannot read x\x00.mbox")
    (status,) = [s for s in backend.source_statuses("a") if s.source == "mail"]
    assert status.last_run_error == f"cannot read x{r}.mbox"


# -- the incremental digest's reads and checkpoint (issue 14, item 1) ----------------


def test_events_by_start_split_the_digests_events_in_its_order(backend):
    backend.apply_batch("a", "s", SyncBatch(upserts=[
        event(1), event(2, recurring=True), event(3), event(4, recurring=True)]))
    cut = int((T0 + timedelta(days=3)).timestamp())
    before = [e.source_id for e in backend.iter_events_starting("a", None, cut)]
    after = [e.source_id for e in backend.iter_events_starting("a", cut, None)]
    assert before + after == [e.source_id for e in backend.iter_events("a")]
    assert after == ["e3", "e4"]
    assert [e.source_id for e in backend.iter_events_starting(
        "a", None, None, recurring_only=True)] == ["e2", "e4"]
    ends = T0 + timedelta(days=2, hours=1)  # e2 ends then: still in, e1 not
    assert [e.source_id for e in backend.iter_events_starting("a", None, cut, ends)] == ["e2"]


def test_events_overlapping_a_window_are_the_same_whichever_index_finds_them(backend):
    """The free slots' week is read by the events' end (migration 12): exactly the
    events overlapping [since, until), a long one begun weeks before included, in
    start order."""
    backend.apply_batch("a", "s", SyncBatch(upserts=[
        event(1),
        event(2, end=T0 + timedelta(days=40)),  # weeks long: overlaps the window
        event(20, end=T0 + timedelta(days=30)),  # ends exactly at the window's start
        event(29, end=T0 + timedelta(days=29, hours=23)),  # ends just before it
        event(31), event(33), event(37),  # inside; the last starts at its end
        event(36, start=T0 + timedelta(days=36, hours=23, minutes=59)),
    ]))
    since, until = T0 + timedelta(days=30), T0 + timedelta(days=37)
    found = [e.source_id for e in backend.iter_events("a", since=since, until=until)]
    everything = list(backend.iter_events("a"))
    assert found == [e.source_id for e in everything if e.start < until and e.end >= since]
    assert found == ["e2", "e20", "e31", "e33", "e36"]


def test_a_checkpoint_is_marked_by_every_write_before_its_horizon(backend):
    from peerpulse.worker.store.rows import DigestCheckpoint

    backend.apply_batch("a", "s", SyncBatch(upserts=[message(1), message(5)]))
    generation = backend.begin_digest_checkpoint("a")
    assert generation is not None  # both backends keep one (issue 14, item 1)
    horizon = AT + 3 * 3600
    kept = DigestCheckpoint("fp", horizon, AT - 86400, None, generation, b"state")
    assert backend.save_digest_checkpoint("a", kept, generation)
    assert backend.digest_checkpoint("a") == kept
    # An unchanged re-upsert (a re-read export) marks nothing.
    backend.apply_batch("a", "s", SyncBatch(upserts=[message(1)], run_id="again"))
    assert backend.digest_checkpoint("a").dirty_from is None
    # New mail after the horizon: marked at its time, the checkpoint still holds.
    backend.apply_batch("a", "s", SyncBatch(upserts=[message(7)]))
    found = backend.digest_checkpoint("a")
    assert found.dirty_from == AT + 7 * 3600 and found.generation > generation
    # A changed record, a deletion, a purge: each marks its time.
    backend.apply_batch("a", "s", SyncBatch(upserts=[message(5, subject="changed")]))
    assert backend.digest_checkpoint("a").dirty_from == AT + 5 * 3600
    backend.apply_batch("a", "s", SyncBatch(deletions=[RecordKey(RecordKind.MESSAGE, "m1@x")]))
    assert backend.digest_checkpoint("a").dirty_from == AT + 3600
    # A batch that fails marks nothing (same transaction).
    before = backend.digest_checkpoint("a")
    with pytest.raises(Exception):  # noqa: B017 (whatever the backend raises)
        backend.apply_batch("a", "s", _failing(SyncBatch(upserts=[message(0)])))
    assert backend.digest_checkpoint("a") == before
    # Another account's writes are not this one's; a stale generation saves nothing.
    backend.apply_batch("b", "s", SyncBatch(upserts=[message(0)]))
    assert backend.digest_checkpoint("a") == before
    assert not backend.save_digest_checkpoint("a", kept, generation)
    assert backend.records_leaving("a", AT, AT + 6 * 3600)
    assert not backend.records_leaving("a", AT + 8 * 3600, AT + 9 * 3600)


def test_a_digest_starting_consumes_the_mark_and_any_write_during_it_refuses_the_save(
    backend,
):
    """Writes touch the checkpoint row only when they lower ``dirty_from`` (cheap big
    syncs); a writer's begin consumes the mark, so a write of any time while the
    digest reads still makes its save fail."""
    from peerpulse.worker.store.rows import DigestCheckpoint

    backend.apply_batch("a", "s", SyncBatch(upserts=[message(1), message(5)]))
    generation = backend.begin_digest_checkpoint("a")
    kept = DigestCheckpoint("fp", AT + 3 * 3600, AT - 86400, None, generation, b"state")
    assert backend.save_digest_checkpoint("a", kept, generation)
    # Mail after the horizon, the newest first: one mark at the earliest time.
    backend.apply_batch("a", "s", SyncBatch(upserts=[message(9), message(8), message(10)]))
    assert backend.digest_checkpoint("a").dirty_from == AT + 8 * 3600
    # The next digest begins: the mark is consumed, the checkpoint (still valid) kept.
    generation = backend.begin_digest_checkpoint("a")
    found = backend.digest_checkpoint("a")
    assert found.dirty_from is None and found.state == b"state" and found.generation == generation
    # A write later than any earlier mark, while it reads: the save is refused.
    backend.apply_batch("a", "s", SyncBatch(upserts=[message(11)]))
    assert not backend.save_digest_checkpoint("a", kept, generation)
    # A mark before the horizon: the next begin drops the checkpoint it invalidates.
    backend.apply_batch("a", "s", SyncBatch(upserts=[message(2)]))
    generation = backend.begin_digest_checkpoint("a")
    found = backend.digest_checkpoint("a")
    assert (found.state, found.horizon, found.dirty_from) == (None, None, None)
    # Two writers: the one that began first cannot save over the later one's reads.
    first = backend.begin_digest_checkpoint("a")
    second = backend.begin_digest_checkpoint("a")
    assert not backend.save_digest_checkpoint("a", kept, first)
    assert backend.save_digest_checkpoint("a", kept, second)


def test_a_checkpoint_second_state_goes_with_a_mark_before_it(backend):
    """The state kept at a digest's own time (``ahead_*``, migration 13) beside the one
    at ``horizon``: a begin keeps it while the mark is at or after it and drops it
    alone when the mark falls between the two; a save without it drops it."""
    from peerpulse.worker.store.rows import DigestCheckpoint

    backend.apply_batch("a", "s", SyncBatch(upserts=[message(1), message(5)]))
    generation = backend.begin_digest_checkpoint("a")
    kept = DigestCheckpoint("fp", AT + 3 * 3600, AT - 86400, None, generation, b"state",
                            None, AT + 6 * 3600, b"ahead")
    assert backend.save_digest_checkpoint("a", kept, generation)
    assert backend.digest_checkpoint("a") == kept
    # Read one state at a time (each is megabytes): the second as a checkpoint of its own.
    assert backend.digest_checkpoint("a", "ahead") == dataclasses.replace(
        kept, horizon=AT + 6 * 3600, state=b"ahead", ahead_horizon=None, ahead_state=None)
    assert backend.digest_checkpoint("a", "first") == dataclasses.replace(
        kept, ahead_state=None)
    backend.apply_batch("a", "s", SyncBatch(upserts=[message(7)]))  # after both
    generation = backend.begin_digest_checkpoint("a")
    found = backend.digest_checkpoint("a")
    assert (found.ahead_horizon, found.ahead_state, found.state) == (
        AT + 6 * 3600, b"ahead", b"state")
    backend.apply_batch("a", "s", SyncBatch(upserts=[message(4)]))  # between the two
    assert backend.digest_checkpoint("a").ahead_state == b"ahead"  # a reader still sees it
    generation = backend.begin_digest_checkpoint("a")
    found = backend.digest_checkpoint("a")
    assert (found.horizon, found.state, found.ahead_horizon, found.ahead_state) == (
        AT + 3 * 3600, b"state", None, None)
    kept = dataclasses.replace(kept, generation=generation)
    assert backend.save_digest_checkpoint("a", kept, generation)
    generation = backend.begin_digest_checkpoint("a")
    without = dataclasses.replace(kept, generation=generation, ahead_horizon=None,
                                  ahead_state=None)
    assert backend.save_digest_checkpoint("a", without, generation)
    found = backend.digest_checkpoint("a")
    assert (found.ahead_horizon, found.ahead_state) == (None, None)
    assert backend.digest_checkpoint("a", "ahead") is None


def test_marking_a_checkpoint_does_not_copy_its_state_per_record_written(backend):
    """The triggers update the checkpoint's row on writes; SQLite rewrites a whole row
    on UPDATE, so a state kept in that row (megabytes: every peer row of the window)
    was copied per record: 475x the write's cost. Same writes, a 4 MB state and a
    1-byte one: about the same time (before: hundreds of times longer)."""
    import time

    from peerpulse.worker.store.rows import DigestCheckpoint

    def timed(account: str, state: bytes) -> float:
        generation = backend.begin_digest_checkpoint(account)
        assert backend.save_digest_checkpoint(account, DigestCheckpoint(
            "fp", AT + 3600 * 500, AT, None, generation, state), generation)
        started = time.perf_counter()
        for n in range(0, 120, 10):  # batches of 10, newest first: each lowers the mark
            backend.apply_batch(account, "s", SyncBatch(upserts=[
                message(400 - n - i) for i in range(10)], run_id=f"r{n}"))
        return time.perf_counter() - started

    small = min(timed("small", b"x"), timed("small2", b"x"))
    large = timed("large", bytes(4_000_000))
    assert large < 10 * small + 0.5, (large, small)
    assert backend.digest_checkpoint("large").state == bytes(4_000_000)
