"""Mail metadata through message delta, one listing per folder, Sent Items first.

``GET mailFolders/{folder}/messages/delta`` with ``$select`` of only what the
records need (:data:`~connectors.microsoft.normalize.MESSAGE_SELECT`), ``Prefer:
odata.maxpagesize`` and immutable ids: the metadata arrives inline in the delta
pages, so there is no per-message GET (a listing of ids plus ``$batch`` of 20
GETs would cost ⌈N/20⌉ more requests and N throttle-counted ones; see
docs/MICROSOFT.md). Delta takes no ``$orderby`` and a ``$filter`` caps it at 5,000
messages, so the window is applied here: older messages are not stored.

Folders go in the configured order (``sentitems`` first, so a first digest is
possible before a big inbox is done). Each folder's position is its own key in
connector state (:mod:`connectors.microsoft.delta`), committed with its batch:
a killed or time-boxed run resumes at the stored nextLink, a finished round
keeps its deltaLink and the next run asks for changes only (one request per
folder when nothing changed). A 410 / ``syncStateNotFound`` lists the folder
again; upserts deduplicate.

``@removed`` in a folder's delta means the message left that folder (moved,
archived or deleted: Graph does not say which). The record is kept: the
exchange it stands for happened either way, and retention ages it out.

A digest action link (a :class:`~connectors.records.MailCommand`) is kept from
Sent Items only when that folder is read: the delivered Inbox copy of the same
mail would settle the one click twice (:func:`~connectors.microsoft.normalize.
delivered_command_copy`).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

from peerpulse.connectors.base import SyncProgress, folders_progress, stage_progress
from peerpulse.connectors.microsoft.delta import DeltaPosition
from peerpulse.connectors.microsoft.graph import GraphClient, GraphError
from peerpulse.connectors.microsoft.normalize import (
    MESSAGE_SELECT,
    delivered_command_copy,
    message_meta,
)
from peerpulse.connectors.records import MailCommand, MessageMeta, SyncBatch
from peerpulse.connectors.state import StagedState

log = logging.getLogger(__name__)

SENT_FOLDERS = {"sentitems"}


class MailSource:
    name = "mail"

    def __init__(
        self,
        client: GraphClient,
        state: Callable[[], StagedState],
        *,
        account: str,
        owner: frozenset[str],
        subjects: str,
        folders: list[str],
        window_past_days: int,
        page_size: int,
        now: Callable[[], datetime],
        deadline: float,
        other_is_bulk: bool = True,
    ) -> None:
        self.client = client
        self._state_factory = state
        self._state: StagedState | None = None
        self.account, self.owner, self.subjects = account, owner, subjects
        self.folders = folders
        self.window = timedelta(days=window_past_days)
        self.prefer = [f"odata.maxpagesize={page_size}", 'IdType="ImmutableId"']
        self.now = now
        self.deadline = deadline
        self.other_is_bulk = other_is_bulk

    @property
    def state(self) -> StagedState:
        if self._state is None:
            self._state = self._state_factory()
        return self._state

    def sync(self, cursor: str | None) -> Iterator[SyncBatch]:
        self._fresh = cursor is None  # a first pass: positions stored before are not ours
        self._finished: set[str] = set()
        for folder in self.folders:
            if time.monotonic() >= self.deadline:
                log.info("%s/mail: time budget spent; the next run continues", self.account)
                return
            key = "folder/" + folder
            position = DeltaPosition() if cursor is None else DeltaPosition.load(self.state, key)
            try:
                yield from self._folder(folder, key, position)
            except GraphError as exc:
                if not exc.sync_state_lost:
                    raise
                log.warning("%s/mail %s: delta token expired (%s); listing again",
                            self.account, folder, exc)
                yield from self._folder(folder, key, DeltaPosition())

    def _progress(self) -> SyncProgress:
        """How much history is stored (issue 15), for the digest: complete once every
        folder's first listing has ended in a deltaLink
        (:func:`~peerpulse.connectors.base.folders_progress`)."""
        return folders_progress(
            self.folders,
            lambda f: f in self._finished or (
                not self._fresh and bool(DeltaPosition.load(self.state, "folder/" + f).delta)),
            self.state, fresh=self._fresh)

    def _folder(self, folder: str, key: str, position: DeltaPosition) -> Iterator[SyncBatch]:
        if position.next:
            url = position.next
        elif position.delta:
            url = position.delta
        else:
            url = self.client.url(f"mailFolders/{folder}/messages/delta?$select={MESSAGE_SELECT}")
        oldest = self.now() - self.window
        sent = folder.lower() in SENT_FOLDERS
        sent_listed = any(f.lower() in SENT_FOLDERS for f in self.folders)
        what = f"{self.account}/mail {folder} delta"
        removed = 0
        for page in self.client.pages(url, prefer=self.prefer, what=what):
            messages: list[MessageMeta | MailCommand] = []
            for item in page.get("value") or []:
                if not isinstance(item, dict):
                    continue
                if "@removed" in item:
                    removed += 1
                    continue
                meta = message_meta(
                    item, self.owner, self.subjects, sent_folder=sent,
                    other_is_bulk=self.other_is_bulk,
                )
                if meta is None or meta.timestamp < oldest:
                    continue
                if not delivered_command_copy(meta, sent_folder=sent, sent_listed=sent_listed):
                    messages.append(meta)
            next_link = page.get("@odata.nextLink")
            if next_link:
                position.next = str(next_link)
            else:
                delta_link = page.get("@odata.deltaLink")
                if delta_link:
                    position.delta = GraphClient.check_link(str(delta_link))
                position.next = None
            position.save(self.state, key)
            if position.delta and not position.next:
                self._finished.add(folder)
            stage_progress(self.state, self._progress())
            yield SyncBatch(
                upserts=list(messages),
                cursor=json.dumps({"v": 1, "folder": folder}),
                state=self.state.take_changes(),
            )
            if next_link and time.monotonic() >= self.deadline:
                log.info("%s/mail %s: time budget spent; resuming there next run",
                         self.account, folder)
                return
        if removed:
            log.info(
                "%s/mail %s: %d messages left the folder (kept)", self.account, folder, removed
            )
