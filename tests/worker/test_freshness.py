"""worker/freshness.py: when the stored record looks cut off."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from peerpulse.worker.freshness import QUIET_DAYS, quiet_sources

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def test_two_quiet_weeks_are_a_quiet_spell_more_is_a_record_that_stopped() -> None:
    spell = NOW - timedelta(days=QUIET_DAYS, hours=23)
    stopped = NOW - timedelta(days=QUIET_DAYS + 1)
    assert quiet_sources({"mail": spell, "calendar": spell}, NOW) == []
    assert quiet_sources({"mail": stopped, "calendar": spell}, NOW) == [
        {"kind": "mail", "newest": stopped.date().isoformat(), "days": str(QUIET_DAYS + 1)}]


def test_a_kind_with_nothing_stored_is_not_called_stale() -> None:
    assert quiet_sources({"mail": None, "calendar": None}, NOW) == []
