"""Credentials: installed-app OAuth for one manager, service accounts for an organization.

One manager runs ``peerpulse auth google --account NAME`` once (browser on this
machine, or ``--console`` on a headless server: open the printed URL anywhere,
paste back the address the browser was sent to). The token lands in
``<state_dir>/tokens/<account>-google.json``, mode 0600 in a 0700 folder, and
is refreshed by later runs. A scheduled run never prompts: no token, a revoked
one (``invalid_grant``) or one missing a scope is :class:`AuthRequired` carrying
the exact command to run; the account's cursors are kept.

An organization uses a service account with domain-wide delegation: one
delegated credential per user via ``with_subject``.

Scopes are the minimum (faults §1.1): ``calendar.events.readonly``,
``gmail.metadata`` (never with ``gmail.readonly``: the pair still forbids
``q``), ``gmail.send`` only when the digest goes out through Gmail, and
``admin.directory.user.readonly`` only in organization mode.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import google.auth.exceptions
import google_auth_httplib2
import httplib2
from google.oauth2 import credentials as user_credentials
from google.oauth2 import service_account
from peerpulse.connectors.atomic_file import write_atomic
from peerpulse.connectors.base import AuthRequired, SourceUnavailable
from peerpulse.connectors.file_modes import make_private_dir, secret_file_problem
from peerpulse.connectors.google.settings import GoogleSettings

SCOPE_CALENDAR = "https://www.googleapis.com/auth/calendar.events.readonly"
SCOPE_GMAIL_METADATA = "https://www.googleapis.com/auth/gmail.metadata"
SCOPE_GMAIL_SEND = "https://www.googleapis.com/auth/gmail.send"
SCOPE_DIRECTORY = "https://www.googleapis.com/auth/admin.directory.user.readonly"

Credentials = user_credentials.Credentials | service_account.Credentials


def auth_command(account: str) -> str:
    return f"peerpulse auth google --account {account}"


def scopes_for(settings: GoogleSettings, *, send: bool = False) -> list[str]:
    """The minimal scope set the configured sources (and Gmail delivery) need."""
    scopes = []
    if settings.calendars:
        scopes.append(SCOPE_CALENDAR)
    if settings.mail:
        scopes.append(SCOPE_GMAIL_METADATA)
    if send:
        scopes.append(SCOPE_GMAIL_SEND)
    if settings.directory:
        scopes.append(SCOPE_DIRECTORY)
    return scopes


def token_path(state_dir: str | Path, account: str) -> Path:
    return Path(state_dir) / "tokens" / f"{account}-google.json"


def resolve_secret(ref: Any, base_dir: str | Path = ".") -> str:
    """The value behind a config SecretRef dump (``{"env": NAME}`` or ``{"file": PATH}``).

    Relative files resolve against ``$CREDENTIALS_DIRECTORY`` (systemd
    ``LoadCredential=``) when set, else against the config file's folder.
    """
    if isinstance(ref, Mapping):
        env, file = ref.get("env"), ref.get("file")
    else:
        env, file = getattr(ref, "env", None), getattr(ref, "file", None)
    if env:
        value = os.environ.get(str(env))
        if value is None:
            raise SourceUnavailable(
                f"environment variable {env} is not set",
                hint="export it or point the secret at a file",
            )
        return value
    if file:
        path = Path(os.path.expanduser(str(file)))
        if not path.is_absolute():
            creds_dir = os.environ.get("CREDENTIALS_DIRECTORY")
            path = Path(creds_dir) / path if creds_dir else Path(base_dir) / path
        problem = secret_file_problem(path)
        if problem:
            raise SourceUnavailable(problem)
        try:
            return path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SourceUnavailable(f"cannot read secret file {path}: {exc.strerror}") from exc
    raise SourceUnavailable("a Google secret reference names neither env nor file")


def write_private(path: Path, text: str) -> None:
    """Write atomically as 0600 inside a 0700 folder (tokens are secrets)."""
    make_private_dir(path.parent)
    os.chmod(path.parent, 0o700)
    write_atomic(path, text.encode("utf-8"))


def auth_transport() -> google_auth_httplib2.Request:
    return google_auth_httplib2.Request(httplib2.Http(timeout=60))


def _client_config(raw: str, token_endpoint: str | None) -> dict[str, Any]:
    try:
        config = json.loads(raw)
    except ValueError as exc:
        raise SourceUnavailable(
            "the Google OAuth client file is not JSON",
            hint="download it again from the Cloud console",
        ) from exc
    if not isinstance(config, dict) or not ({"installed", "web"} & config.keys()):
        raise SourceUnavailable(
            "the Google OAuth client file has no 'installed' section",
            hint="create an OAuth client of type 'Desktop app'",
        )
    if token_endpoint:
        for section in ("installed", "web"):
            if section in config:
                config[section]["token_uri"] = token_endpoint
    return config


def authorize(
    account: str,
    settings: GoogleSettings,
    *,
    state_dir: str | Path,
    base_dir: str | Path = ".",
    console: bool = False,
    send: bool = False,
    open_browser: bool = True,
    prompt: Callable[[str], str] = input,
    say: Callable[[str], None] = print,
) -> Path:
    """Run the installed-app consent flow once and store the token; returns its path.

    ``settings`` is the account's ``[source]`` table; ``send`` adds ``gmail.send``
    when the account delivers by Gmail.
    ``console`` never starts a browser or a listener: it prints the consent URL
    and reads back the address the browser was redirected to (or just the code).
    """
    from google_auth_oauthlib.flow import InstalledAppFlow

    if settings.mode != "user":
        raise SourceUnavailable("service-account accounts need no interactive authorization")
    secrets = settings.client_secrets
    if not secrets:
        raise SourceUnavailable(
            "no OAuth client configured", hint='set client_secrets = {file = "client_secret.json"}'
        )
    config = _client_config(resolve_secret(secrets, base_dir), settings.token_endpoint)
    flow = InstalledAppFlow.from_client_config(config, scopes_for(settings, send=send))
    if console:
        # Google retired the out-of-band copy/paste flow; a loopback redirect that
        # nothing listens on works from any browser: the code is in the address bar.
        flow.redirect_uri = "http://127.0.0.1:1/"
        url, _ = flow.authorization_url(access_type="offline", prompt="consent")
        say(f"Open this address in a browser, approve, then paste the address it ends on:\n{url}")
        flow.fetch_token(code=_code_from(prompt("Address or code: ")))
        creds = flow.credentials
    else:
        creds = flow.run_local_server(
            port=0, open_browser=open_browser, access_type="offline", prompt="consent"
        )
    path = token_path(state_dir, account)
    write_private(path, creds.to_json())
    return path


def _code_from(answer: str) -> str:
    answer = answer.strip()
    if answer.startswith("http"):
        query = urllib.parse.parse_qs(urllib.parse.urlparse(answer).query)
        if "error" in query:
            raise AuthRequired(f"consent was refused: {query['error'][0]}", command="")
        if "code" in query:
            return query["code"][0]
    return answer


class UserTokenStore:
    """Loads, refreshes and saves one account's installed-app token."""

    def __init__(
        self, account: str, state_dir: str | Path, token_endpoint: str | None = None
    ) -> None:
        self.account = account
        self.path = token_path(state_dir, account)
        self.token_endpoint = token_endpoint

    def load(self, needed: Iterable[str]) -> user_credentials.Credentials:
        """Valid credentials holding ``needed`` scopes, refreshed if due; never prompts."""
        command = auth_command(self.account)
        problem = secret_file_problem(self.path)
        if problem:
            raise SourceUnavailable(problem)
        try:
            info = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise AuthRequired(
                f"account {self.account} has not authorized Google yet", command=command
            ) from None
        except (OSError, ValueError) as exc:
            raise AuthRequired(
                f"the Google token file {self.path} is unreadable ({exc})", command=command
            ) from None
        granted = set(info.get("scopes") or [])
        missing = sorted(set(needed) - granted)
        if missing:
            raise AuthRequired(
                f"account {self.account}'s Google token lacks {', '.join(missing)}; "
                "authorize again to grant it",
                command=command,
            )
        creds = user_credentials.Credentials.from_authorized_user_info(info)
        if self.token_endpoint:
            expiry = creds.expiry
            creds = creds.with_token_uri(self.token_endpoint)
            creds.expiry = expiry  # the copy forgets it and would pass for valid
        if not creds.valid:
            refresh(creds, self.account)
            self.save(creds)
        return creds

    def save(self, creds: user_credentials.Credentials) -> None:
        write_private(self.path, creds.to_json())


