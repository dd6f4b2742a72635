"""Microsoft Graph connector benchmark: requests against the API's floor, idle runs, memory.

Run: ``python -m benchmarks.microsoft_sync_bench [--sizes 10000 100000]``.
Against the local fake Graph (tests/connectors/microsoft), a mailbox of N
messages (80% Inbox, 20% Sent Items) plus a 300-event calendar, it prints per size:

- Graph requests of the initial mail sync next to the minimum: per folder,
  pages of the largest size the fake accepts (1,000) plus one
  (``ceil(N_f/P) + 1``). Goal <= 1.05. Sign-in and
  calendar requests are counted apart. Also, as arithmetic, what Twenty's
  pattern would cost (list ids, then ``$batch`` of 20 GETs): the same pages
  plus ``ceil(N/20)`` batch requests and N throttle-counted sub-requests;
- requests of a no-change incremental run (goal: one per delta source);
- peak RSS of the syncing process, 100k / 10k (goal <= 1.2), from
  ``/proc/self/status`` ``VmHWM`` in a child process (the fake, holding the
  mailbox, runs in this one).

Timings are printed, never asserted.
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

from peerpulse.connectors.microsoft.settings import MicrosoftSettings

REPO = Path(__file__).resolve().parent.parent
USER = "alice@contoso.com"
CALENDAR_EVENTS = 300
LARGEST_PAGE = 1000
SENT_SHARE = 0.2


def _proc_status_kb(key: str) -> int:
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def settings_for(graph: str, login: str) -> MicrosoftSettings:
    return MicrosoftSettings(
        mode="delegated",
        client_id="bench-client",
        calendar=True,
        mail=True,
        window_past_days=3650,
        window_future_days=60,
        time_budget_seconds=3600,
        graph_endpoint=graph,
        login_endpoint=login,
    )


def child(graph: str, login: str, state_dir: str, db: str) -> None:
    """Sync once through the real connector and store; print JSON figures."""
    from datetime import UTC, datetime

    from peerpulse.connectors.base import SourceContext
    from peerpulse.connectors.microsoft.connector import MicrosoftConnector
    from peerpulse.worker.store import open_store
    from peerpulse.worker.sync import _CommittedState

    started = time.monotonic()
    stored = 0
    with open_store(db) as store:
        context = SourceContext(
            account="alice",
            owner_addresses=frozenset({USER}),
            subjects="hashed",
            state_dir=state_dir,
            now=datetime.now(UTC),
            committed_state=lambda name: _CommittedState(store, "alice", name),
        )
        connector = MicrosoftConnector(context, settings_for(graph, login))
        rss_before = _proc_status_kb("VmRSS")
        for source in connector.sources():
            for batch in source.sync(store.cursor("alice", source.name)):
                store.apply_batch("alice", source.name, batch)
                stored += len(batch.upserts)
        connector.close()
    print(
        json.dumps(
            {
                "stored": stored,
                "seconds": time.monotonic() - started,
                "peak_rss_kb": _proc_status_kb("VmHWM"),
                "rss_before_sync_kb": rss_before,
            }
        )
    )


def run_child(fake: Any, state: Path) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.microsoft_sync_bench", "--child",
         fake.url + "/graph", fake.url + "/login", str(state), str(state / "db.sqlite3")],
        cwd=REPO, capture_output=True, text=True, check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def fill(fake: Any, size: int) -> dict[str, int]:
    from tests.connectors.microsoft.fake_data import event, message

    fake.mailbox(USER)
    sent = int(size * SENT_SHARE)
    folders = {"inbox": size - sent, "sentitems": sent}
    n = 0
    for folder, count in folders.items():
        box = fake.folders[(USER, folder)]
        for _ in range(count):
            item = message(n, minutes_ago=n % 500_000)
            if folder == "sentitems":
                item.update(**{"from": item["toRecipients"][0], "sender": item["toRecipients"][0]})
            item.pop("body"), item.pop("bodyPreview")
            box.put(item)
            n += 1
    for e in range(CALENDAR_EVENTS):
        fake.calendars[USER].put(event(e, days=e % 50))
    return folders


def bench_size(size: int) -> dict[str, Any]:
    sys.path.insert(0, str(REPO))
    from peerpulse.connectors.microsoft.auth import authorize
    from peerpulse.connectors.microsoft.http import session_for

    from tests.connectors.microsoft.fake_graph import FakeGraph

    fake = FakeGraph().start()
    fake.page_cap = LARGEST_PAGE
    fake.trailing_delta_page = True  # the deltaLink on a page of its own: the "+1 per folder"
    fake.device_user = USER
    try:
        folders = fill(fake, size)
        with tempfile.TemporaryDirectory() as tmp:
            state = Path(tmp)
            settings = settings_for(fake.url + "/graph", fake.url + "/login")
            authorize("alice", settings, session_for(settings), state_dir=state,
                      say=lambda _: None)
            fake.log.clear()
            initial = run_child(fake, state)
            mail = fake.graph_requests("/messages/delta")
            calendar = fake.graph_requests("calendarView")
            signin = sum(1 for _, p, _ in fake.log if p.startswith("/login"))
            fake.log.clear()
            again = run_child(fake, state)
            idle = [p.rsplit("/", 2)[-2] for _, p, _ in fake.log if p.startswith("/graph")]
    finally:
        fake.stop()
    minimum = sum(math.ceil(n / LARGEST_PAGE) + 1 for n in folders.values())
    pages = minimum
    return {
        "size": size, "folders": folders, "initial": initial, "mail": mail,
        "calendar": calendar, "signin": signin, "minimum": minimum, "pages": pages,
        "idle": idle, "again": again,
    }


def report(results: list[dict[str, Any]]) -> None:
    print("Microsoft Graph sync benchmark (fake Graph on 127.0.0.1, page cap "
          f"{LARGEST_PAGE}, connector page size 1000)")
    for r in results:
        size, folders = r["size"], r["folders"]
        print(f"\n{size:,} messages ({folders['inbox']:,} Inbox, {folders['sentitems']:,} "
              f"Sent Items): stored {r['initial']['stored']:,} records in "
              f"{r['initial']['seconds']:.1f} s")
        print(f"  message delta requests: {r['mail']:,} / minimum {r['minimum']:,} "
              f"(pages of {LARGEST_PAGE} + 1 per folder) -> ratio {r['mail'] / r['minimum']:.3f}"
              f"; not counted: {r['calendar']} calendarView, {r['signin']} sign-in requests")
        batches = math.ceil(size / 20)
        print(f"  ids then $batch of 20 GETs (arithmetic): {r['pages'] + batches:,} HTTP requests "
              f"and {r['pages'] + size:,} throttle-counted ones "
              f"(vs {r['mail']:,} inline) -> {(r['pages'] + batches) / r['mail']:.1f}x")
        print(f"  no-change incremental run: {len(r['idle'])} Graph requests {r['idle']}, "
              f"{r['again']['stored']} records")
        print(f"  peak RSS (VmHWM) {r['initial']['peak_rss_kb'] / 1024:.1f} MB "
              f"({r['initial']['rss_before_sync_kb'] / 1024:.1f} MB before the sync)")
    if len(results) >= 2:
        small, big = results[0], results[-1]
        ratio = big["initial"]["peak_rss_kb"] / small["initial"]["peak_rss_kb"]
        print(f"\npeak RSS {big['size']:,} / {small['size']:,}: {ratio:.2f} (goal <= 1.2)")


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] == "--child":
        child(*args[1:5])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    options = parser.parse_args(args)
    report([bench_size(n) for n in options.sizes])


if __name__ == "__main__":
    main()
