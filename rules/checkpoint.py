"""The inference checkpoint: what inference knows after every record before a time,
kept so that the next digest reads only the records after it (issue 14, item 1).

Inference is a pass in time order with state: the thread a "Re:" answers, which
occurrence of a series initiated it, which peers' threads are still open. A
per-record tally cannot reproduce that exactly (a deleted first message changes
whether a later one is a reply), so what is kept is the pass itself, stopped at
``horizon``: the :class:`~rules.tally.Ledger` (every counter and peer row), the
:class:`~rules.inference.EventState` and :class:`~rules.inference.MessageState`.
Resumed over the records from ``horizon`` on, in the same order, it ends exactly
where one pass over everything ends. The worker decides when a checkpoint still
holds (same rules, people, owner and retention: :func:`fingerprint`; no record
before the horizon written since; no record left the retention window); this
module only turns the state into bytes and back (pure: no I/O, no clock).

Left out: per-person exclusions (only ``explain`` shows them, and it reads the
raw records), busy time and the team meeting (both depend on ``now``: the engine
recomputes them from the few events they look at).
"""

from __future__ import annotations

import hashlib
import marshal
from collections.abc import Iterable

from peerpulse.rules.inference import EventState, MessageState
from peerpulse.rules.peers import Directory
from peerpulse.rules.tally import Ledger

#: Bumped whenever inference or this layout changes: older checkpoints are rebuilt.
CHECKPOINT_VERSION = 2

_MAGIC = "peerpulse-checkpoint"


class CheckpointError(ValueError):
    """Bytes that are not a checkpoint of this version (the caller rebuilds)."""


def fingerprint(parts: Iterable[str]) -> str:
    """A digest of everything inference depends on besides the records (rules, people,
    owner, retention): a checkpoint made under another fingerprint is not used."""
    h = hashlib.sha256(f"{_MAGIC}:{CHECKPOINT_VERSION}".encode())
    for part in parts:
        data = part.encode("utf-8", "surrogatepass")
        h.update(len(data).to_bytes(8, "big"))
        h.update(data)
    return h.hexdigest()


def capture(ledger: Ledger, events: EventState, messages: MessageState) -> bytes:
    """The pass so far, as bytes (a copy: the pass may go on afterwards)."""
    persons = {
        email: (entry.interactions, entry.excluded_total, entry.upcoming, entry.upcoming_kind,
                entry.subject_hits, entry.open_threads)
        for email, entry in ledger.persons.items()
    }
    body = (
        _MAGIC, CHECKPOINT_VERSION,
        ledger.counts, ledger.owner_records, ledger.leader_contacts, persons,
        (events.read, events.series_first, events.series_of, events.initiated),
        (messages.read, messages.owner_seen, messages.threads, messages.open_ids,
         messages.open_keys),
    )
    return marshal.dumps(body)


def restore(data: bytes, directory: Directory) -> tuple[Ledger, EventState, MessageState]:
    """The pass :func:`capture` kept, over ``directory`` (the same people: the
    fingerprint says so). Raises :class:`CheckpointError` on anything unexpected."""
    try:
        body = marshal.loads(data)  # noqa: S302 (our own bytes, from our own store)
        magic, version, counts, owner_records, leaders, persons, ev, msg = body
    except (EOFError, ValueError, TypeError) as exc:
        raise CheckpointError(f"not a checkpoint: {exc}") from None
    if magic != _MAGIC or version != CHECKPOINT_VERSION:
        raise CheckpointError(f"checkpoint version {version!r}, expected {CHECKPOINT_VERSION}")
    ledger = Ledger(directory)
    ledger.counts.update(counts)
    ledger.owner_records = owner_records
    for email, contacts in leaders.items():
        ledger.leader_contacts.setdefault(email, []).extend(contacts)
    for email, (rows, excluded, upcoming, upcoming_kind, hits, open_threads) in persons.items():
        entry = ledger.person(email)
        entry.interactions.extend(rows)
        entry.excluded_total = excluded
        entry.upcoming, entry.upcoming_kind = upcoming, upcoming_kind
        entry.subject_hits.extend(hits)
        entry.open_threads.update(open_threads)
    events = EventState(ev[0], ev[1], ev[2], ev[3])
    messages = MessageState(msg[0], msg[1], msg[2], msg[3], msg[4])
    return ledger, events, messages
