"""What each CLI command does, wired from the layers below.

Kept apart from argument parsing (``cli.py``) so each command reads as a short
story: load config, take the lock, open the store, do the work, report.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from peerpulse.connectors.file_modes import make_private_dir
from peerpulse.worker import config as config_module
from peerpulse.worker.console import Env, dump_json, parse_now
from peerpulse.worker.digest.sanitize import terminal_text
from peerpulse.worker.errors import ConfigError, ExitCode
from peerpulse.worker.pipeline import (
    carry_checkpoint,
    compute_for_account,
    people_for,
    read_rules,
)
from peerpulse.worker.progress import Progress
from peerpulse.worker.schedule import period_of
from peerpulse.worker.store import Store, StoreError, open_store
from peerpulse.worker.sync import AccountSyncReport, sync_account

if TYPE_CHECKING:
    from peerpulse.worker.config import AccountConfig, Settings

log = logging.getLogger("peerpulse")


def _now(args: argparse.Namespace) -> datetime:
    return parse_now(getattr(args, "now", None)) or datetime.now(UTC)


def _accounts(settings: Settings, args: argparse.Namespace) -> list[AccountConfig]:
    name = getattr(args, "account", None)
    return [settings.account(name)] if name else list(settings.accounts)


#: The state database this process opened last, so the CLI can name it when a
#: ``sqlite3.DatabaseError`` escapes from deep inside a command (issue 10, item 4).
OPENED_DATABASE: list[str] = []


def _open(
    settings: Settings, *, read_only: bool = False, accept_new_store: bool = False
) -> Store:
    """The state store; ``read_only`` for commands that only read, so they work on
    a read-only state directory and never create or migrate it (issue 10, item 6).

    A writer first checks the marker beside the database (issue 10, item 3): a
    missing, empty, replaced or older database is refused unless
    ``accept_new_store``; then the marker is brought up to date."""
    from peerpulse.worker import marker
    from peerpulse.worker.errors import StateError

    if settings.database is not None:  # organization mode: no marker file (docs/ORGANIZATION.md)
        return _open_postgres(settings, read_only=read_only)
    path = settings.database_path
    OPENED_DATABASE[:] = [str(path)]
    remembered = None if read_only else marker.read(path)
    if not read_only and not accept_new_store:
        marker.refuse_new(path, remembered)
    try:
        store = open_store(path, read_only=read_only)
    except StoreError as exc:
        raise StateError(str(exc)) from None
    if read_only:
        return store
    try:
        sent = store.newest_sent_periods()
        if not accept_new_store:
            marker.refuse_replaced(path, remembered, store.store_id(create=False) or "", sent)
        marker.write(path, marker.merged(remembered, store.store_id() or "", sent))
    except BaseException:
        store.close()
        raise
    return store


def _open_postgres(settings: Settings, *, read_only: bool) -> Store:
    """The shared PostgreSQL store named by ``[database]``; its password is read
    from its reference here and handed to libpq, never put in the URL."""
    from peerpulse.worker.errors import StateError
    from peerpulse.worker.store.postgres import redact

    db = settings.database
    assert db is not None
    OPENED_DATABASE[:] = [redact(db.url)]
    password = db.password.resolve() if db.password else None
    try:
        return open_store(db.url, read_only=read_only, password=password)
    except StoreError as exc:
        raise StateError(str(exc)) from None


def state_location(settings: Settings) -> str:
    """Where the state lives, as shown to a person (never with a password)."""
    if settings.database is not None:
        from peerpulse.worker.store.postgres import redact

        return redact(settings.database.url)
    return str(settings.database_path)


@contextmanager
def _locked(settings: Settings) -> Iterator[None]:
    from peerpulse.worker.lock import run_lock

    make_private_dir(settings.state_path)
    with run_lock(settings.state_path):
        yield


def _report_sync(env: Env, report: AccountSyncReport, verbose: bool) -> None:
    if report.error:
        log.error("%s: sync failed: %s", report.account, report.error)
        if report.hint:
            log.error("%s: hint: %s", report.account, report.hint)
    for source in report.sources:
        if source.error:
            log.error("%s/%s: sync failed: %s", report.account, source.source, source.error)
            if source.hint:
                log.error("%s/%s: hint: %s", report.account, source.source, source.hint)
        elif verbose:
            env.print(
                f"{report.account}/{source.source}: {source.upserted:,} new or changed, "
                f"{source.deleted:,} removed, {source.skipped:,} skipped"
            )


def _sync_all(
    env: Env,
    settings: Settings,
    store: Store,
    accounts: list[AccountConfig],
    now: datetime | None,
    verbose: bool,
) -> dict[str, AccountSyncReport]:
    progress = Progress()
    reports = {}
    for account in accounts:
        reports[account.name] = sync_account(store, settings, account, now=now, progress=progress)
        progress.done()
        _apply_mail_commands(store, settings, account, now)
        _report_sync(env, reports[account.name], verbose)
    return reports


def _apply_mail_commands(
    store: Store, settings: Settings, account: AccountConfig, now: datetime | None
) -> None:
    """Snooze / done / never links the owner clicked in a digest, read back from
    the sent mail just synced (issue 13); each applies once."""
    from peerpulse.worker import overrides

    if not store.pending_commands(account.name):
        return
    key = overrides.command_key(settings.state_path, create=True)
    assert key is not None  # made on demand
    overrides.apply_mail_commands(store, account.name, key,
                                  people_for(store, settings, account), account.zone,
                                  now or datetime.now(UTC),
                                  subjects=settings.privacy.subjects)


def sync(args: argparse.Namespace, env: Env) -> ExitCode:
    settings = config_module.load(args.config)
    explicit_now = _explicit_now(args)
    with _locked(settings), _open(settings, accept_new_store=args.accept_new_store) as store:
        reports = _sync_all(
            env,
            settings,
            store,
            _accounts(settings, args),
            explicit_now,
            verbose=_summaries(env, args),
        )
    return ExitCode.OK if all(r.ok for r in reports.values()) else ExitCode.PARTIAL_FAILURE


def _summaries(env: Env, args: argparse.Namespace) -> bool:
    """Per-source summary lines: on a terminal, unless -v already logs the same facts."""
    return env.interactive and args.verbose == 0 and not args.quiet


def _explicit_now(args: argparse.Namespace) -> datetime | None:
    return parse_now(getattr(args, "now", None))


def run(args: argparse.Namespace, env: Env) -> ExitCode:
    settings = config_module.load(args.config)
    rules = read_rules(settings)  # a broken rule file stops before any work (exit 2)
    explicit_now = _explicit_now(args)
    verbose = env.interactive or args.verbose > 0
    failed = False
    with _locked(settings), _open(settings, accept_new_store=args.accept_new_store) as store:
        accounts = _accounts(settings, args)
        if not getattr(args, "accept_clock", False) and _refuse_clock_behind(
            store, accounts, explicit_now
        ):
            return ExitCode.PARTIAL_FAILURE
        reports = _sync_all(env, settings, store, accounts, explicit_now, _summaries(env, args))
        now = explicit_now or datetime.now(UTC)
        for account in accounts:
            report = reports[account.name]
            if report.purge_refused:
                failed = True  # logged loudly by the sync; the digest still goes out
            stale: tuple[str, ...] = ()
            if not report.ok:
                failed = True
                stale = tuple(s.source for s in report.sources if s.error is not None)
                counts = store.counts(account.name)
                nothing_stored = counts.events + counts.messages == 0
                if (report.error is not None or nothing_stored
                        or account.digest.on_source_failure == "hold"):
                    log.warning("%s: no digest this run because the sync failed", account.name)
                    continue
                log.warning("%s: the digest uses the last stored data of %s (sync failed)",
                            account.name, ", ".join(stale))
            held = _hold_first_digest(store, settings, account, rules, now)
            if held is not None:
                failed |= held.failed
                _print_delivery(env, account, held, verbose)
                continue
            built: list[Any] = []
            outcome = deliver_account_digest(store, settings, account, rules, now, force=False,
                                             built=built, stale_sources=stale)
            failed |= _print_delivery(env, account, outcome, verbose)
            if not built:
                # No digest computed this run (not due; `status` warns of a missing owner):
                # carry the inference checkpoint forward, at most once a day, so the
                # weekly digest decodes ~3 days of records rather than ~10 (issue 14).
                carry_checkpoint(store, settings, account, rules, now=now)
                continue
            digest = built[-1]
            if digest.owner_missing:
                failed = True
                log.warning("%s", _owner_missing_line(account, digest))
            excluded = digest.stats.get("excluded")
            if excluded:
                from peerpulse.worker.digest.render import excluded_line

                log.warning("%s: %s", account.name, excluded_line(excluded))
    return ExitCode.PARTIAL_FAILURE if failed else ExitCode.OK


def _hold_first_digest(
    store: Store, settings: Settings, account: AccountConfig, rules: Any, now: datetime
) -> Any:
    """Before an account's very first digest: hold it, with a preview and what to
    fill in, while setup is unfinished (``worker.first_run``); None to go on."""
    from dataclasses import replace

    from peerpulse.worker import first_run, marker

    period = first_run.due(account, now)
    if period is None:
        return None
    remembered = marker.read(settings.database_path)
    floor = remembered.periods_sent.get(account.name) if remembered else None
    if not first_run.is_first(store, account, floor):
        return None
    digest = compute_for_account(store, settings, account, rules, now=now, period=period).digest
    people = [str(p) for p in getattr(account.source, "people", []) or []]
    gaps = first_run.missing(digest, account.digest.min_peers, people)
    if not gaps:
        return None
    held = first_run.hold(settings.state_path, account, period,
                          _format_digest(digest, "text", account, now), gaps)
    if digest.owner_missing:
        log.warning("%s", _owner_missing_line(account, digest))
        return replace(held, failed=True)  # a wrong address is an error, not setup
    return held


def _refuse_clock_behind(
    store: Store, accounts: list[AccountConfig], explicit_now: datetime | None
) -> bool:
    """Log why the clock is behind the stored state; True if any account is
    (issue 10, item 1): nothing is synced, purged or sent on such a clock.

    Sync runs are stamped with the real clock, so the last-run check applies only
    to the real clock; a pinned ``--now`` is checked against the ledger alone."""
    from peerpulse.worker.clock import clock_behind

    now = explicit_now or datetime.now(UTC)
    sent = store.newest_sent_periods()
    behind = []
    for account in accounts:
        runs = [
            s.last_run_started for s in store.source_statuses(account.name) if s.last_run_started
        ]
        last_run = None if explicit_now else max(runs, default=None)
        found = clock_behind(account.name, account.zone, now, sent.get(account.name), last_run)
        if found is not None:
            behind.append(found)
            log.error("%s", found.describe())
    if behind:
        log.error(
            "hint: fix the system clock (or --now); if the time is right, rerun with "
            "--accept-clock (a week older than one already sent is still never sent)"
        )
    return bool(behind)


def _owner_missing_line(account: AccountConfig, digest: Any) -> str:
    read = digest.stats.get("events_read", 0) + digest.stats.get("messages_read", 0)
    return (
        f"{account.name}: owner {account.owner} appears in none of the {read:,} records "
        "read, so the digest carries no advice; check the account's owner and aliases"
    )


def deliver_account_digest(
    store: Store,
    settings: Settings,
    account: AccountConfig,
    rules: Any,
    now: datetime,
    *,
    force: bool,
    built: list[Any] | None = None,
    stale_sources: tuple[str, ...] = (),
) -> Any:
    """Deliver ``account``'s digest if due; every digest computed is appended to ``built``.

    The one delivery path, public because organization mode's digest job
    (``worker.org.jobs.deliver_one``) runs it too: compute from the store, render,
    send through the account's backend under the ledger's exactly-once rules.

    ``stale_sources``: sources whose sync failed this run; the digest names them, so
    advice from their last stored data is never presented as current.
    """
    from peerpulse.worker.delivery import make_backend
    from peerpulse.worker.dispatch import deliver_due_digest

    def build(period: str) -> Any:
        digest = compute_for_account(
            store, settings, account, rules, now=now, period=period
        ).digest
        if stale_sources:
            digest = dataclasses.replace(
                digest, stats={**digest.stats, "stale_sources": list(stale_sources)})
        if built is not None:
            built.append(digest)
        return digest

    floor = _sent_before_this_store(store, settings, account, now)
    if floor is not None and not force:
        return floor
    newer = _newer_already_sent(store, account, now)
    if newer is not None:
        return newer
    backend = make_backend(
        account.delivery,
        owner=account.owner,
        resolve_path=settings.resolve_path,
        account=account,
        settings=settings,
    )
    report = deliver_due_digest(
        store, account, now=now, build_digest=build, backend=backend, force=force
    )
    _remember_sent(store, settings)
    return report


@dataclass(frozen=True)
class _AlreadySentBefore:
    """The due period was sent from an earlier store (the marker remembers it)."""

    period: str
    failed: bool = False

    def describe(self) -> str:
        return (
            f"digest for {self.period} already sent before this store was started "
            "(the store marker remembers it); not sent again (--force resends)"
        )


@dataclass(frozen=True)
class _NewerAlreadySent:
    """The due period is older than one the ledger already sent: the clock went
    back, and an older week's digest must never follow a newer one."""

    period: str
    newest: str
    failed: bool = True

    def describe(self) -> str:
        return (
            f"digest for {self.period} not sent: the digest for {self.newest} was already "
            "sent, so the clock is behind (an older week never goes out after a newer one)"
        )


