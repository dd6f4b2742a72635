"""The recurring series on the focal manager's calendar, with their exceptions.

Each series shows something the connector must get right: EXDATEs, a moved
occurrence (RECURRENCE-ID), a cancelled occurrence, an override that adds a
guest, COUNT- and UNTIL-bounded rules, monthly BYDAY rules, and meetings kept
in New York and Tokyo wall-clock time across daylight-saving changes.
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta

from peerpulse.worker.demo.invites import EventFactory, safe_to_decline
from peerpulse.worker.demo.model import DemoWindow, EventSpec, Guest, zoned
from peerpulse.worker.demo.org import HOME_ZONE
from peerpulse.worker.demo.recurrence import first_weekday_of, monthly_first, next_weekday, weekly

MON, TUE, WED, THU, FRI = range(5)


def recurring_series(f: EventFactory, window: DemoWindow,
                     profiles: dict[str, str]) -> list[EventSpec]:
    """Every series master (with its overrides attached), in a fixed order."""
    last = window.future_end - timedelta(days=1)
    skip = (window.end,)
    org = f.org
    start = window.start
    return [
        _team_meeting(f, window, last, skip),
        _lee_one_on_one(f, window, last, skip),
        _priya_biweekly(f, window, skip),
        _hanako_monthly(f, window, last, skip),
        _marcus_new_york(f, window),
        f.event("Morgan / Dana 1:1", zoned(next_weekday(start, TUE), 9, 0, HOME_ZONE), 30,
                org.chain[0], [f.guest(org.chain[0]), f.owner()],
                recurrence=weekly(zoned(next_weekday(start, TUE), 9, 0, HOME_ZONE),
                                  last_day=last, skip=skip)),
        *_report_one_on_ones(f, window, last, skip),
        _managers_forum(f, window, last, skip, profiles),
        _all_hands(f, window, last, skip),
        f.event("Focus time", zoned(next_weekday(start, WED), 13, 0, HOME_ZONE), 120,
                org.owner, [], marker="focus_time",
                description="Focus time: notifications off, meetings auto-declined.",
                recurrence=weekly(zoned(next_weekday(start, WED), 13, 0, HOME_ZONE),
                                  last_day=last, skip=skip)),
    ]


def _past(spec: EventSpec, window: DemoWindow) -> list[datetime]:
    """Occurrences before ``now`` that are not excluded: the ones worth overriding."""
    assert spec.recurrence is not None
    ex = set(spec.recurrence.exdates)
    return [o for o in spec.recurrence.occurrences if o not in ex and o < window.now]


def _override(master: EventSpec, original: datetime, **changes: object) -> EventSpec:
    start = changes.pop("start", original)
    assert isinstance(start, datetime)
    return dataclasses.replace(
        master, start=start, end=start + (master.end - master.start), recurrence=None,
        recurrence_id=original, overrides=(), sequence=1, **changes,  # type: ignore[arg-type]
    )


def _team_meeting(f: EventFactory, window: DemoWindow, last: date,
                  skip: tuple[date, ...]) -> EventSpec:
    org = f.org
    first = zoned(next_weekday(window.start, MON), 10, 0, HOME_ZONE)
    holiday = first.date() + timedelta(weeks=max(1, (window.end - window.start).days // 21))
    guests = [f.owner()] + [f.guest(r, "TENTATIVE" if i == 2 else "ACCEPTED")
                            for i, r in enumerate(org.direct_reports)] + [f.room()]
    master = f.event("Platform team weekly", first, 60, org.owner, guests,
                     recurrence=weekly(first, last_day=last, skip=skip + (holiday,)),
                     location="Berlin-3-Spree (8)",
                     description="Agenda: wins, blockers, on-call handover.\nNotes in the doc.")
    past = _past(master, window)
    overrides: list[EventSpec] = []
    n = len(past)
    if n >= 5:  # four distinct occurrences: n//5, 2n//5, 3n//5, 4n//5
        moved = past[2 * n // 5]
        overrides.append(_override(master, moved, start=datetime.combine(
            moved.date() + timedelta(days=1), moved.timetz().replace(hour=14))))
        overrides.append(_override(master, past[n // 5], status="CANCELLED",
                                   summary="Platform team weekly (cancelled: offsite)"))
        support = org.named["oliver"]
        guest = Guest("Oliver.Hughes@Example.co.uk", org.by_email[support].name, "ACCEPTED")
        overrides.append(_override(master, past[3 * n // 5],
                                   guests=(*guests[:-1], guest, guests[-1]),
                                   summary="Platform team weekly + Support escalations"))
        product = [p for p in org.peers if org.by_email[p].department == "Product"][-1]
        overrides.append(_override(master, past[4 * n // 5],
                                   guests=(*guests[:-1], f.guest(product), guests[-1]),
                                   summary="Platform team weekly (guest: Product roadmap)"))
    return dataclasses.replace(master, overrides=tuple(overrides))


def _lee_one_on_one(f: EventFactory, window: DemoWindow, last: date,
                    skip: tuple[date, ...]) -> EventSpec:
    first = zoned(next_weekday(window.start + timedelta(days=10), THU), 11, 0, HOME_ZONE)
    vacation = first.date() + timedelta(weeks=max(1, (window.end - window.start).days // 14))
    master = f.event("Dana / Lee 1:1", first, 30, f.org.owner,
                     [f.owner(), Guest("lchen@example.com", "Lee Chen"), f.room()],
                     recurrence=weekly(first, last_day=last, skip=skip + (vacation,)))
    past = _past(master, window)
    overrides = []
    if len(past) >= 6:
        overrides.append(_override(master, past[-2], status="CANCELLED"))
        moved = past[len(past) // 3]
        overrides.append(_override(master, moved, start=datetime.combine(
            moved.date() + timedelta(days=1), moved.timetz().replace(hour=9, minute=30))))
    return dataclasses.replace(master, overrides=tuple(overrides))


def _priya_biweekly(f: EventFactory, window: DemoWindow, skip: tuple[date, ...]) -> EventSpec:
    priya = f.org.named["priya"]
    first = zoned(next_weekday(window.start + timedelta(days=20), TUE), 15, 0, HOME_ZONE)
    count = max(2, min(8, (window.end - first.date()).days // 14))
    master = f.event("Priya <> Dana", first, 45, priya,
                     [f.guest(priya), f.owner(), f.room()],
                     recurrence=weekly(first, count=count, interval=2, skip=skip))
    past = _past(master, window)
    overrides = [_override(master, past[-1], guests=(f.guest(priya), f.owner("TENTATIVE")))
                 ] if past else []
    return dataclasses.replace(master, overrides=tuple(overrides))


def _hanako_monthly(f: EventFactory, window: DemoWindow, last: date,
                    skip: tuple[date, ...]) -> EventSpec:
    hanako = f.org.named["hanako"]
    month = window.start.replace(day=1) + timedelta(days=32)
    first_day = first_weekday_of(month.year, month.month, THU)
    first = zoned(first_day, 17, 0, "Asia/Tokyo")
    return f.event("Ops APAC x Platform monthly", first, 45, hanako,
                   [f.guest(hanako), f.owner()],
                   recurrence=monthly_first(first, last_day=last, skip=skip),
                   description="Monthly check-in across time zones (17:00 Tokyo).")


def _marcus_new_york(f: EventFactory, window: DemoWindow) -> EventSpec:
    """Ten weekly meetings at 10:00 New York, ending two weeks before ``end``."""
    marcus = f.org.named["marcus"]
    first_day = next_weekday(max(window.start, window.end - timedelta(days=11 * 7)), WED)
    count = max(1, min(10, (window.end - timedelta(days=14) - first_day).days // 7 + 1))
    first = zoned(first_day, 10, 0, "America/New_York")
    sales_ic = next(p.email for p in f.org.people if p.level == "ic" and p.department == "Sales")
    return f.event("Sales x Platform weekly sync", first, 30, marcus,
                   [f.guest(marcus), f.owner(), f.guest(sales_ic)],
                   recurrence=weekly(first, count=count), outlook=True)


def _report_one_on_ones(f: EventFactory, window: DemoWindow, last: date,
                        skip: tuple[date, ...]) -> list[EventSpec]:
    out = []
    for i, report in enumerate(f.org.direct_reports[:3]):
        first = zoned(next_weekday(window.start, (WED, THU, FRI)[i]), 14, 0, HOME_ZONE)
        out.append(f.event(f"Dana / {f.name_of(report)} 1:1", first, 30, f.org.owner,
                           [f.owner(), f.guest(report)],
                           recurrence=weekly(first, last_day=last, interval=2, skip=skip)))
    return out


def _managers_forum(f: EventFactory, window: DemoWindow, last: date,
                    skip: tuple[date, ...], profiles: dict[str, str]) -> EventSpec:
    org = f.org
    members = [p for p in org.peers if org.by_email[p].department in ("Engineering", "Product")
               and profiles.get(p) not in ("never", "dormant")]
    members = members[:14]
    guests = [f.guest(org.chain[0]), f.owner()]
    decline = 1 if safe_to_decline(len(members) + 2) else -1
    guests += [f.guest(p, "DECLINED" if i == decline else "ACCEPTED", alias_rate=0.5)
               for i, p in enumerate(members)]
    guests.append(f.room())
    first = zoned(next_weekday(window.start + timedelta(days=7), WED), 15, 0, HOME_ZONE)
    return f.event("Eng & Product managers forum", first, 60, org.chain[0], guests,
                   recurrence=weekly(first, last_day=last, interval=4, skip=skip))


def _all_hands(f: EventFactory, window: DemoWindow, last: date,
               skip: tuple[date, ...]) -> EventSpec:
    org = f.org
    ceo = org.chain[-1]
    guests = [f.guest(p.email, "ACCEPTED" if p.email in (ceo, org.owner) else
                      ("NEEDS-ACTION" if i % 3 else "ACCEPTED"))
              for i, p in enumerate(org.people)]
    guests.append(Guest("c_188cb5tegel77d0@resource.calendar.google.com",
                        "Berlin-5-Tegel, Boardroom (20)", "ACCEPTED", "ROOM"))
    first = zoned(next_weekday(window.start + timedelta(days=3), THU), 17, 0, HOME_ZONE)
    return f.event("Company All Hands", first, 60, ceo, guests,
                   recurrence=weekly(first, last_day=last, interval=4, skip=skip),
                   location="Berlin-5-Tegel, Boardroom (20) and Meet")
