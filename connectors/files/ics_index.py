"""Which records each VEVENT group of an ICS file produced, in keyed connector state.

With it, a changed ICS file is read event by event (issue 14, item 3): only the
groups (a UID with its overrides) whose bytes changed go through icalendar, the
records of groups that changed or went are deleted unless re-produced, and the
rest of the store stays as the last whole read left it.

One state key per group: ``ics/<label>/<sha1 of the UID>`` → ``[digest, ids]``.
The file's state says whether the index is complete (``"index": true``); a read
that cannot keep it exact (resumed, records it cannot map to a UID) says false,
and the next change is then read whole. Pure: state goes through ``StagedState``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable

from peerpulse.connectors.state import StagedState

Entry = tuple[str, list[str]]  # (group digest, record ids)


def prefix(label: str) -> str:
    return f"ics/{json.dumps(label)}/"


# Events without a UID get one from their parsed content (``ics._uid_of``), which a
# byte scan cannot reproduce: their records share one entry and they are re-read
# with every change.
NO_UID = "sha256:"


def key(label: str, uid: str | None) -> str:
    if uid is None or uid.startswith(NO_UID):
        return prefix(label) + "?"
    return prefix(label) + hashlib.sha1(uid.encode(), usedforsecurity=False).hexdigest()[:24]


def load(state: StagedState, label: str) -> dict[str, Entry]:
    """Every group entry of ``label``, by state key."""
    found: dict[str, Entry] = {}
    for k, value in state.iter_prefix(prefix(label)):
        digest, ids = json.loads(value)
        found[k] = (str(digest), [str(i) for i in ids])
    return found


def put(state: StagedState, k: str, digest: str, ids: Iterable[str]) -> None:
    state.put(k, json.dumps([digest, sorted(set(ids))], separators=(",", ":")))


def drop(state: StagedState, label: str, keep: set[str] | None = None) -> None:
    """Stage the deletion of ``label``'s entries (all, or all but ``keep``)."""
    doomed = [k for k, _ in state.iter_prefix(prefix(label)) if keep is None or k not in keep]
    for k in doomed:
        state.delete(k)
