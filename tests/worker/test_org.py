"""Organization mode end to end on a real PostgreSQL and real worker processes.

Several accounts (one demo organization's files, one recipient each) share one
database; `peerpulse org worker` processes take the jobs; an SMTP sink in this
process counts what each recipient receives. What must hold:

* two workers draining one tick deliver every digest exactly once;
* jobs of one mailbox deferred twice (bypassing the queueing lock) run one at a
  time under the per-account lock, and the second sends nothing;
* two processes running the same deliveries at the same moment, with no task
  engine at all, still send each digest once (the ledger in the shared database);
* a worker killed mid-job (the fault hook's os._exit, what SIGKILL looks like)
  leaves its job to the stalled-job recovery of another worker: never sent twice,
  never lost (sent, or reported as unknown when it died between claim and commit).
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import psycopg
import pytest
from peerpulse.worker.cli import Env, main

from tests.worker.smtp_sink import Sink, smtp_server

REPO = Path(__file__).resolve().parents[2]
NOW = "2026-11-23T09:30:00+00:00"  # a Monday after the 07:00 Berlin due time
PERIOD = "2026-W48"
ACCOUNTS = [f"m{i}" for i in range(4)]
PY = [sys.executable, "-c", "from peerpulse.worker.cli import main; raise SystemExit(main())"]


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), Env(stdout=out, stderr=err))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("org")
    code, out, _ = cli("demo", "--out", str(root / "demo"), "--end", "2026-11-22",
                       "--managers", "22", "--months", "2")
    assert code == 0, out
    return root, json.loads((root / "demo" / "demo.json").read_text())


def _account(name: str, meta: dict, demo_dir: Path, smtp_port: int) -> str:
    return f"""
