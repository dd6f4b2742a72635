"""A realistic sample digest, for the render tests, previews and the README screenshot.

A test fixture, not shipped in the package: ``python -m tests.worker.sample_digest
--html out.html`` (from the repository root) renders it. The people are
invented; the shapes (reasons, evidence, coverage numbers) follow what the rules
engine produces, so the preview shows a digest as a user would receive it.
"""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from peerpulse.rules.recommendations import (
    CelebrateEntry,
    DepartmentCoverage,
    Digest,
    Evidence,
    Invitation,
    PeerOfTheWeek,
    PersonEntry,
    ReciprocityEntry,
    Slot,
)

TZ = "Europe/Berlin"
NOW = datetime(2026, 11, 23, 7, 0, tzinfo=ZoneInfo(TZ))


def _ev(date: str, kind: str, weight: float, n: int, mine: bool | None = None) -> Evidence:
    return Evidence(date=date, kind=kind, weight=weight, record_id=f"files:{kind}-{n}",
                    initiated_by_me=mine)


def _person(email: str, name: str, dept: str, title: str, last: str | None, days: int | None,
            cadence: int, reason: str, evidence: tuple[Evidence, ...] = (),
            overdue: int | None = None) -> PersonEntry:
    return PersonEntry(
        email=email, name=name, department=dept, title=title, last_interaction=last,
        days_since=days, cadence_days=cadence, reasons=(reason,), evidence=evidence,
        tie_strength=0.4, days_overdue=overdue,
    )


def sample_digest(period: str = "2026-W48", account: str = "work") -> Digest:
    """The sample manager's digest for ``period`` (a Finance pick, three to reconnect, ...)."""
    dana = _person(
        "dana.okafor@example.com", "Dana Okafor", "Finance", "Director, FP&A", "2026-09-14", 70,
        30, "Key function you have not met in 10 weeks; she owns next year's budget cycle.",
        (_ev("2026-09-14", "lunch", 3.0, 1, True), _ev("2026-08-20", "one_on_one", 2.5, 2, False)),
        overdue=40,
    )
    return Digest(
        account=account,
        period=period,
        generated_at=NOW.isoformat(),
        timezone=TZ,
        owner="sam.rivera@example.com",
        peer_of_the_week=PeerOfTheWeek(
            person=dana,
            slots=(
                Slot("2026-11-24T12:00:00+01:00", "2026-11-24T12:45:00+01:00"),
                Slot("2026-11-25T15:30:00+01:00", "2026-11-25T16:00:00+01:00"),
                Slot("2026-11-27T09:30:00+01:00", "2026-11-27T10:00:00+01:00"),
            ),
        ),
        reconnect=(
            _person("lee.chen@example.com", "Lee Chen", "Sales", "VP Sales EMEA", "2026-08-31",
                    84, 28, "Your 1:1s stopped in September; Sales forecasts feed your roadmap.",
                    (_ev("2026-08-31", "one_on_one", 2.5, 3, True),
                     _ev("2026-08-12", "mail_sent", 0.5, 4, True)), overdue=56),
            _person("priya.natarajan@example.com", "Priya Natarajan", "People & HR",
                    "HR Business Partner", "2026-10-02", 52, 30,
                    "Key function: two of your open roles go through her team.",
                    (_ev("2026-10-02", "small_meeting", 1.0, 5),), overdue=22),
            _person("tomas.berg@example.com", "Tomás Berg", "Platform Engineering",
                    "Engineering Manager", "2026-10-09", 45, 30,
                    "Strong tie cooling down: weekly mail until October, silence since.",
                    (_ev("2026-10-09", "mail_received", 0.5, 6, False),
                     _ev("2026-10-01", "mail_sent", 0.5, 7, True)), overdue=15),
        ),
        reciprocity=(
            ReciprocityEntry(
                person=_person("aisha.bello@example.com", "Aisha Bello", "Marketing",
                               "Head of Product Marketing", "2026-11-12", 11, 21,
                               "She organized your last five meetings together.",
                               (_ev("2026-11-12", "small_meeting", 1.0, 8, False),)),
                direction="you_owe", initiated_by_me=1, initiated_by_them=5,
            ),
        ),
        celebrate=(
            CelebrateEntry(
                person=_person("marco.rossi@example.com", "Marco Rossi", "Customer Support",
                               "Director of Support", "2026-11-18", 5, 30,
                               "Peer in a customer-facing group."),
                what="Title change: Support Manager \u2192 Director of Support",
                date="2026-11-19",
            ),
        ),
        feedback=(
            _person("yuki.tanaka@example.com", "Yuki Tanaka", "Design", "Design Lead",
                    "2026-11-16", 7, 21,
                    "Your most frequent cross-group partner this quarter; not asked since June.",
                    (_ev("2026-11-16", "small_meeting", 1.0, 9),
                     _ev("2026-11-10", "one_on_one", 2.5, 10, True))),
        ),
        invitations=(
            Invitation(
                meeting_title="Product team weekly", meeting_series_id="files:series-1",
                weekday="thursday", local_time="10:00",
                attendee_departments=("Product", "Design"),
                person=_person("noor.haddad@example.com", "Noor Haddad", "Legal",
                               "Senior Counsel", "2026-10-21", 33, 45,
                               "Legal never attends; the data-retention launch needs them."),
            ),
        ),
        coverage=(
            DepartmentCoverage("Finance", True, 0.0, 6.5, 18.0, "dark", "2026-09-14", 2),
            DepartmentCoverage("People & HR", True, 1.0, 5.0, 11.0, "down", "2026-10-02", 1),
            DepartmentCoverage("Engineering", False, 14.0, 41.0, 80.0, "up", "2026-11-20", 6),
            DepartmentCoverage("Design", False, 6.0, 15.0, 26.0, "up", "2026-11-16", 2),
            DepartmentCoverage("Sales", False, 1.5, 8.0, 22.0, "down", "2026-10-14", 3),
            DepartmentCoverage("Marketing", False, 3.0, 9.0, 17.0, "flat", "2026-11-12", 2),
            DepartmentCoverage("Legal", False, 0.0, 1.0, 3.0, "dark", "2026-10-21", 1),
        ),
        stats={"interactions": 412, "peers": 23},
    )


def main(argv: list[str] | None = None) -> int:
    from peerpulse.worker.digest.render import render_digest

    parser = argparse.ArgumentParser(description="Render the sample digest (previews only).")
    parser.add_argument("--html", type=Path, help="write the HTML part here")
    parser.add_argument("--text", type=Path, help="write the text part here")
    args = parser.parse_args(argv)
    rendered = render_digest(sample_digest(), recipient="sam.rivera@example.com",
                             sender="sam.rivera@example.com", now=NOW, hold_attached=True)
    if args.html:
        args.html.write_text(rendered.html, encoding="utf-8")
    if args.text:
        args.text.write_text(rendered.text, encoding="utf-8")
    if not (args.html or args.text):
        print(rendered.text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
