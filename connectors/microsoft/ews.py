"""Exchange Server on premises through EWS (exchangelib): calendar view and mail metadata.

Only for on-premises servers: the settings model refuses Exchange Online
endpoints (EWS there is being retired; use the Graph connector). The
connection pins the schema version (no version-guessing request), uses
exchangelib's ``FaultTolerance`` retry policy, which honours the server's
``BackOffMilliseconds`` and Retry-After up to ``max_retry_wait_seconds``, and
at most ``max_connections`` sessions to the server.

``calendar``: a CalendarView over the window each run, ids and change keys
only (FindItem; the server expands recurrences), then GetItem with only the
fields the records need for the items whose change key differs from the one
kept in connector state; events that left the view are deleted. A view that
comes back empty where many events were stored is refused.

``mail``: SyncFolderItems per folder (Sent Items first), driven page by page
so that each page's ``SyncState`` is committed with its records in keyed
connector state (exchangelib's ``Folder.sync_items`` only hands the state out
at the end). Pages are id-only; the changed messages are then fetched with
GetItem restricted to :data:`~connectors.microsoft.ews_normalize.MESSAGE_FIELDS`
(address fields cannot come with the sync page). A deleted item is kept, as
in the Graph connector: the exchange happened either way. An invalid sync
state lists the folder again.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import requests
from exchangelib import (
    BASIC,
    DELEGATE,
    NTLM,
    UTC,
    Account,
    Build,
    Configuration,
    Credentials,
    EWSDateTime,
    FaultTolerance,
    Version,
)
from exchangelib import errors as ews_errors
from exchangelib.services import SyncFolderItems
from peerpulse.connectors.base import (
    ConnectorError,
    SourceContext,
    SourceUnavailable,
    SyncProgress,
    folders_progress,
    stage_progress,
)
from peerpulse.connectors.microsoft.auth import resolve_secret
from peerpulse.connectors.microsoft.ews_normalize import (
    CALENDAR_FIELDS,
    MESSAGE_FIELDS,
    event_instance,
    message_meta,
)
from peerpulse.connectors.microsoft.normalize import delivered_command_copy
from peerpulse.connectors.microsoft.settings import ExchangeSettings
from peerpulse.connectors.records import (
    EventInstance,
    MailCommand,
    MessageMeta,
    RecordKey,
    RecordKind,
    SyncBatch,
)
from peerpulse.connectors.state import StagedState

log = logging.getLogger(__name__)

EMPTY_GUARD = 10
BATCH = 500
CALL_ATTEMPTS = 4  # a dropped connection or read timeout is tried this often in all
LISTINGS = 3  # listings of one folder per run when sync states are rejected
EVENT_KEY = "event/"
VERSIONS = {"Exchange2013": Build(15, 0), "Exchange2016": Build(15, 1)}
SENT_FOLDERS = {"sent"}
_SYNC_STATE_LOST = {"ErrorInvalidSyncStateData", "ErrorSyncFolderNotFound"}


class EmptyCalendarRefused(ConnectorError):
    """A calendar view came back empty where many events were stored; nothing was deleted."""


class LoginAwareFaultTolerance(FaultTolerance):
    """exchangelib's fault-tolerant policy, except that a 401 before any request of this
    connection succeeded is a login failure, not throttling.

    ``FaultTolerance`` retries every 401 as if the server were busy (EWS sometimes
    answers 401 to shed load), so a wrong password would back off for
    ``max_wait`` seconds and then be reported as throttling.
    """

    def __init__(self, max_wait: float) -> None:
        super().__init__(max_wait=max_wait)
        self.logged_in = False

    def raise_response_errors(self, response: Any) -> None:
        if response.status_code == 401 and not self.logged_in:
            raise ews_errors.UnauthorizedError(f"Invalid credentials for {response.url}")
        super().raise_response_errors(response)
        self.logged_in = True


def endpoint(server: str) -> str:
    if server.startswith("https://"):
        return server
    return f"https://{server}/EWS/Exchange.asmx"


def open_account(context: SourceContext, settings: ExchangeSettings) -> Account:
    """The exchangelib Account of the owner's mailbox; no request is sent yet."""
    if len(context.owner_addresses) != 1 and not settings.mailbox:
        raise SourceUnavailable(
            f"account {context.account} has aliases; say which mailbox to read",
            hint='set mailbox = "user@example.com" in the account\'s [accounts.source]',
        )
    mailbox = settings.mailbox or next(iter(context.owner_addresses))
    password = resolve_secret(settings.password, context.base_dir)
    version = settings.version
    config = Configuration(
        service_endpoint=endpoint(settings.server),
        credentials=Credentials(settings.username, password),
        auth_type=BASIC if settings.auth == "basic" else NTLM,
        version=Version(build=VERSIONS[version], api_version=version),
        retry_policy=LoginAwareFaultTolerance(settings.max_retry_wait_seconds),
        max_connections=settings.max_connections,
    )
    return Account(
        primary_smtp_address=mailbox,
        config=config,
        autodiscover=False,
        access_type=DELEGATE,
        default_timezone=UTC,
    )


