"""From stored records to a computed digest: the seam between store and rules.

Reads the user's rule files (I/O lives here, parsing and validation in
``rules.loader``), streams the account's records out of the store into the pure
engine, and hands back the engine's result. Nothing here decides anything.
"""

from __future__ import annotations

import dataclasses
import gc
import math
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from peerpulse.connectors.records import Person
from peerpulse.rules.checkpoint import Pass
from peerpulse.rules.engine import (
    EngineInputs,
    EngineResult,
    advance,
    compute,
    rebase_checkpoint,
)
from peerpulse.rules.errors import RuleError
from peerpulse.rules.loader import load_rules
from peerpulse.rules.peers import SharedDirectory
from peerpulse.rules.recommendations import Digest
from peerpulse.rules.slots import next_monday, week_window
from peerpulse.worker import checkpoint, loading, overrides, shared_directory
from peerpulse.worker.config import DIRECTORY_ACCOUNT, WEEKDAYS, AccountConfig, Settings
from peerpulse.worker.errors import RulesError
from peerpulse.worker.freshness import quiet_sources
from peerpulse.worker.schedule import period_of
from peerpulse.worker.store import Store
from peerpulse.worker.talking_points import talking_points

HISTORY_SECTIONS = ("peer_of_the_week", "feedback")


