"""Whether the stored record looks cut off before ``now``.

Reconnect, coverage and peer of the week all read silence as drift: "146 days
overdue", "gone dark". Silence in the *record* is something else when the record
itself stops: an export taken months ago, a sync that stopped returning mail, a
calendar no longer shared. A manager gets mail every working day, so when the
newest stored mail is weeks old, the digest says so at the top instead of
presenting every tie as slipping. The same for a calendar whose newest meeting
before ``now`` is that old.

Pure: the caller passes the newest record times from the store.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

#: Two working weeks without a single mail, sent or received, is not a quiet spell
#: for a manager; it is a record that stopped.
QUIET_DAYS = 14


def quiet_sources(newest: Mapping[str, datetime | None], now: datetime) -> list[dict[str, str]]:
    """Per kind of record ("mail", "calendar") whose newest entry at or before ``now``
    is more than :data:`QUIET_DAYS` old: the kind, that entry's day and its age in
    days. A kind with nothing stored is left out (nothing to be stale about)."""
    out = []
    for kind, at in newest.items():
        if at is None:
            continue
        days = (now - at).days
        if days > QUIET_DAYS:
            out.append({"kind": kind, "newest": at.date().isoformat(), "days": str(days)})
    return out
