"""Run the tests' fake Google server on its own, for the docker compose trial.

    python -m tests.connectors.google.serve [--host 127.0.0.1] [--port 8080]
        [--managers 3] [--reports 4] [--messages 200] [--key-out PATH]
        [--now 2026-06-01T12:00:00Z]

Why it stays under tests/: the fake is test code (it stands in for Google and is
as strict as Google about what peerpulse may ask), so it is not in the wheel. The
image's ``fake-google`` stage (deploy/Dockerfile) copies tests/ and runs this
module; the ``runtime`` image never contains it. From a checkout it runs as is.

What it serves: an organization of ``--managers`` managers
(``manager1@example.com``, ...), each with ``--reports`` reports, in a directory
(Admin SDK users.list, with reporting lines); for each manager a Gmail mailbox and
a primary calendar with mail and meetings among their reports, the other managers
and a few people elsewhere, over the six weeks before ``--now``; and domain-wide
delegation for every user, so peerpulse's ``service_account`` mode acts as each
manager. ``--key-out`` writes a throwaway service-account key (a fresh RSA key,
mode 0600) for the workers' config; the fake does not check signatures, Google
would. The outgoing digests go to SMTP, not to this server.

It prints ``fake Google on URL (N managers)`` once it listens, then serves until
SIGTERM or SIGINT. Exit codes: 0 stopped by a signal, 2 bad arguments.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sys
import threading
from datetime import UTC, datetime, timedelta
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.connectors.google.fake_data import DOMAIN, Calendar, Mailbox, Msg
from tests.connectors.google.fake_google import (
    CALENDAR_READ,
    DIRECTORY_READ,
    GMAIL_READ,
    GMAIL_SEND,
    FakeGoogle,
    _Handler,
)

DAYS = 42  # six weeks of history: enough for a digest's "recently" and "drifting"
OUTSIDERS = ("finance", "legal", "sales", "design", "support", "research")


def person(email: str, title: str, manager: str | None = None) -> dict[str, Any]:
    """A users.list entry as the Admin SDK returns it."""
    out: dict[str, Any] = {
        "primaryEmail": email,
        "name": {"fullName": email.split("@")[0].replace(".", " ").title()},
        "organizations": [{"title": title, "department": "Engineering", "primary": True}],
        "emails": [{"address": email, "primary": True}],
    }
    if manager:
        out["relations"] = [{"type": "manager", "value": manager}]
    return out


def organization(managers: int, reports: int) -> dict[str, list[str]]:
    """Manager address -> their reports' addresses."""
    return {
        f"manager{m}@{DOMAIN}": [f"report{m}.{r}@{DOMAIN}" for r in range(1, reports + 1)]
        for m in range(1, managers + 1)
    }


def mailbox(owner: str, peers: list[str], count: int, now: datetime, rng: random.Random) -> Mailbox:
    """``count`` messages over the last DAYS days, a third of them sent by ``owner``;
    the first peers are written to often, the last ones rarely (someone drifts)."""
    box = Mailbox(owner)
    newest_ms = int(now.timestamp() * 1000)
    span_ms = DAYS * 86_400_000
    weights = [1.0 / (1 + i) for i in range(len(peers))]
    for n in range(count):
        peer = rng.choices(peers, weights)[0]
        sent = rng.random() < 0.35
        ms = newest_ms - rng.randrange(span_ms)
        box.messages.append(Msg(
            id=f"{0x18F0000000000000 + n * 16 + 1:x}",
            thread=f"{0x18F0000000000000 + (n // 2) * 16:x}",
            ms=ms,
            labels=("SENT",) if sent else ("INBOX",),
            sender=owner if sent else peer,
            to=peer if sent else owner,
            subject=f"Topic {n % 31}",
        ))
    box.sort()
    box.history_id = 10_000 + count
    return box


