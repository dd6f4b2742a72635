"""Demo variants: the standard organization plus one trap a careful manager would catch.

Each variant writes the standard demo (byte-identical content: trap records are
drawn from their own seeded RNG after everything else) and adds one scenario
that has misled the advice before (issue 9), with checks of what the digest
must and must not say. ``expectations.json`` holds the checks;
``benchmarks.accuracy`` evaluates them, and ``tests/worker/test_accuracy.py``
asserts them per variant.

- ``series``: weekly 1:1s organized by a peer and by the owner. A series is
  initiated once; 26 occurrences are not 26 initiatives ("you owe Oliver one").
- ``congrats``: congratulations sent to the owner, a welcome to the owner's new
  hire with the owner in Cc, a reply-all to an announcement, a 1:1 about a
  launch. Only the announcement to many is the sender's success.
- ``team_meeting``: a weekly 1:1 with a report, a weekly 3-person sync with two
  reports and a weekly meeting with three peers, all held more often than the
  team meeting. None is the team meeting.
- ``no_manager``: the directory has no ``manager`` column (titles only). Leaders
  (above the owner's level in their department, or two levels above anywhere)
  are not peers, nor is the team lead below the owner in the owner's department
  (their report), and the digest says the chain is unknown.
- ``no_reply_headers``/``no_reply_headers_hashed``: the mbox lost In-Reply-To,
  References and X-GM-THRID (an Enron-style export), subjects kept or hashed.
  Replies are still replies, found by their ``Re:`` subject; a peer who started
  six threads, two of them answered, is owed a reply to the other four.

The checks are plain data (see :func:`expectations`); the ground truth decides
peers with its own plain rules, never importing ``rules``.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from peerpulse.worker.demo.invites import EventFactory
from peerpulse.worker.demo.mail_factory import MailFactory
from peerpulse.worker.demo.model import Address, DemoWindow, EventSpec, MailSpec, zoned
from peerpulse.worker.demo.org import HOME_ZONE, OrgChart
from peerpulse.worker.demo.recurrence import next_weekday, weekly

PEER_SECTIONS = ("peer_of_the_week", "reconnect", "reciprocity", "celebrate", "feedback",
                 "invitations")
TEAM_MEETING_TITLE = "Platform team weekly"
# The generator's true seniority, for the no-manager variant's notion of a leader.
RANK = {"ic": 0, "manager": 1, "director": 2, "vp": 3, "ceo": 4}
MON, TUE, WED, THU, FRI = range(5)


@dataclass(frozen=True, slots=True)
class Variant:
    name: str
    about: str
    manager_column: bool = True
    reply_headers: bool = True
    subjects: str = "kept"  # the [privacy] subjects setting the variant is read with


VARIANTS: dict[str, Variant] = {v.name: v for v in (
    Variant("standard", "the standard demo organization"),
    Variant("series", "weekly 1:1 series organized by a peer and by the owner"),
    Variant("congrats", "congratulations to the owner, a welcome to the owner's new hire, "
                        "a reply-all, a 1:1 about a launch, and one real announcement"),
    Variant("team_meeting", "a weekly 1:1 with a report, a 3-person weekly sync and a weekly "
                            "meeting with peers, all more frequent than the team meeting"),
    Variant("no_manager", "a directory without a manager column (titles only)",
            manager_column=False),
    Variant("no_reply_headers", "mail without In-Reply-To/References/X-GM-THRID, "
                                "subjects kept", reply_headers=False),
    Variant("no_reply_headers_hashed", "mail without In-Reply-To/References/X-GM-THRID, "
                                       "subjects hashed", reply_headers=False,
            subjects="hashed"),
)}


def variant(name: str) -> Variant:
    try:
        return VARIANTS[name]
    except KeyError:
        raise ValueError(f"unknown demo variant {name!r}; one of: "
                         f"{', '.join(VARIANTS)}") from None


def trap_rng(seed: int, name: str) -> random.Random:
    """Trap records draw from their own RNG, so the standard content stays byte-identical."""
    return random.Random(f"{seed}:{name}")


# -- who is a peer ---------------------------------------------------------------------


def leaders(org: OrgChart) -> tuple[str, ...]:
    """Managers above the owner's level in the owner's department, or two levels above."""
    owner = org.by_email[org.owner]
    mine = RANK[owner.level]
    return tuple(
        p.email for p in org.people
        if p.email != org.owner and p.team_size > 0 and (
            (p.department == owner.department and RANK[p.level] > mine)
            or RANK[p.level] >= mine + 2)
    )


def peers_for(org: OrgChart, v: Variant) -> frozenset[str]:
    """The peers the ground truth counts: without a manager column, the chain cannot be
    known, so a peer is anyone who manages someone and is not a leader; the owner's
    own reports are still not peers (a careful manager knows their team, and the
    product is expected to guess them from lower titles in the owner's department)."""
    if v.manager_column:
        return frozenset(org.peers)
    return frozenset(p.email for p in org.people
                     if p.team_size > 0 and p.email != org.owner
                     and p.email not in set(leaders(org)) | set(org.reports))


def managing_reports(org: OrgChart) -> tuple[str, ...]:
    """The owner's reports who manage someone: the ones a titles-only guess could
    mistake for peers."""
    return tuple(e for e in org.reports if org.by_email[e].team_size > 0)


# -- the traps -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Cast:
    """The people each trap uses: chosen from the standard demo, stable per seed."""

    series_peer: str  # organizes a weekly 1:1 with the owner
    series_mine: str  # the owner organizes a weekly 1:1 with them
    announcer: str  # announces their own promotion to many
    congratulator: str  # congratulates the owner, 1:1
    welcomer: str  # welcomes the owner's new hire, owner and two peers in Cc
    reply_all: str  # replies to the announcement, to all
    one_to_one: str  # writes to the owner alone about a launch (not an announcement)
    new_hire: str  # one of the owner's direct reports
    partners: tuple[str, ...]  # peers in a weekly meeting the owner organizes
    asker: str  # starts six threads with the owner, two of them answered
    streamer: str  # sends a weekly status thread to the owner and two peers, one answered


def cast(org: OrgChart, profiles: dict[str, str]) -> Cast:
    named = org.named
    met = [p for p in org.peers if profiles.get(p) in ("biweekly", "monthly", "occasional")
           and p not in (named["lee"], named["priya"], named["hanako"])]
    return Cast(series_peer=named["oliver"], series_mine=named["jose"], announcer=met[0],
                congratulator=met[1], welcomer=met[2], reply_all=met[3], one_to_one=met[4],
                new_hire=org.direct_reports[-1], partners=tuple(met[5:8]),
                asker=next(p for p in org.peers if profiles.get(p) == "never"),
                streamer=[p for p in org.peers if profiles.get(p) == "never"][-1])


def extra_series(v: Variant, f: EventFactory, window: DemoWindow,
                 people: Cast) -> list[EventSpec]:
    """The variant's recurring series (none for most variants)."""
    org = f.org
    last = window.end - timedelta(days=1)
    skip = (window.end,)

    def every_week(weekday: int, hour: int) -> tuple[datetime, Any]:
        first = zoned(next_weekday(window.start, weekday), hour, 0, HOME_ZONE)
        return first, weekly(first, last_day=last, skip=skip)

    if v.name == "series":
        first, rule = every_week(MON, 16)
        theirs = f.event("Oliver / Dana weekly", first, 30, people.series_peer,
                         [f.guest(people.series_peer), f.owner()], recurrence=rule)
        first, rule = every_week(FRI, 11)
        mine = f.event("Dana / José weekly", first, 30, org.owner,
                       [f.owner(), f.guest(people.series_mine)], recurrence=rule)
        return [theirs, mine]
    if v.name == "team_meeting":
        report = people.new_hire
        first, rule = every_week(TUE, 16)
        one_on_one = f.event(f"Dana / {f.name_of(report)} weekly 1:1", first, 30, org.owner,
                             [f.owner(), f.guest(report)], recurrence=rule)
        first, rule = every_week(THU, 9)
        small = f.event("On-call sync", first, 30, org.owner,
                        [f.owner(), *(f.guest(r) for r in org.direct_reports[:2])],
                        recurrence=rule)
        first, rule = every_week(WED, 16)
        partners = f.event("Platform x partners weekly", first, 45, org.owner,
                           [f.owner(), *(f.guest(p) for p in people.partners)],
                           recurrence=rule)
        return [one_on_one, small, partners]
    return []


def extra_mail(v: Variant, mf: MailFactory, people: Cast) -> Iterator[MailSpec]:
    """The variant's one-off messages (none for most variants)."""
    org, w = mf.org, mf.window
    if not v.reply_headers:  # six threads from one peer, two answered: "reply to ... 4"
        for i in range(6):
            day = w.end - timedelta(days=40 - 6 * i)
            first = MailSpec(message_id=mf.message_id(), thread_id=mf.thread_id(),
                             date=datetime.combine(day, time(10, 5), mf.zone(people.asker)),
                             sender=mf.person(people.asker), to=[mf.owner()],
                             subject=f"Capacity question {i + 1}", body=mf.body(),
                             labels=mf.labels_for(mf.person(people.asker)))
            yield from mf.thread(first, 1 if i in (1, 4) else 0, mf.owner())
        # a weekly status mail to the owner and two peers, answered once: it keeps
        # the owner informed; 20 threads are no favours owed (rules.reciprocity)
        cc = [mf.person(p) for p in org.peers if p not in (people.streamer, people.asker)][:2]
        for i in range(20):
            day = w.end - timedelta(days=3 + 7 * i)
            first = MailSpec(message_id=mf.message_id(), thread_id=mf.thread_id(),
                             date=datetime.combine(day, time(8, 40), mf.zone(people.streamer)),
                             sender=mf.person(people.streamer), to=[mf.owner(), *cc],
                             subject=f"Status, week {20 - i}", body=mf.body(),
                             labels=mf.labels_for(mf.person(people.streamer)))
            yield from mf.thread(first, 1 if i == 7 else 0, mf.owner())
    if v.name != "congrats":
        return

    def at(days_before_end: int, hour: int, sender: str) -> datetime:
        day = w.end - timedelta(days=days_before_end)
        return datetime.combine(day, time(hour, 12), mf.zone(sender))

    def mail(days: int, hour: int, sender: str, subject: str, to: list[Address],
             cc: list[Address] | None = None) -> MailSpec:
        return MailSpec(message_id=mf.message_id(), thread_id=mf.thread_id(),
                        date=at(days, hour, sender), sender=mf.person(sender), to=to,
                        cc=cc or [], subject=subject, body=mf.body(),
                        labels=mf.labels_for(mf.person(sender)))

    others = [mf.person(p) for p in org.peers
              if p not in (people.announcer, people.congratulator, people.welcomer,
                           people.reply_all)][:4]
    announcement = mail(9, 10, people.announcer, "Promoted to Senior Director",
                        [mf.owner(), mf.person(people.reply_all), *others])
    yield announcement
    yield MailSpec(
        message_id=mf.message_id(), thread_id=announcement.thread_id,
        date=at(9, 14, people.reply_all), sender=mf.person(people.reply_all),
        to=[mf.person(people.announcer)], cc=[mf.owner(), *others],
        subject="Re: Promoted to Senior Director", in_reply_to=announcement.message_id,
        references=[announcement.message_id], body="Well deserved!",
        labels=mf.labels_for(mf.person(people.reply_all)),
    )
    congrats = mail(6, 11, people.congratulator, "Congrats on the launch!", [mf.owner()])
    yield from mf.thread(congrats, 1, mf.owner())
    yield mail(5, 15, people.one_to_one, "Launch checklist for Atlas: your input?",
               [mf.owner()])
    hire = org.by_email[people.new_hire].name.split()[0]
    yield mail(4, 9, people.welcomer, f"Welcome to the team, {hire}!",
               [mf.person(people.new_hire)], cc=[mf.owner(), *others[:2]])


# -- what the digest must and must not say --------------------------------------------


def expectations(v: Variant, org: OrgChart, people: Cast,
                 series_uids: dict[str, str]) -> list[dict[str, Any]]:
    """Checks of the digest for this variant (evaluated by ``benchmarks.accuracy``).

    Every variant also gets the generic checks: inferred interactions and
    initiatives match the ground truth, and every reciprocity line's counts
    are the ground truth's.
    """
    checks: list[dict[str, Any]] = []
    if v.manager_column:  # without one, the owner's reports are unknown: no team meeting
        checks.append({"id": "team-meeting-is-the-team-series", "check": "team_meeting",
                       "title": TEAM_MEETING_TITLE, "series": series_uids[TEAM_MEETING_TITLE],
                       "why": "the owner plus at least three others, mostly reports, weekly"})
    if v.name == "series":
        checks += [
            {"id": "peer-organized-series-initiated-once", "check": "not_in_section",
             "section": "reciprocity", "person": people.series_peer, "direction": "you_owe",
             "why": "a weekly 1:1 the peer organizes is one initiative, not one a week"},
            {"id": "own-series-initiated-once", "check": "not_in_section",
             "section": "reciprocity", "person": people.series_mine, "direction": "owes_you",
             "why": "a weekly 1:1 the owner organizes is one initiative, not one a week"},
            {"id": "peer-organized-series-counts-once", "check": "initiatives",
             "person": people.series_peer,
             "why": "explain and reciprocity count the ground truth's initiatives"},
            {"id": "own-series-counts-once", "check": "initiatives",
             "person": people.series_mine,
             "why": "explain and reciprocity count the ground truth's initiatives"},
        ]
    elif v.name == "congrats":
        checks += [
            {"id": "announcement-to-many-is-celebrated", "check": "in_section",
             "section": "celebrate", "person": people.announcer,
             "why": "announced their own promotion to many"},
            {"id": "congratulations-to-the-owner-are-not-the-sender-s", "check":
             "not_in_section", "section": "celebrate", "person": people.congratulator,
             "why": "congratulated the owner: the success is the owner's"},
            {"id": "welcome-to-the-new-hire-is-not-the-sender-s", "check": "not_in_section",
             "section": "celebrate", "person": people.welcomer,
             "why": "welcomed the owner's new hire (owner in Cc): not the sender's news"},
            {"id": "reply-all-is-not-the-sender-s", "check": "not_in_section",
             "section": "celebrate", "person": people.reply_all,
             "why": "replied to someone else's announcement"},
            {"id": "a-1-1-about-a-launch-is-not-an-announcement", "check": "not_in_section",
             "section": "celebrate", "person": people.one_to_one,
             "why": "wrote to the owner alone: not an announcement to many"},
        ]
    elif not v.reply_headers:
        checks.append({"id": "threads-without-reply-headers-are-answered-by-re",
                       "check": "in_section", "section": "reciprocity", "person": people.asker,
                       "why": "started six threads, two answered by a Re: without headers: "
                              "you owe them, and the step names the four still open"})
        checks.append({"id": "a-status-stream-is-no-debt", "check": "not_in_section",
                       "section": "reciprocity", "person": people.streamer,
                       "why": "a weekly status mail to the owner and two peers, answered "
                              "once in 20: it keeps the owner informed, no one owes one"})
    elif v.name == "no_manager":
        checks.append({"id": "digest-says-the-chain-is-unknown", "check": "chain_unknown",
                       "why": "without a manager column, chain and reports are unknown"})
        checks.append({"id": "leaders-have-their-own-place", "check": "only_in_section",
                       "section": "leaders", "people": list(leaders(org)),
                       "why": "leaders the owner worked with are named apart from peers, "
                              "and no one else is"})
        for leader in leaders(org):
            checks.append({"id": f"leader-is-not-a-peer:{leader}", "check": "not_a_peer",
                           "person": leader, "why": "above the owner's level by title"})
            checks.append({"id": f"leader-is-not-a-pick:{leader}", "check": "not_in_section",
                           "section": "*", "person": leader,
                           "why": "a leader is never a peer pick"})
        for report in managing_reports(org):
            checks.append({"id": f"my-team-is-not-a-peer:{report}", "check": "not_a_peer",
                           "person": report,
                           "why": "a lower title in the owner's own department: their team"})
    return checks

