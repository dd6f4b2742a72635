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
* ``now`` is not before the horizon, and the window does not start before a
  retention purge's cutoff (``purged_below``: a purge deletes the records below it
  without marking the checkpoint, migration 11).

When records left the retention window since the checkpoint (the window starts
later; a purge may have deleted them already), the checkpoint is *re-based*
(``rules.rebase``): the records of the new start's day are inferred afresh, the
later days come from the checkpoint, and the few records the aged-out ones had
classified (a "Re:" answering one, a series' next occurrence:
tests/rules/test_window_start.py) are classified again on their day. Each
outcome is logged; when the re-base cannot be exact it says why and the digest
reads everything, as it did for any store older than ``retention_days``.

A digest also keeps a second state, the pass up to about its own time
(:func:`ahead_horizon`, migration 13): the next weekly digest resumes that one, and
reads ~7 days instead of ~10, while no record dated before it was written since
(the same ``dirty_from`` mark; a writer's ``begin`` drops the second state alone
when the mark falls between the two horizons). Otherwise it resumes the first, as
before: late mail inside the margin costs 3 more days, never a wrong digest. A
carry keeps the second state while it is ahead of the new horizon, and starts
from it once it is behind.

A checkpoint is written only by a writer whose reads saw no concurrent write
(``generation``). Everything backend-specific stays behind the store Protocol.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from peerpulse.connectors.records import EventInstance, MessageMeta, Person
from peerpulse.rules.checkpoint import Pass, fingerprint
from peerpulse.rules.history import DAY
from peerpulse.rules.rebase import Refused
from peerpulse.worker.config import AccountConfig
from peerpulse.worker.store import Store
from peerpulse.worker.store.rows import DigestCheckpoint

#: How far before ``now`` the next horizon is: mail dated earlier that arrives after
#: the digest (late delivery, a sync behind) lands after the horizon and costs
#: nothing; older late records make the next digest read everything once.
HORIZON_MARGIN = timedelta(days=3)

#: The second state (:func:`ahead_horizon`) is kept this long before the digest's own
#: time or the newest mail's: mail a few minutes late (dated before a sync that missed
#: it) then lands after it, and the next digest can still resume it.
AHEAD_SLACK = timedelta(hours=1)

log = logging.getLogger(__name__)

#: How far ahead one query of a re-base's search for series' next occurrences reads.
RECURRING_STEP = 7 * 86400

#: (checkpoint, new window start, head events, head messages, source) -> the checkpoint
#: re-based (``rules.engine.rebase_checkpoint`` with the account's people and rules),
#: handed to the engine in memory (``rules.checkpoint.Pass``: no bytes round trip).
Rebase = Callable[[bytes, datetime, Iterable[EventInstance], Iterable[MessageMeta],
                   "StoreSource"], Pass]


@dataclass
class Reads:
    """What the engine gets: the records before and after the new horizon, the
    checkpoint it resumes (or None) and, then, the events its hooks look at."""

    events: Iterable[EventInstance]
    messages: Iterable[MessageMeta]
    tail_events: Iterable[EventInstance]
    tail_messages: Iterable[MessageMeta]
    resume: bytes | Pass | None
    hook_events: tuple[Iterable[EventInstance], Iterable[EventInstance]] | None
    horizon: int | None  # the new checkpoint's horizon, when one is kept
    generation: int | None  # the generation read before the records (writers only)
    # None: no record left the window; "rebased"; else why the re-base was refused
    rebase: str | None = None
    # With ``ahead``, the tail is split there: ``mid_*`` from ``horizon`` to ``ahead``
    # (after which the second state is kept), ``tail_*`` from ``ahead`` on.
    mid_events: Iterable[EventInstance] = ()
    mid_messages: Iterable[MessageMeta] = ()
    ahead: int | None = None
    resumed_from: int | None = None  # the horizon of the state resumed (None: none)
    ahead_state: bytes | None = None  # a carry's second state, kept as it was


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
    return status(found, fp, since, now, store, account) == "resume"


def status(found: DigestCheckpoint | None, fp: str, since: int, now: int,
           store: Store, account: str) -> str | None:
    """"resume" when ``found`` is the exact pass over every record before its horizon
    that one full read at ``now`` (window from ``since``) would make, "rebase" when it
    is once the records that left the window since are taken out (``rules.rebase``),
    None when it does not hold."""
    if found is None or found.state is None or found.horizon is None:
        return None
    if found.fingerprint != fp or found.since_ts is None:
        return None
    if found.dirty_from is not None and found.dirty_from < found.horizon:
        return None
    if now < found.horizon or since < found.since_ts:
        return None
    if found.purged_below is not None and since < found.purged_below:
        return None  # a purge deleted records this window still holds
    if since > found.since_ts and (
        (found.purged_below is not None and found.purged_below > found.since_ts)
        or store.records_leaving(account, found.since_ts, since)
    ):
        return "rebase"
    return "resume"


