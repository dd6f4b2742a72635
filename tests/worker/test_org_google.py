"""Organization mode through the Google connector: a service account with
domain-wide delegation (a JWT per manager, exchanged for that manager's token),
manager mailboxes, calendars and the directory served by the fake Google
server, two `peerpulse org worker` processes on one PostgreSQL, an SMTP sink.

* the project's Gmail quota is shared by both workers through the database
  (worker/store/project_quota.py): the fake refuses anything over the project's rate,
  and the run must meet 0 of those refusals while using most of the quota;
* workers SIGKILLed at random moments while they sync and deliver: every
  manager's period is settled exactly once (sent, or reported unknown when a
  worker died between the SMTP answer and the commit), no recipient gets two.
  The default run does 10 mailboxes and 4 kills; `make chaos-org-google`
  (PEERPULSE_ORG_CHAOS=1) does 50 mailboxes and 20 kills.
"""

from __future__ import annotations

import os
import random
import time
from collections import Counter
from pathlib import Path

import psycopg
import pytest
from peerpulse.connectors.google.auth import SCOPE_DIRECTORY

from tests.connectors.google.conftest import READ_SCOPES
from tests.connectors.google.fake_google import FakeGoogle
from tests.connectors.google.fake_org import (
    PROJECT,
    account_toml,
    populate,
    read_demo,
    service_account_key,
)
from tests.worker.smtp_sink import Sink, smtp_server
from tests.worker.test_org import NOW, PERIOD, Worker, cli, demo  # noqa: F401 - fixture

LONG = bool(os.environ.get("PEERPULSE_ORG_CHAOS"))


@pytest.fixture(scope="module")
def template(demo):  # noqa: F811
    root, meta = demo
    return read_demo(root / "demo", meta)


def _google(template, managers: int, **options) -> tuple[FakeGoogle, list[str]]:
    fake = FakeGoogle(allowed_scopes=READ_SCOPES | {SCOPE_DIRECTORY}, **options).start()
    return fake, populate(fake, template, managers)


def _config(path: Path, url: str, fake: FakeGoogle, managers: int, port: int,
            extra: str = "", directory: bool = True, calendars: list[str] | None = None) -> Path:
    key = service_account_key(path.parent / "sa-key.json", fake.token_url)
    accounts = "".join(account_toml(k, key=key, fake=fake, smtp_port=port, extra_source=extra,
                                    directory=directory) for k in range(managers))
    if calendars is not None:
        accounts = accounts.replace('calendars = ["primary"]', f"calendars = {calendars!r}")
    path.write_text(
        f'state_dir = "{path.parent / "state"}"\n[database]\nurl = "{url}"\npool_size = 6\n'
        + accounts)
    code, _, err = cli("--config", str(path), "org", "migrate")
    assert code == 0, err
    return path


def _remaining(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing') "
            "AND task_name <> 'peerpulse.recover_stalled'").fetchone()[0]


def _project_quota_outcome(url: str, fake, api: str, quota: int):
    """A project-paced run's outcome for ``api`` (its sync runs' outcomes, units drawn
    from the shared row, requests and span the fake saw, the fake's project 429s)."""
    with psycopg.connect(url) as conn:
        runs = conn.execute("SELECT outcome, count(*) FROM sync_runs WHERE source = %s "
                            "GROUP BY outcome", (api,)).fetchall()
        row = conn.execute("SELECT spent FROM api_project_quota WHERE project = %s",
                           (f"{PROJECT}/{api}",)).fetchone()
    spent = row[0] if row else 0.0
    requests = getattr(fake, f"{api}_project_requests")
    first, last = getattr(fake, f"{api}_project_span")
    throttled = getattr(fake, f"{api}_project_throttled")
    print(f"{api} requests {requests} in {last - first:.1f}s: "
          f"{requests / (last - first) * 60:.0f}/min of {quota}/min; drawn from the row "
          f"{spent:.0f}; project 429s {throttled}")
    return runs, spent, requests, last - first, throttled


