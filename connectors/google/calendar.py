"""Google Calendar events: a windowed full sync per calendar, then syncToken increments.

events.list with ``singleEvents`` (the server expands recurrences, so no
RRULE/DST arithmetic here), ``showDeleted`` (required with syncToken),
``maxResults=2500`` (the ceiling) and a ``fields`` mask. The full sync is bounded
by ``timeMin``/``timeMax``; increments send only ``syncToken`` (Google forbids
the window with it) and usually cost one request per calendar.
``nextSyncToken`` comes on the last page only, so a multi-page sync stores the
page token and resumes.

Every calendar is one ``scope``: a full sync stamps its events with a fresh
``run_id`` and its last batch prunes the calendar's events not seen, so a
410 Gone (expired token) or a window refresh removes stale instances in one
transaction. A full sync that finds nothing where many events were stored is
refused (:class:`EmptyResyncRefused`), the vdirsyncer ``StorageEmpty`` rule:
an outage that looks like an empty calendar must not wipe the data.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from googleapiclient.errors import HttpError
from peerpulse.connectors.base import ConnectorError, SourceUnavailable
from peerpulse.connectors.event_tally import EventTally
from peerpulse.connectors.google.normalize import EVENT_FIELDS, event_instance
from peerpulse.connectors.google.pacing import Pacer, QuotaWait
from peerpulse.connectors.google.paging import PageTokens
from peerpulse.connectors.google.services import GoogleApi, run_request
from peerpulse.connectors.records import (
    EventInstance,
    EventStatus,
    RecordKey,
    RecordKind,
    SyncBatch,
)
from peerpulse.connectors.state import StagedState

log = logging.getLogger(__name__)

PAGE = 2500
EMPTY_GUARD = 10  # refuse an empty full sync when at least this many events were stored


class EmptyResyncRefused(ConnectorError):
    """A full sync came back empty where many events were stored; nothing was deleted."""


class CalendarSource:
    """The ``calendar`` source: every configured calendar, each its own scope."""

    name = "calendar"

    def __init__(
        self,
        api: GoogleApi,
        pacer: Pacer,
        *,
        account: str,
        calendars: list[str],
        account_zone: str,
        subjects: str,
        window_past_days: int,
        window_future_days: int,
        now: Callable[[], datetime],
        state: Callable[[], StagedState],
    ) -> None:
        self.api, self.pacer = api, pacer
        self._state_factory = state
        self._state: StagedState | None = None
        self.account = account
        self.calendars = calendars
        self.account_zone = account_zone
        self.subjects = subjects
        self.past = timedelta(days=window_past_days)
        self.future = timedelta(days=window_future_days)
        self.now = now

    @property
    def keyed(self) -> StagedState:
        """Keyed connector state (the stored events' ids), once per source and run."""
        if self._state is None:
            self._state = self._state_factory()
        return self._state

    def _tally(self, calendar: str) -> EventTally:
        return EventTally(self.keyed, f"ids/{calendar}/")

    def sync(self, cursor: str | None) -> Iterator[SyncBatch]:
        state = _load(cursor)
        try:
            for calendar in self.calendars:
                yield from self._sync_calendar(calendar, state)
        except QuotaWait as exc:
            # Committed pages carried their cursor: end cleanly, the next run continues.
            log.warning("%s/calendar: %s; the next run continues", self.account, exc)

    # -- one calendar ------------------------------------------------------------------

    def _prefix(self, calendar: str) -> str:
        # Ids are unique per calendar only; the same meeting seen in two calendars keeps
        # two rows so that pruning one calendar never deletes the other's copy.
        return "" if calendar == "primary" else calendar + "/"

    def _window_is_stale(self, entry: dict[str, Any]) -> bool:
        until = entry.get("until", 0)
        return until < (self.now() + self.future / 2).timestamp()

    def _sync_calendar(self, calendar: str, state: dict[str, Any]) -> Iterator[SyncBatch]:
        entry = state.setdefault(calendar, {})
        if entry.get("sync") and not entry.get("page") and not self._window_is_stale(entry):
            try:
                yield from self._increment(calendar, state)
                return
            except HttpError as exc:
                if exc.resp.status != 410:
                    raise
                log.warning(
                    "%s/calendar %s: sync token expired (410); full resync", self.account, calendar
                )
                entry.pop("sync", None)
        yield from self._full(calendar, state)

    def _list(self, calendar: str, **params: Any) -> dict[str, Any]:
        request = self.api.calendar.events().list(
            calendarId=calendar,
            singleEvents=True,
            showDeleted=True,
            maxResults=PAGE,
            fields=EVENT_FIELDS,
            **params,
        )
        try:
            return run_request(self.api, self.pacer, request, 1, self.account)
        except HttpError as exc:
            if exc.resp.status == 404:
                raise SourceUnavailable(
                    f"calendar {calendar!r} does not exist or is not shared with this account",
                    hint="check `calendars` in the config",
                ) from None
            raise

    def _instances(
        self, calendar: str, response: dict[str, Any]
    ) -> tuple[list[EventInstance], list[RecordKey]]:
        upserts: list[EventInstance] = []
        deletions: list[RecordKey] = []
        prefix = self._prefix(calendar)
        for item in response.get("items") or []:
            if item.get("status") == "cancelled":
                if item.get("id"):
                    deletions.append(RecordKey(RecordKind.EVENT, prefix + str(item["id"])))
                continue
            instance = event_instance(
                item,
                calendar_zone=response.get("timeZone"),
                account_zone=self.account_zone,
                subjects=self.subjects,
                id_prefix=prefix,
            )
            if instance is not None and instance.status != EventStatus.CANCELLED:
                upserts.append(instance)
        return upserts, deletions

    def _increment(self, calendar: str, state: dict[str, Any]) -> Iterator[SyncBatch]:
        entry = state[calendar]
        page: str | None = None
        tokens = PageTokens(f"calendar {calendar!r} events.list (incremental)")
        while True:
            params: dict[str, Any] = {"syncToken": entry["sync"]}
            if page:
                params["pageToken"] = page
            response = self._list(calendar, **params)
            upserts, deletions = self._instances(calendar, response)
            page = tokens.next(response)
            tally = self._tally(calendar)
            new = tally.upserted((u.source_id for u in upserts), entry.get("run_id", ""))
            held = tally.deleted(d.source_id for d in deletions)
            if entry.get("exact"):  # exact: see connectors.event_tally
                entry["count"] = entry.get("count", 0) + new - held
            else:  # a cursor from before the tally: estimated until the next full sync
                entry["count"] = max(0, entry.get("count", 0) + len(upserts) - len(deletions))
            if not page:
                entry["sync"] = response.get("nextSyncToken", entry["sync"])
            yield SyncBatch(
                upserts=list(upserts),
                deletions=deletions,
                cursor=_dump(state),
                scope=calendar,
                run_id=entry.get("run_id", ""),
                state=self.keyed.take_changes(),
            )
            if not page:
                return

    def _full(self, calendar: str, state: dict[str, Any]) -> Iterator[SyncBatch]:
        entry = state[calendar]
        if not entry.get("page"):
            now = self.now()
            entry.update(
                run_id=secrets.token_hex(6),
                seen=0,
                page=None,
                since=int((now - self.past).timestamp()),
                until=int((now + self.future).timestamp()),
            )
        tokens = PageTokens(f"calendar {calendar!r} events.list (full)", entry.get("page"))
        while True:
            params: dict[str, Any] = {
                "timeMin": _rfc3339(entry["since"]),
                "timeMax": _rfc3339(entry["until"]),
            }
            if entry.get("page"):
                params["pageToken"] = entry["page"]
            response = self._list(calendar, **params)
            upserts, _ = self._instances(calendar, response)
            entry["seen"] = entry.get("seen", 0) + len(upserts)
            tally = self._tally(calendar)
            tally.upserted((u.source_id for u in upserts), entry["run_id"])
            page = tokens.next(response)
            if page:
                entry["page"] = page
                if upserts:
                    yield SyncBatch(
                        upserts=list(upserts),
                        cursor=_dump(state),
                        scope=calendar,
                        run_id=entry["run_id"],
                        state=self.keyed.take_changes(),
                    )
                continue
            if entry["seen"] == 0 and entry.get("count", 0) >= EMPTY_GUARD:
                raise EmptyResyncRefused(
                    f"calendar {calendar!r} came back empty on a full sync where "
                    f"{entry['count']} events were stored; nothing was deleted. If it really "
                    "was emptied, remove it from `calendars` and add it back"
                )
            # the store prunes what the sync did not see; so does the tally
            entry.update(sync=response.get("nextSyncToken"), page=None,
                         count=tally.keep_only(entry["run_id"]), exact=True)
            yield SyncBatch(
                upserts=list(upserts),
                cursor=_dump(state),
                scope=calendar,
                run_id=entry["run_id"],
                prune_scope=True,
                state=self.keyed.take_changes(),
            )
            return


def _rfc3339(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _load(cursor: str | None) -> dict[str, Any]:
    if not cursor:
        return {}
    try:
        data = json.loads(cursor)
    except ValueError:
        return {}
    return data.get("calendars", {}) if isinstance(data, dict) and data.get("v") == 1 else {}


def _dump(state: dict[str, Any]) -> str:
    return json.dumps({"v": 1, "calendars": state}, separators=(",", ":"))
