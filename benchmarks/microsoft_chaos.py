"""Microsoft sync under faults: what a 20% fault rate costs, and that it loses nothing.

Run: ``python -m benchmarks.microsoft_chaos [--messages 3000] [--events 300] [--rate 0.2]
[--seed 1 2 3] [--max-runs 30]`` (``make chaos-microsoft``; minutes, not in
``make test``, whose short version is tests/connectors/microsoft/test_chaos.py).

Graph: one demo-like account (Inbox and Sent Items of mean thread length ~3,
and a calendar) is synced through the real connector, the real msal sign-in
and the real store against the local fake Graph and sign-in service
(tests/connectors/microsoft), twice: fault-free, and with the fake's seeded
fault mode (429 and 503 with Retry-After, 500, 502, 504, read timeouts,
connection resets, truncated bodies, access tokens expiring mid-run, expired
skip and delta tokens; on the token endpoint 429/503, 500, timeouts, resets,
truncated bodies). Each scenario is an initial sync, then two days of changes
(new and deleted messages; new, changed and deleted events), each followed by
an incremental sync, and a fault-free follow-up run that must fetch nothing. A sync phase is
repeated as a new run (a fresh connector, state from the store, as the
worker's next cron run would) until one completes, at most ``--max-runs``.

EWS (``--ews``, on by default): a smaller on-premises mailbox through
exchangelib against the fake EWS endpoint with ``ErrorServerBusy`` (and its
``BackOffMilliseconds``), 500s, read timeouts, connection resets and invalid
sync states, compared the same way.

The stores are compared row by row (lost, extra, duplicated), the connector
state's positions (phase of every listing, window, the calendar's stored-event
count against the rows) and the requests spent against the fault-free run.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.google_chaos import (
    Comparison,
    row_differences,
    snapshot,
    sync_all,
    until_complete,
)

USER = "alice@contoso.com"
PAGE_CAP = 20  # Graph serves smaller pages than asked when it wants to; small pages = more requests


@dataclass
class Scenario:
    """What one scenario (fault-free or chaos) did and left in its store."""

    runs: list[int] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)
    http_requests: int = 0  # Graph (or EWS) requests, retries included
    signin_requests: int = 0
    faults: dict[str, int] = field(default_factory=dict)
    rows: dict[str, Counter[tuple[Any, ...]]] = field(default_factory=dict)
    cursors: dict[str, Any] = field(default_factory=dict)
    count_matches_rows: bool = True
    follow_up_records: int = 0
    follow_up_calls: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def batch_parts(self) -> int:  # Comparison's second ratio: sign-in requests here
        return self.signin_requests


# -- Graph ------------------------------------------------------------------------------


def graph_world(fake: Any, messages: int, events: int) -> None:
    """The demo-like mailbox (80% Inbox, 20% Sent Items) and calendar, the same every time."""
    from tests.connectors.microsoft.fake_data import event, message

    fake.mailbox(USER)
    for n in range(messages):
        sent = n % 5 == 0
        item = message(n, minutes_ago=10 * n + 10)
        if sent:
            peer = {"emailAddress": {"address": f"peer{n % 40}@contoso.com"}}
            me = {"emailAddress": {"address": USER}}
            item.update(**{"from": me, "sender": me, "toRecipients": [peer]})
        item.pop("body"), item.pop("bodyPreview")
        fake.folders[(USER, "sentitems" if sent else "inbox")].put(item)
    for n in range(events):
        fake.calendars[USER].put(event(n, days=n % 50))


def graph_change(fake: Any, messages: int, events: int, day: int = 1) -> None:
    """New and deleted messages; new, changed and deleted events."""
    from tests.connectors.microsoft.fake_data import event, message

    rng = random.Random(5 + day)
    new_mail, new_events = messages * day, events * day  # ids no earlier day used
    inbox = fake.folders[(USER, "inbox")]
    for n in range(messages + new_mail, messages + new_mail + max(1, messages // 20)):
        item = message(n, minutes_ago=(n - messages) + 1)
        item.pop("body"), item.pop("bodyPreview")
        inbox.put(item)
    live = sorted(i for i, (_, item) in inbox.items.items() if item is not None)
    for item_id in rng.sample(live, max(1, messages // 100)):
        inbox.delete(item_id)
    cal = fake.calendars[USER]
    for n in range(events + new_events, events + new_events + max(1, events // 10)):
        cal.put(event(n, days=n % 50))
    for n in rng.sample(range(events), max(1, events // 10)):
        cal.put(event(n, days=n % 50, subject=f"Moved {n}"))
    for n in rng.sample(range(events), max(1, events // 20)):
        cal.delete(f"AAMkEvent{n:05d}=")


def graph_run(fake: Any, state: Path, store: Any, client_timeout: float, delay: float) -> int:
    """One cron run of the account: every source drained, each batch applied with its cursor."""
    from peerpulse.connectors.base import SourceContext
    from peerpulse.connectors.microsoft import graph
    from peerpulse.connectors.microsoft.connector import MicrosoftConnector
    from peerpulse.worker.sync import store_state

    from tests.connectors.microsoft.conftest import base_settings
    from tests.connectors.microsoft.fake_data import NOW

    graph.reset_slots()
    settings = base_settings(fake, window_past_days=3650, window_future_days=60,
                             client_id="chaos-client")
    context = SourceContext(
        account="alice", owner_addresses=frozenset({USER}), timezone="Europe/Berlin",
        subjects="kept", state_dir=str(state), now=NOW,
        committed_state=store_state(store, "alice"),
    )
    connector = MicrosoftConnector(context, settings)
    # Harness settings, not connector changes: a short read timeout (the fake holds a
    # "timeout" answer longer than this) and back-off scaled by ``delay`` (1 = real).
    connector.session.timeout = client_timeout
    connector.client.sleep = lambda seconds: time.sleep(seconds * delay)
    connector.client.credentials.sleep = connector.client.sleep
    return sync_all(store, connector)


def positions(store: Any) -> tuple[dict[str, Any], bool]:
    """The connector state's positions (no random link tokens or run ids), and whether the
    calendar's stored-event count equals the events stored."""
    out: dict[str, Any] = {}
    count = None
    for source in ("calendar", "mail"):
        for key, value in store.state_iter_prefix("alice", source, ""):
            if "/ids/" in key:
                out[f"{source}:{key}"] = "id"  # the tally's ids: the same set, any run id
                continue
            data = json.loads(value)
            out[f"{source}:{key}"] = {
                "delta": bool(data.get("delta")), "next": bool(data.get("next")),
                "since": data.get("since"), "until": data.get("until"),
                "count": data.get("count"), "exact": data.get("exact"),
            }
            if key == "calendarView":
                count = data.get("count")
    stored = sum(1 for _ in store.iter_events("alice"))
    return out, count == stored