def _newer_already_sent(
    store: Store, account: AccountConfig, now: datetime
) -> _NewerAlreadySent | None:
    from peerpulse.worker import schedule

    period = schedule.due_period(now, account.zone, account.digest.day, account.digest.time)
    newest = store.newest_sent_periods().get(account.name, "")
    if period is None or not newest or period >= newest:
        return None
    return _NewerAlreadySent(period, newest)


def _sent_before_this_store(
    store: Store, settings: Settings, account: AccountConfig, now: datetime
) -> _AlreadySentBefore | None:
    from peerpulse.worker import marker, schedule

    if settings.database is not None:
        return None  # no marker in organization mode: the shared ledger decides
    remembered = marker.read(settings.database_path)
    floor = remembered.periods_sent.get(account.name) if remembered else None
    period = schedule.due_period(now, account.zone, account.digest.day, account.digest.time)
    if floor is None or period is None or period > floor:
        return None
    if store.newest_sent_periods().get(account.name, "") >= floor:
        return None  # this store knows its own ledger; the normal path decides
    return _AlreadySentBefore(period)


def _remember_sent(store: Store, settings: Settings) -> None:
    from peerpulse.worker import marker

    if settings.database is not None:
        return  # the shared database is its own record; no marker file beside it
    path = settings.database_path
    marker.write(
        path, marker.merged(marker.read(path), store.store_id() or "", store.newest_sent_periods())
    )


