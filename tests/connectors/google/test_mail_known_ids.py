"""Gmail known ids in keyed connector state: committed with their batch, resumable,
and the upgrade from version 1's side SQLite file."""

from __future__ import annotations

import json
from itertools import islice
from pathlib import Path
from typing import Any

import pytest
from peerpulse.connectors.base import PROGRESS_KEY
from peerpulse.connectors.google.known_ids import KnownIds
from peerpulse.connectors.google.mail_cursor import MailCursor
from peerpulse.connectors.records import SyncBatch
from peerpulse.connectors.state import StagedState, StateChange
from peerpulse.worker.store import open_store

from tests.connectors.google.conftest import NOW_MS, USER, drain
from tests.connectors.google.fake_data import Msg
from tests.connectors.google.test_mail import fill, mail_source


class _Nothing:
    def get(self, key: str) -> str | None:
        return None

    def iter_prefix(self, prefix: str):  # noqa: ANN201
        return iter(())


def state_keys(store: Any, prefix: str = "") -> list[str]:
    """The known-ids keys (the sync-progress report, ``~sync-progress``, is not one)."""
    return [k for k, _ in store.state_iter_prefix("alice", "gmail", prefix)
            if k != PROGRESS_KEY]


def snapshot(store: Any) -> list[Any]:
    return list(store.iter_messages("alice"))


def new_message(n: int) -> Msg:
    return Msg(id=f"2c00000000000{n:02x}", thread=f"2c00000000000{n:02x}", ms=NOW_MS - 1000 - n,
               labels=("INBOX",), sender="bob@example.com", to=USER, subject="x")


def test_a_sweep_finds_the_ids_not_listed_again_and_adopted_ids_are_fetched() -> None:
    known = KnownIds(StagedState(_Nothing()), "g1")
    known.add([(f"m{n}", "t") for n in range(1200)])
    known.adopt([("a1", "t"), ("m3", "other")])  # m3 is stored: adopting keeps it so
    assert known.lookup(["m3", "a1", "zz"]) == {"m3": True, "a1": False}
    assert known.known_messages(["m3", "a1"]) == {"m3"}
    known.mark_seen([f"m{n}" for n in range(1200) if n != 7] + ["a1"], "s1")
    known.add([("new", "t")], sweep="s1")  # fetched during the sweep: seen
    assert known.unseen("s1") == ["m7"]
    assert sorted(known.unseen("s2")) == sorted([f"m{n}" for n in range(1200)] + ["a1", "new"])
    known.forget(["m7"])
    assert len(known) == 1201 and known.lookup(["a1"]) == {"a1": False}


def test_ids_of_a_batch_never_committed_stay_unknown_and_are_fetched_again(fake, state_dir, store):
    fill(fake, 1500, mean_thread=1.0)
    batches = mail_source(fake, state_dir, store).sync(None)
    first = next(batches)
    store.apply_batch("alice", "gmail", first)  # committed, with its ids
    lost = next(batches)  # fetched, then the process dies before the commit
    batches.close()
    cursor = MailCursor.load(store.cursor("alice", "gmail"))
    assert cursor is not None
    known = state_keys(store, f"{cursor.gen}/m/")
    assert known == sorted(f"{cursor.gen}/m/{m.source_id}" for m in first.upserts)
    assert not {f"{cursor.gen}/m/{m.source_id}" for m in lost.upserts} & set(known)

    drain(store, mail_source(fake, state_dir, store))
    assert len(snapshot(store)) == 1500
    assert fake.calls("messages.get") == 1500 + len(lost.upserts)  # the lost batch, once more
    assert len(state_keys(store, f"{cursor.gen}/m/")) == 1500


def test_a_fresh_cursor_drops_the_known_ids_of_the_old_generation(fake, state_dir, store):
    fill(fake, 600, mean_thread=1.0)
    drain(store, mail_source(fake, state_dir, store))
    old = MailCursor.load(store.cursor("alice", "gmail"))
    store.apply_batch("alice", "gmail", SyncBatch(cursor=""))  # a reset cursor
    fake.reset_counters()
    drain(store, mail_source(fake, state_dir, store))
    new = MailCursor.load(store.cursor("alice", "gmail"))
    assert old is not None and new is not None and new.gen != old.gen
    assert fake.calls("messages.get") == 600  # old ids are not trusted
    assert {k.split("/")[0] for k in state_keys(store)} == {new.gen}


def _kill_after(store: Any, source: Any, batches: int) -> None:
    for batch in islice(source.sync(store.cursor("alice", "gmail")), batches):
        store.apply_batch("alice", "gmail", batch)


def _state_without_generation(store: Any) -> list[tuple[str, str]]:
    return [(k.split("/", 1)[1], v) for k, v in store.state_iter_prefix("alice", "gmail", "")
            if k != PROGRESS_KEY]


