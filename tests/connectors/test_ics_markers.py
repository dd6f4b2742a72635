"""The compact series-marker set the ICS reader keeps per UID (issue 10, item 8)."""

from __future__ import annotations

import random
import tracemalloc

import pytest
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
