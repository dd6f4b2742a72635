"""Keyed connector state that is committed with the batch it belongs to.

A connector that must remember something between runs beyond its cursor (which
files it has read, which message ids it has already fetched) keeps it here
instead of packing it into the cursor or a side database. Reads see the
committed state plus what this run has staged; writes are *staged* and travel
with the next ``SyncBatch`` (``batch.state``), so the worker commits them in the
same transaction as the batch's records and cursor: a run killed between two
batches resumes with state and records that agree.

Pure: no I/O. The worker supplies the committed view (``CommittedState``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class StateChange:
    """One staged write: ``value`` None means delete ``key``."""

    key: str
    value: str | None


class CommittedState(Protocol):
    """What the store offers a connector: committed state of one source, read-only."""

    def get(self, key: str) -> str | None: ...

    def iter_prefix(self, prefix: str) -> Iterator[tuple[str, str]]:
        """(key, value) pairs whose key starts with ``prefix``, in key order, streamed."""
        ...


class StagedState:
    """A source's state as the connector sees it during a run.

    ``get``/``iter_prefix`` overlay staged changes on the committed view;
    ``put``/``delete`` stage; ``take_changes`` hands the staged changes to the
    next ``SyncBatch`` (after which they count as committed by the worker).
    """

    def __init__(self, committed: CommittedState, *, committed_each_batch: bool = False) -> None:
        self._committed = committed
        self._staged: dict[str, str | None] = {}
        self._in_flight: dict[str, str | None] = {}
        # True when the caller commits each batch before asking for the next one (the
        # worker does): the previous batch's changes are then readable from
        # ``committed`` and need not stay in memory, so a run that writes 100,000
        # keys holds one batch's worth, not all of them.
        self._committed_each_batch = committed_each_batch

    def get(self, key: str) -> str | None:
        if key in self._staged:
            return self._staged[key]
        if key in self._in_flight:
            return self._in_flight[key]
        return self._committed.get(key)

    def get_many(self, keys: Sequence[str]) -> dict[str, str]:
        """The values of those ``keys`` that have one, in one read of the committed side
        when it offers ``get_many`` (a remote store: one round trip per page of ids,
        not one per id; a listing page of 500 ids was 500 queries on PostgreSQL)."""
        found: dict[str, str] = {}
        rest: list[str] = []
        for key in keys:
            overlay = self._staged if key in self._staged else self._in_flight
            if key in overlay:
                value = overlay[key]
                if value is not None:
                    found[key] = value
            else:
                rest.append(key)
        many = getattr(self._committed, "get_many", None)
        if many is not None:
            found.update(many(rest))
        else:
            for key in rest:
                value = self._committed.get(key)
                if value is not None:
                    found[key] = value
        return found

    def put(self, key: str, value: str) -> None:
        self._staged[key] = value

    def delete(self, key: str) -> None:
        self._staged[key] = None

    def iter_prefix(self, prefix: str) -> Iterator[tuple[str, str]]:
        """Committed pairs merged with staged ones, in key order, without loading
        the committed side whole (staged changes are small: one run's worth)."""
        overlay = {**self._in_flight, **self._staged}
        local = sorted((k, v) for k, v in overlay.items() if k.startswith(prefix))
        i = 0
        for key, value in self._committed.iter_prefix(prefix):
            while i < len(local) and local[i][0] < key:
                if local[i][1] is not None:
                    yield local[i][0], local[i][1]  # type: ignore[misc]
                i += 1
            if i < len(local) and local[i][0] == key:
                if local[i][1] is not None:
                    yield key, local[i][1]  # type: ignore[misc]
                i += 1
                continue
            if key in overlay:
                continue
            yield key, value
        for key, staged in local[i:]:
            if staged is not None:
                yield key, staged

    def take_changes(self) -> list[StateChange]:
        """The staged changes, in key order, for the batch about to be yielded.

        They stay visible to reads (``in flight``) until the batch is committed: with
        ``committed_each_batch`` that is when the next batch is taken (the worker
        commits a batch before asking for the next one); otherwise for the whole run.
        """
        changes = [StateChange(k, v) for k, v in sorted(self._staged.items())]
        if self._committed_each_batch:
            self._in_flight = self._staged
        else:
            self._in_flight.update(self._staged)
        self._staged = {}
        return changes
