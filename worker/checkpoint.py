"""The incremental digest's bookkeeping: which records the engine reads, and when the
stored inference checkpoint still holds (issue 14, item 1).

The engine's pass over an account's records is kept at a *horizon* a little
before each digest's ``now`` (``rules.checkpoint``). The next digest resumes it
and reads only the records from the horizon on, plus the events busy time and
the team meeting look at. The checkpoint is used only when all of these hold,
else the digest reads everything (and keeps a new checkpoint):

* the same fingerprint: rules, people file (peers, aliases, titles), owner and
  aliases, time zone, retention, checkpoint version;
* no event or message dated before the horizon was inserted, changed or deleted
  since (the store's triggers lower ``dirty_from`` in the writing transaction, in
  SQLite and PostgreSQL alike: migrations 7 and 8, worker/store/checkpoint_sql.py);
* no record left the retention window since, and ``now`` is not before the horizon.
  Dropping the rows of records that aged out would not be enough: later records
  were classified in their light (a "Re:" answering one, a series whose first
  occurrence it was: tests/rules/test_window_start.py), so a store older than
  ``retention_days`` still reads everything once a week.

A checkpoint is written only by a writer whose reads saw no concurrent write
(``generation``). Everything backend-specific stays behind the store Protocol.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from peerpulse.connectors.records import EventInstance, MessageMeta, Person
from peerpulse.rules.checkpoint import fingerprint
from peerpulse.worker.config import AccountConfig
from peerpulse.worker.store import Store
from peerpulse.worker.store.rows import DigestCheckpoint

#: How far before ``now`` the next horizon is: mail dated earlier that arrives after
#: the digest (late delivery, a sync behind) lands after the horizon and costs
#: nothing; older late records make the next digest read everything once.
HORIZON_MARGIN = timedelta(days=3)


@dataclass
class Reads:
    """What the engine gets: the records before and after the new horizon, the
    checkpoint it resumes (or None) and, then, the events its hooks look at."""

    events: Iterable[EventInstance]
    messages: Iterable[MessageMeta]
    tail_events: Iterable[EventInstance]
    tail_messages: Iterable[MessageMeta]
    resume: bytes | None
    hook_events: tuple[Iterable[EventInstance], Iterable[EventInstance]] | None
    horizon: int | None  # the new checkpoint's horizon, when one is kept
    generation: int | None  # the generation read before the records (writers only)


def account_fingerprint(
    account: AccountConfig, rules: object, people: Iterable[Person], retention_days: int
) -> str:
    """Everything inference depends on besides the records, hashed."""
    model = getattr(rules, "model", None)
    dumped = model.model_dump_json() if model is not None else repr(rules)
    parts = [
        dumped, account.owner, "\x1f".join(sorted(account.owner_addresses)),
        account.timezone, str(retention_days),
    ]
    parts += [repr(p) for p in people]
    return fingerprint(parts)


def usable(found: DigestCheckpoint | None, fp: str, since: int, now: int,
           store: Store, account: str) -> bool:
    """Whether ``found`` is the exact pass over every record before its horizon that
    one full read at ``now`` (window from ``since``) would make."""
    if found is None or found.state is None or found.horizon is None:
        return False
    if found.fingerprint != fp or found.since_ts is None:
        return False
    if found.dirty_from is not None and found.dirty_from < found.horizon:
        return False
    if now < found.horizon or since < found.since_ts:
        return False
    return not store.records_leaving(account, found.since_ts, since)


def plan(
    store: Store, account: AccountConfig, *, fp: str, since: datetime, now: datetime,
    team_since: datetime, busy_week: tuple[datetime, datetime],
) -> Reads:
    """The reads of one digest: resumed from the stored checkpoint when it holds, and
    split at a new horizon so that this digest keeps the next checkpoint."""
    name = account.name
    generation = store.begin_digest_checkpoint(name)
    found = store.digest_checkpoint(name)
    since_ts = math.floor(since.timestamp())
    now_ts = math.floor(now.timestamp())
    resume = usable(found, fp, since_ts, now_ts, store, name)
    start = found.horizon if resume and found is not None else None
    horizon: int | None = math.floor((now - HORIZON_MARGIN).timestamp())
    if horizon is not None and (horizon <= since_ts or (start is not None and horizon <= start)):
        horizon = None  # nothing new worth keeping
    if generation is None:
        horizon = None  # readers never write

    def events(lo: int | None, hi: int | None) -> Iterator[EventInstance]:
        return store.iter_events_starting(name, lo, hi, since)

    def messages(lo: int | None, hi: int | None) -> Iterator[MessageMeta]:
        return store.iter_messages(
            name, since=_at(lo) if lo is not None else since,
            until=_at(hi) if hi is not None else None,
        )

    hooks = None
    if resume:
        # The team meeting looks at recurring events started in its window before now;
        # free slots at the events overlapping their week. Both within retention.
        series = store.iter_events_starting(
            name, math.floor(max(team_since, since).timestamp()), now_ts + 1, since,
            recurring_only=True,
        )
        busy = store.iter_events(name, since=max(busy_week[0], since), until=busy_week[1])
        hooks = (series, busy)
    if horizon is None:
        return Reads(events(start, None), messages(start, None), (), (),
                     found.state if resume and found else None, hooks, None, generation)
    return Reads(
        events(start, horizon), messages(start, horizon),
        events(horizon, None), messages(horizon, None),
        found.state if resume and found else None, hooks, horizon, generation,
    )


#: A checkpoint is carried forward between digests only when its horizon would move
#: by at least this much: at most one carry a day, however often the worker runs.
CARRY_STEP = timedelta(days=1)


def carry(store: Store, account: AccountConfig, *, fp: str, since: datetime,
          now: datetime) -> Reads | None:
    """The reads that move a usable checkpoint forward to ``now - HORIZON_MARGIN``
    (records from its horizon to the new one), for a run that sends no digest; None
    when there is no usable checkpoint (a carry never reads everything: that is the
    next digest's job) or it would gain less than :data:`CARRY_STEP`."""
    name = account.name
    generation = store.begin_digest_checkpoint(name)
    if generation is None:
        return None  # a reader
    found = store.digest_checkpoint(name)
    since_ts = math.floor(since.timestamp())
    if found is None or not usable(found, fp, since_ts, math.floor(now.timestamp()),
                                   store, name):
        return None
    assert found.horizon is not None  # usable
    horizon = math.floor((now - HORIZON_MARGIN).timestamp())
    if horizon - found.horizon < CARRY_STEP.total_seconds():
        return None
    events = store.iter_events_starting(name, found.horizon, horizon, since)
    messages = store.iter_messages(name, since=_at(found.horizon), until=_at(horizon))
    return Reads(events, messages, (), (), found.state, None, horizon, generation)


def keep(store: Store, account: str, reads: Reads, fp: str, since: datetime,
         state: bytes | None) -> bool:
    """Store the new checkpoint, unless a record was written while the digest read."""
    if reads.horizon is None or reads.generation is None or state is None:
        return False
    return store.save_digest_checkpoint(
        account,
        DigestCheckpoint(fp, reads.horizon, math.floor(since.timestamp()), None,
                         reads.generation, state),
        reads.generation,
    )


def _at(ts: int) -> datetime:
    from datetime import UTC

    return datetime.fromtimestamp(ts, UTC)
