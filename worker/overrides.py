"""Snooze, done and never: given from the CLI or from the digest's links (issue 13).

Two ways in, one store:

* ``peerpulse snooze|done|never|undo EMAIL`` writes an override (source "cli").
* Each person in the digest carries ``mailto:`` links to the owner's own address
  whose subject is a command signed with a per-install key:
  ``peerpulse: snooze lee@example.com 4w 2026-W48 3f9a2b1c0d4e5f60``. Clicking
  one sends a mail to oneself; the next sync reads the sent mail's *headers*
  (connectors turn such a subject into a :class:`MailCommand` record before any
  subject hashing, so it is never an interaction), and :func:`apply_mail_commands`
  checks the signature and applies it once (source "mail"). A forged subject
  fails the signature; a replayed or resent one finds its token already used
  (a unique index in the store), and both are recorded as ignored with the
  reason, which the next digest reports.

The signature is HMAC-SHA256 over account, action, address, weeks and period,
cut to 16 hex digits (64 bits): enough that guessing is hopeless for a mail
command, short enough to sit in a subject. The key lives in the state folder,
0600, made on first use; it never appears in config or logs.
"""

from __future__ import annotations

import difflib
import hashlib
import hmac
import logging
import re
import secrets
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path
from urllib.parse import quote

from peerpulse.connectors.addresses import private_text
from peerpulse.connectors.atomic_file import write_atomic
from peerpulse.connectors.file_modes import make_private_dir, secret_file_problem
from peerpulse.connectors.records import COMMAND_MARKER, Person
from peerpulse.rules.overrides import DEFAULT_SNOOZE_WEEKS, MAX_SNOOZE_WEEKS, Override
from peerpulse.worker.errors import ConfigError, StateError
from peerpulse.worker.store import Store
from peerpulse.worker.store.rows import StoredCommand, StoredOverride

log = logging.getLogger("peerpulse")

KEY_FILE = "command.key"
TOKEN_HEX = 16
REPORT_DAYS = 7  # the digest reports commands sent in the last week
REPLAYED = "already applied: this link was used before (a command applies once)"

# "snooze lee@example.com 4w 2026-W48 3f9a2b1c0d4e5f60" / "done lee@example.com 2026-W48 ..."
_COMMAND = re.compile(
    r"^(?P<action>snooze|done|never)\s+(?P<email>[^\s@]+@[^\s@]+)"
    r"(?:\s+(?P<weeks>\d{1,3})w)?\s+(?P<period>\d{4}-W\d{2})\s+"
    rf"(?P<token>[0-9a-f]{{{TOKEN_HEX}}})$",
    re.IGNORECASE,
)


# -- the key -----------------------------------------------------------------------


def command_key(state_dir: Path, *, create: bool) -> bytes | None:
    """The per-install signing key (32 random bytes, hex in a 0600 file).

    None when absent and ``create`` is False (a read-only ``digest --dry-run``
    before the first sync): that digest simply has no action links."""
    path = state_dir / KEY_FILE
    problem = secret_file_problem(path)
    if problem:
        raise StateError(problem)
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        if not create:
            return None
        make_private_dir(state_dir)
        write_atomic(path, secrets.token_hex(32).encode("ascii") + b"\n")
        return command_key(state_dir, create=False)
    except (OSError, UnicodeDecodeError) as exc:
        raise StateError(f"cannot read the command key {path}: {exc}") from None
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise StateError(
            f"the command key {path} is damaged; delete it (links in digests already "
            "sent stop working, new digests get new ones)"
        ) from None


def sign(key: bytes, account: str, action: str, email: str, weeks: int, period: str) -> str:
    message = "\n".join((account, action, email.lower(), str(weeks), period)).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:TOKEN_HEX]


def command_subject(
    key: bytes, account: str, action: str, email: str, period: str,
    weeks: int = DEFAULT_SNOOZE_WEEKS,
) -> str:
    """The subject a digest link puts in the mail to oneself."""
    weeks = weeks if action == "snooze" else 0
    token = sign(key, account, action, email, weeks, period)
    span = f" {weeks}w" if action == "snooze" else ""
    return f"{COMMAND_MARKER} {action} {email.lower()}{span} {period} {token}"