def _sync_with_two_workers(tmp_path: Path, url: str, fake: FakeGoogle, managers: int,
                           extra: str, calendars: list[str] | None = None,
                           directory: bool = False) -> None:
    """Defer every mailbox's sync, run two one-shot workers of 4 threads each to the
    end, stop the fake; every job done, no request the fake calls a violation."""
    try:
        with smtp_server(Sink()) as (_, port):
            config = _config(tmp_path / "org.toml", url, fake, managers, port, extra,
                             directory=directory, calendars=calendars)
            code, out, err = cli("--config", str(config), "org", "enqueue", "sync",
                                 "--now", NOW)
            assert code == 0 and f"{managers} sync jobs deferred" in out, err
            workers = [Worker(config, "--one-shot", "--concurrency", "4") for _ in range(2)]
            outputs = [w.wait(timeout=240) for w in workers]
    finally:
        fake.stop()
    assert all(w.proc.returncode == 0 for w in workers), outputs
    assert fake.violations == []
    assert _remaining(url) == 0


def test_two_workers_share_the_project_quota_through_the_database(
        template, pg_cluster, tmp_path):
    """8 mailboxes, two workers of 4 threads each; the project may spend 60,000
    units a minute (1,000 a second), far less than the two workers would take
    alone (each mailbox's own quota is 3,000,000). 0 project-quota refusals,
    and the workers use most of what the project allows."""
    managers, quota = 8, 60_000
    fake, _ = _google(template, managers, project_quota_per_minute=quota)
    url = pg_cluster.new_database()
    _sync_with_two_workers(tmp_path, url, fake, managers,
                           f"project_quota_units_per_minute = {quota}\n"
                           "quota_units_per_minute = 3000000\nwindow_past_days = 14\n")
    with psycopg.connect(url) as conn:
        runs = conn.execute("SELECT outcome, count(*) FROM sync_runs WHERE source = 'gmail' "
                            "GROUP BY outcome").fetchall()
        spent, _ = conn.execute("SELECT spent, first_draw FROM api_project_quota "
                                "WHERE project = %s", (PROJECT,)).fetchone()
    assert dict(runs) == {"ok": managers}, runs
    seconds = fake.project_span[1] - fake.project_span[0]
    utilization = fake.project_units / (quota / 60 * seconds)
    print(f"project units {fake.project_units} in {seconds:.1f}s: utilization "
          f"{utilization:.2f} of {quota}/min; drawn from the row {spent:.0f}; "
          f"project 429s {fake.project_throttled}")
    assert fake.project_throttled == 0
    assert fake.project_units > 2 * quota / 60 * 5  # the quota bound the run, for > 10 s
    assert 0.6 < utilization <= 1.0
    assert spent >= fake.project_units  # every unit Google charged was drawn from the row


def test_two_workers_share_the_calendar_project_quota_through_the_database(
        template, pg_cluster, tmp_path):
    """Calendar's project quota is its own (10,000 requests/min, apart from Gmail's
    units): 8 mailboxes of 8 calendars each, two workers of 4 threads each, the
    fake refusing more than 300 Calendar requests a minute for the project (each
    mailbox's own 500 a minute would let the two workers send the 64 requests in
    about a second). 0 project-quota refusals, and the quota is what bounds the run."""
    managers, calendars, quota = 8, 8, 300
    fake, addresses = _google(template, managers, calendar_project_quota_per_minute=quota)
    names = ["primary"] + [f"team{i}" for i in range(1, calendars)]
    for address in addresses:
        for name in names[1:]:
            fake.calendars[(address, name)] = fake.calendars[(address, "primary")]
    url = pg_cluster.new_database()
    _sync_with_two_workers(tmp_path, url, fake, managers,
                           f"project_calendar_requests_per_minute = {quota}\n"
                           "mail = false\nwindow_past_days = 14\n", calendars=names)
    runs, spent, requests, seconds, throttled = _project_quota_outcome(
        url, fake, "calendar", quota)
    assert throttled == 0
    assert dict(runs) == {"ok": managers}, runs
    assert requests == managers * calendars  # one page per calendar, none retried
    assert seconds > 8  # the quota bound the run: 64 requests at 5 a second, less a burst
    assert spent >= requests  # every request Google counted was drawn from the row


