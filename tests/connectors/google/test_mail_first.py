"""A first digest early (issue 15): the SENT phase covers the recent sent mail, then stops.

The initial sync fetches SENT mail newest first back to ``sent_first_days``, then
lists everything; every batch is committed with its cursor, so the store at the
moment the phase turns ``rest`` is what a digest computed then would read.
"""

from __future__ import annotations

from peerpulse.connectors.google.mail_cursor import MailCursor
from peerpulse.connectors.records import Direction

from tests.connectors.google.conftest import NOW_MS, USER, drain
from tests.connectors.google.test_mail import fill, mail_source

DAY_MS = 86_400_000


def spread(fake, days_apart: float) -> None:
    """Space the fake mailbox's messages ``days_apart`` days apart, newest an hour ago."""
    for n, msg in enumerate(fake.mailboxes[USER].messages):
        msg.ms = NOW_MS - 3_600_000 - int(n * days_apart * DAY_MS)


def sync_until_rest(store, source) -> tuple[list, int]:
    """Drain ``source``; the ids stored when the cursor first leaves the SENT phase."""
    at_rest: list = []
    batches = 0
    for batch in source.sync(store.cursor("alice", source.name)):
        store.apply_batch("alice", source.name, batch)
        batches += 1
        cursor = MailCursor.load(batch.cursor)
        if not at_rest and cursor is not None and cursor.phase != "sent":
            at_rest = list(store.iter_messages("alice"))
    return at_rest, batches


def test_the_sent_phase_stops_at_its_horizon_and_the_rest_follows(fake, state_dir, store):
    fill(fake, 2000, mean_thread=1.0)
    spread(fake, 0.2)  # 2,000 messages over 400 days, ~30% SENT
    box = fake.mailboxes[USER]
    horizon_ms = NOW_MS - 90 * DAY_MS
    recent_sent = {m.id for m in box.messages if "SENT" in m.labels and m.ms >= horizon_ms}
    source = mail_source(
        fake, state_dir, store, window_past_days=400, sent_first_days=90, batches_in_flight=1
    )
    at_rest, _ = sync_until_rest(store, source)

    ids = {m.source_id for m in at_rest}
    assert recent_sent <= ids  # every recent SENT message is in for the first digest
    assert all(m.direction == Direction.SENT for m in at_rest)
    older = [m for m in at_rest if m.timestamp.timestamp() * 1000 < horizon_ms]
    assert len(older) < 2 * 25  # the batch that crossed the horizon and one wholly older
    # the whole window arrives afterwards, each message fetched once
    assert len(list(store.iter_messages("alice"))) == 2000
    assert fake.calls("messages.get") == 2000


def test_threads_mode_stops_its_sent_phase_at_the_horizon_too(fake, state_dir, store):
    fill(fake, 3000, mean_thread=3.0)
    spread(fake, 0.1)  # 300 days
    box = fake.mailboxes[USER]
    horizon_ms = NOW_MS - 60 * DAY_MS
    source = mail_source(
        fake, state_dir, store, window_past_days=400, sent_first_days=60,
        mail_fetch="threads", batches_in_flight=1,
    )
    at_rest, _ = sync_until_rest(store, source)

    threads_with_recent_sent = {
        m.thread for m in box.messages if "SENT" in m.labels and m.ms >= horizon_ms
    }
    assert threads_with_recent_sent <= {m.thread_id for m in at_rest}
    assert len({m.thread_id for m in at_rest}) < len(threads_with_recent_sent) + 2 * 25
    assert len(list(store.iter_messages("alice"))) == 3000
    assert fake.calls("threads.get") == len(box.threads())


def stored_progress(store):
    from peerpulse.connectors.base import PROGRESS_KEY, SyncProgress

    return SyncProgress.load(store.state_get("alice", "gmail", PROGRESS_KEY))


