"""The one interface every connector implements.

In the spirit of Singer streams and dlt resources: a source yields batches of
normalized records, each with the opaque cursor that is valid *after* that
batch. State is explicit (the cursor string goes in, new cursor strings come
out) and the caller commits each batch with its cursor atomically.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from peerpulse.connectors.records import SyncBatch
from peerpulse.connectors.state import CommittedState, StagedState


class ConnectorError(Exception):
    """A source failed as a whole (not one bad item: those are SkippedInput)."""


class SourceUnavailable(ConnectorError):
    """The source cannot be read right now (missing export, network down); retry later."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


class AuthRequired(ConnectorError):
    """Credentials are missing, revoked or expired; ``command`` re-authorizes."""

    def __init__(self, message: str, command: str) -> None:
        super().__init__(message)
        self.command = command


class CursorExpired(ConnectorError):
    """The provider no longer accepts the stored cursor (HTTP 410, history 404): resync."""


@dataclass(frozen=True, slots=True)
class SourceContext:
    """What a connector needs to know about the account it reads for.

    The provider's own settings (its ``[accounts.source]`` model) are not here:
    the connector factory receives them, typed, as its second argument.
    """

    account: str
    owner_addresses: frozenset[str]  # lowercase; the owner's address and aliases
    timezone: str = "UTC"
    subjects: str = "kept"  # privacy: "off" | "hashed" | "kept"
    base_dir: str = "."  # relative paths in settings resolve against this (the config's folder)
    state_dir: str | None = None  # the worker's state folder: token files live under it
    now: datetime | None = None  # pinned clock (tests, --now); None means the real clock
    # source name -> that source's committed state (the worker wires it to the store)
    committed_state: Callable[[str], CommittedState] | None = None

    def source_state(self, name: str) -> StagedState:
        """The keyed state of source ``name`` for this run (see connectors.state).

        Call once per source and run; stage changes there and attach
        ``take_changes()`` to each yielded batch. With a store, the caller must
        commit each batch before resuming the source for the next one (as
        ``worker.sync`` does), so only one batch's changes stay in memory.
        Without a store (unit tests) the committed state is empty and the run's
        changes stay readable in memory.
        """
        if self.committed_state is None:
            return StagedState(_EmptyState())
        return StagedState(self.committed_state(name), committed_each_batch=True)

    def current_time(self) -> datetime:
        """The pinned clock if any, else the real one (aware, UTC)."""
        from datetime import UTC

        return self.now if self.now is not None else datetime.now(UTC)


class _EmptyState:
    """No committed state: a context built without a store."""

    def get(self, key: str) -> str | None:
        return None

    def iter_prefix(self, prefix: str) -> Iterator[tuple[str, str]]:
        return iter(())


# The connector-state key a source's :class:`SyncProgress` is kept under (per account and
# source, committed with the batch it describes). Keys of a connector's own state never
# start with "~", so pruning one's own keys by prefix cannot hit it by accident.
PROGRESS_KEY = "~sync-progress"


@dataclass(frozen=True, slots=True)
class SyncProgress:
    """How much of a source's history is stored: what the digest needs to know before
    it reads old ties (reconnect, reciprocity, the peer of the week) from a first sync
    that is still under way.

    A source reports it by staging ``PROGRESS_KEY`` -> :meth:`dump` in its keyed state
    with the batch it describes (see :func:`stage_progress`); the worker reads it back
    through the store, so a digest computed between two batches, or by another process,
    sees the progress of what is committed. A source that never reports one counts as
    complete (every source did before this existed).

    ``complete``: the first full pass is done. ``since``: every record of the source
    dated at or after it is stored (None: not even the newest stretch is complete, e.g.
    only sent mail is in). ``done``: the share of the initial sync done, 0..1, where the
    source can tell. ``detail``: one plain line for the reader, e.g. "sent mail of the
    last 180 days first; received mail not yet".
    """

    complete: bool
    since: datetime | None = None
    done: float | None = None
    detail: str = ""

    def dump(self) -> str:
        return json.dumps({
            "complete": self.complete,
            "since": int(self.since.timestamp()) if self.since is not None else None,
            "done": round(self.done, 4) if self.done is not None else None,
            "detail": self.detail,
        }, separators=(",", ":"))

    @classmethod
    def load(cls, text: str | None) -> SyncProgress | None:
        """The progress ``dump`` wrote, or None (nothing reported, or unreadable)."""
        if not text:
            return None
        try:
            data = json.loads(text)
            since = data.get("since")
            done = data.get("done")
            return cls(
                complete=bool(data["complete"]),
                since=datetime.fromtimestamp(int(since), UTC) if since is not None else None,
                done=min(1.0, max(0.0, float(done))) if done is not None else None,
                detail=str(data.get("detail") or ""),
            )
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError, OSError):
            return None


class ProgressState(Protocol):
    """The part of keyed state (``connectors.state.StagedState``) a report needs."""

    def get(self, key: str) -> str | None: ...

    def put(self, key: str, value: str) -> None: ...


def stage_progress(state: ProgressState, progress: SyncProgress) -> None:
    """Stage ``progress`` in ``state`` (only when it changed: a live source that stays
    complete writes nothing), to travel with the next batch's state changes."""
    text = progress.dump()
    if state.get(PROGRESS_KEY) != text:
        state.put(PROGRESS_KEY, text)


def folders_progress(
    folders: Sequence[str], finished: Callable[[str], bool], state: ProgressState, *,
    fresh: bool,
) -> SyncProgress:
    """The progress of a source whose first pass lists folders in no date order (Graph
    delta, EWS SyncFolderItems): no stretch of history is complete before every folder
    is, so the share done is per folder. Once complete it stays so (a later relisting
    re-reads mail that is stored already) until a ``fresh`` sync (no cursor) starts over."""
    if not fresh:
        known = SyncProgress.load(state.get(PROGRESS_KEY))
        if known is None or known.complete:
            return SyncProgress(complete=True)
    done = [f for f in folders if finished(f)]
    if len(done) == len(folders):
        return SyncProgress(complete=True)
    waiting = [f for f in folders if f not in done]
    return SyncProgress(
        complete=False, done=len(done) / len(folders),
        detail=f"folders loaded: {', '.join(done) or 'none yet'}; loading: {', '.join(waiting)}")


class Source(Protocol):
    """A named stream of records with an opaque cursor.

    ``name`` is stable (it keys the stored cursor). ``sync`` yields batches in
    order; every batch carries the cursor to store with it. A source must be
    safe to call again with any cursor it produced, including one from a run
    that was killed halfway.

    A source that reads the organization's directory (people: titles, managers,
    departments) says so with a true ``directory`` attribute (see
    :func:`reads_directory`): organization mode syncs those apart, once for the
    whole organization, instead of per mailbox and hourly.
    """

    @property
    def name(self) -> str:
        """Read-only here: an attribute, even a narrower ``Literal`` one, fits."""
        ...

    def sync(self, cursor: str | None) -> Iterator[SyncBatch]: ...


def reads_directory(source: object) -> bool:
    """Whether ``source`` reads the directory (its ``directory`` attribute).

    Read with a default because the attribute is optional: a plugin's source that
    does not declare it is a mailbox source (calendar or mail), synced hourly.
    """
    return getattr(source, "directory", False) is True


class Connector(Protocol):
    """A provider configured for one account: it offers one or more sources.

    A sequence, not a list: callers only read it, and a connector may return a
    list of its own source class (``list`` is invariant, ``Sequence`` is not)."""

    def sources(self) -> Sequence[Source]: ...
