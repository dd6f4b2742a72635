"""The connector against a fake as strict as Google: concurrency, batch limits, prices, retry times.

Each test here failed against the connector before issue 15 (batches of 50,
three in flight, one price-blind burst, Retry-After headers only).
"""

from __future__ import annotations

import time

import pytest
from googleapiclient.errors import HttpError
from googleapiclient.http import BatchHttpRequest
from peerpulse.connectors.google.connector import GoogleConnector

from tests.connectors.google.conftest import READ_SCOPES, USER, drain, make_context, write_token
from tests.connectors.google.test_mail import fill, mail_source


def test_sub_requests_in_flight_stay_under_the_per_user_bound(fake, state_dir, store):
    fake.latency = 0.01  # requests overlap, as they do against Google
    fill(fake, 1500, mean_thread=1.0)
    drain(store, mail_source(fake, state_dir, store, batches_in_flight=3))
    assert len(list(store.iter_messages("alice"))) == 1500
    assert fake.concurrency_refusals == 0
    assert fake.peak_in_flight <= 25


def test_a_lower_server_limit_shrinks_the_batches_until_google_accepts_them(
    fake, state_dir, store
):
    fake.max_concurrent = 8  # a mailbox whose limit is below our default
    fill(fake, 600, mean_thread=1.0)
    source = mail_source(fake, state_dir, store, batches_in_flight=2)
    drain(store, source)
    assert len(list(store.iter_messages("alice"))) == 600
    assert fake.calls("messages.get") == 600  # refused parts were fetched once, later
    assert source.pacer.gate.limit <= 8
    assert max(fake.batch_sizes[-5:]) <= 10  # probing one above what passed, not 25
    assert fake.concurrency_refusals < 100  # a few refusals while learning, then rare probes


def test_the_fake_refuses_a_batch_over_100_calls(fake, state_dir):
    write_token(state_dir, fake, READ_SCOPES)
    connector = GoogleConnector(*make_context(fake, state_dir, calendars=[]))
    api = connector.api
    fill(fake, 5, mean_thread=1.0)
    batch = BatchHttpRequest(batch_uri=api.gmail_batch_uri)
    for n in range(101):
        batch.add(api.gmail.users().messages().get(userId="me", id=f"m{n}", format="minimal"))
    with pytest.raises(HttpError) as refused:
        batch.execute(http=api.http())
    assert refused.value.resp.status == 400 and b"Limit: 100" in refused.value.content


def test_2026_priced_thread_batches_fit_the_per_second_quota(fake, state_dir, store):
    # 1,000 units/s with 2026 prices: a batch of 50 threads.get (2,000 units) cannot pass
    fake.quota_per_minute = 60_000
    fake.costs = {**fake.costs, "messages.get": 20, "threads.get": 40}
    fill(fake, 240, mean_thread=3.0)
    source = mail_source(
        fake, state_dir, store,
        quota_regime="2026", quota_units_per_minute=60_000, mail_fetch="threads",
    )
    drain(store, source)
    assert len(list(store.iter_messages("alice"))) == 240
    assert fake.throttled == 0
    assert max(fake.batch_sizes) * 40 <= 1000


def test_a_retry_time_in_the_error_message_is_waited_for(fake, state_dir, store):
    fill(fake, 10, mean_thread=1.0)
    fake.fail_next(
        "/profile", 403, "userRateLimitExceeded", message="User-rate limit exceeded", retry_in=1.5
    )
    started = time.monotonic()
    drain(store, mail_source(fake, state_dir, store))
    assert time.monotonic() - started >= 1.3  # not a random back-off of under a second
    assert len(list(store.iter_messages("alice"))) == 10


def test_a_long_retry_time_ends_the_run_cleanly_and_the_next_run_continues(
    fake, state_dir, store
):
    fill(fake, 600, mean_thread=1.0)
    oldest = fake.mailboxes[USER].messages[-1].id
    fake.fail_next(
        f"/messages/{oldest}",
        429,
        "rateLimitExceeded",
        message="User-rate limit exceeded",
        retry_in=900,
    )
    started = time.monotonic()
    drain(store, mail_source(fake, state_dir, store))  # no exception: the run ends cleanly
    assert time.monotonic() - started < 30
    first = len(list(store.iter_messages("alice")))
    assert 0 < first < 600  # what was committed stays
    assert fake.injected[0].count == 0 and fake.calls("messages.get") < 600  # no retries burnt
    drain(store, mail_source(fake, state_dir, store))  # the next scheduled run
    assert len(list(store.iter_messages("alice"))) == 600
    assert fake.calls("getProfile") == 1  # it continued; it did not start over