def read_rules(settings: Settings) -> Any:
    """The default rules layered with the user's files; RulesError on any problem."""
    files: list[tuple[str, str]] = []
    for configured in settings.rules:
        path = settings.resolve_path(configured)
        try:
            files.append((str(path), Path(path).read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError) as exc:
            raise RulesError(f"cannot read rules file: {exc}", file=str(path)) from exc
    try:
        return load_rules(files)
    except RuleError as exc:
        raise RulesError(
            exc.message, file=exc.file, line=exc.line, key=exc.key or None
        ) from None


def compute_for_account(
    store: Store,
    settings: Settings,
    account: AccountConfig,
    rules: Any,
    *,
    now: datetime,
    period: str | None = None,
    collect_interactions: bool = False,
    raw: bool = False,
    history_note: bool = True,
) -> EngineResult:
    """Run the engine over everything stored for ``account`` as of ``now``.

    Incremental (issue 14, item 1): the pass over the records is resumed from the
    stored checkpoint when it still holds (worker/checkpoint.py), and a writer keeps
    the next one; the result is the same as reading every record. ``raw`` (``explain``,
    ``rules check``, interaction lists) reads every record and keeps nothing.

    While a source's first sync is still loading history, the sections that read old
    history are held back or flagged (worker/loading.py); ``history_note=False`` gives
    the digest as computed (benchmarks comparing picks across a sync)."""
    history = {
        section: store.recommendation_history(account.name, section)
        for section in HISTORY_SECTIONS
    }
    since = now - timedelta(days=settings.privacy.retention_days)
    changes = [
        (c.email, c.old_title, c.new_title, c.seen_at)
        for name in _people_accounts(settings, account)
        for c in store.title_changes(name, now - timedelta(days=14))
    ]
    period = period or period_of(now, account.zone)
    people, shared, people_key = _people(store, settings, account, rules)
    reads: checkpoint.Reads | None = None
    fp = ""
    if not raw and not collect_interactions:
        fp = checkpoint.account_fingerprint(account, rules, people_key,
                                            settings.privacy.retention_days)
        busy_lo, busy_hi = week_window(next_monday(period), account.zone)
        team_since = now - timedelta(weeks=rules.model.team_meeting.window_weeks)
        reads = checkpoint.plan(
            store, account, fp=fp, since=since, now=now,
            team_since=team_since,
            busy_week=(datetime.fromtimestamp(busy_lo, UTC), _ceil(busy_hi)),
            rebase=_rebaser(account, rules, people, shared, now, period),
        )
    inputs = EngineInputs(
        account=account.name,
        owner=account.owner,
        owner_aliases=account.owner_addresses,
        timezone=account.timezone,
        now=now,
        period=period,
        events=reads.events if reads else store.iter_events(account.name, since=since),
        messages=reads.messages if reads else store.iter_messages(account.name, since=since),
        resume=reads.resume if reads else None,
        hook_events=reads.hook_events if reads else None,
        checkpoint=bool(reads and reads.horizon is not None),
        tail_events=reads.tail_events if reads else (),
        tail_messages=reads.tail_messages if reads else (),
        ahead=bool(reads and reads.horizon is not None and reads.ahead is not None),
        mid_events=reads.mid_events if reads else (),
        mid_messages=reads.mid_messages if reads else (),
        people=people,
        shared=shared,
        title_changes=changes,
        history=history,
        working_hours=account.digest.working_hours,
        working_days=tuple(WEEKDAYS.index(d) for d in account.digest.working_days),
        collect_interactions=collect_interactions,
        has_calendar=_has_calendar(account),
        overrides=overrides.to_rules(store.overrides(account.name)),
    )
    if reads is None:
        result = compute(inputs, rules)
    else:
        with collector_paused():
            result = compute(inputs, rules)
    if reads is not None:
        checkpoint.keep(store, account.name, reads, fp, since, result.checkpoint,
                        result.ahead_checkpoint)
        result = dataclasses.replace(result, rebase=reads.rebase,
                                     resumed_from=reads.resumed_from)
    digest = result.digest
    if history_note:  # before the action links: held-back people get none
        digest = loading.mark(digest, loading.status(store, account.name), now,
                              rules.model.reciprocity.window_days)
    digest = _with_actions(digest, store, settings, account, now)
    mail, event = store.newest_record_times(account.name, now)
    quiet = quiet_sources({"mail": mail, "calendar": event}, now)
    if quiet:
        digest = dataclasses.replace(digest, stats={**digest.stats, "quiet_sources": quiet})
    if settings.privacy.subjects == "kept":
        points = talking_points(store, account.name, result.views, digest_people(digest))
        if points:
            digest = dataclasses.replace(digest, stats={**digest.stats, "talking_points": points})
    return dataclasses.replace(result, digest=digest)


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off while a resumed digest computes: restoring
    the checkpoint and reading the tail allocate ~10^5 containers that live until the
    digest is done, and the collections they set off (~190, traversing them again
    and again) cost 60-70 ms of CPU at 1M messages, ~15% of the digest. What it
    allocates holds no cycles worth collecting early (peak RSS unchanged, 86 MB);
    the collector runs again afterwards, as it was."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def carry_checkpoint(
    store: Store, settings: Settings, account: AccountConfig, rules: Any, *, now: datetime
) -> bool:
    """After a run that sent no digest: move the stored inference checkpoint forward
    to ``now - HORIZON_MARGIN`` (worker/checkpoint.py), so the next weekly digest
    decodes and infers the last ~3 days rather than the ~10 since the previous
    digest's horizon. Reads only the records between the two horizons, and only when
    the checkpoint is usable; True when a new one was kept. The digest it serves is
    the same as without it (the same pass, resumed)."""
    since = now - timedelta(days=settings.privacy.retention_days)
    people, shared, people_key = _people(store, settings, account, rules)
    fp = checkpoint.account_fingerprint(account, rules, people_key,
                                        settings.privacy.retention_days)
    reads = checkpoint.carry(
        store, account, fp=fp, since=since, now=now,
        rebase=_rebaser(account, rules, people, shared, now, period_of(now, account.zone)))
    if reads is None:
        return False
    state = advance(EngineInputs(
        account=account.name, owner=account.owner, owner_aliases=account.owner_addresses,
        timezone=account.timezone, now=now, period=period_of(now, account.zone),
        events=reads.events, messages=reads.messages, resume=reads.resume,
        people=people, shared=shared,
    ), rules)
    return checkpoint.keep(store, account.name, reads, fp, since, state)


