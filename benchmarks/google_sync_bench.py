"""Google connector benchmark: cost against the API's floor, quota use, memory growth.

Run: ``python -m benchmarks.google_sync_bench [--sizes 10000 100000]``. Against
the local fake Google server (tests/connectors/google), synthetic mailboxes of
mean thread length ~3 plus one calendar, it prints per size:

- HTTP requests and quota units per 1,000 messages, divided by the minimum the
  API allows for the chosen fetch method (research §7; goal <= 1.05);
- quota utilization of the initial sync against the fake's enforced per-user
  rate (goal >= 0.9; the rate is set high so a 100k mailbox takes a minute);
- requests of a no-change incremental run (goal: one per calendar, one for mail);
- peak traced memory and max RSS of the syncing process, 100k / 10k (goal <= 1.2).

The client runs in a child process per size (clean memory figures); the fake
runs in this one. Timings are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
USER = "alice@example.com"
CALENDAR_EVENTS = 300


def child(url: str, state_dir: str, db: str, rate: int, in_flight: int) -> None:
    """Sync once through the real connector and store; print JSON figures."""
    import resource
    import tracemalloc
    from datetime import UTC, datetime

    from connectors.base import SourceContext
    from connectors.google.connector import GoogleConnector
    from connectors.google.mail_state import MailCursor
    from worker.store import open_store

    tracemalloc.start()
    settings = {
        "type": "google",
        "mode": "user",
        "calendars": ["primary"],
        "mail": True,
        "window_past_days": 3650,
        "window_future_days": 60,
        "quota_units_per_minute": rate,
        "api_endpoint": url,
        "token_endpoint": url + "token",
        "time_budget_seconds": 3600,
        "state_dir": state_dir,
        "mail_fetch": "auto",
        "batches_in_flight": in_flight,
    }
    context = SourceContext(
        account="alice",
        owner_addresses=frozenset({USER}),
        subjects="hashed",
        settings=settings,
        now=datetime.now(UTC),
    )
    started = time.monotonic()
    stored = 0
    with open_store(db) as store:
        connector = GoogleConnector(context)
        for source in connector.sources():
            for batch in source.sync(store.cursor("alice", source.name)):
                store.apply_batch("alice", source.name, batch)
                stored += len(batch.upserts)
        connector.close()
        cursor = MailCursor.load(store.cursor("alice", "gmail"))
    _, peak = tracemalloc.get_traced_memory()
    print(
        json.dumps(
            {
                "stored": stored,
                "seconds": time.monotonic() - started,
                "peak_traced": peak,
                "max_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                "method": cursor.method if cursor else None,
            }
        )
    )


def run_child(url: str, state: Path, rate: int, in_flight: int) -> dict[str, Any]:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.google_sync_bench",
            "--child",
            url,
            str(state),
            str(state / "db.sqlite3"),
            str(rate),
            str(in_flight),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def api_minimum(method: str, messages: int, threads: int) -> tuple[int, int]:
    """(HTTP requests, quota units) the API needs at least: list 500 a page, get 50 a batch."""
    if method == "threads":
        return math.ceil(threads / 500) + math.ceil(threads / 50), 10 * math.ceil(
            threads / 500
        ) + 10 * threads
    return math.ceil(messages / 500) + math.ceil(messages / 50), 5 * math.ceil(
        messages / 500
    ) + 5 * messages


def client_burst(rate: int) -> float:
    """The connector's bucket capacity (connectors/google/connector.py)."""
    from connectors.google.batch import MAX_BATCH
    from connectors.google.pacing import UNIT_COSTS, regime_for

    return max(MAX_BATCH * UNIT_COSTS[regime_for(rate)]["messages.get"], rate / 120)


