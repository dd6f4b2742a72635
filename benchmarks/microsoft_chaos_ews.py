"""The EWS half of ``make chaos-microsoft``: an on-premises mailbox under faults.

A mailbox (Inbox and Sent Items) and a calendar on the fake EWS endpoint
(tests/connectors/microsoft/fake_ews.py, served through ``responses``) are
synced through exchangelib, the real connector and the real store, fault-free
and with the fake's seeded fault mode (``ErrorServerBusy`` with
``BackOffMilliseconds``, 503 from the front end, read timeouts, connection
resets, invalid sync states); then the world changes twice, each time followed
by an incremental sync; a fault-free follow-up run must fetch nothing (see
benchmarks/microsoft_chaos.py).
"""

from __future__ import annotations

import random
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from benchmarks.google_chaos import snapshot, sync_all, until_complete
from benchmarks.microsoft_chaos import USER, Scenario, compare

PASSWORD = "correct horse"


def _iso(delta: timedelta) -> str:
    from tests.connectors.microsoft.fake_data import NOW

    return (NOW + delta).strftime("%Y-%m-%dT%H:%M:%SZ")


def _event(n: int, ck: str = "ck1") -> dict[str, Any]:
    return {"id": f"ev{n}", "ck": ck, "subject": f"Review {n}",
            "start": _iso(timedelta(days=1 + n % 20, hours=n % 8)),
            "end": _iso(timedelta(days=1 + n % 20, hours=n % 8, minutes=30)), "organizer": USER,
            "required": [(f"peer{n % 30}@contoso.com", "Accept")]}


def _message(n: int, sent: bool = False) -> dict[str, Any]:
    peer = f"peer{n % 40}@contoso.com"
    return {"id": f"msg{n}", "subject": f"Re: plan {n}", "received": _iso(-timedelta(hours=n)),
            "conversation": f"conv{n // 3}", "from": USER if sent else peer,
            "to": [peer if sent else USER], "message_id": f"<m{n}@contoso.com>"}


def world(fake: Any, messages: int, events: int) -> None:
    for n in range(messages):
        fake.folders["sentitems" if n % 5 == 0 else "inbox"].put(_message(n, sent=n % 5 == 0))
    for n in range(events):
        fake.events[f"ev{n}"] = _event(n)


def change(fake: Any, messages: int, events: int, day: int = 1) -> None:
    rng = random.Random(5 + day)
    new_mail, new_events = messages * day, events * day  # ids no earlier day used
    inbox = fake.folders["inbox"]
    for n in range(messages + new_mail, messages + new_mail + max(1, messages // 20)):
        inbox.put(_message(n))
    live = sorted(i for i, (_, m) in inbox.items.items() if m is not None)
    for item_id in rng.sample(live, max(1, messages // 100)):
        inbox.delete(item_id)
    for n in range(events + new_events, events + new_events + max(1, events // 10)):
        fake.events[f"ev{n}"] = _event(n)
    for n in rng.sample(range(events), max(1, events // 10)):
        fake.events[f"ev{n}"] = {**_event(n, ck="ck2"), "subject": f"Moved {n}"}
    for n in rng.sample(range(events), max(1, events // 20)):
        fake.events.pop(f"ev{n}", None)


def one_run(tmp: Path, store: Any) -> int:
    import exchangelib
    from peerpulse.connectors.base import SourceContext
    from peerpulse.connectors.microsoft.ews import ExchangeConnector
    from peerpulse.connectors.microsoft.settings import ExchangeSettings
    from peerpulse.worker.sync import store_state

    from tests.connectors.microsoft.fake_data import NOW

    exchangelib.close_connections()  # each cron run is a new process: no cached protocol
    secret = tmp / "ews-password"
    secret.write_text(PASSWORD)
    secret.chmod(0o600)
    settings = ExchangeSettings.model_validate(dict(
        server="mail.contoso.local", username="CONTOSO\\alice", password={"file": str(secret)},
        auth="basic", window_past_days=3650, window_future_days=60, sync_page=50,
        max_retry_wait_seconds=60,
    ))
    context = SourceContext(account="alice", owner_addresses=frozenset({USER}),
                            timezone="Europe/Berlin", now=NOW, subjects="kept",
                            committed_state=store_state(store, "alice"))
    connector = ExchangeConnector(context, settings)
    return sync_all(store, connector)


def positions(store: Any) -> dict[str, Any]:
    """Which keys the EWS sources keep (event change keys; a sync state per folder)."""
    out: dict[str, Any] = {}
    for source in ("calendar", "mail"):
        for key, value in store.state_iter_prefix("alice", source, ""):
            out[f"{source}:{key}"] = value if key.startswith("event/") else bool(value)
    return out


def scenario(messages: int, events: int, faults: Any, *, max_runs: int, tmp: Path,
             back_off_ms: int) -> Scenario:
    import responses
    from peerpulse.worker.store import open_store

    from tests.connectors.microsoft.fake_ews import FakeEws

    out = Scenario()
    fake = FakeEws("CONTOSO\\alice", PASSWORD)
    fake.back_off_ms = back_off_ms
    world(fake, messages, events)
    folder = tmp / ("ews-chaos" if faults else "ews-clean")
    folder.mkdir()
    db = folder / "db.sqlite3"
    started = time.monotonic()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake.install(rsps)
        fake.faults = faults
        with open_store(db) as store:

            def run() -> int:
                return one_run(folder, store)

            until_complete(run, max_runs, out)  # type: ignore[arg-type]
            for day in (1, 2):  # two days of changes, each synced by one (completed) run
                change(fake, messages, events, day)
                until_complete(run, max_runs, out)  # type: ignore[arg-type]
            out.seconds = time.monotonic() - started
            out.http_requests = len(fake.ops)
            out.signin_requests = fake.ops.count("GetItem")
            out.faults = dict(faults.counts) if faults else {}
            fake.faults = None
            fake.ops.clear()
            out.follow_up_records = run()
            out.follow_up_calls = sorted(fake.ops)
            out.cursors = positions(store)
        out.rows, _ = snapshot(db)
    if fake.violations:
        raise RuntimeError(f"the fake saw violations: {fake.violations}")
    return out


def ews_chaos(messages: int, events: int, rate: float, seed: int, *, max_runs: int = 30,
              back_off_ms: int = 100) -> tuple[Scenario, Scenario, Any]:
    """The fault-free and the faulty EWS scenario, and how they compare."""
    from tests.connectors.microsoft.fake_ews import EWS_FAULTS
    from tests.connectors.microsoft.fake_graph import Faults

    random.seed(seed)
    with tempfile.TemporaryDirectory() as tmp:
        clean = scenario(messages, events, None, max_runs=max_runs, tmp=Path(tmp),
                         back_off_ms=back_off_ms)
        faults = Faults(rate, seed=seed, kinds=EWS_FAULTS)
        faulty = scenario(messages, events, faults, max_runs=max_runs, tmp=Path(tmp),
                          back_off_ms=back_off_ms)
    return clean, faulty, compare(clean, faulty)
