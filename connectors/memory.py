"""An in-memory connector: the reference implementation of the contract.

Tests use it to exercise the store and worker without files or HTTP, and the
shared contract tests run against it like against every real connector. Its
cursor is the number of records already delivered, so a grown list yields only
the new tail and a replaced list is re-read and pruned.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from peerpulse.connectors.base import SourceContext
from peerpulse.connectors.records import Record, SyncBatch
from peerpulse.connectors.registry import Provider
from peerpulse.connectors.settings import ProviderSettings


@dataclass
class MemorySource:
    name: str
    records: list[Record] = field(default_factory=list)
    generation: int = 0  # bump to signal "the source was replaced, re-read it all"
    page_size: int = 100
    directory: bool = False  # people from the directory (connectors.base.reads_directory)

    def sync(self, cursor: str | None) -> Iterator[SyncBatch]:
        state: dict[str, Any] = (
            json.loads(cursor) if cursor else {"generation": -1, "offset": 0, "run": ""}
        )
        if state["generation"] != self.generation:
            state = {"generation": self.generation, "offset": 0, "run": f"g{self.generation}"}
        offset = state["offset"]
        run_id = state["run"]
        full_read = offset == 0
        while offset < len(self.records):
            page = self.records[offset : offset + self.page_size]
            offset += len(page)
            state["offset"] = offset
            yield SyncBatch(
                upserts=list(page),
                cursor=json.dumps(state),
                scope=self.name,
                run_id=run_id,
                prune_scope=full_read and offset >= len(self.records),
            )
        if full_read and not self.records:
            yield SyncBatch(
                cursor=json.dumps(state), scope=self.name, run_id=run_id, prune_scope=True
            )


class MemorySettings(ProviderSettings):
    """``type = "memory"``: no keys; an account whose records tests put in the store."""


class MemoryConnector:
    """Holds the sources given to it (a dict name -> list of records); none from config."""

    def __init__(
        self,
        context: SourceContext,
        settings: MemorySettings | None = None,
        sources: dict[str, list[Record]] | None = None,
    ) -> None:
        given = sources or {}
        self._sources = [MemorySource(name, list(records)) for name, records in given.items()]

    def sources(self) -> list[MemorySource]:
        return self._sources


PROVIDER = Provider(name="memory", settings=MemorySettings, connector=MemoryConnector)
