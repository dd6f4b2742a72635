"""When a digest is due: a pinned clock across time zones, DST changes and year ends."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest
from peerpulse.worker.schedule import due_moment, due_period, next_due, period_of


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


SEVEN = time(7, 0)

# (zone, weekday, local time, now in UTC, expected period or None)
DUE_CASES = [
    # Berlin, an ordinary winter Monday: 07:00 CET is 06:00 UTC.
    ("Europe/Berlin", "monday", SEVEN, utc(2026, 11, 23, 5, 59), None),
    ("Europe/Berlin", "monday", SEVEN, utc(2026, 11, 23, 6, 0), "2026-W48"),
    ("Europe/Berlin", "monday", SEVEN, utc(2026, 11, 26, 12, 0), "2026-W48"),
    # Sunday night in UTC is already Monday in Berlin, but before 07:00: nothing yet.
    ("Europe/Berlin", "monday", SEVEN, utc(2026, 11, 22, 23, 30), None),
    # The Monday after the March change (29 Mar 2026): 07:00 CEST is 05:00 UTC.
    ("Europe/Berlin", "monday", SEVEN, utc(2026, 3, 30, 4, 59), None),
    ("Europe/Berlin", "monday", SEVEN, utc(2026, 3, 30, 5, 0), "2026-W14"),
    # The Monday after the October change (25 Oct 2026): 07:00 CET is 06:00 UTC again.
    ("Europe/Berlin", "monday", SEVEN, utc(2026, 10, 26, 5, 59), None),
    ("Europe/Berlin", "monday", SEVEN, utc(2026, 10, 26, 6, 0), "2026-W44"),
    # A wall time that does not exist (02:30 on 29 Mar 2026): due once 02:30 has passed,
    # i.e. at 03:30 CEST = 01:30 UTC.
    ("Europe/Berlin", "sunday", time(2, 30), utc(2026, 3, 29, 1, 29), None),
    ("Europe/Berlin", "sunday", time(2, 30), utc(2026, 3, 29, 1, 30), "2026-W13"),
    # A wall time that happens twice (02:30 on 25 Oct 2026): the first one, 00:30 UTC.
    ("Europe/Berlin", "sunday", time(2, 30), utc(2026, 10, 25, 0, 29), None),
    ("Europe/Berlin", "sunday", time(2, 30), utc(2026, 10, 25, 0, 30), "2026-W43"),
    # New York after its March change (8 Mar 2026): 07:00 EDT is 11:00 UTC.
    ("America/New_York", "monday", SEVEN, utc(2026, 3, 9, 10, 59), None),
    ("America/New_York", "monday", SEVEN, utc(2026, 3, 9, 11, 0), "2026-W11"),
    # ... and in November (1 Nov 2026): 07:00 EST is 12:00 UTC.
    ("America/New_York", "monday", SEVEN, utc(2026, 11, 2, 11, 59), None),
    ("America/New_York", "monday", SEVEN, utc(2026, 11, 2, 12, 0), "2026-W45"),
    # Kolkata has a half-hour offset and no DST: 07:00 IST is 01:30 UTC.
    ("Asia/Kolkata", "monday", SEVEN, utc(2026, 11, 23, 1, 29), None),
    ("Asia/Kolkata", "monday", SEVEN, utc(2026, 11, 23, 1, 30), "2026-W48"),
    # Auckland is ahead: its Monday 07:00 is Sunday 18:00 UTC.
    ("Pacific/Auckland", "monday", SEVEN, utc(2026, 11, 22, 18, 0), "2026-W48"),
    # A Friday digest, asked on the Wednesday before: not due (last week's is not resent).
    ("Europe/Berlin", "friday", time(16, 0), utc(2026, 11, 25, 9, 0), None),
    ("Europe/Berlin", "friday", time(16, 0), utc(2026, 11, 27, 15, 0), "2026-W48"),
    # ISO years: 2026 has 53 weeks; 1 Jan 2027 still belongs to 2026-W53.
    ("UTC", "monday", SEVEN, utc(2027, 1, 1, 12, 0), "2026-W53"),
    ("UTC", "monday", SEVEN, utc(2027, 1, 4, 7, 0), "2027-W01"),
]


@pytest.mark.parametrize(("tz", "day", "at", "now", "expected"), DUE_CASES)
def test_due_period_follows_local_wall_time(tz, day, at, now, expected):
    assert due_period(now, tz, day, at) == expected


# (zone, now in UTC, expected next due moment as local ISO)
NEXT_CASES = [
    ("Europe/Berlin", utc(2026, 11, 23, 5, 0), "2026-11-23T07:00:00+01:00"),
    ("Europe/Berlin", utc(2026, 11, 23, 6, 0), "2026-11-30T07:00:00+01:00"),
    # Across the March change: the next Monday 07:00 is in summer time.
    ("Europe/Berlin", utc(2026, 3, 24, 12, 0), "2026-03-30T07:00:00+02:00"),
    ("America/New_York", utc(2026, 10, 27, 12, 0), "2026-11-02T07:00:00-05:00"),
    ("Asia/Kolkata", utc(2026, 12, 29, 12, 0), "2027-01-04T07:00:00+05:30"),
]


@pytest.mark.parametrize(("tz", "now", "expected"), NEXT_CASES)
def test_next_due_is_the_next_local_due_moment(tz, now, expected):
    assert next_due(now, tz, "monday", SEVEN).isoformat() == expected


def test_next_due_normalizes_a_nonexistent_wall_time():
    moment = next_due(utc(2026, 3, 28, 12, 0), "Europe/Berlin", "sunday", time(2, 30))
    assert moment.isoformat() == "2026-03-29T03:30:00+02:00"


def test_a_machine_off_for_three_weeks_has_only_the_current_period_due():
    last_run = utc(2026, 11, 2, 6, 30)  # W45 was sent then
    back_on = utc(2026, 11, 25, 10, 0)  # Wednesday of W48
    assert due_period(last_run, "Europe/Berlin", "monday", SEVEN) == "2026-W45"
    hourly = [utc(2026, 11, 25, h, 0) for h in range(10, 24)]
    assert {due_period(t, "Europe/Berlin", "monday", SEVEN) for t in [back_on, *hourly]} == {
        "2026-W48"
    }


def test_the_period_is_the_iso_week_in_the_accounts_zone():
    moment = utc(2026, 11, 22, 23, 30)  # Sunday in UTC, Monday in Berlin
    assert period_of(moment, "UTC") == "2026-W47"
    assert period_of(moment, "Europe/Berlin") == "2026-W48"


def test_a_naive_now_is_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        due_period(datetime(2026, 11, 23, 7), "UTC", "monday", SEVEN)


def test_due_moment_is_built_from_local_date_and_wall_time():
    moment = due_moment("2026-W14", "Europe/Berlin", "monday", SEVEN)
    assert moment.isoformat() == "2026-03-30T07:00:00+02:00"
