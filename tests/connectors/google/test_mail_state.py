"""The on-disk index of known Gmail ids, and what a crash leaves in it."""

from __future__ import annotations

from peerpulse.connectors.google.mail_state import KnownIds, MailCursor

from tests.connectors.google.conftest import drain
from tests.connectors.google.test_mail import fill, mail_source


def test_known_ids_answer_per_page_and_persist_across_reopening(tmp_path):
    known = KnownIds(tmp_path, "alice", "g1")
    known.start_fresh()
    known.add([("m1", "t1"), ("m2", "t1"), ("m3", None)])
    known.close()
    again = KnownIds(tmp_path, "alice", "g1")
    assert again.known_messages(["m1", "m3", "m9"]) == {"m1", "m3"}
    assert again.known_threads(["t1", "t2"]) == {"t1"}
    assert len(again) == 3
    again.close()


def test_a_new_generation_drops_the_old_index_of_that_account_only(tmp_path):
    old = KnownIds(tmp_path, "alice", "g1")
    old.start_fresh()
    old.add([("m1", "t1")])
    old.close()
    other = KnownIds(tmp_path, "alice-bob", "g1")
    other.start_fresh()
    other.add([("m1", "t1")])
    other.close()
    new = KnownIds(tmp_path, "alice", "g2")
    new.start_fresh()
    assert len(new) == 0
    assert not old.path.exists()
    assert KnownIds(tmp_path, "alice-bob", "g1").known_messages(["m1"]) == {"m1"}
    new.close()


def test_a_sweep_finds_the_ids_not_listed_again(tmp_path):
    known = KnownIds(tmp_path, "alice", "g1")
    known.start_fresh()
    known.add([(f"m{n}", "t") for n in range(1200)])
    known.begin_sweep()
    known.mark_seen([f"m{n}" for n in range(1200) if n != 7])
    known.add([("new", "t")])  # fetched during the sweep: seen
    assert known.unseen() == ["m7"]
    known.forget(["m7"])
    assert len(known) == 1200
    known.close()


def test_ids_of_a_batch_never_committed_stay_unknown_and_are_fetched_again(fake, state_dir, store):
    fill(fake, 1500, mean_thread=1.0)
    batches = mail_source(fake, state_dir).sync(None)
    first = next(batches)
    store.apply_batch("alice", "gmail", first)  # committed
    lost = next(batches)  # fetched, then the process dies before the commit
    batches.close()
    cursor = MailCursor.load(store.cursor("alice", "gmail"))
    assert cursor is not None
    known = KnownIds(state_dir, "alice", cursor.gen)
    first_ids = [m.source_id for m in first.upserts]
    lost_ids = [m.source_id for m in lost.upserts]
    assert known.known_messages(first_ids) == set(first_ids)
    assert known.known_messages(lost_ids) == set()
    known.close()

    drain(store, mail_source(fake, state_dir))
    assert len(list(store.iter_messages("alice"))) == 1500
    assert fake.calls("messages.get") == 1500 + len(lost_ids)  # the lost batch, once more
    known = KnownIds(state_dir, "alice", cursor.gen)
    assert len(known) == 1500
    known.close()
