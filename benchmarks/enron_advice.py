"""Reconnect advice on real mail: the Enron organization, every senior person as owner.

    python -m benchmarks.enron_advice [--corpus DIR] [--now 2001-12-01]

Reads the Perry & Wolfe tables (``employees.txt``, ``messages.tsv``,
``recipients.tsv``; see the corpus's PROVENANCE.md) from
``$PEERPULSE_CORPORA/enron-perry-wolfe-156`` (default: ``shared/corpora`` beside the
checkout, as the tests use),
never copies them. For each senior person it builds that person's mailbox
(the messages they sent or received, recipients all in To, since the tables do
not say To from Cc) and runs the rules engine with the default rules.

The directory has no manager column: seniority "Senior" stands in for
"manages anyone", so the peer rule keeps senior people only.

Reported (issue 9, item 1):
- share of reconnect picks with at least 3 prior interactions (goal >= 0.9);
- mean decayed tie strength at the last contact of the reconnect picks, divided
  by that of a naive baseline: the same number of peers, the longest silent
  first among those with any contact (goal >= 1.3);
- peer picks (peer of the week, reconnect, reciprocity, feedback, invitations)
  above the owner's title level in the owner's department, or two or more
  levels above anywhere (goal 0; issue 9, item 2);
- owners whose computation raised (goal 0);
- first coffees this week over the senior owners: how many, how many of those on
  the owner's phased first-coffee week (rules.sections.is_first_coffee_week),
  and how often the most asked person is asked (issue: first coffees phased);
- reciprocity lines over the senior owners ("you owe", "owes you"), the
  peers whose threads keep the owner informed
  (rules.reciprocity.informing: no line either way), and the peers the owner's
  threads keep informed (no "owes you"), for reading, not a goal.
Exit 0 when every goal is met, 1 otherwise.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import sys
import traceback
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path

from peerpulse.connectors.records import Direction, MessageMeta, Person
from peerpulse.rules.engine import EngineInputs, compute
from peerpulse.rules.loader import load_rules
from peerpulse.rules.reciprocity import informing
from peerpulse.rules.scoring import tie_strength
from peerpulse.rules.sections import is_first_coffee_week
from peerpulse.rules.views import PeerView
from peerpulse.worker.freshness import QUIET_DAYS, quiet_sources

DOMAIN = "enron.example"


def _address(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", ".", name.lower()).strip(".") + "@" + DOMAIN


def load(corpus: Path) -> tuple[dict[int, Person], list[tuple[int, float, str, int, list[int]]]]:
    """People by id, and messages as (id, unix time, subject, sender id, recipient ids)."""
    people: dict[int, Person] = {}
    for line in (corpus / "employees.txt").read_text(encoding="utf-8").splitlines():
        pid, name, _dept, long_dept, title, _gender, seniority = line.split("\t")
        people[int(pid)] = Person(_address(name), name.strip(), department=long_dept, title=title,
                                  manages_anyone=seniority == "Senior")
    recipients: dict[int, list[int]] = defaultdict(list)
    for line in (corpus / "recipients.tsv").read_text(encoding="utf-8").splitlines():
        mid, _n, rid = line.split("\t")
        recipients[int(mid)].append(int(rid))
    messages = []
    for line in (corpus / "messages.tsv").read_text(encoding="utf-8").splitlines():
        mid, _file, at, subject, sender = line.split("\t")
        messages.append((int(mid), float(at), subject, int(sender), recipients.get(int(mid), [])))
    return people, messages


def _strength_at_last(view: PeerView, rules: object) -> float:
    last = view.score.last_at
    if last is None:
        return 0.0
    if view.history is not None:
        return view.strength_at_last
    return tie_strength([r for r in view.rows if r[0] <= last], last, rules)  # type: ignore[arg-type]


def _show(digest: object, owner: str, now: datetime) -> None:
    """Print one owner's digest as its text part, the way the manager would read it."""
    from peerpulse.worker.digest.render import render_digest

    rendered = render_digest(digest, recipient=owner, sender=owner, now=now)  # type: ignore[arg-type]
    print(f"===== {owner}: {rendered.subject}\n{rendered.text}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    beside = Path(__file__).resolve().parents[2] / "shared" / "corpora"
    default = Path(os.environ.get("PEERPULSE_CORPORA", beside))
    parser.add_argument("--corpus", type=Path, default=default / "enron-perry-wolfe-156")
    parser.add_argument("--now", default="2001-12-01", help="the digest date (ISO)")
    parser.add_argument("--show", action="append", default=[], metavar="NAME",
                        help="also print the text digest of owners whose name or address "
                             "contains NAME (repeatable), to read the advice as they would")
    args = parser.parse_args(argv)
    if not (args.corpus / "employees.txt").is_file():
        print(f"enron corpus not found at {args.corpus}", file=sys.stderr)
        return 2
    now = datetime.fromisoformat(args.now).replace(hour=9, tzinfo=UTC)
    year, week, _ = now.isocalendar()
    period = f"{year}-W{week:02d}"
    rules = load_rules([])
    people, messages = load(args.corpus)
    directory = tuple(people.values())
    by_person: dict[int, list[int]] = defaultdict(list)
    for i, (_mid, at, _s, sender, rcpts) in enumerate(messages):
        if at > now.timestamp():
            continue
        for pid in {sender, *rcpts}:
            by_person[pid].append(i)

    owners = [pid for pid, p in people.items() if p.manages_anyone]
    senior = set(owners)
    owners = list(people)  # everyone computes (crashes count over all 156); figures: seniors
    picks = with_history = on_days = 0
    pick_strengths: list[float] = []
    base_strengths: list[float] = []
    crashes = 0
    cut_off = 0
    leader_picks = 0
    coffees: Counter[str] = Counter()  # first-coffee picks per person, over all senior owners
    scheduled = 0  # senior owners for whom this is a first-coffee week (the rest: no ties)
    by_email = {p.email: p for p in directory}
    owe = owed = streams = own_streams = 0
    one_way = 0  # reconnect picks the owner never wrote to nor met: all their mail came in
    since = now.timestamp() - rules.model.reciprocity.window_days * 86400
    for pid in owners:
        owner = people[pid].email
        mailbox = []
        for i in by_person.get(pid, []):
            mid, at, subject, sender, rcpts = messages[i]
            mailbox.append(MessageMeta(
                source_id=f"enron-{mid}", message_id=f"<{mid}@{DOMAIN}>", thread_id=None,
                timestamp=datetime.fromtimestamp(at, UTC), sender=people[sender].email,
                to=tuple(people[r].email for r in rcpts if r in people), cc=(), bcc=(),
                direction=Direction.SENT if sender == pid else Direction.RECEIVED,
                in_reply_to=None, subject=subject,
            ))
        try:
            result = compute(EngineInputs(
                account="enron", owner=owner, owner_aliases=frozenset(), timezone="America/Chicago",
                now=now, period=period, events=iter(()), messages=iter(mailbox),
                people=directory, has_calendar=False,
            ), rules)
        except Exception:  # noqa: BLE001 - counted and shown, the run goes on
            crashes += 1
            traceback.print_exc()
            continue
        if pid not in senior:
            continue
        d = result.digest
        newest = max((m.timestamp for m in mailbox if m.timestamp <= now), default=None)
        quiet = quiet_sources({"mail": newest}, now)
        if quiet:  # what worker/pipeline.py adds from the store
            cut_off += 1
            d = dataclasses.replace(d, stats={**d.stats, "quiet_sources": quiet})
        if any(n.lower() in (people[pid].name + " " + owner).lower() for n in args.show):
            _show(d, owner, now)
        owe += sum(1 for e in d.reciprocity if e.direction == "you_owe")
        owed += sum(1 for e in d.reciprocity if e.direction == "owes_you")
        streams += sum(1 for v in result.views.values() if v.history is not None
                       and informing(v.history.window(since)[4], v.unanswered, rules))
        own_streams += sum(1 for v in result.views.values() if v.history is not None
                           and informing(v.history.window(since)[2], v.mine_unanswered, rules))
        named = [e.email for e in d.reconnect] + [e.person.email for e in d.reciprocity]
        named += [e.email for e in d.feedback] + [e.person.email for e in d.invitations]
        if d.peer_of_the_week:
            named.append(d.peer_of_the_week.person.email)
            if d.peer_of_the_week.first_coffee:
                coffees[d.peer_of_the_week.person.email] += 1
                scheduled += is_first_coffee_week(
                    result.digest.owner, period, rules.model.recommend.first_coffee_every)
        me = people[pid]
        mine = rules.title_level(me.title)[0]
        for email in named:
            them = by_email[email]
            level = rules.title_level(them.title)[0]
            if level >= mine + 2 or (level > mine and them.department == me.department):
                leader_picks += 1
        chosen = [result.views[e.email] for e in result.digest.reconnect]
        picks += len(chosen)
        one_way += sum(1 for v in chosen if set(v.score.kinds) <= {"mail_received"})
        with_history += sum(1 for v in chosen if v.score.interactions >= 3)
        on_days += sum(1 for v in chosen if v.history and v.history.contact_days() >= 3)
        pick_strengths += [_strength_at_last(v, rules) for v in chosen]
        contacted = [v for v in result.views.values()
                     if v.score.last_at is not None and not v.upcoming]
        contacted.sort(key=lambda v: (v.score.last_at, v.email))
        size = rules.model.recommend.reconnect_size
        base_strengths += [_strength_at_last(v, rules) for v in contacted[:size]]

    share = with_history / picks if picks else 0.0
    mean_picks = sum(pick_strengths) / len(pick_strengths) if pick_strengths else 0.0
    mean_base = sum(base_strengths) / len(base_strengths) if base_strengths else 0.0
    ratio = mean_picks / mean_base if mean_base else 0.0
    print(f"owners: {len(owners)} computed, {len(senior)} senior measured, digest {period}, "
          f"crashes: {crashes}")
    print(f"senior owners whose mail stops more than {QUIET_DAYS} days before the digest "
          f"(their digest says so at the top): {cut_off}")
    print(f"reconnect picks: {picks}; with >= 3 prior interactions: {with_history} "
          f"(share {share:.2f}, goal >= 0.90); on >= 3 separate days: {on_days} "
          f"(share {on_days / picks if picks else 0.0:.2f}); the owner never wrote to nor "
          f"met them: {one_way}")
    print(f"mean strength at last contact: picks {mean_picks:.3f}, longest-silent baseline "
          f"{mean_base:.3f} (ratio {ratio:.2f}, goal >= 1.30)")
    print(f"peer picks that are leaders by title: {leader_picks} (goal 0)")
    busiest = coffees.most_common(1)[0] if coffees else ("-", 0)
    print(f"first coffees: {sum(coffees.values())} of {len(senior)} senior owners "
          f"({scheduled} on their first-coffee week, the rest have no tie to keep) "
          f"to {len(coffees)} people; the most asked: "
          f"{busiest[1]} ({by_email[busiest[0]].name if busiest[1] else '-'})")
    print(f"reciprocity over the senior owners: {owe} \"you owe\", {owed} \"owes you\"; "
          f"peers whose threads keep the owner informed (no line either way): {streams}; "
          f"peers the owner's threads keep informed (no \"owes you\"): {own_streams}")
    ok = crashes == 0 and share >= 0.9 and ratio >= 1.3 and leader_picks == 0
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