def graph_scenario(
    messages: int, events: int, faults: Any, *, max_runs: int, client_timeout: float,
    delay: float, tmp: Path,
) -> Scenario:
    from peerpulse.connectors.microsoft.auth import authorize
    from peerpulse.connectors.microsoft.http import session_for
    from peerpulse.worker.store import open_store

    from tests.connectors.microsoft.conftest import base_settings
    from tests.connectors.microsoft.fake_graph import FakeGraph

    out = Scenario()
    fake = FakeGraph().start()
    fake.page_cap = PAGE_CAP
    fake.device_user = USER
    graph_world(fake, messages, events)
    state = tmp / ("chaos" if faults else "clean")
    state.mkdir()
    settings = base_settings(fake, client_id="chaos-client")
    authorize("alice", settings, session_for(settings), state_dir=state, say=lambda _: None)
    fake.log.clear()
    fake.faults = faults
    db = state / "db.sqlite3"
    started = time.monotonic()
    try:
        with open_store(db) as store:

            def run() -> int:
                fake.expire_access_tokens()  # an hour since the last run: sign in again
                return graph_run(fake, state, store, client_timeout, delay)

            until_complete(run, max_runs, out)  # type: ignore[arg-type]
            for day in (1, 2):  # two days of changes, each synced by one (completed) run
                graph_change(fake, messages, events, day)
                until_complete(run, max_runs, out)  # type: ignore[arg-type]
            out.seconds = time.monotonic() - started
            out.http_requests = fake.graph_requests()
            out.signin_requests = fake.signin_requests()
            out.faults = dict(faults.counts) if faults else {}
            fake.faults = None
            fake.log.clear()
            out.follow_up_records = run()
            out.follow_up_calls = sorted(
                p.rsplit("/", 2)[-2] for _, p, _ in fake.log if p.startswith("/graph")
            )
            out.cursors, out.count_matches_rows = positions(store)
        out.rows, _ = snapshot(db)
    finally:
        fake.stop()
    if fake.violations:
        raise RuntimeError(f"the fake saw violations: {fake.violations}")
    return out