class StoreSource:
    """What a re-base reads besides the head (``rules.rebase.Source``): inside the new
    window, before the checkpoint's horizon; counted, for the logs and benchmarks."""

    def __init__(self, store: Store, account: str, since: datetime, horizon: int) -> None:
        self.store, self.account, self.since, self.horizon = store, account, since, horizon
        self.days = 0

    def day(self, day: int, naming: Callable[[str], bool] | None = None) -> tuple[
            Iterable[EventInstance], Iterable[MessageMeta]]:
        self.days += 1
        lo, hi = math.floor(day * DAY), min(math.floor((day + 1) * DAY), self.horizon)
        events = self.store.iter_events_starting(self.account, lo, hi, self.since)
        messages = self.store.iter_messages(
            self.account, since=max(_at(lo), self.since), until=_at(hi), naming=naming)
        return events, messages

    def recurring(self, start_from: float) -> Iterator[EventInstance]:
        # A week at a time: the re-base stops at each moved series' next occurrence,
        # usually within days, and one query to the horizon fetched thousands of rows
        # ahead of it (a store reads in chunks of thousands).
        lo = math.ceil(start_from)
        while lo < self.horizon:
            hi = min(lo + RECURRING_STEP, self.horizon)
            yield from self.store.iter_events_starting(
                self.account, lo, hi, self.since, recurring_only=True)
            lo = hi


def rebased(found: DigestCheckpoint, store: Store, account: str, since: datetime,
            rebase: Rebase | None) -> tuple[Pass | None, str]:
    """``found``'s state re-based to the window starting at ``since`` (None when
    refused), and the outcome ("rebased" or the reason), logged."""
    assert found.state is not None and found.horizon is not None
    end = (math.floor(since.timestamp() / DAY) + 1) * DAY
    if rebase is None:
        return None, "no re-base for this caller"
    if end > found.horizon:
        reason = "the window starts on the checkpoint's last day"
    else:
        source = StoreSource(store, account, since, found.horizon)
        head_events = store.iter_events_starting(account, None, math.floor(end), since)
        head_messages = store.iter_messages(account, since=since, until=_at(math.floor(end)))
        try:
            state = rebase(found.state, since, head_events, head_messages, source)
        except Refused as exc:
            reason = str(exc)
        else:
            log.info("%s: digest checkpoint re-based to a window from %s (%d other days read)",
                     account, since.isoformat(timespec="seconds"), source.days)
            return state, "rebased"
    log.info("%s: digest checkpoint state not re-based (%s)", account, reason)
    return None, reason


def ahead_of(found: DigestCheckpoint | None) -> DigestCheckpoint | None:
    """The second state ``found`` holds (the pass up to the digest that kept it), as a
    checkpoint of its own: the same fingerprint, window and marks, a later horizon."""
    if found is None or found.ahead_state is None or found.ahead_horizon is None:
        return None
    return dataclasses.replace(found, horizon=found.ahead_horizon, state=found.ahead_state,
                               ahead_horizon=None, ahead_state=None)


def _resumable(found: DigestCheckpoint | None, fp: str, since: datetime, now_ts: int,
               store: Store, name: str, rebase: Rebase | None
               ) -> tuple[bytes | Pass | None, int | None, str | None]:
    """(state, its horizon, re-base outcome) of ``found`` for this digest: the state
    None when it does not hold."""
    state_now = status(found, fp, math.floor(since.timestamp()), now_ts, store, name)
    if state_now is None or found is None:
        return None, None, None
    state: bytes | Pass | None = found.state
    outcome = None
    if state_now == "rebase":
        state, outcome = rebased(found, store, name, since, rebase)
    return state, found.horizon if state is not None else None, outcome


def ahead_horizon(store: Store, account: str, now: datetime, horizon: int) -> int | None:
    """Where a digest at ``now`` keeps its second state: its own time, or the newest
    mail's if earlier (a sync behind: mail dated before it arrives late), less
    :data:`AHEAD_SLACK`; None when that is not after ``horizon``."""
    mail, _event = store.newest_record_times(account, now)
    at = min(now, mail) if mail is not None else now
    ahead = math.floor((at - AHEAD_SLACK).timestamp())
    return ahead if ahead > horizon else None


