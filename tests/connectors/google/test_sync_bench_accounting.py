"""The Google benchmark's accounting: steady-state utilization and quota 429s per phase.

Built on timelines shaped like a real run's (a SENT-first phase, a slow start, a
partial last batch), so a window that took in the ramp or the tail, or a 429
counted in the wrong phase, shows here.
"""

from __future__ import annotations

from benchmarks.google_sync_bench import phases, refusals_by_phase, steady_utilization


def timeline(seconds: int, per_second: int, *, ramp: int = 0, tail: int = 0) -> dict:
    """A sync charging ``per_second`` units each second from second 10, with ``ramp``
    seconds at a tenth of it first and a ``tail`` second of 1 unit at the end."""
    units = [(10 + s, per_second // 10 if s < ramp else per_second) for s in range(seconds)]
    if tail:
        units.append((10 + seconds, 1))
    calls = [
        (10.0, "getProfile", False),
        (10.5, "messages.list", True),  # the SENT-first phase
        (40.0, "messages.list", False),  # the full listing starts
    ]
    return {"units_per_second": units, "refusals": [], "calls": calls}


def test_steady_state_leaves_out_the_ramp_and_the_tail() -> None:
    # 6,000 units/min is 100 a second; charged at 95, after 30 s at 9.5 and with a 1-unit tail.
    run = timeline(600, 95, ramp=30, tail=1)
    utilization, start, end = steady_utilization(run, 6000, 1.0, "messages")
    assert (start, end) == (70.0, 610.0)
    assert abs(utilization - 0.95) < 1e-9
    overall = sum(u for _, u in run["units_per_second"]) / (100 * 601)
    assert overall < 0.91  # what the ramp and the tail cost the whole-run figure


def test_scaled_steady_window_is_one_scaled_minute() -> None:
    run = timeline(120, 475)  # k = 5: 100 units a real second is 500 a wall second
    utilization, start, _ = steady_utilization(run, 6000, 5.0, "messages")
    assert start == 22.0
    assert abs(utilization - 0.95) < 1e-9


def test_too_short_a_run_has_no_steady_state() -> None:
    assert steady_utilization(timeline(90, 95), 6000, 1.0, "messages")[0] == 0.0


def test_refusals_are_counted_in_their_phase() -> None:
    run = timeline(600, 95)
    assert phases(run, "messages") == {"first": 10, "rest": 40.0, "last": 610}
    run["refusals"] = [12.0, 69.9, 75.0, 300.0, 301.0, 700.0]
    # the SENT phase ends at 40 s, inside the first minute: its 429s count there
    assert refusals_by_phase(run, 1.0, "messages") == {
        "first_minute": 2, "sent_phase": 0, "steady": 3, "after": 1,
    }
    run["calls"][-1] = (100.0, "messages.list", False)  # a SENT phase past the first minute
    assert refusals_by_phase(run, 1.0, "messages") == {
        "first_minute": 2, "sent_phase": 1, "steady": 2, "after": 1,
    }


def test_threads_mode_phases_follow_threads_list() -> None:
    run = timeline(300, 95)
    run["calls"] = [(10.0, "threads.list", True), (55.0, "threads.list", False)]
    assert phases(run, "threads")["rest"] == 55.0
    assert phases(run, "messages")["rest"] == 10  # no full messages listing: from the start
