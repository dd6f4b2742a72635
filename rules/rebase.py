"""Moving a checkpoint's retention window start (issue 14, item 1): the pass over the
records from ``since`` on, made from the pass over the records from an earlier
start, without reading them all again.

The digest reads the records from ``now - retention_days``: messages dated from
then, events ending from then. A checkpoint made a week earlier (``rules.checkpoint``)
started a week earlier; :func:`rebase` turns it into what one pass over the new
window, stopped at the same horizon, keeps, or refuses (:class:`Refused`, the
digest then reads everything).

What one record's classification takes from others (every cross-record
dependency of ``rules.inference``; ``rules.engine`` and ``rules.history`` add
none: scoring reads the per-day summaries the pass leaves):

1. a message's reply status: a "Re:" without In-Reply-To/References is a reply
   only if an earlier mail of the same (peer, stripped subject) passed between
   the owner and that peer (``MessageState.threads``, the first time of each).
   The status sets the row's weight (reply bonus), its initiative flags, whether a
   received mail opens a thread, whether an owner's mail closes one by subject,
   and whether a subject is the sender's own news (celebrate);
2. open threads: a peer's mail that asks opens one (by Message-ID and by (peer,
   subject)); the owner's later reply closes it by In-Reply-To/References, or by
   subject the latest open one of that (peer, subject). The owner's new threads
   to peers are open the same way until each peer answers (``mine_open``,
   ``mine_keys``), and everything said of (2) below holds for them with the
   roles swapped;
3. a recurring series' initiative: only its earliest initiating occurrence in the
   window keeps its flags (``EventState.series_first``);
4. whether the owner was found yet: noise mail naming the owner counts toward
   ``owner_seen`` only until some mail did;
5. nothing else: counters (per rule, records read), exclusions, leaders' contacts,
   subject hits and upcoming meetings are per record; there is no deduplication
   by Message-ID in inference (the store keys records by source id).

How each is re-based, with ``D`` the day (UTC) of the new start and ``E`` its end:

* the *head* (new-window records whose row time, an event's start or a message's
  date, is before ``E``: the new start's day and the events still running across
  it) is inferred afresh: it opens the new pass, so it needs nothing else;
* everything dated on later days comes from the checkpoint: per-day counter deltas
  (``days``, kept by :func:`infer_tracked`), peers' per-day summaries
  (``rules.history.drop_days``: later days' sums as they were, so floats stay
  bit for bit), leaders' contacts and subject hits by their time;
* (1) a thread key whose first mail was before ``E`` takes the head's first time,
  or is dropped when its latest mail (``MessageState.last``) is before ``E`` too;
  otherwise its first in-window mail is somewhere after ``E``: it is kept (its
  time replaced by ``E``, only ever compared with later mail). A mail after ``E``
  that only a "Re:" made a reply (``MessageState.candidates``, each with the
  previous time of each of its threads) stays one if one of its threads has a mail
  in the new window before it; else it stops being one (:func:`_flipped`): its
  threads' first time is its own, and its day is inferred again (``Source.day``)
  with the new window's threads and series, the rows of the peers it names put in
  place of that day's (:func:`_reclassify`, ``rules.history.reopen_day``; only that
  day's records naming those peers are inferred again: the others' rows do not
  change). Refused
  if it shares its second with the mail it answered (which came first is unknown);
* (2) open threads: the checkpoint keeps none older than the reciprocity window
  as of its horizon, nor does a full pass; older ones cannot change which newer
  ones a reply closes (the latest open one goes first), and an owner's mail that
  stops being a reply had closed, at most, a thread opened before the window. So
  when ``E`` is before that window only (1)'s peers' mails matter: refused if one
  that stops being a reply leaves a thread open inside it, or becomes news to
  celebrate. When ``E`` is inside it (a retention shorter than the reciprocity
  window), threads opened before the start go, and a thread the head leaves open
  that the checkpoint does not hold was closed later, as in the old pass, when that
  pass opened it too (:func:`_closed_since`); refused when the mail that opens it
  stopped being a reply (the old pass opened nothing: whether a later reply closes
  it is not known here) or its (peer, subject) has such a mail;
* (3) a series whose first occurrence was before ``E`` takes the head's, or is
  dropped when its latest occurrence (``EventState.last``) is before ``E``;
  otherwise its first occurrence after ``E`` (``Source.recurring``, read until
  found) gains the initiative, and its day is inferred again as in (1);
* (4) ``owner_seen`` and ``owner_records`` are kept as flags (``rules.checkpoint``);
  refused if no day left in the window adds to them while the checkpoint's were set.

What it reads: the head, plus one day per changed reply or series (a few a week
on the demo; of each, only the records naming the changed records' people are
inferred), plus recurring events from ``E`` to each moved series' next
occurrence. The result is handed to the engine in memory, uncompacted
(``rules.checkpoint.Pass``). Refusals are logged by the worker (``worker/checkpoint.py``) with
their reason; ``benchmarks/digest_bench.py --aged`` counts them over weeks of a
store older than its retention, ``tests/rules/test_rebase.py`` over random
two-year histories (none at a 300-day retention; most weeks at 100 days, shorter
than the reciprocity window).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from itertools import groupby
from typing import Protocol

from peerpulse.connectors.records import EventInstance, MessageMeta
from peerpulse.rules.checkpoint import Pass, hand_over, restore
from peerpulse.rules.history import DAY, bucket_of, drop_days, reopen_day
from peerpulse.rules.identity import Identity
from peerpulse.rules.inference import EventState, Hooks, MessageState, infer_events, infer_messages
from peerpulse.rules.peers import Directory
from peerpulse.rules.ruleset import RuleSet
from peerpulse.rules.tally import Ledger

# Counter keys besides the rules' (never a rule name: rules are dotted words).
READ, OWNER, SEEN = "\0read", "\0owner", "\0seen"


class Refused(ValueError):
    """The re-base cannot be exact for these records (the reason says which case):
    the digest reads every record instead."""


class Source(Protocol):
    """The few records a re-base reads besides the head (the worker's store queries),
    all inside the new window and before the checkpoint's horizon."""

    def day(self, day: int, naming: Callable[[str], bool] | None = None) -> tuple[
            Iterable[EventInstance], Iterable[MessageMeta]]:
        """The events starting on ``day`` (UTC) and the messages dated on it; with
        ``naming``, the messages with a sender, To or Cc address it holds true for
        (a store tests it before decoding; more may come: they are filtered again)."""
        ...

    def recurring(self, start_from: float) -> Iterable[EventInstance]:
        """Recurring events starting from ``start_from`` on, in start order (read lazily:
        the re-base stops once it has what it looks for)."""
        ...


def _snapshot(ledger: Ledger) -> dict[str, int]:
    found = dict(ledger.counts)
    found[OWNER] = ledger.owner_records
    return found


def _add(days: dict[int, dict[str, int]], day: int, before: dict[str, int],
         after: dict[str, int]) -> None:
    entry = days.setdefault(day, {})
    for key, value in after.items():
        delta = value - before.get(key, 0)
        if delta:
            entry[key] = entry.get(key, 0) + delta


def infer_tracked(
    events: Iterable[EventInstance], messages: Iterable[MessageMeta], identity: Identity,
    rules: RuleSet, ledger: Ledger, now: datetime, hooks: Hooks | None,
    event_state: EventState, message_state: MessageState,
) -> None:
    """The pass over ``events`` then ``messages`` (as ``rules.engine`` makes it), with
    what each day added to every counter kept in the states' ``days``: events by the
    day they start, one pass; messages one day at a time (``owner_seen`` and the
    records read are added when a call returns)."""
    infer_events(_tracked_events(events, ledger, event_state), identity, rules, ledger,
                 now, hooks, event_state)
    days = message_state.days
    for day, group in groupby(messages, key=lambda m: math.floor(m.timestamp.timestamp() / DAY)):
        before = _snapshot(ledger)
        before[READ], before[SEEN] = message_state.read, message_state.owner_seen
        infer_messages(group, identity, rules, ledger, now, message_state)
        after = _snapshot(ledger)
        after[READ], after[SEEN] = message_state.read, message_state.owner_seen
        _add(days, day, before, after)


def _tracked_events(events: Iterable[EventInstance], ledger: Ledger,
                    state: EventState) -> Iterator[EventInstance]:
    """``events`` as they are, noting each start day's counter deltas: a day ends when
    the first event of the next is asked for (the previous one is then classified)."""
    day: int | None = None
    before: dict[str, int] = {}
    read = 0
    for event in events:
        start_day = math.floor(event.start.timestamp() / DAY)
        if start_day != day:
            if day is not None:
                _close(state.days, day, before, ledger, read)
            day, before, read = start_day, _snapshot(ledger), 0
        read += 1
        yield event
    if day is not None:
        _close(state.days, day, before, ledger, read)


def _close(days: dict[int, dict[str, int]], day: int, before: dict[str, int], ledger: Ledger,
           read: int) -> None:
    after = _snapshot(ledger)
    after[READ] = before.get(READ, 0) + read
    _add(days, day, before, after)


def _sum(days: Iterable[dict[str, int]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for entry in days:
        for key, value in entry.items():
            total[key] = total.get(key, 0) + value
    return total


def rebase(
    state: bytes, directory: Directory, identity: Identity, rules: RuleSet, now: datetime,
    since: float, head_events: Iterable[EventInstance], head_messages: Iterable[MessageMeta],
    source: Source,
) -> Pass:
    """The checkpoint ``state`` as one pass over the window starting at ``since`` keeps
    it (same horizon), handed over in memory (``rules.checkpoint.Pass``: resumed once;
    ``rules.checkpoint.to_bytes`` gives the checkpoint it stands for). ``head_events``:
    the events ending at or after ``since`` that start before the end of its day
    (start order); ``head_messages``: the messages
    from ``since`` to the end of its day (time order); ``source`` the days a changed
    reply or series initiative falls on. Raises :class:`Refused`."""
    ledger, events, messages = restore(state, directory)
    day = math.floor(since / DAY)
    end = (day + 1) * DAY
    through = 2 * day + 1  # the last bucket key of the day (its ``done`` bucket)
    latest = max((r[0] for e in ledger.persons.values() for r in e.interactions),
                 default=0.0)
    if messages.last:  # as capture() computes it
        latest = max(latest, max(messages.last.values()))
    cut = latest - rules.model.reciprocity.window_days * DAY

    head = Ledger(directory)
    head_ev, head_msg = EventState(), MessageState()
    head_mail = list(head_messages)  # one day's: looked at again by _open_threads
    infer_tracked(head_events, head_mail, identity, rules, head, now, None, head_ev,
                  head_msg)

    threads, last = _threads(messages, head_msg, end)
    flipped = _flipped(messages.candidates, since, end)
    if end > cut:
        _open_threads(ledger, messages, head, head_msg, since, end, cut, head_mail, flipped)
    for at, keys in flipped.values():
        for key in keys:  # its first mail in the new window (no earlier one is in it)
            threads[key] = at
    candidates: dict[tuple[str, str], list[tuple[float, float, str]]] = {}
    for key, found in head_msg.candidates.items():
        candidates[key] = list(found)
    for key, found in messages.candidates.items():
        later = [c for c in found if c[0] >= end and c[2] not in flipped]
        if later:
            candidates.setdefault(key, []).extend(later)
    series_first, series_last, moved, attending = _series(
        events, head_ev, end, identity, rules, now, source, directory)

    event_days = {d: c for d, c in events.days.items() if d > day}
    event_days.update(head_ev.days)
    message_days = {d: c for d, c in messages.days.items() if d > day}
    message_days.update(head_msg.days)
    ev_total, msg_total = _sum(event_days.values()), _sum(message_days.values())
    owner = ev_total.get(OWNER, 0) + msg_total.get(OWNER, 0)
    seen = msg_total.get(SEEN, 0)
    if (ledger.owner_records and not owner) or (messages.owner_seen and not seen):
        raise Refused("owner: no day left in the window names the owner")

    out = Ledger(directory)
    counts = _sum((ev_total, msg_total))
    out.counts.update({k: v for k, v in sorted(counts.items()) if k[0] != "\0" and v})
    out.owner_records = min(owner, 1)
    for email, contacts in ledger.leader_contacts.items():
        kept = [*head.leader_contacts.get(email, ()), *(c for c in contacts if c[0] >= end)]
        out.leader_contacts.setdefault(email, []).extend(kept)
    emails = [*ledger.persons, *(e for e in head.persons if e not in ledger.persons)]
    for email in emails:
        old = ledger.persons.get(email)
        new = head.persons.get(email)
        target = out.person(email)
        rows = [r for r in old.interactions if bucket_of(r) > through] if old else []
        # in place: a peer's list is also the ledger's ``peer_rows`` entry
        target.interactions[:0] = [*(new.interactions if new else ()), *rows]
        if old is not None and old.compact is not None:
            target.compact = drop_days(old.compact, through)
        target.subject_hits.extend([
            *(new.subject_hits if new else ()),
            *(h for h in (old.subject_hits if old else ()) if h[0] >= end)])
        if old is not None:
            target.open_threads.update(old.open_threads)
            target.mine_open.update(old.mine_open)
    initiated = events.initiated | head_ev.initiated
    changed = {rid for rid in flipped} | {found[1] for found in moved.values()}
    # day -> the people the changed records of that day name: a mail's threads are one
    # per person it passed between (its sender, or every recipient of the owner's)
    named: dict[int, set[str]] = {}
    for at, keys in flipped.values():
        named.setdefault(math.floor(at / DAY), set()).update(key[0] for key in keys)
    for start, rid in moved.values():
        named.setdefault(math.floor(start / DAY), set()).update(attending[rid])
    for again in sorted(named):
        prefill = dict(messages.threads)
        for _at, keys in flipped.values():
            for key in keys:
                prefill[key] = threads[key]
        initiated |= _reclassify(out, again, changed, named[again], source, identity, rules,
                                 now, dict(series_first), prefill, directory, cut)
    ev_out = EventState(
        read=ev_total.get(READ, 0), series_first=series_first,
        initiated=initiated, last=series_last, days=event_days)
    msg_out = MessageState(
        read=msg_total.get(READ, 0), owner_seen=min(seen, 1), threads=threads,
        open_ids=messages.open_ids, open_keys=messages.open_keys, last=last,
        candidates=candidates, days=message_days, mine_keys=messages.mine_keys)
    return hand_over(out, ev_out, msg_out, rules)


def _reclassify(
    out: Ledger, day: int, changed: set[str], named: set[str], source: Source,
    identity: Identity, rules: RuleSet, now: datetime,
    series_first: dict[str, tuple[float, str]], threads: dict[tuple[str, str], float],
    directory: Directory, cut: float,
) -> set[str]:
    """Day ``day``'s records that name someone in ``named`` (everyone a ``changed``
    record names) inferred again with the new window's series starts and threads,
    their rows put in place of the day's old ones for every peer a ``changed`` record
    names (that peer's other records of the day classify as before and come back
    unchanged). The day's other records are not inferred: no row of theirs changes.

    Why a subset of the day is enough: with the threads' first times given
    (``threads``: every key's earliest mail in the new window, whatever the day
    holds) and the series' first occurrences given, a record's rows depend on that
    record alone; a peer's rows of the day come from the records naming them, all
    of which are here. Open threads are the exception (an owner's reply closes a
    thread by its headers, whoever it is addressed to), and only a refusal reads
    them: with fewer records fewer close, so this refuses at least when the whole
    day would, never less.

    A mail that stops being a reply asks for an answer, the peer's of the owner and
    the owner's of the peer: refused if it leaves a thread open inside the
    reciprocity window (``cut`` on: whether a later reply closes it is not known
    here; with a retention longer than that window such a mail is older and this
    never happens) or becomes news to celebrate. The thread it closed, as a reply,
    left the window: it closes nothing in either pass."""
    resolve = identity.resolve

    def naming(address: str) -> bool:
        return resolve(address) in named

    day_events, day_messages = source.day(day, naming)
    events = [e for e in day_events if _names_event(e, named, resolve)]
    messages = [m for m in day_messages if _names_message(m, named, resolve)]
    scratch = Ledger(directory)
    ev, msg = EventState(series_first=series_first), MessageState(threads=threads)
    infer_events(events, identity, rules, scratch, now, None, ev)
    infer_messages(messages, identity, rules, scratch, now, msg)
    for entry in scratch.persons.values():
        if any(at >= cut and mid in msg.open_ids for mid, at in entry.open_threads.items()):
            opened = [m for m in messages if m.message_id in entry.open_threads
                      and m.source_id in changed]
            if opened:
                raise Refused(f"thread: {opened[0].source_id} stops being a reply and asks")
        if any(at >= cut for at in entry.mine_open.values()):
            opened = [m for m in messages if m.message_id in entry.mine_open
                      and entry.mine_open[m.message_id] >= cut and m.source_id in changed]
            if opened:
                raise Refused(f"thread: the owner's {opened[0].source_id} stops being a reply "
                              "and asks")
        if any(rid in changed for _at, _subject, rid in entry.subject_hits):
            raise Refused("thread: a mail that stops being a reply becomes news to celebrate")
    key = 2 * day
    for email, rows in scratch.peer_rows.items():
        if not any(r[3] in changed for r in rows):
            continue
        if email not in named:  # never: a changed record's people are all named
            raise Refused(f"reclassify: {email} not among the people to read again")
        target = out.person(email)
        if target.compact is not None:
            target.compact = reopen_day(target.compact, key)
        target.interactions[:] = [
            *(r for r in target.interactions if bucket_of(r) != key),
            *(r for r in rows if bucket_of(r) == key)]
    return ev.initiated


def _names_event(event: EventInstance, people: set[str], resolve: Callable[[str], str]) -> bool:
    """Whether ``event`` names someone in ``people`` (organizer or any attendee, as
    ``rules.inference.participants_of`` resolves them; resources too: more is safe)."""
    if event.organizer and resolve(event.organizer) in people:
        return True
    return any(resolve(a.email) in people for a in event.attendees)


def _names_message(message: MessageMeta, people: set[str],
                   resolve: Callable[[str], str]) -> bool:
    """Whether ``message`` passed between the owner and someone in ``people``
    (its sender, or anyone in To or Cc)."""
    if message.sender and resolve(message.sender) in people:
        return True
    return any(resolve(a) in people for a in (*message.to, *message.cc))


def _open_threads(ledger: Ledger, old: MessageState, head_ledger: Ledger,
                  head: MessageState, since: float, end: float, cut: float,
                  head_mail: list[MessageMeta],
                  flipped: dict[str, tuple[float, list[tuple[str, str]]]]) -> None:
    """Dependency (2) when the new start is inside the reciprocity window (a retention
    shorter than it): threads opened before ``since`` go. One the head leaves open
    stays as the checkpoint has it (closings after the head are the same); one the
    checkpoint does not hold was closed after the head, or is open only now (a mail
    that stopped being a reply): :func:`_closed_since` tells which, or refuses."""
    opened = {mid: peer for mid, peer in head.open_ids.items()
              if mid not in old.open_ids and head_ledger.persons[peer].open_threads[mid] >= cut}
    if opened:
        key_of = {mid: key for key, mids in head.open_keys.items() for mid in mids
                  if mid in opened}
        _closed_since([(mid, key_of.get(mid)) for mid in opened], old, head, since, end,
                      head_mail, flipped)
    # the owner's threads, the same way: one the head leaves open that the checkpoint
    # does not hold was answered after the head, or is open only now
    mine: list[tuple[str, tuple[str, str] | None]] = []
    for peer, entry in head_ledger.persons.items():
        held = ledger.persons[peer].mine_open if peer in ledger.persons else {}
        new = {mid for mid, at in entry.mine_open.items() if at >= cut and mid not in held}
        if new:
            key_of = {mid: key for key, mids in head.mine_keys.items() if key[0] == peer
                      for mid in mids if mid in new}
            mine.extend((mid, key_of.get(mid)) for mid in new)
    if mine:
        _closed_since(mine, old, head, since, end, head_mail, flipped)
    gone = {mid for mid, peer in old.open_ids.items()
            if (at := ledger.persons[peer].open_threads.get(mid)) is not None and at < since}
    for mid in gone:
        peer = old.open_ids.pop(mid)
        ledger.persons[peer].open_threads.pop(mid, None)
    for entry in ledger.persons.values():
        for mid in [m for m, at in entry.open_threads.items() if at < since]:
            del entry.open_threads[mid]
    for key, mids in list(old.open_keys.items()):
        mids[:] = [m for m in mids if m not in gone]
        if not mids:
            del old.open_keys[key]
    for entry in ledger.persons.values():
        for mid in [m for m, at in entry.mine_open.items() if at < since]:
            del entry.mine_open[mid]
    for key, mids in list(old.mine_keys.items()):
        still = ledger.persons[key[0]].mine_open if key[0] in ledger.persons else {}
        mids[:] = [m for m in mids if m in still]
        if not mids:
            del old.mine_keys[key]


def _closed_since(opened: list[tuple[str, tuple[str, str] | None]], old: MessageState,
                  head: MessageState, since: float, end: float, head_mail: list[MessageMeta],
                  flipped: dict[str, tuple[float, list[tuple[str, str]]]]) -> None:
    """Threads the head leaves open that the checkpoint does not hold (Message-ID and
    its (peer, subject), if any): each is left out (closed, as in the checkpoint) when
    the old pass opened it too, else refused. The same for a peer's thread (the owner
    closes it) as for the owner's (the peer closes it), with "reply" and "opens" meaning
    the same in both directions.

    The old pass saw the same mail; it opened a thread there too unless it was a
    reply there, which, having no reply headers now, it could only be by its "Re:"
    (then it is among the old reply candidates of its (peer, subject)). Opened and
    absent from the checkpoint (not pruned: it is inside the reciprocity window),
    it was closed before the horizon: by a reply's headers, the same in both passes,
    or by the subject of an owner's "Re:", which closes the latest thread still open
    of that (peer, subject). The two passes' lists of that (peer, subject) differ only
    by the threads opened before ``since`` (older: they never come first) and by
    mails that stopped being replies (opened in the new pass alone, or, the owner's,
    closing nothing there): refused when that (peer, subject) has one of those, in
    the head or after it; otherwise the same reply closes it in the new pass."""
    ids = {mid for mid, _key in opened}
    rid_of: dict[str, str] = {}
    for m in head_mail:
        if m.message_id in ids:
            if m.message_id in rid_of:
                raise Refused("open threads: two mails of the head share a Message-ID")
            rid_of[m.message_id] = m.source_id
    for mid, key in opened:
        if mid not in rid_of:  # never: the head opened it
            raise Refused("open threads: a thread of the head without its mail")
        if key is None:
            continue  # no subject: only a reply's headers close it, alike in both passes
        found = old.candidates.get(key, ())
        if any(c[2] == rid_of[mid] for c in found):
            raise Refused("open threads: a mail of the head stopped being a reply and asks")
        still = {c[2] for c in head.candidates.get(key, ())}
        for at, _previous, rid in found:
            if at >= since and (rid in flipped if at >= end else rid not in still):
                raise Refused("open threads: its subject has a mail that stopped being "
                              "a reply")


def _flipped(candidates: dict[tuple[str, str], list[tuple[float, float, str]]], since: float,
             end: float) -> dict[str, tuple[float, list[tuple[str, str]]]]:
    """Dependency (1): the mails after the head that were replies only through threads
    whose earlier mails all left the window: record id -> (time, its threads)."""
    found: dict[str, tuple[float, list[tuple[str, str]], bool, bool]] = {}
    for key, entries in candidates.items():
        for at, previous, rid in entries:
            if at < end:
                continue
            _, keys, answered, unsure = found.get(rid, (at, [], False, False))
            keys.append(key)
            found[rid] = (at, keys, answered or since <= previous < at,
                          unsure or previous == at)
    flips: dict[str, tuple[float, list[tuple[str, str]]]] = {}
    for rid, (at, keys, answered, unsure) in found.items():
        if answered:
            continue
        if unsure:
            raise Refused(f"thread: {rid} shares its second with the mail it answered")
        flips[rid] = (at, keys)
    return flips


def _threads(old: MessageState, head: MessageState, end: float) -> tuple[
        dict[tuple[str, str], float], dict[tuple[str, str], float]]:
    """Dependency (1): each thread key's first time in the new window, or its absence."""
    threads: dict[tuple[str, str], float] = {}
    last: dict[tuple[str, str], float] = {}
    for key, first in old.threads.items():
        latest = old.last.get(key, first)
        if first >= end:
            threads[key] = first
        elif key in head.threads:
            threads[key] = head.threads[key]
        elif latest < end:
            continue  # every mail of the thread left the window (or is in no day kept)
        else:  # its first mail in the new window is after ``end``: kept at ``end``, only
            # ever compared with later mail (a mail it alone made a reply: _flipped)
            threads[key] = end
        last[key] = latest
    for key, first in head.threads.items():
        if key not in threads:
            threads[key], last[key] = first, head.last[key]
    return threads, last


def _series(
    old: EventState, head: EventState, end: float, identity: Identity, rules: RuleSet,
    now: datetime, source: Source, directory: Directory,
) -> tuple[dict[str, tuple[float, str]], dict[str, float], dict[str, tuple[float, str]],
           dict[str, set[str]]]:
    """Dependency (3): each series' first initiating occurrence in the new window; and
    the series whose first occurrence moved past the head (series -> (start, id)),
    found among the recurring events after it, and the peers counted in each of those
    occurrences (record id -> peers: whose rows of its day change)."""
    first: dict[str, tuple[float, str]] = {}
    last: dict[str, float] = {}
    wanted: set[str] = set()
    for series, found in old.series_first.items():
        latest = old.last.get(series, found[0])
        if found[0] >= end:
            first[series] = found
        elif series in head.series_first:
            first[series] = head.series_first[series]
        elif latest < end:
            continue
        else:
            wanted.add(series)
        last[series] = latest
    for series, found in head.series_first.items():
        if series not in first:
            first[series], last[series] = found, head.last[series]
    if not wanted:
        return first, last, {}, {}
    scratch = EventState()

    def until_found() -> Iterator[EventInstance]:
        for event in source.recurring(end):
            if wanted <= scratch.series_first.keys():
                return
            yield event

    seen = Ledger(directory)
    infer_events(until_found(), identity, rules, seen, now, None, scratch)
    moved = {series: scratch.series_first[series] for series in wanted
             if series in scratch.series_first}
    if len(moved) < len(wanted):
        raise Refused("series: a later occurrence recorded, none found")
    first.update(moved)
    rids = {rid for _start, rid in moved.values()}
    attending: dict[str, set[str]] = {rid: set() for rid in rids}
    for email, rows in seen.peer_rows.items():
        for row in rows:
            if row[3] in rids:
                attending[row[3]].add(email)
    return first, last, moved, attending
