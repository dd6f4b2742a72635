"""The store marker beside the database (issue 10, item 3)."""

from __future__ import annotations

import pytest
from peerpulse.worker import marker
from peerpulse.worker.errors import StateError


def test_the_marker_round_trips_and_leaves_no_temporary_files(tmp_path):
    db = tmp_path / "s.sqlite3"
    written = marker.Marker("abc", {"demo": "2026-W48"}, {"demo": "2026-W48"})
    marker.write(db, written)
    marker.write(db, written)
    assert marker.read(db) == written
    assert [p.name for p in tmp_path.iterdir()] == ["s.sqlite3.marker"]


def test_a_damaged_marker_is_a_clear_error_naming_it(tmp_path):
    db = tmp_path / "s.sqlite3"
    marker.marker_path(db).write_text('{"store_id": ')
    with pytest.raises(StateError, match=r"s\.sqlite3\.marker: unreadable store marker"):
        marker.read(db)


def test_an_accepted_new_store_keeps_the_floor_of_weeks_already_sent():
    old = marker.Marker("old", {"demo": "2026-W48"}, {"demo": "2026-W48"})
    new = marker.merged(old, "new", {})
    assert new == marker.Marker("new", {"demo": "2026-W48"}, {})
    marker.refuse_replaced(marker.Path("x"), new, "new", {})  # no longer "behind"
    with pytest.raises(StateError, match="older copy"):
        marker.refuse_replaced(marker.Path("x"), old, "old", {"demo": "2026-W47"})
    with pytest.raises(StateError, match="different store"):
        marker.refuse_replaced(marker.Path("x"), old, "other", {"demo": "2026-W48"})
