"""Records in, interactions out: the default semantics of docs/RULES.md, made code.

One pass over the events and one over the messages (both are streamed: the
worker hands in generators over the store). Every (person, record) pair either
becomes an interaction, written to the :class:`~rules.tally.Ledger`, or is
excluded and attributed to the rule that excluded it. People are resolved
through :class:`~rules.identity.Identity` first, so an alias counts once under
the canonical person.

The message loop is the hot path (a million rows): attribute reads, cached dict
lookups and a tuple append per interaction, nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from peerpulse.connectors.records import (
    HASHED,
    HASHED_REPLY,
    Attendee,
    EventInstance,
    EventStatus,
    MessageMeta,
    ResponseStatus,
    Transparency,
    split_reply_prefix,
)
from peerpulse.rules.identity import Identity
from peerpulse.rules.noise import (
    AddressNoise,
    MessageNoise,
    blocked_noise,
    event_noise,
    is_kept_subject,
)
from peerpulse.rules.ruleset import RuleSet
from peerpulse.rules.tally import Ledger, PersonLedger

DAY = 86400.0
UNKNOWN = "peers.not_in_directory"



@dataclass(frozen=True, slots=True)
class Interaction:
    """One counted interaction between the owner and a person."""

    person: str
    at: datetime
    kind: str
    weight: float
    record_id: str
    initiated_by_me: bool
    is_reply: bool
    initiated_by_them: bool = False


@dataclass(frozen=True, slots=True)
class Exclusion:
    """A record (or a person's part in it) that does not count, and the rule why."""

    record_id: str
    rule: str
    detail: str = ""
    person: str | None = None
    at: datetime | None = None


class Participant(NamedTuple):
    """Another person in a meeting. A NamedTuple, not a frozen dataclass: one is
    built per attendee of every event, and a tuple is several times cheaper."""

    email: str  # canonical
    response: ResponseStatus


@dataclass(slots=True)
class EventState:
    """What the event pass carries from one record to the next: read up to a point,
    kept, and resumed later over the records after it (``rules.checkpoint``)."""

    read: int = 0
    # series -> (earliest start, record id) of its initiating occurrences
    series_first: dict[str, tuple[float, str]] = field(default_factory=dict)
    series_of: dict[str, str] = field(default_factory=dict)  # initiating record id -> series
    initiated: set[str] = field(default_factory=set)  # peers credited with a series initiative
    # series -> start of its latest initiating occurrence: whether a series whose first
    # occurrence left the retention window still has one inside it (rules.rebase)
    last: dict[str, float] = field(default_factory=dict)
    # day (UTC, of the start) -> what that day's events added to every counter (rules.rebase)
    days: dict[int, dict[str, int]] = field(default_factory=dict)


@dataclass(slots=True)
class MessageState:
    """What the message pass carries from one record to the next (see EventState)."""

    read: int = 0
    owner_seen: int = 0  # messages naming the owner so far
    threads: dict[tuple[str, str], float] = field(default_factory=dict)
    open_ids: dict[str, str] = field(default_factory=dict)
    open_keys: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    # (peer, stripped subject) -> latest time; and (time, the thread's previous time,
    # record id) of each mail without reply headers that only a "Re:" and an earlier
    # mail made a reply: what a retention window moving past that mail changes
    # (rules.rebase)
    last: dict[tuple[str, str], float] = field(default_factory=dict)
    candidates: dict[tuple[str, str], list[tuple[float, float, str]]] = field(
        default_factory=dict)
    # day (UTC) -> what that day's messages added to every counter (rules.rebase)
    days: dict[int, dict[str, int]] = field(default_factory=dict)
    # (peer, stripped subject) -> Message-IDs of the owner's threads to that peer, for
    # exports without reply headers (the peer's "Re:" answers the latest one still open)
    mine_keys: dict[tuple[str, str], list[str]] = field(default_factory=dict)


@dataclass(slots=True)
class Hooks:
    """Optional observers of the event stream (slots and team meeting need them)."""

    busy: Callable[[float, float], None] | None = None  # (start, end) of an owner's busy block
    busy_window: tuple[float, float] = (0.0, 0.0)
    series: Callable[[EventInstance, list[Participant]], None] | None = None


def meeting_kind(size: int, title: str | None, rules: RuleSet) -> tuple[str, float]:
    """Kind and weight of a meeting of ``size`` people (owner included)."""
    kinds = rules.model.kinds
    weights = kinds.weights
    if size <= kinds.small_meeting_max_people and title and rules.lunch_titles.match(title):
        return "lunch", weights.lunch
    if size <= 2:
        return "one_on_one", weights.one_on_one
    if size <= kinds.small_meeting_max_people:
        return "small_meeting", weights.small_meeting
    smallest = kinds.small_meeting_max_people + 1
    return "large_meeting", weights.large_meeting * smallest / size


def participants_of(
    event: EventInstance, identity: Identity
) -> tuple[list[Participant], ResponseStatus | None, bool]:
    """Other people (canonical, deduplicated), the owner's answer, whether the owner organizes."""
    owner = identity.owner
    resolve = identity.resolve
    known = identity._map  # resolve() without the call for addresses already seen
    raw_organizer = event.organizer
    organizer = (known.get(raw_organizer) or resolve(raw_organizer)) if raw_organizer else None
    i_organize = organizer == owner
    my_response = event.self_response
    seen: dict[str, Participant] = {}
    accepted = ResponseStatus.ACCEPTED
    declined = ResponseStatus.DECLINED
    attendee: Attendee
    for attendee in event.attendees:
        if attendee.is_resource:
            continue
        email = known.get(attendee.email) or resolve(attendee.email)
        if email == owner:
            if attendee.is_organizer:
                i_organize = True
            if my_response is None:
                my_response = attendee.response
            continue
        response = accepted if attendee.is_organizer else attendee.response
        previous = seen.get(email)
        if previous is None or previous.response is declined:
            seen[email] = Participant(email, response)
    if organizer and organizer != owner and organizer not in seen:
        seen[organizer] = Participant(organizer, accepted)
    return list(seen.values()), my_response, i_organize


def meeting_size(event: EventInstance, other_people: int) -> int:
    """People in the meeting, me included, each counted once.

    Counted from the resolved participants, so a peer listed under an alias as
    attendee and under their main address as organizer is one person. Only when
    the source truncated the list (Google's attendeesOmitted, Graph's caps) does
    the reported ``attendee_count`` win, since then the list undercounts.
    """
    listed = sum(1 for a in event.attendees if not a.is_resource)
    resolved = other_people + 1
    if event.attendee_count > listed:
        return max(event.attendee_count, resolved)
    return resolved


def infer_events(
    events: Iterable[EventInstance],
    identity: Identity,
    rules: RuleSet,
    ledger: Ledger,
    now: datetime,
    hooks: Hooks | None = None,
    state: EventState | None = None,
) -> int:
    """Classify every event instance; returns how many were read.

    ``state`` carries the pass between calls: events fed in start order over
    several calls give the same ledger as one call over them all."""
    now_ts = now.timestamp()
    ahead_ts = now_ts + rules.model.recommend.already_scheduled_days * DAY
    organizing = rules.model.reciprocity.organizing_initiates
    max_people = rules.model.reciprocity.max_people
    hooks = hooks or Hooks()
    busy_lo, busy_hi = hooks.busy_window
    # A recurring series is initiated once, by its first occurrence; the rest are
    # meetings, not initiatives (a standing weekly 1:1 does not fill reciprocity).
    state = state if state is not None else EventState()
    series_first = state.series_first
    series_of = state.series_of
    series_last = state.last
    initiated = state.initiated
    read = 0
    for event in events:
        read += 1
        rid = event.source_id
        start = event.start.timestamp()
        people, my_response, i_organize = participants_of(event, identity)
        if i_organize or my_response is not None:
            ledger.owner_records += 1
        if hooks.busy and start < busy_hi and event.end.timestamp() > busy_lo:
            _observe_busy(event, my_response, i_organize, start, hooks)
        if hooks.series and i_organize and event.recurring and start < now_ts:
            hooks.series(event, people)
        size = meeting_size(event, len(people))
        verdict = event_noise(event, my_response, i_organize, size, len(people), rules)
        if verdict is not None:
            rule, detail = verdict
            ledger.rule(rule)
            for p in people:
                ledger.exclude(p.email, start, rid, rule, detail)
            continue
        kind, weight = meeting_kind(size, event.title, rules)
        if start >= now_ts:
            ledger.rule("events.future")
            if start < ahead_ts and kind != "large_meeting":
                for p in people:
                    if p.response is not ResponseStatus.DECLINED:
                        ledger.upcoming(p.email, start, kind)
            continue
        # Addressed to more than max_people (the others besides the organizer are
        # as many as the people besides me), a meeting is an announcement: no one's initiative.
        proposes = organizing and len(people) <= max_people
        by_me = proposes and i_organize
        organizer = identity.resolve(event.organizer) if proposes and event.organizer else None
        if event.recurring and (by_me or organizer):
            first = series_first.get(event.series_id)
            if first is None or (start, rid) < first:
                series_first[event.series_id] = (start, rid)
            series_of[rid] = event.series_id
            series_last[event.series_id] = start
        for p in people:
            if p.response is ResponseStatus.DECLINED:
                ledger.rule("noise.events.exclude_declined")
                ledger.exclude(p.email, start, rid, "noise.events.exclude_declined", "declined")
                continue
            by_them = organizer == p.email
            if ledger.count(p.email, start, kind, weight, rid, by_me, by_them, False) and (
                event.recurring and (by_me or by_them)
            ):
                initiated.add(p.email)
    if initiated:
        _initiate_series_once(ledger, initiated, series_of, series_first)
    state.read += read
    return read


def observe_hooks(
    events: Iterable[EventInstance], identity: Identity, now: datetime, hooks: Hooks
) -> None:
    """Feed ``hooks`` (busy time, the team meeting's series) from ``events`` alone, with
    the conditions :func:`infer_events` applies: for a digest resumed from a
    checkpoint, whose event pass does not see the events before it."""
    now_ts = now.timestamp()
    busy_lo, busy_hi = hooks.busy_window
    for event in events:
        start = event.start.timestamp()
        people, my_response, i_organize = participants_of(event, identity)
        if hooks.busy and start < busy_hi and event.end.timestamp() > busy_lo:
            _observe_busy(event, my_response, i_organize, start, hooks)
        if hooks.series and i_organize and event.recurring and start < now_ts:
            hooks.series(event, people)


def _initiate_series_once(
    ledger: Ledger, peers: set[str], series_of: dict[str, str],
    series_first: dict[str, tuple[float, str]],
) -> None:
    """Clear the initiative flags of every series occurrence but the first (order-independent)."""
    for email in peers:
        rows = ledger.person(email).interactions
        for i, row in enumerate(rows):
            series = series_of.get(row[3])
            if series is not None and series_first[series][1] != row[3]:
                rows[i] = (row[0], row[1], row[2], row[3], False, False, row[6])


def _observe_busy(
    event: EventInstance, my_response: ResponseStatus | None, i_organize: bool, start: float,
    hooks: Hooks,
) -> None:
    if event.status is EventStatus.CANCELLED:
        return
    if not i_organize and my_response is ResponseStatus.DECLINED:
        return
    if event.transparency is Transparency.FREE:
        return
    assert hooks.busy is not None
    hooks.busy(start, event.end.timestamp())


# A success belongs to the person the mail is about: congratulations and welcomes
# are about the recipient (often you, or your new hire), never the sender.
_ABOUT_SOMEONE_ELSE = re.compile(r"congrat|welcome|kudos|well done|thank", re.IGNORECASE)
ANNOUNCEMENT_MIN_RECIPIENTS = 3


def _senders_own_news(subject: str, is_reply: bool, recipients: int) -> bool:
    """Whether a celebrate subject is the sender's own news.

    Only an announcement the sender sends to many (at least
    ``ANNOUNCEMENT_MIN_RECIPIENTS`` in To/Cc, not a reply, not a 1:1) counts,
    and never a congratulation or welcome (those are about the recipient).
    """
    if is_reply or recipients < ANNOUNCEMENT_MIN_RECIPIENTS:
        return False
    return _ABOUT_SOMEONE_ELSE.search(subject) is None


def infer_messages(
    messages: Iterable[MessageMeta],
    identity: Identity,
    rules: RuleSet,
    ledger: Ledger,
    now: datetime,
    state: MessageState | None = None,
) -> int:
    """Classify every message; returns how many were read.

    ``state`` carries the pass between calls (threads seen, threads still open):
    messages fed in time order over several calls give the same ledger as one call.

    The hot path. Header noise is checked by :class:`MessageNoise` (the same rule
    list as :func:`message_noise`, each rule testing its cheap trigger first);
    peers' interactions are appended straight to their row lists; everything else
    goes through the ledger's methods.
    """
    now_ts = now.timestamp()
    weights = rules.model.kinds.weights
    w_sent, w_received, w_reply = weights.mail_sent, weights.mail_received, weights.reply_bonus
    first_initiates = rules.model.reciprocity.first_message_initiates
    max_people = rules.model.reciprocity.max_people
    celebrate = rules.celebrate_subjects
    celebrate_from = now_ts - rules.model.celebrate.window_days * DAY
    owner = identity.owner
    resolve = identity.resolve
    known = identity._map  # resolve() without the call for addresses already seen
    address_noise = AddressNoise(rules)
    state = state if state is not None else MessageState()
    threads = state.threads  # (peer, stripped subject) -> earliest time
    last = state.last
    candidates = state.candidates
    # Threads peers started, until the owner answers them: Message-ID -> peer, and
    # (peer, stripped subject) -> Message-IDs, for exports without reply headers.
    open_ids = state.open_ids
    open_keys = state.open_keys
    # The owner's threads to peers, until the peer answers: PersonLedger.mine_open, and
    # (peer, stripped subject) -> Message-IDs, as for the peers' threads above.
    mine_keys = state.mine_keys
    persons = ledger.persons
    check_blocked = bool(rules.blocked_addresses or rules.blocked_domains)
    message_noise = MessageNoise(rules)
    peer_rows = ledger.peer_rows
    peer_rows_of = ledger.peer_rows_of  # a peer's first row: their entry made then
    counts = ledger.counts
    rule = ledger.rule
    exclude = ledger.exclude
    not_a_peer = ledger.not_a_peer
    not_peer_rule = ledger.not_peer_rule
    read = 0
    owner_seen = 0
    owner_before = state.owner_seen
    for m in messages:
        read += 1
        rid = m.source_id
        at = m.timestamp.timestamp()
        to, cc = m.to, m.cc
        verdict = message_noise(m)
        if verdict is None and at > now_ts:
            verdict = ("mail.future", "dated in the future")
        raw = m.sender
        sender = (known.get(raw) or resolve(raw)) if raw else ""
        is_reply = bool(m.in_reply_to or m.references)
        if sender == owner:
            owner_seen += 1
            counterparts: list[str] = []
            for address in (*to, *cc):
                email = known.get(address) or resolve(address)
                if email != owner and email not in counterparts:
                    counterparts.append(email)
            if verdict is not None:
                rule(verdict[0])
                for email in counterparts:
                    exclude(email, at, rid, verdict[0], verdict[1])
                continue
            if not counterparts:
                rule("mail.no_one_else")
                continue
            answered = False
            # Only now: most mail stops before its subject matters (noise, not to me).
            prefixed, subject_key = _subject_key(m.subject)
            if subject_key:
                answered = prefixed and _answers(threads, counterparts, subject_key, at)
                if answered and not is_reply:
                    _candidate(candidates, last, counterparts, subject_key, at, rid)
                is_reply = is_reply or answered
                _remember(threads, last, counterparts, subject_key, at)
            if open_ids and is_reply:
                _close_threads(m, counterparts, subject_key if answered else "", open_ids,
                               open_keys, persons)
            # A new thread to at most max_people asks them for an answer (as a peer's
            # does of the owner, below): open until they answer it. Only one whose
            # answer could be seen without reply headers (it has a subject): else a
            # mailbox exported without them (Enron) would show every such thread
            # unanswered, a stream made of no signal.
            initiates = not is_reply and len(counterparts) <= max_people
            opens = m.message_id if initiates and subject_key else None
            row = (at, "mail_sent", w_sent + w_reply if is_reply else w_sent, rid,
                   first_initiates and initiates, False, is_reply)
            for email in counterparts:
                rows = peer_rows.get(email) or peer_rows_of(email)
                if rows is not None:
                    blocked = address_noise(email)
                    if blocked is None:
                        counts["kinds.mail_sent"] = counts.get("kinds.mail_sent", 0) + 1
                        rows.append(row)
                        if opens:
                            persons[email].mine_open[opens] = at
                            mine_keys.setdefault((email, subject_key), []).append(opens)
                        continue
                    rule(blocked[0])
                    exclude(email, at, rid, blocked[0], blocked[1])
                    continue
                if email in not_peer_rule:
                    not_a_peer(email, at, "mail_sent", rid)
                else:  # an address the directory does not know: only counted
                    counts[UNKNOWN] = counts.get(UNKNOWN, 0) + 1
            continue
        if verdict is None:
            verdict = address_noise(sender) if sender else ("mail.no_sender", "no sender")
        if verdict is not None:
            rule(verdict[0])
            if sender:
                exclude(sender, at, rid, verdict[0], verdict[1])
            if not (owner_seen or owner_before) and any(resolve(a) == owner for a in (*to, *cc)):
                owner_seen += 1  # only until the owner is found once: off the hot path
            continue
        to_me = False
        blocked_to: tuple[str, str] | None = None
        for address in (*to, *cc):
            email = known.get(address) or resolve(address)
            if email == owner:
                to_me = True
            elif check_blocked and blocked_to is None:
                blocked_to = blocked_noise(email, rules)
        if to_me:
            owner_seen += 1
        if blocked_to is not None:
            rule(blocked_to[0])
            exclude(sender, at, rid, blocked_to[0], "to " + blocked_to[1])
            continue
        if not to_me:
            rule("mail.not_addressed_to_me")
            exclude(sender, at, rid, "mail.not_addressed_to_me", "you are not in To or Cc")
            continue
        prefixed, subject_key = _subject_key(m.subject)
        by_subject = False
        if subject_key:
            # Remembered for any sender, peer or not: the owner's "Re:" to a report
            # with a peer in Cc answers the report's thread (issue 9, item 4).
            if not is_reply and prefixed and _answers(threads, (sender,), subject_key, at):
                is_reply = by_subject = True
                _candidate(candidates, last, (sender,), subject_key, at, rid)
            _remember(threads, last, (sender,), subject_key, at)
        rows = peer_rows.get(sender)
        if rows is None:
            rows = peer_rows_of(sender)
        if rows is None:
            if sender in not_peer_rule:
                not_a_peer(sender, at, "mail_received", rid)
            else:
                counts[UNKNOWN] = counts.get(UNKNOWN, 0) + 1
            continue
        if is_reply:
            mine = persons[sender].mine_open
            if mine:
                _answer_mine(m, sender, subject_key if by_subject else "", mine, mine_keys)
        counts["kinds.mail_received"] = counts.get("kinds.mail_received", 0) + 1
        # To more than max_people (me included), a new thread is an announcement: it
        # asks no one in particular for an answer, so it is neither an initiative
        # nor a thread left waiting for mine.
        asks = not is_reply and (
            len(to) + len(cc) <= max_people or _addressed(to, cc, known, resolve) <= max_people)
        rows.append((at, "mail_received", w_received + w_reply if is_reply else w_received, rid,
                     False, first_initiates and asks, is_reply))
        if asks and m.message_id:
            persons[sender].open_threads[m.message_id] = at
            open_ids[m.message_id] = sender
            if subject_key:
                open_keys.setdefault((sender, subject_key), []).append(m.message_id)
        subject = m.subject
        if celebrate and at >= celebrate_from and is_kept_subject(subject) and (
            _senders_own_news(subject or "", is_reply, len(set(to) | set(cc)))
        ) and celebrate.match(subject):
            ledger.person(sender).subject_hits.append((at, subject or "", rid))
    ledger.owner_records += owner_seen
    state.owner_seen += owner_seen
    state.read += read
    return read


_SUBJECT_KEYS: dict[str | None, tuple[bool, str]] = {}
_SUBJECT_KEYS_KEPT = 50_000


def _subject_key(subject: str | None) -> tuple[bool, str]:
    """(had a reply prefix, the key threads are matched by): the stripped subject, or
    the connector's hash of it (hashed without its prefixes); "" without a subject.

    A thread's mails share their subject, so each distinct one is split once (a
    bounded cache: a function of the subject alone; ~30,000 calls a weekly digest)."""
    found = _SUBJECT_KEYS.get(subject)
    if found is None:
        if len(_SUBJECT_KEYS) >= _SUBJECT_KEYS_KEPT:
            _SUBJECT_KEYS.clear()
        found = _SUBJECT_KEYS[subject] = _split_subject(subject)
    return found


def _split_subject(subject: str | None) -> tuple[bool, str]:
    if is_kept_subject(subject):
        return split_reply_prefix(subject or "")
    if subject:
        return (subject.startswith(HASHED_REPLY),
                subject.removeprefix(HASHED_REPLY).removeprefix(HASHED))
    return False, ""


def _close_threads(
    m: MessageMeta, counterparts: list[str], subject_key: str, open_ids: dict[str, str],
    open_keys: dict[tuple[str, str], list[str]], persons: dict[str, PersonLedger],
) -> None:
    """The owner's reply answers the peers' threads it names (In-Reply-To/References), or,
    without those headers, the latest open thread with its subject that it answers by
    ``Re:`` (per peer: an older thread with the same subject stays open)."""
    for ref in (m.in_reply_to, *m.references):
        peer = open_ids.pop(ref, None) if ref else None
        if peer is not None:
            persons[peer].open_threads.pop(ref, None)  # type: ignore[arg-type]
    if subject_key and not (m.in_reply_to or m.references):
        for email in counterparts:
            pending = open_keys.get((email, subject_key))
            while pending:
                message_id = pending.pop()
                if open_ids.pop(message_id, None) is not None:
                    persons[email].open_threads.pop(message_id, None)
                    break


def _answer_mine(m: MessageMeta, sender: str, subject_key: str, mine: dict[str, float],
                 mine_keys: dict[tuple[str, str], list[str]]) -> None:
    """A peer's reply answers the owner's threads to them that it names
    (In-Reply-To/References), or, without those headers, the latest one still open
    with its subject, which it answers by ``Re:``: :func:`_close_threads` the other way."""
    for ref in (m.in_reply_to, *m.references):
        if ref:
            mine.pop(ref, None)
    if subject_key:  # only set for a reply told by its "Re:" alone (no reply headers)
        pending = mine_keys.get((sender, subject_key))
        while pending:
            if mine.pop(pending.pop(), None) is not None:
                break


def _answers(threads: dict[tuple[str, str], float], peers: Iterable[str], key: str,
             at: float) -> bool:
    """Whether an earlier mail with this subject passed between the owner and any of ``peers``."""
    for peer in peers:
        first = threads.get((peer, key))
        if first is not None and first < at:
            return True
    return False


def _remember(threads: dict[tuple[str, str], float], last: dict[tuple[str, str], float],
              peers: Iterable[str], key: str, at: float) -> None:
    for peer in peers:
        thread = (peer, key)
        first = threads.get(thread)
        if first is None or at < first:
            threads[thread] = at
        last[thread] = at  # messages come in time order


def _candidate(candidates: dict[tuple[str, str], list[tuple[float, float, str]]],
               last: dict[tuple[str, str], float], peers: Iterable[str], key: str, at: float,
               rid: str) -> None:
    """A mail without reply headers made a reply by its "Re:" and an earlier mail of a
    thread: were the earlier mails of all its threads to leave the window, this one
    would stop being one. Noted with the latest earlier time of each thread."""
    for peer in peers:
        thread = (peer, key)
        candidates.setdefault(thread, []).append((at, last.get(thread, -1.0), rid))


def _addressed(to: Sequence[str], cc: Sequence[str], known: dict[str, str],
               resolve: Callable[[str], str]) -> int:
    """How many people a mail names in To and Cc, aliases of one person counted once."""
    return len({known.get(a) or resolve(a) for a in (*to, *cc)})
