"""While an account's first sync is still loading its history: what the digest may say.

A new mailbox syncs for hours (a first sync at the providers' quotas), and every
batch is committed, so a digest can be computed on a store that holds the recent
mail but not the old. Sections that read old history would then be wrong in ways a
reader cannot see (issue 15): reconnect lists ties "strong once, now overdue", and
the strong-once ties are in the mail that comes last; reciprocity without received
mail tells the owner they start everything. A source reports how far its first pass
is (``connectors.base.SyncProgress`` in its keyed state, committed with the batch it
describes); this module reads those reports through the store and marks the digest:

- **held back** until the history they need is in: ``reconnect`` (needs the old
  ties: it comes back when every source is complete) and ``reciprocity`` (needs the
  received mail of its window: it comes back once every loading source is complete
  back to ``[reciprocity] window_days``). A claim about the past that the data cannot
  support is left out rather than shown with a caveat: "you owe Lee one" is read as a
  fact and acted on.
- **flagged**, still shown: the peer of the week (one suggestion to meet someone,
  worth having in a first week; it may differ from the pick a full history makes),
  feedback asks (the quarter's most frequent partners, received mail included), the
  fading forecast and department coverage (their rhythms and trends read months of
  history), and celebrate while no received mail is in (its keywords come from
  peers' subjects). Team-meeting invitations read the calendar, which comes first.

Pure apart from :func:`status`, which reads the store.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from peerpulse.connectors.base import PROGRESS_KEY, SyncProgress
from peerpulse.rules.recommendations import Digest
from peerpulse.worker.store import Store

HELD = ("reconnect", "reciprocity")  # left out while the history they read is missing
# shown, marked as partial: the pick and the quarter's feedback asks weigh received mail
# and months of ties; fading and coverage read months of rhythm
FLAGGED = ("peer_of_the_week", "feedback", "fading", "coverage")


@dataclass(frozen=True, slots=True)
class HistoryStatus:
    """The sources of one account whose first full pass is not done, with their reports."""

    loading: tuple[tuple[str, SyncProgress], ...] = ()

    @property
    def complete(self) -> bool:
        return not self.loading

    @property
    def since(self) -> datetime | None:
        """The date from which every source's records are all stored (None: none such
        yet, e.g. only sent mail is in): the latest of the loading sources' dates."""
        dates = [p.since for _, p in self.loading]
        if not dates or any(d is None for d in dates):
            return None
        return max(d for d in dates if d is not None)

    @property
    def done(self) -> float | None:
        """The share of the first sync done: the least of the sources that can tell."""
        shares = [p.done for _, p in self.loading if p.done is not None]
        return min(shares) if shares else None


def status(store: Store, account: str) -> HistoryStatus:
    """What the account's sources last reported (a source that reports nothing counts as
    complete: providers and stores from before these reports)."""
    loading = []
    for source in store.source_statuses(account):
        progress = SyncProgress.load(store.state_get(account, source.source, PROGRESS_KEY))
        if progress is not None and not progress.complete:
            loading.append((source.source, progress))
    return HistoryStatus(tuple(loading))


def held_sections(history: HistoryStatus, now: datetime, reciprocity_days: int) -> list[str]:
    """The sections left out of a digest computed ``now`` on ``history``."""
    if history.complete:
        return []
    since = history.since
    if since is not None and since <= now - timedelta(days=reciprocity_days):
        return ["reconnect"]  # reciprocity's whole window is in
    return list(HELD)


def flagged_sections(history: HistoryStatus) -> list[str]:
    """The sections shown but marked as based on partial history."""
    if history.complete:
        return []
    return [*FLAGGED, *(["celebrate"] if history.since is None else [])]


def mark(digest: Digest, history: HistoryStatus, now: datetime, reciprocity_days: int) -> Digest:
    """``digest`` with the held sections left out and ``stats["history"]`` saying why, or
    unchanged when history is complete."""
    if history.complete:
        return digest
    held = held_sections(history, now, reciprocity_days)
    changes: dict[str, Any] = {name: () for name in held}
    changes["stats"] = {**digest.stats,
                        "history": describe(history, held, flagged_sections(history))}
    return dataclasses.replace(digest, **changes)


def describe(history: HistoryStatus, held: list[str], flagged: list[str]) -> dict[str, Any]:
    """The JSON form (``stats.history`` in docs/digest.schema.json; ``status --json``)."""
    done = history.done
    since = history.since
    return {
        "complete": False,
        "since": since.date().isoformat() if since is not None else None,
        "percent_done": int(done * 100) if done is not None else None,
        "sources": [
            {"source": name, "detail": p.detail,
             "since": p.since.date().isoformat() if p.since is not None else None,
             "percent_done": int(p.done * 100) if p.done is not None else None}
            for name, p in history.loading
        ],
        "held": held,
        "flagged": flagged,
    }


def summary_line(info: dict[str, Any]) -> str:
    """One plain sentence of ``describe``'s dict, for ``status`` and logs."""
    done = info.get("percent_done")
    since = info.get("since")
    parts = ["history still loading (first sync"
             + (f" about {done}% done)" if done is not None else " under way)")]
    parts.append(f"complete since {since}" if since else "no stretch complete yet")
    for source in info.get("sources") or []:
        if source.get("detail"):
            parts.append(f"{source['source']}: {source['detail']}")
    return "; ".join(parts)
