"""``peerpulse init`` and ``peerpulse people suggest``: from nothing to a first digest (issue 13).

The own-data recipe is: ``init`` (a commented config, validated, and a first
sync with progress) → ``people suggest`` (a people file from your own
correspondents) → fill in department, title, manager → ``digest --dry-run`` →
``run``. Hooked into ``cli.py`` by one ``register`` call; the pure part of the
suggestion is ``rules.suggest``, the file writing ``worker.people_suggest``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from peerpulse.worker import paths
from peerpulse.worker.console import Env, parse_now
from peerpulse.worker.digest.sanitize import terminal_text
from peerpulse.worker.errors import ConfigError, ExitCode

ADDRESS_HELP = "your own address, as it appears in your mail and calendar"


def register(sub: Any) -> None:
    p = sub.add_parser(
        "init", help="write a commented config, validate it and run a first sync",
        description="Set peerpulse up for one manager: asks for (or takes as flags) your "
        "address, time zone and sources, writes a commented config (at --config, else "
        "$PEERPULSE_CONFIG, else $XDG_CONFIG_HOME/peerpulse/config.toml), validates it, "
        "and runs a first sync with progress. Next: `peerpulse people suggest`.")
    p.add_argument("--owner", help=ADDRESS_HELP)
    p.add_argument("--alias", action="append", default=[], help="another address of yours "
                   "(repeatable)")
    p.add_argument("--timezone", help="IANA time zone, e.g. Europe/Berlin (default: this "
                   "machine's)")
    p.add_argument("--calendar", action="append", default=[],
                   help="ICS file, folder or glob (repeatable)")
    p.add_argument("--mail", action="append", default=[],
                   help="mbox file, Maildir, folder of .eml, or glob (repeatable)")
    p.add_argument("--people", help="people CSV/TOML (default: people.csv beside the config, "
                   "created empty for `people suggest` to fill)")
    p.add_argument("--source", default="files", metavar="TYPE",
                   help="where the data comes from: files (exports, the default) or an "
                   "installed provider's type, e.g. the calendar and mail API of your "
                   "mail service (then run `peerpulse auth TYPE --account NAME`)")
    p.add_argument("--account", default="me", help="account name (default: me)")
    p.add_argument("--out", default="digests", help="folder the digest files go to "
                   "(default: digests, beside the config)")
    p.add_argument("--no-sync", action="store_true", help="write and validate only")
    p.add_argument("--force", action="store_true", help="replace an existing config")
    p.set_defaults(func=init)

    people = sub.add_parser(
        "people", help="the people file: build it from your own mail",
        description="Work with the people file that says who your peers are.")
    people_sub = people.add_subparsers(dest="people_command", metavar="SUBCOMMAND")
    people_sub.required = True
    p = people_sub.add_parser(
        "suggest", help="write a people file from your most frequent correspondents",
        description="From the synced metadata, your most frequent real correspondents "
        "(after the noise rules: no lists, automated mail, all-hands), with counts and last "
        "contact, written as a people CSV with the columns to fill (department, title, "
        "manager) and what the data already gives (directory values, display names, "
        "'external' for other domains). Run `peerpulse sync` first.")
    p.add_argument("--account", help="the account (default: the only one)")
    p.add_argument("--out", help="the people CSV to write (default: the account's first "
                   "people file)")
    p.add_argument("--merge", action="store_true",
                   help="keep every value already in --out; add new people, fill empty cells")
    p.add_argument("--force", action="store_true", help="replace --out")
    p.add_argument("--limit", type=int, default=60, help="at most this many people (60)")
    p.add_argument("--min", type=int, default=2, dest="minimum",
                   help="at least this many interactions (2)")
    p.add_argument("--now", help="pin the clock (ISO date/datetime; also PEERPULSE_NOW)")
    p.set_defaults(func=people_suggest)


# -- init ------------------------------------------------------------------------------


def _local_zone() -> str:
    """This machine's IANA zone (TZ, /etc/timezone, /etc/localtime), else UTC."""
    candidates = [os.environ.get("TZ", "").lstrip(":")]
    with contextlib.suppress(OSError):
        candidates.append(Path("/etc/timezone").read_text().strip())
    try:
        target = os.readlink("/etc/localtime")
        candidates.append(target.partition("zoneinfo/")[2])
    except OSError:
        pass
    for name in candidates:
        if name and _valid_zone(name):
            return name
    return "UTC"


def _valid_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _ask(env: Env, ask: Callable[[str], str] | None, question: str, default: str = "") -> str:
    if ask is None:
        return default
    shown = f"{question} [{default}]: " if default else f"{question}: "
    answer = ask(shown).strip()
    return answer or default


def _list(values: list[str]) -> str:
    return json.dumps(values)


