"""Gmail metadata through the real client libraries against the fake server."""

from __future__ import annotations

from typing import Any

import pytest
from peerpulse.connectors.google.connector import GoogleConnector
from peerpulse.connectors.records import Direction

from tests.connectors.google.conftest import (
    NOW_MS,
    READ_SCOPES,
    USER,
    drain,
    make_context,
    write_token,
)
from tests.connectors.google.fake_data import Msg, synthetic_mailbox


def mail_source(fake: Any, state_dir: Any, store: Any, **overrides: Any) -> Any:
    write_token(state_dir, fake, READ_SCOPES)
    context = make_context(fake, state_dir, store, calendars=[], **overrides)
    (source,) = GoogleConnector(*context).sources()
    return source


def fill(fake: Any, count: int, **kwargs: Any) -> None:
    box = synthetic_mailbox(USER, count, newest_ms=NOW_MS - 3_600_000, **kwargs)
    fake.mailboxes[USER] = box


def test_initial_sync_fetches_every_message_once_with_metadata_only(fake, state_dir, store):
    fill(fake, 1200, mean_thread=1.0)
    drain(store, mail_source(fake, state_dir, store))
    stored = list(store.iter_messages("alice"))
    assert len(stored) == 1200
    assert fake.calls("messages.get") == 1200  # SENT ones are not fetched again
    assert fake.calls("getProfile") == 1
    sent = [m for m in stored if m.direction == Direction.SENT]
    assert sent and all(m.sender == USER for m in sent)


def test_sent_label_is_listed_and_stored_before_the_rest(fake, state_dir, store):
    fill(fake, 600, mean_thread=1.0)
    batches = drain(store, mail_source(fake, state_dir, store))
    first = batches[0].upserts
    assert first and all(m.direction == Direction.SENT for m in first)
    lists = [q for name, q in fake.log if name == "messages.list"]
    assert '"labelIds": "SENT"' in lists[0]


def test_batches_hold_at_most_the_concurrency_bound_and_go_to_the_fake(fake, state_dir, store):
    fill(fake, 260, mean_thread=1.0)
    drain(store, mail_source(fake, state_dir, store, batches_in_flight=1))
    # 260 gets in batches of 25 (the per-user bound) -> 11 batches; plus profile,
    # 2 sent lists + 1 rest list, and a partial SENT batch carried over
    assert max(fake.batch_sizes) == 25
    assert fake.http_requests <= 11 + 1 + 3 + 1 + 1  # + the token refresh


def test_long_threads_are_fetched_with_threads_get(fake, state_dir, store):
    fill(fake, 900, mean_thread=4.0)
    drain(store, mail_source(fake, state_dir, store))
    assert fake.calls("messages.get") == 0
    assert fake.calls("threads.get") == len(fake.mailboxes[USER].threads())
    assert len(list(store.iter_messages("alice"))) == 900


def test_mail_older_than_the_window_is_neither_stored_nor_all_fetched(fake, state_dir, store):
    # one message a day over 300 days, window 30 days
    fill(fake, 300, mean_thread=1.0)
    box = fake.mailboxes[USER]
    for n, msg in enumerate(box.messages):
        msg.ms = NOW_MS - (n + 1) * 86_400_000
    drain(store, mail_source(fake, state_dir, store, batches_in_flight=1))
    assert len(list(store.iter_messages("alice"))) == 30  # days 1..30
    # per phase at most the batch straddling the edge and one batch entirely older
    assert fake.calls("messages.get") <= 30 + 2 * (50 + 50)


def test_a_run_out_of_time_resumes_where_it_stopped(fake, state_dir, store):
    fill(fake, 1500, mean_thread=1.0)
    source = mail_source(fake, state_dir, store)
    pages = iter([False, False])  # time for two list pages, then the budget is spent
    source._out_of_time = lambda: next(pages, True)
    assert len(drain(store, source)) == 2
    assert 0 < len(list(store.iter_messages("alice"))) < 1500
    drain(store, mail_source(fake, state_dir, store))
    assert len(list(store.iter_messages("alice"))) == 1500
    assert fake.calls("messages.get") == 1500
    assert fake.calls("getProfile") == 1


def test_a_run_killed_right_after_a_commit_loses_nothing(fake, state_dir, store):
    fill(fake, 1500, mean_thread=1.0)
    batches = mail_source(fake, state_dir, store).sync(None)
    store.apply_batch("alice", "gmail", next(batches))  # committed, then kill -9
    drain(store, mail_source(fake, state_dir, store))
    assert len(list(store.iter_messages("alice"))) == 1500
    assert fake.calls("messages.get") <= 1500 + 500  # at most the last page again


def test_an_unchanged_mailbox_costs_one_request(fake, state_dir, store):
    fill(fake, 100, mean_thread=1.0)
    drain(store, mail_source(fake, state_dir, store))
    fake.reset_counters()
    drain(store, mail_source(fake, state_dir, store))
    assert [name for name, _ in fake.log] == ["history.list"]


def test_history_adds_and_deletes_messages(fake, state_dir, store):
    fill(fake, 100, mean_thread=1.0)
    drain(store, mail_source(fake, state_dir, store))
    box = fake.mailboxes[USER]
    victim = box.messages[5].id
    box.delete(victim)
    box.add(
        Msg(
            id="2a0000000000001",
            thread="2a0000000000001",
            ms=NOW_MS - 1000,
            labels=("INBOX",),
            sender="Bob <bob@example.com>",
            to=USER,
            subject="new",
        )
    )
    fake.reset_counters()
    drain(store, mail_source(fake, state_dir, store))
    ids = {m.source_id for m in store.iter_messages("alice")}
    assert "2a0000000000001" in ids and victim not in ids and len(ids) == 100
    assert fake.calls("messages.get") == 1