# -- comparison ---------------------------------------------------------------------------


def compare(clean: Scenario, chaos: Scenario) -> Comparison:
    lost, extra, duplicated = row_differences(clean.rows, chaos.rows)
    return Comparison(
        lost=lost,
        extra=extra,
        duplicated=duplicated,
        cursors_equal=clean.cursors == chaos.cursors and chaos.count_matches_rows
        and clean.count_matches_rows,
        follow_up_ok=chaos.follow_up_records == 0
        and chaos.follow_up_calls == clean.follow_up_calls,
        http_ratio=chaos.http_requests / max(1, clean.http_requests),
        parts_ratio=chaos.signin_requests / max(1, clean.signin_requests),
    )


def graph_chaos(
    messages: int, events: int, rate: float, seed: int, *, max_runs: int = 30,
    client_timeout: float = 1.0, hold: float = 1.5, retry_after: float = 1.0, delay: float = 1.0,
) -> tuple[Scenario, Scenario, Comparison]:
    """The fault-free and the faulty Graph scenario, and how they compare."""
    from tests.connectors.microsoft.fake_graph import Faults

    random.seed(seed)  # the client's back-off jitter
    common: dict[str, Any] = dict(max_runs=max_runs, client_timeout=client_timeout, delay=delay)
    with tempfile.TemporaryDirectory() as tmp:
        clean = graph_scenario(messages, events, None, tmp=Path(tmp), **common)
        faults = Faults(rate, seed=seed, retry_after=retry_after, hold_seconds=hold)
        faulty = graph_scenario(messages, events, faults, tmp=Path(tmp), **common)
    return clean, faulty, compare(clean, faulty)


def _print(name: str, rate: float, seed: int, clean: Scenario, faulty: Scenario,
           c: Comparison, second: str) -> None:
    stored = sum(sum(r.values()) for r in clean.rows.values())
    print(f"{name} seed {seed}: {stored:,} rows stored, fault rate {rate:.0%}")
    print(f"  fault-free: runs per phase {clean.runs}, {clean.http_requests:,} requests, "
          f"{clean.signin_requests} {second}, {clean.seconds:.1f} s")
    print(f"  faulty:     runs per phase {faulty.runs} (failed runs: "
          f"{dict(faulty.failures) or 'none'}), {faulty.http_requests:,} requests, "
          f"{faulty.signin_requests} {second}, {faulty.seconds:.1f} s; "
          f"{sum(faulty.faults.values()):,} faults injected {dict(sorted(faulty.faults.items()))}")
    print(f"  records lost {c.lost}, extra {c.extra}, duplicated {c.duplicated}; "
          f"positions equal and counts exact: {c.cursors_equal}; fault-free follow-up fetches "
          f"nothing: {c.follow_up_ok} ({faulty.follow_up_calls})")
    print(f"  requests spent / fault-free: {c.http_ratio:.2f} ({second}: {c.parts_ratio:.2f})")


def _bad(c: Comparison) -> bool:
    return bool(c.lost or c.extra or c.duplicated or not c.cursors_equal or not c.follow_up_ok)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--rate", type=float, default=0.2, help="share of requests that fail")
    parser.add_argument("--seed", type=int, nargs="+", default=[1])
    parser.add_argument("--max-runs", type=int, default=30)
    parser.add_argument("--no-ews", dest="ews", action="store_false")
    parser.add_argument("--no-graph", dest="graph", action="store_false")
    options = parser.parse_args(argv)
    worst = 0
    for seed in options.seed:
        if options.graph:
            clean, faulty, c = graph_chaos(options.messages, options.events, options.rate, seed,
                                           max_runs=options.max_runs)
            _print("Graph", options.rate, seed, clean, faulty, c, "sign-in requests")
            worst |= _bad(c)
        if options.ews:
            from benchmarks.microsoft_chaos_ews import ews_chaos

            clean, faulty, c = ews_chaos(max(50, options.messages // 10),
                                         max(20, options.events // 5), options.rate, seed,
                                         max_runs=options.max_runs)
            _print("EWS", options.rate, seed, clean, faulty, c, "GetItem requests")
            worst |= _bad(c)
    return int(worst)


if __name__ == "__main__":
    raise SystemExit(main())

