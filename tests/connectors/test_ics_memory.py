"""What the ICS reader holds per series on a big calendar (issue 10, item 8): one
compact marker per series, and scattered series waiting as bytes, not components."""

from __future__ import annotations

import io
import random
import tracemalloc
import warnings
from datetime import UTC, datetime

import pytest
from peerpulse.connectors.files import ics, ics_blocks
from peerpulse.connectors.files.ics_markers import MarkerSet, marker


def test_marker_set_agrees_with_a_python_set_across_growth() -> None:
    rng = random.Random(7)
    values = [marker((rng.randrange(3), f"uid-{rng.randrange(60_000)}@x")) for _ in range(40_000)]
    compact, reference = MarkerSet(), set()
    for value in values:
        assert (value in compact) == (value in reference)
        compact.add(value)
        reference.add(value)
    assert len(compact) == len(reference)
    assert set(compact) == reference
    assert all(marker(("absent", n)) not in compact for n in range(2_000)
               if marker(("absent", n)) not in reference)


def test_markers_are_non_zero_and_zero_is_refused() -> None:
    assert marker(0) != 0  # hash(0) == 0 would mark a free slot
    with pytest.raises(ValueError):
        MarkerSet().add(0)


def test_a_series_costs_at_most_32_bytes() -> None:
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        markers = MarkerSet()
        for n in range(100_000):
            markers.add(marker((0, f"ev-{n}@bench")))
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert held <= 32 * 100_000  # a set of hash ints held ~70 to 100 bytes each


def _scattered_calendar(series: int) -> bytes:
    """Every master first, every moved occurrence at the end: all series scattered."""
    parts = ["BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"]
    for n in range(series):
        people = "".join(f"ATTENDEE;CN=P {k};PARTSTAT=ACCEPTED:mailto:p{k}@x.example\r\n"
                         for k in range(4))
        parts.append(f"BEGIN:VEVENT\r\nUID:s-{n}@x\r\nDTSTART:20250106T090000Z\r\n"
                     f"DTEND:20250106T093000Z\r\nRRULE:FREQ=WEEKLY;COUNT=5\r\n"
                     f"SUMMARY:Series {n}\r\n{people}END:VEVENT\r\n")
    for n in range(series):
        parts.append(f"BEGIN:VEVENT\r\nUID:s-{n}@x\r\nRECURRENCE-ID:20250113T090000Z\r\n"
                     f"DTSTART:20250113T100000Z\r\nDTEND:20250113T103000Z\r\n"
                     f"SUMMARY:Moved {n}\r\nEND:VEVENT\r\n")
    parts.append("END:VCALENDAR\r\n")
    return "".join(parts).encode()


def test_scattered_series_wait_as_bytes_not_parsed_components() -> None:
    # 400 scattered series (~500 bytes of text each): held parsed, they cost
    # ~9.7 KB a series; held as their blocks' bytes, ~1.3 KB.
    data = _scattered_calendar(400)
    opener = lambda: io.BytesIO(data)  # noqa: E731
    options = ics.IcsOptions(datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 3, 1, tzinfo=UTC))
    layout = ics_blocks.calendar_layout(opener, ics._block_uid)
    assert len(layout.scattered) == 400
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tracemalloc.start()
        try:
            second = ics._scattered(opener, set(layout.scattered), layout.contexts, "b.ics",
                                    options)
            before = tracemalloc.get_traced_memory()[0]
            first = next(second)  # every scattered block is gathered by now
            held = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
        rest = list(second)
    assert held < 3_000 * 400
    records = [first, *rest]
    assert len(records) == 400 * 5
    moved = [r for r in records if isinstance(r, ics.EventInstance) and r.start.hour == 10]
    assert len(moved) == 400
