"""Google connector benchmark: cost against the API's floor, quota use, memory growth.

Run: ``python -m benchmarks.google_sync_bench [--sizes 1000 10000] [--regimes 2026 legacy]
[--modes messages threads] [--scale 1] [--baseline DIR]``.
Against the local fake Google server (tests/connectors/google), as strict as
Google (docs/GOOGLE.md): per-user concurrency 25, the regime's price table, a
per-second moving average and a per-minute window; synthetic mailboxes of
mean thread length ~3 plus one calendar. Per regime, size and fetch mode:

- Gmail HTTP requests and quota units, per endpoint, next to the minimum the
  API allows (docs/GOOGLE.md): ``ceil(T/500)`` list pages plus
  ``ceil(T/B)`` batch envelopes for T items, B the largest batch that is safe
  (min of 50, the concurrency limit, and one second of quota in units), plus
  the one getProfile for the starting historyId. Goal <= 1.05;
- quota utilization of the initial sync against the enforced per-user rate
  (goal >= 0.9), over the whole sync and over its steady state (from one
  minute after the first charge to the last whole second: the pacer's ramp and
  the last partial batch left out), quota 429s per phase (first minute, rest of
  the SENT-first phase, steady state, after) and concurrency 429s (goal 0);
- requests of a no-change incremental run (goal: one per calendar, one for mail);
- peak RSS of the syncing process, read from ``/proc/self/status`` ``VmHWM``
  (``--traced`` adds a separate tracemalloc run).

``--scale K`` runs time K times faster: the fake's quota windows last 1/K of
Google's with the same units in them, latency is divided by K, and the
connector paces K times faster (``time_scale``) with the same units per burst
and batch; so batch sizes, request and unit counts, utilization, 429s and the
first-digest ratio are those of the real quota. ``--scale 1`` is the real
clock (a 10k mailbox takes half an hour at 6,000 units/min); docs/GOOGLE.md,
"Time-scaled benchmarks", shows both give the same figures. At large K the
client becomes CPU-bound on a small machine, which shows as utilization
falling: keep K where utilization matches the unscaled run.
``--json PATH`` writes every run's figures, with its timeline (units charged per
second, each quota 429, each API call), so another window can be taken later.
``--child-timeout`` is also the connector's time budget, so a long sync is
measured whole. ``--baseline DIR`` first syncs with the connector of another
checkout (e.g. ``git archive`` of an older commit; its ``peerpulse/`` folder
must link ``connectors``, ``rules``, ``worker``) against the same fake, in auto
mode, and prints both side by side; a baseline sync that exceeds
``--child-timeout`` seconds is reported as not finishing.

The client runs in a child process per run; the fake runs in this one.
Timings are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
USER = "alice@example.com"
CALENDAR_EVENTS = 300
SCOPES = {
    "https://www.googleapis.com/auth/gmail.metadata",
    "https://www.googleapis.com/auth/calendar.events.readonly",
}


def _proc_status_kb(key: str) -> int:
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def child(
    url: str, state_dir: str, db: str, rate: int, in_flight: int, traced: bool,
    regime: str = "", mode: str = "auto", scale: float = 1.0, budget: float = 3600.0,
) -> None:
    """Sync once through the real connector and store; print JSON figures.

    ``budget``: the connector's wall-clock time budget; the benchmark sets it to the child
    timeout so that a long initial sync is measured whole, not cut at the default budget."""
    import tracemalloc
    from datetime import UTC, datetime

    from peerpulse.connectors.base import SourceContext
    from peerpulse.connectors.google.connector import GoogleConnector
    from peerpulse.connectors.google.mail_cursor import MailCursor
    from peerpulse.connectors.google.settings import GoogleSettings
    from peerpulse.worker.store import open_store
    from peerpulse.worker.sync import store_state

    if traced:
        tracemalloc.start()
    settings = GoogleSettings(
        mode="user",
        calendars=["primary"],
        mail=True,
        window_past_days=3650,
        window_future_days=60,
        quota_units_per_minute=rate,
        quota_regime=regime or None,
        api_endpoint=url,
        token_endpoint=url + "token",
        time_budget_seconds=int(budget),
        mail_fetch=mode,
        batches_in_flight=in_flight,
        **({"time_scale": scale} if scale != 1.0 else {}),
    )
    started = time.monotonic()
    stored = 0
    with open_store(db) as store:
        context = SourceContext(
            account="alice",
            owner_addresses=frozenset({USER}),
            subjects="hashed",
            state_dir=str(state_dir),
            now=datetime.now(UTC),
            committed_state=store_state(store, "alice"),
        )
        connector = GoogleConnector(context, settings)
        rss_before = _proc_status_kb("VmRSS")
        for source in connector.sources():
            for batch in source.sync(store.cursor("alice", source.name)):
                store.apply_batch("alice", source.name, batch)
                stored += len(batch.upserts)
        connector.close()
        cursor = MailCursor.load(store.cursor("alice", "gmail"))
    peak_traced = tracemalloc.get_traced_memory()[1] if traced else None
    print(
        json.dumps(
            {
                "stored": stored,
                "seconds": time.monotonic() - started,
                "peak_traced": peak_traced,
                "peak_rss_kb": _proc_status_kb("VmHWM"),
                "rss_before_sync_kb": rss_before,
                "method": cursor.method if cursor else None,
            }
        )
    )


def run_child(
    url: str, state: Path, rate: int, in_flight: int, traced: bool,
    regime: str = "", mode: str = "auto", root: Path = REPO, scale: float = 1.0,
) -> dict[str, Any]:
    """One sync in a child process; ``root``: the checkout whose connector runs (a baseline)."""
    env = dict(os.environ)
    if root != REPO:  # the baseline's own package first (see --baseline)
        env["PYTHONPATH"] = str(root)
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
            "1" if traced else "0",
            regime,
            mode,
            # a baseline's child may know neither argument: it gets what it got before
            *(
                [str(scale), str(int(CHILD_TIMEOUT))] if root == REPO
                else [str(scale)] if scale != 1.0 else []
            ),
        ],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT,
    )
    if out.returncode != 0:  # a baseline that cannot finish against the strict fake
        last = (out.stderr.strip().splitlines() or ["?"])[-1]
        raise ChildFailed(last)
    return json.loads(out.stdout.strip().splitlines()[-1])


CHILD_TIMEOUT = 600.0  # seconds of (scaled) time one sync may take; --child-timeout


class ChildFailed(Exception):
    """The synced child process ended with an error (its last line)."""


def accepted_batch(fake: Any, cost: int) -> int:
    """The largest batch that is safe: Google's advice (50), the per-user concurrency, and
    the units one second of quota holds (the documented per-second figure; the fake's
    moving average tolerates a little more, as slack for jitter, not for bigger batches)."""
    limits = [50, int(fake.quota_per_minute / 60 // cost)]
    if fake.max_concurrent:
        limits.append(fake.max_concurrent)
    return max(1, min(limits))


def api_minimum(
    method: str, messages: int, threads: int, costs: dict[str, int], batch: int = 50
) -> dict[str, int]:
    """What the API needs at least: list 500 a page, gets ``batch`` a batch."""
    kind = "threads" if method == "threads" else "messages"
    items = threads if kind == "threads" else messages
    lists, batches = math.ceil(items / 500), math.ceil(items / batch)
    units = costs[f"{kind}.list"] * lists + costs[f"{kind}.get"] * items
    return {
        "getProfile": 1,
        "lists": lists,
        "batches": batches,
        "gets": items,
        "http": 1 + lists + batches,
        "http_s7": lists + batches,
        "units": costs["getProfile"] + units,
        "units_s7": units,
    }


def measured_counts(fake: Any, method: str) -> dict[str, Any]:
    """Per-endpoint counts of the initial sync, read from the fake's log."""
    kind = "threads" if method == "threads" else "messages"
    lists = [query for name, query in fake.log if name == f"{kind}.list"]
    sent_lists = sum(1 for query in lists if '"labelIds": "SENT"' in query)
    counts = {
        "getProfile": fake.calls("getProfile"),
        "sent_lists": sent_lists,
        "lists": len(lists) - sent_lists,
        "batches": len(fake.batch_sizes),
        "largest_batch": max(fake.batch_sizes, default=0),
        "full_batches": sum(
            1 for size in fake.batch_sizes if size == max(fake.batch_sizes, default=0)
        ),
        "gets": fake.calls(f"{kind}.get"),
        "token": fake.token_requests,
        "calendar": fake.calls("events.list"),
    }
    counts["http"] = fake.http_requests - fake.token_requests - counts["calendar"]
    known = counts["getProfile"] + sent_lists + counts["lists"] + counts["batches"]
    counts["other"] = counts["http"] - known  # retried top-level calls, anything unexpected
    return counts


