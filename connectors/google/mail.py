"""Gmail header metadata: initial sync near the quota floor, then history increments.

Initial sync (Gmail sync guide; research §1.2-1.4, §7): getProfile gives the
historyId to continue from *before* anything is listed; messages.list (500 ids
a page, SENT label first) then batched messages.get ``format=metadata`` with
only the headers MessageMeta needs. ``gmail.metadata`` forbids ``q``, so the
date window is applied by stopping once a fetched chunk is entirely older than
it (lists come newest first). When the mailbox's mean thread length L makes
it cheaper (threads.get costs 2/L of messages.get per message, research §0.3),
threads are listed and fetched instead; getProfile's messagesTotal /
threadsTotal measures L for free.

Increments: history.list (messageAdded, messageDeleted) from the stored
historyId: one request when nothing changed. A 404 means the historyId
expired; we then list ids (cheap) and fetch only the unknown ones, and delete
stored messages that are gone. State: :mod:`connectors.google.mail_state`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

from googleapiclient.errors import HttpError

from connectors.google.batch import BatchFetcher
from connectors.google.mail_state import IdSet, KnownIds, MailCursor, new_generation
from connectors.google.normalize import (
    MESSAGE_FIELDS,
    METADATA_HEADERS,
    THREAD_FIELDS,
    message_meta,
)
from connectors.google.pacing import Pacer
from connectors.google.services import GoogleApi, run_request
from connectors.records import MessageMeta, Record, RecordKey, RecordKind, SyncBatch

log = logging.getLogger(__name__)

PAGE = 500
SKIP_LABELS = frozenset({"DRAFT", "SPAM", "TRASH"})
THREADS_BREAK_EVEN = 2.2  # threads.get costs 2x a get; a little margin for out-of-window mail


def choose_method(
    setting: str, messages_total: int, threads_total: int, costs: dict[str, int]
) -> str:
    """``messages`` or ``threads``: whichever costs fewer units per message for this mailbox."""
    if setting in ("messages", "threads"):
        return setting
    if threads_total <= 0 or messages_total <= 0:
        return "messages"
    mean_thread = messages_total / threads_total
    ratio = costs["threads.get"] / costs["messages.get"]
    return "threads" if mean_thread > ratio * (THREADS_BREAK_EVEN / 2) else "messages"


class MailSource:
    """The ``gmail`` source of one account."""

    name = "gmail"

    def __init__(
        self,
        api: GoogleApi,
        pacer: Pacer,
        fetcher: BatchFetcher,
        *,
        account: str,
        owner: frozenset[str],
        subjects: str,
        state_dir: str,
        window_past_days: int,
        now: Callable[[], datetime],
        deadline: float,
        method: str = "auto",
        costs: dict[str, int],
    ) -> None:
        self.api, self.pacer, self.fetcher = api, pacer, fetcher
        self.account, self.owner, self.subjects = account, owner, subjects
        self.state_dir = state_dir
        self.window_past_days = window_past_days
        self.now = now
        self.deadline = deadline
        self.method_setting = method
        self.costs = costs

    # -- plumbing --------------------------------------------------------------------

    @property
    def _users(self) -> Any:
        return self.api.gmail.users()

    def _call(self, request: Any, method: str) -> Any:
        return run_request(self.api, self.pacer, request, self.costs[method], self.account)

    def _window_start(self) -> int:
        return int((self.now() - timedelta(days=self.window_past_days)).timestamp())

    def _out_of_time(self) -> bool:
        return time.monotonic() >= self.deadline

    def _known(self, cursor: MailCursor) -> KnownIds:
        return KnownIds(self.state_dir, self.account, cursor.gen)

    def _profile(self) -> dict[str, Any]:
        request = self._users.getProfile(userId="me", fields="historyId,messagesTotal,threadsTotal")
        return self._call(request, "getProfile")

    # -- entry -----------------------------------------------------------------------

    def sync(self, cursor: str | None) -> Iterator[SyncBatch]:
        state = MailCursor.load(cursor)
        if state is None:
            state = self._start()
        if state.phase in ("sent", "rest"):
            yield from self._initial(state)
        elif state.phase == "resync":
            yield from self._resync(state)
        else:
            yield from self._incremental(state)

    def _start(self) -> MailCursor:
        profile = self._profile()
        method = choose_method(
            self.method_setting,
            int(profile.get("messagesTotal", 0)),
            int(profile.get("threadsTotal", 0)),
            self.costs,
        )
        state = MailCursor(
            phase="sent",
            history=str(profile["historyId"]),
            window_start=self._window_start(),
            method=method,
            gen=new_generation(),
        )
        self._known(state).start_fresh()
        log.info(
            "%s/gmail: initial sync by %s from historyId %s", self.account, method, state.history
        )
        return state

    # -- initial sync ------------------------------------------------------------------

    def _list(
        self, method: str, label: str | None, page: str | None
    ) -> tuple[list[tuple[str, str]], str | None]:
        """One list page as (id, threadId) pairs (thread ids twice in threads mode)."""
        kwargs: dict[str, Any] = {"userId": "me", "maxResults": PAGE}
        if label:
            kwargs["labelIds"] = [label]
        if page:
            kwargs["pageToken"] = page
        if method == "threads":
            response = self._call(
                self._users.threads().list(fields="nextPageToken,threads/id", **kwargs),
                "threads.list",
            )
            pairs = [(t["id"], t["id"]) for t in response.get("threads") or []]
        else:
            response = self._call(
                self._users.messages().list(fields="nextPageToken,messages(id,threadId)", **kwargs),
                "messages.list",
            )
            pairs = [(m["id"], m.get("threadId", "")) for m in response.get("messages") or []]
        return pairs, response.get("nextPageToken")

    def _initial(self, state: MailCursor) -> Iterator[SyncBatch]:
        known_file = self._known(state)
        skip: IdSet | None = None
        handed_over: set[str] = set()
        while state.phase in ("sent", "rest"):
            if self._out_of_time():
                log.info("%s/gmail: time budget spent; the next run continues", self.account)
                return
            if state.phase == "rest" and skip is None:
                skip = known_file.threads() if state.method == "threads" else known_file.messages()
                handed_over = set(state.carry)  # SENT ids carried into this phase
            label = "SENT" if state.phase == "sent" else None
            try:
                pairs, next_page = self._list(state.method, label, state.page)
            except HttpError as exc:
                if exc.resp.status != 400 or state.page is None:
                    raise
                # A page token from an earlier run that Google no longer accepts: list again;
                # what was stored is skipped, so this costs list calls only.
                log.warning("%s/gmail: stale page token; listing this phase again", self.account)
                state = state.but(page=None)
                continue
            carried = set(state.carry) | handed_over
            wanted = state.carry + [
                p[0] for p in pairs if (skip is None or p[0] not in skip) and p[0] not in carried
            ]
            last_page = not next_page
            if last_page and state.phase == "rest":
                carry: list[str] = []
            else:  # keep the tail that would make a partial batch for the next page
                cut = len(wanted) // self.fetcher.size * self.fetcher.size
                wanted, carry = wanted[:cut], wanted[cut:]
            messages, reached_end = self._fetch_window(wanted, state.method, state.window_start)
            if reached_end:
                carry = []  # listed after the window's edge: older still
            if reached_end or last_page:
                state = state.but(
                    phase="rest" if state.phase == "sent" else "live", page=None, carry=carry
                )
                skip = None
            else:
                state = state.but(page=next_page, carry=carry)
            yield SyncBatch(upserts=list(messages), cursor=state.dump())
            known_file.append((m.source_id, m.thread_id) for m in messages)

    def _fetch_window(
        self, ids: list[str], method: str, window_start: int
    ) -> tuple[list[MessageMeta], bool]:
        """Fetch ``ids`` in list order, a wave of concurrent batches at a time; stop (True)
        once a whole batch is older than the window."""
        out: list[MessageMeta] = []
        wave = self.fetcher.size * self.fetcher.in_flight
        for start in range(0, len(ids), wave):
            chunk_ids = ids[start : start + wave]
            fetched = self._fetch(chunk_ids, method)
            for i in range(0, len(chunk_ids), self.fetcher.size):
                batch_ids = chunk_ids[i : i + self.fetcher.size]
                newest = 0
                for item_id in batch_ids:
                    for raw in _messages_of(fetched.get(item_id), method):
                        stamp = int(raw.get("internalDate", 0)) // 1000
                        newest = max(newest, stamp)
                        if stamp >= window_start and not SKIP_LABELS & set(
                            raw.get("labelIds") or ()
                        ):
                            meta = message_meta(raw, self.owner, self.subjects)
                            if meta is not None:
                                out.append(meta)
                if any(item_id in fetched for item_id in batch_ids) and newest < window_start:
                    return out, True
        return out, False

    def _fetch(self, ids: list[str], method: str) -> dict[str, dict[str, Any]]:
        if not ids:
            return {}
        resource = self._users.threads() if method == "threads" else self._users.messages()
        fields = THREAD_FIELDS if method == "threads" else MESSAGE_FIELDS
        headers = list(METADATA_HEADERS)

        def make(item_id: str) -> Any:
            return resource.get(
                userId="me", id=item_id, format="metadata", metadataHeaders=headers, fields=fields
            )

        cost = self.costs["threads.get" if method == "threads" else "messages.get"]
        return self.fetcher.fetch(ids, make, cost)

    # -- increments --------------------------------------------------------------------

    def _incremental(self, state: MailCursor) -> Iterator[SyncBatch]:
        added: dict[str, str] = {}
        deleted: set[str] = set()
        page: str | None = None
        latest = state.history
        while True:
            kwargs: dict[str, Any] = {
                "userId": "me",
                "startHistoryId": state.history,
                "maxResults": PAGE,
                "historyTypes": ["messageAdded", "messageDeleted"],
                "fields": "history(messagesAdded/message(id,threadId,labelIds),"
                "messagesDeleted/message/id),nextPageToken,historyId",
            }
            if page:
                kwargs["pageToken"] = page
            try:
                response = self._call(self._users.history().list(**kwargs), "history.list")
            except HttpError as exc:
                if exc.resp.status == 404:
                    log.warning(
                        "%s/gmail: historyId %s expired; resyncing ids", self.account, state.history
                    )
                    yield from self._resync(state.but(phase="resync", page=None))
                    return
                raise
            for record in response.get("history") or []:
                for entry in record.get("messagesAdded") or []:
                    message = entry.get("message") or {}
                    if message.get("id") and not SKIP_LABELS & set(message.get("labelIds") or ()):
                        added[message["id"]] = message.get("threadId", "")
                        deleted.discard(message["id"])
                for entry in record.get("messagesDeleted") or []:
                    message_id = (entry.get("message") or {}).get("id")
                    if message_id:
                        deleted.add(message_id)
                        added.pop(message_id, None)
            latest = str(response.get("historyId") or latest)
            page = response.get("nextPageToken")
            if not page:
                break
        yield from self._apply_changes(state, added, deleted, state.but(history=latest))

    def _apply_changes(
        self, state: MailCursor, added: dict[str, str], deleted: set[str], final: MailCursor
    ) -> Iterator[SyncBatch]:
        known_file = self._known(state)
        if added:
            known = known_file.messages()
            ids = [i for i in added if i not in known]
            for start in range(0, len(ids), PAGE):
                fetched = self._fetch(ids[start : start + PAGE], "messages")
                messages = [
                    m
                    for raw in fetched.values()
                    if (m := message_meta(raw, self.owner, self.subjects)) is not None
                ]
                yield SyncBatch(upserts=list[Record](messages), cursor=state.dump())
                known_file.append((m.source_id, m.thread_id) for m in messages)
        yield SyncBatch(
            deletions=[RecordKey(RecordKind.MESSAGE, i) for i in sorted(deleted)],
            cursor=final.dump(),
        )

    # -- resync after a 404 --------------------------------------------------------------

    def _resync(self, state: MailCursor) -> Iterator[SyncBatch]:
        """List every id again (5 units per 500), fetch only unknown ones, delete the gone."""
        history = str(self._profile()["historyId"])
        known_file = self._known(state)
        known = known_file.messages()
        window_start = self._window_start()
        listed: list[tuple[str, str]] = []
        page: str | None = None
        complete = True
        while True:
            if self._out_of_time():
                return  # the next run lists again; what was fetched is known by then
            pairs, page = self._list("messages", None, page)
            unknown = [m for m, _ in pairs if m not in known]
            messages, reached_end = self._fetch_window(unknown, "messages", window_start)
            fetched = {m.source_id for m in messages}
            listed.extend(p for p in pairs if p[0] in known or p[0] in fetched)
            if messages:
                yield SyncBatch(upserts=list(messages), cursor=state.dump())
                known_file.append((m.source_id, m.thread_id) for m in messages)
            if reached_end:
                complete = False
            if reached_end or not page:
                break
        still_there = IdSet(m for m, _ in listed)
        gone = [m for m in known if m not in still_there] if complete else []
        final = state.but(phase="live", history=history, page=None)
        yield SyncBatch(
            deletions=[RecordKey(RecordKind.MESSAGE, m) for m in gone], cursor=final.dump()
        )
        known_file.rewrite(listed)


def _messages_of(item: dict[str, Any] | None, method: str) -> list[dict[str, Any]]:
    if item is None:
        return []
    if method == "threads":
        return list(item.get("messages") or [])
    return [item]
