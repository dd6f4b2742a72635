"""The contract every connector's sources pass (in the spirit of vdirsyncer's storage tests).

Subclass :class:`SourceContract` and implement ``populated_source`` (a source
with at least one record) and ``empty_source``; both get a fresh ``tmp_path``.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from peerpulse.connectors.records import EventInstance, MessageMeta, Person, SyncBatch

ACCOUNT = "contract"


def _drain(store: Any, source: Any) -> list[SyncBatch]:
    batches = []
    for batch in source.sync(store.cursor(ACCOUNT, source.name)):
        store.apply_batch(ACCOUNT, source.name, batch)
        batches.append(batch)
    return batches


def _snapshot(store: Any) -> tuple[list[Any], list[Any], list[Any]]:
    return (
        list(store.iter_events(ACCOUNT)),
        list(store.iter_messages(ACCOUNT)),
        store.people(ACCOUNT),
    )


class SourceContract:
    def populated_source(self, tmp_path: Path) -> Any:
        raise NotImplementedError

    def empty_source(self, tmp_path: Path) -> Any:
        raise NotImplementedError

    def test_every_batch_carries_a_cursor_that_round_trips(
        self, tmp_path: Path, store: Any
    ) -> None:
        source = self.populated_source(tmp_path)
        batches = list(source.sync(None))
        assert batches and all(isinstance(b.cursor, str) for b in batches)
        assert sum(len(b.upserts) for b in batches) >= 1
        again = list(source.sync(batches[-1].cursor))
        assert sum(len(b.upserts) for b in again) == 0

    def test_rereading_with_the_stored_cursor_leaves_the_store_unchanged(
        self, tmp_path: Path, store: Any
    ) -> None:
        source = self.populated_source(tmp_path)
        _drain(store, source)
        before = _snapshot(store)
        assert sum(len(b.upserts) for b in _drain(store, source)) == 0
        assert _snapshot(store) == before

    def test_records_are_normalized(self, tmp_path: Path) -> None:
        records = [r for b in self.populated_source(tmp_path).sync(None) for r in b.upserts]
        assert records
        for record in records:
            if isinstance(record, EventInstance):
                for moment in (record.start, record.end):
                    assert moment.utcoffset() == timedelta(0)
                assert record.end >= record.start and record.attendee_count >= 1
                assert all(a.email == a.email.lower() for a in record.attendees)
            elif isinstance(record, MessageMeta):
                assert record.timestamp.utcoffset() == timedelta(0)
                for address in (record.sender or "", *record.to, *record.cc, *record.bcc):
                    assert address == address.lower()
            else:
                assert isinstance(record, Person) and record.email == record.email.lower()
            assert record.source_id

    def test_an_empty_source_yields_no_records(self, tmp_path: Path, store: Any) -> None:
        source = self.empty_source(tmp_path)
        assert sum(len(b.upserts) for b in _drain(store, source)) == 0
        assert _snapshot(store) == ([], [], [])