def _calling(what: str, account: str, call: Callable[[], Any]) -> Any:
    """Run one exchangelib call; its failures become connector errors a run can report.

    A dropped connection or a read timeout is tried again (``CALL_ATTEMPTS`` in all,
    with back-off): exchangelib re-raises them at once as ``ErrorTimeoutExpired``
    when its session pool is down to one connection, so one reset ended the whole
    run (found by ``make chaos-microsoft``). Every call here only reads, and a
    SyncFolderItems page repeated with the same sync state returns the same changes.
    ``ErrorServerBusy``/``RateLimitError`` reach us only after exchangelib waited as
    long as ``max_retry_wait_seconds`` allows: the next run continues.
    """
    for attempt in range(CALL_ATTEMPTS):
        try:
            return call()
        except ews_errors.UnauthorizedError:
            raise SourceUnavailable(
                f"the Exchange server refused account {account}'s credentials",
                hint="check username and the password reference in the account's "
                "[accounts.source]",
            ) from None
        except ews_errors.RateLimitError as exc:
            raise SourceUnavailable(
                f"the Exchange server asked account {account} to back off ({exc}); "
                "the next run continues",
            ) from None
        except ews_errors.ErrorServerBusy as exc:
            raise SourceUnavailable(f"cannot read {what} from the Exchange server: {exc}") from None
        except (ews_errors.TransportError, requests.RequestException,
                ews_errors.MalformedResponseError, ews_errors.ErrorTimeoutExpired) as exc:
            if attempt == CALL_ATTEMPTS - 1:
                raise SourceUnavailable(
                    f"cannot read {what} from the Exchange server: {exc}"
                ) from None
            wait = min(30.0, 2.0**attempt) * random.uniform(0.5, 1.0)
            log.info("%s: reading %s failed (%s); trying again in %.1f s",
                     account, what, type(exc).__name__, wait)
            time.sleep(wait)
    raise AssertionError("not reached")


