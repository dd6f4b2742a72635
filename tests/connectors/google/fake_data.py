"""The fake Google server's data: mailboxes, calendars, a directory.

Messages are stored compactly and rendered to Gmail's JSON on request, so a
synthetic mailbox of 100,000 messages costs a few tens of MB, not gigabytes.
Recorded real messages (the nango recordings) are kept as their JSON.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

DOMAIN = "example.com"
HIDDEN = frozenset({"SPAM", "TRASH"})


@dataclass(slots=True)
class Msg:
    id: str
    thread: str
    ms: int  # internalDate
    labels: tuple[str, ...]
    sender: str
    to: str
    subject: str
    raw: dict[str, Any] | None = None  # a recorded message, served as recorded

    @property
    def message_id_header(self) -> str:
        return "Message-Id" if sum(map(ord, self.id)) % 5 == 0 else "Message-ID"

    def render(self, headers: list[str] | None) -> dict[str, Any]:
        if self.raw is not None:
            out = dict(self.raw)
            payload = dict(out.get("payload") or {})
            all_headers = payload.get("headers") or []
            if headers:
                wanted = {h.lower() for h in headers}
                all_headers = [h for h in all_headers if h["name"].lower() in wanted]
            payload["headers"] = all_headers
            payload.pop("parts", None)
            payload.pop("body", None)
            out["payload"] = payload
            return out
        hdrs = [
            {"name": "From", "value": self.sender},
            {"name": "To", "value": self.to},
            {"name": "Subject", "value": self.subject},
            # Real mail spells it both ways (34 of 175 recorded messages say Message-Id):
            # the fake answers in the message's own spelling, like Gmail.
            {"name": self.message_id_header, "value": f"<{self.id}@mail.{DOMAIN}>"},
            {"name": "Date", "value": "Mon, 1 Jun 2026 10:00:00 +0000"},
        ]
        if headers:
            wanted = {h.lower() for h in headers}
            hdrs = [h for h in hdrs if h["name"].lower() in wanted]
        return {
            "id": self.id,
            "threadId": self.thread,
            "labelIds": list(self.labels),
            "snippet": "never requested",
            "historyId": "1",
            "internalDate": str(self.ms),
            "sizeEstimate": 2048,
            "payload": {"mimeType": "text/plain", "headers": hdrs},
        }


@dataclass
class Mailbox:
    email: str
    messages: list[Msg] = field(default_factory=list)  # newest first
    by_id: dict[str, Msg] = field(default_factory=dict)
    history_id: int = 1000
    history: list[tuple[int, str, Msg]] = field(default_factory=list)  # (id, added|deleted, msg)
    oldest_history: int = 0  # startHistoryId below this -> 404

    _cache: dict[Any, Any] = field(default_factory=dict)

    def sort(self) -> None:
        self.messages.sort(key=lambda m: m.ms, reverse=True)
        self.by_id = {m.id: m for m in self.messages}
        self._cache = {}

    def _listed(self, msg: Msg, labels: frozenset[str], spam_trash: bool) -> bool:
        """Gmail's list filter: every one of ``labelIds`` ("messages with labels that match
        all of the specified label IDs"), and no SPAM/TRASH unless ``includeSpamTrash``
        (users.messages/list reference) or asked for by label."""
        if not labels <= set(msg.labels):
            return False
        return spam_trash or bool(labels & HIDDEN) or not HIDDEN & set(msg.labels)

    def listing(
        self, labels: frozenset[str], spam_trash: bool = False
    ) -> list[dict[str, str]]:
        """messages.list entries (newest first), as Gmail filters them."""
        key = ("m", labels, spam_trash)
        if key not in self._cache:
            self._cache[key] = [
                {"id": m.id, "threadId": m.thread}
                for m in self.messages
                if self._listed(m, labels, spam_trash)
            ]
        return self._cache[key]

    def thread_listing(
        self, labels: frozenset[str], spam_trash: bool = False
    ) -> list[dict[str, str]]:
        key = ("t", labels, spam_trash)
        if key not in self._cache:
            having = {m.thread for m in self.messages if self._listed(m, labels, spam_trash)}
            self._cache[key] = [
                {"id": t, "snippet": "", "historyId": "1"} for t in self.threads() if t in having
            ]
        return self._cache[key]

    def add(self, msg: Msg, *, record: bool = True) -> None:
        self.messages.append(msg)
        self.sort()
        if record:
            self.history_id += 7
            self.history.append((self.history_id, "added", msg))

    def relabel(self, msg_id: str, add: tuple[str, ...] = (), remove: tuple[str, ...] = ()) -> None:
        """Change labels as Gmail records it: trashing is a TRASH labelAdded, not a deletion."""
        msg = self.by_id[msg_id]
        msg.labels = tuple(label for label in msg.labels if label not in remove) + tuple(
            label for label in add if label not in msg.labels
        )
        self._cache = {}
        for kind, changed in (("labelAdded", add), ("labelRemoved", remove)):
            if changed:
                self.history_id += 5
                self.history.append((self.history_id, f"{kind}:{','.join(changed)}", msg))

    def delete(self, msg_id: str) -> None:
        msg = self.by_id.pop(msg_id)
        self.messages.remove(msg)
        self.history_id += 3
        self.history.append((self.history_id, "deleted", msg))

    def _by_thread(self) -> dict[str, list[Msg]]:
        if "threads" not in self._cache:
            index: dict[str, list[Msg]] = {}
            for msg in self.messages:
                index.setdefault(msg.thread, []).append(msg)
            self._cache["threads"] = index
        return self._cache["threads"]

    def threads(self) -> list[str]:
        """Thread ids, ordered by their newest message (newest first)."""
        return list(self._by_thread())

    def thread_messages(self, thread: str) -> list[Msg]:
        return sorted(self._by_thread().get(thread, []), key=lambda m: m.ms)


@dataclass
class Calendar:
    time_zone: str = "Europe/Berlin"
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    changed: dict[str, int] = field(default_factory=dict)  # event id -> change sequence
    seq: int = 1
    oldest_token: int = 0  # sync tokens older than this -> 410

    def put(self, event: dict[str, Any]) -> None:
        self.seq += 1
        self.events[event["id"]] = event
        self.changed[event["id"]] = self.seq

    def cancel(self, event_id: str) -> None:
        event = dict(self.events[event_id])
        event["status"] = "cancelled"
        self.put(event)


def synthetic_mailbox(
    email: str,
    count: int,
    *,
    mean_thread: float = 3.0,
    sent_share: float = 0.3,
    newest_ms: int,
    spacing_ms: int = 60_000,
    seed: int = 7,
) -> Mailbox:
    """``count`` messages in threads of mean length ``mean_thread``, newest first."""
    rng = random.Random(seed)
    box = Mailbox(email)
    peers = [f"peer{i}@{DOMAIN}" for i in range(200)]
    base = 0x18F0000000000000
    thread_id = None
    remaining = 0
    for n in range(count):
        if remaining <= 0:
            thread_id = f"{base + n * 16:x}"
            remaining = max(1, round(rng.expovariate(1 / mean_thread))) if mean_thread > 1 else 1
        remaining -= 1
        peer = peers[rng.randrange(len(peers))]
        sent = rng.random() < sent_share
        msg = Msg(
            id=f"{base + n * 16 + 1:x}",
            thread=thread_id or "",
            ms=newest_ms - n * spacing_ms,
            labels=("SENT",) if sent else ("INBOX", "UNREAD"),
            sender=email if sent else f"Peer <{peer}>",
            to=peer if sent else email,
            subject=f"Topic {n % 97}",
        )
        box.messages.append(msg)
    box.sort()
    box.history_id = 10_000 + count
    return box
