"""Loading a config that lists many accounts: where the time goes (issue 12).

Writes configs of N ``[[accounts]]`` shaped like organization mode's (a Google
service account, SMTP delivery, the fake-Google benchmark's keys), then loads
each ``--repeat`` times in this process, sizes alternating, and reports the
minimum of each phase in ms: reading and parsing the TOML (the standard
library's ``tomllib``), validating it into ``Settings`` (pydantic), and the
whole ``config.load``, also with the duplicate-name check as it was
(``names.count`` per name: quadratic) patched back in; and that check as it was
and as it is (one ``Counter``) on the same account names.

    .venv/bin/python -m benchmarks.config_load --accounts 1000 10000 --repeat 5
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

ACCOUNT = """
[[accounts]]
name = "mgr{k}"
owner = "mgr{k}@example.com"
timezone = "Europe/Berlin"
[accounts.source]
type = "google"
mode = "service_account"
service_account_key = {{ file = "{key}" }}
api_endpoint = "http://127.0.0.1:1/"
token_endpoint = "http://127.0.0.1:1/token"
directory = false
calendars = ["primary"]
window_past_days = 30
quota_regime = "2026"
project_quota_units_per_minute = 1200000
[accounts.digest]
recipient = "mgr{k}@example.com"
day = "monday"
time = "07:00"
[accounts.delivery]
type = "smtp"
host = "127.0.0.1"
port = 1
security = "none"
sender = "peerpulse@example.com"
"""


def write_config(folder: Path, accounts: int) -> Path:
    key = folder / "sa-key.json"
    key.write_text("{}")
    key.chmod(0o600)
    path = folder / f"config-{accounts}.toml"
    path.write_text(
        f'state_dir = "{folder / "state"}"\n[database]\n'
        'url = "postgresql://peerpulse@127.0.0.1/peerpulse"\npool_size = 4\n'
        + "".join(ACCOUNT.format(k=k, key=key) for k in range(accounts)))
    return path


def _quadratic_dupes(names: list[str]) -> list[str]:
    """The duplicate check before issue 12's fix, kept here to measure it beside the new."""
    return sorted({n for n in names if names.count(n) > 1})


def _best(run: Callable[[], Any], into: dict[str, float], key: str) -> Any:
    started = time.perf_counter()
    result = run()
    into[key] = min(into.get(key, float("inf")), 1000 * (time.perf_counter() - started))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, nargs="+", default=[10, 1000])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from peerpulse.worker import config
    from peerpulse.worker.config import Settings, duplicate_names

    with tempfile.TemporaryDirectory() as tmp:
        paths = {n: write_config(Path(tmp), n) for n in args.accounts}
        config.load(str(paths[args.accounts[0]]))  # imports and schema building, once
        best: dict[int, dict[str, float]] = {n: {} for n in args.accounts}
        for _ in range(args.repeat):
            for n, path in paths.items():
                times = best[n]
                text = path.read_text()
                data = _best(lambda: tomllib.loads(text), times, "toml_parse_ms")  # noqa: B023
                _best(lambda: Settings(**data, source_file=path), times,  # noqa: B023
                      "validate_ms")
                settings = _best(lambda: config.load(str(path)), times,  # noqa: B023
                                 "load_ms")
                config.duplicate_names = _quadratic_dupes  # the validator looks it up
                try:
                    _best(lambda: config.load(str(path)), times,  # noqa: B023
                          "load_with_quadratic_check_ms")
                finally:
                    config.duplicate_names = duplicate_names
                names = [a.name for a in settings.accounts]
                _best(lambda: _quadratic_dupes(names), times,  # noqa: B023
                      "duplicate_check_before_ms")
                _best(lambda: duplicate_names(names), times,  # noqa: B023
                      "duplicate_check_after_ms")
    for n in args.accounts:
        print(json.dumps({"accounts": n, **{k: round(v, 1) for k, v in best[n].items()}}))


if __name__ == "__main__":
    main()