def _write_token(fake: Any, state: Path) -> None:
    token = state / "tokens" / "alice-google.json"
    token.parent.mkdir(mode=0o700, parents=True)
    fake.grant(USER, SCOPES, "refresh-bench")
    token.write_text(
        json.dumps(
            {
                "token": "x",
                "refresh_token": "refresh-bench",
                "client_id": "c",
                "client_secret": "s",
                "scopes": sorted(SCOPES),
                "expiry": "2000-01-01T00:00:00Z",
            }
        )
    )
    token.chmod(0o600)  # the token store refuses a token others can read


class Timeline:
    """When the fake charged units, refused with a quota 429, and served each API call.

    Wraps one fake's ``charge`` and ``log`` (the fake itself is unchanged) so that the
    utilization can be taken over the steady state and 429s counted per phase after the
    run, from the JSON (``--json``), for any choice of window."""

    def __init__(self, fake: Any) -> None:
        from tests.connectors.google.fake_google import ApiError

        self.start = time.monotonic()
        self.units: dict[int, int] = {}  # whole seconds since start -> units charged
        self.refusals: list[float] = []  # seconds since start of each quota 429
        self.calls: list[tuple[float, str, bool]] = []  # (seconds, method, SENT listing)
        original = fake.charge

        def charge(user: str, units: int) -> None:
            try:
                original(user, units)
            except ApiError:
                self.refusals.append(time.monotonic() - self.start)
                raise
            second = int(time.monotonic() - self.start)
            self.units[second] = self.units.get(second, 0) + units

        timeline = self

        class StampedLog(list):  # type: ignore[type-arg]
            def append(self, item: Any) -> None:
                name, query = item
                sent = '"labelIds": "SENT"' in query
                timeline.calls.append((time.monotonic() - timeline.start, name, sent))
                super().append(item)

        fake.charge = charge
        fake.log = StampedLog(fake.log)

    def to_json(self) -> dict[str, Any]:
        return {
            "units_per_second": sorted(self.units.items()),
            "refusals": list(self.refusals),
            "calls": list(self.calls),
        }


