"""The inference checkpoint: what inference knows after every record before a time,
kept so that the next digest reads only the records after it (issue 14, item 1).

Inference is a pass in time order with state: the thread a "Re:" answers, which
occurrence of a series initiated it, which peers' threads are still open. A
per-record tally cannot reproduce that exactly (a deleted first message changes
whether a later one is a reply), so what is kept is the pass itself, stopped at
``horizon``: the :class:`~rules.tally.Ledger` (every counter; each peer's rows as
``rules.history`` compacts them), the :class:`~rules.inference.EventState` and
:class:`~rules.inference.MessageState`, without what can no longer change a
digest (:func:`_prune`, and the series ids of rows already final). Resumed over
the records from ``horizon`` on, in the same order, it ends exactly where one
pass over everything ends, and scoring reads the compacted rows as it reads
the rows of a full pass (``rules.history``: the same floats).

Its size follows the days of history and the rows inside the longest window,
not every row: per peer, a decayed sum per day (16 bytes), window figures and
thin rows (17 bytes a row) from ``horizon - longest window`` on, the newest rows,
and the rows of the horizon's day. Message threads (``MessageState.threads``:
any later "Re:" can answer any earlier subject) are kept whole.

The worker decides when a checkpoint still holds (same rules, people, owner and
retention: :func:`fingerprint`; no record before the horizon written since);
records that left the retention window since are taken out by ``rules.rebase``,
which is why the pass also keeps what each day added to every counter
(``EventState.days``, ``MessageState.days``), each summarized day's totals
(``rules.history``), and the latest time of each thread and series. This module
only turns the state into bytes and back (pure: no I/O, no clock).

Left out: per-person exclusions and their count (only ``explain`` shows them, and
it reads the raw records), busy time and the team meeting (both depend on
``now``: the engine recomputes them from the few events they look at). Whether
some record names the owner is kept as 0 or 1 (``owner_records``,
``MessageState.owner_seen``): only that is ever read, and a count would depend on
where the window starts (noise mail naming the owner counts only until the owner
is found).
"""

from __future__ import annotations

import hashlib
import marshal
import sys
from collections.abc import Iterable

from peerpulse.rules.history import DAY, Compact, PeerHistory, day_of, longest_window
from peerpulse.rules.inference import EventState, MessageState
from peerpulse.rules.peers import Directory
from peerpulse.rules.ruleset import RuleSet
from peerpulse.rules.tally import Ledger

#: Bumped whenever inference or this layout changes: older checkpoints are rebuilt.
#: 3: peers' interactions compacted per day, old open threads and series ids pruned;
#: announcements to more than [reciprocity] max_people are nobody's initiative.
#: 4: per-day counters and totals, threads' and series' latest times, reply candidates
#: (rules.rebase: the window's start moves without a full read); owner flags 0/1.
#: 5: the owner's threads each peer has not answered (``PersonLedger.mine_open``,
#: ``MessageState.mine_keys``): the owner's own stream is no debt owed to the owner.
CHECKPOINT_VERSION = 5

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


def capture(ledger: Ledger, events: EventState, messages: MessageState,
            rules: RuleSet) -> bytes:
    """The pass so far, as bytes (a copy: the pass may go on afterwards), compacted:
    peers' interactions as per-day summaries (``rules.history``), and the pass's
    state without the entries that can no longer change a digest (:func:`_prune`)."""
    return marshal.dumps(_body(ledger, events, messages, rules, compacted=True))


class Pass:
    """A checkpoint handed over in memory: what :func:`capture` keeps, but neither
    turned into bytes nor compacted (``rules.rebase`` makes one, the engine resumes
    it at once: serializing it only for :func:`restore` to parse it again cost a
    copy of the whole state, and compacting the peers the re-base touched is done
    anyway when the resumed pass is captured at its own horizon, to the same
    checkpoint: ``tests/rules/test_rebase.py``). Its objects are the pass's own, not
    copies: it is restored once (:func:`restore` empties it)."""

    __slots__ = ("_body",)

    def __init__(self, body: tuple) -> None:
        self._body: tuple | None = body

    def take(self) -> tuple:
        body, self._body = self._body, None
        if body is None:
            raise CheckpointError("a checkpoint handed over in memory is restored once")
        return body