def test_the_initial_sync_reports_how_much_history_is_stored(fake, state_dir, store):
    """Each batch commits what a digest should say of the history (issue 15): nothing
    complete while only SENT mail is in, then complete back to the oldest mail stored,
    then complete; a run stopped by its time budget leaves the report of its last batch."""
    fill(fake, 2000, mean_thread=1.0)
    spread(fake, 0.2)  # 400 days
    source = mail_source(fake, state_dir, store, window_past_days=400, sent_first_days=90,
                         batches_in_flight=1)
    box = fake.mailboxes[USER].messages
    seen = []
    for batch in source.sync(None):
        store.apply_batch("alice", "gmail", batch)
        cursor = MailCursor.load(batch.cursor)
        progress = stored_progress(store)
        seen.append((cursor.phase, progress))
        if progress.since is not None and not progress.complete:  # what it promises
            stored = {m.source_id for m in store.iter_messages("alice")}
            since_ms = progress.since.timestamp() * 1000
            assert {m.id for m in box if m.ms >= since_ms} <= stored
    first, *_ = (p for _, p in seen)
    assert not first.complete and first.since is None  # only SENT mail is in
    assert "sent mail" in first.detail
    rest = [p for phase, p in seen if phase == "rest"]
    oldest = [p.since for p in rest if p.since is not None]
    assert len(oldest) >= 2  # a batch a list page of 500
    assert oldest == sorted(oldest, reverse=True)  # the complete stretch grows backwards
    assert len(list(store.iter_messages("alice"))) == 2000
    dones = [p.done for _, p in seen if p.done is not None and not p.complete]
    assert dones == sorted(dones) and 0 < dones[0] < 0.2 and dones[-1] < 1
    final = stored_progress(store)
    assert final is not None and final.complete


def test_a_first_sync_stopped_by_its_budget_reports_loading_until_it_ends(
    fake, state_dir, store
):
    fill(fake, 2000, mean_thread=1.0)
    spread(fake, 0.2)
    source = mail_source(fake, state_dir, store, window_past_days=400, sent_first_days=90)
    pages = iter([False] * 3)  # time for three list pages, then the budget is spent
    source._out_of_time = lambda: next(pages, True)
    for batch in source.sync(None):
        store.apply_batch("alice", "gmail", batch)
    progress = stored_progress(store)
    stored = list(store.iter_messages("alice"))
    assert progress is not None and not progress.complete
    if progress.since is not None:  # everything since that date is stored
        box = fake.mailboxes[USER].messages
        newer = {m.id for m in box if m.ms >= progress.since.timestamp() * 1000}
        assert newer <= {m.source_id for m in stored}
    drain(store, mail_source(fake, state_dir, store))
    assert stored_progress(store).complete


def test_in_threads_mode_a_long_thread_counts_by_its_newest_message(fake, state_dir, store):
    """A thread listed first may have begun long ago: "complete since" must not jump to
    its first message (issue 15)."""
    fill(fake, 3000, mean_thread=3.0)
    spread(fake, 0.1)  # 300 days
    box = fake.mailboxes[USER]
    # among the newest threads, one with no sent mail that began 350 days ago
    old_thread = next(t for t in box.threads()[5:] if len(box.thread_messages(t)) > 1
                      and not any("SENT" in m.labels for m in box.thread_messages(t)))
    box.thread_messages(old_thread)[0].ms = NOW_MS - 350 * DAY_MS
    box.sort()
    source = mail_source(fake, state_dir, store, window_past_days=400, sent_first_days=60,
                         mail_fetch="threads", batches_in_flight=1)
    for batch in source.sync(None):
        store.apply_batch("alice", "gmail", batch)
        progress = stored_progress(store)
        if progress.since is not None and not progress.complete:
            stored = {m.source_id for m in store.iter_messages("alice")}
            since_ms = progress.since.timestamp() * 1000
            assert {m.id for m in box.messages if m.ms >= since_ms} <= stored
    assert stored_progress(store).complete