def phases(timeline: dict[str, Any], kind: str) -> dict[str, float]:
    """Boundaries (seconds) of the initial sync: first charge, end of the SENT-first phase
    (the first full-listing call), last charge."""
    charged = [second for second, _ in timeline["units_per_second"]]
    full = [t for t, name, sent in timeline["calls"] if name == f"{kind}.list" and not sent]
    first, last = (charged[0], charged[-1] + 1) if charged else (0.0, 0.0)
    return {"first": first, "rest": full[0] if full else first, "last": last}


def steady_utilization(
    timeline: dict[str, Any], rate: float, scale: float, kind: str
) -> tuple[float, float, float]:
    """Units per second over the steady state ÷ the quota's: from one (scaled) minute after
    the first charge (the start's burst and the pacer's ramp excluded) to the last whole
    second before the last charge (the tail's partial batch excluded). (utilization, from,
    to); 0 when the sync is shorter than two minutes."""
    bounds = phases(timeline, kind)
    start, end = bounds["first"] + 60 / scale, bounds["last"] - 1
    if end - start < 60 / scale:
        return 0.0, start, end
    units = sum(u for second, u in timeline["units_per_second"] if start <= second < end)
    return units / ((end - start) * rate / 60 * scale), start, end


def refusals_by_phase(timeline: dict[str, Any], scale: float, kind: str) -> dict[str, int]:
    """Quota 429s in the first (scaled) minute, the rest of the SENT-first phase, the full
    listing and fetch (the steady state), and after the last charge."""
    bounds = phases(timeline, kind)
    ramp_end = bounds["first"] + 60 / scale
    counts = {"first_minute": 0, "sent_phase": 0, "steady": 0, "after": 0}
    for t in timeline["refusals"]:
        if t < ramp_end:
            counts["first_minute"] += 1
        elif t < bounds["rest"]:
            counts["sent_phase"] += 1
        elif t <= bounds["last"]:
            counts["steady"] += 1
        else:
            counts["after"] += 1
    return counts