def hand_over(ledger: Ledger, events: EventState, messages: MessageState,
              rules: RuleSet) -> Pass:
    """The pass so far as :func:`capture` keeps it, in memory (:class:`Pass`): the
    same pruning, no compaction, no copy (``ledger`` and the states are given up)."""
    return Pass(_body(ledger, events, messages, rules, compacted=False))


def to_bytes(kept: Pass, directory: Directory, rules: RuleSet) -> bytes:
    """What :func:`capture` makes of the pass ``kept`` holds (compacted): the stored
    form, to compare (tests) or store. Uses ``kept`` up."""
    return capture(*restore(kept, directory), rules)


def _body(ledger: Ledger, events: EventState, messages: MessageState, rules: RuleSet,
          compacted: bool) -> tuple:
    """What a checkpoint holds (see :func:`capture`); peers compacted when ``compacted``."""
    longest = longest_window(rules)
    latest = 0.0  # a time no later than the horizon: the newest row or thread seen
    persons: dict[str, tuple] = {}
    peers = ledger.peer_rows
    for email, entry in ledger.persons.items():
        rows, compact = entry.interactions, entry.compact
        if email not in peers and not (rows or compact or entry.subject_hits or entry.open_threads
                                        or entry.mine_open or entry.upcoming):
            continue  # someone only excluded: exclusions are not kept
        if rows:
            newest = max(r[0] for r in rows)
            latest = max(latest, newest)
            if compacted and not _compacted_at(compact, rows, newest):
                # Each peer is compacted at their newest row: no later than the horizon,
                # so every record after the horizon lands in a day kept as rows.
                history = PeerHistory.build(compact, rows, rules)
                kept = history.compact(newest, longest)
                rows, compact = kept[5], (*kept[:5], [], kept[6])
        persons[email] = (rows, 0, entry.upcoming, entry.upcoming_kind,
                          entry.subject_hits, entry.open_threads, compact, entry.mine_open)
    if messages.last:  # each thread's latest time: exact however the window moved
        latest = max(latest, max(messages.last.values()))
    cut = latest - rules.model.reciprocity.window_days * DAY
    open_threads, open_ids, open_keys = _prune(ledger, messages, cut)
    mine_open, mine_keys = _prune_mine(ledger, messages, cut)
    celebrate_from = latest - rules.model.celebrate.window_days * DAY
    for email, kept_threads in open_threads.items():
        if email not in persons:
            continue  # nothing kept of them (and no open thread: only peers have some)
        rows, excluded, upcoming, upcoming_kind, hits, _open, compact, _mine = persons[email]
        hits = [h for h in hits if h[0] >= celebrate_from]
        persons[email] = (rows, excluded, upcoming, upcoming_kind, hits, kept_threads, compact,
                          mine_open.get(email, {}))
    body: tuple = (
        _MAGIC, CHECKPOINT_VERSION,
        ledger.counts, min(ledger.owner_records, 1), ledger.leader_contacts, persons,
        # series_of only clears the initiative of rows the pass makes after it; every
        # row before the horizon is final (a series' first occurrence is its earliest).
        (events.read, events.series_first, {}, events.initiated, events.last, events.days),
        (messages.read, min(messages.owner_seen, 1), messages.threads, open_ids, open_keys,
         messages.last, messages.candidates, messages.days, mine_keys),
    )
    return body