def action_links(
    key: bytes, account: str, owner: str, emails: Iterable[str], period: str
) -> dict[str, dict[str, str]]:
    """Per person, ``mailto:`` URLs to the owner for snooze, done and never."""
    out: dict[str, dict[str, str]] = {}
    for email in dict.fromkeys(emails):
        out[email] = {
            action: f"mailto:{quote(owner, safe='@')}?subject="
            + quote(command_subject(key, account, action, email, period), safe="")
            for action in ("snooze", "done", "never")
        }
    return out


# -- parsing a command mail --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ParsedCommand:
    action: str
    email: str
    weeks: int
    period: str
    token: str


def parse_command(text: str) -> ParsedCommand | None:
    """The command after the ``peerpulse:`` marker, or None when malformed."""
    match = _COMMAND.match(text.strip())
    if match is None:
        return None
    action = match["action"].lower()
    weeks = int(match["weeks"] or 0)
    if (action == "snooze") != bool(match["weeks"]):
        return None
    if action == "snooze" and not 1 <= weeks <= MAX_SNOOZE_WEEKS:
        return None
    return ParsedCommand(action, match["email"].lower(), weeks, match["period"].upper(),
                         match["token"].lower())


# -- addresses ---------------------------------------------------------------------


class Directory:
    """Known addresses (people file or directory, aliases included) → canonical email."""

    def __init__(self, people: Sequence[Person]) -> None:
        self.canonical: dict[str, str] = {}
        self.names: dict[str, str] = {}
        for person in people:
            email = person.email.strip().lower()
            self.canonical.setdefault(email, email)
            for alias in person.aliases:
                self.canonical[alias.strip().lower()] = email
            if person.name:
                self.names[email] = person.name

    def resolve(self, address: str) -> str | None:
        return self.canonical.get(address.strip().lower().removeprefix("mailto:"))

    def suggestions(self, address: str, limit: int = 3) -> list[str]:
        """Close matches by address, local part or name ("lee" finds lee.park@...)."""
        wanted = address.strip().lower()
        pool = list(self.canonical)
        found = difflib.get_close_matches(wanted, pool, n=limit, cutoff=0.6)
        local = wanted.partition("@")[0]
        for email in pool:
            name = self.names.get(self.canonical[email], "").lower()
            if local and (local in email.partition("@")[0] or (name and local in name)):
                found.append(self.canonical[email])
        return list(dict.fromkeys(found))[:limit]

    def require(self, address: str) -> str:
        """The canonical address; a ConfigError naming close matches when unknown."""
        found = self.resolve(address)
        if found is not None:
            return found
        if not self.canonical:
            raise ConfigError(
                f"{address!r} is unknown: no people are stored yet; run `peerpulse sync` "
                "with a people file or directory first", file="command line")
        close = self.suggestions(address)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ConfigError(f"{address!r} is not in your people file or directory{hint}",
                          file="command line")


# -- giving and listing ------------------------------------------------------------


def new_override(
    email: str, action: str, at: datetime, zone: tzinfo, *, source: str,
    weeks: int = DEFAULT_SNOOZE_WEEKS, token: str | None = None,
) -> StoredOverride:
    """A snooze runs ``weeks`` weeks from the day it was given, in the owner's zone."""
    until = None
    if action == "snooze":
        until = at.astimezone(zone).date() + timedelta(weeks=weeks)
    return StoredOverride(uuid.uuid4().hex, email, action, until, int(at.timestamp()),
                          source, token)


def to_rules(stored: Iterable[StoredOverride]) -> list[Override]:
    """Active overrides as the engine's data."""
    return [
        Override(o.email, o.action, datetime.fromtimestamp(o.created_at, UTC), o.source, o.until)
        for o in stored if o.undone_at is None
    ]


