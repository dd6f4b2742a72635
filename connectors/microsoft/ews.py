"""Exchange Server on premises through EWS (exchangelib): calendar view and mail metadata.

Only for on-premises servers: the settings model refuses Exchange Online
endpoints (EWS there is being retired; use the Graph connector). The
connection pins the schema version (no version-guessing request), uses
exchangelib's ``FaultTolerance`` retry policy, which honours the server's
``BackOffMilliseconds`` and Retry-After up to ``max_retry_wait_seconds``, and
at most ``max_connections`` sessions to the server.

``calendar``: a CalendarView over the window each run (FindItem plus GetItem
with only the fields the records need; the server expands recurrences). A
calendar view has no incremental sync in EWS, so every run is a full round
that prunes what it did not see, refused when it comes back empty where many
events were stored.

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
import secrets
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
from peerpulse.connectors.base import ConnectorError, SourceContext, SourceUnavailable
from peerpulse.connectors.microsoft.auth import resolve_secret
from peerpulse.connectors.microsoft.ews_normalize import (
    CALENDAR_FIELDS,
    MESSAGE_FIELDS,
    event_instance,
    message_meta,
)
from peerpulse.connectors.records import EventInstance, MessageMeta, SyncBatch
from peerpulse.connectors.state import StagedState

log = logging.getLogger(__name__)

EMPTY_GUARD = 10
BATCH = 500
VERSIONS = {"Exchange2013": Build(15, 0), "Exchange2016": Build(15, 1)}
SENT_FOLDERS = {"sent"}
_SYNC_STATE_LOST = {"ErrorInvalidSyncStateData", "ErrorSyncFolderNotFound"}


class EmptyCalendarRefused(ConnectorError):
    """A calendar view came back empty where many events were stored; nothing was deleted."""


def endpoint(server: str) -> str:
    if server.startswith("https://"):
        return server
    return f"https://{server}/EWS/Exchange.asmx"


def open_account(context: SourceContext) -> Account:
    """The exchangelib Account of the owner's mailbox; no request is sent yet."""
    settings = context.settings
    if len(context.owner_addresses) != 1 and not settings.get("mailbox"):
        raise SourceUnavailable(
            f"account {context.account} has aliases; say which mailbox to read",
            hint='set mailbox = "user@example.com" in the account\'s [source]',
        )
    mailbox = str(settings.get("mailbox") or next(iter(context.owner_addresses)))
    password = resolve_secret(settings["password"], context.base_dir)
    version = str(settings.get("version") or "Exchange2016")
    config = Configuration(
        service_endpoint=endpoint(str(settings["server"])),
        credentials=Credentials(str(settings["username"]), password),
        auth_type=BASIC if settings.get("auth") == "basic" else NTLM,
        version=Version(build=VERSIONS[version], api_version=version),
        retry_policy=FaultTolerance(max_wait=float(settings.get("max_retry_wait_seconds", 300))),
        max_connections=int(settings.get("max_connections", 2)),
    )
    return Account(
        primary_smtp_address=mailbox,
        config=config,
        autodiscover=False,
        access_type=DELEGATE,
        default_timezone=UTC,
    )


def _calling(what: str, account: str, call: Callable[[], Any]) -> Any:
    """Run one exchangelib call; its failures become connector errors a run can report."""
    try:
        return call()
    except ews_errors.UnauthorizedError:
        raise SourceUnavailable(
            f"the Exchange server refused account {account}'s credentials",
            hint="check username and the password reference in the account's [source]",
        ) from None
    except ews_errors.RateLimitError as exc:
        raise SourceUnavailable(
            f"the Exchange server asked account {account} to back off ({exc}); "
            "the next run continues",
        ) from None
    except (ews_errors.TransportError, ews_errors.ErrorServerBusy, requests.RequestException,
            ews_errors.MalformedResponseError, ews_errors.ErrorTimeoutExpired) as exc:
        raise SourceUnavailable(f"cannot read {what} from the Exchange server: {exc}") from None


