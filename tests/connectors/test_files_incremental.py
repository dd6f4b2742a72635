"""The files connector against a real SqliteStore: what a re-run reads and keeps."""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any

import pytest
from peerpulse.connectors.base import SourceContext, SourceUnavailable
from peerpulse.connectors.files import connector as connector_module
from peerpulse.connectors.files.connector import FilesConnector, FilesSource
from peerpulse.connectors.files.settings import FilesSettings
from peerpulse.worker.store import open_store
from peerpulse.worker.sync import store_state

NOW = datetime(2024, 6, 1, 12, tzinfo=UTC)
ACCOUNT = "me"


def context(base: Path) -> SourceContext:
    return SourceContext(
        account=ACCOUNT,
        owner_addresses=frozenset({"owner@example.com"}),
        timezone="Europe/Berlin",
        base_dir=str(base),
        now=NOW,
    )


def source(base: Path, name: str, entries: list[str]) -> FilesSource:
    connector = FilesConnector(context(base), FilesSettings(**{name: entries}))
    (found,) = [s for s in connector.sources() if s.name == name]
    return found


def bound(src: FilesSource, store) -> FilesSource:  # type: ignore[no-untyped-def]
    """``src`` reading its connector state from ``store``, as the worker wires it."""
    return FilesSource(
        src.name,
        replace(src._context, committed_state=store_state(store, ACCOUNT)),
        src._settings,
    )


def sync(store, src: FilesSource, limit: int | None = None) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """Apply batches (only the first ``limit``, like a killed run); (upserted, batches)."""
    upserted = batches = 0
    src = bound(src, store)
    for batch in islice(src.sync(store.cursor(ACCOUNT, src.name)), limit):
        upserted += store.apply_batch(ACCOUNT, src.name, batch).upserted
        batches += 1
    return upserted, batches


def snapshot(store) -> tuple[list, list, list]:  # type: ignore[no-untyped-def]
    return (
        list(store.iter_events(ACCOUNT)),
        list(store.iter_messages(ACCOUNT)),
        store.people(ACCOUNT),
    )


def message(i: int, tag: str = "m") -> str:
    return (
        f"From x@example.com Mon Mar  4 10:00:00 2024\nMessage-ID: <{tag}{i}@example.com>\n"
        f"Date: Mon, 4 Mar 2024 10:{i % 60:02d}:00 +0000\nFrom: peer{i}@example.com\n"
        f"To: owner@example.com\nSubject: hello {i}\n\nbody {i}\nFrom the team\n\n"
    )


def write_mbox(path: Path, ids: range, tag: str = "m", mode: str = "w") -> None:
    with open(path, mode) as handle:
        handle.writelines(message(i, tag) for i in ids)


def event(uid: str, day: int) -> str:
    return f"BEGIN:VEVENT\nUID:{uid}\nDTSTART:202405{day:02d}T100000Z\nSUMMARY:{uid}\nEND:VEVENT\n"


def write_ics(path: Path, *events: str) -> None:
    path.write_text("BEGIN:VCALENDAR\nVERSION:2.0\n" + "".join(events) + "END:VCALENDAR\n")


def ids(store) -> set[str]:  # type: ignore[no-untyped-def]
    events, messages, _ = snapshot(store)
    return {e.source_id for e in events} | {m.source_id for m in messages}


def test_rerunning_an_unchanged_export_changes_nothing(tmp_path: Path, store) -> None:  # type: ignore[no-untyped-def]
    write_mbox(tmp_path / "inbox.mbox", range(5))
    write_ics(tmp_path / "cal.ics", event("a", 1), event("b", 2))
    mail, cal = source(tmp_path, "mail", ["inbox.mbox"]), source(tmp_path, "calendar", ["*.ics"])
    assert sync(store, mail)[0] == 5 and sync(store, cal)[0] == 2
    before = snapshot(store)
    assert sync(store, mail) == (0, 0)
    assert sync(store, cal) == (0, 0)
    assert snapshot(store) == before