class EwsCalendarSource:
    """The calendar view, fetching only what changed since the last run.

    EWS has no incremental sync for a calendar view, but the view's ids come
    with change keys: FindItem lists ``(id, changekey)`` over the window, the
    keyed state remembers the change key stored for each event, GetItem fetches
    only new or changed items, and events no longer in the view are deleted. A
    run with nothing new costs one FindItem (plus the folder lookup).
    """

    name = "calendar"

    def __init__(
        self,
        account: Account,
        context: SourceContext,
        settings: ExchangeSettings,
        state: Callable[[], StagedState],
    ) -> None:
        self.account, self.context = account, context
        self._state_factory = state
        self._state: StagedState | None = None
        self.past = timedelta(days=settings.window_past_days)
        self.future = timedelta(days=settings.window_future_days)

    @property
    def state(self) -> StagedState:
        if self._state is None:
            self._state = self._state_factory()
        return self._state

    def _fetch(self, ids: list[tuple[str, str]]) -> list[Any]:
        return list(self.account.fetch(ids=ids, only_fields=list(CALENDAR_FIELDS)))

    def sync(self, cursor: str | None) -> Iterator[SyncBatch]:
        now = self.context.current_time()
        start = EWSDateTime.from_datetime(now - self.past).astimezone(UTC)
        end = EWSDateTime.from_datetime(now + self.future).astimezone(UTC)
        name = self.context.account
        stored = {} if cursor is None else dict(self.state.iter_prefix(EVENT_KEY))

        def listing() -> list[tuple[str, str]]:
            view = self.account.calendar.view(start=start, end=end).only("id", "changekey")
            return [(str(i.id), str(i.changekey)) for i in view if getattr(i, "id", None)]

        listed = _calling("the calendar", name, listing)
        if not listed and len(stored) >= EMPTY_GUARD:
            raise EmptyCalendarRefused(
                f"the calendar view came back empty where {len(stored)} events were stored; "
                "nothing was deleted"
            )
        seen = {EVENT_KEY + item_id for item_id, _ in listed}
        changed = [(i, ck) for i, ck in listed if stored.get(EVENT_KEY + i) != ck]
        cursor_out = json.dumps({"v": 2})
        for at in range(0, len(changed), BATCH):
            chunk = changed[at : at + BATCH]
            items: list[Any] = _calling("calendar items", name, partial(self._fetch, chunk))
            events: list[EventInstance] = []
            deletions: list[RecordKey] = []
            for (item_id, changekey), item in zip(chunk, items, strict=True):
                instance = None if isinstance(item, Exception) else event_instance(
                    item, account_zone=self.context.timezone, subjects=self.context.subjects
                )
                if instance is None:  # cancelled, a series master, or gone meanwhile
                    deletions.append(RecordKey(RecordKind.EVENT, item_id))
                    self.state.delete(EVENT_KEY + item_id)
                    seen.discard(EVENT_KEY + item_id)
                    continue
                events.append(instance)
                self.state.put(EVENT_KEY + item_id, changekey)
            yield SyncBatch(upserts=list(events), deletions=deletions, cursor=cursor_out,
                            state=self.state.take_changes())
        gone = sorted(k for k in stored if k not in seen)
        for key in gone:
            self.state.delete(key)
        yield SyncBatch(
            deletions=[RecordKey(RecordKind.EVENT, k.removeprefix(EVENT_KEY)) for k in gone],
            cursor=cursor_out,
            state=self.state.take_changes(),
        )


