"""The first scheduled digest waits until setup is done (issue 13, item 3).

A new user's first ``run`` used to send an untuned digest: an owner address
that matches nothing, or a people file with two peers in it. Before the very
first digest of an account (nothing in its ledger, nothing the store marker
remembers as sent), ``run`` checks that the owner appears in the records and
that the directory holds at least ``[accounts.digest] min_peers`` peers. If not,
it writes a preview with a "here is what to fill in" note beside the state
instead of sending, logs that once per period, and exits 0: it is setup, not a
failure. Later digests are never held here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from peerpulse.connectors.atomic_file import write_atomic
from peerpulse.worker import schedule
from peerpulse.worker.store import Store

log = logging.getLogger("peerpulse")


@dataclass(frozen=True, slots=True)
class Held:
    """The first digest was not sent; ``preview`` holds what it would say."""

    period: str
    preview: Path
    missing: tuple[str, ...]
    failed: bool = False

    def describe(self) -> str:
        return (f"first digest for {self.period} held until setup is done ("
                + "; ".join(self.missing) + f"); preview in {self.preview}")


def is_first(store: Store, account: Any, remembered_sent: str | None) -> bool:
    """No digest was ever recorded for the account, here or in the marker."""
    return not store.ledger_entries(account.name) and not remembered_sent


def due(account: Any, now: datetime) -> str | None:
    return schedule.due_period(now, account.zone, account.digest.day, account.digest.time)


def missing(digest: Any, min_peers: int, people_files: list[str]) -> list[str]:
    """What to fill in before the first digest is worth sending (empty: ready)."""
    out = []
    if digest.owner_missing or not digest.stats.get("events_read", 0) + digest.stats.get(
            "messages_read", 0):
        out.append("your address appears in none of the records: check owner and aliases "
                   "in the config, and that the sources point at your exports")
    peers = int(digest.stats.get("peers", 0))
    if peers < min_peers:
        where = f" ({', '.join(people_files)})" if people_files else ""
        out.append(f"the people file{where} names {peers} peer{'s' if peers != 1 else ''}, "
                   f"at least {min_peers} are needed: `peerpulse people suggest --merge`, then "
                   "fill in department, title and manager")
    return out


def hold(state_dir: Path, account: Any, period: str, text: str, gaps: list[str]) -> Held:
    """Write the preview; log the note only the first time for this period."""
    path = state_dir / f"preview-{account.name}-{period}.txt"
    first_time = not path.exists()
    note = ("peerpulse held your first digest until setup is done. Fill in:\n"
            + "".join(f"  - {g}\n" for g in gaps)
            + "Then `peerpulse digest --dry-run` shows it, and the next `peerpulse run` "
            "sends it.\n\n--- preview ---\n\n")
    write_atomic(path, (note + text).encode("utf-8"))
    result = Held(period, path, tuple(gaps))
    if first_time:
        log.warning("%s: %s", account.name, result.describe())
    return result
