"""Chaos: two workers SIGKILLed at random moments, 20 times, while they drain one
tick of twelve mailboxes. Afterwards every manager has exactly one ledger row for
the period, sent or reported unknown (0 lost), and no recipient got two (0
duplicates). Long (a minute or more): `make chaos` runs it
(PEERPULSE_ORG_CHAOS=1); test_org.py kills at each named step in the default run.
"""

from __future__ import annotations

import os
import random
import time
from collections import Counter

import psycopg
import pytest

from tests.worker.test_org import NOW, Worker, _account, cli, demo  # noqa: F401 - fixture

KILLS = 20
ACCOUNTS = [f"c{i}" for i in range(12)]

pytestmark = pytest.mark.skipif(
    not os.environ.get("PEERPULSE_ORG_CHAOS"), reason="long chaos run: make chaos")


def test_random_sigkills_lose_nothing_and_send_nothing_twice(demo, pg_cluster, tmp_path):  # noqa: F811
    from tests.worker.smtp_sink import Sink, smtp_server

    root, meta = demo
    url = pg_cluster.new_database()
    with smtp_server(Sink()) as (sink, port):
        config = tmp_path / "org.toml"
        config.write_text(
            f'state_dir = "{tmp_path / "state"}"\ndatabase = "{url}"\n'
            + "".join(_account(n, meta, root / "demo", port) for n in ACCOUNTS))
        assert cli("--config", str(config), "org", "migrate")[0] == 0
        assert cli("--config", str(config), "org", "enqueue", "tick", "--now", NOW)[0] == 0
        args = ("--heartbeat", "0.5", "--stalled-after", "2", "--recover-cron", "* * * * * *")
        rng = random.Random(20261203)
        workers = [Worker(config, *args) for _ in range(2)]
        kills = 0

        def remaining() -> int:
            with psycopg.connect(url) as conn:
                return conn.execute(
                    "SELECT count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing') "
                    "AND task_name <> 'peerpulse.recover_stalled'").fetchone()[0]

        deadline = time.monotonic() + 900
        try:
            while time.monotonic() < deadline and (kills < KILLS or remaining()):
                time.sleep(rng.uniform(0.3, 3.0))
                if kills < KILLS:
                    victim = rng.randrange(len(workers))
                    workers[victim].proc.kill()
                    workers[victim].proc.wait()
                    kills += 1
                    workers[victim] = Worker(config, *args)
        finally:
            for w in workers:
                w.stop()
        assert kills == KILLS and remaining() == 0
        with psycopg.connect(url) as conn:
            rows = conn.execute(
                "SELECT account, state, reported_at FROM digest_ledger WHERE seq = 0").fetchall()
    sent = Counter(r for _, rcpts in sink.envelopes for r in rcpts)
    print(f"kills {kills}; ledger {Counter(s for _, s, _ in rows)}; sends {sum(sent.values())}")
    assert max(sent.values(), default=0) <= 1, sent  # 0 duplicates
    assert sorted(a for a, _, _ in rows) == sorted(ACCOUNTS)  # 0 lost periods
    for account, state, reported in rows:
        assert state == "sent" or (state == "unknown" and reported is not None), rows
        assert (sent[f"{account}@example.com"] == 1) == (state == "sent") or state == "unknown"
