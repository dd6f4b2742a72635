"""The fake's endpoints: Gmail, Calendar and Admin SDK, as their reference documents them."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

from tests.connectors.google.fake_google import (
    CALENDAR_READ,
    DIRECTORY_READ,
    GMAIL_READ,
    GMAIL_SEND,
    ApiError,
    FakeGoogle,
)

_GMAIL = re.compile(r"^/gmail/v1/users/([^/]+)/(.*)$")
_CAL = re.compile(r"^/calendar/v3/calendars/([^/]+)/events$")


def route(
    fake: FakeGoogle,
    method: str,
    path: str,
    query: dict[str, list[str]],
    headers: dict[str, str],
    body: bytes,
) -> Any:
    one = {k: v[0] for k, v in query.items()}
    if m := _GMAIL.match(path):
        return masked(_gmail(fake, method, m.group(2), one, query, headers, body), one)
    if m := _CAL.match(path):
        user = fake.authorize(headers.get("authorization"), CALENDAR_READ)
        fake.charge_calendar_project()
        fake.log.append(("events.list", json.dumps(one, sort_keys=True)))
        return masked(_events(fake, user, _unquote(m.group(1)), one), one)
    if path == "/admin/directory/v1/users":
        user = fake.authorize(headers.get("authorization"), DIRECTORY_READ)
        # viewType defaults to admin_view, which only administrators may read;
        # domain_public is the view for everyone else (admin.directory_v1 discovery).
        if one.get("viewType", "admin_view") == "admin_view" and user not in fake.admins:
            raise ApiError(403, "forbidden", "Not Authorized to access this resource/api")
        fake.charge_directory_project()
        fake.log.append(("users.list", json.dumps(one, sort_keys=True)))
        return _page(fake.directory, "users", one, 500)
    raise ApiError(404, "notFound", f"no such endpoint {path}")


def masked(payload: Any, one: dict[str, str]) -> Any:
    """The partial response ``fields`` asks for, as Google returns it (performance guide,
    "Partial response"): what the mask does not name is not sent."""
    spec = one.get("fields")
    return _apply_mask(payload, parse_fields(spec)) if spec else payload


def parse_fields(spec: str) -> dict[str, Any]:
    """``a,b/c,d(e,f/g)`` -> {"a": None, "b": {"c": None}, "d": {"e": None, "f": {"g": None}}}."""

    def insert(node: dict[str, Any], path: list[str], sub: dict[str, Any] | None) -> None:
        for key in path[:-1]:
            if key in node and node[key] is None:
                return  # the whole field is already selected
            node = node.setdefault(key, {})
        leaf = path[-1]
        if sub is None or (leaf in node and node[leaf] is None):
            node[leaf] = None
        else:
            node[leaf] = {**(node.get(leaf) or {}), **sub}

    def parse(i: int) -> tuple[dict[str, Any], int]:
        node: dict[str, Any] = {}
        while i < len(spec):
            j = i
            while j < len(spec) and spec[j] not in ",()":
                j += 1
            path = [p for p in spec[i:j].strip().split("/") if p]
            sub = None
            if j < len(spec) and spec[j] == "(":
                sub, j = parse(j + 1)
            if path:
                insert(node, path, sub)
            if j < len(spec) and spec[j] == ")":
                return node, j + 1
            i = j + 1
        return node, i

    return parse(0)[0]


def _apply_mask(value: Any, mask: dict[str, Any] | None) -> Any:
    if mask is None:
        return value
    if isinstance(value, list):
        return [_apply_mask(item, mask) for item in value]
    if isinstance(value, dict):
        return {k: _apply_mask(value[k], sub) for k, sub in mask.items() if k in value}
    return value


def _unquote(value: str) -> str:
    from urllib.parse import unquote

    return unquote(value)


def _page(items: list[Any], key: str, one: dict[str, str], ceiling: int) -> dict[str, Any]:
    size = min(int(one.get("maxResults", 100)), ceiling)
    start = int(one.get("pageToken", 0) or 0)
    out: dict[str, Any] = {key: items[start : start + size]}
    if start + size < len(items):
        out["nextPageToken"] = str(start + size)
    return out


def _gmail(
    fake: FakeGoogle,
    method: str,
    rest: str,
    one: dict[str, str],
    query: dict[str, list[str]],
    headers: dict[str, str],
    body: bytes,
) -> Any:
    auth = headers.get("authorization")
    if rest == "messages/send" and method == "POST":
        user = fake.authorize(auth, {GMAIL_SEND})
        fake.charge(user, fake.costs["messages.send"])
        raw = json.loads(body or b"{}").get("raw", "")
        fake.sent.append(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        fake.log.append(("messages.send", ""))
        return {
            "id": f"sent{len(fake.sent)}",
            "threadId": f"sent{len(fake.sent)}",
            "labelIds": ["SENT"],
        }
    user = fake.authorize(auth, GMAIL_READ)
    box = fake.mailbox(user)
    if "q" in one:
        fake.violations.append("q used with the gmail.metadata scope")
        raise ApiError(403, "forbidden", "Metadata scope does not support 'q' parameter")
    if rest == "profile":
        fake.charge(user, fake.costs["profile"])
        fake.log.append(("getProfile", ""))
        return {
            "emailAddress": user,
            "messagesTotal": len(box.messages),
            "threadsTotal": len(box._by_thread()),
            "historyId": str(box.history_id),
        }
    if rest == "messages":
        fake.charge(user, fake.costs["messages.list"])
        fake.log.append(("messages.list", json.dumps(one, sort_keys=True)))
        chosen = box.listing(frozenset(query.get("labelIds", [])), _spam_trash(one))
        page = _page(chosen, "messages", one, 500)
        page["resultSizeEstimate"] = len(chosen)
        return page
    if rest == "threads":
        fake.charge(user, fake.costs["threads.list"])
        fake.log.append(("threads.list", json.dumps(one, sort_keys=True)))
        listed = box.thread_listing(frozenset(query.get("labelIds", [])), _spam_trash(one))
        return _page(listed, "threads", one, 500)
    if rest.startswith(("messages/", "threads/")):
        kind, _, item_id = rest.partition("/")
        _check_format(fake, one)
        if "metadataHeaders" not in query or "fields" not in one:
            fake.violations.append(f"{kind}.get without metadataHeaders and fields")
        fake.charge(user, fake.costs[f"{kind}.get"])
        fake.log.append((f"{kind}.get", item_id))
        wanted = query.get("metadataHeaders")
        if kind == "messages":
            msg = box.by_id.get(item_id)
            if msg is None:
                raise ApiError(404, "notFound", "Requested entity was not found.")
            return msg.render(wanted)
        found = box.thread_messages(item_id)
        if not found:
            raise ApiError(404, "notFound", "Requested entity was not found.")
        return {
            "id": item_id,
            "historyId": str(box.history_id),
            "messages": [m.render(wanted) for m in found],
        }
    if rest == "history":
        fake.charge(user, fake.costs["history.list"])
        fake.log.append(("history.list", json.dumps(one, sort_keys=True)))
        start = int(one["startHistoryId"])
        if start < box.oldest_history:
            raise ApiError(404, "notFound", "Requested entity was not found.")
        types = set(query.get("historyTypes", [])) or {"messageAdded", "messageDeleted"}
        records = []
        for hid, kind, msg in box.history:
            if hid <= start:
                continue
            ref = {"id": msg.id, "threadId": msg.thread, "labelIds": list(msg.labels)}
            record: dict[str, Any] = {"id": str(hid), "messages": [ref]}
            if kind == "added" and "messageAdded" in types:
                record["messagesAdded"] = [{"message": ref}]
            elif kind == "deleted" and "messageDeleted" in types:
                record["messagesDeleted"] = [{"message": ref}]
            elif kind.startswith("label"):  # labelsAdded / labelsRemoved, only when asked
                change, _, labels = kind.partition(":")
                if change in types:
                    key = "labelsAdded" if change == "labelAdded" else "labelsRemoved"
                    record[key] = [{"message": ref, "labelIds": labels.split(",")}]
            records.append(record)
        page = _page(records, "history", one, 500)
        page["historyId"] = str(box.history_id)
        if not page["history"]:
            del page["history"]
        return page
    raise ApiError(404, "notFound", f"no such Gmail endpoint {rest}")


def _spam_trash(one: dict[str, str]) -> bool:
    return one.get("includeSpamTrash", "false").lower() == "true"


def _check_format(fake: FakeGoogle, one: dict[str, str]) -> None:
    fmt = one.get("format", "full").lower()
    if fmt in ("full", "raw"):
        fake.violations.append(f"message bodies requested (format={fmt})")
        raise ApiError(403, "forbidden", f"Metadata scope doesn't allow format {fmt.upper()}")


def _events(fake: FakeGoogle, user: str, calendar_id: str, one: dict[str, str]) -> Any:
    key = (user, calendar_id if calendar_id != "primary" else "primary")
    cal = fake.calendars.get(key)
    if cal is None:
        raise ApiError(404, "notFound", "Not Found")
    sync = one.get("syncToken")
    if sync is not None:
        if any(k in one for k in SYNC_FORBIDDEN):
            raise ApiError(
                400, "invalid", "Sync token cannot be used with other request restrictions."
            )
        if one.get("showDeleted") == "false":
            raise ApiError(400, "invalid", "showDeleted cannot be false with a sync token")
        since = int(sync.removeprefix("tok-"))
        if since < cal.oldest_token:
            raise ApiError(
                410, "fullSyncRequired", "Sync token is no longer valid, a full sync is required."
            )
        items = [
            cal.events[i]
            for i, seq in sorted(cal.changed.items(), key=lambda kv: kv[1])
            if seq > since
        ]
    else:
        # timeMin bounds the event's *end* (exclusive), timeMax its start (exclusive):
        # a meeting that began before the window and ends inside it is listed.
        lo, hi = _when(one.get("timeMin")), _when(one.get("timeMax"))
        show_deleted = one.get("showDeleted") == "true"
        items = [
            e
            for e in cal.events.values()
            if (show_deleted or e.get("status") != "cancelled")
            and (hi is None or _when(_start(e)) < hi)
            and (lo is None or _when(_end(e)) > lo)
        ]
    page = _page(items, "items", one, 2500)
    page.update(kind="calendar#events", timeZone=cal.time_zone, summary=user)
    if "nextPageToken" not in page:
        page["nextSyncToken"] = f"tok-{cal.seq}"
    return page


# events.list: "Parameters not allowed together with syncToken" (calendar.v3 discovery).
SYNC_FORBIDDEN = (
    "iCalUID", "orderBy", "privateExtendedProperty", "q",
    "sharedExtendedProperty", "timeMin", "timeMax", "updatedMin",
)


def _when(value: str | None) -> Any:
    """An RFC 3339 time or a date (all-day, read as UTC midnight) as an aware datetime."""
    from datetime import UTC, datetime

    if not value:
        return None
    if len(value) == 10:
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _end(event: dict[str, Any]) -> str:
    end = event.get("end") or event.get("start") or {}
    return str(end.get("dateTime") or end.get("date") or "")


def _start(event: dict[str, Any]) -> str:
    start = event.get("start") or {}
    return str(start.get("dateTime") or start.get("date") or "")