class EwsMailSource:
    name = "mail"

    def __init__(
        self,
        account: Account,
        context: SourceContext,
        settings: ExchangeSettings,
        state: Callable[[], StagedState],
    ) -> None:
        self.account, self.context = account, context
        self._state_factory = state
        self._state: StagedState | None = None
        self.folders = list(settings.mail_folders)
        self.page = settings.sync_page
        self.window = timedelta(days=settings.window_past_days)

    @property
    def state(self) -> StagedState:
        if self._state is None:
            self._state = self._state_factory()
        return self._state

    def sync(self, cursor: str | None) -> Iterator[SyncBatch]:
        self._fresh = cursor is None  # a first pass: done-markers stored before are not ours
        self._finished: set[str] = set()
        for folder in self.folders:
            key = "folder/" + folder
            start = None if cursor is None else self.state.get(key)
            # A rejected state lists the folder again, also when it was one this run's
            # own listing received (a relisting used to end the run there; chaos runs);
            # bounded, so a server that rejects every state cannot keep us listing.
            for listing in range(LISTINGS):
                try:
                    yield from self._folder(folder, key, start)
                    break
                except SyncStateRejected as exc:
                    if listing == LISTINGS - 1:
                        raise SourceUnavailable(
                            f"Exchange refused the sync of {folder}: {exc}"
                        ) from None
                    log.warning("%s/mail %s: sync state rejected (%s); listing again",
                                self.context.account, folder, exc)
                    start = None

    def _progress(self) -> SyncProgress:
        """How much history is stored (issue 15), for the digest: complete once every
        folder's first listing reached its last item (``done/<folder>``, committed with
        that page; :func:`~peerpulse.connectors.base.folders_progress`)."""
        return folders_progress(
            self.folders,
            lambda f: f in self._finished or (not self._fresh
                                              and bool(self.state.get("done/" + f))),
            self.state, fresh=self._fresh)

    def _folder(self, name: str, key: str, sync_state: str | None) -> Iterator[SyncBatch]:
        account_name = self.context.account
        folder = _calling(f"folder {name}", account_name, lambda: getattr(self.account, name))
        oldest = self.context.current_time() - self.window
        sent = name in SENT_FOLDERS
        while True:
            service = SyncFolderItems(account=self.account)
            changes = _calling(
                f"changes of {name}",
                account_name,
                partial(_sync_page, service, folder, sync_state, self.page),
            )
            wanted = [
                (item.id, item.changekey)
                for kind, item in changes
                if kind in ("create", "update") and getattr(item, "id", None)
            ]
            messages = self._fetch(name, wanted, oldest, sent)
            if service.sync_state and service.sync_state != sync_state:
                sync_state = service.sync_state
                self.state.put(key, sync_state)
            last = bool(service.includes_last_item_in_range or not changes)
            if last:
                self._finished.add(name)
                if self.state.get("done/" + name) is None:
                    self.state.put("done/" + name, "1")
            stage_progress(self.state, self._progress())
            yield SyncBatch(
                upserts=list(messages),
                cursor=json.dumps({"v": 1, "folder": name}),
                state=self.state.take_changes(),
            )
            if last:
                return

    def _fetch(
        self, name: str, ids: list[tuple[str, str]], oldest: datetime, sent: bool
    ) -> list[MessageMeta | MailCommand]:
        if not ids:
            return []
        items = _calling(
            f"messages of {name}",
            self.context.account,
            lambda: list(self.account.fetch(ids=ids, only_fields=list(MESSAGE_FIELDS))),
        )
        sent_listed = any(f in SENT_FOLDERS for f in self.folders)
        out = []
        for item in items:
            if isinstance(item, Exception):
                continue  # deleted between the sync page and the fetch
            meta = message_meta(
                item, self.context.owner_addresses, self.context.subjects, sent_folder=sent
            )
            if meta is None or meta.timestamp < oldest:
                continue
            if not delivered_command_copy(meta, sent_folder=sent, sent_listed=sent_listed):
                out.append(meta)
        return out


class SyncStateRejected(ConnectorError):
    """The server refused a folder's stored sync state (corrupt, expired or unknown)."""


def _sync_page(service: Any, folder: Any, sync_state: str | None, page: int) -> list[Any]:
    """One SyncFolderItems page of ids; a refused state becomes SyncStateRejected."""
    try:
        return list(service.call(
            folder=folder, shape="IdOnly", additional_fields=set(), sync_state=sync_state,
            ignore=None, max_changes_returned=page, sync_scope=None,
        ))
    except (ews_errors.ErrorTimeoutExpired, ews_errors.ErrorServerBusy):
        raise  # passing failures: _calling tries again or reports them (chaos runs found
        # a reset reported as "Exchange refused SyncFolderItems", ending the run)
    except ews_errors.ResponseMessageError as exc:
        if type(exc).__name__ in _SYNC_STATE_LOST:
            raise SyncStateRejected(type(exc).__name__) from None
        raise SourceUnavailable(f"Exchange refused SyncFolderItems: {exc}") from None
    except AttributeError:
        # exchangelib 5.6 reads <SyncState> before it checks ResponseClass, so an error
        # answer without one (ErrorInvalidSyncStateData) surfaces as an AttributeError.
        raise SyncStateRejected("an error answer without a sync state") from None


class ExchangeConnector:
    """Offers ``calendar`` and ``mail`` sources over EWS for one on-premises mailbox."""

    def __init__(self, context: SourceContext, settings: ExchangeSettings) -> None:
        self.context = context
        self.settings = settings
        self.account = open_account(context, settings)

    def sources(self) -> list[Any]:
        context, settings = self.context, self.settings
        found: list[Any] = []
        if settings.calendar:
            found.append(
                EwsCalendarSource(self.account, context, settings,
                                  lambda: context.source_state("calendar"))
            )
        if settings.mail:
            found.append(
                EwsMailSource(self.account, context, settings,
                              lambda: context.source_state("mail"))
            )
        return found

    def close(self) -> None:
        self.account.protocol.close()