def calendar(owner: str, peers: list[str], now: datetime, rng: random.Random) -> Calendar:
    """Weekly 1:1s with the closest peers and a few group meetings, in the past DAYS days
    and the next two weeks."""
    cal = Calendar(time_zone="UTC")
    start = (now - timedelta(days=DAYS)).replace(hour=9, minute=0, second=0, microsecond=0)
    n = 0
    for week in range(DAYS // 7 + 2):
        for slot, peer in enumerate(peers[:3]):
            begin = start + timedelta(days=7 * week + slot, hours=slot)
            cal.put(_event(n, owner, [peer], begin, f"1:1 {peer.split('@')[0]}"))
            n += 1
        group = rng.sample(peers, min(4, len(peers)))
        begin = start + timedelta(days=7 * week + 3, hours=5)
        cal.put(_event(n, owner, group, begin, "Planning"))
        n += 1
    return cal


def _event(n: int, owner: str, guests: list[str], begin: datetime, summary: str) -> dict[str, Any]:
    end = begin + timedelta(minutes=30)
    return {
        "kind": "calendar#event",
        "id": f"ev{n}",
        "status": "confirmed",
        "summary": summary,
        "iCalUID": f"ev{n}-{owner}@google.com",
        "etag": '"1"',
        "start": {"dateTime": begin.strftime("%Y-%m-%dT%H:%M:%SZ"), "timeZone": "UTC"},
        "end": {"dateTime": end.strftime("%Y-%m-%dT%H:%M:%SZ"), "timeZone": "UTC"},
        "organizer": {"email": owner, "self": True},
        "attendees": [{"email": owner, "self": True, "organizer": True,
                       "responseStatus": "accepted"}]
        + [{"email": guest, "responseStatus": "accepted"} for guest in guests],
    }


def build(managers: int, reports: int, messages: int, now: datetime, seed: int = 1) -> FakeGoogle:
    """A fake Google holding the whole organization, not yet listening."""
    fake = FakeGoogle(allowed_scopes=GMAIL_READ | CALENDAR_READ | DIRECTORY_READ | {GMAIL_SEND})
    rng = random.Random(seed)
    org = organization(managers, reports)
    head = f"ceo@{DOMAIN}"
    outsiders = [f"{name}.lead@{DOMAIN}" for name in OUTSIDERS]
    fake.directory = [person(head, "CEO")]
    fake.directory += [person(o, "Lead", head) for o in outsiders]
    for boss, team in org.items():
        fake.directory.append(person(boss, "Engineering Manager", head))
        fake.directory += [person(r, "Engineer", boss) for r in team]
        others = [m for m in org if m != boss]
        peers = team + others + outsiders
        fake.mailboxes[boss] = mailbox(boss, peers, messages, now, rng)
        fake.calendars[(boss, "primary")] = calendar(boss, peers, now, rng)
    fake.delegated = {entry["primaryEmail"] for entry in fake.directory}
    fake.admins = {head}
    return fake


def listen(fake: FakeGoogle, host: str, port: int) -> ThreadingHTTPServer:
    """Bind ``fake`` to ``host:port`` (FakeGoogle.start binds 127.0.0.1 on a free port)."""

    class Handler(_Handler):
        server_fake = fake

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    fake._server = server
    return server


def write_key(path: Path, token_uri: str) -> None:
    """A throwaway service-account key: a fresh RSA key each start, mode 0600."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    info = {
        "type": "service_account",
        "project_id": "peerpulse-trial",
        "private_key_id": "fake-google",
        "private_key": pem,
        "client_email": "peerpulse@peerpulse-trial.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": token_uri,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(info, out)
    os.replace(tmp, path)


def _now(value: str | None) -> datetime:
    if not value:
        return datetime.now(UTC)
    stamp = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.connectors.google.serve",
        description="The tests' fake Google (Gmail, Calendar, Admin SDK, OAuth token "
        "endpoint) serving a small organization, for trying organization mode locally.")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to bind (0.0.0.0 inside a container)")
    parser.add_argument("--port", type=int, default=8080, help="port (0: any free one)")
    parser.add_argument("--managers", type=int, default=3)
    parser.add_argument("--reports", type=int, default=4, help="reports per manager")
    parser.add_argument("--messages", type=int, default=200, help="messages per mailbox")
    parser.add_argument("--now", help="ISO datetime the history ends at (default: now)")
    parser.add_argument("--key-out", type=Path,
                        help="write a throwaway service-account key JSON here")
    args = parser.parse_args(argv)
    if args.managers < 1 or args.reports < 1 or args.messages < 0:
        parser.error("--managers and --reports must be at least 1, --messages at least 0")
    try:
        now = _now(args.now)
    except ValueError:
        parser.error(f"--now must be an ISO datetime, got {args.now!r}")

    fake = build(args.managers, args.reports, args.messages, now)
    server = listen(fake, args.host, args.port)
    host, port = server.server_address[:2]
    url = f"http://{'127.0.0.1' if host == '0.0.0.0' else host}:{port}/"
    if args.key_out:
        write_key(args.key_out, url + "token")

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                              daemon=True)
    thread.start()
    print(f"fake Google on {url} ({args.managers} managers)", flush=True)
    while not stop.wait(0.5):
        pass
    server.shutdown()
    server.server_close()
    if fake.violations:  # what a test would fail on: say it
        for violation in fake.violations:
            print(f"violation: {violation}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
