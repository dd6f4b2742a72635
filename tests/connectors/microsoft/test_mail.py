"""Message delta per folder over the fake Graph: $select only, Sent Items first, deltaLinks
in keyed state, one request per folder when nothing changed, resync, time budget."""

from __future__ import annotations

from typing import Any

import pytest
from peerpulse.connectors.microsoft.connector import MicrosoftConnector
from peerpulse.connectors.microsoft.normalize import MESSAGE_SELECT
from peerpulse.connectors.records import Direction

from tests.connectors.microsoft.conftest import connect, drain, make_context, sign_in, source_named
from tests.connectors.microsoft.fake_data import USER, fill_mailbox, message


@pytest.fixture
def mail(fake, state_dir, store) -> Any:
    sign_in(fake, state_dir)

    def build(**overrides: Any) -> Any:
        overrides.setdefault("page_size", 50)
        context = make_context(fake, state_dir, store, calendar=False, **overrides)
        return source_named(MicrosoftConnector(*context), "mail")

    return build


def _messages(store) -> dict[str, Any]:
    return {m.source_id: m for m in store.iter_messages("alice")}


def test_sent_items_come_first_and_only_selected_metadata_is_asked(fake, store, mail):
    fill_mailbox(fake, inbox=120, sent=30)
    batches = drain(store, mail())
    assert [len(b.upserts) for b in batches] == [30, 50, 50, 20]
    assert all(m.direction == Direction.SENT for m in batches[0].upserts)
    delta_queries = [q for _, p, q in fake.log if p.endswith("/messages/delta")]
    assert delta_queries[0]["$select"] == [MESSAGE_SELECT]  # the nextLinks carry it on
    assert len(_messages(store)) == 150
    received = _messages(store)["AAkALgMsg0000001="]
    assert received.sender == "bob@contoso.com" and received.to == (USER,)
    assert received.direction == Direction.RECEIVED
    assert received.thread_id == "AAQkConv000000=" and received.message_id == "msg1@contoso.com"
    for folder in ("sentitems", "inbox"):
        assert store.state_get("alice", "mail", f"folder/{folder}") is not None


def test_a_run_with_no_change_costs_one_request_per_folder(fake, store, mail):
    fill_mailbox(fake, inbox=60, sent=5)
    drain(store, mail())
    before = fake.graph_requests()
    assert sum(len(b.upserts) for b in drain(store, mail())) == 0
    assert fake.graph_requests() == before + 2
    fake.folders[(USER, "inbox")].put(message(500))
    assert [m.source_id for b in drain(store, mail()) for m in b.upserts] == ["AAkALgMsg0000500="]


def test_what_mail_readbasic_cannot_say_is_inferred_from_what_it_can(fake, store, mail):
    inbox = fake.folders[(USER, "inbox")]
    inbox.put(message(1, isDraft=True))
    inbox.put(message(2, inferenceClassification="other", sender="news@shop.example"))
    inbox.put(message(3, **{"@odata.type": "#microsoft.graph.eventMessageRequest"}))
    inbox.put(message(4, minutes_ago=60 * 24 * 40))  # older than the 30-day window
    inbox.put(message(5))
    inbox.delete("AAkALgMsg0000005=")  # deleted before the first sync: never seen
    drain(store, mail())
    found = _messages(store)
    assert set(found) == {"AAkALgMsg0000002=", "AAkALgMsg0000003="}
    assert found["AAkALgMsg0000002="].precedence == "bulk"
    assert found["AAkALgMsg0000003="].is_invitation
    drain(store, mail(other_is_bulk=False))  # no change: the setting applies to new mail


def test_a_message_leaving_the_folder_is_kept(fake, store, mail):
    fill_mailbox(fake, inbox=5, sent=0)
    drain(store, mail())
    fake.folders[(USER, "inbox")].delete("AAkALgMsg0000002=")
    batches = drain(store, mail())
    assert not [d for b in batches for d in b.deletions]
    assert "AAkALgMsg0000002=" in _messages(store)


def test_an_expired_folder_token_lists_that_folder_again(fake, store, mail):
    fill_mailbox(fake, inbox=70, sent=3)
    drain(store, mail())
    fake.expire_rounds()
    fake.folders[(USER, "inbox")].put(message(900))
    drain(store, mail())
    assert "AAkALgMsg0000900=" in _messages(store) and len(_messages(store)) == 74


def test_a_spent_time_budget_resumes_at_the_stored_next_link(fake, store, mail):
    fill_mailbox(fake, inbox=120, sent=0)
    source = mail(mail_folders=["inbox"])
    get = source.client.get

    def get_then_spend(*args: Any, **kwargs: Any) -> Any:
        source.deadline = 0  # the budget runs out during the first page
        return get(*args, **kwargs)

    source.client.get = get_then_spend
    drain(store, source)
    assert len(_messages(store)) == 50
    listed = fake.graph_requests("/messages/delta")
    drain(store, mail(mail_folders=["inbox"]))
    assert len(_messages(store)) == 120
    # resumed at the stored nextLink: pages 2 and 3 only, none listed twice
    assert fake.graph_requests("/messages/delta") - listed == 2


def test_bounded_concurrency_per_mailbox(fake, state_dir):
    import threading

    from peerpulse.connectors.microsoft.graph import GraphClient

    sign_in(fake, state_dir)
    fake.latency = 0.05
    connector = connect(fake, state_dir, calendar=False)
    client: GraphClient = connector.client
    url = client.url("mailFolders/inbox/messages/delta?$select=id")
    threads = [threading.Thread(target=client.get, args=(url,)) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert fake.max_in_flight[USER] == 4


def _progress(store) -> Any:
    from peerpulse.connectors.base import PROGRESS_KEY, SyncProgress

    return SyncProgress.load(store.state_get("alice", "mail", PROGRESS_KEY))


def test_the_first_pass_reports_loading_until_every_folder_is_listed(fake, store, mail):
    """The digest's "history still loading" note (issue 15): a first pass stopped by its
    time budget reports the folders done and waiting; the pass that ends reports complete,
    and a later relisting (410) does not turn it back to loading."""
    fill_mailbox(fake, inbox=120, sent=30)
    source = mail()
    get = source.client.get
    calls = iter(range(100))

    def get_then_spend(*args: Any, **kwargs: Any) -> Any:
        if next(calls) == 1:  # Sent Items' page, then the first inbox page
            source.deadline = 0
        return get(*args, **kwargs)

    source.client.get = get_then_spend
    drain(store, source)
    progress = _progress(store)
    assert progress is not None and not progress.complete
    assert progress.done == 0.5 and "loading: inbox" in progress.detail
    drain(store, mail())
    assert _progress(store).complete
    fake.expire_rounds()
    drain(store, mail())
    assert _progress(store).complete
