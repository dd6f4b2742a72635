"""The stored position of one Graph delta listing, kept in keyed connector state.

One JSON value per listing (the calendar view, each mail folder) under its own
key of the source's :class:`~peerpulse.connectors.state.StagedState`, so it is
committed in the same transaction as the batch it belongs to:

- ``delta``: the whole ``@odata.deltaLink`` of the last completed round (the
  next run starts there; usually one request when nothing changed);
- ``next``: the ``@odata.nextLink`` to resume a round a killed or time-boxed
  run left halfway;
- ``run_id``/``seen``/``count``: a full round stamps its records so its last
  page can prune what it did not see, and refuses an empty round where
  ``count`` records were stored; ``exact``: ``count`` comes from the ids kept
  by :class:`~peerpulse.connectors.event_tally.EventTally` (a cursor written
  before them estimates it until its next full round);
- ``since``/``until``: the calendar view's window (epoch seconds).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from peerpulse.connectors.state import StagedState


@dataclass
class DeltaPosition:
    delta: str | None = None
    next: str | None = None
    run_id: str = ""
    seen: int = 0
    count: int = 0
    exact: bool = False
    since: int = 0
    until: int = 0

    @classmethod
    def load(cls, state: StagedState, key: str) -> DeltaPosition:
        raw = state.get(key)
        if not raw:
            return cls()
        try:
            data: Any = json.loads(raw)
        except ValueError:
            return cls()
        if not isinstance(data, dict):
            return cls()
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})

    def save(self, state: StagedState, key: str) -> None:
        state.put(key, json.dumps(asdict(self), separators=(",", ":")))