def in_force(stored: Iterable[StoredOverride], today: date, done_days: int = 28) -> list[
        StoredOverride]:
    """What ``list-overrides`` shows: never, snoozes not yet over, recent dones."""
    out = []
    for o in stored:
        if o.undone_at is not None:
            continue
        if o.action == "snooze" and o.until is not None and o.until < today:
            continue
        created = datetime.fromtimestamp(o.created_at, UTC).date()
        if o.action == "done" and (today - created).days > done_days:
            continue
        out.append(o)
    return out


def describe(o: StoredOverride, names: dict[str, str] | None = None) -> str:
    """"snoozed Lee Park until 5 Jan" for the digest and the CLI."""
    who = (names or {}).get(o.email) or o.email
    if o.action == "snooze":
        return f"snoozed {who} until {_day(o.until)}"
    if o.action == "never":
        return f"will never suggest {who} again"
    return f"marked {who} done"


def _day(value: date | None) -> str:
    if value is None:
        return "?"
    return f"{value.day} {value.strftime('%b')} {value.year}"


# -- command mails -----------------------------------------------------------------


def apply_mail_commands(
    store: Store, account: str, key: bytes, people: Sequence[Person], zone: tzinfo,
    now: datetime, *, subjects: str = "kept",
) -> list[StoredCommand]:
    """Apply every synced, unprocessed command mail once; returns them settled.

    Each is checked in turn: well formed, signed with this install's key for this
    account, naming a known person; then applied in one transaction with its
    outcome. A command whose token is taken (the same link used again, or the
    same mail read twice) changes nothing.

    A command is a mail subject naming a person, so once applied it is stored as
    ``subjects`` (the privacy setting) keeps any subject: verbatim, hashed, or
    not at all; and an outcome only quotes an address from it when subjects are
    kept. The override itself names the person in every mode: it is the user's
    own decision, and applying it needs the address.
    """
    directory = Directory(people)
    settled = []
    for command in store.pending_commands(account):
        override, outcome, detail = _decide(command, key, account, directory, zone,
                                            name_address=subjects == "kept")
        done = StoredCommand(command.source, command.source_id, command.sent_at,
                             _kept_text(command.command, subjects), outcome, detail,
                             int(now.timestamp()))
        result = store.settle_command(account, done, override, REPLAYED)
        log.info("%s: command mail %s: %s (%s)", account, result.source_id,
                 result.outcome, result.detail)
        settled.append(result)
    return settled


def _kept_text(command: str, subjects: str) -> str:
    """A settled command's text as the privacy setting keeps subjects ("" for off)."""
    return private_text(command, subjects) or ""


def _decide(
    command: StoredCommand, key: bytes, account: str, directory: Directory, zone: tzinfo,
    *, name_address: bool = True,
) -> tuple[StoredOverride | None, str, str]:
    parsed = parse_command(command.command)
    if parsed is None:
        return None, "ignored", "not a command peerpulse understands"
    expected = sign(key, account, parsed.action, parsed.email, parsed.weeks, parsed.period)
    if not hmac.compare_digest(expected, parsed.token):
        return None, "ignored", "the signature does not match (forged, edited, or from " \
                                "another installation)"
    email = directory.resolve(parsed.email)
    if email is None:
        who = parsed.email if name_address else "the address"
        return None, "ignored", f"{who} is not in your people file or directory"
    sent = datetime.fromtimestamp(command.sent_at, UTC)
    override = new_override(email, parsed.action, sent, zone, source="mail",
                            weeks=parsed.weeks or DEFAULT_SNOOZE_WEEKS, token=parsed.token)
    names = dict(directory.names)
    return override, "applied", describe(override, names)


def report_lines(store: Store, account: str, now: datetime) -> list[dict[str, str]]:
    """Command mails sent in the last week and what became of them (for the digest)."""
    since = int((now - timedelta(days=REPORT_DAYS)).timestamp())
    return [
        {"outcome": c.outcome or "", "detail": c.detail or "",
         "sent": datetime.fromtimestamp(c.sent_at, UTC).date().isoformat()}
        for c in store.processed_commands(account, since)
        if c.sent_at <= now.timestamp()
    ]
