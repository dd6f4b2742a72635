"""Sync orchestration: batches land with their cursors; failures stay contained."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from peerpulse.connectors.base import AuthRequired, CursorExpired
from peerpulse.connectors.memory import MemorySource
from peerpulse.connectors.records import MessageMeta, SyncBatch
from peerpulse.worker.sync import SourceReport, _drain, _sync_source

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def messages(n: int) -> list[MessageMeta]:
    return [
        MessageMeta(
            f"m{i}",
            f"m{i}",
            None,
            T0 + timedelta(minutes=i),
            "lee@example.com",
            ("dana@example.com",),
        )
        for i in range(n)
    ]


class Interrupted(Exception):
    pass


def test_a_run_killed_between_batches_resumes_without_loss_or_duplicates(store):
    source = MemorySource("mail", messages(250), page_size=100)
    # First run dies after the first batch was committed.
    batches = source.sync(None)
    store.apply_batch("a", "mail", next(batches))
    assert store.counts("a").messages == 100
    # The next run starts from the stored cursor.
    report = SourceReport("mail")
    _drain(store, "a", source, store.cursor("a", "mail"), report, None)
    assert report.upserted == 150
    assert [m.source_id for m in store.iter_messages("a")] == [f"m{i}" for i in range(250)]


def test_a_source_that_shrinks_is_pruned_on_full_reread(store):
    source = MemorySource("mail", messages(5))
    _sync_source(store, "a", source, None)
    source.records = messages(3)
    source.generation += 1
    _sync_source(store, "a", source, None)
    assert store.counts("a").messages == 3


class ExpiringSource:
    """Rejects any stored cursor once, like Gmail's history 404 or Calendar's 410."""

    name = "cal"

    def __init__(self) -> None:
        self.calls: list[str | None] = []

    def sync(self, cursor: str | None) -> Iterator[SyncBatch]:
        self.calls.append(cursor)
        if cursor is not None:
            raise CursorExpired("sync token is no longer valid")
        yield SyncBatch(
            upserts=messages(2), cursor="fresh", scope="cal", run_id="r", prune_scope=True
        )


def test_an_expired_cursor_triggers_one_full_resync(store):
    store.apply_batch("a", "cal", SyncBatch(cursor="stale"))
    source = ExpiringSource()
    result = _sync_source(store, "a", source, None)
    assert result.error is None
    assert source.calls == ["stale", None]
    assert store.cursor("a", "cal") == "fresh"


class RevokedSource:
    name = "mail"

    def sync(self, cursor: str | None) -> Iterator[SyncBatch]:
        yield SyncBatch(upserts=messages(1), cursor="c1")
        raise AuthRequired("invalid_grant: token revoked", "peerpulse auth google --account a")


def test_revoked_auth_keeps_committed_work_and_names_the_fix(store):
    result = _sync_source(store, "a", RevokedSource(), None)
    assert "peerpulse auth google --account a" in (result.hint or "")
    assert result.failure == "auth"
    assert store.cursor("a", "mail") == "c1"
    status = store.source_statuses("a")[0]
    assert (status.last_run_outcome, status.last_run_error) == (
        "failed",
        "invalid_grant: token revoked",
    )


class BuggySource:
    name = "mail"

    def sync(self, cursor: str | None) -> Iterator[SyncBatch]:
        raise ZeroDivisionError("oops")
        yield  # pragma: no cover


def test_a_connector_bug_is_a_reported_failure_not_a_crash(store):
    result = _sync_source(store, "a", BuggySource(), None)
    assert result.error == "unexpected ZeroDivisionError: oops"


class _SeenIdsSource:
    """Remembers every id it yielded in connector state, one key per id."""

    name = "mail"

    def __init__(self, context, records: list[MessageMeta]) -> None:  # noqa: ANN001
        self.context, self.records = context, records

    def sync(self, cursor: str | None) -> Iterator[SyncBatch]:
        state = self.context.source_state(self.name)
        start = int(cursor or 0)
        for i in range(start, len(self.records), 2):
            page = self.records[i : i + 2]
            for m in page:
                assert state.get(f"seen/{m.source_id}") is None  # never re-read after resume
                state.put(f"seen/{m.source_id}", "1")
            yield SyncBatch(upserts=page, cursor=str(i + 2), state=state.take_changes())


def test_connector_state_commits_with_its_batch_and_resumes_after_a_kill(store, tmp_path):
    from peerpulse.connectors.base import SourceContext
    from peerpulse.worker.store.sqlite import SqliteStore
    from peerpulse.worker.sync import _CommittedState

    context = SourceContext(
        "a", frozenset(), committed_state=lambda name: _CommittedState(store, "a", name)
    )
    source = _SeenIdsSource(context, messages(5))
    batches = source.sync(None)
    store.apply_batch("a", "mail", next(batches))  # killed after the first commit
    assert [k for k, _ in store.state_iter_prefix("a", "mail", "seen/")] == ["seen/m0", "seen/m1"]
    _drain(
        store,
        "a",
        _SeenIdsSource(context, messages(5)),
        store.cursor("a", "mail"),
        SourceReport("mail"),
        None,
    )

    with SqliteStore(tmp_path / "whole.db") as whole:
        ctx = SourceContext(
            "a", frozenset(), committed_state=lambda name: _CommittedState(whole, "a", name)
        )
        _drain(whole, "a", _SeenIdsSource(ctx, messages(5)), None, SourceReport("mail"), None)
        assert list(store.state_iter_prefix("a", "mail", "")) == list(
            whole.state_iter_prefix("a", "mail", "")
        )
        assert list(store.iter_messages("a")) == list(whole.iter_messages("a"))


def _daily(n: int) -> list[MessageMeta]:
    """One message a day for ``n`` days, the newest on T0."""
    return [
        MessageMeta(f"d{i}", f"d{i}", None, T0 - timedelta(days=i), "lee@example.com",
                    ("dana@example.com",))
        for i in range(n)
    ]


def _privacy(**kw):
    from types import SimpleNamespace

    from peerpulse.worker.config import PrivacyConfig

    return SimpleNamespace(privacy=PrivacyConfig(retention_days=30, **kw))


def test_a_clock_years_ahead_does_not_empty_the_store(store):
    # issue 10, item 1: age is measured from the newest stored record too.
    from peerpulse.worker.sync import AccountSyncReport, _purge

    _sync_source(store, "a", MemorySource("mail", _daily(20)), None)
    report = AccountSyncReport("a")
    _purge(store, _privacy(), report, T0 + timedelta(days=5 * 365))
    assert store.counts("a").messages == 20
    assert report.purge_refused is None


def test_a_purge_of_more_than_the_allowed_share_is_refused_loudly(store, caplog):
    from peerpulse.worker.sync import AccountSyncReport, _purge

    _sync_source(store, "a", MemorySource("mail", _daily(100)), None)
    report = AccountSyncReport("a")
    _purge(store, _privacy(), report, T0)  # 69 of 100 messages are older than 30 days
    assert store.counts("a").messages == 100
    assert report.purge_refused and "69 messages" in report.purge_refused
    assert "max_purge_share" in caplog.text

    report = AccountSyncReport("a")
    with caplog.at_level("INFO", logger="peerpulse"):
        _purge(store, _privacy(max_purge_share=1.0), report, T0)
    assert store.counts("a").messages == 31
    assert report.purged["messages"] == 69 and "69 messages deleted" in caplog.text


def test_a_first_sync_of_years_of_mail_applies_retention_without_refusing(store, caplog):
    """A new user's mbox holds years of mail: the share guard protects history held
    before the run, so the first sync keeps the retention window and is not refused
    (which would make the very first `run` exit 1)."""
    from peerpulse.worker.sync import AccountSyncReport, _purge

    _sync_source(store, "a", MemorySource("mail", _daily(100)), None)
    report = AccountSyncReport("a")
    _purge(store, _privacy(), report, T0, held_before=0)
    assert report.purge_refused is None
    assert store.counts("a").messages == 31
    # With history held (held_before > 0) the same share is refused: see
    # test_a_purge_of_more_than_the_allowed_share_is_refused_loudly.
