"""Maildir and .eml folders against a real SqliteStore: only new files are read, gone ones go."""

from __future__ import annotations

import json
from itertools import islice
from pathlib import Path
from typing import Any

import pytest
from peerpulse.connectors.files import connector as connector_module
from peerpulse.connectors.files import folder
from peerpulse.connectors.records import RecordKind
from peerpulse.connectors.state import StateChange
from peerpulse.worker.store import open_store

from tests.connectors.test_files_incremental import ACCOUNT, bound, ids, snapshot, source


def header(i: int, tag: str = "m") -> str:
    return (
        f"Message-ID: <{tag}{i}@example.com>\nDate: Mon, 4 Mar 2024 10:{i % 60:02d}:00 +0000\n"
        f"From: peer{i}@example.com\nTo: owner@example.com\nSubject: hello {i}\n\nbody {i}\n"
    )


def maildir(root: Path) -> Path:
    for sub in ("cur", "new", "tmp"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    return root


def deliver(root: Path, i: int, tag: str = "m", text: str | None = None) -> Path:
    """A new message as a delivery agent leaves it: in new/, no flags yet."""
    path = maildir(root) / "new" / f"{1717000000 + i}.M{i}P4242Q1.host,U={i}"
    path.write_text(header(i, tag) if text is None else text)
    return path


def mark_read(path: Path) -> Path:
    """What a mail client does: move new/ → cur/ and add the ``:2,S`` flag."""
    target = path.parent.parent / "cur" / (path.name.split(":2,")[0] + ":2,S")
    path.rename(target)
    return target


class Reads:
    """Counts the message files the connector opens."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.paths: list[str] = []
        original = connector_module.message_file_item

        def spy(path: Path, label: str, owner: Any):  # type: ignore[no-untyped-def]
            self.paths.append(path.name)
            return original(path, label, owner)

        monkeypatch.setattr(connector_module, "message_file_item", spy)


def run(store, src, limit: int | None = None) -> list:  # type: ignore[no-untyped-def]
    """Apply the batches of one sync (only the first ``limit``, like a killed run)."""
    src = bound(src, store)
    batches = []
    for batch in islice(src.sync(store.cursor(ACCOUNT, src.name)), limit):
        store.apply_batch(ACCOUNT, src.name, batch)  # committed before the next is read
        batches.append(batch)
    return batches


def message_ids(range_: range, tag: str = "m") -> set[str]:
    return {f"{tag}{i}@example.com" for i in range_}


@pytest.fixture
def md(tmp_path: Path) -> Path:
    root = maildir(tmp_path / "Mail")
    for i in range(6):
        deliver(root, i)
    return root


def test_an_unchanged_folder_yields_nothing(tmp_path: Path, store, md: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    mail = source(tmp_path, "mail", ["Mail"])
    run(store, mail)
    reads = Reads(monkeypatch)
    assert run(store, mail) == []
    assert reads.paths == [] and ids(store) == message_ids(range(6))


def test_new_files_are_read_alone(tmp_path: Path, store, md: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    mail = source(tmp_path, "mail", ["Mail"])
    run(store, mail)
    new = [deliver(md, i).name for i in (6, 7)]
    reads = Reads(monkeypatch)
    (batch,) = run(store, mail)
    assert sorted(reads.paths) == sorted(new)
    assert not batch.prune_scope and batch.deletions == []
    assert ids(store) == message_ids(range(8))


def test_marking_messages_read_reads_nothing(tmp_path: Path, store, md: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    mail = source(tmp_path, "mail", ["Mail"])
    run(store, mail)
    before = snapshot(store)
    for path in sorted((md / "new").iterdir())[:4]:
        flagged = mark_read(path)
        flagged.rename(flagged.with_name(flagged.name + "RF"))  # replied, flagged as well
    reads = Reads(monkeypatch)
    assert run(store, mail) == []
    assert reads.paths == [] and snapshot(store) == before


def test_a_removed_file_deletes_its_message_and_nothing_else(
    tmp_path: Path, store, md: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    mail = source(tmp_path, "mail", ["Mail"])
    run(store, mail)
    sorted((md / "new").iterdir())[2].unlink()
    reads = Reads(monkeypatch)
    (batch,) = run(store, mail)
    assert reads.paths == [] and not batch.prune_scope
    assert [(k.kind, k.source_id) for k in batch.deletions] == [
        (RecordKind.MESSAGE, "m2@example.com")
    ]
    assert ids(store) == message_ids(range(6)) - {"m2@example.com"}


def test_a_message_moved_to_another_folder_stays(tmp_path: Path, store, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    inbox, archive = tmp_path / "Mail" / "INBOX", tmp_path / "Mail" / "Archive"
    moved = mark_read(deliver(inbox, 1))
    deliver(inbox, 2)
    maildir(archive)
    mail = source(tmp_path, "mail", ["Mail"])
    run(store, mail)
    moved.rename(archive / "cur" / moved.name)
    reads = Reads(monkeypatch)
    (batch,) = run(store, mail)
    assert reads.paths == [moved.name] and batch.deletions == []
    assert ids(store) == message_ids(range(1, 3))


def test_a_removed_copy_keeps_the_message_another_file_still_holds(
    tmp_path: Path, store, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    # Gmail over IMAP: the same message in INBOX and in All Mail.
    inbox, all_mail = tmp_path / "Mail" / "INBOX", tmp_path / "Mail" / "All Mail"
    copy = deliver(inbox, 1)
    deliver(all_mail, 1)
    mail = source(tmp_path, "mail", ["Mail"])
    run(store, mail)
    copy.unlink()
    (batch,) = run(store, mail)
    assert batch.deletions == []
    assert ids(store) == {"m1@example.com"}


def test_a_rewritten_file_is_read_again(tmp_path: Path, store, md: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    mail = source(tmp_path, "mail", ["Mail"])
    run(store, mail)
    path = sorted((md / "new").iterdir())[0]
    path.write_text(header(0).replace("hello 0", "hello again"))
    reads = Reads(monkeypatch)
    (batch,) = run(store, mail)
    assert reads.paths == [path.name] and batch.deletions == []
    subjects = {m.source_id: m.subject for m in store.iter_messages(ACCOUNT)}
    assert subjects["m0@example.com"] == "hello again" and len(subjects) == 6


def test_an_eml_folder_reads_new_files_and_drops_removed_ones(tmp_path: Path, store) -> None:  # type: ignore[no-untyped-def]
    export = tmp_path / "Outlook export"
    export.mkdir()
    for i in range(4):
        (export / f"message {i}.eml").write_text(header(i))
    mail = source(tmp_path, "mail", ["Outlook export"])
    run(store, mail)
    (export / "message 0.eml").unlink()
    (export / "message 9.eml").write_text(header(9))
    (batch,) = run(store, mail)
    assert [m.source_id for m in batch.upserts] == ["m9@example.com"]
    assert ids(store) == message_ids(range(1, 4)) | {"m9@example.com"}


def test_a_folder_replaced_wholesale_is_reread_and_pruned(tmp_path: Path, store, md: Path) -> None:  # type: ignore[no-untyped-def]
    mail = source(tmp_path, "mail", ["Mail"])
    first = run(store, mail)
    for path in (md / "new").iterdir():
        path.unlink()
    for i in range(3):
        deliver(md, 100 + i, tag="n")
    (batch,) = run(store, mail)
    assert batch.prune_scope and batch.run_id != first[-1].run_id
    assert ids(store) == message_ids(range(100, 103), tag="n")


def test_a_folder_whose_files_all_became_unreadable_keeps_its_records(
    tmp_path: Path, store, md: Path
) -> None:  # type: ignore[no-untyped-def]
    mail = source(tmp_path, "mail", ["Mail"])
    run(store, mail)
    for path in (md / "new").iterdir():
        path.write_text("not a message at all, and longer than before\n")
    run(store, mail)
    assert ids(store) == message_ids(range(6))
    assert len(store.skipped_inputs(ACCOUNT)) == 6


def test_a_cursor_from_before_the_index_rereads_the_folder_once(
    tmp_path: Path, store, md: Path
) -> None:  # type: ignore[no-untyped-def]
    mail = source(tmp_path, "mail", ["Mail"])
    run(store, mail)
    old = json.loads(store.cursor(ACCOUNT, "mail"))
    old["inputs"]["Mail"] = {"done": True, "fp": "0" * 32, "run": "r", "full": False, "pos": 6}
    store.apply_batch(ACCOUNT, "mail", connector_module.SyncBatch(cursor=json.dumps(old)))
    (batch,) = run(store, mail)
    assert batch.prune_scope and len(batch.upserts) == 6
    assert run(store, mail) == [] and ids(store) == message_ids(range(6))


@pytest.mark.parametrize("kill_after", [1, 2, 3])
def test_a_killed_incremental_read_resumes_to_the_same_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kill_after: int
) -> None:
    monkeypatch.setattr(connector_module, "BATCH_SIZE", 3)
    md = tmp_path / "Mail"
    for i in range(5):
        deliver(md, i)
    mail = source(tmp_path, "mail", ["Mail"])
    with open_store(tmp_path / "a.sqlite3") as whole, open_store(tmp_path / "b.sqlite3") as killed:
        run(whole, mail)
        run(killed, mail)
        sorted((md / "new").iterdir())[1].unlink()
        for i in range(10, 20):
            deliver(md, i)
        run(whole, mail)
        assert len(run(killed, mail, limit=kill_after)) == kill_after
        assert '"done":false' in killed.cursor(ACCOUNT, "mail")
        run(killed, mail)
        results = [snapshot(whole), snapshot(killed)]
        assert run(killed, mail) == [] and run(whole, mail) == []
    assert results[0] == results[1]
    assert ids_of(results[1]) == message_ids(range(5)) - {"m1@example.com"} | message_ids(
        range(10, 20)
    )


def ids_of(snap: tuple[list, list, list]) -> set[str]:
    return {m.source_id for m in snap[1]}


def test_files_removed_while_a_run_was_killed_still_go(tmp_path: Path, store, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(connector_module, "BATCH_SIZE", 2)
    md = tmp_path / "Mail"
    paths = [deliver(md, i) for i in range(7)]
    mail = source(tmp_path, "mail", ["Mail"])
    run(store, mail, limit=2)  # four files read, then killed
    paths[0].unlink()
    run(store, mail)
    assert ids(store) == message_ids(range(1, 7))


# What the version-1 connector (index packed into the cursor) stored for the folder
# ``legacy_folder`` builds: captured from that code, so the upgrade reads real bytes.
V1_CURSOR = (
    '{"inputs":{"Mail":{"done":true,"fp":"b1e3fdfbf62ff54a19cce12cbd2076f4","full":false,'
    '"index":["eJzLPPjCQKD14UsGvlwDh9SKxNyCnFS95Pzcnhdyv25tdg8Fihshi/97V852L0jqMVDcEFn8f7zJWh5u'
    'fmuguDGyOACJ2SWj"],"run":"027fac1279aa42a5"}},"v":1}'
)


def legacy_folder(tmp_path: Path) -> list[Path]:
    paths = [deliver(tmp_path / "Mail", i) for i in range(4)]
    paths[2] = mark_read(paths[2])
    return paths


def upgrade_from_v1(store, cursor: str) -> None:  # type: ignore[no-untyped-def]
    """The store of an install that ran the version-1 connector: records, the v1
    cursor, no connector state."""
    wipe = [StateChange(k, None) for k, _ in store.state_iter_prefix(ACCOUNT, "mail", "")]
    store.apply_batch(ACCOUNT, "mail", connector_module.SyncBatch(cursor=cursor, state=wipe))


def test_a_version_1_cursor_moves_its_index_into_state_and_reads_nothing_again(
    tmp_path: Path, store, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    paths = legacy_folder(tmp_path)
    mail = source(tmp_path, "mail", ["Mail"])
    run(store, mail)
    before = snapshot(store)
    upgrade_from_v1(store, V1_CURSOR)
    reads = Reads(monkeypatch)
    (batch,) = run(store, mail)  # the migration, committed with the new cursor
    assert reads.paths == [] and snapshot(store) == before
    assert not batch.upserts and not batch.deletions and not batch.prune_scope
    cursor = json.loads(store.cursor(ACCOUNT, "mail"))
    assert cursor["v"] == 2 and "index" not in cursor["inputs"]["Mail"]
    keys = [k for k, _ in store.state_iter_prefix(ACCOUNT, "mail", "idx/")]
    assert len(keys) == 4 and all('/027fac1279aa42a5/' in k for k in keys)
    assert run(store, mail) == []
    paths[3].unlink()  # the moved index still knows which record each file gave
    (batch,) = run(store, mail)
    assert [k.source_id for k in batch.deletions] == ["m3@example.com"]
    assert reads.paths == [] and ids(store) == message_ids(range(3))


def test_a_version_1_cursor_with_an_unreadable_index_rereads_the_folder_once(
    tmp_path: Path, store
) -> None:  # type: ignore[no-untyped-def]
    legacy_folder(tmp_path)
    mail = source(tmp_path, "mail", ["Mail"])
    run(store, mail)
    before = snapshot(store)
    upgrade_from_v1(store, V1_CURSOR.replace('"eJzL', '"XXXX'))
    batches = run(store, mail)
    assert batches[-1].prune_scope and sum(len(b.upserts) for b in batches) == 4
    assert ids_of(snapshot(store)) == ids_of(before) and run(store, mail) == []


def test_the_cursor_stays_small_and_the_index_is_one_key_a_file(
    tmp_path: Path, store
) -> None:  # type: ignore[no-untyped-def]
    for i in range(300):
        deliver(tmp_path / "Mail", i)
    mail = source(tmp_path, "mail", ["Mail"])
    run(store, mail)
    assert len(store.cursor(ACCOUNT, "mail")) < 200
    entries = list(store.state_iter_prefix(ACCOUNT, "mail", "idx/"))
    assert len(entries) == 300 and {v for _, v in entries} == message_ids(range(300))


def test_a_folder_dropped_from_the_config_drops_its_index(tmp_path: Path, store, md: Path) -> None:  # type: ignore[no-untyped-def]
    other = tmp_path / "other.eml"
    other.write_text(header(99))
    run(store, source(tmp_path, "mail", ["Mail", "other.eml"]))
    assert len(list(store.state_iter_prefix(ACCOUNT, "mail", "idx/"))) == 6
    run(store, source(tmp_path, "mail", ["other.eml"]))
    assert list(store.state_iter_prefix(ACCOUNT, "mail", "idx/")) == []
    assert ids(store) == {"m99@example.com"}


def test_a_whole_reread_drops_the_index_of_the_run_before(tmp_path: Path, store, md: Path) -> None:  # type: ignore[no-untyped-def]
    mail = source(tmp_path, "mail", ["Mail"])
    run(store, mail)
    for path in list((md / "new").iterdir()):
        path.unlink()
    for i in range(20, 23):
        deliver(md, i)
    (batch,) = run(store, mail)  # no file read before: replaced wholesale
    assert batch.prune_scope
    runs = {k.split("/")[2] for k, _ in store.state_iter_prefix(ACCOUNT, "mail", "idx/")}
    assert runs == {batch.run_id} and ids(store) == message_ids(range(20, 23))


def test_the_packed_version_1_index_decodes_and_rejects_what_is_not_ours() -> None:
    packed = json.loads(V1_CURSOR)["inputs"]["Mail"]["index"]
    index = folder.legacy_index(packed)
    assert index is not None and sorted(index.values()) == sorted(message_ids(range(4)))
    assert folder.decode("not ours!") is None and folder.decode("bm90IHpsaWI=") is None
    assert folder.legacy_index("a string") is None and folder.legacy_index(["!!"]) is None


def test_a_lost_cursor_rereads_and_drops_the_index_no_input_accounts_for(
    tmp_path: Path, store, md: Path
) -> None:  # type: ignore[no-untyped-def]
    deliver(tmp_path / "Other", 50)
    run(store, source(tmp_path, "mail", ["Mail", "Other"]))
    store.apply_batch(ACCOUNT, "mail", connector_module.SyncBatch(cursor=""))
    (batch,) = run(store, source(tmp_path, "mail", ["Mail"]))
    assert batch.prune_scope and len(batch.upserts) == 6
    runs = {k.split("/")[1:3] == ['"Mail"', batch.run_id]
            for k, _ in store.state_iter_prefix(ACCOUNT, "mail", "idx/")}
    assert runs == {True}
