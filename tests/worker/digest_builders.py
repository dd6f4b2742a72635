"""Small real-shaped digests for the digest and delivery tests."""

from __future__ import annotations

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


def person(email: str, name: str, department: str | None = "Finance", *, reason: str = "overdue",
           title: str | None = None, last: str | None = "2026-09-14") -> PersonEntry:
    return PersonEntry(
        email=email, name=name, department=department, title=title, last_interaction=last,
        days_since=70 if last else None, cadence_days=30, reasons=(reason,),
        evidence=(Evidence("2026-09-14", "lunch", 3.0, "files:ev-1", True),), days_overdue=40,
    )


def full_digest(period: str = "2026-W48", *, name: str = "Dana Okafor", account: str = "work",
                department: str = "Finance", title: str | None = "Director",
                reason: str = "Key function you have not met in 10 weeks.",
                meeting_title: str = "Product team weekly", celebrate: str = "Promoted to VP",
                timezone: str = "Europe/Berlin") -> Digest:
    """One entry in every section; the pick's name and texts can be made hostile."""
    pick = person("dana@example.com", name, department, reason=reason, title=title)
    return Digest(
        account=account,
        period=period,
        generated_at="2026-11-23T07:00:00+01:00",
        timezone=timezone,
        owner="sam@example.com",
        peer_of_the_week=PeerOfTheWeek(pick, (
            Slot("2026-11-24T12:00:00+01:00", "2026-11-24T12:45:00+01:00"),
            Slot("2026-11-25T15:30:00+01:00", "2026-11-25T16:00:00+01:00"),
        )),
        reconnect=(person("lee@example.com", "Lee Chen", "Sales"),
                   person("priya@example.com", "Priya Natarajan", "People & HR")),
        reciprocity=(ReciprocityEntry(person("aisha@example.com", "Aisha Bello", "Marketing"),
                                      "you_owe", 1, 5),),
        celebrate=(CelebrateEntry(person("marco@example.com", "Marco Rossi", "Support"),
                                  celebrate, "2026-11-19"),),
        feedback=(person("yuki@example.com", "Yuki Tanaka", "Design"),),
        invitations=(Invitation(meeting_title, "files:series-1", "thursday", "10:00",
                                ("Product",), person("noor@example.com", "Noor Haddad", "Legal")),),
        coverage=(DepartmentCoverage("Finance", True, 0.0, 6.5, 18.0, "dark", "2026-09-14", 2),
                  DepartmentCoverage("Engineering", False, 14.0, 41.0, 80.0, "up", "2026-11-20",
                                     6)),
    )


def empty_digest(period: str = "2026-W48", account: str = "work") -> Digest:
    return Digest(account=account, period=period, generated_at="2026-11-23T07:00:00+01:00",
                  timezone="Europe/Berlin", owner="sam@example.com", peer_of_the_week=None)