def client_burst(rate: float) -> float:
    """The burst the fake allows at the start (one second of quota)."""
    return rate / 60


def bench_size(
    size: int, rate: int, latency: float, in_flight: int, traced: bool, *,
    regime: str = "2026", mode: str = "auto", scale: float = 1.0, root: Path = REPO,
) -> dict[str, Any]:
    """One initial sync plus one no-change run of a ``size`` mailbox.

    ``scale`` k speeds time up honestly: the fake's quota windows last 1/k of
    Google's (a minute is 60/k s) while holding Google's units, latency is
    divided by k, and the connector (``time_scale``) paces k times faster with
    the same units per burst and batch, so batch sizes, request and unit counts,
    utilization and 429s are those of the real quota (shown by running a size
    both ways: docs/GOOGLE.md, "Time-scaled benchmarks").
    """
    sys.path.insert(0, str(REPO))
    from peerpulse.connectors.google.pacing import UNIT_COSTS

    from tests.connectors.google.fake_data import Calendar, synthetic_mailbox
    from tests.connectors.google.fake_google import FakeGoogle
    from tests.connectors.google.test_calendar import event

    fake = FakeGoogle(
        allowed_scopes=SCOPES, latency=latency / scale, quota_per_minute=rate, prices=regime,
        time_scale=scale,
    ).start()
    timeline = Timeline(fake)
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
            state = Path(tmp) / "measured"
            _write_token(fake, state)
            args = (rate, in_flight)
            initial = run_child(fake.url, state, *args, False, regime, mode, root, scale)
            method = initial["method"]
            counts = measured_counts(fake, method)
            units = fake.units.get(USER, 0)
            span = (fake.last_unit_at or 0) - (fake.first_unit_at or 0)
            throttled = fake.throttled
            refused = fake.concurrency_refusals
            initial_timeline = timeline.to_json()
            histogram = sorted(
                {n: fake.batch_sizes.count(n) for n in set(fake.batch_sizes)}.items()
            )
            fake.reset_counters()
            again = run_child(fake.url, state, *args, False, regime, mode, root, scale)
            incremental = [n for n, _ in fake.log]
            peak_traced = None
            if traced:  # a separate run: tracemalloc's own bookkeeping would inflate RSS
                fake.reset_counters()
                traced_state = Path(tmp) / "traced"
                _write_token(fake, traced_state)
                peak_traced = run_child(
                    fake.url, traced_state, *args, True, regime, mode, root, scale
                )["peak_traced"]
    finally:
        fake.stop()
    costs = UNIT_COSTS[regime]
    kind = "threads" if method == "threads" else "messages"
    batch = accepted_batch(fake, costs[f"{kind}.get"])
    minimum = api_minimum(method, size, threads, costs, batch)
    steady, steady_from, steady_to = steady_utilization(initial_timeline, rate, scale, kind)
    return {
        "latency": latency,
        "scale": scale,
        "batch_sizes": histogram,
        "steady_utilization": steady,
        "steady_window": [steady_from, steady_to],
        "refusals_by_phase": refusals_by_phase(initial_timeline, scale, kind),
        "timeline": initial_timeline,
        "size": size,
        "regime": regime,
        "rate": rate,
        "threads": threads,
        "method": method,
        "accepted_batch": batch,
        "stored": initial["stored"],
        "seconds": initial["seconds"],
        "real_seconds": initial["seconds"] * scale,
        "counts": counts,
        "mail_units": units,
        "min": minimum,
        # The client may burst the fake's allowance at the start: that head start is not pacing.
        "utilization": (units - client_burst(rate)) / (rate / 60 * scale * span)
        if span > 0
        else 0.0,
        "throttled": throttled,
        "concurrency_refused": refused,
        "incremental": incremental,
        "incremental_stored": again["stored"],
        "peak_rss_kb": initial["peak_rss_kb"],
        "rss_before_sync_kb": initial["rss_before_sync_kb"],
        "peak_traced": peak_traced,
    }


