"""The Gmail source's cursor: where the sync stands, committed with each batch.

- ``phase`` ``sent`` -> ``rest`` -> ``live``: the initial sync lists the SENT
  label first (a first digest is possible long before a big inbox is done),
  then everything else; ``live`` is history.list increments; ``resync`` lists
  ids after the history cursor expired (HTTP 404).
- ``sent_pages`` is how many more SENT list pages the ``sent`` phase may spend
  (see :func:`sent_page_budget`); ``None`` means unbounded.
- ``sent_since`` (epoch seconds) is the ``sent`` phase's horizon: it ends at
  the first batch of SENT mail older than that (``sent_first_days``, default
  180: what the digest weighs most), and the full listing fetches the rest.
- ``page`` is the list page token to resume at, so an initial sync (or the
  upgrade's id listing, ``adopt``) stopped by the time budget continues in the
  next run.
- ``carry`` holds the few listed ids (fewer than one batch) left over from a
  page, so that every batch sent is full: the API's request floor assumes so;
  and the ids whose batch part failed on the page's last wave, so that they
  join the next page's batches instead of a batch of their own.
- ``history`` is the historyId taken from getProfile *before* listing: the
  first increment replays the overlap, and upserts deduplicate.
- ``gen`` scopes the known-ids state (:mod:`.known_ids`): a fresh cursor
  (``None``) starts a new generation, so a reset sync never trusts old ids.
- ``adopt``: set once when a version-1 cursor is upgraded (see
  :func:`upgraded`); the id listing that rebuilds the known ids is pending.
- ``total`` (getProfile's item count), ``fetched`` (items stored so far) and
  ``reached`` (the oldest date stored in the current phase, epoch seconds; 0:
  none yet) say how far the initial sync is (:func:`progress`: what the digest
  tells its reader while history is loading). Cursors written before they
  existed read as 0: the share done is then unknown, not wrong.

Version 1 kept the known ids in a side SQLite file that was written after the
worker's commit; version 2 keeps them in keyed connector state, committed in
the same transaction as the batch.
"""

from __future__ import annotations

import json
import math
import secrets
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from peerpulse.connectors.base import SyncProgress

LIST_PAGE = 500  # messages.list / threads.list maxResults
FETCH_BATCH = 50  # gets per batch (Gmail batch guide)
VERSION = 2


@dataclass
class MailCursor:
    phase: str = "sent"  # sent | rest | live | resync
    history: str | None = None
    page: str | None = None
    window_start: int = 0  # epoch seconds; the initial sync stops at older mail
    method: str = "messages"  # messages | threads (the cheaper for this mailbox)
    gen: str = ""
    carry: list[str] = field(default_factory=list)  # ids waiting for a full batch, or a retry
    sent_pages: int | None = None  # SENT list pages the sent phase may still spend
    sent_since: int = 0  # epoch seconds: the sent phase stops at older SENT mail
    adopt: bool = False  # upgraded from version 1: list every id into the known ids
    total: int = 0  # items in the mailbox when the initial sync began (getProfile)
    fetched: int = 0  # items stored by the initial sync so far
    reached: int = 0  # epoch seconds: the oldest mail stored in this phase (0: none yet)
    v: int = VERSION

    def dump(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def load(cls, text: str | None) -> MailCursor | None:
        """A version-2 cursor, or None (no cursor, not ours, or version 1)."""
        data = _parse(text)
        if data is None or data.get("v") != VERSION:
            return None
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)

    @classmethod
    def upgraded(cls, text: str | None) -> MailCursor | None:
        """A version-1 cursor carried over, or None when it must start afresh.

        A ``live`` one keeps its historyId, so the first run applies the
        increments (deletions included) exactly as version 1 would have; its
        side file is not read, so the known ids are rebuilt by listing every id
        once (``adopt``: 5 quota units per 500 ids, no gets). An initial or
        resync phase starts a fresh initial sync instead: upserts deduplicate,
        so the store ends as a finished version-1 initial sync would have left
        it. (A version-1 resync pending at the upgrade would also have deleted
        the messages gone from Gmail meanwhile; those stay until retention.)
        """
        data = _parse(text)
        if data is None or data.get("v") != 1 or data.get("phase") != "live":
            return None
        if not data.get("history"):
            return None
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data and k != "v"}
        known.update(gen=new_generation(), page=None, carry=[], adopt=True)
        return cls(**known)

    def but(self, **changes: object) -> MailCursor:
        return MailCursor(**{**asdict(self), **changes})


def new_generation() -> str:
    return secrets.token_hex(4)


def sent_page_budget(items: int, share: float) -> int:
    """SENT list pages the initial sync may spend before listing everything.

    Gmail cannot list "everything but SENT" without ``q`` (forbidden under
    gmail.metadata), so every SENT page is listed twice: once in the SENT
    phase, once in the full listing. Those pages are pure overhead on the
    floor of ``ceil(items/500)`` list pages plus ``ceil(items/50)`` batches
    (docs/GOOGLE.md), so they are capped at ``share`` of that floor, and at least
    one page (the newest 500 SENT items, enough for a first digest) unless
    ``share`` is 0, which turns the SENT phase off. A mailbox that one list
    page holds gets no SENT phase: its first full page lists everything, so a
    SENT page would be one request over the floor and bring nothing earlier
    (issue 15: legacy threads mode at 1,000 messages, 17 requests on a floor
    of 16). Above that, the one page is more than ``share`` only for mailboxes
    under ~1,700 items.
    """
    if share <= 0 or items <= LIST_PAGE:
        return 0
    floor = math.ceil(items / LIST_PAGE) + math.ceil(items / FETCH_BATCH)
    return max(1, int(share * floor))


def progress(cursor: MailCursor, now: int) -> SyncProgress:
    """What the cursor says of the stored history, for the digest (issue 15).

    ``sent``: only the owner's own mail is coming in, newest first, so nothing is
    complete yet: reciprocity has no received mail, reconnect no old ties. ``rest``:
    everything is listed newest first, so all mail since ``reached`` is in. ``live``
    and ``resync`` (a re-listing after the history id expired: the mail is stored):
    complete back to the window's start. The share done is the larger of items
    fetched over the mailbox's items and, once everything is listed, the stretch
    of the window covered (a window shorter than the mailbox makes the first low).
    """
    start = datetime.fromtimestamp(cursor.window_start, UTC)
    if cursor.phase in ("live", "resync"):
        return SyncProgress(complete=True, since=start)
    counted = min(0.99, cursor.fetched / cursor.total) if cursor.total > 0 else None
    if cursor.phase == "sent":
        back = f", back to {_day(cursor.reached)} so far" if cursor.reached else ""
        return SyncProgress(complete=False, since=None, done=counted,
                            detail=f"your sent mail first{back}; received mail not yet")
    if not cursor.reached:
        return SyncProgress(complete=False, since=None, done=counted,
                            detail="your sent mail is in; the rest is loading, newest first")
    span = max(1, now - cursor.window_start)
    covered = min(0.99, max(0.0, (now - cursor.reached) / span))
    done = max(covered, counted or 0.0)
    return SyncProgress(complete=False, since=datetime.fromtimestamp(cursor.reached, UTC),
                        done=done, detail=f"all mail back to {_day(cursor.reached)}; "
                        "older mail is loading")


def _day(stamp: int) -> str:
    return datetime.fromtimestamp(stamp, UTC).date().isoformat()


def _parse(text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None