def _print_delivery(env: Env, account: AccountConfig, report: Any, verbose: bool) -> bool:
    """Say what happened to the digest; True if the exit code must show a failure.

    Under cron nothing is printed on success; a failed or doubtful delivery (and a
    notice about an earlier period, which ``describe`` includes and ``failed``
    counts) is logged as an error whatever the verbosity.
    """
    line = f"{account.name}: {report.describe()}"
    if report.failed:
        log.error("%s", line)
    elif verbose:
        env.print(line)
    return bool(report.failed)


def digest(args: argparse.Namespace, env: Env) -> ExitCode:
    settings = config_module.load(args.config)
    rules = read_rules(settings)
    now = _now(args)
    accounts = _accounts(settings, args)
    if args.dry_run:
        with _open(settings, read_only=True) as store:
            for account in accounts:
                result = compute_for_account(store, settings, account, rules, now=now)
                env.print(_format_digest(result.digest, args.format, account, now))
                _compare_with_sent(env, store, account, result.digest, now)
        return ExitCode.OK
    failed = False
    with _locked(settings), _open(settings, accept_new_store=args.accept_new_store) as store:
        for account in accounts:
            outcome = deliver_account_digest(store, settings, account, rules, now, force=args.force)
            failed |= _print_delivery(env, account, outcome, verbose=True)
    return ExitCode.PARTIAL_FAILURE if failed else ExitCode.OK