[[accounts]]
name = "{name}"
owner = "{meta['owner']}"
aliases = {json.dumps(meta['aliases'])}
timezone = "Europe/Berlin"
[accounts.source]
type = "files"
calendar = ["{demo_dir}/calendar"]
mail = ["{demo_dir}/mail"]
people = ["{demo_dir}/people.csv"]
[accounts.digest]
recipient = "{name}@example.com"
day = "monday"
time = "07:00"
[accounts.delivery]
type = "smtp"
host = "127.0.0.1"
port = {smtp_port}
security = "none"
sender = "peerpulse@example.com"
"""


@pytest.fixture
def org(demo, pg_cluster, tmp_path):
    """A config of ACCOUNTS on a new database (migrated) and a running SMTP sink."""
    root, meta = demo
    url = pg_cluster.new_database()
    with smtp_server(Sink()) as (sink, port):
        config = tmp_path / "org.toml"
        config.write_text(
            f'state_dir = "{tmp_path / "state"}"\ndatabase = "{url}"\n'
            + "".join(_account(n, meta, root / "demo", port) for n in ACCOUNTS))
        code, out, err = cli("--config", str(config), "org", "migrate")
        assert code == 0 and "task queue schema installed" in out, err
        yield config, sink, url


def _sent(sink: Sink) -> Counter:
    return Counter(rcpt for _, rcpts in sink.envelopes for rcpt in rcpts)


class Worker:
    """One `peerpulse org worker` process, stopped (or killed) at the end."""

    def __init__(self, config: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            # The hourly tick is moved to 1 January: a worker starting within an
            # hour of a tick defers it, and these tests defer their own jobs.
            [*PY, "--config", str(config), "-v", "org", "worker", "--now", NOW,
             "--tick-cron", "0 0 1 1 *", *args],
            env={**os.environ, **(env or {})}, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True)

    def wait(self, timeout: float = 120) -> str:
        out, _ = self.proc.communicate(timeout=timeout)
        return out

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.wait(10)


def _jobs(url: str) -> list[tuple[str, str]]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT task_name, status FROM procrastinate_jobs").fetchall()


def _ledger(url: str) -> dict[str, str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT account, state FROM digest_ledger WHERE seq = 0").fetchall()
    return dict(rows)


def _until(predicate, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_two_workers_deliver_every_managers_digest_exactly_once(org):
    config, sink, url = org
    code, out, err = cli("--config", str(config), "org", "enqueue", "tick", "--now", NOW)
    assert code == 0 and f"{len(ACCOUNTS)} syncs and {len(ACCOUNTS)} digests" in out, err
    workers = [Worker(config, "--one-shot", "--name", f"w{i}") for i in range(2)]
    logs = [w.wait() for w in workers]
    assert all(w.proc.returncode == 0 for w in workers), logs
    assert _sent(sink) == Counter({f"{n}@example.com": 1 for n in ACCOUNTS}), logs
    assert set(_ledger(url).values()) == {"sent"}
    # Each digest went only to its manager.
    for message, (_, rcpts) in zip(sink.messages, sink.envelopes, strict=True):
        assert f"To: {rcpts[0]}".encode() in message
    # The next tick finds nothing due: every period is settled in the ledger.
    code, out, _ = cli("--config", str(config), "org", "enqueue", "tick", "--now", NOW)
    assert f"{len(ACCOUNTS)} syncs and 0 digests deferred" in out
    code, out, _ = cli("--config", str(config), "org", "status")
    assert code == 0 and out.count(f"{PERIOD} sent") == len(ACCOUNTS), out


def test_duplicate_jobs_of_one_mailbox_run_one_at_a_time_and_send_once(org):
    """The queueing lock is bypassed on purpose: two jobs per mailbox wait at once,
    two workers race for them, the per-account lock and the ledger keep one send."""
    config, sink, url = org
    script = (
        "import asyncio, sys\n"
        "from peerpulse.worker import config as c\n"
        "from peerpulse.worker.org.runtime import Runtime\n"
        "from peerpulse.worker.org import tasks\n"
        "rt = Runtime(c.load(sys.argv[1]))\n"
        "app = tasks.build_app(rt)\n"
        "async def go():\n"
        "    async with app.open_async():\n"
        "        for name in sys.argv[2:]:\n"
        "            await tasks.defer_sync(app, name)\n"
        "            for _ in range(2):\n"
        "                await app.tasks[tasks.DIGEST].configure(lock=f'account:{name}')"
        ".defer_async(account=name, period='" + PERIOD + "')\n"
        "asyncio.run(go())\n"
    )
    subprocess.run([sys.executable, "-c", script, str(config), *ACCOUNTS], check=True,
                   timeout=60)
    assert len(_jobs(url)) == 3 * len(ACCOUNTS)
    workers = [Worker(config, "--one-shot", "--concurrency", "2") for _ in range(2)]
    logs = [w.wait() for w in workers]
    # A one-shot worker stops when it finds nothing it may take; a duplicate still
    # behind its mailbox's lock is not lost, it waits for the next worker run.
    for _ in range(3):
        if all(status != "todo" for _, status in _jobs(url)):
            break
        logs.append(Worker(config, "--one-shot").wait())
    assert _sent(sink) == Counter({f"{n}@example.com": 1 for n in ACCOUNTS}), logs
    digests = [status for task, status in _jobs(url) if task == "peerpulse.deliver_digest"]
    assert digests == ["succeeded"] * 2 * len(ACCOUNTS), _jobs(url)


def test_two_processes_delivering_at_once_send_each_digest_once(org, tmp_path):
    """No engine, no lock: only the ledger's unique rows and conditional claim."""
    config, sink, url = org
    go = tmp_path / "go"
    script = (
        "import sys, time, pathlib\n"
        "from peerpulse.worker import config as c\n"
        "from peerpulse.worker.console import parse_now\n"
        "from peerpulse.worker.org.runtime import Runtime\n"
        "from peerpulse.worker.org import jobs\n"
        f"rt = Runtime(c.load(sys.argv[1]), now=parse_now('{NOW}'))\n"
        "rt.store().close(); rt.rules()\n"
        "for name in sys.argv[3:]:\n"
        "    jobs.sync_one(rt, name)\n"
        "while not pathlib.Path(sys.argv[2]).exists(): time.sleep(0.01)\n"
        f"for name in sys.argv[3:]: print(jobs.deliver_one(rt, name, '{PERIOD}'))\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", script, str(config), str(go), *ACCOUNTS],
                              stdout=subprocess.PIPE, text=True) for _ in range(2)]
    time.sleep(1.0)
    go.touch()
    outs = [p.communicate(timeout=120)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    assert _sent(sink) == Counter({f"{n}@example.com": 1 for n in ACCOUNTS}), outs


@pytest.mark.slow
@pytest.mark.parametrize("fault, sends, state", [
    ("after_render", 1, "sent"),  # died before the claim: the retry sends it
    ("after_claim", 0, "unknown"),  # died holding the claim, nothing left: reported
    ("after_data", 1, "unknown"),  # the server has it, the ledger cannot know: reported
])
def test_a_killed_workers_job_is_retried_by_another_never_twice(org, fault, sends, state):
    config, sink, url = org
    for what in ("sync", "digest"):
        code, _, err = cli("--config", str(config), "org", "enqueue", what, "--account", "m0",
                           "--now", NOW)
        assert code == 0, err
    doomed = Worker(config, "--heartbeat", "0.5", env={"PEERPULSE_FAULT": fault})
    doomed.wait(120)
    assert doomed.proc.returncode == 137
    assert ("peerpulse.deliver_digest", "doing") in _jobs(url)
    rescuer = Worker(config, "--heartbeat", "0.5", "--stalled-after", "2",
                     "--recover-cron", "* * * * * *")
    try:
        done = _until(lambda: ("peerpulse.deliver_digest", "succeeded") in _jobs(url), 60)
    finally:
        log = rescuer.stop()
    assert done, log
    assert "retrying job" in log
    assert _sent(sink)["m0@example.com"] == sends
    assert _ledger(url)["m0"] == state
    if state == "unknown":  # the retry reported it (once) with the way to resend it
        with psycopg.connect(url) as conn:
            reported = conn.execute(
                "SELECT reported_at FROM digest_ledger WHERE account = 'm0'").fetchone()[0]
        assert reported is not None and "resend_unknown" in log, log


def test_org_status_names_a_failing_mailbox_and_exits_1(org, tmp_path):
    """A mailbox whose export vanished: its sync job records the failure (not
    raised, a retry would meet the same missing file) and `org status` shows it
    beside the healthy ones, in the table and in JSON."""
    config, _, _ = org
    text = config.read_text().split("[[accounts]]")  # [0] is the header, [2] is m1
    text[2] = text[2].replace('mail = ["', 'mail = ["/nonexistent/mail", "', 1)
    config.write_text("[[accounts]]".join(text))
    from peerpulse.worker import config as config_module
    from peerpulse.worker.console import parse_now
    from peerpulse.worker.org import jobs
    from peerpulse.worker.org.runtime import Runtime

    rt = Runtime(config_module.load(str(config)), now=parse_now(NOW))
    try:
        lines = [jobs.sync_one(rt, name) for name in ACCOUNTS[:2]]
    finally:
        rt.close()
    assert lines[0] == "m0: sync ok" and lines[1].startswith("m1: sync failed")
    code, out, _ = cli("--config", str(config), "org", "status")
    assert code == 1
    row = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert "nonexistent" in row["m1"] and "nonexistent" not in row["m0"]
    assert "never" in row["m2"]
    code, out, _ = cli("--config", str(config), "org", "status", "--json")
    items = {item["account"]: item for item in json.loads(out)}
    assert items["m1"]["error"] and items["m0"]["error"] is None
    assert items["m0"]["last_sync"] and items["m2"]["last_sync"] is None


def test_an_hourly_sync_job_carries_the_checkpoint_forward_once_a_day(org):
    """Organization mode's digest jobs run only when due, so the hourly sync job moves
    each mailbox's inference checkpoint on (at most once a day), as `peerpulse run`
    does: the weekly digest then reads ~3 days of records, not ~10 (issue 14)."""
    config, _, url = org
    from peerpulse.worker import config as config_module
    from peerpulse.worker.console import parse_now
    from peerpulse.worker.org import jobs
    from peerpulse.worker.org.runtime import Runtime

    def horizon() -> int | None:
        with psycopg.connect(url) as conn:
            row = conn.execute(
                "SELECT horizon FROM digest_checkpoints WHERE account = 'm0'").fetchone()
        return row[0] if row else None

    def run(now: str, job) -> str:
        rt = Runtime(config_module.load(str(config)), now=parse_now(now))
        try:
            return job(rt)
        finally:
            rt.close()

    assert run(NOW, lambda rt: jobs.sync_one(rt, "m0")) == "m0: sync ok"
    assert "sent" in run(NOW, lambda rt: jobs.deliver_one(rt, "m0", PERIOD))
    kept = horizon()
    assert kept == int(parse_now(NOW).timestamp()) - 3 * 86400
    assert run("2026-11-24T09:30:00+00:00", lambda rt: jobs.sync_one(rt, "m0")) == "m0: sync ok"
    assert horizon() == kept + 86400
    assert run("2026-11-24T20:00:00+00:00", lambda rt: jobs.sync_one(rt, "m0")) == "m0: sync ok"
    assert horizon() == kept + 86400  # once a day