def plan(
    store: Store, account: AccountConfig, *, fp: str, since: datetime, now: datetime,
    team_since: datetime, busy_week: tuple[datetime, datetime], rebase: Rebase | None = None,
) -> Reads:
    """The reads of one digest: resumed from the stored checkpoint when it holds (re-based
    first when records left the window; its second state first, when that holds),
    and split at a new horizon, and a second one at about ``now``, so that this digest
    keeps the next checkpoint's two states."""
    name = account.name
    generation = store.begin_digest_checkpoint(name)
    since_ts = math.floor(since.timestamp())
    now_ts = math.floor(now.timestamp())
    # The second state first; the first (another read of megabytes) only without it.
    state, start, outcome = _resumable(store.digest_checkpoint(name, "ahead"), fp, since,
                                       now_ts, store, name, rebase)
    if state is None:
        state, start, outcome = _resumable(store.digest_checkpoint(name, "first"), fp, since,
                                           now_ts, store, name, rebase)
    resume = state is not None
    horizon: int | None = math.floor((now - HORIZON_MARGIN).timestamp())
    if horizon is not None and (horizon <= since_ts or (start is not None and horizon <= start)):
        horizon = None  # nothing new worth keeping
    if generation is None:
        horizon = None  # readers never write
    ahead = ahead_horizon(store, name, now, horizon) if horizon is not None else None

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
                     state, hooks, None, generation, outcome, resumed_from=start)
    if ahead is None:
        return Reads(events(start, horizon), messages(start, horizon),
                     events(horizon, None), messages(horizon, None),
                     state, hooks, horizon, generation, outcome, resumed_from=start)
    return Reads(
        events(start, horizon), messages(start, horizon),
        events(ahead, None), messages(ahead, None),
        state, hooks, horizon, generation, outcome,
        mid_events=events(horizon, ahead), mid_messages=messages(horizon, ahead),
        ahead=ahead, resumed_from=start,
    )


#: A checkpoint is carried forward between digests only when its horizon would move
#: by at least this much: at most one carry a day, however often the worker runs.
CARRY_STEP = timedelta(days=1)


def carry(store: Store, account: AccountConfig, *, fp: str, since: datetime,
          now: datetime, rebase: Rebase | None = None) -> Reads | None:
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
    now_ts = math.floor(now.timestamp())
    horizon = math.floor((now - HORIZON_MARGIN).timestamp())
    # The second state, when the new horizon is past it, is the shorter way there; when
    # it is not, it is kept as it is (unless the window moved: it was not re-based).
    ahead = ahead_of(found)
    step = CARRY_STEP.total_seconds()
    base = ahead if ahead is not None and ahead.horizon is not None \
        and ahead.horizon <= horizon - step else found
    state_now = status(base, fp, since_ts, now_ts, store, name)
    if state_now is None and base is not found:
        base, state_now = found, status(found, fp, since_ts, now_ts, store, name)
    if base is None or state_now is None:
        return None
    assert base.horizon is not None  # usable
    if horizon - base.horizon < step:
        return None
    state: bytes | Pass | None = base.state
    outcome = None
    if state_now == "rebase":
        state, outcome = rebased(base, store, name, since, rebase)
        if state is None:
            return None
    kept = None
    if ahead is not None and base is found and state_now == "resume" \
            and ahead.horizon is not None and ahead.horizon > horizon:
        kept = ahead
    events = store.iter_events_starting(name, base.horizon, horizon, since)
    messages = store.iter_messages(name, since=_at(base.horizon), until=_at(horizon))
    return Reads(events, messages, (), (), state, None, horizon, generation, outcome,
                 ahead=kept.horizon if kept else None, ahead_state=kept.state if kept else None,
                 resumed_from=base.horizon)


def keep(store: Store, account: str, reads: Reads, fp: str, since: datetime,
         state: bytes | None, ahead_state: bytes | None = None) -> bool:
    """Store the new checkpoint (and its second state, at ``reads.ahead``), unless a
    record was written while the digest read."""
    if reads.horizon is None or reads.generation is None or state is None:
        return False
    ahead_state = ahead_state if ahead_state is not None else reads.ahead_state
    ahead = reads.ahead if ahead_state is not None else None
    return store.save_digest_checkpoint(
        account,
        DigestCheckpoint(fp, reads.horizon, math.floor(since.timestamp()), None,
                         reads.generation, state, None, ahead,
                         ahead_state if ahead is not None else None),
        reads.generation,
    )


def _at(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC)
