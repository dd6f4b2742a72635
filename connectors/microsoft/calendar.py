"""The owner's primary calendar through ``calendarView/delta`` over a fixed window.

The first round lists the window (``startDateTime``/``endDateTime``; Graph
forbids ``$select``, ``$filter`` and ``$orderby`` here) with ``Prefer:
odata.maxpagesize`` and immutable ids; every later round starts at the stored
deltaLink and usually costs one request. Items under ``@removed`` (deleted,
or moved out of the window) and cancelled occurrences become deletions.

A full round is one scope: its records carry a fresh ``run_id`` and its last
page prunes the stored events it did not see, so a 410 / ``syncStateNotFound``
(the delta token expired) or the window moving forward (a new round once half
the future window has passed) removes stale occurrences in one transaction.
A full round that finds nothing where many events were stored is refused
(:class:`EmptyResyncRefused`), as for Google: an outage that looks like an
empty calendar must not wipe the data.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from peerpulse.connectors.base import ConnectorError
from peerpulse.connectors.event_tally import EventTally
from peerpulse.connectors.microsoft.delta import DeltaPosition
from peerpulse.connectors.microsoft.graph import GraphClient, GraphError
from peerpulse.connectors.microsoft.normalize import event_instance
from peerpulse.connectors.records import EventInstance, RecordKey, RecordKind, SyncBatch
from peerpulse.connectors.state import StagedState

log = logging.getLogger(__name__)

EMPTY_GUARD = 10  # refuse an empty full round when at least this many events were stored
KEY = "calendarView"
TALLY = "calendarView/ids/"  # the stored events' ids (connectors.event_tally)
SCOPE = "calendar"


class EmptyResyncRefused(ConnectorError):
    """A full round came back empty where many events were stored; nothing was deleted."""


class CalendarSource:
    name = "calendar"

    def __init__(
        self,
        client: GraphClient,
        state: Callable[[], StagedState],
        *,
        account: str,
        account_zone: str,
        subjects: str,
        window_past_days: int,
        window_future_days: int,
        page_size: int,
        now: Callable[[], datetime],
    ) -> None:
        self.client = client
        self._state_factory = state
        self._state: StagedState | None = None
        self.account = account
        self.account_zone = account_zone
        self.subjects = subjects
        self.past = timedelta(days=window_past_days)
        self.future = timedelta(days=window_future_days)
        self.prefer = [f"odata.maxpagesize={page_size}", 'IdType="ImmutableId"']
        self.now = now

    @property
    def state(self) -> StagedState:
        if self._state is None:  # once per source and run (connectors.state)
            self._state = self._state_factory()
        return self._state

    def sync(self, cursor: str | None) -> Iterator[SyncBatch]:
        position = DeltaPosition.load(self.state, KEY)
        if cursor is None:  # a fresh start: forget the links, keep the count for the guard
            position = DeltaPosition(count=position.count)
        if position.delta and not position.next and not self._window_is_stale(position):
            try:
                yield from self._round(position, position.delta, full=False)
                return
            except GraphError as exc:
                if not exc.sync_state_lost:
                    raise
                log.warning("%s/calendar: delta token expired (%s); full resync", self.account, exc)
                position = DeltaPosition(count=position.count)
        try:
            yield from self._full(position)
        except GraphError as exc:
            if not (exc.sync_state_lost and position.next):
                raise
            log.warning("%s/calendar: resume link expired; listing the window again", self.account)
            yield from self._full(DeltaPosition(count=position.count))

    def _window_is_stale(self, position: DeltaPosition) -> bool:
        return position.until < (self.now() + self.future / 2).timestamp()

    def _full(self, position: DeltaPosition) -> Iterator[SyncBatch]:
        if position.next:
            yield from self._round(position, position.next, full=True)
            return
        now = self.now()
        position = DeltaPosition(
            run_id=secrets.token_hex(6),
            count=position.count,
            since=int((now - self.past).timestamp()),
            until=int((now + self.future).timestamp()),
        )
        url = self.client.url(
            "calendarView/delta?startDateTime="
            + _iso(position.since)
            + "&endDateTime="
            + _iso(position.until)
        )
        yield from self._round(position, url, full=True)

    def _round(self, position: DeltaPosition, url: str, *, full: bool) -> Iterator[SyncBatch]:
        what = f"{self.account}/calendar delta"
        for page in self.client.pages(url, prefer=self.prefer, what=what):
            upserts, deletions = self._changes(page)
            next_link = page.get("@odata.nextLink")
            delta_link = page.get("@odata.deltaLink")
            tally = EventTally(self.state, TALLY)
            stamped = tally.upserted((u.source_id for u in upserts), position.run_id)
            if full:
                position.seen += len(upserts)
            elif position.exact:
                position.count += stamped - tally.deleted(d.source_id for d in deletions)
            else:  # a cursor from before the tally: estimated until the next full round
                tally.deleted(d.source_id for d in deletions)
                position.count = max(0, position.count + len(upserts) - len(deletions))
            last = not next_link
            if last and full and position.seen == 0 and position.count >= EMPTY_GUARD:
                raise EmptyResyncRefused(
                    f"the calendar came back empty on a full sync where {position.count} "
                    "events were stored; nothing was deleted. Check the mailbox, then run "
                    "again; if it really is empty, reset the account's calendar cursor"
                )
            if last:
                if not delta_link:
                    raise ConnectorError(f"{what}: the last page has no deltaLink")
                position.delta = GraphClient.check_link(str(delta_link))
                position.next = None
                if full:  # the store prunes what the round did not see; so does the tally
                    position.count = tally.keep_only(position.run_id)
                    position.exact = True
            else:
                position.next = str(next_link) if full else None
            if full or last:  # an increment replays from its deltaLink if cut short
                position.save(self.state, KEY)
            yield SyncBatch(
                upserts=list(upserts),
                deletions=[] if full else deletions,
                cursor=json.dumps({"v": 1, "phase": "live" if last else "full"}),
                scope=SCOPE,
                run_id=position.run_id,
                prune_scope=full and last,
                state=self.state.take_changes(),
            )

    def _changes(self, page: dict[str, Any]) -> tuple[list[EventInstance], list[RecordKey]]:
        upserts: list[EventInstance] = []
        deletions: list[RecordKey] = []
        for item in page.get("value") or []:
            if not isinstance(item, dict) or not item.get("id"):
                continue
            if "@removed" in item or item.get("isCancelled"):
                deletions.append(RecordKey(RecordKind.EVENT, str(item["id"])))
                continue
            instance = event_instance(
                item, account_zone=self.account_zone, subjects=self.subjects
            )
            if instance is not None:
                upserts.append(instance)
        return upserts, deletions


def _iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