DELEGATION_HINT = (
    "a super administrator adds the service account's client ID with the scopes {scopes} "
    "under Admin console > Security > Access and data control > API controls > "
    "Domain-wide delegation (then the next run works; no peerpulse command is needed)"
)


def token_failure(
    exc: BaseException, account: str, *, service: bool = False, scopes: Iterable[str] = ()
) -> Exception:
    """What a refused token means for the user, as the error to raise.

    A user's revoked or expired grant (``invalid_grant``) or a 401 is fixed by
    authorizing again (:class:`AuthRequired` with the command). A service
    account is never authorized with that command: ``unauthorized_client``
    means its domain-wide delegation is missing (or lacks a scope), which an
    administrator fixes in the Admin console, so it is SourceUnavailable
    with that step as the hint.
    """
    text = _first_line(str(exc))
    if service:
        if "unauthorized_client" in text or "access_denied" in text:
            return SourceUnavailable(
                f"Google refused the service account for account {account} ({text}): "
                "domain-wide delegation is missing or lacks a scope",
                hint=DELEGATION_HINT.format(scopes=", ".join(scopes) or "the configured ones"),
            )
        return SourceUnavailable(
            f"Google refused the service account for account {account} ({text})",
            hint="check that the service-account key is current (keys can be disabled or deleted)",
        )
    return AuthRequired(
        f"Google refused account {account}'s token ({text}); it was revoked, "
        "expired (apps in 'Testing' lose tokens after 7 days) or its password changed",
        command=auth_command(account),
    )