def _rebaser(account: AccountConfig, rules: Any, people: list[Person],
             shared: SharedDirectory | None, now: datetime, period: str) -> checkpoint.Rebase:
    """The re-base of a checkpoint past records that left the window (rules.rebase),
    over this account's people and rules."""

    def rebase(state: bytes, since: datetime, events: Any, messages: Any,
               source: checkpoint.StoreSource) -> Pass:
        return rebase_checkpoint(EngineInputs(
            account=account.name, owner=account.owner, owner_aliases=account.owner_addresses,
            timezone=account.timezone, now=now, period=period, events=events,
            messages=messages, resume=state, people=people, shared=shared,
        ), rules, since, source)

    return rebase


def people_for(store: Store, settings: Settings, account: AccountConfig) -> list[Person]:
    """Who is who for ``account``: its own people files, layered over the
    organization's one directory when ``[organization.directory]`` is set.

    Organization mode syncs the directory once, under ``DIRECTORY_ACCOUNT``, instead
    of a copy per manager; a manager's extra people file (an override) still wins
    for the addresses it names."""
    own = store.people(account.name)
    if _people_accounts(settings, account) == (account.name,):
        return own
    mine = {p.email for p in own}
    return [p for p in store.people(DIRECTORY_ACCOUNT) if p.email not in mine] + own


def _people(
    store: Store, settings: Settings, account: AccountConfig, rules: Any
) -> tuple[list[Person], SharedDirectory | None, list[Person]]:
    """What :func:`people_for` returns; the shared directory's owner-independent part
    when the digest reads the organization's directory and has no people of its own
    (a manager's override file: then the engine resolves the merged list itself);
    and what the checkpoint fingerprint hashes for them: the directory's content
    hash, computed once per directory version, stands for its people."""
    own = store.people(account.name)
    if _people_accounts(settings, account) == (account.name,):
        return own, None, own
    directory, shared, content = shared_directory.read(store, DIRECTORY_ACCOUNT, rules)
    key = [Person(email=f"directory-sha256:{content}"), *own]
    if not own:
        return directory, shared, key
    mine = {p.email for p in own}
    return [p for p in directory if p.email not in mine] + own, None, key


def _people_accounts(settings: Settings, account: AccountConfig) -> tuple[str, ...]:
    """The store accounts whose people ``account``'s digest reads."""
    org = settings.organization
    if org is None or org.directory is None or account.name == DIRECTORY_ACCOUNT:
        return (account.name,)
    return (DIRECTORY_ACCOUNT, account.name)


def _ceil(ts: float) -> datetime:
    """The whole second at or after ``ts`` (the store's times are whole seconds)."""
    return datetime.fromtimestamp(math.ceil(ts), UTC)


def _with_actions(
    digest: Digest, store: Store, settings: Settings, account: AccountConfig, now: datetime
) -> Digest:
    """The digest with its action links (snooze, done, never per person) and what
    last week's command mails did (issue 13, item 2), both in ``stats``."""
    stats = dict(digest.stats)
    commands = overrides.report_lines(store, account.name, now)
    if commands:
        stats["commands"] = commands
    key = overrides.command_key(settings.state_path, create=not store.read_only)
    if key is not None:
        stats["actions"] = overrides.action_links(
            key, account.name, account.owner, digest_people(digest), digest.period)
    return dataclasses.replace(digest, stats=stats)


def digest_people(digest: Digest) -> list[str]:
    """Everyone the digest names, in section order."""
    people = [digest.peer_of_the_week.person.email] if digest.peer_of_the_week else []
    people += [p.email for p in digest.reconnect]
    people += [r.person.email for r in digest.reciprocity]
    people += [c.person.email for c in digest.celebrate]
    people += [p.email for p in digest.feedback]
    people += [i.person.email for i in digest.invitations]
    people += [p.email for p in digest.fading]
    return list(dict.fromkeys(people))


def _has_calendar(account: AccountConfig) -> bool:
    """Whether the account syncs any calendar: without one, free time is unknown."""
    return bool(account.source.has_calendar())