def _compare_with_sent(
    env: Env, store: Store, account: AccountConfig, digest: Any, now: datetime
) -> None:
    """On stderr (the digest itself stays clean on stdout): how this computation
    differs from the digest already sent for the period, e.g. after a rule edit."""
    from peerpulse.worker import ledger
    from peerpulse.worker.digest.compare import differences
    from peerpulse.worker.digest.render import render_digest

    sent = ledger.latest(store, account.name, account.recipient, digest.period)
    if sent is None or sent.state != "sent":
        return
    rendered = render_digest(digest, recipient=account.recipient, sender=account.owner, now=now)
    changes = differences(sent.subject, sent.message, rendered.subject, rendered.text,
                          ignore=(account.recipient, account.owner))
    head = f"{account.name}: the {digest.period} digest was already sent"
    if not changes:
        env.stderr.write(f"{head}; this computation names the same people.\n")
        return
    env.stderr.write(f"{head}; with the current rules and data it would differ:\n")
    for line in changes:
        env.stderr.write(terminal_text(f"  {line}") + "\n")
    env.stderr.write("  (`peerpulse digest --force` sends this version)\n")


def _format_digest(digest: Any, fmt: str, account: AccountConfig, now: datetime) -> str:
    if fmt == "json":
        return dump_json(digest.to_json())
    from peerpulse.worker.digest.render import render_digest

    rendered = render_digest(digest, recipient=account.recipient, sender=account.owner, now=now)
    return rendered.html if fmt == "html" else f"Subject: {rendered.subject}\n\n{rendered.text}"


