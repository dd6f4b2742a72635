"""Organization mode: the Admin SDK directory as people (department, title, manager).

users.list (500 a page, ``fields`` mask) is read whole each run: reporting
lines are derived across everyone (``manages_anyone``, ``team_size``), and the
store records title changes between syncs for the celebrate section. The whole
directory is one scope pruned at the end, with the same refusal as calendars
when a directory that had people comes back empty.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import Any

from peerpulse.connectors.base import ConnectorError
from peerpulse.connectors.google.normalize import USER_FIELDS, people
from peerpulse.connectors.google.pacing import Pacer
from peerpulse.connectors.google.paging import pages
from peerpulse.connectors.google.services import GoogleApi, run_request
from peerpulse.connectors.records import SyncBatch

EMPTY_GUARD = 5


class EmptyDirectoryRefused(ConnectorError):
    """The directory came back empty where people were stored; nothing was deleted."""


class DirectorySource:
    name = "directory"
    directory = True  # people, not mail: organization mode syncs it apart (connectors.base)

    def __init__(self, api: GoogleApi, pacer: Pacer, *, account: str, admin_view: bool) -> None:
        self.api, self.pacer = api, pacer
        self.account = account
        # domain_public is what a non-administrator may read (admin.directory_v1 viewType).
        self.view = "admin_view" if admin_view else "domain_public"

    def sync(self, cursor: str | None) -> Iterator[SyncBatch]:
        previous = _count(cursor)
        users: list[dict[str, Any]] = []

        def fetch(page: str | None) -> dict[str, Any]:
            params: dict[str, Any] = {
                "customer": "my_customer",
                "maxResults": 500,
                "viewType": self.view,
                "fields": USER_FIELDS,
            }
            if page:
                params["pageToken"] = page
            request = self.api.directory.users().list(**params)
            return run_request(self.api, self.pacer, request, 1, self.account)

        for response in pages(fetch, f"{self.account}/directory users.list"):
            users.extend(response.get("users") or [])
        found = people(users)
        if not found and previous >= EMPTY_GUARD:
            raise EmptyDirectoryRefused(
                f"the directory came back empty where {previous} people were stored; "
                "nothing was deleted"
            )
        yield SyncBatch(
            upserts=list(found),
            cursor=json.dumps({"v": 1, "count": len(found)}),
            scope="directory",
            run_id=secrets.token_hex(6),
            prune_scope=True,
        )


def _count(cursor: str | None) -> int:
    try:
        return int(json.loads(cursor).get("count", 0)) if cursor else 0
    except (ValueError, AttributeError, TypeError):
        return 0
