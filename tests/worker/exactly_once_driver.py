"""One delivery run in its own process, for the exactly-once tests.

    python -m tests.worker.exactly_once_driver STATE_DIR PORT NOW [--resend-unknown]

Builds a small digest, delivers it by SMTP to 127.0.0.1:PORT with the state in
STATE_DIR (holding the run lock, as ``peerpulse run`` does), and prints the
report as JSON. ``PEERPULSE_FAULT`` in the environment kills it at that step.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

from peerpulse.worker.config import AccountConfig
from peerpulse.worker.delivery import make_backend
from peerpulse.worker.dispatch import deliver_due_digest
from peerpulse.worker.lock import run_lock
from peerpulse.worker.store import open_store

from tests.worker.digest_builders import full_digest


def account(port: int, *, resend_unknown: bool = False) -> AccountConfig:
    return AccountConfig.model_validate({
        "name": "work",
        "owner": "sam@example.com",
        "timezone": "Europe/Berlin",
        "source": {"type": "memory"},
        "digest": {"resend_unknown": resend_unknown},
        "delivery": {"type": "smtp", "host": "127.0.0.1", "port": port, "security": "none",
                     "timeout_seconds": 5},
    })


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("state", type=Path)
    parser.add_argument("port", type=int)
    parser.add_argument("now")
    parser.add_argument("--resend-unknown", action="store_true")
    args = parser.parse_args(argv)
    config = account(args.port, resend_unknown=args.resend_unknown)
    backend = make_backend(config.delivery, owner=config.owner, resolve_path=Path)
    with run_lock(args.state), open_store(args.state / "state.sqlite3") as store:
        report = deliver_due_digest(
            store, config, now=datetime.fromisoformat(args.now),
            build_digest=lambda period: full_digest(period), backend=backend,
        )
    print(json.dumps(asdict(report)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
