"""``peerpulse snooze | done | never | undo | list-overrides``: acting on advice (issue 13).

Kept apart from ``cli.py`` (one ``register`` call hooks these in) and from
``commands.py``, so the commands that act on a person read in one place. What
an override means is ``rules.overrides``; how it is stored and how command
mails are checked is ``worker.overrides``.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from peerpulse.rules.overrides import DEFAULT_SNOOZE_WEEKS, MAX_SNOOZE_WEEKS
from peerpulse.worker.console import Env, dump_json, parse_now
from peerpulse.worker.digest.sanitize import terminal_text
from peerpulse.worker.errors import ConfigError, ExitCode


def register(sub: Any) -> None:
    """Add the override commands to the ``peerpulse`` subparsers."""

    def common(p: argparse.ArgumentParser, *, email: bool = True) -> None:
        if email:
            p.add_argument("email", help="the person's address (any alias works)")
        p.add_argument("--account", help="only this account (default: every account "
                       "whose people include the address)")
        p.add_argument("--now", help="pin the clock (ISO date/datetime; also PEERPULSE_NOW)")

    p = sub.add_parser(
        "snooze", help="leave a person out of every digest section for a few weeks",
        description="Leave EMAIL out of every digest section (peer of the week, reconnect, "
        "reciprocity, celebrate, feedback, invitations) for --weeks weeks from today. "
        "`peerpulse undo EMAIL` ends it early.")
    common(p)
    p.add_argument("--weeks", type=int, default=DEFAULT_SNOOZE_WEEKS,
                   help=f"how long, 1 to {MAX_SNOOZE_WEEKS} "
                   f"(default: {DEFAULT_SNOOZE_WEEKS})")
    p.set_defaults(func=give("snooze"))

    p = sub.add_parser(
        "done", help="you were in touch with a person today: counts as an interaction",
        description="Record that you were in touch with EMAIL today (a call, a hallway "
        "chat, anything the data cannot see). It counts as one interaction "
        "(kind marked_done, weight [kinds.weights] marked_done), so recency and "
        "cadence restart from today.")
    common(p)
    p.set_defaults(func=give("done"))

    p = sub.add_parser(
        "never", help="never suggest a person again",
        description="Leave EMAIL out of every digest section until `peerpulse undo EMAIL`.")
    common(p)
    p.set_defaults(func=give("never"))

    p = sub.add_parser(
        "undo", help="undo the latest snooze, done or never for a person",
        description="Undo the most recent override still in force for EMAIL (the one "
        "`list-overrides` shows last for them). Run it again to undo the one before.")
    common(p)
    p.set_defaults(func=undo)

    p = sub.add_parser(
        "list-overrides", help="list snoozes, dones and nevers in force",
        description="Every override in force per account: never, snoozes not over yet, "
        "dones of the last 4 weeks, with when and from where (cli or a digest link). "
        "Also the command mails of the last week that were ignored, and why.")
    common(p, email=False)
    p.add_argument("--all", action="store_true", help="include undone and expired ones")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=list_overrides)


def _now(args: argparse.Namespace) -> datetime:
    return parse_now(getattr(args, "now", None)) or datetime.now(UTC)


def _open(settings: Any, *, read_only: bool = False) -> Any:
    from peerpulse.worker.commands import _open as open_checked

    return open_checked(settings, read_only=read_only)


def _accounts(settings: Any, args: argparse.Namespace) -> list[Any]:
    name = getattr(args, "account", None)
    return [settings.account(name)] if name else list(settings.accounts)


def give(action: str) -> Any:
    def command(args: argparse.Namespace, env: Env) -> ExitCode:
        from peerpulse.worker import config as config_module
        from peerpulse.worker import overrides

        weeks = getattr(args, "weeks", DEFAULT_SNOOZE_WEEKS)
        if not 1 <= weeks <= MAX_SNOOZE_WEEKS:
            raise ConfigError(f"--weeks must be 1 to {MAX_SNOOZE_WEEKS}, got {weeks}",
                              file="command line")
        settings = config_module.load(args.config)
        now = _now(args)
        with _open(settings) as store:
            targets = _resolve(store, _accounts(settings, args), args.email)
            for account, email, directory in targets:
                item = overrides.new_override(email, action, now, account.zone,
                                              source="cli", weeks=weeks)
                store.add_override(account.name, item)
                env.print(terminal_text(
                    f"{account.name}: {overrides.describe(item, directory.names)}"
                    + _consequence(action)))
        return ExitCode.OK

    command.__name__ = f"cmd_{action}"
    return command


def _consequence(action: str) -> str:
    if action == "done":
        return " (counts as an interaction today; the cadence restarts)"
    if action == "snooze":
        return " (left out of every section until then)"
    return " (left out of every section)"


def _resolve(store: Any, accounts: list[Any], address: str) -> list[tuple[Any, str, Any]]:
    """(account, canonical email, directory) for every account that knows ``address``;
    the first account's error (with close matches) when none does."""
    from peerpulse.worker import overrides

    found = []
    first_error: ConfigError | None = None
    for account in accounts:
        directory = overrides.Directory(store.people(account.name))
        try:
            found.append((account, directory.require(address), directory))
        except ConfigError as exc:
            first_error = first_error or exc
    if not found and first_error is not None:
        raise first_error
    return found


