""""Last talked about: Q3 hiring plan, Budget review" (issue 13, item 3).

Up to three recent thread subjects or meeting titles shared with each person the
digest names, read from the store (the engine keeps no text). Only when subjects
are kept: hashed or dropped subjects show nothing, and a stored hash is never
shown. Reply and forward prefixes are stripped, repeats folded, each cut short;
the renderer escapes them like every other value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from peerpulse.connectors.records import HASHED
from peerpulse.rules.views import PeerView
from peerpulse.worker.store import Store

POINTS = 3
LOOK_BACK = 12  # newest interactions read per person
LIMIT = 48

_PREFIX = re.compile(r"^\s*(?:(?:re|aw|sv|antw|vs|fwd?|wg|tr)\s*(?:\[\d+\])?\s*:\s*)+",
                     re.IGNORECASE)
_CALENDAR = re.compile(r"^(?:invitation|updated invitation|accepted|declined|tentative)"
                       r"[^:]*:\s*", re.IGNORECASE)


def talking_points(
    store: Store, account: str, views: Mapping[str, PeerView], emails: Iterable[str]
) -> dict[str, list[str]]:
    """Per person, up to :data:`POINTS` distinct recent subjects or titles, newest first."""
    wanted: dict[str, list[str]] = {}
    for email in emails:
        view = views.get(email)
        if view is None:
            continue
        rows = sorted(view.rows, key=lambda r: (r[0], r[3]), reverse=True)[:LOOK_BACK]
        wanted[email] = [r[3] for r in rows]
    labels = store.record_labels(account, [rid for ids in wanted.values() for rid in ids])
    out: dict[str, list[str]] = {}
    for email, ids in wanted.items():
        points: list[str] = []
        seen: set[str] = set()
        for rid in ids:
            text = shorten(labels.get(rid, ""))
            if not text or text.casefold() in seen:
                continue
            seen.add(text.casefold())
            points.append(text)
            if len(points) == POINTS:
                break
        if points:
            out[email] = points
    return out


def shorten(label: str) -> str:
    """One clean line without Re:/Fwd:/Invitation: prefixes, at most :data:`LIMIT` chars."""
    if not label or label.startswith(HASHED):
        return ""
    text = " ".join(_CALENDAR.sub("", _PREFIX.sub("", label)).split())
    if len(text) > LIMIT:
        text = text[: LIMIT - 1].rstrip() + "\u2026"
    return text