def _compacted_at(compact: Compact | None, rows: list, newest: float) -> bool:
    """Whether ``compact`` with ``rows`` is already what compacting them at ``newest``
    gives: every row on the newest day, every summarized day before it (a peer with
    nothing new since the checkpoint, or only days a re-base took away). Compacting
    again would rebuild the same bytes, at the cost of a pass over the peer's days."""
    if compact is None:
        return False
    day = day_of(newest)
    if any(day_of(r[0]) != day for r in rows):
        return False
    keys = compact[1][0]
    return not keys or int.from_bytes(keys[-8:], sys.byteorder, signed=True) < 2 * day


def _prune(ledger: Ledger, messages: MessageState, cut: float) -> tuple[
        dict[str, dict[str, float]], dict[str, str], dict[tuple[str, str], list[str]]]:
    """Open threads older than ``cut`` (the reciprocity window as of the horizon) left
    out: ``unanswered`` counts only threads inside the window as of ``now`` (later
    than ``cut``), and closing an old one changes nothing shown. Kept exactly as a
    pass would leave them: each thread list of (peer, subject) loses its closed
    entries (the closing loop skips them) and its leading run of old ones (the loop
    reaches them only after every newer one, and then closes an old one or none)."""
    open_ids = messages.open_ids
    persons = ledger.persons

    def old(mid: str) -> bool:
        peer = open_ids.get(mid)
        entry = persons.get(peer) if peer is not None else None
        at = entry.open_threads.get(mid) if entry is not None else None
        return at is not None and at < cut

    keys: dict[tuple[str, str], list[str]] = {}
    listed: set[str] = set()
    for key, mids in messages.open_keys.items():
        still = [mid for mid in mids if mid in open_ids]
        first = 0
        while first < len(still) and old(still[first]):
            first += 1
        if first < len(still):
            keys[key] = still[first:]
            listed.update(still[first:])
    ids = {mid: peer for mid, peer in open_ids.items() if mid in listed or not old(mid)}
    threads = {
        email: {mid: at for mid, at in entry.open_threads.items() if at >= cut}
        for email, entry in persons.items()
    }
    return threads, ids, keys


def _prune_mine(ledger: Ledger, messages: MessageState, cut: float) -> tuple[
        dict[str, dict[str, float]], dict[tuple[str, str], list[str]]]:
    """The owner's open threads as :func:`_prune` keeps the peers': those older than
    ``cut`` left out, and each (peer, subject) list without its closed entries and its
    leading run of old ones (a peer's "Re:" closes the latest open one first)."""
    persons = ledger.persons
    threads = {email: {mid: at for mid, at in entry.mine_open.items() if at >= cut}
               for email, entry in persons.items() if entry.mine_open}
    keys: dict[tuple[str, str], list[str]] = {}
    for key, mids in messages.mine_keys.items():
        still = threads.get(key[0], {})
        kept = [mid for mid in mids if mid in still]  # in time order: old ones lead
        if kept:
            keys[key] = kept
    return threads, keys


def restore(data: bytes | Pass, directory: Directory) -> tuple[
        Ledger, EventState, MessageState]:
    """The pass :func:`capture` kept (or :func:`hand_over` handed over), over
    ``directory`` (the same people: the fingerprint says so). Raises
    :class:`CheckpointError` on anything unexpected."""
    try:
        # marshal: our own bytes, from our own store
        body = data.take() if isinstance(data, Pass) else marshal.loads(data)  # noqa: S302
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
    for email, (rows, excluded, upcoming, upcoming_kind, hits, open_threads,
                compact, mine_open) in persons.items():
        entry = ledger.person(email)
        entry.interactions.extend(rows)
        entry.excluded_total = excluded
        entry.upcoming, entry.upcoming_kind = upcoming, upcoming_kind
        entry.subject_hits.extend(hits)
        entry.open_threads.update(open_threads)
        entry.mine_open.update(mine_open)
        entry.compact = compact
    try:
        events = EventState(*ev)
        messages = MessageState(*msg)
    except TypeError as exc:
        raise CheckpointError(f"not a checkpoint: {exc}") from None
    return ledger, events, messages
