"""An organization in the fake Google server: one mailbox and calendar per manager,
a directory, and a service account with domain-wide delegation.

Why from the demo generator: the demo organization's mail and calendar (one
manager's view, with its peers, one-on-ones, series and mailing lists) are
read once through the files connector, and every manager ``mgr<k>`` gets a
copy in which the demo owner's addresses are that manager's own. So each
mailbox is demo-shaped (the digest finds real peers), mailboxes are the same
size whatever the organization's size (requests per message comparable with
one manager's), and 1,000 of them cost the fake a few tens of MB.
"""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Any

from tests.connectors.google.fake_data import Calendar, Mailbox, Msg
from tests.connectors.google.fake_google import FakeGoogle

PROJECT = "peerpulse-org-test"


@dataclass
class Template:
    """The demo owner's mail and calendar, with the owner's addresses as ``{me}``."""

    owner: str
    aliases: tuple[str, ...]
    messages: list[Msg]
    events: list[dict[str, Any]]
    people: list[dict[str, Any]]  # directory users (Admin SDK users.list shape)


def _hex(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def read_demo(demo_dir: Path, meta: dict[str, Any], *, window_days: int = 400) -> Template:
    """The demo's exports as Gmail messages and Calendar events (read by the files connector)."""
    from datetime import datetime

    from peerpulse.connectors.base import SourceContext
    from peerpulse.connectors.files.connector import FilesConnector
    from peerpulse.connectors.files.settings import FilesSettings
    from peerpulse.connectors.records import Direction, EventInstance, MessageMeta

    owner = meta["owner"].lower()
    aliases = tuple(a.lower() for a in meta.get("aliases", []))
    mine = {owner, *aliases}
    now = datetime.fromisoformat(meta["now"].replace("Z", "+00:00"))
    context = SourceContext(account="demo", owner_addresses=frozenset(mine),
                            timezone=meta.get("timezone", "UTC"), subjects="kept",
                            base_dir=str(demo_dir), now=now)
    settings = FilesSettings(calendar=[str(demo_dir / "calendar")],
                             mail=[str(demo_dir / "mail")],
                             window_past_days=window_days)
    messages: list[Msg] = []
    events: list[dict[str, Any]] = []

    def me(address: str | None) -> str:
        return "{me}" if address and address.lower() in mine else (address or "")

    for source in FilesConnector(context, settings).sources():
        for batch in source.sync(None):
            for record in batch.upserts:
                if isinstance(record, MessageMeta):
                    sent = record.direction == Direction.SENT
                    sender = me(record.sender)
                    messages.append(Msg(
                        id=_hex("m" + record.source_id),
                        thread=_hex("t" + (record.thread_id or record.source_id)),
                        ms=int(record.timestamp.timestamp() * 1000),
                        labels=("SENT",) if sent else ("INBOX",),
                        sender=sender if sender == "{me}" or not record.sender_name
                        else f"{record.sender_name} <{sender}>",
                        to=", ".join(me(a) for a in (*record.to, *record.cc)),
                        subject=record.subject or "",
                    ))
                elif isinstance(record, EventInstance):
                    events.append(_event(record, me))
    return Template(owner, aliases, messages, events, _people(demo_dir / "people.csv"))


def _event(record: Any, me: Any) -> dict[str, Any]:
    response = {"needs-action": "needsAction"}

    def when(value: Any) -> dict[str, str]:
        if record.all_day:
            return {"date": value.date().isoformat()}
        return {"dateTime": value.astimezone(UTC).isoformat().replace("+00:00", "Z"),
                "timeZone": record.original_tz or "UTC"}

    event: dict[str, Any] = {
        "id": _hex("e" + record.source_id),
        "iCalUID": record.series_id,
        "status": str(record.status),
        "summary": record.title or "",
        "start": when(record.start),
        "end": when(record.end),
        "organizer": {"email": me(record.organizer)},
        "attendees": [
            {"email": me(a.email), "responseStatus": response.get(str(a.response),
                                                                   str(a.response)),
             **({"organizer": True} if a.is_organizer else {}),
             **({"resource": True} if a.is_resource else {})}
            for a in record.attendees
        ],
    }
    if record.recurring:
        event["recurringEventId"] = _hex("s" + record.series_id)
    if str(record.transparency) == "free":
        event["transparency"] = "transparent"
    return event


def _people(path: Path) -> list[dict[str, Any]]:
    users = []
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            user: dict[str, Any] = {
                "primaryEmail": row["email"],
                "name": {"fullName": row["name"]},
                "organizations": [{"primary": True, "department": row["department"],
                                   "title": row["title"]}],
            }
            if row.get("manager"):
                user["relations"] = [{"type": "manager", "value": row["manager"]}]
            users.append(user)
    return users


def manager_address(k: int) -> str:
    return f"mgr{k}@example.com"


def _mine(text: str, address: str) -> str:
    return text.replace("{me}", address)


class _Mine:
    """A template message as one manager's: rendered with ``{me}`` as their address."""

    __slots__ = ("msg", "address")

    def __init__(self, msg: Msg, address: str) -> None:
        self.msg, self.address = msg, address

    def __getattr__(self, name: str) -> Any:
        return getattr(self.msg, name)

    def render(self, headers: list[str] | None) -> dict[str, Any]:
        out = self.msg.render(headers)
        for header in out["payload"]["headers"]:
            header["value"] = _mine(header["value"], self.address)
        return out


class _MineById(dict):  # type: ignore[type-arg]
    def __init__(self, base: dict[str, Msg], address: str) -> None:
        super().__init__()
        self.base, self.address = base, address

    def get(self, key: str, default: Any = None) -> Any:
        msg = self.base.get(key)
        return _Mine(msg, self.address) if msg is not None else default

    def __getitem__(self, key: str) -> Any:
        return _Mine(self.base[key], self.address)

    def __contains__(self, key: object) -> bool:
        return key in self.base

    def __len__(self) -> int:
        return len(self.base)


class OrgMailbox(Mailbox):
    """A manager's mailbox sharing the template's message list (listing needs only ids,
    threads and labels); messages are made the manager's when rendered."""

    def thread_messages(self, thread: str) -> list[Any]:
        return [_Mine(m, self.email) for m in super().thread_messages(thread)]


class _MineEvents(dict):  # type: ignore[type-arg]
    """A calendar's events as one manager's, substituted when served."""

    def __init__(self, base: dict[str, dict[str, Any]], address: str) -> None:
        super().__init__()
        self.base, self.address = base, address

    def _one(self, event: dict[str, Any]) -> dict[str, Any]:
        return json.loads(_mine(json.dumps(event), self.address))

    def __getitem__(self, key: str) -> dict[str, Any]:
        return self._one(self.base[key])

    def values(self) -> Any:
        return [self._one(e) for e in self.base.values()]

    def __len__(self) -> int:
        return len(self.base)


def populate(fake: FakeGoogle, template: Template, managers: int) -> list[str]:
    """Give ``managers`` mailboxes (mgr0..) the template's mail and calendar, each as its
    own owner, and put them in the directory (reporting to the demo owner's manager)."""
    boss = next((u.get("relations", [{}])[0].get("value") for u in template.people
                 if u["primaryEmail"] == template.owner), None)
    shared = Mailbox("{me}")
    shared.messages = list(template.messages)
    shared.sort()
    calendar = Calendar()
    for event in template.events:
        calendar.put(event)
    addresses = []
    for k in range(managers):
        address = manager_address(k)
        addresses.append(address)
        box = OrgMailbox(address, messages=shared.messages,
                         by_id=_MineById(shared.by_id, address),
                         history_id=10_000 + len(shared.messages))
        fake.mailboxes[address] = box
        mine = Calendar(time_zone=calendar.time_zone, events=_MineEvents(calendar.events, address),
                        changed=calendar.changed, seq=calendar.seq)
        fake.calendars[(address, "primary")] = mine
        user: dict[str, Any] = {
            "primaryEmail": address,
            "name": {"fullName": f"Manager {k}"},
            "organizations": [{"primary": True, "department": "Engineering",
                               "title": "Engineering Manager"}],
        }
        if boss:
            user["relations"] = [{"type": "manager", "value": boss}]
        fake.directory.append(user)
    fake.directory.extend(template.people)
    fake.delegated = set(addresses)
    return addresses


def service_account_key(path: Path, token_url: str, project: str = PROJECT) -> Path:
    """A real RSA service-account key file (google-auth signs the JWT with it)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    path.write_text(json.dumps({
        "type": "service_account",
        "project_id": project,
        "private_key_id": "k1",
        "private_key": pem,
        "client_email": f"peerpulse@{project}.iam.gserviceaccount.com",
        "client_id": "1234567890",
        "token_uri": token_url,
    }))
    path.chmod(0o600)
    return path


def account_toml(k: int, *, key: Path, fake: FakeGoogle, smtp_port: int,
                 extra_source: str = "", directory: bool = True) -> str:
    """One manager's ``[[accounts]]`` (service account acting as the manager)."""
    address = manager_address(k)
    return f"""
[[accounts]]
name = "mgr{k}"
owner = "{address}"
timezone = "Europe/Berlin"
[accounts.source]
type = "google"
mode = "service_account"
service_account_key = {{ file = "{key}" }}
api_endpoint = "{fake.url}"
token_endpoint = "{fake.token_url}"
directory = {"true" if directory else "false"}
calendars = ["primary"]
{extra_source}
[accounts.digest]
recipient = "{address}"
day = "monday"
time = "07:00"
[accounts.delivery]
type = "smtp"
host = "127.0.0.1"
port = {smtp_port}
security = "none"
sender = "peerpulse@example.com"
"""