@pytest.mark.parametrize("kill_after", [1, 2, 3])
def test_a_sync_killed_after_any_batch_resumes_to_the_same_store(
    fake, state_dir, tmp_path, kill_after
):
    """Initial sync, then an expired history (resync), each killed after ``kill_after``
    committed batches and resumed, against the same two syncs uninterrupted."""
    fill(fake, 1500, mean_thread=1.0)
    box = fake.mailboxes[USER]
    with open_store(tmp_path / "whole.db") as whole, open_store(tmp_path / "killed.db") as killed:
        drain(whole, mail_source(fake, state_dir, whole))
        _kill_after(killed, mail_source(fake, state_dir, killed), kill_after)
        assert snapshot(killed) != snapshot(whole)
        drain(killed, mail_source(fake, state_dir, killed))
        assert snapshot(killed) == snapshot(whole)

        box.delete(box.messages[3].id)
        for n in range(3):
            box.add(new_message(n))
        box.oldest_history = box.history_id  # both stored historyIds are now too old
        drain(whole, mail_source(fake, state_dir, whole))
        _kill_after(killed, mail_source(fake, state_dir, killed), kill_after)
        drain(killed, mail_source(fake, state_dir, killed))
        assert snapshot(killed) == snapshot(whole) and len(snapshot(whole)) == 1502
        whole_state = [(k, v.split("\t")[0]) for k, v in _state_without_generation(whole)]
        killed_state = [(k, v.split("\t")[0]) for k, v in _state_without_generation(killed)]
        assert (store_progress := killed.state_get("alice", "gmail", PROGRESS_KEY)) == (
            whole.state_get("alice", "gmail", PROGRESS_KEY)) and '"complete":true' in store_progress
        assert killed_state == whole_state  # the same ids and threads (sweep tokens differ)


def as_version_1(store: Any, state_dir: Path, phase: str | None = None) -> Path:
    """What version 1 left: the same cursor at v 1, its side file, no keyed state."""
    cursor = json.loads(store.cursor("alice", "gmail"))
    cursor["v"] = 1
    del cursor["adopt"]
    if phase:
        cursor["phase"] = phase
    wipe = [StateChange(k, None) for k in state_keys(store)]
    store.apply_batch("alice", "gmail", SyncBatch(cursor=json.dumps(cursor), state=wipe))
    side = state_dir / "google" / "alice"
    side.mkdir(parents=True)
    for suffix in ("", "-wal", "-shm"):
        (side / f"known-{cursor['gen']}.sqlite3{suffix}").write_bytes(b"SQLite format 3\0")
    return side


def test_a_version_1_live_cursor_applies_its_history_then_lists_the_known_ids_once(
    fake, state_dir, tmp_path
):
    fill(fake, 1200, mean_thread=1.0)
    box = fake.mailboxes[USER]
    old_dir = tmp_path / "old-state"
    old_dir.mkdir()
    with open_store(tmp_path / "whole.db") as whole, open_store(tmp_path / "old.db") as old:
        drain(whole, mail_source(fake, state_dir, whole))
        drain(old, mail_source(fake, old_dir, old))
        side = as_version_1(old, old_dir)
        box.delete(box.messages[3].id)  # while version 1 was still installed
        box.add(new_message(0))
        drain(whole, mail_source(fake, state_dir, whole))
        fake.reset_counters()
        drain(old, mail_source(fake, old_dir, old))  # the upgrade run
        assert not side.exists()  # the side file is gone, never read
        assert snapshot(old) == snapshot(whole)
        assert fake.calls("messages.get") == 1  # only the new message; the rest is listed
        assert fake.calls("messages.list") == 3
        cursor = MailCursor.load(old.cursor("alice", "gmail"))
        assert cursor is not None and not cursor.adopt and cursor.phase == "live"
        assert len(state_keys(old, f"{cursor.gen}/m/")) == 1200

        fake.reset_counters()
        drain(old, mail_source(fake, old_dir, old))
        assert [name for name, _ in fake.log] == ["history.list"]

        box.delete(box.messages[10].id)  # the adopted ids count for a resync's deletions
        box.add(new_message(1))  # (also refreshes the fake's listing cache, which delete keeps)
        box.oldest_history = box.history_id
        drain(whole, mail_source(fake, state_dir, whole))
        drain(old, mail_source(fake, old_dir, old))
        assert snapshot(old) == snapshot(whole) and len(snapshot(old)) == 1200


def test_a_version_1_initial_sync_starts_again_and_ends_equal(fake, state_dir, tmp_path):
    fill(fake, 1500, mean_thread=1.0)
    old_dir = tmp_path / "old-state"
    old_dir.mkdir()
    with open_store(tmp_path / "whole.db") as whole, open_store(tmp_path / "old.db") as old:
        drain(whole, mail_source(fake, state_dir, whole))
        _kill_after(old, mail_source(fake, old_dir, old), 2)
        side = as_version_1(old, old_dir, phase="rest")
        fake.reset_counters()
        drain(old, mail_source(fake, old_dir, old))
        assert not side.exists() and snapshot(old) == snapshot(whole)
        assert fake.calls("getProfile") == 1  # a new initial sync