class EwsCalendarSource:
    name = "calendar"

    def __init__(self, account: Account, context: SourceContext) -> None:
        self.account, self.context = account, context
        settings = context.settings
        self.past = timedelta(days=int(settings.get("window_past_days", 400)))
        self.future = timedelta(days=int(settings.get("window_future_days", 60)))

    def sync(self, cursor: str | None) -> Iterator[SyncBatch]:
        previous = _count(cursor)
        now = self.context.current_time()
        start = EWSDateTime.from_datetime(now - self.past).astimezone(UTC)
        end = EWSDateTime.from_datetime(now + self.future).astimezone(UTC)
        name = self.context.account

        def view() -> list[Any]:
            calendar = self.account.calendar
            return list(calendar.view(start=start, end=end).only(*CALENDAR_FIELDS))

        items = _calling("the calendar", name, view)
        events: list[EventInstance] = []
        for item in items:
            if isinstance(item, Exception):
                continue  # one item the server could not return
            instance = event_instance(
                item, account_zone=self.context.timezone, subjects=self.context.subjects
            )
            if instance is not None:
                events.append(instance)
        if not events and previous >= EMPTY_GUARD:
            raise EmptyCalendarRefused(
                f"the calendar view came back empty where {previous} events were stored; "
                "nothing was deleted"
            )
        run_id = secrets.token_hex(6)
        for at in range(0, max(len(events), 1), BATCH):
            last = at + BATCH >= len(events)
            yield SyncBatch(
                upserts=list(events[at : at + BATCH]),
                cursor=json.dumps({"v": 1, "count": len(events) if last else previous}),
                scope="calendar",
                run_id=run_id,
                prune_scope=last,
            )


class EwsMailSource:
    name = "mail"

    def __init__(
        self, account: Account, context: SourceContext, state: Callable[[], StagedState]
    ) -> None:
        self.account, self.context = account, context
        self._state_factory = state
        self._state: StagedState | None = None
        settings = context.settings
        self.folders = list(settings.get("mail_folders") or ["sent", "inbox"])
        self.page = int(settings.get("sync_page", 512))
        self.window = timedelta(days=int(settings.get("window_past_days", 400)))

    @property
    def state(self) -> StagedState:
        if self._state is None:
            self._state = self._state_factory()
        return self._state

    def sync(self, cursor: str | None) -> Iterator[SyncBatch]:
        for folder in self.folders:
            key = "folder/" + folder
            start = None if cursor is None else self.state.get(key)
            try:
                yield from self._folder(folder, key, start)
            except SyncStateRejected as exc:
                if start is None:
                    raise SourceUnavailable(
                        f"Exchange refused the sync of {folder}: {exc}"
                    ) from None
                log.warning("%s/mail %s: sync state rejected (%s); listing again",
                            self.context.account, folder, exc)
                yield from self._folder(folder, key, None)

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
            yield SyncBatch(
                upserts=list(messages),
                cursor=json.dumps({"v": 1, "folder": name}),
                state=self.state.take_changes(),
            )
            if service.includes_last_item_in_range or not changes:
                return

    def _fetch(
        self, name: str, ids: list[tuple[str, str]], oldest: datetime, sent: bool
    ) -> list[MessageMeta]:
        if not ids:
            return []
        items = _calling(
            f"messages of {name}",
            self.context.account,
            lambda: list(self.account.fetch(ids=ids, only_fields=list(MESSAGE_FIELDS))),
        )
        out = []
        for item in items:
            if isinstance(item, Exception):
                continue  # deleted between the sync page and the fetch
            meta = message_meta(
                item, self.context.owner_addresses, self.context.subjects, sent_folder=sent
            )
            if meta is not None and meta.timestamp >= oldest:
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

    def __init__(self, context: SourceContext) -> None:
        self.context = context
        self.account = open_account(context)

    def sources(self) -> list[Any]:
        settings = self.context.settings
        found: list[Any] = []
        if settings.get("calendar", True):
            found.append(EwsCalendarSource(self.account, self.context))
        if settings.get("mail", True):
            found.append(
                EwsMailSource(self.account, self.context,
                              lambda: self.context.source_state("mail"))
            )
        return found

    def close(self) -> None:
        self.account.protocol.close()


def _count(cursor: str | None) -> int:
    try:
        return int(json.loads(cursor).get("count", 0)) if cursor else 0
    except (ValueError, AttributeError, TypeError):
        return 0