def rules_check(args: argparse.Namespace, env: Env) -> ExitCode:
    settings = config_module.load(args.config)
    rules = read_rules(settings)
    now = _now(args)
    env.print(f"rules OK: default rules + {len(settings.rules)} user file(s)")
    for path in settings.rules:
        env.print(f"  {settings.resolve_path(path)}")
    with _open(settings, read_only=True) as store:
        for account in _accounts(settings, args):
            result = compute_for_account(store, settings, account, rules, now=now, raw=True)
            env.print(f"\n{account.name}: what each rule did on the stored records")
            counts = result.rule_counts
            width = max((len(k) for k in counts), default=10)
            for rule, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
                env.print(f"  {rule.ljust(width)}  {count:>9,}")
            streams = result.informing()
            shown = ", ".join(streams[:5]) + (f", and {len(streams) - 5} more"
                                              if len(streams) > 5 else "")
            keep = "peer keeps" if len(streams) == 1 else "peers keep"
            env.print(terminal_text(
                f"  reciprocity: {len(streams)} {keep} you "
                f"informed (threads you seldom answer: no debt either way; [reciprocity] "
                f"informing_min_threads, informing_max_answered){': ' + shown if streams else ''}"))
            mine = result.informed()
            listed = ", ".join(mine[:5]) + (f", and {len(mine) - 5} more"
                                            if len(mine) > 5 else "")
            env.print(terminal_text(
                f"  reciprocity: you keep {len(mine)} {'peer' if len(mine) == 1 else 'peers'} "
                f"informed (threads they seldom answer: they owe you nothing for them; same "
                f"thresholds){': ' + listed if mine else ''}"))
            if result.digest.stats.get("management_chain_known") is False:
                env.print("  note: the directory has no manager column, so your management "
                          "chain and reports are unknown; leaders and your team are told apart "
                          "by title ([peers] title_levels)")
    return ExitCode.OK


