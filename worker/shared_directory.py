"""An organization's shared directory, read and resolved once per worker process and
directory version instead of once per digest (issue 12).

With ``[organization.directory]`` every manager's digest reads the ``_directory``
account's people: at 10,000 people, reading, decoding and resolving them was most
of a digest. A worker keeps the last directory it read per database (it opens a
store per job: ``Store.database_key``), keyed by the people stamp (migration 9:
triggers change it in every transaction that writes those rows), and reads the
stamp before the rows, so rows at least as new as the stamp are never taken for
an older version. What it keeps is the owner-independent part
(``rules.peers.share_directory``); each digest then costs its owner's chain,
reports and peers only. Jobs run in threads: one lock guards the cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass

from peerpulse.connectors.records import Person
from peerpulse.rules.peers import SharedDirectory, share_directory
from peerpulse.rules.ruleset import RuleSet
from peerpulse.worker.store import Store

#: Databases whose directory is kept at once (a worker reads one; tests several).
KEPT = 4


@dataclass
class Directory:
    """One directory version: its people, their content hash, and what the rules
    resolve them to (made on first use)."""

    stamp: str
    people: list[Person]
    content: str
    shared: SharedDirectory | None = None


_lock = threading.Lock()
_kept: dict[str, Directory] = {}  # database key -> the newest version read from it
_off = threading.local()  # see disabled()


def read(
    store: Store, account: str, rules: RuleSet
) -> tuple[list[Person], SharedDirectory | None, str]:
    """``account``'s people, resolved as far as no owner is needed (None when the
    store has no stamp for them: then nothing is kept), and a hash of their content
    (the checkpoint fingerprint's part for them)."""
    if getattr(_off, "on", False):
        people = store.people(account)
        return people, None, content_hash(people)
    key = f"{store.database_key()}\x1f{account}"
    stamp = store.people_stamp(account)
    with _lock:
        found = _kept.get(key)
        if found is None or found.stamp != stamp or stamp is None:
            people = store.people(account)
            found = Directory(stamp or "", people, content_hash(people))
            if stamp is None:
                return people, None, found.content
            _kept.pop(key, None)
            while len(_kept) >= KEPT:
                _kept.pop(next(iter(_kept)))
            _kept[key] = found
        if found.shared is None or found.shared.rules is not rules:
            found.shared = share_directory(found.people, rules)
        return found.people, found.shared, found.content


def content_hash(people: list[Person]) -> str:
    """A hash of every person's every field, in the stored order."""
    h = hashlib.sha256()
    for person in people:
        data = repr(person).encode("utf-8", "surrogatepass")
        h.update(len(data).to_bytes(8, "big"))
        h.update(data)
    return h.hexdigest()


@contextlib.contextmanager
def disabled() -> Iterator[None]:
    """In this thread, read the people every time and resolve them in the engine, as
    before the cache: the benchmark's and the tests' baseline (same digests)."""
    _off.on = True
    try:
        yield
    finally:
        _off.on = False


def forget() -> None:
    """Drop every kept directory (tests compare against a cold worker)."""
    with _lock:
        _kept.clear()
