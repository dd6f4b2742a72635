"""Which batch sizes the fake Google server's per-user quota takes at the connector's pace.

Run: ``python -m benchmarks.google_batch_probe [--seconds 12] [--scale 5]``.
The benchmark's floor (benchmarks/google_sync_bench.py, ``accepted_batch``) counts
one batch envelope per second of quota (5 messages.get or 2 threads.get at
6,000 units/min on 2026 prices). The fake models Google's "per second, moving
average (allows short bursts)" as a bucket of two seconds, so it could take
larger batches; this measures which it takes without a 429 when batches arrive
at 95% of the rate (the connector's pace), on time or with the arrivals jittered
by a share of the interval (a real network's latency varies). Charges go
straight to the fake's quota (no HTTP), so only the quota model is probed.
Timings are printed, never asserted.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def probe(
    rate: float, cost: int, batch: int, *, pace: float, scale: float, seconds: float,
    jitter: float,
) -> tuple[int, int]:
    """(refused, sent) sub-requests when ``batch`` gets arrive every ``batch * cost`` units
    at ``pace`` of ``rate``; every other batch ``jitter`` of an interval late."""
    sys.path.insert(0, str(REPO))
    from tests.connectors.google.fake_google import ApiError, FakeGoogle

    fake = FakeGoogle(
        allowed_scopes=set(), quota_per_minute=rate, prices="2026", time_scale=scale
    )
    interval = batch * cost / (rate * pace / 60) / scale
    refused = sent = n = 0
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        due = start + n * interval + (jitter * interval if n % 2 else 0.0)
        time.sleep(max(0.0, due - time.monotonic()))
        for _ in range(batch):
            sent += 1
            try:
                fake.charge("probe@example.com", cost)
            except ApiError:
                refused += 1
        n += 1
    return refused, sent


CASES = [  # (label, units per minute, units per get, batch sizes: one second of quota first)
    ("2026 messages.get", 6000, 20, [5, 6, 7, 8, 10]),
    ("2026 threads.get", 6000, 40, [2, 3, 4, 5]),
    ("legacy messages.get", 15000, 5, [25, 50, 100]),
    ("legacy threads.get", 15000, 10, [25, 50]),
]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=12.0, help="per case (scaled time)")
    parser.add_argument("--scale", type=float, default=5.0, help="time speed-up")
    options = parser.parse_args(argv)
    for label, rate, cost, sizes in CASES:
        for batch in sizes:
            cells = []
            for jitter in (0.0, 0.25, 0.5):
                refused, sent = probe(
                    rate, cost, batch, pace=0.95, scale=options.scale,
                    seconds=options.seconds, jitter=jitter,
                )
                cells.append(f"jitter {jitter:.2f}: {refused:>3}/{sent} refused")
            print(f"{label:<20} batch {batch:>3} ({batch * cost / (rate / 60):.1f} s of quota): "
                  + "; ".join(cells), flush=True)


if __name__ == "__main__":
    main()