def config_text(*, account: str, owner: str, aliases: list[str], timezone: str,
                calendar: list[str], mail: list[str], people: str,
                provider_source: str | None, out: str) -> str:
    """The config ``init`` writes, commented like config.example.toml;
    ``provider_source`` is a registered provider's own ``[accounts.source]`` table
    (``Provider.init_source``), else the files source is written from the paths."""
    if provider_source is not None:
        source = provider_source
    else:
        source = f"""[accounts.source]
type = "files"                             # exports: ICS calendars, mbox, Maildir, .eml
calendar = {_list(calendar)}        # ICS files, folders or globs
mail = {_list(mail)}            # mbox files, Maildir folders, folders of .eml, globs
people = {_list([people])}          # who is who: `peerpulse people suggest` fills it
window_past_days = 400                     # how far back to read
"""
    today = f"{datetime.now(UTC):%Y-%m-%d}"
    return f"""# peerpulse configuration, written by `peerpulse init` on {today}.
# Every key is explained in config.example.toml and the README ("Configuration").
# Rules (what counts, cadences, digest policy) live in their own TOML files:
rules = []                                 # e.g. ["rules.toml"], layered over the defaults

[privacy]
subjects = "kept"                          # "kept" (talking points, explain), "hashed" or "off"
retention_days = 400                       # stored metadata older than this is purged

[[accounts]]
name = {json.dumps(account)}
owner = {json.dumps(owner)}         # your address
aliases = {_list(aliases)}                  # your other addresses
timezone = {json.dumps(timezone)}           # the digest's days and hours are in this zone

{source}
[accounts.digest]
day = "monday"                             # when the weekly digest is due ...
time = "07:00"                             # ... local time; `peerpulse run` hourly sends it once

[accounts.delivery]
type = "file"                              # write .txt, .html and .eml files
dir = {json.dumps(out)}                    # relative to this file's folder
"""


def _provider(name: str) -> Any:
    """The registered provider ``init --source`` names, or None for plain export files."""
    if name == "files":
        return None
    from peerpulse.connectors.registry import registry

    found = registry().providers.get(name)
    if found is None or found.init_source is None:
        known = sorted(n for n, p in registry().providers.items() if p.init_source)
        raise ConfigError(f"--source {name!r}: no installed provider that init can set up "
                          f"(choose from: files, {', '.join(known)}); or write "
                          "[accounts.source] by hand, see config.example.toml",
                          file="command line")
    return found


def init(args: argparse.Namespace, env: Env, ask: Callable[[str], str] | None = None) -> ExitCode:
    from peerpulse.worker import config as config_module

    if ask is None and sys.stdin.isatty():
        ask = input
    target = Path(os.path.expanduser(args.config or os.environ.get("PEERPULSE_CONFIG", "")
                                     or str(paths.default_config_file())))
    if target.exists() and not args.force:
        raise ConfigError(f"{target} exists; edit it, or pass --force to replace it",
                          file="command line")
    owner = (args.owner or _ask(env, ask, "Your email address")).strip().lower()
    if "@" not in owner:
        raise ConfigError("an owner address is needed: --owner you@example.com",
                          file="command line")
    timezone = args.timezone or _ask(env, ask, "Time zone", _local_zone())
    if not _valid_zone(timezone):
        raise ConfigError(f"unknown time zone {timezone!r} (an IANA name like Europe/Berlin)",
                          file="command line")
    provider = _provider(args.source)
    calendar, mail = list(args.calendar), list(args.mail)
    if provider is None and not calendar and not mail:
        calendar = _split(_ask(env, ask, "Calendar exports (ICS files or folders, "
                                         "comma-separated)"))
        mail = _split(_ask(env, ask, "Mail exports (mbox, Maildir or .eml folders, "
                                     "comma-separated)"))
        if not calendar and not mail:
            raise ConfigError("no source: pass --calendar and/or --mail export paths, "
                              "or --source TYPE", file="command line")
    people = args.people or "people.csv"
    text = config_text(account=args.account, owner=owner, aliases=args.alias,
                       timezone=timezone, calendar=calendar, mail=mail, people=people,
                       provider_source=provider.init_source if provider else None,
                       out=args.out)
    target.parent.mkdir(parents=True, exist_ok=True)
    draft = target.with_name(f".{target.name}.init")
    draft.write_text(text, encoding="utf-8")
    try:
        settings = config_module.load_settings(draft)
    except ConfigError:
        draft.unlink(missing_ok=True)
        raise
    people_path = settings.resolve_path(people)
    _check_inputs(settings, env, created=people_path)
    if provider is None and not people_path.exists():
        people_path.write_text(",".join(people_columns()) + "\n",
                               encoding="utf-8")
    os.replace(draft, target)
    env.print(terminal_text(f"wrote {target} (account {args.account!r}, owner {owner}, "
                            f"{timezone})"))
    if provider is not None:
        env.print("next: " + provider.init_next.format(account=args.account))
        return ExitCode.OK
    if args.no_sync:
        env.print("next: `peerpulse sync`, then `peerpulse people suggest`")
        return ExitCode.OK
    from peerpulse.worker import commands

    sync_args = argparse.Namespace(config=str(target), account=None, now=None,
                                   accept_new_store=False, verbose=0, quiet=False)
    env.print("first sync (this reads your exports once; later syncs read only what is new):")
    code = commands.sync(sync_args, _Loud(env))
    env.print(f"next: `peerpulse --config {target} people suggest` writes {people_path} from "
              "your own correspondents; fill in department, title and manager, then "
              "`peerpulse digest --dry-run`, then schedule `peerpulse run`")
    return code