def refresh(creds: Any, account: str, *, service: bool = False) -> None:
    """Refresh now; revoked or expired grants become AuthRequired, outages SourceUnavailable."""
    try:
        creds.refresh(auth_transport())
    except google.auth.exceptions.RefreshError as exc:
        text = str(exc)
        if "invalid_grant" in text or "invalid_client" in text or "unauthorized_client" in text:
            scopes = getattr(creds, "scopes", None) or ()
            raise token_failure(exc, account, service=service, scopes=scopes) from None
        raise SourceUnavailable(f"cannot refresh the Google token: {_first_line(text)}") from None
    except (httplib2.HttpLib2Error, OSError) as exc:
        raise SourceUnavailable(f"cannot reach Google's token endpoint: {exc}") from None


def _first_line(text: str) -> str:
    return text.splitlines()[0][:200] if text else ""


# Parsed service-account keys, by (key digest, token endpoint, scopes). Loading the PEM
# key (with its RSA checks) took 150 ms of the 200 ms of CPU an organization worker
# spent per mailbox; every manager of an organization uses the same key, so it is
# parsed once per process and each manager gets a copy bound to its subject (the
# copy shares the signer, which is stateless).
_SERVICE_KEYS: dict[tuple[str, str, tuple[str, ...]], service_account.Credentials] = {}
_SERVICE_KEYS_LOCK = threading.Lock()


def delegated(
    key_json: str, subject: str, scopes: Iterable[str], token_endpoint: str | None = None
) -> service_account.Credentials:
    """A service-account credential acting as ``subject`` (domain-wide delegation)."""
    wanted = tuple(scopes)
    cache_key = (hashlib.sha256(key_json.encode()).hexdigest(), token_endpoint or "", wanted)
    with _SERVICE_KEYS_LOCK:
        base = _SERVICE_KEYS.get(cache_key)
    if base is None:
        try:
            info = json.loads(key_json)
        except ValueError as exc:
            raise SourceUnavailable("the service-account key is not JSON") from exc
        if token_endpoint:
            info["token_uri"] = token_endpoint
        try:
            base = service_account.Credentials.from_service_account_info(info, scopes=list(wanted))
        except (ValueError, KeyError) as exc:
            raise SourceUnavailable(f"the service-account key is unusable: {exc}") from exc
        with _SERVICE_KEYS_LOCK:
            _SERVICE_KEYS[cache_key] = base
    return base.with_subject(subject)


def account_credentials(
    account: str,
    settings: GoogleSettings,
    *,
    subject: str,
    scopes: list[str],
    base_dir: str | Path,
    state_dir: str | Path | None,
) -> Any:
    """Credentials for one configured account, refreshed and ready (never interactive)."""
    token_endpoint = settings.token_endpoint
    if settings.mode == "service_account":
        key = settings.service_account_key
        if not key:
            raise SourceUnavailable(
                "service_account mode needs service_account_key",
                hint='service_account_key = {file = "key.json"}',
            )
        creds = delegated(resolve_secret(key, base_dir), subject, scopes, token_endpoint)
        refresh(creds, account, service=True)
        return creds
    if not state_dir:
        raise SourceUnavailable("no state_dir given to the Google connector")
    return UserTokenStore(account, state_dir, token_endpoint).load(scopes)
