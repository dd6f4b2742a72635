"""One manager's digest at 10 vs 1,000 managers, without syncing 1,000 mailboxes.

``org_google_bench`` syncs every size through the fake Google server (minutes at
1,000) and times the digest once, on a loaded machine. This benchmark syncs 10
managers the same way, then makes the 1,000-manager database from it in SQL: a
copy of the 10-manager database plus manager 3's rows under 990 more accounts,
inserted in random order (so one account's rows are scattered over the table's
pages, as when workers sync mailboxes concurrently), and a config listing all
1,000. Optionally (``--directory N``) both organizations get a shared directory
(``[organization.directory]``, the ``_directory`` rows every digest reads) of N
people per manager: each manager and N - 1 reports.

Timings: warm, in this one process (settings, rules and a store opened once per
organization, as in a worker), mgr3's digest computed and rendered, the sizes
alternating ``--repeat`` times; min and median in ms. With a directory, the same
digests are also timed without the worker's shared-directory cache
(``*_uncached``: the directory read and resolved per digest, as before it),
alternating with the cached ones in the same run.

    .venv/bin/python -m benchmarks.org_digest_bench --repeat 60
    .venv/bin/python -m benchmarks.org_digest_bench --repeat 40 --directory 10

``--profile N`` also runs N more digests per size under cProfile and prints, to
stderr, the functions whose own time differs most between the sizes (where a
per-peer or per-manager cost would show).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import org_google_bench as bench
from benchmarks.pg_local import local_cluster

REPO = Path(__file__).resolve().parent.parent
LARGE = 1000
DIRECTORY_TOML = """
[organization.directory]
admin = "it-admin@example.com"
[organization.directory.source]
type = "files"
people = ["{people}"]
"""


def _clone(conn: Any, managers: int) -> None:
    """Manager 3's rows under accounts mgr10..mgr{managers-1}, in random order.

    A clone's digest checkpoint row may already exist: the PostgreSQL triggers
    (migration 8) make one in the transaction that writes the clone's first record,
    whichever order the tables come in, so those rows are kept as made."""
    tables = [t for (t,) in conn.execute(
        "SELECT table_name FROM information_schema.columns "
        "WHERE column_name = 'account' AND table_schema = 'public'").fetchall()]
    for table in tables:
        cols = conn.execute(
            "SELECT column_name, column_default, is_generated, is_identity "
            "FROM information_schema.columns WHERE table_name = %s "
            "AND table_schema = 'public' ORDER BY ordinal_position", (table,)).fetchall()
        keep = [n for n, default, gen, ident in cols
                if not (default or "").startswith("nextval") and gen != "ALWAYS"
                and ident != "YES"]
        names = ", ".join(f'"{n}"' for n in keep)
        picked = ", ".join("'mgr' || g" if n == "account" else f'"{n}"' for n in keep)
        conn.execute(
            f'INSERT INTO "{table}" ({names}) SELECT {picked} FROM "{table}", '
            f"generate_series(10, {managers - 1}) g WHERE account = 'mgr3' ORDER BY random() "
            "ON CONFLICT DO NOTHING")
    conn.execute("VACUUM ANALYZE")


def _directory(conn: Any, managers: int, per_manager: int) -> None:
    """``per_manager`` people per manager under ``_directory``: the manager (reporting
    to one VP) and ``per_manager - 1`` reports."""
    conn.execute(
        "INSERT INTO people (account, source, source_id, scope, run_id, email, name, aliases,"
        " department, title, manager, manages_anyone, tags, team_size)"
        " SELECT '_directory', 'files', 'm' || g, 'directory', 'bench',"
        " 'mgr' || g || '@example.com', 'Manager ' || g, '', 'Engineering',"
        " 'Engineering Manager', 'vp@example.com', 1, '', %(reports)s"
        " FROM generate_series(0, %(managers)s - 1) g"
        " UNION ALL SELECT '_directory', 'files', 'r' || g || '.' || k, 'directory', 'bench',"
        " 'r' || g || '.' || k || '@example.com', 'Report ' || g || ' ' || k, '',"
        " 'Engineering', 'Engineer', 'mgr' || g || '@example.com', 0, '', NULL"
        " FROM generate_series(0, %(managers)s - 1) g, generate_series(1, %(reports)s) k",
        {"managers": managers, "reports": per_manager - 1})
    conn.execute("ANALYZE people")


def _with_directory(text: str, people: Path) -> str:
    at = text.index("[[accounts]]")
    return text[:at] + DIRECTORY_TOML.format(people=people) + "\n" + text[at:]


def _times(configs: dict[str, Path], repeat: int,
           uncached: bool = False) -> dict[str, dict[str, float]]:
    """min and median ms per organization; with ``uncached`` also ``<name>_uncached``:
    the same digests without the worker's shared-directory cache (read and resolved
    per digest, as before it), alternating with the cached ones."""
    import contextlib
    from datetime import datetime

    from peerpulse.worker import config as config_module
    from peerpulse.worker import shared_directory
    from peerpulse.worker.digest.render import render_digest
    from peerpulse.worker.pipeline import compute_for_account, read_rules
    from peerpulse.worker.store.postgres import PostgresStore

    now = datetime.fromisoformat(bench.NOW)
    opened = {}
    for name, path in configs.items():
        settings = config_module.load(path)
        assert settings.database is not None
        opened[name] = (settings, read_rules(settings),
                        PostgresStore(settings.database.url, migrate=False))
    modes = [("", contextlib.nullcontext)]
    if uncached:
        modes.append(("_uncached", shared_directory.disabled))
    samples: dict[str, list[float]] = {name + m: [] for name in opened for m, _ in modes}
    try:
        for _ in range(repeat):
            for mode, context in modes:
                for name, (settings, rules, store) in opened.items():
                    account = settings.account("mgr3")
                    with context():
                        started = time.perf_counter()
                        result = compute_for_account(store, settings, account, rules, now=now)
                        render_digest(result.digest, recipient=account.recipient,
                                      sender="peerpulse@example.com", now=now)
                        samples[name + mode].append(1000 * (time.perf_counter() - started))
    finally:
        for _, _, store in opened.values():
            store.close()
    return {name: {"min_ms": round(min(v), 2), "median_ms": round(statistics.median(v), 2)}
            for name, v in samples.items()}


def _profile(configs: dict[str, Path], repeat: int) -> None:
    """cProfile of ``repeat`` warm digests per organization (cached path, as in a
    worker); to stderr: own time per call of the functions that differ most."""
    import cProfile
    import pstats
    from datetime import datetime

    from peerpulse.worker import config as config_module
    from peerpulse.worker.digest.render import render_digest
    from peerpulse.worker.pipeline import compute_for_account, read_rules
    from peerpulse.worker.store.postgres import PostgresStore

    now = datetime.fromisoformat(bench.NOW)
    own: dict[str, dict[str, float]] = {}
    for name, path in configs.items():
        settings = config_module.load(path)
        assert settings.database is not None
        rules = read_rules(settings)
        store = PostgresStore(settings.database.url, migrate=False)
        account = settings.account("mgr3")
        try:
            compute_for_account(store, settings, account, rules, now=now)  # warm
            profile = cProfile.Profile()
            profile.enable()
            for _ in range(repeat):
                result = compute_for_account(store, settings, account, rules, now=now)
                render_digest(result.digest, recipient=account.recipient,
                              sender="peerpulse@example.com", now=now)
            profile.disable()
        finally:
            store.close()
        stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
        own[name] = {f"{Path(f).name}:{line}({fn})": 1000 * tt / repeat
                     for (f, line, fn), (_cc, _nc, tt, _ct, _callers) in stats.items()}
    small, large = own.values()
    diffs = sorted(((large.get(k, 0.0) - small.get(k, 0.0), k) for k in {*small, *large}),
                   reverse=True)
    print(f"own ms per digest: {' / '.join(configs)}, sum "
          f"{sum(small.values()):.2f} / {sum(large.values()):.2f}", file=sys.stderr)
    for diff, key in diffs[:15]:
        print(f"  {small.get(key, 0.0):7.3f} {large.get(key, 0.0):7.3f}  {diff:+.3f}  {key}",
              file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=60)
    parser.add_argument("--directory", type=int, default=0,
                        help="people per manager in a shared directory (0: none)")
    parser.add_argument("--profile", type=int, default=0,
                        help="also profile this many digests per size (to stderr)")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    import psycopg

    from tests.connectors.google.fake_org import read_demo

    sync_args = argparse.Namespace(concurrency=10, pool_size=8, latency=0.0, window_days=3)
    with local_cluster() as cluster, tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        subprocess.run(bench._pp("demo", "--out", str(root / "demo"), "--end",
                                 "2026-11-22", "--managers", "22", "--months", "2"),
                       check=True, stdout=subprocess.DEVNULL)
        meta = json.loads((root / "demo" / "demo.json").read_text())
        _, small = bench.one_run(cluster, read_demo(root / "demo", meta), 10, 1,
                                 sync_args, root)
        text = small.read_text()
        url = text.split('url = "', 1)[1].split('"', 1)[0]
        base, name = url.rsplit("/", 1)
        with psycopg.connect(cluster.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE big TEMPLATE "{name}"')
        with psycopg.connect(f"{base}/big", autocommit=True) as conn:
            _clone(conn, LARGE)
            if args.directory:
                _directory(conn, LARGE, args.directory)
        if args.directory:
            with psycopg.connect(url, autocommit=True) as conn:
                _directory(conn, 10, args.directory)
            people = root / "people.csv"
            people.write_text("")
            text = _with_directory(text, people)
            small.write_text(text)
        block = text[text.index("[[accounts]]"):]
        first = block[:block.index("[[accounts]]", 1)]
        large = root / "large.toml"
        large.write_text(text.replace(url, f"{base}/big") + "".join(
            first.replace("mgr0", f"mgr{k}").replace(url, f"{base}/big")
            for k in range(10, LARGE)))
        times = _times({"at_10": small, f"at_{LARGE}": large}, args.repeat,
                       uncached=bool(args.directory))
        if args.profile:
            _profile({"at_10": small, f"at_{LARGE}": large}, args.profile)
    ratios = {}
    for mode in ("", "_uncached") if args.directory else ("",):
        ratios["ratio" + mode] = {
            k: round(times[f"at_{LARGE}{mode}"][k] / times[f"at_10{mode}"][k], 2)
            for k in ("min_ms", "median_ms")}
    print(json.dumps({"directory_people_per_manager": args.directory, "repeat": args.repeat,
                      **times, **ratios}, indent=2))


if __name__ == "__main__":
    main()
