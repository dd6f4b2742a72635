"""The one interface every connector implements.

In the spirit of Singer streams and dlt resources: a source yields batches of
normalized records, each with the opaque cursor that is valid *after* that
batch. State is explicit (the cursor string goes in, new cursor strings come
out) and the caller commits each batch with its cursor atomically.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
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