def explain(args: argparse.Namespace, env: Env) -> ExitCode:
    settings = config_module.load(args.config)
    rules = read_rules(settings)
    now = _now(args)
    with _open(settings, read_only=True) as store:
        for account in _accounts(settings, args):
            result = compute_for_account(store, settings, account, rules, now=now, raw=True)
            explanation = result.explain(args.email.strip().lower())
            if settings.privacy.subjects == "kept":
                ids = [i.record_id for i in explanation.counted]
                ids += [e.record_id for e in explanation.excluded]
                explanation = dataclasses.replace(
                    explanation, labels=store.record_labels(account.name, ids))
            env.print(terminal_text(f"== {account.name} =="))
            env.print(terminal_text(str(explanation)))
    return ExitCode.OK


def status(args: argparse.Namespace, env: Env) -> ExitCode:
    settings = config_module.load(args.config)
    now = _now(args)
    if settings.database is None and not settings.database_path.exists():
        env.print(f"no state yet at {settings.database_path}; run `peerpulse run` first")
        return ExitCode.OK
    out: list[dict[str, Any]] = []
    rules = _rules_or_none(settings)
    with _open(settings, read_only=True) as store:
        _refuse_damaged(store, settings)
        upgrade = _upgrade_pending(store)
        for account in _accounts(settings, args):
            item = _account_status(store, account, now)
            item["upgrade_pending"] = upgrade
            item["owner_missing"] = None  # unknown while the rules do not load
            if rules is not None:
                digest = compute_for_account(store, settings, account, rules, now=now).digest
                item["owner_missing"] = digest.owner_missing
                if item["history"] is not None:
                    item["history"] = digest.stats.get("history", item["history"])
                if digest.owner_missing:
                    item["warning"] = _owner_missing_line(account, digest)
            out.append(item)
    if args.json:
        env.print(dump_json(out))
        return ExitCode.OK
    env.print(f"state: {state_location(settings)}")
    if upgrade is not None:
        env.print(f"schema {upgrade['stored_schema']} on disk, this peerpulse uses "
                  f"{upgrade['schema']}: the next `peerpulse run` (or `sync`) upgrades it; "
                  "shown here as it will read after the upgrade (nothing was written)")
    for item in out:
        env.print(f"\n{item['account']} ({item['owner']}, {item['timezone']})")
        c = item["counts"]
        env.print(
            f"  stored: {c['events']:,} events, {c['messages']:,} messages, "
            f"{c['people']:,} people; {c['skipped_inputs']:,} skipped inputs"
        )
        for s in item["sources"]:
            age = (
                f"{s['cursor_age_hours']:.1f} h ago"
                if s["cursor_age_hours"] is not None
                else "never"
            )
            error = f"  error: {s['error']}" if s["error"] else ""
            env.print(
                f"  {s['source']:<10} last sync {s['last_run'] or 'never'} ({s['outcome']}), "
                f"cursor saved {age}, {s['skipped']} skipped{error}"
            )
        if item["history"] is not None:
            from peerpulse.worker.loading import summary_line

            env.print(f"  {summary_line(item['history'])}")
        for location, reason in item["recent_skipped"][:5]:
            env.print(f"  skipped {location}: {reason}")
        if item["management_chain_known"] is False:
            env.print("  directory: no manager column, so your management chain and reports are "
                      "unknown; leaders and your team are told apart by title "
                      "([peers] title_levels)")
        if item.get("warning"):
            env.print(f"  WARNING: {item['warning']}")
        env.print(f"  last digest: {item['last_digest'] or 'none yet'}")
        for gap in item["unsent"]:
            env.print(f"  not sent: {gap['period']} {gap['state']}: {gap['action']}")
        env.print(f"  next digest due: {item['next_digest']}")
    return ExitCode.OK


def _upgrade_pending(store: Store) -> dict[str, int] | None:
    """A store one or more migrations behind after an upgrade of peerpulse: not a
    fault (the next writer migrates it), so ``status`` reports it and exits 0."""
    if store.upgrade_pending is None:
        return None
    stored, schema = store.upgrade_pending
    return {"stored_schema": stored, "schema": schema}


def _refuse_damaged(store: Store, settings: Settings) -> None:
    """StateError (exit 1) naming the file and the first problems if SQLite's quick
    integrity check finds damage, so ``status`` never says all is well over a
    damaged store."""
    from peerpulse.worker.errors import StateError

    problems = store.quick_check()
    if problems:
        shown = "; ".join(terminal_text(p) for p in problems[:3])
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise StateError(
            f"{state_location(settings)} is damaged: {shown}{more}. Run `peerpulse doctor "
            "--repair` to rebuild it from the sources, keeping its ledger (no week is "
            "sent again)"
        )