def report_requests(r: dict[str, Any]) -> None:
    c, m, kind = r["counts"], r["min"], "threads" if r["method"] == "threads" else "messages"
    partial = c["batches"] - c["full_batches"]
    rows = [
        ("getProfile (starting historyId)", c["getProfile"], m["getProfile"]),
        (f"{kind}.list, SENT-first phase", c["sent_lists"], 0),
        (f"{kind}.list, full listing", c["lists"], m["lists"]),
        (f"batch envelopes of {kind}.get", c["batches"], m["batches"]),
        ("other (retried top-level calls)", c["other"], 0),
        ("total Gmail HTTP requests", c["http"], m["http"]),
    ]
    print("  Gmail HTTP requests: measured / API minimum")
    for label, got, floor in rows:
        print(f"    {label:<34}{got:>7,} / {floor:,}")
    print(
        f"    ({c['full_batches']:,} batches of {c['largest_batch']}, {partial} smaller; "
        f"{c['gets']:,} {kind}.get sub-requests / {m['gets']:,}; not counted: {c['token']} token "
        f"request(s), {c['calendar']} events.list)"
    )
    per_k = 1000 / r["size"]
    print(
        f"  HTTP requests per 1,000 messages: {c['http'] * per_k:.2f} "
        f"(API minimum {m['http'] * per_k:.2f}) -> ratio {c['http'] / m['http']:.3f}; "
        f"against the floor without getProfile ({m['http_s7']:,}): "
        f"{c['http'] / m['http_s7']:.3f}"
    )
    print(
        f"  quota units per 1,000 messages:   {r['mail_units'] * per_k:.1f} "
        f"(API minimum {m['units'] * per_k:.1f}) -> ratio "
        f"{r['mail_units'] / m['units']:.3f}; without getProfile: "
        f"{r['mail_units'] / m['units_s7']:.3f}"
    )


def report(results: list[dict[str, Any]], rate: int) -> None:
    print("Google sync benchmark (strict fake server, real per-user quota, time-scaled)")
    for r in results:
        print(
            f"\n[{r['regime']} regime, {r['rate']:,} units/min; batches of up to "
            f"{r['accepted_batch']} accepted] "
            f"{r['size']:,} messages in {r['threads']:,} threads "
            f"(mean {r['size'] / r['threads']:.2f}); method: {r['method']}; "
            f"stored {r['stored']:,} records in {r['seconds']:.1f} s"
        )
        report_requests(r)
        print(
            f"  quota utilization during initial sync (initial burst excluded): "
            f"{r['utilization']:.3f} "
            f"(quota 429s from the fake: {r['throttled']}, concurrency 429s: "
            f"{r['concurrency_refused']})"
        )
        window = r["steady_window"]
        print(
            f"  steady-state utilization ({window[0]:.0f}-{window[1]:.0f} s of the run): "
            f"{r['steady_utilization']:.3f}; quota 429s by phase: {r['refusals_by_phase']}; "
            f"batch sizes (size, count): {r['batch_sizes']}"
        )
        print(
            f"  no-change incremental run: {len(r['incremental'])} API requests "
            f"{r['incremental']}, {r['incremental_stored']} records"
        )
        traced = r["peak_traced"]
        print(
            f"  peak RSS (VmHWM, no tracemalloc) {r['peak_rss_kb'] / 1024:.1f} MB "
            f"({r['rss_before_sync_kb'] / 1024:.1f} MB before the sync)"
            + (f"; peak traced memory (separate run) {traced / 1e6:.1f} MB" if traced else "")
        )
    if len(results) >= 2:
        small, big = results[0], results[-1]
        line = (
            f"\npeak memory {big['size']:,} / {small['size']:,}: RSS "
            f"{big['peak_rss_kb'] / small['peak_rss_kb']:.2f}"
        )
        if small["peak_traced"] and big["peak_traced"]:
            line += f", traced {big['peak_traced'] / small['peak_traced']:.2f}"
        print(line + " (goal <= 1.2)")


