"""The entry point the worker calls: records and rules in, digest and explanations out.

``compute`` streams the events and messages once (they may be generators over a
store of a million rows), keeps per-rule counters and per-peer evidence, then
scores peers and builds every section of the :class:`~rules.recommendations.Digest`.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time
from operator import itemgetter
from typing import Any
from zoneinfo import ZoneInfo

from peerpulse.connectors.records import EventInstance, MessageMeta, Person
from peerpulse.rules import sections
from peerpulse.rules.cadence import cadence_for, days_overdue, with_rhythm
from peerpulse.rules.checkpoint import Pass, capture, restore, to_bytes
from peerpulse.rules.cold import ColdPeers, ColdPool, PeerViews
from peerpulse.rules.coverage import DepartmentTally
from peerpulse.rules.explain import Explanation
from peerpulse.rules.forecast import fading
from peerpulse.rules.history import PeerHistory
from peerpulse.rules.identity import Identity, normalize
from peerpulse.rules.inference import (
    EventState,
    Exclusion,
    Hooks,
    Interaction,
    MessageState,
    infer_events,
    infer_messages,
    observe_hooks,
)
from peerpulse.rules.overrides import DONE_KIND, ActiveOverrides, Override, resolve
from peerpulse.rules.peers import Directory, SharedDirectory, build_directory, owner_directory
from peerpulse.rules.rebase import Source, infer_tracked, rebase
from peerpulse.rules.reciprocity import describe
from peerpulse.rules.recommendations import DepartmentCoverage, Digest
from peerpulse.rules.ruleset import RuleSet
from peerpulse.rules.scoring import days_until_below
from peerpulse.rules.slots import BusyCollector, free_slots, next_monday, week_window
from peerpulse.rules.tally import Ledger, PersonLedger
from peerpulse.rules.team_meeting import TeamMeeting, TeamMeetingDetector
from peerpulse.rules.views import Context, PeerView, cadence_reasons, recency_reason

#: A peer's rows in ``(at, record id)`` order (a C-level key: thousands of rows a digest).
_ROW_ORDER = itemgetter(0, 3)


@dataclass(frozen=True)
class EngineInputs:
    account: str
    owner: str
    owner_aliases: frozenset[str]
    timezone: str
    now: datetime  # aware
    period: str  # ISO week, "2026-W48"
    events: Iterable[EventInstance]
    messages: Iterable[MessageMeta]
    people: Sequence[Person]
    title_changes: Sequence[tuple[str, str | None, str | None, datetime]] = ()
    history: Mapping[str, Sequence[tuple[str, str]]] = field(default_factory=dict)
    working_hours: tuple[time, time] = (time(9), time(17))
    working_days: tuple[int, ...] = (0, 1, 2, 3, 4)
    collect_interactions: bool = False
    # No calendar source: "free" would only mean "unknown", so no slots are proposed.
    has_calendar: bool = True
    # snooze / done / never the manager gave (CLI or digest links), read from the store
    overrides: Sequence[Override] = ()
    # Incremental digest (rules.checkpoint): ``resume`` is a checkpoint of the pass over
    # every record before ``events``/``messages``; then the team meeting and busy time
    # come from ``hook_events`` (the recurring events of the team meeting's window,
    # the events overlapping the slots' week), not from the pass.
    resume: bytes | Pass | None = None  # a Pass: rules.rebase's, resumed once
    hook_events: tuple[Iterable[EventInstance], Iterable[EventInstance]] | None = None
    # With ``checkpoint``, the pass is kept after ``events`` + ``messages`` (in
    # ``EngineResult.checkpoint``) and goes on over ``tail_events`` + ``tail_messages``.
    checkpoint: bool = False
    tail_events: Iterable[EventInstance] = ()
    tail_messages: Iterable[MessageMeta] = ()
    # With ``ahead`` too, the pass goes on over ``mid_events`` + ``mid_messages`` (the
    # records between the two horizons, before the tail) and is kept again after them
    # (``EngineResult.ahead_checkpoint``): the next digest's shorter way, when it holds.
    ahead: bool = False
    mid_events: Iterable[EventInstance] = ()
    mid_messages: Iterable[MessageMeta] = ()
    # ``people`` resolved as far as no owner is needed (``peers.share_directory``), when
    # an organization's managers share one directory: used only if made from this very
    # ``people`` list and these rules; the result is the same as without it (issue 12).
    shared: SharedDirectory | None = None


@dataclass(frozen=True)
class EngineResult:
    digest: Digest
    rule_counts: Mapping[str, int]
    views: Mapping[str, PeerView]
    coverage: tuple[DepartmentCoverage, ...]
    team_meeting: TeamMeeting | None
    interactions: tuple[tuple[str, str, str], ...]  # (person, record id, kind); opt-in
    _ledger: Ledger
    _identity: Identity
    _ctx: Context
    checkpoint: bytes | None = None  # the pass before the tail (inputs.checkpoint)
    ahead_checkpoint: bytes | None = None  # the pass after the mid records (inputs.ahead)
    resumed: bool = False  # computed from inputs.resume
    # set by the worker: None when no record left the window since the checkpoint,
    # "rebased" when rules.rebase took them out, else why it could not (full read)
    rebase: str | None = None
    # set by the worker: the horizon of the checkpoint state resumed (epoch seconds)
    resumed_from: int | None = None

    def informing(self) -> list[str]:
        """The peers whose threads keep the owner informed (``rules.reciprocity``): no
        reciprocity entry either way; ``rules check`` lists them, so thresholds can be
        tuned on the stored data."""
        return sorted(email for email, view in self.views.items()
                      if sections.standing(view, self._ctx).informing)

    def informed(self) -> list[str]:
        """The peers the owner's threads keep informed (the other direction of
        :meth:`informing`): they seldom answer, and owe the owner nothing for it."""
        return sorted(email for email, view in self.views.items()
                      if sections.standing(view, self._ctx).streaming)

    def counted(self, email: str) -> list[tuple]:
        """Every interaction row of ``email`` the pass holds: all of them when the
        digest read every record (a resumed one holds only those after its checkpoint)."""
        return result_rows(self._ledger, email)

    def explain(self, email: str) -> Explanation:
        """Everything the engine knows about one person (any of their addresses)."""
        return _explain(self, email)


def compute(inputs: EngineInputs, rules: RuleSet) -> EngineResult:
    """Run the rules over the inputs. Pure: same inputs, same result."""
    zone = ZoneInfo(inputs.timezone)
    identity, directory = _who_is_who(inputs, rules)
    active = resolve(inputs.overrides, lambda e: identity.resolve(normalize(e)))
    ctx = Context(rules, zone, inputs.now, inputs.period, inputs.history, inputs.owner, active)
    busy = BusyCollector()
    monday = next_monday(inputs.period)
    team = TeamMeetingDetector(directory.reports, inputs.now, rules)
    hooks = Hooks(busy=busy, busy_window=week_window(monday, zone), series=team.observe)
    ledger, event_state, message_state = _start(inputs, directory, rules)
    pass_hooks = hooks if inputs.hook_events is None else None
    if inputs.checkpoint:  # kept: what each day adds is kept too (rules.rebase)
        infer_tracked(inputs.events, inputs.messages, identity, rules, ledger, inputs.now,
                      pass_hooks, event_state, message_state)
    else:
        infer_events(inputs.events, identity, rules, ledger, inputs.now, pass_hooks,
                     event_state)
        infer_messages(inputs.messages, identity, rules, ledger, inputs.now, message_state)
    kept = capture(ledger, event_state, message_state, rules) if inputs.checkpoint else None
    ahead = None
    if inputs.ahead:
        infer_tracked(inputs.mid_events, inputs.mid_messages, identity, rules, ledger,
                      inputs.now, pass_hooks, event_state, message_state)
        ahead = capture(ledger, event_state, message_state, rules)
    else:
        infer_events(inputs.mid_events, identity, rules, ledger, inputs.now, pass_hooks,
                     event_state)
        infer_messages(inputs.mid_messages, identity, rules, ledger, inputs.now,
                       message_state)
    infer_events(inputs.tail_events, identity, rules, ledger, inputs.now, pass_hooks,
                 event_state)
    infer_messages(inputs.tail_messages, identity, rules, ledger, inputs.now, message_state)
    if inputs.hook_events is not None:
        series_events, busy_events = inputs.hook_events
        observe_hooks(series_events, identity, inputs.now, Hooks(series=hooks.series))
        observe_hooks(busy_events, identity, inputs.now,
                      Hooks(busy=hooks.busy, busy_window=hooks.busy_window))
    events_read, messages_read = event_state.read, message_state.read
    _count_done(active, ledger, rules, inputs.now)
    team_meeting = team.result()
    views, cold = _views(directory, ledger, team_meeting, ctx)
    # The sections see the peers with something on record one by one and the rest
    # (most of an organization's directory) as one aggregate: rules.cold.
    ordered = [views[e] for e in sorted(views)]
    policy = rules.model.recommend

    def slots() -> tuple:
        if not inputs.has_calendar:
            return ()
        return free_slots(
            busy.blocks, monday, zone, inputs.working_hours, inputs.working_days,
            policy.slot_minutes, policy.preferred_start, policy.slots, not_before=inputs.now,
        )

    pick = sections.peer_of_the_week(ordered, ctx, slots, cold)
    skip = {pick.person.email} if pick else set()
    tallies = _tallies(ordered, ctx, cold)
    subject_hits = {e: p.subject_hits for e, p in ledger.persons.items() if p.subject_hits}
    owner_person = directory.people.get(identity.owner)

    def department_of(email: str) -> str | None:
        person = directory.people.get(email)
        return person.department if person else None

    # Records were read, yet none names the owner: a wrong owner address or alias.
    owner_missing = events_read + messages_read > 0 and ledger.owner_records == 0
    reconnect = sections.reconnect(ordered, ctx, skip)
    feedback = sections.feedback(
        ordered, ctx, frozenset(skip | {e.email for e in reconnect})
    )
    invitations = sections.invitations(
        ordered, team_meeting, department_of,
        owner_person.department if owner_person else None, ctx, cold,
    )
    contact = frozenset(
        skip | {e.email for e in reconnect} | {e.email for e in feedback}
        | {i.person.email for i in invitations}
    )
    reciprocity = sections.reciprocity(ordered, ctx, contact)
    celebrate = sections.celebrate(
        ordered, subject_hits, inputs.title_changes, ctx, identity.resolve, cold
    )
    named = contact | {r.person.email for r in reciprocity} | {c.person.email for c in celebrate}
    digest = Digest(
        account=inputs.account,
        period=inputs.period,
        generated_at=inputs.now.astimezone(zone).isoformat(timespec="seconds"),
        timezone=inputs.timezone,
        owner=identity.owner,
        peer_of_the_week=pick,
        reconnect=reconnect,
        reciprocity=reciprocity,
        celebrate=celebrate,
        coverage=sections.coverage(tallies, ctx),
        feedback=feedback,
        invitations=invitations,
        fading=fading(ordered, ctx, named),
        leaders=sections.leaders(ledger.leader_contacts, directory.people, ctx),
        stats={
            "events_read": events_read,
            "calendar": inputs.has_calendar,
            "messages_read": messages_read,
            "peers": len(views) + cold.total(),
            "peers_met": sum(1 for v in ordered if not v.score.never_met),
            "interactions": sum(v.score.interactions for v in ordered),
            "team_meeting": team_meeting.title if team_meeting else None,
            # No manager column: chain/report exclusions cannot apply; titles stand in.
            "management_chain_known": directory.chain_known,
            "owner_missing": owner_missing,
            "excluded": _mostly_excluded(ledger.counts, events_read + messages_read),
        },
    )
    if owner_missing:
        # Advice untuned to the owner's own interactions would be guesses presented
        # as facts: the digest carries only the warning (and the counts behind it).
        digest = Digest(
            account=digest.account, period=digest.period, generated_at=digest.generated_at,
            timezone=digest.timezone, owner=digest.owner, peer_of_the_week=None,
            stats=digest.stats,
        )
    collected: tuple[tuple[str, str, str], ...] = ()
    if inputs.collect_interactions:
        # every row: collect_interactions reads every record (no checkpoint)
        collected = tuple(
            (v.email, rid, kind) for v in ordered
            for _at, kind, _w, rid, *_ in sorted(result_rows(ledger, v.email),
                                                 key=lambda r: (r[0], r[3]))
        )
    return EngineResult(
        digest=digest,
        rule_counts=dict(sorted(ledger.counts.items())),
        views=PeerViews(views, cold),
        coverage=tuple(sections.all_coverage(tallies, ctx)),
        team_meeting=team_meeting,
        interactions=collected,
        _ledger=ledger,
        _identity=identity,
        _ctx=ctx,
        checkpoint=kept,
        ahead_checkpoint=ahead,
        resumed=inputs.resume is not None,
    )


def _who_is_who(inputs: EngineInputs, rules: RuleSet) -> tuple[Identity, Directory]:
    """Identity and directory: over the shared directory when one was given for these
    very people (no pass over the whole directory), else resolved here."""
    shared = inputs.shared
    if shared is not None and shared.people is inputs.people:
        found = owner_directory(shared, inputs.owner, inputs.owner_aliases, rules)
        if found is not None:
            return found
    identity = Identity(inputs.owner, inputs.owner_aliases, inputs.people, rules)
    return identity, build_directory(inputs.people, identity, rules)


def advance(inputs: EngineInputs, rules: RuleSet) -> bytes:
    """The pass of ``inputs.resume`` carried over ``events`` + ``messages`` and kept
    again, without computing a digest: the checkpoint :func:`compute` would keep with
    the same records before its tail. The worker moves a checkpoint forward between
    weekly digests with it, so the next digest's tail is days, not a week (issue 14).
    Records before the horizon are classified alike at any later ``now`` (what lets a
    digest's checkpoint be resumed a week on), so this holds the same pass."""
    identity, directory = _who_is_who(inputs, rules)
    ledger, event_state, message_state = _start(inputs, directory, rules)
    infer_tracked(inputs.events, inputs.messages, identity, rules, ledger, inputs.now, None,
                  event_state, message_state)
    return capture(ledger, event_state, message_state, rules)


def rebase_checkpoint(inputs: EngineInputs, rules: RuleSet, since: datetime,
                      source: Source) -> Pass:
    """The checkpoint ``inputs.resume`` as a pass over the retention window starting at
    ``since`` keeps it (``rules.rebase``): ``inputs.events`` and ``inputs.messages``
    are that window's head (the records of the day ``since`` falls on, and the events
    running across it); ``source`` reads the few other days it needs. Raises
    ``rules.rebase.Refused`` when it cannot be exact."""
    assert isinstance(inputs.resume, bytes)  # a stored checkpoint, not a handed-over pass
    identity, directory = _who_is_who(inputs, rules)
    return rebase(inputs.resume, directory, identity, rules, inputs.now, since.timestamp(),
                  inputs.events, inputs.messages, source)


def checkpoint_bytes(inputs: EngineInputs, rules: RuleSet) -> bytes:
    """The stored form of the pass ``inputs.resume`` hands over in memory (a
    :func:`rebase_checkpoint` result): the checkpoint it stands for, compacted; the
    pass is used up (tests compare it with a full pass's)."""
    assert isinstance(inputs.resume, Pass)
    _identity, directory = _who_is_who(inputs, rules)
    return to_bytes(inputs.resume, directory, rules)


def result_rows(ledger: Ledger, email: str) -> list[tuple]:
    entry = ledger.persons.get(email)
    return list(entry.interactions) if entry else []


def _start(
    inputs: EngineInputs, directory: Directory, rules: RuleSet
) -> tuple[Ledger, EventState, MessageState]:
    """A fresh pass, or the one a checkpoint kept (``inputs.resume``)."""
    if inputs.resume is None:
        return Ledger(directory), EventState(), MessageState()
    ledger, events, messages = restore(inputs.resume, directory)
    # A subject hit counts while inside the celebrate window, as one pass would keep it.
    since = inputs.now.timestamp() - rules.model.celebrate.window_days * 86400.0
    for entry in ledger.persons.values():
        if entry.subject_hits:
            entry.subject_hits[:] = [h for h in entry.subject_hits if h[0] >= since]
    return ledger, events, messages


def _views(
    directory: Directory, ledger: Ledger, team: TeamMeeting | None, ctx: Context
) -> tuple[dict[str, PeerView], ColdPeers]:
    """The views of the peers with something on record (an interaction, an upcoming
    meeting, an open thread, team meeting attendance) and of those outside the
    directory (``peers.include``), and the rest as :class:`~rules.cold.ColdPeers`.

    Visits the peers the pass touched, not every peer, when the directory is shared
    (``Directory.shared_cold``: its pool and cold views are kept per directory
    version); otherwise the pool is made here from the owner's peers."""
    peers = directory.peers
    shared = directory.shared_cold
    if shared is not None:
        pool = shared.pools.get(shared.key)
        if pool is None or pool.people is not shared.base:
            pool = shared.pools[shared.key] = ColdPool.of(shared.base)
        out: set[str] = set(shared.out)
        warm = set(shared.extra)
    else:
        pool = ColdPool.of({e: p for e, p in peers.items() if e in directory.people})
        out = set()
        warm = {e for e in peers if e not in directory.people}
    for email, entry in ledger.persons.items():
        if email in peers and not _nothing_on_record(entry):
            warm.add(email)
    if team:
        warm.update(e for e, n in team.attendance.items() if n and e in peers)
    views = {email: _view(email, peers[email], ledger.persons.get(email), team, directory, ctx)
             for email in warm}
    out |= warm
    cache: dict[str, Any] = directory.cold_views if directory.cold_views is not None else {}

    def cold_view(email: str, person: Person) -> PeerView:
        # Nothing on record: the view depends on the person and the rules alone, so a
        # shared directory keeps it for every owner (read-only from here on).
        found = cache.get(email)
        if found is None or found.person is not person:
            found = cache[email] = _view(email, person, None, None, directory, ctx)
        return found

    return views, ColdPeers(pool, out, cold_view)


def _nothing_on_record(entry: PersonLedger) -> bool:
    return (not entry.interactions and entry.compact is None and entry.upcoming is None
            and not entry.open_threads)


def _view(
    email: str, person: Person, entry: PersonLedger | None, team: TeamMeeting | None,
    directory: Directory, ctx: Context,
) -> PeerView:
    strength = ctx.rules.model.tie_strength
    rows = entry.interactions if entry else []
    rows.sort(key=_ROW_ORDER)
    # The same figures, bit for bit, whether some days come summarized from a
    # checkpoint or every row was read (rules.history).
    history = PeerHistory.build(entry.compact if entry else None, rows, ctx.rules)
    score = history.score(ctx.now_ts, ctx.rules)
    cadence = with_rhythm(
        cadence_for(person, directory.team_sizes.get(email), ctx.rules),
        history.day_times(), ctx.rules,
    )
    days_since = None if score.last_at is None else (
        ctx.today - ctx.local_date(score.last_at)).days
    window_from = ctx.now_ts - ctx.rules.model.reciprocity.window_days * 86400
    open_times = [at for at in entry.open_threads.values() if at >= window_from] if entry else []
    return PeerView(
        email=email,
        person=person,
        score=score,
        cadence=cadence,
        rows=history.recent(),
        days_since=days_since,
        overdue=days_overdue(days_since, cadence.days),
        upcoming=ctx.iso_date(entry.upcoming if entry else None),
        attendance=team.attendance.get(email, 0) if team else 0,
        fades_in=days_until_below(score.tie_strength, strength.dormant_below,
                                  strength.half_life_days),
        unanswered=len(open_times),
        open_latest=tuple(heapq.nlargest(2, open_times)),
        mine_unanswered=sum(at >= window_from for at in entry.mine_open.values()) if entry else 0,
        history=history,
        strength_at_last=0.0 if score.last_at is None else history.strength(score.last_at),
    )


def _count_done(active: ActiveOverrides, ledger: Ledger, rules: RuleSet, now: datetime) -> None:
    """Each ``done`` is one interaction on the day it was given (never in the future),
    neither side's initiative, so reciprocity is not skewed by a click."""
    weight = rules.model.kinds.weights.marked_done
    for email, times in active.done.items():
        for at in times:
            if at > now:
                continue
            ledger.count(email, at.timestamp(), DONE_KIND, weight,
                         f"override:done:{at.isoformat(timespec='seconds')}", False, False, False)


EXCLUDED_SHARE_TO_REPORT = 0.5


def _mostly_excluded(counts: Mapping[str, int], read: int) -> dict[str, Any] | None:
    """When noise rules left out most records read (say, all list mail), how many and by
    which rules, so an empty-looking digest explains itself (issue 9, item 10)."""
    noise = {rule: n for rule, n in counts.items() if rule.startswith("noise.") and n}
    total = sum(noise.values())
    if read <= 0 or total < EXCLUDED_SHARE_TO_REPORT * read:
        return None
    top = sorted(noise.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
    return {"records": total, "read": read, "rules": [[rule, n] for rule, n in top]}


def _tallies(views: Sequence[PeerView], ctx: Context,
             cold: ColdPeers | None = None) -> list[DepartmentTally]:
    tallies: dict[str, DepartmentTally] = {}
    now_ts = ctx.now_ts

    def tally_of(department: str | None) -> DepartmentTally:
        key = department or "(no department)"
        tally = tallies.get(key)
        if tally is None:
            function = ctx.rules.key_function(department)  # None for None and "" alike
            tally = tallies[key] = DepartmentTally(key, function.name if function else None)
        return tally

    for v in views:
        tally = tally_of(v.department)
        if v.history is None:
            tally.add(v.rows, now_ts, upcoming=v.upcoming is not None)
        elif v.score.last_at is None and v.upcoming is None:
            tally.peers += 1  # add_history() with nothing on record
        else:
            tally.add_history(v.history, now_ts, v.score.last_at,
                              upcoming=v.upcoming is not None)
    if cold is not None:  # nothing on record: add_history() would only count them
        for department in cold.departments():
            n = cold.count(department)
            if n:
                tally_of(department).peers += n
    return list(tallies.values())


def _explain(result: EngineResult, email: str) -> Explanation:
    identity, ctx, ledger = result._identity, result._ctx, result._ledger
    canonical = identity.resolve(normalize(email))
    directory = ledger.directory
    person = directory.people.get(canonical) or directory.peers.get(canonical)
    entry = ledger.persons.get(canonical)
    view = result.views.get(canonical)
    notes: list[str] = []
    if canonical != normalize(email):
        notes.append(f"{email} is an alias of {canonical}")
    verdict_obj = directory.verdict(canonical)
    verdict = "peer"
    if verdict_obj is not None:
        verdict = f"not a peer: {verdict_obj.rule} ({verdict_obj.detail})"
    if person is None:
        notes.append("not in the directory: only per-rule counts are kept for unknown addresses")
    overrides = ctx.overrides.by_email.get(canonical, ())
    notes += [f"override: {o.describe()}" for o in overrides]
    if ctx.blocked(canonical):
        notes.append("left out of every digest section (never or snoozed)")

    def when(ts: float) -> datetime:
        return datetime.fromtimestamp(ts, ctx.zone)

    counted = tuple(
        Interaction(canonical, when(at), kind, weight, rid, me, reply, them)
        for at, kind, weight, rid, me, them, reply in (entry.interactions if entry else [])
    )
    excluded = tuple(
        Exclusion(rid, rule, detail, canonical, when(at))
        for at, rid, rule, detail in (entry.exclusions if entry else [])
    )
    base = dict(
        email=canonical,
        name=(person.name if person and person.name else canonical),
        department=person.department if person else None,
        title=person.title if person else None,
        is_peer=view is not None,
        verdict=verdict,
        counted=counted,
        excluded=excluded,
        excluded_total=entry.excluded_total if entry else 0,
        half_life_days=ctx.rules.model.tie_strength.half_life_days,
        zone=str(ctx.zone),
        notes=tuple(notes),
    )
    if view is None:
        return Explanation(**base)  # type: ignore[arg-type]
    return Explanation(
        **base,  # type: ignore[arg-type]
        tie_strength=view.score.tie_strength,
        cadence_days=view.cadence.days,
        cadence_source=view.cadence.source,
        last_interaction=ctx.iso_date(view.score.last_at),
        days_since=view.days_since,
        days_overdue=view.overdue,
        initiated_by_me=view.score.initiated_by_me,
        initiated_by_them=view.score.initiated_by_them,
        reciprocity=describe(sections.standing(view, ctx), ctx.rules),
        already_scheduled=view.upcoming,
        team_meeting_attendance=view.attendance,
        reasons=(recency_reason(view), *cadence_reasons(view)),
        fades_in_days=view.fades_in,
        dormant_below=ctx.rules.model.tie_strength.dormant_below,
    )
