"""The ``peerpulse`` command line: parsing, wiring, and the one place errors become exit codes.

Every subcommand is a small function ``cmd_<name>(args, env) -> ExitCode`` that
wires the layers together; none prints a traceback or calls ``sys.exit``.
``main`` maps our exceptions to a single clear message and the documented exit
code (README, "Exit codes").
"""

from __future__ import annotations

import argparse
import logging
import sqlite3
import sys
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path

from peerpulse.worker import logs
from peerpulse.worker.console import Env, dump_json, parse_now
from peerpulse.worker.errors import (
    ConfigError,
    ExitCode,
    PeerpulseError,
    StateError,
    StoreError,
)

__all__ = ["Env", "build_parser", "dump_json", "main", "parse_now"]

log = logging.getLogger("peerpulse")


# -- parser ------------------------------------------------------------------------------


def build_parser(with_providers: bool = True) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="peerpulse",
        description="Keep your peer network alive: sync calendar and mail metadata, "
        "infer who you really interact with, and get a weekly explained digest.",
        epilog="Exit codes: 0 ok, 1 partial failure, 2 usage or config error, "
        "75 another run holds the lock.",
    )
    parser.add_argument(
        "--config",
        help="config file (default: $PEERPULSE_CONFIG, then "
        "$XDG_CONFIG_HOME/peerpulse/config.toml)",
    )
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more output (-v info, -vv debug)"
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="errors only")
    parser.add_argument(
        "--log-format",
        choices=["text", "json"],
        default="text",
        help="log line format on stderr (default: text)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    def account_arg(p: argparse.ArgumentParser) -> None:
        p.add_argument("--account", help="only this account (default: all accounts)")

    def now_arg(p: argparse.ArgumentParser) -> None:
        p.add_argument("--now", help="pin the clock (ISO date/datetime; also PEERPULSE_NOW)")

    def accept_arg(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--accept-new-store",
            action="store_true",
            help="start from a missing, empty or replaced state database although the "
            "store marker says data existed (weeks already sent are not sent again)",
        )

    p = sub.add_parser(
        "run",
        help="sync every account, then deliver digests that are due",
        description="The scheduled job: safe to call hourly. Syncs every "
        "account, then sends a digest only when one is due and not yet sent.",
    )
    account_arg(p)
    now_arg(p)
    accept_arg(p)
    p.add_argument(
        "--accept-clock",
        action="store_true",
        help="run although the clock is earlier than the last run or the newest week "
        "sent (an older week is still never sent after a newer one)",
    )
    p.set_defaults(func=_command("run"))

    p = sub.add_parser(
        "sync",
        help="sync sources into the store, send nothing",
        description="Pull new calendar, mail and directory metadata.",
    )
    account_arg(p)
    now_arg(p)
    accept_arg(p)
    p.set_defaults(func=_command("sync"))

    p = sub.add_parser(
        "digest",
        help="compute (and deliver) this period's digest",
        description="Compute the digest from stored data. Without --dry-run "
        "it is delivered once for the period (use --force to resend).",
    )
    account_arg(p)
    now_arg(p)
    p.add_argument(
        "--dry-run", action="store_true", help="print it, deliver nothing, record nothing"
    )
    p.add_argument(
        "--format",
        choices=["text", "html", "json"],
        default="text",
        help="what --dry-run prints (default: text)",
    )
    p.add_argument(
        "--force", action="store_true", help="deliver even if this period's digest was already sent"
    )
    accept_arg(p)
    p.set_defaults(func=_command("digest"))

    rules = sub.add_parser(
        "rules", help="rule files: check them", description="Work with the TOML rule files."
    )
    rules_sub = rules.add_subparsers(dest="rules_command", metavar="SUBCOMMAND")
    rules_sub.required = True
    p = rules_sub.add_parser(
        "check",
        help="validate the rules and show what they do on stored data",
        description="Validate the rule files and count, per rule, how "
        "many stored records it counted or excluded.",
    )
    account_arg(p)
    now_arg(p)
    p.set_defaults(func=_command("rules_check"))

    p = sub.add_parser(
        "explain",
        help="show the whole computation for one person",
        description="Every counted record with kind and weight, every "
        "excluded one with the rule that excluded it, the score, the "
        "cadence and the reasons.",
    )
    p.add_argument("email", help="the person's address (any alias works)")
    account_arg(p)
    now_arg(p)
    p.set_defaults(func=_command("explain"))

    p = sub.add_parser(
        "status",
        help="per account: last sync, cursor age, counts, next digest",
        description="Read the state database and report on every account.",
    )
    account_arg(p)
    now_arg(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_command("status"))

    p = sub.add_parser(
        "doctor",
        help="check the state database; --repair rebuilds a damaged one",
        description="Run SQLite's integrity check on the state database and say what a "
        "repair would keep. With --repair (only when damage is found): read what the "
        "sources cannot give back (digest ledger, recommendation history, title changes), "
        "export it to ledger-export-<time>.json beside the database, move the damaged "
        "file aside (never deleted), create a new store holding those rows and sync every "
        "account from its sources. No week already sent is sent again: the ledger rows "
        "and the marker beside the database both say which were.",
        epilog="Exit codes: 0 sound, or repaired with every source synced; 1 damage found "
        "(without --repair), or a repair that left something (a source failed to sync); "
        "2 config error; 75 another run holds the lock.",
    )
    now_arg(p)
    p.add_argument(
        "--repair", action="store_true",
        help="rebuild a damaged database (keeps the damaged copy and a ledger export)",
    )
    p.set_defaults(func=_doctor)

    p = sub.add_parser(
        "demo",
        help="write a synthetic demo organization (ICS, mbox, people)",
        description="Write a deterministic synthetic company as real export "
        "files, with a ground-truth file for accuracy checks.",
    )
    p.add_argument("--out", required=True, help="folder to write into")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--managers", type=int, default=40)
    p.add_argument("--months", type=int, default=6)
    p.add_argument("--scale", type=float, default=1.0, help="multiplies mail volume")
    p.add_argument("--end", help="last day of history (default: today)")
    p.add_argument(
        "--variant",
        default="standard",
        help="add one trap scenario with its digest checks (expectations.json): standard, "
        "series, congrats, team_meeting, no_manager, no_reply_headers, "
        "no_reply_headers_hashed",
    )
    p.add_argument(
        "--quiet-if-exists",
        action="store_true",
        help="do nothing if DIR already holds a demo organization",
    )
    p.set_defaults(func=cmd_demo)

    auth = sub.add_parser(
        "auth",
        help="authorize access to a provider",
        description="Run the OAuth flow for an account and store its token (0600).",
    )
    auth_sub = auth.add_subparsers(dest="provider", metavar="PROVIDER")
    auth_sub.required = True
    from peerpulse.worker import overrides_cli, setup_cli  # issue 13

    overrides_cli.register(sub)  # snooze, done, never, undo, list-overrides
    setup_cli.register(sub)  # init, people suggest
    from peerpulse.worker.org.cli import add_parser as add_org_parser

    add_org_parser(sub)  # organization mode (docs/ORGANIZATION.md); imports nothing heavy
    if not with_providers:
        return parser
    # Each installed provider's auth command (connectors.registry); discovering them
    # loads pydantic and the provider packages, so main() does it only for `auth`.
    from peerpulse.connectors.registry import registry

    for name, command in registry().auth.items():
        p = auth_sub.add_parser(
            name, help=command.help, description=command.description or command.help
        )
        p.add_argument("--account", required=True)
        p.add_argument(
            "--console", action="store_true", help="headless: print the URL, paste the code"
        )
        p.set_defaults(func=_command("auth"))
    return parser


# -- commands ----------------------------------------------------------------------------


def _command(name: str) -> Callable[[argparse.Namespace, Env], ExitCode]:
    """The implementation in :mod:`worker.commands`, imported only when called, so
    that ``--help`` and argument errors never pay for loading the whole worker."""

    def call(args: argparse.Namespace, env: Env) -> ExitCode:
        from peerpulse.worker import commands

        result: ExitCode = getattr(commands, name)(args, env)
        return result

    call.__name__ = f"cmd_{name}"
    return call


def _doctor(args: argparse.Namespace, env: Env) -> ExitCode:
    from peerpulse.worker import doctor

    return doctor.command(args, env)


def cmd_demo(args: argparse.Namespace, env: Env) -> ExitCode:
    from peerpulse.worker.demo import generate
    from peerpulse.worker.demo.variants import VARIANTS

    out = Path(args.out)
    if args.quiet_if_exists and (out / "demo.json").is_file():
        return ExitCode.OK
    try:
        end = date.fromisoformat(args.end) if args.end else date.today()
    except ValueError:
        raise ConfigError(
            f"--end must be YYYY-MM-DD, got {args.end!r}", file="command line"
        ) from None
    if args.variant not in VARIANTS:
        raise ConfigError(
            f"--variant must be one of {', '.join(VARIANTS)}, got {args.variant!r}",
            file="command line",
        )
    summary = generate(
        out, seed=args.seed, managers=args.managers, months=args.months, scale=args.scale,
        end=end, variant=args.variant,
    )
    env.print(
        f"demo organization written to {out}/: {summary.messages:,} messages, "
        f"{summary.events:,} events, {summary.people:,} people; owner {summary.owner}"
    )
    return ExitCode.OK


# -- entry point -------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None, env: Env | None = None) -> int:
    env = env or Env()
    words = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(with_providers="auth" in words)
    args = parser.parse_args(words)
    verbosity = -1 if args.quiet else args.verbose
    logs.configure(verbosity, args.log_format, env.stderr)
    try:
        return int(args.func(args, env))
    except PeerpulseError as exc:
        env.stderr.write(f"peerpulse: error: {exc}\n")
        if exc.hint:
            env.stderr.write(f"peerpulse: hint: {exc.hint}\n")
        return int(exc.exit_code)
    except KeyboardInterrupt:
        env.stderr.write("peerpulse: interrupted; everything committed so far is kept\n")
        return 130
    except sqlite3.DatabaseError as exc:
        # A damaged or replaced state file: one clear message naming it, never a traceback.
        from peerpulse.worker.commands import OPENED_DATABASE

        where = OPENED_DATABASE[0] if OPENED_DATABASE else "the state database"
        env.stderr.write(f"peerpulse: error: state database {where} is damaged: {exc}\n")
        env.stderr.write(
            "peerpulse: hint: `peerpulse doctor` checks it and `peerpulse doctor --repair` "
            "rebuilds it from the sources, keeping its ledger (no week is sent again)\n"
        )
        return int(StateError.exit_code)
    except StoreError as exc:
        # The shared PostgreSQL unreachable or gone mid-run (organization mode).
        env.stderr.write(f"peerpulse: error: {exc}\n")
        return int(StateError.exit_code)
    except OSError as exc:
        # Disk full, permission denied on the state dir: say what and where.
        env.stderr.write(f"peerpulse: error: {exc.strerror or exc} ({exc.filename or ''})\n")
        return int(StateError.exit_code)


if __name__ == "__main__":
    raise SystemExit(main())
