"""Organization mode: Entra ID users as people (department, title, manager, aliases).

``GET /users`` with ``$select`` of only what a Person needs,
``$expand=manager($select=mail,userPrincipalName)`` and ``$top=999`` (the
directory's page maximum), so a 5,000-person tenant costs 6 requests. Team
size and "manages anyone" are derived from everyone's manager, which makes a
``directReports`` request per manager ($expand or $batch of 20) unnecessary.
Aliases come from ``proxyAddresses`` (``smtp:`` entries). Needs User.Read.All.

Read whole each run and pruned as one scope, with the same refusal as the
calendar when a directory that had people comes back empty; the store records
title changes between syncs (the digest's celebrate section).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import Any

from peerpulse.connectors.base import ConnectorError
from peerpulse.connectors.microsoft.graph import GraphClient
from peerpulse.connectors.microsoft.normalize import USER_SELECT, people
from peerpulse.connectors.records import SyncBatch

EMPTY_GUARD = 5
MANAGER_EXPAND = "manager($select=mail,userPrincipalName)"


class EmptyDirectoryRefused(ConnectorError):
    """The directory came back empty where people were stored; nothing was deleted."""


class DirectorySource:
    name = "directory"
    directory = True  # people, not mail: organization mode syncs it apart (connectors.base)

    def __init__(self, client: GraphClient, *, account: str) -> None:
        self.client = client
        self.account = account

    def sync(self, cursor: str | None) -> Iterator[SyncBatch]:
        previous = _count(cursor)
        users: list[dict[str, Any]] = []
        params = {"$select": USER_SELECT, "$expand": MANAGER_EXPAND, "$top": "999"}
        for page in self.client.pages(
            self.client.url("/users"), params, what=f"{self.account}/directory users"
        ):
            users.extend(u for u in page.get("value") or [] if isinstance(u, dict))
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