def test_two_workers_share_the_directory_project_quota_through_the_database(
        template, pg_cluster, tmp_path):
    """The Admin SDK's project quota is its own too: without a shared directory,
    every mailbox's first sync lists the whole directory as itself, so an
    organization's first tick sends one users.list per manager at once. 16
    mailboxes, two workers of 4 threads each, the fake refusing more than 60
    Directory requests a minute for the project (each mailbox's own 2,000 a
    minute would let the workers send all 16 within a second). 0 project-quota
    refusals, and the quota is what bounds the run."""
    managers, quota = 16, 60
    fake, _ = _google(template, managers, directory_project_quota_per_minute=quota)
    url = pg_cluster.new_database()
    _sync_with_two_workers(tmp_path, url, fake, managers,
                           f"project_directory_requests_per_minute = {quota}\n"
                           "mail = false\nwindow_past_days = 14\n", directory=True)
    runs, spent, requests, seconds, throttled = _project_quota_outcome(
        url, fake, "directory", quota)
    assert throttled == 0
    assert dict(runs) == {"ok": managers}, runs
    assert requests == managers  # one users.list page per mailbox, none retried
    assert seconds > 10  # the quota bound the run: 16 requests at 1 a second, less a burst
    assert spent >= requests  # every request Google counted was drawn from the row


def test_sigkilled_workers_deliver_each_managers_digest_once(template, pg_cluster, tmp_path):
    managers, kills = (50, 20) if LONG else (10, 4)
    fake, addresses = _google(template, managers, latency=0.02)
    url = pg_cluster.new_database()
    rng = random.Random(20261203)
    try:
        with smtp_server(Sink()) as (sink, port):
            config = _config(tmp_path / "org.toml", url, fake, managers, port,
                             "quota_units_per_minute = 3000000\n")
            assert cli("--config", str(config), "org", "enqueue", "tick", "--now", NOW)[0] == 0
            args = ("--heartbeat", "0.5", "--stalled-after", "2",
                    "--recover-cron", "* * * * * *", "--concurrency", "2")
            workers = [Worker(config, *args) for _ in range(2)]
            done = 0
            deadline = time.monotonic() + (1200 if LONG else 400)
            try:
                while time.monotonic() < deadline and (done < kills or _remaining(url)):
                    time.sleep(rng.uniform(0.5, 4.0))
                    if done < kills:
                        victim = rng.randrange(len(workers))
                        workers[victim].proc.kill()
                        workers[victim].proc.wait()
                        done += 1
                        workers[victim] = Worker(config, *args)
            finally:
                for w in workers:
                    w.stop()
            assert done == kills and _remaining(url) == 0
            with psycopg.connect(url) as conn:
                rows = conn.execute("SELECT account, period, state, reported_at FROM "
                                    "digest_ledger WHERE seq = 0").fetchall()
    finally:
        fake.stop()
    assert fake.violations == []
    assert fake.token_requests >= managers  # one JWT grant per manager (delegation)
    sent = Counter(r for _, rcpts in sink.envelopes for r in rcpts)
    print(f"kills {done}; ledger {Counter(s for *_, s, _ in rows)}; "
          f"sends {sum(sent.values())}")
    assert max(sent.values(), default=0) <= 1, sent  # 0 duplicates
    assert sorted(a for a, *_ in rows) == sorted(f"mgr{k}" for k in range(managers))  # 0 lost
    for account, period, state, reported in rows:
        assert period == PERIOD
        assert state == "sent" or (state == "unknown" and reported is not None), rows
        address = addresses[int(account.removeprefix("mgr"))]
        assert (sent[address] == 1) == (state == "sent") or state == "unknown"


def test_a_worker_runs_as_many_syncs_at_once_as_its_concurrency(template, pg_cluster, tmp_path):
    """--concurrency 12 means 12 mailboxes waiting on Google at once, not the 6 threads
    of asyncio's default executor on 2 cores (mailboxes finished in waves of 6)."""
    managers = 12
    fake, _ = _google(template, managers, latency=0.05)
    url = pg_cluster.new_database()
    try:
        extra = "quota_units_per_minute = 12000\nwindow_past_days = 3\n"
        config = _config(tmp_path / "org.toml", url, fake, managers, 1, extra, directory=False)
        assert cli("--config", str(config), "org", "enqueue", "sync", "--now", NOW)[0] == 0
        worker = Worker(config, "--one-shot", "--concurrency", str(managers))
        out = worker.wait(timeout=240)
    finally:
        fake.stop()
    assert worker.proc.returncode == 0, out
    assert _remaining(url) == 0
    print(f"mailboxes synced at once: {fake.peak_users_syncing()}")
    assert fake.peak_users_syncing() >= 10