def undo(args: argparse.Namespace, env: Env) -> ExitCode:
    from peerpulse.worker import config as config_module
    from peerpulse.worker import overrides

    settings = config_module.load(args.config)
    at = int(_now(args).timestamp())
    undone = 0
    with _open(settings) as store:
        for account in _accounts(settings, args):
            directory = overrides.Directory(store.people(account.name))
            raw = args.email.strip().lower()
            canonical = directory.resolve(raw) or raw
            addresses = [canonical, raw, *(a for a, c in directory.canonical.items()
                                           if c == canonical)]
            item = store.undo_override(account.name, addresses, at)
            if item is not None:
                undone += 1
                env.print(terminal_text(
                    f"{account.name}: undone: {overrides.describe(item, directory.names)} "
                    f"({item.source}, given {_when(item.created_at)})"))
    if not undone:
        raise ConfigError(f"no snooze, done or never in force for {args.email!r}; "
                          "`peerpulse list-overrides` shows them", file="command line")
    return ExitCode.OK


def _when(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="minutes")


def list_overrides(args: argparse.Namespace, env: Env) -> ExitCode:
    from peerpulse.worker import config as config_module
    from peerpulse.worker import overrides

    settings = config_module.load(args.config)
    now = _now(args)
    if not settings.database_path.exists():
        env.print(f"no state yet at {settings.database_path}; nothing given yet")
        return ExitCode.OK
    out: list[dict[str, Any]] = []
    with _open(settings, read_only=True) as store:
        for account in _accounts(settings, args):
            stored = store.overrides(account.name, include_undone=args.all)
            today = now.astimezone(account.zone).date()
            shown = stored if args.all else overrides.in_force(stored, today)
            ignored = [c for c in overrides.report_lines(store, account.name, now)
                       if c["outcome"] == "ignored"]
            out.append({
                "account": account.name,
                "overrides": [
                    {"email": o.email, "action": o.action,
                     "until": o.until.isoformat() if o.until else None,
                     "given": _when(o.created_at), "source": o.source,
                     "undone": _when(o.undone_at) if o.undone_at else None}
                    for o in shown
                ],
                "ignored_commands": ignored,
            })
    if args.json:
        env.print(dump_json(out))
        return ExitCode.OK
    for item in out:
        env.print(terminal_text(f"{item['account']}:"))
        if not item["overrides"]:
            env.print("  none")
        for o in item["overrides"]:
            what = f"snooze until {o['until']}" if o["action"] == "snooze" else o["action"]
            undone = f"  (undone {o['undone']})" if o["undone"] else ""
            env.print(terminal_text(f"  {o['email']:<32} {what:<22} {o['source']:<4} "
                                    f"given {o['given']}{undone}"))
        for c in item["ignored_commands"]:
            env.print(terminal_text(f"  ignored a command mail of {c['sent']}: {c['detail']}"))
    return ExitCode.OK
