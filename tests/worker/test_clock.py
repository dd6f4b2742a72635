"""The clock-behind checks (issue 10, item 1)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from peerpulse.worker.clock import TOLERANCE, clock_behind

NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)


def test_a_week_sent_after_the_clock_is_reported():
    found = clock_behind("demo", "Europe/Berlin", NOW, "2026-W49", None)
    assert found is not None and "2026-W49" in found.describe()


def test_a_last_run_after_the_clock_is_reported_beyond_the_tolerance():
    late = NOW + TOLERANCE + timedelta(minutes=1)
    found = clock_behind("demo", "Europe/Berlin", NOW, "2026-W48", late)
    assert found is not None and "last sync ran" in found.describe()
    assert clock_behind("demo", "Europe/Berlin", NOW, "2026-W48", NOW + TOLERANCE / 2) is None


def test_an_ordinary_clock_passes():
    assert clock_behind("demo", "Europe/Berlin", NOW, "2026-W48", NOW - timedelta(hours=1)) is None
    assert clock_behind("demo", "Europe/Berlin", NOW, None, None) is None
