"""The initial Gmail sync stays within 5% of the API's request floor.

Counted on the fake's log, never timed: ``ceil(T/500)`` list pages plus
``ceil(T/B)`` batch envelopes for T fetched items (threads or messages) in
batches of B, the most the user's concurrency bound lets through (25 by
default, issue 15), plus the one getProfile the starting historyId needs.
"""

from __future__ import annotations

import math

import pytest
from peerpulse.connectors.google.mail_cursor import MailCursor, sent_page_budget
from peerpulse.connectors.google.pacing import CONCURRENT_REQUESTS
from peerpulse.connectors.records import Direction

from tests.connectors.google.conftest import drain
from tests.connectors.google.test_mail import fill, mail_source


def gmail_http(fake) -> int:
    return fake.http_requests - fake.token_requests - fake.calls("events.list")


@pytest.mark.parametrize(
    "mean_thread,kind",
    [(1.0, "messages"), (3.0, "threads")],
)
def test_initial_sync_of_5000_messages_costs_within_5_percent_of_the_floor(
    fake, state_dir, store, mean_thread, kind
):
    fill(fake, 5000, mean_thread=mean_thread)
    box = fake.mailboxes["alice@example.com"]
    items = len(box.threads()) if kind == "threads" else len(box.messages)
    batches = drain(store, mail_source(fake, state_dir, store, batches_in_flight=2))

    size = CONCURRENT_REQUESTS
    floor = 1 + math.ceil(items / 500) + math.ceil(items / size)  # profile, pages, batches
    assert len(list(store.iter_messages("alice"))) == 5000
    assert fake.calls(f"{kind}.get") == items  # every item fetched exactly once
    assert fake.calls("getProfile") == 1
    assert sum(1 for n in fake.batch_sizes if n != size) <= 2  # the last of each phase
    assert fake.concurrency_refusals == 0
    assert gmail_http(fake) <= 1.05 * floor
    # SENT still comes first, within its page budget
    lists = [q for name, q in fake.log if name == f"{kind}.list"]
    sent_pages = sum(1 for q in lists if '"labelIds": "SENT"' in q)
    assert 1 <= sent_pages <= sent_page_budget(items, 0.03)
    first = batches[0].upserts  # threads mode fetches whole threads that have a SENT message
    sent_threads = {m.thread_id for m in first if m.direction == Direction.SENT}
    assert first and {m.thread_id for m in first} == sent_threads


def test_a_zero_sent_share_skips_the_sent_phase(fake, state_dir, store):
    fill(fake, 1200, mean_thread=1.0)
    drain(store, mail_source(fake, state_dir, store, sent_first_share=0))
    lists = [q for name, q in fake.log if name == "messages.list"]
    assert len(lists) == 3 and not any("SENT" in q for q in lists)
    assert len(list(store.iter_messages("alice"))) == 1200


def test_a_full_sent_share_lists_every_sent_page_first(fake, state_dir, store):
    fill(fake, 2000, mean_thread=1.0)  # ~600 SENT messages: two SENT pages
    drain(store, mail_source(fake, state_dir, store, sent_first_share=1.0))
    lists = [q for name, q in fake.log if name == "messages.list"]
    sent = sum(1 for q in lists if "SENT" in q)
    expected = math.ceil(
        sum(1 for m in fake.mailboxes["alice@example.com"].messages if "SENT" in m.labels) / 500
    )
    assert sent == expected and len(lists) == expected + 4
    assert fake.calls("messages.get") == 2000


@pytest.mark.parametrize(
    "items,share,pages",
    [
        (5000, 0.03, 3),  # floor 10 + 100 = 110 requests
        (100_000, 0.03, 66),  # floor 200 + 2,000
        (31_871, 0.03, 21),  # the benchmark's 100k mailbox, fetched by thread
        (600, 0.03, 1),  # always at least the newest SENT page
        (5000, 0.0, 0),  # SENT-first off
        (5000, 1.0, 110),
    ],
)
def test_the_sent_page_budget_is_a_share_of_the_request_floor(items, share, pages):
    assert sent_page_budget(items, share) == pages


def test_a_mailbox_one_list_page_holds_gets_no_sent_phase(fake, state_dir, store):
    # Issue 15, item 3: legacy threads mode at 1,000 messages (~333 threads) spent one
    # SENT page on a floor of 16. One full page lists everything: the SENT page brings
    # nothing earlier, so the sync is the floor itself.
    fill(fake, 1000, mean_thread=3.0)
    threads = len(fake.mailboxes["alice@example.com"].threads())
    assert threads <= 500
    drain(store, mail_source(fake, state_dir, store, mail_fetch="threads"))
    lists = [q for name, q in fake.log if name == "threads.list"]
    assert len(lists) == 1 and "SENT" not in lists[0]
    floor = 1 + 1 + math.ceil(threads / CONCURRENT_REQUESTS)
    assert gmail_http(fake) == floor
    assert len(list(store.iter_messages("alice"))) == 1000


@pytest.mark.parametrize("items", [500, 333, 1])
def test_no_sent_pages_for_a_mailbox_one_page_lists(items):
    assert sent_page_budget(items, 0.03) == 0
    assert sent_page_budget(items, 1.0) == 0


def test_failed_batch_parts_join_the_next_batch_not_one_of_their_own(fake, state_dir, store):
    # Issue 15, item 4: retried parts went out as a batch of their own (2.5x the requests
    # under 20% part faults in `make chaos-google`). Four parts of the first batch fail.
    fill(fake, 600, mean_thread=1.0)
    fake.fail_next("/messages/", 503, "backendError", count=4)
    drain(store, mail_source(fake, state_dir, store, sent_first_share=0, batches_in_flight=1))
    assert len(list(store.iter_messages("alice"))) == 600
    # 604 parts: each failed one asked again once, in the next batch, so every batch is
    # full but the very last (before: a batch of 4 right after the first)
    assert fake.batch_sizes == [CONCURRENT_REQUESTS] * 24 + [4]


def test_parts_still_failing_when_a_page_ends_ride_into_the_next_page(fake, state_dir, store):
    fill(fake, 1000, mean_thread=1.0)
    box = fake.mailboxes["alice@example.com"]
    last_of_page = box.messages[499].id  # in the first page's last batch
    fake.fail_next(f"/messages/{last_of_page}", 503, "backendError", count=1)
    batches = drain(
        store, mail_source(fake, state_dir, store, sent_first_share=0, batches_in_flight=1)
    )
    first_page = batches[0]
    assert last_of_page in MailCursor.load(first_page.cursor).carry
    assert last_of_page not in {m.source_id for m in first_page.upserts}
    assert len(list(store.iter_messages("alice"))) == 1000
    assert fake.batch_sizes == [CONCURRENT_REQUESTS] * 40 + [1]