def test_expired_history_resyncs_by_fetching_only_unknown_ids(fake, state_dir, store):
    fill(fake, 700, mean_thread=1.0)
    drain(store, mail_source(fake, state_dir, store))
    box = fake.mailboxes[USER]
    gone = box.messages[10].id
    box.delete(gone)
    for n in range(3):
        box.add(
            Msg(
                id=f"2b00000000000{n:02x}",
                thread="2b0000000000000",
                ms=NOW_MS - 1000 - n,
                labels=("INBOX",),
                sender="bob@example.com",
                to=USER,
                subject="x",
            )
        )
    box.oldest_history = box.history_id  # the stored historyId is now too old
    fake.reset_counters()
    drain(store, mail_source(fake, state_dir, store))
    ids = {m.source_id for m in store.iter_messages("alice")}
    assert gone not in ids and len(ids) == 702
    assert fake.calls("messages.get") == 3
    fake.reset_counters()
    drain(store, mail_source(fake, state_dir, store))
    assert [name for name, _ in fake.log] == ["history.list"]


def test_per_item_failures_inside_a_batch_are_requeued(fake, state_dir, store):
    fill(fake, 120, mean_thread=1.0)
    fake.fail_next("/messages/", 503, count=3, retry_after=0)
    fake.fail_next("/messages/", 429, "rateLimitExceeded", count=2, retry_after=0)
    drain(store, mail_source(fake, state_dir, store))
    assert len(list(store.iter_messages("alice"))) == 120


def test_quota_errors_are_retried_after_retry_after(fake, state_dir, store):
    fill(fake, 10, mean_thread=1.0)
    fake.fail_next("/profile", 429, "rateLimitExceeded", retry_after=1)
    fake.fail_next("/messages", 403, "userRateLimitExceeded", retry_after=0)
    drain(store, mail_source(fake, state_dir, store))
    assert len(list(store.iter_messages("alice"))) == 10
    assert fake.calls("getProfile") == 1


def test_the_enforced_quota_is_never_exceeded_by_the_pacer(fake, state_dir, store):
    fake.quota_per_minute = 60_000  # 1,000 units/s: 2,000 gets need ~10 s of quota
    fill(fake, 400, mean_thread=1.0)
    drain(store, mail_source(fake, state_dir, store, quota_units_per_minute=60_000))
    assert len(list(store.iter_messages("alice"))) == 400
    assert fake.throttled == 0


@pytest.mark.parametrize(
    "mode,expected", [("off", None), ("kept", "Topic "), ("hashed", "sha256:")]
)
def test_subjects_follow_the_privacy_setting(fake, state_dir, store, mode, expected):
    fill(fake, 5, mean_thread=1.0)
    drain(store, mail_source(fake, state_dir, store, subjects=mode))
    subjects = {m.subject for m in store.iter_messages("alice")}
    if expected is None:
        assert subjects == {None}
    else:
        assert all(s and s.startswith(expected) for s in subjects)


def test_trash_and_spam_arrive_as_label_changes_and_leave_the_store(fake, state_dir, store):
    fill(fake, 100, mean_thread=1.0)
    drain(store, mail_source(fake, state_dir, store))
    box = fake.mailboxes[USER]
    trashed, spammed = box.messages[3].id, box.messages[7].id
    box.relabel(trashed, add=("TRASH",), remove=("INBOX",))
    box.relabel(spammed, add=("SPAM",))
    drain(store, mail_source(fake, state_dir, store))
    ids = {m.source_id for m in store.iter_messages("alice")}
    assert trashed not in ids and spammed not in ids and len(ids) == 98
    box.relabel(trashed, add=("INBOX",), remove=("TRASH",))  # restored from the trash
    fake.reset_counters()
    drain(store, mail_source(fake, state_dir, store))
    ids = {m.source_id for m in store.iter_messages("alice")}
    assert trashed in ids and len(ids) == 99
    assert fake.calls("messages.get") == 1


def test_the_fake_lists_no_spam_or_trash_and_matches_every_label(fake, state_dir, store):
    fill(fake, 60, mean_thread=1.0)
    box = fake.mailboxes[USER]
    box.relabel(box.messages[0].id, add=("TRASH",))
    assert len(box.listing(frozenset())) == 59
    assert len(box.listing(frozenset(), spam_trash=True)) == 60
    sent = box.listing(frozenset({"SENT"}))
    assert box.listing(frozenset({"SENT", "INBOX"})) == [
        e for e in sent if "INBOX" in box.by_id[e["id"]].labels
    ]
    drain(store, mail_source(fake, state_dir, store))
    assert len(list(store.iter_messages("alice"))) == 59  # the trashed one is not synced


def test_header_names_match_in_any_spelling(fake, state_dir, store):
    fill(fake, 50, mean_thread=1.0)
    box = fake.mailboxes[USER]
    spelled = [m for m in box.messages if m.message_id_header == "Message-Id"]
    assert spelled  # the fake answers some messages as "Message-Id", as real mail does
    drain(store, mail_source(fake, state_dir, store))
    stored = {m.source_id: m for m in store.iter_messages("alice")}
    for msg in spelled:
        assert stored[msg.id].message_id == f"{msg.id}@mail.example.com"
