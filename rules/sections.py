"""The digest's sections, each a small pure function of the peer views.

Every section respects the never and snooze lists; peer of the week and
reconnect leave out peers already scheduled; sections that name several people
spread them across departments (``max_per_department``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta

from peerpulse.connectors.records import Person
from peerpulse.rules.cold import ColdPeers, department_key
from peerpulse.rules.coverage import DepartmentTally, Trend, trend
from peerpulse.rules.history import day_of
from peerpulse.rules.reciprocity import Balance, Standing, assess, balance, may_be_informing
from peerpulse.rules.recommendations import (
    CelebrateEntry,
    DepartmentCoverage,
    Invitation,
    PeerOfTheWeek,
    PersonEntry,
    ReciprocityEntry,
    Slot,
)
from peerpulse.rules.scoring import MEETINGS, tie_strength
from peerpulse.rules.team_meeting import TeamMeeting
from peerpulse.rules.views import (
    KIND_PHRASES,
    Context,
    PeerView,
    cadence_reasons,
    entry,
    recency_reason,
)

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def period_monday(period: str) -> date:
    year, week = period.split("-W")
    return date.fromisocalendar(int(year), int(week), 1)


def _spread(views: Iterable[PeerView], limit: int, per_department: int) -> list[PeerView]:
    picked: list[PeerView] = []
    used: dict[str, int] = {}
    for view in views:
        if len(picked) >= limit:
            break
        department = (view.department or "").lower()
        if used.get(department, 0) >= per_department:
            continue
        used[department] = used.get(department, 0) + 1
        picked.append(view)
    return picked


def _lottery(period: str, email: str, owner: str = "") -> str:
    """A stable per-week tie-breaker, so equal candidates rotate instead of sorting by name.

    Seeded by the owner too: in an organization every manager would otherwise be
    sent to the same stranger in the same week.
    """
    return hashlib.sha256(f"{owner}|{period}|{email}".encode()).hexdigest()


def _contacts_by_department(views: Sequence[PeerView]) -> dict[str | None, int]:
    """Interactions on record per department: where the owner already has ties."""
    counts: dict[str | None, int] = {}
    for v in views:
        if v.score.interactions:  # a department no one met reads as 0 all the same
            counts[v.department] = counts.get(v.department, 0) + v.score.interactions
    return counts


# -- value at risk ---------------------------------------------------------------


def established(view: PeerView, ctx: Context) -> bool:
    """A tie with real history: interactions on enough separate days, or a real
    meeting (not a big one).

    Two messages a year ago are an acquaintance, not a tie worth keeping; they
    never appear as "reconnect" (issue 9, item 1). Nor is one afternoon's thread of
    three mails two years ago (seen on the Enron mail: 24 of 178 reconnect picks
    were such one- or two-day exchanges, "646 days overdue"): days are counted, not
    mails.
    """
    if not view.score.interactions:
        return False  # both minimums are at least 1 (rules.schema)
    kinds = view.score.kinds
    if not any(n for k, n in kinds.items() if k != "mail_received"):
        # Only their mail, never a reply or a meeting: they reached out, you never
        # did. That is no tie to reconnect ("you used to be in touch" would be
        # false); reciprocity names what they are owed (Enron: 21 of 116 picks).
        return False
    policy = ctx.rules.model.recommend
    needed = policy.reconnect_min_interactions
    if view.score.interactions >= needed and _contact_days(view) >= needed:
        return True
    met = sum(n for k, n in kinds.items() if k in MEETINGS and k != "large_meeting")
    return met >= policy.reconnect_min_meetings


def _contact_days(view: PeerView) -> int:
    """Days with contact, from the peer's per-day history (every day, also the ones a
    checkpoint summarized; ``view.rows`` holds only the newest rows)."""
    if view.history is not None:
        return view.history.contact_days()
    return len({day_of(row[0]) for row in view.rows})


def strength_at_last_contact(view: PeerView, ctx: Context) -> float:
    """The tie strength (decayed, as scoring defines it) on the day the tie went quiet."""
    last = view.score.last_at
    if last is None:
        return 0.0
    if view.history is not None:
        return view.strength_at_last
    return tie_strength([r for r in view.rows if r[0] <= last], last, ctx.rules)


def value_at_risk(view: PeerView, ctx: Context) -> float:
    """How much is lost by letting the tie slide: strength when it went quiet x cadences overdue.

    Overdue is counted up to ``reconnect_overdue_cap`` cadences, so length of
    silence alone cannot outrank a strong tie (the "longest silent" trap).
    Not overdue yet gives a small positive value ranked by strength only.
    """
    ratio = view.overdue_ratio or 0.0
    cap = ctx.rules.model.recommend.reconnect_overdue_cap
    factor = min(ratio, cap) if ratio > 0 else 0.01 / (1.0 - ratio)
    return strength_at_last_contact(view, ctx) * factor


# -- peer of the week ------------------------------------------------------------


def peer_of_the_week(
    views: Sequence[PeerView], ctx: Context, slots: Callable[[], tuple[Slot, ...]],
    cold: ColdPeers | None = None,
) -> PeerOfTheWeek | None:
    """One peer for an informal 1:1 or lunch, never repeated within the rotation window.

    ``cold``: the peers with nothing on record, not in ``views`` (rules.cold); they
    can only be first coffees, drawn by :func:`_first_coffee`."""
    policy = ctx.rules.model.recommend
    this_week = period_monday(ctx.period)
    recent: set[str] = set()
    already: str | None = None
    for past_period, email in ctx.history.get("peer_of_the_week", ()):
        if past_period == ctx.period:
            already = email
            continue
        weeks = (this_week - period_monday(past_period)).days // 7
        if 0 <= weeks < policy.rotation_weeks:
            recent.add(email)
    candidates = [
        v for v in views if not v.upcoming and not ctx.blocked(v.email) and v.email not in recent
    ]
    skip = ctx.blocked_emails | recent
    cold_left = cold.total(skip) if cold is not None else 0
    if not candidates and not cold_left:
        return None
    chosen = next((v for v in candidates if v.email == already), None)
    if chosen is None and already and cold is not None and already not in skip \
            and already in cold:
        chosen = cold.view(already)
    if chosen is None:
        ties: list[PeerView] = []
        strangers: list[PeerView] = []
        for v in candidates:
            (ties if established(v, ctx) else strangers).append(v)
        coffee_week = is_first_coffee_week(ctx.owner, ctx.period, policy.first_coffee_every)
        if ties and not (coffee_week and (strangers or cold_left)):
            chosen = min(ties, key=lambda v: (-value_at_risk(v, ctx),
                                              _lottery(ctx.period, v.email, ctx.owner)))
        else:
            chosen = _first_coffee(views, strangers, cold, skip, ctx)
    first_coffee = not established(chosen, ctx)
    reasons = [recency_reason(chosen), *cadence_reasons(chosen)]
    # A first coffee leads with why this stranger: the digest shows the first reason.
    if chosen.score.never_met:
        reasons.insert(0, f"A first coffee with {chosen.name}: a peer you have not met yet")
    elif first_coffee:
        reasons.insert(0, f"A first coffee with {chosen.name}: you have barely met "
                          f"({_times(chosen.score.interactions)} on record)")
    if policy.rotation_weeks:
        reasons.append(f"Not suggested in the last {policy.rotation_weeks} weeks")
    return PeerOfTheWeek(person=entry(chosen, reasons, ctx), slots=slots(),
                         first_coffee=first_coffee)


COFFEE_EPOCH = date(2001, 1, 1)  # a Monday; first-coffee weeks are counted from it


def coffee_phase(owner: str, every: int) -> int:
    """The owner's offset in the first-coffee cycle, in ``range(every)``.

    A digest of the canonical address, not Python's ``hash`` (salted per process):
    the same owner gets the same phase in every run, so a recomputed digest picks
    the same peer, and the owners of one organization spread evenly over the
    ``every`` weeks instead of all asking strangers for coffee the same week."""
    digest = hashlib.sha256(f"first-coffee-phase|{owner}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % every


def is_first_coffee_week(owner: str, period: str, every: int) -> bool:
    """Whether ``period`` (``YYYY-Www``) is one of the owner's first-coffee weeks.

    Weeks are counted from :data:`COFFEE_EPOCH`, not taken from the ISO week
    number: that restarts at W01 after W52 or W53, which would make the interval
    irregular across the new year. ``every`` 0 means never."""
    if every <= 0:
        return False
    weeks = (period_monday(period) - COFFEE_EPOCH).days // 7
    return (weeks + coffee_phase(owner, every)) % every == 0


def _first_coffee(
    views: Sequence[PeerView], strangers: Sequence[PeerView], cold: ColdPeers | None,
    skip: frozenset[str] | set[str], ctx: Context,
) -> PeerView:
    """A first coffee is for coverage: the least-known person in the department the
    owner reaches least (issue 9, item 1), drawn among the equals.

    The candidates are ranked by (interactions on record in their department,
    their own interactions); among those ranked first, ordered by (department,
    email), the draw takes the one at :func:`draw_index` (a hash of the owner and
    the period). Every candidate is equally likely, the same (owner, period,
    candidates) always gives the same pick, and two managers get different picks.
    Drawn by position, not by a hash per candidate (as before issue 12): the
    never-met peers (``cold``, most of an organization's directory) are counted
    per department, never visited one by one."""
    reach = _contacts_by_department(views)
    ranks: list[tuple[int, int]] = [
        (reach.get(v.department, 0), v.score.interactions) for v in strangers]
    cold_counts: dict[str | None, int] = {}
    if cold is not None:
        for department in cold.departments():
            n = cold.count(department, skip)
            if n:
                cold_counts[department] = n
                ranks.append((reach.get(department, 0), 0))
    best = min(ranks)
    tied: dict[str | None, list[str]] = {}  # department -> the warm candidates, by email
    by_email: dict[str, PeerView] = {}
    for v in strangers:
        if (reach.get(v.department, 0), v.score.interactions) == best:
            tied.setdefault(v.department, []).append(v.email)
            by_email[v.email] = v
    if best[1] == 0:
        cold_counts = {d: n for d, n in cold_counts.items() if reach.get(d, 0) == best[0]}
    else:
        cold_counts = {}
    k = draw_index(ctx.owner, ctx.period,
                   sum(map(len, tied.values())) + sum(cold_counts.values()))
    for department in sorted({*tied, *cold_counts}, key=department_key):
        warm = sorted(tied.get(department, ()))
        n = cold_counts.get(department, 0)
        if k >= len(warm) + n:
            k -= len(warm) + n
            continue
        # the k-th of the department's warm candidates and cold peers merged by email
        for i, email in enumerate(warm):
            before = cold.below(department, email, skip) if n and cold is not None else 0
            if k < before + i:
                break
            if k == before + i:
                return by_email[email]
        else:
            i = len(warm)
        assert cold is not None  # k falls on a cold peer
        return cold.view(cold.nth(department, k - i, skip))
    raise AssertionError("draw index past the candidates")  # pragma: no cover


def draw_index(owner: str, period: str, count: int) -> int:
    """A position in ``range(count)`` fixed by (owner, period): uniform over the
    positions as the hash is over its values, different per owner and per week."""
    digest = hashlib.sha256(f"first-coffee|{owner}|{period}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % count


# -- reconnect -------------------------------------------------------------------


def reconnect(views: Sequence[PeerView], ctx: Context, skip: set[str]) -> tuple[PersonEntry, ...]:
    """Overdue ties with real history, the most value at risk first, spread."""
    policy = ctx.rules.model.recommend
    overdue = [
        v for v in views
        if v.overdue is not None and v.overdue > 0 and not v.upcoming
        and not ctx.blocked(v.email) and v.email not in skip and established(v, ctx)
    ]
    overdue.sort(key=lambda v: (-value_at_risk(v, ctx), v.email))
    picked = _spread(overdue, policy.reconnect_size, policy.max_per_department)
    out = []
    for v in picked:
        reasons = [recency_reason(v), f"{v.overdue} days overdue", *cadence_reasons(v)]
        out.append(entry(v, reasons, ctx))
    return tuple(out)


# -- reciprocity -----------------------------------------------------------------


def reciprocity(
    views: Sequence[PeerView], ctx: Context, contact: frozenset[str] = frozenset()
) -> tuple[ReciprocityEntry, ...]:
    """"You owe" and "owes you": both directions, the most lopsided relative to volume first.

    25 of 27 is more telling than 5 of 40; the absolute gap breaks ties. Each entry
    names how the initiatives were made (threads started, meetings proposed) and
    the concrete next step. ``contact`` holds the people the digest already asks
    the owner to reach out to (peer of the week, reconnect, feedback, invitations):
    "let them make the next move" would contradict that, so such "owes you"
    entries are left out; "you owe" agrees with it and stays. A peer whose threads
    keep the owner informed (``rules.reciprocity.informing``) is left out too, and so
    is an "owes you" made of the owner's own stream of threads to the peer.
    """
    model = ctx.rules.model
    found: list[tuple[float, int, str, PeerView, Balance]] = []
    untouched = balance(0, 0, ctx.rules)  # most peers of a big directory: asked once
    window = model.reciprocity.window_days
    since = ctx.now_ts - window * 86400
    for v in views:
        if ctx.blocked(v.email):
            continue
        me, them = v.score.initiated_by_me, v.score.initiated_by_them
        direction = untouched if me == them == 0 else balance(me, them, ctx.rules)
        if direction == Balance.OWES_YOU and v.email in contact:
            continue
        if direction and (may_be_informing(them, v.unanswered, ctx.rules) or (
                direction == Balance.OWES_YOU
                and may_be_informing(me, v.mine_unanswered, ctx.rules))):
            direction = standing(v, ctx, since).direction  # counting threads: rare
        if direction:
            gap = abs(me - them)
            found.append((-gap / (me + them), -gap, v.email, v, direction))
    found.sort(key=lambda t: (t[0], t[1], t[2]))
    out = []
    for *_key, v, direction in found[: model.recommend.reciprocity_size]:
        me, them = v.score.initiated_by_me, v.score.initiated_by_them
        mine, theirs = _initiatives(v, since)
        first = v.name.split(" ", 1)[0] if v.name else v.email
        # The digest's line says who owes whom and the action; the reason adds only
        # how the initiatives were made (no fact twice in one entry).
        cut = ctx.now_ts - model.reciprocity.reply_within_days * 86400
        recent = [_short_day(ctx.local_date(at), ctx.today)
                  for at in v.open_latest if at >= cut]
        if direction == Balance.YOU_OWE:
            latest = (_short_day(ctx.local_date(v.open_latest[0]), ctx.today)
                      if v.open_latest else "")
            action = _next_step(theirs, first, v.unanswered, recent, latest)
            sentence = (f"In {window} days {v.name} started {_how(theirs, them)}, "
                        f"you {_how(mine, me)}")
        else:
            # Even when they owe you, a recent thread of theirs still waiting on you
            # comes first: "let Luca make the next move" while Luca waits on a reply
            # would have the owner ignore a question.
            action = (f"reply to {first}'s open thread of {recent[0]}, then let {first} "
                      "make the next move" if v.unanswered and recent
                      else f"let {first} make the next move")
            sentence = (f"In {window} days you started {_how(mine, me)}, "
                        f"{v.name} {_how(theirs, them)}")
        out.append(ReciprocityEntry(entry(v, [sentence], ctx), direction, me, them, action))
    return tuple(out)


def standing(v: PeerView, ctx: Context, since: float | None = None) -> Standing:
    """Where ``v`` stands in reciprocity (``rules.reciprocity.assess``): what the
    section decides and ``explain`` prints."""
    if since is None:
        since = ctx.now_ts - ctx.rules.model.reciprocity.window_days * 86400
    (my_threads, _mine), (their_threads, _meetings) = _initiatives(v, since)
    return assess(v.score.initiated_by_me, v.score.initiated_by_them, their_threads,
                  v.unanswered, ctx.rules, my_threads, v.mine_unanswered)


def _initiatives(v: PeerView, since: float) -> tuple[tuple[int, int], tuple[int, int]]:
    """((threads, meetings) I started, (threads, meetings) they started) in the window."""
    if v.history is not None:
        _n, _w, me_mail, me_meet, them_mail, them_meet = v.history.window(since)
        return (me_mail, me_meet), (them_mail, them_meet)
    mine = [0, 0]
    theirs = [0, 0]
    for at, kind, _w, _rid, by_me, by_them, *_ in v.rows:
        if at < since:
            continue
        slot = 0 if kind.startswith("mail") else 1
        if by_me:
            mine[slot] += 1
        if by_them:
            theirs[slot] += 1
    return (mine[0], mine[1]), (theirs[0], theirs[1])


def _how(split: tuple[int, int], total: int) -> str:
    """"3 threads and 2 meetings"; the total alone when the rows do not add up to it."""
    threads, meetings = split
    if threads + meetings != total:
        return _times(total)
    parts = [f"{n} {word}{'' if n == 1 else 's'}"
             for n, word in ((threads, "thread"), (meetings, "meeting")) if n]
    return " and ".join(parts) or "none"


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _short_day(day: date, today: date) -> str:
    """"7 Nov" (with the year when it is not this year), as the digest writes dates."""
    text = f"{day.day} {_MONTHS[day.month - 1]}"
    return text if day.year == today.year else f"{text} {day.year}"


def _next_step(theirs: tuple[int, int], first: str, unanswered: int = 0,
               recent: Sequence[str] = (), latest: str = "") -> str:
    """The concrete step: answer what is still open, else match how they reach out.

    ``recent``: the days of the latest one or two open threads within
    ``[reciprocity] reply_within_days``, newest first; ``latest``: the day of the
    latest open thread, however old. Open threads are named by those days ("reply
    to Lee's 2 unanswered threads, of 7 Nov and 2 Nov"): a to-do for this week,
    however many are open (the count stays, in brackets). When even the latest is
    too old for a reply, the step is to write first, the debt still named.
    """
    threads, meetings = theirs
    if unanswered and recent:
        if unanswered == 1:
            return f"reply to {first}'s unanswered thread of {recent[0]}"
        if len(recent) == 1:
            return f"reply to {first}'s latest thread, of {recent[0]} ({unanswered} unanswered)"
        days = f"both of {recent[0]}" if recent[0] == recent[1] else (
            f"of {recent[0]} and {recent[1]}")
        if unanswered == 2:
            return f"reply to {first}'s 2 unanswered threads, {days}"
        return f"reply to {first}'s two latest threads, {days} ({unanswered} unanswered)"
    if unanswered and latest:
        if unanswered == 1:
            return f"write to {first} first: {first}'s unanswered thread is from {latest}"
        return (f"write to {first} first: the latest of {first}'s {unanswered} unanswered "
                f"threads is from {latest}")
    if unanswered:  # no dates at hand (a view built without them)
        return f"reply to {first}'s {unanswered} unanswered thread{'' if unanswered == 1 else 's'}"
    if meetings > threads:
        return f"invite {first} next"
    return f"start the next thread with {first}"


# -- celebrate -------------------------------------------------------------------


def celebrate(
    views: Sequence[PeerView],
    subject_hits: dict[str, list[tuple[float, str, str]]],
    title_changes: Sequence[tuple[str, str | None, str | None, datetime]],
    ctx: Context,
    resolve: Callable[[str], str],
    cold: ColdPeers | None = None,
) -> tuple[CelebrateEntry, ...]:
    """Subject keyword hits from peers (kept subjects only) and directory title changes
    (``cold``: the peers with nothing on record, not in ``views``)."""
    model = ctx.rules.model
    warm = {v.email: v for v in views}

    def view_of(email: str) -> PeerView | None:
        found = warm.get(email)
        if found is None and cold is not None and email in cold:
            found = cold.view(email)
        return found

    since = ctx.now_ts - model.celebrate.window_days * 86400
    found: list[tuple[float, str, CelebrateEntry]] = []
    if model.celebrate.title_changes:
        for email, old, new, seen in title_changes:
            view = view_of(resolve(email))
            if view is None or ctx.blocked(view.email) or seen.timestamp() < since or not new:
                continue
            what = f"title change: {old or '(none)'} -> {new}"
            reason = f"New title: {new}. Congratulate them"
            found.append((seen.timestamp(), view.email,
                          CelebrateEntry(entry(view, [reason], ctx), what,
                                         ctx.local_date(seen.timestamp()).isoformat())))
    for email, hits in subject_hits.items():
        view = view_of(email)
        if view is None or ctx.blocked(email) or not hits:
            continue
        at, subject, _rid = max(hits)
        if at < since:
            continue
        reason = f"Wrote about \u201c{subject}\u201d: worth a congratulation"
        found.append((at, email, CelebrateEntry(entry(view, [reason], ctx),
                                                f"subject: {subject!r}",
                                                ctx.local_date(at).isoformat())))
    found.sort(key=lambda t: (-t[0], t[1]))
    return tuple(e for _at, _email, e in found[: model.recommend.celebrate_size])


# -- coverage --------------------------------------------------------------------


def coverage(tallies: Iterable[DepartmentTally], ctx: Context) -> tuple[DepartmentCoverage, ...]:
    """Departments and key functions gone quiet (trend down or dark), key functions first.

    A department with a meeting already on the calendar is covered: telling the
    owner it has gone dark would ask for what is already booked (issue 9, item 8).
    """
    tallies = list(tallies)
    booked = {t.department for t in tallies if t.scheduled}
    rows = all_coverage(tallies, ctx)
    quiet = [c for c in rows if c.trend in (Trend.DOWN, Trend.DARK) and c.department not in booked]
    quiet.sort(key=lambda c: (not c.key_function, c.trend != Trend.DARK, -c.weeks_26,
                              c.department))
    return tuple(quiet[: ctx.rules.model.recommend.coverage_size])


def all_coverage(tallies: Iterable[DepartmentTally], ctx: Context) -> list[DepartmentCoverage]:
    return [
        DepartmentCoverage(
            department=t.department,
            key_function=t.key_function is not None,
            weeks_4=round(t.weeks_4, 3),
            weeks_13=round(t.weeks_13, 3),
            weeks_26=round(t.weeks_26, 3),
            trend=trend(t.weeks_4, t.weeks_13, t.weeks_26, ctx.rules),
            last_interaction=ctx.iso_date(t.last_at),
            peers=t.peers,
        )
        for t in sorted(tallies, key=lambda t: t.department)
    ]


# -- feedback --------------------------------------------------------------------

_PERIOD_MONTHS = {"month": 1, "quarter": 3, "half": 6}


def feedback_period(day: date, period: str) -> int:
    """A running index of the feedback period containing ``day`` (quarters: year*4 + q)."""
    months = _PERIOD_MONTHS[period]
    return (day.year * 12 + day.month - 1) // months


def feedback(
    views: Sequence[PeerView], ctx: Context, skip: frozenset[str] = frozenset()
) -> tuple[PersonEntry, ...]:
    """Once per period: the peers worked with most, across departments, not asked lately.

    ``skip``: people the digest already asks the owner to contact (peer of the week,
    reconnect); naming them again here spends a slot on someone already on the
    list, so the ask goes to the next collaborators instead."""
    model = ctx.rules.model.feedback
    current = feedback_period(ctx.today, model.period)
    asked_recently: set[str] = set()
    for past_period, email in ctx.history.get("feedback", ()):
        if past_period == ctx.period:
            continue  # this very digest, computed again
        index = feedback_period(period_monday(past_period) + timedelta(days=3), model.period)
        if index == current:
            return ()  # already asked this period
        if current - index < model.not_asked_within_periods:
            asked_recently.add(email)
    window = _PERIOD_MONTHS[model.period] * 30.5 * 86400
    since = ctx.now_ts - window
    ranked: list[tuple[float, str, PeerView, int]] = []
    for v in views:
        if not v.rows:  # min_interactions is at least 1
            continue
        if v.email in asked_recently or v.email in skip or ctx.blocked(v.email):
            continue
        if v.history is not None:
            n, weight = v.history.window(since)[:2]
        else:
            rows = [r for r in v.rows if since <= r[0] <= ctx.now_ts]
            n, weight = len(rows), sum(r[2] for r in rows)
        if n >= model.min_interactions:
            ranked.append((-weight, v.email, v, n))
    ranked.sort(key=lambda t: (t[0], t[1]))
    counts = {t[2].email: t[3] for t in ranked}
    picked = _spread((t[2] for t in ranked), model.count, model.max_per_department)
    out = []
    for v in picked:
        reason = (f"You worked together {counts[v.email]} times this {model.period}: "
                  "ask how your team supports theirs")
        out.append(entry(v, [reason], ctx))
    return tuple(out)


# -- invitations -----------------------------------------------------------------


def invitations(
    views: Sequence[PeerView],
    team: TeamMeeting | None,
    departments_of: Callable[[str], str | None],
    own_department: str | None,
    ctx: Context,
    cold: ColdPeers | None = None,
) -> tuple[Invitation, ...]:
    """Invite a peer from a department that never attends the owner's team meeting:
    per department the strongest tie (then the first by email), departments in that
    order. ``cold``: peers with nothing on record (tie strength 0), not in ``views``."""
    if team is None:
        return ()
    attending = sorted({
        d for email in team.attendance if (d := departments_of(email)) is not None
    })

    best: dict[str, tuple[tuple[float, str], PeerView]] = {}

    def consider(d: str, v: PeerView) -> None:
        key = (-v.score.tie_strength, v.email)
        if d not in best or key < best[d][0]:
            best[d] = (key, v)

    for v in views:
        d = v.department
        if d and d not in attending and d != own_department and not ctx.blocked(v.email):
            consider(d, v)
    if cold is not None:
        for department in cold.departments():
            if department and department not in attending and department != own_department:
                email = cold.first(department, ctx.blocked_emails)
                if email is not None:
                    consider(department, cold.view(email))
    absent = sorted(best.items(), key=lambda item: item[1][0])
    local = team.last_start.astimezone(ctx.zone)
    out = []
    for d, (_key, v) in absent[: ctx.rules.model.recommend.invitations_size]:
        title = team.title or "your team meeting"
        reason = (f"No one from {d} attended \u201c{title}\u201d in its last "
                  f"{team.occurrences} meetings; invite {v.name} to share their view")
        out.append(Invitation(
            meeting_title=team.title,
            meeting_series_id=team.series_id,
            weekday=WEEKDAYS[local.weekday()],
            local_time=local.strftime("%H:%M"),
            attendee_departments=tuple(attending),
            person=entry(v, [reason], ctx),
        ))
    return tuple(out)


# -- leaders ---------------------------------------------------------------------


def leaders(
    contacts: Mapping[str, Sequence[tuple[float, str]]],
    people: Mapping[str, Person],
    ctx: Context,
) -> tuple[PersonEntry, ...]:
    """Leaders to keep informed: never peers, so in a place of their own (issue 9, item 2).

    Leaders by title (a directory without a manager column) the owner has a real
    tie with (``reconnect_min_interactions``) and has not been in touch with for
    the default cadence, the longest quiet first.
    """
    policy = ctx.rules.model.recommend
    quiet_days = ctx.rules.model.cadence.default_days
    found: list[tuple[int, str, PersonEntry]] = []
    for email, rows in contacts.items():
        past = [r for r in rows if r[0] <= ctx.now_ts]
        if len(past) < policy.reconnect_min_interactions or ctx.blocked(email):
            continue
        last_at, kind = max(past)
        days = (ctx.today - ctx.local_date(last_at)).days
        if days < quiet_days:
            continue
        person = people.get(email)
        name = person.name if person and person.name else email
        reasons = (
            f"A leader by title ({person.title if person and person.title else 'senior'}): "
            f"last {KIND_PHRASES.get(kind, kind)} {days} days ago, past your {quiet_days}-day "
            f"cadence; {len(past)} interactions on record. Keep them informed of your "
            "team's work",
        )
        found.append((-days, email, PersonEntry(
            email=email, name=name, department=person.department if person else None,
            last_interaction=ctx.iso_date(last_at), days_since=days, cadence_days=quiet_days,
            reasons=reasons, title=person.title if person else None,
        )))
    found.sort(key=lambda t: (t[0], t[1]))
    return tuple(e for *_key, e in found[: policy.leaders_size])


def _times(n: int) -> str:
    return "once" if n == 1 else "never" if n == 0 else f"{n} times"