def compare(rows: list[tuple[str, dict[str, Any]]]) -> None:
    """Before and after side by side, with ratios (after / before)."""
    print("\nSide by side (same strict fake; time is the real-quota equivalent):")
    head = (
        f"  {'run':<34}{'method':>9}{'batch':>6}{'HTTP/floor':>11}{'units/floor':>12}"
        f"{'util':>6}{'429 quota':>10}{'429 conc.':>10}{'stored':>8}{'sync h':>8}"
    )
    print(head)
    for label, r in rows:
        c, m = r["counts"], r["min"]
        print(
            f"  {label:<34}{r['method']:>9}{r['counts']['largest_batch']:>6}"
            f"{c['http'] / m['http']:>11.3f}{r['mail_units'] / m['units']:>12.3f}"
            f"{r['utilization']:>6.2f}{r['throttled']:>10}{r['concurrency_refused']:>10}"
            f"{r['stored']:>8}{r['real_seconds'] / 3600:>8.2f}"
        )


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] == "--child":
        url, state, db, rate, in_flight, traced, regime, mode, scale, budget = (
            args[1:11] + ["", "auto", "1", "3600"][len(args[1:11]) - 6 :]
        )[:10]
        child(
            url, state, db, int(rate), int(in_flight), traced == "1", regime, mode,
            float(scale), float(budget),
        )
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000])
    parser.add_argument(
        "--regimes", nargs="+", default=["2026", "legacy"], choices=["2026", "legacy"]
    )
    parser.add_argument("--modes", nargs="+", default=["messages", "threads"])
    parser.add_argument(
        "--scale", type=float, default=1.0, help="time speed-up (quota x, latency /)"
    )
    parser.add_argument("--latency", type=float, default=0.25, help="real latency per request (s)")
    parser.add_argument("--in-flight", type=int, default=2, help="batches in flight per mailbox")
    parser.add_argument(
        "--baseline", type=Path, help="a checkout of the connector before (runs first, auto mode)"
    )
    parser.add_argument("--traced", action="store_true", help="a tracemalloc run per size too")
    parser.add_argument("--child-timeout", type=float, default=CHILD_TIMEOUT)
    parser.add_argument("--json", type=Path, help="also write every run's figures here")
    options = parser.parse_args(args)
    globals()["CHILD_TIMEOUT"] = options.child_timeout
    rows: list[tuple[str, dict[str, Any]]] = []
    for regime in options.regimes:
        rate = QUOTA[regime]
        for size in options.sizes:
            common = dict(regime=regime, scale=options.scale)
            if options.baseline:
                try:
                    r = bench_size(
                        size, rate, options.latency, 3, False, mode="auto",
                        root=options.baseline.resolve(), **common,
                    )
                    rows.append((f"before {regime} {size:,} auto", r))
                except ChildFailed as exc:
                    print(f"before {regime} {size:,}: the initial sync failed: {exc}")
                except subprocess.TimeoutExpired:
                    hours = CHILD_TIMEOUT * options.scale / 3600
                    print(
                        f"before {regime} {size:,}: the initial sync did not finish in "
                        f"{CHILD_TIMEOUT:.0f} s ({hours:.1f} h at the real quota)"
                    )
            for mode in options.modes:
                r = bench_size(
                    size, rate, options.latency, options.in_flight, options.traced,
                    mode=mode, **common,
                )
                rows.append((f"after  {regime} {size:,} {mode}", r))
    if options.json:
        options.json.write_text(json.dumps([{"label": label, **r} for label, r in rows]))
    report([r for label, r in rows if label.startswith("after")], 0)
    compare(rows)


QUOTA = {"2026": 6000, "legacy": 15000}


if __name__ == "__main__":
    main()
