"""A local fake of Microsoft's sign-in service and of Graph, speaking their wire format.

Threaded ``http.server`` on 127.0.0.1, reached through the real msal and
requests (the connector's session maps ``https://login.microsoftonline.com``
and ``https://graph.microsoft.com`` here, so the links it hands out look like
Graph's). It serves OpenID discovery, the device-code flow, refresh tokens
(rotated on every use; the old one stops working, as a revoked grant does),
client credentials; ``calendarView/delta`` and per-folder message delta with
``@odata.nextLink``/``@odata.deltaLink``, ``@removed``, 410 or
``syncStateNotFound`` for expired tokens, ``Prefer: odata.maxpagesize``;
``/users`` with ``$expand=manager``; ``sendMail`` (202).

It rejects what Graph rejects (``$select``/``$filter``/``$orderby`` on the
calendar view delta, ``$orderby``/``$filter`` other than on receivedDateTime
or ``$search`` on message delta, an unknown ``$select`` property) and records
*violations* that fail the test: a message request without ``$select`` or
selecting ``body``, ``bodyPreview`` or ``uniqueBody``; more than 4 requests in
flight for one mailbox; a token used for a mailbox it may not read.

``faults`` (a :class:`Faults`) turns on a seeded fault mode for chaos runs
(issue 10): a share of Graph requests fails as Graph and networks do (429 and
503 with Retry-After, 500, 502 with a gateway's HTML page, 504, a read
timeout, a connection reset, a body cut short, an access token that expires
now (401 ``InvalidAuthenticationToken``), an expired delta token), and
a share of the sign-in service's token requests fails too (429/503 with
Retry-After, 500, timeout, reset, truncated body).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import socket
import struct
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

GRAPH = "https://graph.microsoft.com/v1.0"
LOGIN = "https://login.microsoftonline.com"
TENANT_ID = "72f988bf-0000-4000-8000-2d7cd011db47"
MESSAGE_PROPERTIES = {
    "id", "conversationId", "conversationIndex", "internetMessageId", "receivedDateTime",
    "sentDateTime", "createdDateTime", "lastModifiedDateTime", "from", "sender", "toRecipients",
    "ccRecipients", "bccRecipients", "replyTo", "subject", "isDraft", "isRead",
    "inferenceClassification", "parentFolderId", "importance", "hasAttachments", "categories",
    "changeKey", "flag", "webLink", "internetMessageHeaders", "body", "bodyPreview",
    "uniqueBody", "isDeliveryReceiptRequested", "isReadReceiptRequested",
}
BODY_PROPERTIES = {"body", "bodyPreview", "uniqueBody"}
USER_PROPERTIES = {
    "id", "mail", "userPrincipalName", "displayName", "department", "jobTitle",
    "proxyAddresses", "accountEnabled", "givenName", "surname", "officeLocation",
}


class GraphFault(Exception):
    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}


@dataclass
class Collection:
    """Items with a change version each; deletions are tombstones (item None)."""

    odata_type: str
    items: dict[str, tuple[int, dict[str, Any] | None]] = field(default_factory=dict)
    version: int = 0

    def put(self, item: dict[str, Any]) -> None:
        self.version += 1
        self.items[item["id"]] = (self.version, item)

    def delete(self, item_id: str) -> None:
        self.version += 1
        self.items[item_id] = (self.version, None)

    def live(self) -> list[dict[str, Any]]:
        return [item for _, item in self.items.values() if item is not None]


@dataclass
class Round:
    """Server-side state behind one skip or delta token."""

    box: str
    listing: str  # "calendar" or "folder:<name>"
    since: int
    asof: int
    offset: int
    select: list[str] | None
    window: tuple[str, str] | None


@dataclass
class Injected:
    match: str
    status: int
    code: str
    count: int
    headers: dict[str, str]


# Faults of a Graph request and of a sign-in (token endpoint) request.
GRAPH_FAULTS = (
    "429", "503", "500", "502", "504", "timeout", "reset", "truncated", "expired_token",
    "expired_sync",
)
SIGNIN_FAULTS = ("429", "503", "500", "timeout", "reset", "truncated")
TRANSPORT_FAULTS = frozenset({"timeout", "reset", "truncated"})


@dataclass
class Faults:
    """A seeded fault mode: ``rate`` of the requests fail.

    Deterministic whatever the thread interleaving: whether the n-th time a
    given request (method and path with its query) is seen fails, and how, is a
    hash of (seed, request, n). A read timeout holds the answer
    ``hold_seconds`` (the client's timeout must be shorter) and drops the
    connection. Requests that carry a delta token (the deltaLink of the last
    round) are the only ones that can meet an expired sync state, and half of
    their faults are one (they are few: one per listing and run). Skip tokens
    expire only when a client stalls for long, which a run does not (a resumed
    run whose stored nextLink expired is tested apart).
    """

    rate: float
    seed: int = 0
    kinds: tuple[str, ...] = GRAPH_FAULTS + SIGNIN_FAULTS
    retry_after: float = 1.0
    hold_seconds: float = 1.5
    counts: dict[str, int] = field(default_factory=dict)
    _seen: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def draw(self, key: str, allowed: tuple[str, ...], label: str = "") -> str | None:
        """The fault for this occurrence of ``key`` among ``allowed``, or None; counted
        under ``label`` + kind."""
        with self._lock:
            n = self._seen.get(key, 0)
            self._seen[key] = n + 1
        digest = hashlib.sha256(f"{self.seed}|{key}|{n}".encode()).digest()
        if int.from_bytes(digest[:8], "big") / 2**64 >= self.rate:
            return None
        kinds = [kind for kind in allowed if kind in self.kinds]
        if not kinds:
            return None
        kind = kinds[int.from_bytes(digest[8:16], "big") % len(kinds)]
        if "expired_sync" in kinds and digest[16] < 128:
            kind = "expired_sync"
        with self._lock:
            self.counts[label + kind] = self.counts.get(label + kind, 0) + 1
        return kind


def fault_kinds(path: str) -> tuple[str, ...]:
    """The faults a request can meet: sign-in faults on the token endpoint, an expired
    sync state only where a delta token is sent; discovery never fails."""
    if path.startswith("/login/"):
        return SIGNIN_FAULTS if path.endswith("/oauth2/v2.0/token") else ()
    if "$deltatoken=" in path or "%24deltatoken=" in path:
        return GRAPH_FAULTS
    return tuple(kind for kind in GRAPH_FAULTS if kind != "expired_sync")


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


class FakeGraph:
    def __init__(self, *, latency: float = 0.0, faults: Faults | None = None) -> None:
        self.latency = latency
        self.faults = faults
        self._issued = 0
        self.used_tokens: set[str] = set()  # access tokens Graph has accepted at least once
        self.signin_faults: list[str] = []  # kinds for the next token requests, in order
        self.calendars: dict[str, Collection] = {}
        self.folders: dict[tuple[str, str], Collection] = {}
        self.users: list[dict[str, Any]] = []
        self.sent: list[tuple[str, bytes]] = []
        self.client_secrets: dict[str, str] = {}  # client id -> secret
        self.app_mailboxes: set[str] = set()  # what an app-only token may read (access policy)
        self.refresh_tokens: dict[str, tuple[str, set[str]]] = {}
        self.access_tokens: dict[str, tuple[str, set[str], float]] = {}
        self.device_user = ""
        self.device_scopes: set[str] = set()
        self.device_pending = 1  # authorization_pending answers before the sign-in completes
        self.rounds: dict[str, Round] = {}
        self.expired_tokens: set[str] = set()
        self.injected: list[Injected] = []
        self.violations: list[str] = []
        self.log: list[tuple[str, str, dict[str, list[str]]]] = []  # (method, path, query)
        self.prefer: list[str] = []
        self.token_requests: list[dict[str, str]] = []
        self.in_flight: dict[str, int] = {}
        self.max_in_flight: dict[str, int] = {}
        self.lock = threading.Lock()
        self.page_cap = 1000  # the largest page Graph serves
        # Graph often ends a round with a page of its own that holds only the deltaLink.
        self.trailing_delta_page = False

    # -- setup -------------------------------------------------------------------------

    def mailbox(self, user: str) -> None:
        self.calendars.setdefault(user, Collection("#microsoft.graph.event"))
        for folder in ("inbox", "sentitems", "archive"):
            self.folders.setdefault((user, folder), Collection("#microsoft.graph.message"))

    def grant(self, user: str, scopes: set[str], refresh: str) -> None:
        self.refresh_tokens[refresh] = (user, set(scopes))

    def revoke_all(self) -> None:
        self.refresh_tokens.clear()
        self.access_tokens.clear()

    def expire_access_tokens(self) -> None:
        with self.lock:
            for token, (user, scopes, _) in list(self.access_tokens.items()):
                self.access_tokens[token] = (user, scopes, 0.0)

    def expire_rounds(self) -> None:
        """Every skip and delta token handed out so far stops working."""
        self.expired_tokens |= set(self.rounds)

    def inject(self, match: str, status: int, code: str, count: int = 1, **headers: str) -> None:
        self.injected.append(Injected(match, status, code, count, headers))

    def signin_requests(self) -> int:
        return sum(1 for m, p, _ in self.log if p.endswith("/oauth2/v2.0/token"))

    def graph_requests(self, part: str = "") -> int:
        return sum(1 for m, p, _ in self.log if p.startswith("/graph") and part in p)

    # -- server ------------------------------------------------------------------------

    def start(self) -> FakeGraph:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                fake._serve(self, "GET")

            def do_POST(self) -> None:
                fake._serve(self, "POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def settings(self) -> dict[str, str]:
        return {"graph_endpoint": self.url + "/graph", "login_endpoint": self.url + "/login"}

    def _serve(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        parsed = urllib.parse.urlsplit(handler.path)
        query = urllib.parse.parse_qs(parsed.query, keep_blank_values=True)
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        with self.lock:
            self.log.append((method, parsed.path, query))
        status, payload, headers = 200, {}, {}
        kind = None
        if self.signin_faults and parsed.path.endswith("/oauth2/v2.0/token"):
            with self.lock:
                kind = self.signin_faults.pop(0)
        elif self.faults is not None:
            allowed = fault_kinds(handler.path)
            bearer = handler.headers.get("Authorization", "").removeprefix("Bearer ")
            if bearer not in self.used_tokens:  # a token expires mid-run, not when just issued
                allowed = tuple(k for k in allowed if k != "expired_token")
            kind = self.faults.draw(f"{method} {handler.path}", allowed,
                                    "sign-in " if parsed.path.startswith("/login/") else "")
        try:
            if kind is not None and kind not in TRANSPORT_FAULTS:
                self._fault(kind, handler, parsed.path)
            if kind in TRANSPORT_FAULTS and parsed.path.startswith("/login/"):
                # lost before the sign-in service acted on it: the refresh token it carries
                # stays valid (Entra ID keeps a redeemed refresh token usable anyway)
                payload = {"token_type": "Bearer", "access_token": "lost", "expires_in": 3599}
            elif parsed.path.startswith("/login/"):
                status, payload = self._login(method, parsed.path[len("/login") :], body)
            elif parsed.path.startswith("/graph/v1.0/"):
                status, payload, headers = self._graph(
                    method, parsed.path[len("/graph/v1.0") :], query, handler, body
                )
            else:
                raise GraphFault(404, "NotFound", parsed.path)
        except GraphFault as fault:
            status, headers = fault.status, fault.headers
            payload = {"error": {"code": fault.code, "message": fault.message}}
            if parsed.path.startswith("/login/"):  # the sign-in service's error shape
                payload = {"error": fault.code, "error_description": fault.message}
            if fault.code == "BadGateway":  # a gateway's page, not Graph's JSON
                payload = None
                headers = {**headers, "Content-Type": "text/html"}
        data = json.dumps(payload).encode() if payload is not None else b""
        if status == 502 and not data:
            data = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
        if kind in TRANSPORT_FAULTS:
            self._transport_fault(handler, kind, status, headers, data)
            return
        handler.send_response(status)
        for name, value in headers.items():
            handler.send_header(name, value)
        if "Content-Type" not in headers:
            handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def _fault(self, kind: str, handler: BaseHTTPRequestHandler, path: str) -> None:
        """Raise the answer Graph (or the sign-in service) gives for fault ``kind``."""
        wait = {"Retry-After": f"{self.faults.retry_after if self.faults else 1:g}"}
        if kind == "429":
            raise GraphFault(429, "TooManyRequests" if path.startswith("/login/")
                             else "ApplicationThrottled",
                             "Application is over its MailboxConcurrency limit.", wait)
        if kind == "503":
            raise GraphFault(503, "ServiceUnavailable", "Service unavailable.", wait)
        if kind == "500":
            raise GraphFault(500, "InternalServerError" if not path.startswith("/login/")
                             else "server_error", "injected server error")
        if kind == "502":
            raise GraphFault(502, "BadGateway", "Bad Gateway")
        if kind == "504":
            raise GraphFault(504, "GatewayTimeout", "The gateway did not receive a response.")
        if kind == "expired_token":  # the access token expires now: every later use fails
            token = handler.headers.get("Authorization", "").removeprefix("Bearer ")
            with self.lock:
                self.access_tokens.pop(token, None)
            raise GraphFault(401, "InvalidAuthenticationToken",
                             "Lifetime validation failed, the token is expired.")
        if kind == "expired_sync":  # the skip or delta token this request carries expires
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(handler.path).query)
            for name in ("$skiptoken", "$deltatoken"):
                for token in query.get(name, []):
                    with self.lock:
                        self.expired_tokens.add(token)

    def _transport_fault(
        self, handler: BaseHTTPRequestHandler, kind: str, status: int,
        headers: dict[str, str], data: bytes,
    ) -> None:
        """A read timeout, a reset, or a body cut short; then the connection is gone."""
        handler.close_connection = True
        if kind == "timeout":
            time.sleep(self.faults.hold_seconds if self.faults else 1.5)
        elif kind == "truncated":
            handler.send_response(status)
            for name, value in headers.items():
                handler.send_header(name, value)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data[: len(data) // 2])
            handler.wfile.flush()
        # SO_LINGER 0: closing sends RST, as a dropped connection does
        handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    # -- sign-in -----------------------------------------------------------------------

    def _login(self, method: str, path: str, body: bytes) -> tuple[int, dict[str, Any]]:
        tenant = path.strip("/").split("/")[0]
        base = f"{LOGIN}/{tenant}"
        if path.endswith("/v2.0/.well-known/openid-configuration"):
            return 200, {
                "authorization_endpoint": base + "/oauth2/v2.0/authorize",
                "token_endpoint": base + "/oauth2/v2.0/token",
                "device_authorization_endpoint": base + "/oauth2/v2.0/devicecode",
                "issuer": f"{LOGIN}/{TENANT_ID}/v2.0",
            }
        form = {k: v[0] for k, v in urllib.parse.parse_qs(body.decode()).items()}
        if path.endswith("/oauth2/v2.0/devicecode"):
            self.device_scopes = set(form.get("scope", "").split())
            return 200, {
                "device_code": "device-code-1",
                "user_code": "FAKE-CODE",
                "verification_uri": "https://microsoft.com/devicelogin",
                "expires_in": 900,
                "interval": 0,
                "message": "To sign in, use a web browser to open the page "
                "https://microsoft.com/devicelogin and enter the code FAKE-CODE to authenticate.",
            }
        if not path.endswith("/oauth2/v2.0/token"):
            raise GraphFault(404, "NotFound", path)
        with self.lock:
            self.token_requests.append(form)
        grant = form.get("grant_type", "")
        scopes = set(form.get("scope", "").split()) - {"openid", "profile", "offline_access"}
        if grant == "urn:ietf:params:oauth:grant-type:device_code":
            if self.device_pending > 0:
                self.device_pending -= 1
                return 400, {"error": "authorization_pending",
                             "error_description": "AADSTS70016: pending"}
            granted = self.device_scopes - {"openid", "profile", "offline_access"}
            return 200, self._issue(self.device_user, granted, form.get("client_id", ""))
        if grant == "refresh_token":
            held = self.refresh_tokens.pop(form.get("refresh_token", ""), None)
            if held is None:
                return 400, {
                    "error": "invalid_grant",
                    "error_description": "AADSTS70008: The provided authorization code or "
                    "refresh token has expired due to inactivity.\r\nTrace ID: 1",
                    "error_codes": [70008],
                }
            user, granted = held
            if not scopes <= granted:
                self.refresh_tokens[form["refresh_token"]] = held
                return 400, {"error": "invalid_grant",
                             "error_description": "AADSTS65001: consent required",
                             "suberror": "consent_required"}
            return 200, self._issue(user, granted, form.get("client_id", ""))
        if grant == "client_credentials":
            client = form.get("client_id", "")
            secret_ok = self.client_secrets.get(client) == form.get("client_secret")
            assertion = form.get("client_assertion", "")
            cert_ok = assertion.count(".") == 2 and client in self.client_secrets
            if not (secret_ok or cert_ok):
                return 401, {"error": "invalid_client",
                             "error_description": "AADSTS7000215: Invalid client secret provided."}
            token = "app-" + secrets.token_hex(8)
            self.access_tokens[token] = ("app:" + client, scopes, time.time() + 3600)
            return 200, {"token_type": "Bearer", "expires_in": 3599, "access_token": token}
        return 400, {"error": "unsupported_grant_type", "error_description": grant}

    def _issue(self, user: str, scopes: set[str], client_id: str) -> dict[str, Any]:
        access = "at-" + secrets.token_hex(8)
        refresh = "rt-" + secrets.token_hex(8)
        now = int(time.time())
        oid = "00000000-0000-0000-0000-" + format(abs(hash(user)) % 10**12, "012d")
        self.access_tokens[access] = (user, set(scopes), time.time() + 3600)
        self.refresh_tokens[refresh] = (user, set(scopes))
        claims = {
            "aud": client_id, "iss": f"{LOGIN}/{TENANT_ID}/v2.0", "iat": now, "nbf": now,
            "exp": now + 3600, "oid": oid, "sub": oid, "tid": TENANT_ID,
            "preferred_username": user, "name": user.split("@")[0], "ver": "2.0",
        }
        id_token = ".".join([_b64({"alg": "none", "typ": "JWT"}), _b64(claims), "sig"])
        return {
            "token_type": "Bearer",
            "scope": " ".join(sorted(scopes)),
            "expires_in": 3599,
            "ext_expires_in": 3599,
            "access_token": access,
            "refresh_token": refresh,
            "id_token": id_token,
            "client_info": _b64({"uid": oid, "utid": TENANT_ID}),
        }

    # -- Graph -------------------------------------------------------------------------

    def _caller(self, handler: BaseHTTPRequestHandler) -> tuple[str, set[str]]:
        auth = handler.headers.get("Authorization", "")
        held = self.access_tokens.get(auth.removeprefix("Bearer "))
        if held is None or held[2] < time.time():
            raise GraphFault(401, "InvalidAuthenticationToken", "Access token has expired.")
        return held[0], held[1]

    def _mailbox(self, caller: str, scopes: set[str], who: str, need: str) -> str:
        if caller.startswith("app:"):
            if who == "me":
                raise GraphFault(400, "BadRequest", "/me request is only valid with delegated "
                                 "authentication flow.")
            if who not in self.app_mailboxes:
                raise GraphFault(403, "ErrorAccessDenied", "Access to OData is disabled: "
                                 "[RAOP] : Blocked by tenant configured AppOnly AccessPolicy")
            return who
        box = caller if who == "me" else who
        if box != caller:
            with self.lock:
                self.violations.append(f"delegated token of {caller} read {box}")
        if not any(s.endswith(need) for s in scopes):
            raise GraphFault(403, "ErrorAccessDenied", f"Access is denied ({need} missing).")
        return box

    def _graph(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        handler: BaseHTTPRequestHandler,
        body: bytes,
    ) -> tuple[int, Any, dict[str, str]]:
        caller, scopes = self._caller(handler)
        with self.lock:
            self.used_tokens.add(handler.headers.get("Authorization", "").removeprefix("Bearer "))
        for inj in self.injected:
            if inj.count > 0 and inj.match in path:
                inj.count -= 1
                raise GraphFault(inj.status, inj.code, "injected", dict(inj.headers))
        prefer = handler.headers.get("Prefer", "")
        with self.lock:
            self.prefer.append(prefer)
        parts = path.strip("/").split("/")
        if parts[0] == "users" and len(parts) == 1:
            if not (caller.startswith("app:") or any(s.endswith("User.Read.All") for s in scopes)):
                raise GraphFault(403, "Authorization_RequestDenied", "Insufficient privileges")
            return 200, self._users(query), {}
        who, rest = ("me", parts[1:]) if parts[0] == "me" else (parts[1].lower(), parts[2:])
        if rest and rest[0].startswith("mailFolders('"):  # the form Graph's links use
            rest = ["mailFolders", rest[0][len("mailFolders('") : -2], *rest[1:]]
        need = "Mail.Send" if rest == ["sendMail"] else (
            "Calendars.Read" if rest[:1] == ["calendarView"] else "Mail.ReadBasic"
        )
        box = self._mailbox(caller, scopes, who, need)
        with self.lock:
            self.in_flight[box] = self.in_flight.get(box, 0) + 1
            self.max_in_flight[box] = max(self.max_in_flight.get(box, 0), self.in_flight[box])
            if self.in_flight[box] > 4:
                self.violations.append(f"{self.in_flight[box]} requests in flight for {box}")
        try:
            if self.latency:
                time.sleep(self.latency)
            if rest == ["sendMail"] and method == "POST":
                if handler.headers.get("Content-Type", "").split(";")[0] != "text/plain":
                    raise GraphFault(400, "ErrorMimeContentInvalid", "MIME must be text/plain")
                self.sent.append((box, base64.b64decode(body)))
                return 202, None, {}
            if rest == ["calendarView", "delta"]:
                return 200, self._delta(box, "calendar", query, prefer), {}
            if len(rest) == 4 and rest[0] == "mailFolders" and rest[2:] == ["messages", "delta"]:
                return 200, self._delta(box, "folder:" + rest[1].lower(), query, prefer), {}
            raise GraphFault(400, "BadRequest", f"Resource not found for the segment '{path}'.")
        finally:
            with self.lock:
                self.in_flight[box] -= 1

    def _token(self, kind: str) -> str:
        """A new skip or delta token: numbered, so that a seeded fault mode meets the
        same requests (whose keys hold them) run after run."""
        with self.lock:
            self._issued += 1
            return f"{kind}{self._issued:012x}"

    def _page_size(self, prefer: str) -> int:
        for part in prefer.split(","):
            name, _, value = part.strip().partition("=")
            if name == "odata.maxpagesize":
                return max(1, min(int(value), self.page_cap))
        return 10

    def _collection(self, box: str, listing: str) -> Collection:
        if listing == "calendar":
            found = self.calendars.get(box)
        else:
            found = self.folders.get((box, listing.split(":", 1)[1]))
        if found is None:
            raise GraphFault(404, "ErrorItemNotFound", "The specified object was not found.")
        return found

    def _check_query(self, listing: str, query: dict[str, list[str]]) -> list[str] | None:
        if listing == "calendar":
            for banned in ("$select", "$filter", "$orderby", "$expand", "$search"):
                if banned in query:
                    raise GraphFault(400, "ErrorInvalidUrlQuery",
                                     f"The query parameter '{banned}' is not supported with delta")
            return None
        if "$search" in query:
            raise GraphFault(400, "ErrorInvalidUrlQuery", "$search is not supported with delta")
        order = query.get("$orderby", [""])[0]
        if order and order.replace(" ", "").lower() != "receiveddatetimedesc":
            raise GraphFault(400, "ErrorInvalidUrlQuery", "$orderby only on receivedDateTime desc")
        filt = query.get("$filter", [""])[0]
        if filt and not filt.startswith(("receivedDateTime ge", "receivedDateTime gt")):
            raise GraphFault(400, "ErrorInvalidUrlQuery", "$filter only on receivedDateTime")
        if "$select" not in query:
            with self.lock:
                self.violations.append("message delta without $select (returns bodies)")
            return None
        select = [s.strip() for s in query["$select"][0].split(",") if s.strip()]
        for name in select:
            if name not in MESSAGE_PROPERTIES:
                raise GraphFault(400, "RequestBroker--ParseUri",
                                 f"Could not find a property named '{name}' on type "
                                 "'microsoft.graph.message'.")
            if name in BODY_PROPERTIES:
                with self.lock:
                    self.violations.append(f"message delta selected {name}")
        return select

    def _delta(
        self, box: str, listing: str, query: dict[str, list[str]], prefer: str
    ) -> dict[str, Any]:
        size = self._page_size(prefer)
        token = (query.get("$skiptoken") or query.get("$deltatoken") or [None])[0]
        collection = self._collection(box, listing)
        if token is not None:
            round_ = self.rounds.get(token)
            if round_ is None or token in self.expired_tokens:
                if listing == "calendar" or token.startswith("d"):
                    raise GraphFault(410, "syncStateNotFound" if listing != "calendar"
                                     else "resyncRequired", "The sync state is not found.",
                                     {"Location": f"{GRAPH}/{listing}?$deltatoken="})
                raise GraphFault(400, "syncStateNotFound", "The sync state is not found.")
            if "$deltatoken" in query:  # a new round: changes since that one, as of now
                round_ = Round(box, listing, round_.asof, collection.version, 0,
                               round_.select, round_.window)
        else:
            select = self._check_query(listing, query)
            window = None
            if listing == "calendar":
                start = query.get("startDateTime", [""])[0]
                end = query.get("endDateTime", [""])[0]
                if not start or not end:
                    raise GraphFault(400, "ErrorInvalidParameter",
                                     "startDateTime and endDateTime are required")
                window = (start, end)
            round_ = Round(box, listing, 0, collection.version, 0, select, window)
        changes = sorted(
            (
                (version, item_id, item)
                for item_id, (version, item) in collection.items.items()
                if round_.since < version <= round_.asof
            ),
            key=lambda c: (c[0], c[1]),
        )
        visible = []
        for _version, item_id, item in changes:
            if item is None:
                if round_.since > 0:
                    visible.append({"@odata.type": collection.odata_type, "id": item_id,
                                    "@removed": {"reason": "deleted"}})
                continue
            if round_.window and not _in_window(item, round_.window):
                if round_.since > 0:
                    visible.append({"@odata.type": collection.odata_type, "id": item_id,
                                    "@removed": {"reason": "deleted"}})
                continue
            visible.append(item)
        page = [
            _project(item, round_.select, collection.odata_type) if "@removed" not in item else item
            for item in visible[round_.offset : round_.offset + size]
        ]
        route = "me/calendarView/delta" if listing == "calendar" else (
            f"me/mailFolders('{listing.split(':', 1)[1]}')/messages/delta"
        )
        out: dict[str, Any] = {"@odata.context": f"{GRAPH}/$metadata#Collection(event)",
                               "value": page}
        more = round_.offset + size < len(visible) or (
            self.trailing_delta_page and page and round_.offset + size >= len(visible)
        )
        if more:
            skip = self._token("s")
            self.rounds[skip] = Round(box, listing, round_.since, round_.asof,
                                      round_.offset + size, round_.select, round_.window)
            out["@odata.nextLink"] = f"{GRAPH}/{route}?$skiptoken={skip}"
        else:
            delta = self._token("d")
            self.rounds[delta] = Round(box, listing, round_.since, round_.asof, 0,
                                       round_.select, round_.window)
            out["@odata.deltaLink"] = f"{GRAPH}/{route}?$deltatoken={delta}"
        return out

    def _users(self, query: dict[str, list[str]]) -> dict[str, Any]:
        select = [s for s in query.get("$select", [""])[0].split(",") if s]
        for name in select:
            if name not in USER_PROPERTIES:
                raise GraphFault(400, "Request_BadRequest",
                                 f"Could not find a property named '{name}' on type "
                                 "'microsoft.graph.user'.")
        top = int(query.get("$top", ["100"])[0])
        if top > 999:
            raise GraphFault(400, "Request_UnsupportedQuery", "Invalid page size specified")
        skip = int(query.get("$skiptoken", ["0"])[0])
        expand = query.get("$expand", [""])[0]
        page = []
        for user in self.users[skip : skip + top]:
            shown = {k: v for k, v in user.items() if k in select or not select}
            shown.pop("manager", None)
            if expand.startswith("manager"):
                boss = user.get("manager")
                shown["manager"] = ({"@odata.type": "#microsoft.graph.user", **boss}
                                    if boss else None)
            page.append(shown)
        out: dict[str, Any] = {"value": page}
        if skip + top < len(self.users):
            params = urllib.parse.urlencode(
                {"$select": ",".join(select), "$expand": expand, "$top": top,
                 "$skiptoken": skip + top}
            )
            out["@odata.nextLink"] = f"{GRAPH}/users?{params}"
        return out


def _in_window(event: dict[str, Any], window: tuple[str, str]) -> bool:
    start = str(event.get("start", {}).get("dateTime", ""))[:19]
    end = str(event.get("end", {}).get("dateTime", ""))[:19]
    return start < window[1][:19] and end > window[0][:19]


def _project(item: dict[str, Any], select: list[str] | None, odata_type: str) -> dict[str, Any]:
    out = {"@odata.type": item.get("@odata.type", odata_type), "@odata.etag": 'W/"x"'}
    if select is None:
        out.update(item)
    else:
        out.update({k: v for k, v in item.items() if k in select or k == "id"})
    return out