def _rules_or_none(settings: Settings) -> Any:
    """The rules, or None if they do not load: `status` still reports the rest."""
    from peerpulse.worker.errors import RulesError

    try:
        return read_rules(settings)
    except RulesError as exc:
        log.warning("rules do not load (%s); run `peerpulse rules check`", exc)
        return None


def _account_status(store: Store, account: AccountConfig, now: datetime) -> dict[str, Any]:
    from peerpulse.worker import ledger, schedule

    counts = store.counts(account.name)
    sources = []
    for s in store.source_statuses(account.name):
        age = (now - s.cursor_updated_at).total_seconds() / 3600 if s.cursor_updated_at else None
        sources.append(
            {
                "source": s.source,
                "last_run": s.last_run_started.isoformat(timespec="seconds")
                if s.last_run_started
                else None,
                "outcome": s.last_run_outcome,
                "error": s.last_run_error,
                "cursor_age_hours": age,
                "skipped": s.skipped_inputs,
            }
        )
    from peerpulse.worker import loading
    from peerpulse.worker.gaps import unsent_periods

    history = loading.status(store, account.name)
    last = ledger.last_entry(store, account.name)
    unsent = unsent_periods(ledger.entries(store, account.name), now, account.zone,
                            account.digest.day, account.digest.time)
    return {
        "account": account.name,
        "owner": account.owner,
        "timezone": account.timezone,
        "counts": {
            "events": counts.events,
            "messages": counts.messages,
            "people": counts.people,
            "skipped_inputs": counts.skipped_inputs,
        },
        "sources": sources,
        # None: history complete; else what the digest says while it loads (worker/loading.py)
        # (``status`` replaces it with the digest's own when the rules load: the held
        # sections depend on [reciprocity] window_days)
        "history": None if history.complete else loading.describe(
            history, list(loading.HELD), loading.flagged_sections(history)),
        "recent_skipped": [(loc, reason) for _, loc, reason in store.skipped_inputs(account.name)],
        "last_digest": last,
        "unsent": [{"period": g.period, "state": g.state, "action": g.action} for g in unsent],
        # None: no directory yet; False: a directory without a manager column.
        "management_chain_known": (
            any(p.manager for p in store.people(account.name)) if counts.people else None
        ),
        "next_digest": schedule.next_due(
            now, account.zone, account.digest.day, account.digest.time
        ).isoformat(timespec="minutes"),
        "current_period": period_of(now, account.zone),
    }


def auth(args: argparse.Namespace, env: Env) -> ExitCode:
    """``peerpulse auth <provider> --account NAME``: the provider's registered flow."""
    from pathlib import Path

    from peerpulse.connectors.base import ConnectorError
    from peerpulse.connectors.registry import AuthRequest, registry
    from peerpulse.worker.errors import PeerpulseError

    settings = config_module.load(args.config)
    account = settings.account(args.account)
    found = registry()
    command = found.auth[args.provider]
    if account.source.type != command.provider:
        raise ConfigError(
            f"account {account.name!r} uses the {account.source.type!r} connector, "
            f"not {command.provider}",
            key=f"accounts.{account.name}.source.type",
        )
    provider = found.providers.get(command.provider)
    sends = provider is not None and provider.delivery is not None and (
        account.delivery.type == provider.delivery.name
    )
    request = AuthRequest(
        account=account.name,
        settings=account.source,
        state_dir=Path(settings.state_path),
        base_dir=Path(settings.base_dir),
        console=args.console,
        send=sends,
        say=env.print,
    )
    try:
        path = command.run(request)
    except ConnectorError as exc:
        raise PeerpulseError(str(exc), getattr(exc, "hint", None)) from None
    env.print(f"{account.name}: {command.title} authorization stored in {path} (mode 0600)")
    return ExitCode.OK
