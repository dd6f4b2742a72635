"""Which events of one calendar scope the store holds, kept in keyed connector state.

The Graph and Google calendar sources refuse a full round that comes back
empty where many events were stored (the empty-resync guard), so they keep the
number of stored events in their cursor. A full round counts it exactly; an
increment used to add its upserts and subtract its deletions, but an update
of a stored event arrives as an upsert like a new one, and a deletion may name
an event that was never stored (created and cancelled between two runs, or
outside the window). The count drifted up with every update (344 counted
against 315 stored after one round of changes). The connector cannot read the
store, so it remembers the ids it handed over: one key per event,
``<prefix><record id>`` -> the run id of the full round (the store's scope
run) that last saw it, staged with the batch that carries the records.

A full round's last page drops the ids the round did not stamp, as the store
prunes the scope's records, so ids and rows agree after every committed batch.
"""

from __future__ import annotations

from collections.abc import Iterable

from peerpulse.connectors.state import StagedState


class EventTally:
    """The stored event ids of one scope (``prefix``) and their exact count."""

    def __init__(self, state: StagedState, prefix: str) -> None:
        self._state = state
        self._prefix = prefix

    def upserted(self, ids: Iterable[str], run_id: str) -> int:
        """Stage ``ids`` as stored by the round ``run_id``; returns how many were new."""
        new = 0
        for record_id in ids:
            key = self._prefix + record_id
            if self._state.get(key) is None:
                new += 1
            self._state.put(key, run_id)
        return new

    def deleted(self, ids: Iterable[str]) -> int:
        """Stage the removal of ``ids``; returns how many of them were stored."""
        held = 0
        for record_id in ids:
            key = self._prefix + record_id
            if self._state.get(key) is not None:
                held += 1
                self._state.delete(key)
        return held

    def keep_only(self, run_id: str) -> int:
        """A full round ended: drop every id it did not stamp; returns the count kept."""
        stale, kept = [], 0
        for key, value in self._state.iter_prefix(self._prefix):
            if value == run_id:
                kept += 1
            else:
                stale.append(key)
        for key in stale:
            self._state.delete(key)
        return kept