def bench_size(size: int, rate: int, latency: float, in_flight: int) -> dict[str, Any]:
    sys.path.insert(0, str(REPO))
    from tests.connectors.google.fake_data import Calendar, synthetic_mailbox
    from tests.connectors.google.fake_google import FakeGoogle
    from tests.connectors.google.test_calendar import event

    scopes = {
        "https://www.googleapis.com/auth/gmail.metadata",
        "https://www.googleapis.com/auth/calendar.events.readonly",
    }
    fake = FakeGoogle(allowed_scopes=scopes, latency=latency, quota_per_minute=rate).start()
    try:
        now_ms = int(time.time() * 1000)
        fake.mailboxes[USER] = box = synthetic_mailbox(
            USER, size, newest_ms=now_ms - 60_000, spacing_ms=30_000
        )
        calendar = Calendar()
        for n in range(CALENDAR_EVENTS):
            calendar.put(event(n))
        fake.calendars[(USER, "primary")] = calendar
        threads = len(box.threads())
        with tempfile.TemporaryDirectory() as tmp:
            state = Path(tmp)
            token = state / "tokens" / "alice-google.json"
            token.parent.mkdir(mode=0o700)
            fake.grant(USER, scopes, "refresh-bench")
            token.write_text(
                json.dumps(
                    {
                        "token": "x",
                        "refresh_token": "refresh-bench",
                        "client_id": "c",
                        "client_secret": "s",
                        "scopes": sorted(scopes),
                        "expiry": "2000-01-01T00:00:00Z",
                    }
                )
            )
            initial = run_child(fake.url, state, rate, in_flight)
            mail_calls = [n for n, _ in fake.log if n != "events.list"]
            mail_http = fake.http_requests - fake.token_requests - fake.calls("events.list")
            units = fake.units.get(USER, 0)
            span = (fake.last_unit_at or 0) - (fake.first_unit_at or 0)
            throttled = fake.throttled
            fake.reset_counters()
            again = run_child(fake.url, state, rate, in_flight)
            incremental = [n for n, _ in fake.log]
    finally:
        fake.stop()
    method = initial["method"]
    min_http, min_units = api_minimum(method, size, threads)
    return {
        "size": size,
        "threads": threads,
        "method": method,
        "stored": initial["stored"],
        "seconds": initial["seconds"],
        "mail_http": mail_http,
        "mail_units": units,
        "mail_calls": len(mail_calls),
        "min_http": min_http,
        "min_units": min_units,
        # The client may burst its bucket's capacity at the start: that head start is not pacing.
        "utilization": (units - client_burst(rate)) / (rate / 60 * span) if span > 0 else 0.0,
        "throttled": throttled,
        "incremental": incremental,
        "incremental_stored": again["stored"],
        "peak_traced": initial["peak_traced"],
        "max_rss_kb": initial["max_rss_kb"],
    }


def report(results: list[dict[str, Any]], rate: int) -> None:
    print(f"Google sync benchmark (fake server, enforced per-user quota {rate:,} units/min)")
    for r in results:
        per_k = 1000 / r["size"]
        print(
            f"\n{r['size']:,} messages in {r['threads']:,} threads "
            f"(mean {r['size'] / r['threads']:.2f}); method: {r['method']}; "
            f"stored {r['stored']:,} records in {r['seconds']:.1f} s"
        )
        print(
            f"  HTTP requests per 1,000 messages: {r['mail_http'] * per_k:.2f} "
            f"(API minimum {r['min_http'] * per_k:.2f}) -> ratio "
            f"{r['mail_http'] / r['min_http']:.3f}"
        )
        print(
            f"  quota units per 1,000 messages:   {r['mail_units'] * per_k:.1f} "
            f"(API minimum {r['min_units'] * per_k:.1f}) -> ratio "
            f"{r['mail_units'] / r['min_units']:.3f}"
        )
        print(
            f"  quota utilization during initial sync (initial burst excluded): "
            f"{r['utilization']:.3f} "
            f"(429s from the fake: {r['throttled']})"
        )
        print(
            f"  no-change incremental run: {len(r['incremental'])} API requests "
            f"{r['incremental']}, {r['incremental_stored']} records"
        )
        print(
            f"  peak traced memory {r['peak_traced'] / 1e6:.1f} MB, max RSS "
            f"{r['max_rss_kb'] / 1024:.1f} MB"
        )
    if len(results) >= 2:
        small, big = results[0], results[-1]
        print(
            f"\npeak memory {big['size']:,} / {small['size']:,}: traced "
            f"{big['peak_traced'] / small['peak_traced']:.2f}, RSS "
            f"{big['max_rss_kb'] / small['max_rss_kb']:.2f}"
        )


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] == "--child":
        url, state, db, rate, in_flight = args[1:6]
        child(url, state, db, int(rate), int(in_flight))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--rate", type=int, default=300_000, help="enforced units/min per user")
    parser.add_argument("--latency", type=float, default=0.01, help="fake latency per request (s)")
    parser.add_argument("--in-flight", type=int, default=3, help="batches in flight per mailbox")
    options = parser.parse_args(args)
    results = [
        bench_size(n, options.rate, options.latency, options.in_flight) for n in options.sizes
    ]
    report(results, options.rate)


if __name__ == "__main__":
    main()
