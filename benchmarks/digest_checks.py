"""What the digest must and must not say about a demo variant's trap, checked.

The checks come from the generator (``expectations.json``, written by
``worker.demo.variants``); this module evaluates them against the engine's
result and the rendered digest. One generic check applies to every variant:
each reciprocity line's counts are the ground truth's initiatives in the window,
and its direction follows from them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

PEER_SECTIONS = ("peer_of_the_week", "reconnect", "reciprocity", "celebrate", "feedback",
                 "invitations")
# The default [reciprocity] thresholds, restated: the checks must not borrow the engine's.
MIN_DIFFERENCE = 3
MIN_RATIO = 2.0


@dataclass(frozen=True, slots=True)
class CheckResult:
    id: str
    ok: bool
    detail: str = ""


def named_in(digest: Any, section: str) -> dict[str, str]:
    """Canonical email -> direction ("" when the section has none) of everyone a section names."""
    if section == "peer_of_the_week":
        pick = digest.peer_of_the_week
        return {pick.person.email: ""} if pick else {}
    if section == "reciprocity":
        return {r.person.email: str(r.direction) for r in digest.reciprocity}
    if section in ("celebrate", "invitations"):
        return {e.person.email: "" for e in getattr(digest, section)}
    return {e.email: "" for e in getattr(digest, section)}


def _tilted(more: int, less: int) -> bool:
    return more - less >= MIN_DIFFERENCE and (less == 0 or more / less >= MIN_RATIO)


def reciprocity_matches_truth(digest: Any, truth: Mapping[str, tuple[int, int]]) -> CheckResult:
    """Every reciprocity line: (by me, by them) equal the ground truth's, direction follows."""
    wrong = []
    for r in digest.reciprocity:
        me, them = truth.get(r.person.email, (0, 0))
        expected = "you_owe" if _tilted(them, me) else "owes_you" if _tilted(me, them) else None
        if (r.initiated_by_me, r.initiated_by_them) != (me, them) or str(r.direction) != expected:
            wrong.append(f"{r.person.email}: digest {r.direction} {r.initiated_by_me}/"
                         f"{r.initiated_by_them}, truth {expected} {me}/{them}")
    return CheckResult("reciprocity-lines-match-the-ground-truth", not wrong, "; ".join(wrong))


def open_named(action: str) -> int:
    """How many unanswered threads a "you owe" step says are open: "reply to Lee's
    unanswered thread of 7 Nov" is one, "... 2 unanswered threads, of ..." two,
    "... two latest threads, of 7 Nov and 2 Nov (5 unanswered)" five; 0 without any."""
    if "unanswered" not in action:
        return 0
    found = re.search(r"(\d+) unanswered", action)
    if found:
        return int(found.group(1))
    return 1 if "unanswered thread " in action else -1


def actions_match_truth(digest: Any, unanswered: Mapping[str, int]) -> CheckResult:
    """Every "you owe" line's next step names the ground truth's unanswered threads:
    their count, and the day of the latest one (of the latest two, when recent enough
    to answer): a bounded to-do."""
    wrong = []
    for r in digest.reciprocity:
        if str(r.direction) != "you_owe":
            continue
        n = unanswered.get(r.person.email, 0)
        days = len(re.findall(r"\b\d{1,2} [A-Z][a-z]{2}\b", r.action))
        if open_named(r.action) != n or (n and not 1 <= days <= min(n, 2)) or (not n and days):
            wrong.append(f"{r.person.email}: {r.action!r}, ground truth {n} unanswered")
    return CheckResult("you-owe-actions-name-the-unanswered-threads", not wrong,
                       "; ".join(wrong))


def evaluate(check: Mapping[str, Any], result: Any, text: str,
             is_peer: Callable[[str], bool],
             truth: Mapping[str, tuple[int, int]]) -> CheckResult:
    """One check from ``expectations.json``; ``truth``: initiatives (by me, by them) in the
    reciprocity window per peer, from the ground truth."""
    kind, digest, cid = check["check"], result.digest, check["id"]
    person = check.get("person", "")
    if kind == "team_meeting":  # by series UID: a hashed title is unreadable
        team = result.team_meeting
        found = team.series_id if team else None
        invited = {i.meeting_series_id for i in digest.invitations}
        ok = found == check["series"] and invited <= {check["series"]}
        return CheckResult(cid, ok, f"team meeting {team.title if team else None!r} ({found}), "
                                    f"not {check['title']!r}; invitations name {sorted(invited)}")
    if kind == "in_section":
        named = named_in(digest, check["section"])
        return CheckResult(cid, person in named, f"{check['section']}: {sorted(named)}")
    if kind == "not_in_section":
        sections = PEER_SECTIONS if check["section"] == "*" else (check["section"],)
        hits = []
        for section in sections:
            direction = named_in(digest, section).get(person)
            if direction is not None and check.get("direction") in (None, direction):
                hits.append(f"{section} {direction}".strip())
        return CheckResult(cid, not hits, f"{person} named in {', '.join(hits)}" if hits else "")
    if kind == "not_a_peer":
        return CheckResult(cid, not is_peer(person), f"{person} is treated as a peer"
                           if is_peer(person) else "")
    if kind == "only_in_section":  # names someone, and only the listed people
        named = set(named_in(digest, check["section"]))
        others = sorted(named - set(check["people"]))
        return CheckResult(cid, bool(named) and not others,
                           f"{check['section']}: {sorted(named)}; not expected: {others}")
    if kind == "initiatives":  # what explain and reciprocity count, listed or not
        view = result.views.get(person)
        found = (view.score.initiated_by_me, view.score.initiated_by_them) if view else None
        expected = truth.get(person, (0, 0))
        return CheckResult(cid, found == expected,
                           f"{person}: engine {found}, ground truth {expected} (by me, by them)")
    if kind == "chain_unknown":
        said = "no manager column" in text
        known = digest.stats.get("management_chain_known")
        return CheckResult(cid, known is False and said,
                           f"management_chain_known={known}, footer says it: {said}")
    raise ValueError(f"unknown check {kind!r} in expectations.json")
