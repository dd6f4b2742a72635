"""A small marker file beside the state database: which store it is and which
periods were sent (issue 10, item 3).

Why: a 0-byte, deleted or replaced database used to be re-created silently, its
ledger empty, and the week's digest went out a second time. The marker survives
the database: when it says data existed, a writer refuses to start from a new
or different store until the user accepts it (``--accept-new-store``), and even
then the periods the marker remembers as sent are not sent again.

The marker is JSON, written atomically (temporary file, fsync, rename, fsync of
the directory), so a crash leaves the old marker or the new one, never half.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from peerpulse.worker.errors import StateError

ACCEPT_FLAG = "--accept-new-store"


@dataclass(frozen=True)
class Marker:
    """``periods_sent``: per account, the newest period ever sent from this state
    directory (the floor below which nothing is sent again); ``store_sent``: what
    the ledger of store ``store_id`` held when last seen (an older copy of that
    store holds less)."""

    store_id: str
    periods_sent: dict[str, str] = field(default_factory=dict)
    store_sent: dict[str, str] = field(default_factory=dict)


def marker_path(database: Path) -> Path:
    return database.with_name(database.name + ".marker")


def read(database: Path) -> Marker | None:
    """The marker beside ``database``, or None if there is none (a first run)."""
    path = marker_path(database)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        periods = data.get("periods_sent", {})
        store_sent = data.get("store_sent", periods)
        return Marker(
            store_id=str(data["store_id"]),
            periods_sent={str(k): str(v) for k, v in periods.items()},
            store_sent={str(k): str(v) for k, v in store_sent.items()},
        )
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise StateError(
            f"{path}: unreadable store marker ({exc}); it records which store and weeks "
            f"were sent. Check it, or delete it and run with {ACCEPT_FLAG}"
        ) from None


def write(database: Path, marker: Marker) -> None:
    """Replace the marker atomically."""
    path = marker_path(database)
    body = json.dumps(
        {
            "store_id": marker.store_id,
            "periods_sent": dict(sorted(marker.periods_sent.items())),
            "store_sent": dict(sorted(marker.store_sent.items())),
        },
        indent=2,
    )
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(body + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def is_new_database(database: Path) -> bool:
    """True if opening ``database`` would start an empty store (missing or 0 bytes)."""
    try:
        return database.stat().st_size == 0
    except FileNotFoundError:
        return True


def refuse_new(database: Path, marker: Marker | None) -> None:
    """Before opening: StateError if the marker says a store existed and the file is
    now missing or empty."""
    if marker is None or not is_new_database(database):
        return
    raise StateError(
        f"{database} is missing or empty, but {marker_path(database)} says a store existed "
        f"(last sent: {_sent(marker)}). Restore the database from a backup, or run again "
        f"with {ACCEPT_FLAG} to start a new store from the sources (weeks already sent "
        "are not sent again)"
    )


def refuse_replaced(
    database: Path, marker: Marker | None, store_id: str, periods_sent: dict[str, str]
) -> None:
    """After opening: StateError if this is another store than the marker's, or an
    older copy of it (its ledger misses periods the marker saw sent)."""
    if marker is None:
        return
    behind = sorted(
        account for account, period in marker.store_sent.items()
        if periods_sent.get(account, "") < period
    )
    if marker.store_id == store_id and not behind:
        return
    what = (
        "is a different store than the one" if marker.store_id != store_id
        else f"is an older copy (its ledger misses sent weeks for {', '.join(behind)}) of the one"
    )
    raise StateError(
        f"{database} {what} recorded in {marker_path(database)} "
        f"(last sent: {_sent(marker)}). Restore the right database, or run again with "
        f"{ACCEPT_FLAG} to use this one (weeks already sent are not sent again)"
    )


def merged(marker: Marker | None, store_id: str, periods_sent: dict[str, str]) -> Marker:
    """The marker to write now: this store, and per account the newest period sent
    by it or remembered from before (an accepted new store inherits the floor)."""
    periods = dict(marker.periods_sent) if marker else {}
    for account, period in periods_sent.items():
        periods[account] = max(period, periods.get(account, ""))
    return Marker(store_id=store_id, periods_sent=periods, store_sent=dict(periods_sent))


def _sent(marker: Marker) -> str:
    return ", ".join(f"{a} {p}" for a, p in sorted(marker.periods_sent.items())) or "nothing yet"