class _Loud(Env):
    """The first sync prints its per-source summary even when not on a terminal."""

    def __init__(self, env: Env) -> None:
        super().__init__(env.stdout, env.stderr)

    @property
    def interactive(self) -> bool:
        return True


def people_columns() -> tuple[str, ...]:
    from peerpulse.worker.people_suggest import COLUMNS

    return COLUMNS


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _check_inputs(settings: Any, env: Env, *, created: Path) -> None:
    """Export paths that match nothing: said now, not discovered after a silent sync
    (``created`` is the people file init is about to write)."""
    import glob

    for account in settings.accounts:
        for value in account.source.local_paths():
            path = settings.resolve_path(value)
            if path != created and not path.exists() and not glob.glob(str(path)):
                env.stderr.write(terminal_text(
                    f"peerpulse: warning: input {path} does not exist (yet)") + "\n")


# -- people suggest ----------------------------------------------------------------------


def people_suggest(args: argparse.Namespace, env: Env) -> ExitCode:
    from peerpulse.rules.suggest import correspondents
    from peerpulse.worker import config as config_module
    from peerpulse.worker import people_suggest as writer
    from peerpulse.worker.commands import _open
    from peerpulse.worker.pipeline import read_rules

    settings = config_module.load(args.config)
    rules = read_rules(settings)
    now = parse_now(args.now) or datetime.now(UTC)
    account = _one_account(settings, args.account)
    out = _target(settings, account, args.out)
    if not settings.database_path.exists():
        raise ConfigError("nothing synced yet: run `peerpulse sync` first", file="command line")
    from datetime import timedelta

    with _open(settings, read_only=True) as store:
        counts = store.counts(account.name)
        since = now - timedelta(days=settings.privacy.retention_days)
        found = correspondents(
            account.owner, account.owner_addresses,
            store.iter_events(account.name, since=since),
            store.iter_messages(account.name, since=since),
            store.people(account.name), rules, now)
    chosen = [c for c in found if c.interactions >= args.minimum][: max(args.limit, 0)]
    if not chosen:
        env.print(f"{account.name}: no correspondent with {args.minimum}+ interactions in "
                  f"{counts.events:,} events and {counts.messages:,} messages; check the "
                  "owner address and aliases, or lower --min")
        return ExitCode.OK
    header_only = out.exists() and _header_only(out)
    written = writer.write(out, writer.rows_for(chosen), merge=args.merge,
                           force=args.force or header_only)
    env.print(terminal_text(
        f"{account.name}: {len(chosen)} correspondents (of {len(found)}) from "
        f"{counts.events:,} events and {counts.messages:,} messages"))
    env.print(f"  {'interactions':>12}  {'mail':>5}  {'meet':>5}  last contact  who")
    zone = account.zone
    for c in chosen:
        last = datetime.fromtimestamp(c.last_at, zone).date().isoformat() if c.last_at else "-"
        who = f"{c.name} <{c.email}>" if c.name else c.email
        env.print(terminal_text(f"  {c.interactions:>12}  {c.mail:>5}  {c.meetings:>5}  "
                                f"{last:<12}  {who}"))
    env.print(terminal_text(
        f"wrote {written.path}: {written.new} new, {written.kept} kept"
        + (f" ({written.filled} empty cells filled)" if written.filled else "")
        + ". Fill in department, title and manager, or manages_anyone = yes for people "
        "who manage a team (aliases are ';'-separated), "
        "then `peerpulse sync` and `peerpulse digest --dry-run`."))
    return ExitCode.OK


def _one_account(settings: Any, name: str | None) -> Any:
    if name:
        return settings.account(name)
    if len(settings.accounts) != 1:
        raise ConfigError("several accounts: choose one with --account", file="command line")
    return settings.accounts[0]


def _target(settings: Any, account: Any, out: str | None) -> Path:
    if out:
        return Path(os.path.expanduser(out))
    configured = list(getattr(account.source, "people", []) or [])
    if not configured:
        raise ConfigError("the account has no people file configured: pass --out people.csv "
                          "and add it to [accounts.source] people", file="command line")
    return settings.resolve_path(configured[0])


def _header_only(path: Path) -> bool:
    try:
        lines = [x for x in path.read_text(encoding="utf-8-sig").splitlines() if x.strip()]
    except (OSError, UnicodeDecodeError):
        return False
    return len(lines) <= 1