def test_a_grown_mbox_reads_only_the_new_tail(tmp_path: Path, store, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "inbox.mbox"
    write_mbox(path, range(5))
    mail = source(tmp_path, "mail", ["inbox.mbox"])
    sync(store, mail)
    write_mbox(path, range(5, 8), mode="a")
    read_from: list[int] = []
    original = connector_module.mbox_items

    def spy(path: Path, label: str, owner: Any, start: int = 0):  # type: ignore[no-untyped-def]
        read_from.append(start)
        return original(path, label, owner, start)

    monkeypatch.setattr(connector_module, "mbox_items", spy)
    assert sync(store, mail)[0] == 3
    assert read_from == [len("".join(message(i) for i in range(5)))]
    assert len(snapshot(store)[1]) == 8


def test_a_rewritten_mbox_is_reread_and_pruned(tmp_path: Path, store) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "inbox.mbox"
    write_mbox(path, range(5))
    mail = source(tmp_path, "mail", ["inbox.mbox"])
    sync(store, mail)
    write_mbox(path, range(3, 7), tag="n")  # rewritten: old messages gone, new ones in
    sync(store, mail)
    assert ids(store) == {f"n{i}@example.com" for i in range(3, 7)}


def test_a_changed_ics_is_reread_and_removed_events_disappear(tmp_path: Path, store) -> None:  # type: ignore[no-untyped-def]
    write_ics(tmp_path / "a.ics", event("a1", 1), event("a2", 2))
    write_ics(tmp_path / "b.ics", event("b1", 3))
    cal = source(tmp_path, "calendar", ["."])
    sync(store, cal)
    assert ids(store) == {"a1", "a2", "b1"}
    write_ics(tmp_path / "a.ics", event("a1", 1), event("a3", 4))
    sync(store, cal)
    assert ids(store) == {"a1", "a3", "b1"}


def test_a_deleted_file_takes_its_records_with_it(tmp_path: Path, store) -> None:  # type: ignore[no-untyped-def]
    write_ics(tmp_path / "a.ics", event("a1", 1))
    write_ics(tmp_path / "b.ics", event("b1", 3))
    cal = source(tmp_path, "calendar", ["*.ics"])
    sync(store, cal)
    (tmp_path / "a.ics").unlink()
    sync(store, cal)
    assert ids(store) == {"b1"}


def test_a_broken_file_leaves_every_stored_record_alone(tmp_path: Path, store) -> None:  # type: ignore[no-untyped-def]
    write_ics(tmp_path / "a.ics", event("a1", 1))
    write_ics(tmp_path / "b.ics", event("b1", 3))
    cal = source(tmp_path, "calendar", ["*.ics"])
    sync(store, cal)
    (tmp_path / "a.ics").write_bytes(b"\x00garbage, not a calendar\x00")
    sync(store, cal)
    assert ids(store) == {"a1", "b1"}
    assert [loc for _, loc, _ in store.skipped_inputs(ACCOUNT)] == ["a.ics"]


def test_a_missing_configured_path_is_source_unavailable(tmp_path: Path) -> None:
    mail = source(tmp_path, "mail", ["nowhere/inbox.mbox"])
    with pytest.raises(SourceUnavailable, match="nowhere/inbox.mbox") as raised:
        list(mail.sync(None))
    assert raised.value.hint


@pytest.mark.parametrize("kill_after", [1, 2, 3])
@pytest.mark.parametrize("kind", ["mbox", "ics", "maildir"])
def test_a_killed_run_resumes_to_the_same_store_as_an_uninterrupted_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str, kill_after: int
) -> None:
    monkeypatch.setattr(connector_module, "BATCH_SIZE", 4)
    if kind == "mbox":
        write_mbox(tmp_path / "inbox.mbox", range(14))
        name, entries = "mail", ["inbox.mbox"]
    elif kind == "maildir":
        for sub in ("cur", "new", "tmp"):
            (tmp_path / "md" / sub).mkdir(parents=True)
        for i in range(14):
            (tmp_path / "md" / ("cur" if i % 2 else "new") / f"{i:03d}.host:2,S").write_text(
                message(i).split("\n", 1)[1]
            )
        name, entries = "mail", ["md"]
    else:
        write_ics(tmp_path / "cal.ics", *(event(f"e{i}", i + 1) for i in range(14)))
        name, entries = "calendar", ["cal.ics"]

    results = []
    for interrupted in (False, True):
        with open_store(tmp_path / f"state-{interrupted}.sqlite3") as store:
            src = source(tmp_path, name, entries)
            if interrupted:
                # Killed after k committed batches: only those reached the store.
                assert sync(store, src, limit=kill_after)[1] == kill_after
                cursor = store.cursor(ACCOUNT, name)
                assert cursor is not None and '"done":false' in cursor
            sync(store, src)
            results.append(snapshot(store))
            assert sync(store, src) == (0, 0)
    assert results[0] == results[1]
    assert len(results[0][0]) + len(results[0][1]) == 14


def test_large_files_come_in_batches_each_with_its_cursor(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(connector_module, "BATCH_SIZE", 10)
    write_mbox(tmp_path / "inbox.mbox", range(25))
    batches = list(source(tmp_path, "mail", ["inbox.mbox"]).sync(None))
    assert [len(b.upserts) for b in batches] == [10, 10, 5]
    assert all(b.cursor for b in batches) and len({b.cursor for b in batches}) == 3
    assert [b.prune_scope for b in batches] == [False, False, True]
    assert {b.scope for b in batches} == {"inbox.mbox"} and len({b.run_id for b in batches}) == 1


def test_a_resumed_read_after_the_file_changed_starts_over(
    tmp_path: Path, store, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(connector_module, "BATCH_SIZE", 3)
    path = tmp_path / "inbox.mbox"
    write_mbox(path, range(9))
    mail = source(tmp_path, "mail", ["inbox.mbox"])
    sync(store, mail, limit=1)
    write_mbox(path, range(4), tag="z")
    os.utime(path, ns=(1, 1))
    sync(store, mail)
    assert ids(store) == {f"z{i}@example.com" for i in range(4)}


def test_people_source_reads_csv(tmp_path: Path, store) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "people.csv").write_text(
        "email,name,manager\nboss@example.com,Boss,\nowner@example.com,Me,boss@example.com\n"
    )
    people = source(tmp_path, "people", ["people.csv"])
    assert sync(store, people)[0] == 2
    by_email = {p.email: p for p in store.people(ACCOUNT)}
    assert by_email["boss@example.com"].manages_anyone
    assert not by_email["owner@example.com"].manages_anyone
