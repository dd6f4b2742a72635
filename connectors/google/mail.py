"""Gmail header metadata: initial sync near the quota floor, then history increments.

Initial sync (Gmail sync guide; docs/GOOGLE.md): getProfile gives the
historyId to continue from *before* anything is listed; messages.list (500 ids
a page) then batched messages.get ``format=metadata`` with only the headers
MessageMeta needs. The newest SENT mail is listed and fetched first, back to
``sent_first_days`` (default 180: the stretch the digest weighs most, see
docs/GOOGLE.md "A first digest early"), so a useful first digest is possible
after a small part of the sync; Gmail cannot list "all but SENT", so those
pages are listed twice, and they are capped at ``sent_first_share`` (default
3%) of the sync's request floor
(:func:`connectors.google.mail_cursor.sent_page_budget`). Every batch is
committed with its cursor, so a digest can run at any point of the sync.
``gmail.metadata`` forbids ``q``, so the date window is applied by stopping
once a fetched chunk is entirely older than it (lists come newest first).
When the mailbox's mean thread length L makes it cheaper (threads.get costs
2/L of messages.get per message; docs/GOOGLE.md), threads are listed and
fetched instead; getProfile's messagesTotal / threadsTotal measures L for free.

Increments: history.list (messageAdded, messageDeleted, and labelAdded /
labelRemoved, since trashing or marking spam is a TRASH/SPAM label change,
not a deletion) from the stored historyId: one request when nothing changed.
A 404 means the historyId expired; we then list ids (cheap) and fetch only
the unknown ones, and delete stored messages that are gone. State: the cursor
(:mod:`.mail_cursor`) and the known message ids in keyed connector state
(:mod:`.known_ids`), both committed with each batch.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Generator, Iterator
from datetime import datetime, timedelta
from typing import Any

from googleapiclient.errors import HttpError
from peerpulse.connectors.base import stage_progress
from peerpulse.connectors.google.batch import BatchFetcher
from peerpulse.connectors.google.known_ids import KnownIds, remove_side_files
from peerpulse.connectors.google.mail_cursor import (
    LIST_PAGE,
    MailCursor,
    new_generation,
    progress,
    sent_page_budget,
)
from peerpulse.connectors.google.normalize import (
    MESSAGE_FIELDS,
    METADATA_HEADERS,
    THREAD_FIELDS,
    message_meta,
)
from peerpulse.connectors.google.pacing import Pacer, QuotaWait, retry_hint
from peerpulse.connectors.google.paging import PageTokens
from peerpulse.connectors.google.services import GoogleApi, run_request
from peerpulse.connectors.records import (
    MailCommand,
    MessageMeta,
    Record,
    RecordKey,
    RecordKind,
    SyncBatch,
)
from peerpulse.connectors.state import StagedState

log = logging.getLogger(__name__)

PAGE = LIST_PAGE
SKIP_LABELS = frozenset({"DRAFT", "SPAM", "TRASH"})
SENT_SHARE = 0.03  # SENT-first pages: at most 3% over the floor, so the sync stays within 5%
SENT_DAYS = 180  # SENT-first horizon: two half-lives of tie strength, the reciprocity window
DEFER_LIMIT = 3  # a batch part failed this often is retried alone, with back-off
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
    _staged: StagedState  # this run's keyed state, set by ``sync``

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
        state: Callable[[], StagedState],
        sent_share: float = SENT_SHARE,
        sent_days: int = SENT_DAYS,
    ) -> None:
        self.api, self.pacer, self.fetcher = api, pacer, fetcher
        self.account, self.owner, self.subjects = account, owner, subjects
        self.state_dir = state_dir
        self.window_past_days = window_past_days
        self.now = now
        self.deadline = deadline
        self.method_setting = method
        self.costs = costs
        self.sent_share = sent_share
        self.sent_days = sent_days
        self.state = state  # this source's keyed connector state for one run

    # -- plumbing --------------------------------------------------------------------

    @property
    def _users(self) -> Any:
        return self.api.gmail.users()

    def _call(self, request: Any, method: str) -> Any:
        return run_request(self.api, self.pacer, request, self.costs[method], self.account)

    def _window_start(self) -> int:
        return int((self.now() - timedelta(days=self.window_past_days)).timestamp())

    def _sent_since(self) -> int:
        return int((self.now() - timedelta(days=self.sent_days)).timestamp())

    def _batch_size(self, method: str) -> int:
        """Items per batch envelope for ``method`` (batch.py sizes batches in quota units)."""
        cost = self.costs["threads.get" if method == "threads" else "messages.get"]
        return self.fetcher.size_for(cost)

    def _out_of_time(self) -> bool:
        return time.monotonic() >= self.deadline

    def _profile(self) -> dict[str, Any]:
        request = self._users.getProfile(userId="me", fields="historyId,messagesTotal,threadsTotal")
        return self._call(request, "getProfile")

    # -- entry -----------------------------------------------------------------------

    def sync(self, cursor: str | None) -> Iterator[SyncBatch]:
        staged = self._staged = self.state()
        for path in remove_side_files(self.state_dir, self.account):
            log.info("%s/gmail: removed version 1's known-ids file %s", self.account, path)
        state = MailCursor.load(cursor)
        afresh = state is None  # no v2 cursor: a new generation of known ids
        if state is None and (state := MailCursor.upgraded(cursor)) is not None:
            log.info("%s/gmail: cursor upgraded; listing every id once to rebuild the "
                     "known ids", self.account)
        if state is None:
            state = self._start()
        known = KnownIds(staged, state.gen)
        if afresh:
            known.drop_other_generations()  # committed with the first batch
        try:
            if state.phase in ("sent", "rest"):
                final = yield from self._initial(state, known)
            elif state.phase == "resync":
                final = yield from self._resync(state, known)
            else:
                final = yield from self._incremental(state, known)
            if final is not None and final.adopt and final.phase == "live":
                yield from self._adopt(final, known)
        except QuotaWait as exc:
            # Every batch handed over carried its cursor: stopping here loses nothing, and
            # sleeping into Google's window would only hold the cron job (issue 15, item 3).
            log.warning("%s/gmail: %s; the next run continues", self.account, exc)

    def _start(self) -> MailCursor:
        profile = self._profile()
        method = choose_method(
            self.method_setting,
            int(profile.get("messagesTotal", 0)),
            int(profile.get("threadsTotal", 0)),
            self.costs,
        )
        items = int(profile.get("threadsTotal" if method == "threads" else "messagesTotal", 0))
        sent_pages = sent_page_budget(items, self.sent_share)
        state = MailCursor(
            phase="sent" if sent_pages > 0 else "rest",
            history=str(profile["historyId"]),
            window_start=self._window_start(),
            method=method,
            gen=new_generation(),
            sent_pages=sent_pages,
            sent_since=self._sent_since(),
            total=items,
        )
        what = "%s/gmail: initial sync by %s from historyId %s, SENT first for <= %d pages"
        log.info(what, self.account, method, state.history, sent_pages)
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

    def _initial(
        self, state: MailCursor, known: KnownIds
    ) -> Generator[SyncBatch, None, MailCursor | None]:
        handed_over: set[str] = set()  # SENT ids carried over, listed again by the full listing

        def listing(phase: str, start: str | None = None) -> PageTokens:
            return PageTokens(f"{self.account}/gmail {state.method}.list ({phase})", start)

        tokens = {phase: listing(phase, state.page if state.phase == phase else None)
                  for phase in ("sent", "rest")}
        while state.phase in ("sent", "rest"):
            if self._out_of_time():
                log.info("%s/gmail: time budget spent; the next run continues", self.account)
                return None
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
                tokens[state.phase] = listing(state.phase)
                continue
            next_page = tokens[state.phase].check(next_page)
            listed = [p[0] for p in pairs]
            skip: set[str] = set()
            if state.phase == "rest":  # what the SENT phase stored (one page's lookup)
                threads = state.method == "threads"
                skip = known.known_threads(listed) if threads else known.known_messages(listed)
            carried = set(state.carry) | handed_over
            wanted = state.carry + [i for i in listed if i not in skip and i not in carried]
            sent_pages = state.sent_pages
            if state.phase == "sent" and sent_pages is not None:
                sent_pages -= 1
            budget_spent = state.phase == "sent" and sent_pages is not None and sent_pages <= 0
            phase_done = not next_page or budget_spent
            if phase_done and state.phase == "rest":
                carry: list[str] = []
            else:  # keep the tail that would make a partial batch for the next page
                size = self._batch_size(state.method)
                cut = len(wanted) // size * size
                wanted, carry = wanted[:cut], wanted[cut:]
            # The SENT phase stops at its horizon; older mail (still in the window) is kept
            # from the batch that crossed it, and the full listing fetches the rest.
            stop = max(state.window_start, state.sent_since) if label else state.window_start
            messages, reached_end, failed = self._fetch_window(
                wanted, state.method, state.window_start, stop,
                leftover_ok=not (phase_done and state.phase == "rest"),
            )
            # Past the window's edge the tail is older still; else failed parts ride along.
            carry = [] if reached_end else failed + carry
            oldest = _listing_position(messages, state.method == "threads", state.reached)
            state = state.but(fetched=state.fetched + len(messages), reached=oldest)
            if reached_end or phase_done:
                if state.phase == "sent":
                    handed_over = set(carry)
                state = state.but(
                    phase="rest" if state.phase == "sent" else "live",
                    page=None,
                    carry=carry,
                    sent_pages=0,
                    reached=0,  # the full listing starts again from the newest mail
                )
            else:
                state = state.but(page=next_page, carry=carry, sent_pages=sent_pages)
            known.add(((m.source_id, m.thread_id) for m in messages),
                      threads=state.method == "threads")
            # What the digest says while history loads travels with the batch it describes.
            stage_progress(self._staged, progress(state, int(self.now().timestamp())))
            yield SyncBatch(upserts=list(messages), cursor=state.dump(), state=known.changes())
        return state

    def _fetch_window(
        self,
        ids: list[str],
        method: str,
        window_start: int,
        stop_before: int | None = None,
        *,
        leftover_ok: bool = False,
    ) -> tuple[list[MessageMeta | MailCommand], bool, list[str]]:
        """Fetch ``ids`` in list order, a wave of concurrent full batches at a time; keep
        what is in the window; stop (True) once a whole batch is older than ``stop_before``
        (default: the window's start).

        A part that failed inside a batch joins a later wave (once the time Google named
        has passed) instead of a batch of its own; with ``leftover_ok`` the ones still
        failed when ``ids`` run out, and the ids too few for a full batch next to them,
        are handed back (the caller carries them in the cursor into the next page's
        batches), else they are fetched with retries here.
        A part that failed ``DEFER_LIMIT`` times is fetched with retries at once.
        The owner's digest action links come back as MailCommand records, kept apart
        from messages downstream.
        """
        stop_before = window_start if stop_before is None else stop_before
        out: list[MessageMeta | MailCommand] = []
        size = self._batch_size(method)
        wave = size * self.fetcher.in_flight
        queue = deque(ids)
        deferred: dict[str, tuple[float, int]] = {}  # id -> (not before, failures)
        attempt = 0

        def keep(fetched: dict[str, dict[str, Any]], batch_ids: list[str]) -> int:
            newest = 0
            for item_id in batch_ids:
                for raw in _messages_of(fetched.get(item_id), method):
                    stamp = int(raw.get("internalDate", 0)) // 1000
                    newest = max(newest, stamp)
                    if stamp >= window_start and not SKIP_LABELS & set(raw.get("labelIds") or ()):
                        meta = message_meta(raw, self.owner, self.subjects)
                        if meta is not None:
                            out.append(meta)
            return newest

        def flush(item_ids: list[str]) -> None:
            for item_id in item_ids:
                deferred.pop(item_id, None)
            if item_ids:
                keep(self._fetch(item_ids, method), item_ids)

        while queue or deferred:
            if not queue:
                if leftover_ok:
                    return out, False, list(deferred)
                flush(list(deferred))
                break
            now = time.monotonic()
            ready = [i for i, (when, _) in deferred.items() if when <= now][:wave]
            total = len(ready) + min(len(queue), wave - len(ready))
            if leftover_ok:  # full batches only; a partial one waits for the next page
                total = total // size * size
                if not total:
                    return out, False, list(deferred) + list(queue)
            ready = ready[:total]
            take = ready + [queue.popleft() for _ in range(total - len(ready))]
            fetched, failed = self.fetcher.fetch_once(take, self._maker(method), self._cost(method))
            for item_id in ready:
                if item_id not in failed:
                    deferred.pop(item_id)
            for item_id, exc in failed.items():
                count = deferred.get(item_id, (0.0, 0))[1] + 1
                deferred[item_id] = (now + (retry_hint(exc) or 0.0), count)
            if failed:
                attempt = self.fetcher.settle(failed, bool(fetched), attempt)
                flush([i for i, (_, count) in deferred.items() if count >= DEFER_LIMIT])
            done = False
            for i in range(0, len(take), size):
                batch_ids = take[i : i + size]
                newest = keep(fetched, batch_ids)
                if any(item_id in fetched for item_id in batch_ids) and newest < stop_before:
                    done = True
                    break
            if done:
                flush(list(deferred))  # failed parts may be in the window: never dropped
                return out, True, []
        return out, False, []

    def _maker(self, method: str) -> Callable[[str], Any]:
        resource = self._users.threads() if method == "threads" else self._users.messages()
        fields = THREAD_FIELDS if method == "threads" else MESSAGE_FIELDS
        headers = list(METADATA_HEADERS)

        def make(item_id: str) -> Any:
            return resource.get(
                userId="me", id=item_id, format="metadata", metadataHeaders=headers, fields=fields
            )

        return make

    def _cost(self, method: str) -> int:
        return self.costs["threads.get" if method == "threads" else "messages.get"]

    def _fetch(self, ids: list[str], method: str) -> dict[str, dict[str, Any]]:
        if not ids:
            return {}
        return self.fetcher.fetch(ids, self._maker(method), self._cost(method))

    # -- increments --------------------------------------------------------------------

    def _incremental(
        self, state: MailCursor, known: KnownIds
    ) -> Generator[SyncBatch, None, MailCursor | None]:
        added: dict[str, str] = {}
        deleted: set[str] = set()
        page: str | None = None
        latest = state.history
        tokens = PageTokens(f"{self.account}/gmail history.list")
        while True:
            kwargs: dict[str, Any] = {
                "userId": "me",
                "startHistoryId": state.history,
                "maxResults": PAGE,
                # Trashing or marking spam is a label change, not messageDeleted (history
                # reference: historyTypes labelAdded/labelRemoved): ask for those too.
                "historyTypes": ["messageAdded", "messageDeleted", "labelAdded", "labelRemoved"],
                "fields": "history(messagesAdded/message(id,threadId,labelIds),"
                "messagesDeleted/message/id,labelsAdded(message(id,threadId,labelIds),labelIds),"
                "labelsRemoved(message(id,threadId,labelIds),labelIds)),nextPageToken,historyId",
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
                    return (yield from self._resync(state.but(phase="resync"), known))
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
                for entry in record.get("labelsAdded") or []:  # into TRASH or SPAM: gone
                    message_id = (entry.get("message") or {}).get("id")
                    if message_id and SKIP_LABELS & set(entry.get("labelIds") or ()):
                        deleted.add(message_id)
                        added.pop(message_id, None)
                for entry in record.get("labelsRemoved") or []:  # out of TRASH or SPAM: back
                    message = entry.get("message") or {}
                    still = SKIP_LABELS & set(message.get("labelIds") or ())
                    if message.get("id") and not still and (
                        SKIP_LABELS & set(entry.get("labelIds") or ())
                    ):
                        added[message["id"]] = message.get("threadId", "")
                        deleted.discard(message["id"])
            latest = str(response.get("historyId") or latest)
            page = tokens.next(response)
            if not page:
                break
        final = state.but(history=latest)
        yield from self._apply_changes(state, added, deleted, final, known)
        return final

    def _apply_changes(
        self,
        state: MailCursor,
        added: dict[str, str],
        deleted: set[str],
        final: MailCursor,
        known: KnownIds,
    ) -> Iterator[SyncBatch]:
        ids = list(added)
        for start in range(0, len(ids), PAGE):
            page = ids[start : start + PAGE]
            have = known.known_messages(page)
            fetched = self._fetch([i for i in page if i not in have], "messages")
            messages = [
                m
                for raw in fetched.values()
                if (m := message_meta(raw, self.owner, self.subjects)) is not None
            ]
            if messages:
                known.add((m.source_id, m.thread_id) for m in messages)
                yield SyncBatch(
                    upserts=list[Record](messages), cursor=state.dump(), state=known.changes()
                )
        known.forget(sorted(deleted))
        yield SyncBatch(
            deletions=[RecordKey(RecordKind.MESSAGE, i) for i in sorted(deleted)],
            cursor=final.dump(),
            state=known.changes(),
        )

    # -- the version-1 upgrade: every id into the known ids, no gets ---------------------

    def _adopt(self, state: MailCursor, known: KnownIds) -> Iterator[SyncBatch]:
        """List every message id once (5 units per 500) and take it as known.

        Runs after the run's increments, so a message added meanwhile and not yet
        stored is adopted, not stored: adopted ids are still fetched when an
        increment or a resync asks for them, and only count for deletions. A page
        per batch, resumed from ``page`` when the time budget runs out.
        """
        tokens = PageTokens(f"{self.account}/gmail messages.list (adopt)", state.page)
        while True:
            if self._out_of_time():
                return
            try:
                pairs, next_page = self._list("messages", None, state.page)
            except HttpError as exc:
                if exc.resp.status != 400 or state.page is None:
                    raise
                state = state.but(page=None)  # a stale page token: list again
                tokens = PageTokens(f"{self.account}/gmail messages.list (adopt)")
                continue
            next_page = tokens.check(next_page)
            known.adopt(pairs)
            state = state.but(page=next_page) if next_page else state.but(page=None, adopt=False)
            yield SyncBatch(cursor=state.dump(), state=known.changes())
            if not next_page:
                log.info("%s/gmail: known ids rebuilt after the upgrade", self.account)
                return

    # -- resync after a 404 --------------------------------------------------------------

    def _resync(
        self, state: MailCursor, known: KnownIds
    ) -> Generator[SyncBatch, None, MailCursor | None]:
        """List every id again (5 units per 500), fetch only unknown ones, delete the gone.

        The sweep marks listed ids in the known ids page by page (a batch per page,
        so memory stays flat in the mailbox size); what was never marked is gone
        from Gmail. Each run's sweep has its own token, so marks left by a killed
        run never count.
        """
        history = str(self._profile()["historyId"])
        window_start = self._window_start()
        sweep = new_generation()
        page: str | None = None
        complete = True
        tokens = PageTokens(f"{self.account}/gmail messages.list (resync)")
        while True:
            if self._out_of_time():
                return None  # the next run lists again; what was fetched is known by then
            pairs, page = self._list("messages", None, page)
            page = tokens.check(page)
            listed = [m for m, _ in pairs]
            found = known.lookup(listed)
            known.mark_seen(found, sweep)
            unknown = [m for m in listed if not found.get(m)]  # adopted ones are fetched
            messages, reached_end, _ = self._fetch_window(unknown, "messages", window_start)
            known.add(((m.source_id, m.thread_id) for m in messages), sweep=sweep)
            yield SyncBatch(upserts=list(messages), cursor=state.dump(), state=known.changes())
            if reached_end:
                complete = False  # older ids were not listed: nothing can be called gone
            if reached_end or not page:
                break
        gone = known.unseen(sweep) if complete else []
        known.forget(gone)
        final = state.but(phase="live", history=history)
        yield SyncBatch(
            deletions=[RecordKey(RecordKind.MESSAGE, m) for m in gone],
            cursor=final.dump(),
            state=known.changes(),
        )
        return final


def _listing_position(
    messages: list[MessageMeta | MailCommand], threads: bool, reached: int
) -> int:
    """How far back a newest-first listing has stored everything (epoch seconds; 0: not
    yet), after ``messages`` joined what reached ``reached``.

    Lists order items by their newest message: in threads mode a thread listed today
    may begin a year ago, so a thread counts by its newest message, not its oldest
    (the oldest would claim a year is complete after one batch)."""
    newest: dict[str, int] = {}
    for m in messages:
        if isinstance(m, MessageMeta):
            key = (m.thread_id or m.source_id) if threads else m.source_id
            newest[key] = max(newest.get(key, 0), int(m.timestamp.timestamp()))
    stamps = list(newest.values()) + ([reached] if reached else [])
    return min(stamps, default=0)


def _messages_of(item: dict[str, Any] | None, method: str) -> list[dict[str, Any]]:
    if item is None:
        return []
    if method == "threads":
        return list(item.get("messages") or [])
    return [item]
