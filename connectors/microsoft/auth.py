"""Credentials through msal: device code for one manager, client credentials for an organization.

One manager runs ``peerpulse auth microsoft --account NAME`` once: msal's
device-code flow prints a code to enter at microsoft.com/devicelogin from any
browser (nothing listens on this machine). The msal token cache lands in
``<state_dir>/tokens/<account>-microsoft.json``, mode 0600 in a 0700 folder,
and is written again after *every* acquisition, because Entra ID rotates
refresh tokens: a cache saved only at exit would lose the new one to a crash.
Scheduled runs only call ``acquire_token_silent``: no cached account, a
refused refresh token (``invalid_grant``, ``interaction_required``, AADSTS
codes such as 70008 expired or 50173 revoked) is :class:`AuthRequired` naming
that command; the account's cursors stay as they are.

An organization uses app-only client credentials (a certificate, or a secret
by reference) with the ``.default`` scope: the permissions come from the app
registration's admin consent, restricted to the managers' mailboxes by an
application access policy or RBAC for Applications (docs/MICROSOFT.md).

Delegated scopes are the minimum for the configured sources (docs/MICROSOFT.md):
Calendars.Read, Mail.ReadBasic (no body, no preview), User.Read.All only for
the directory, Mail.Send only when the digest goes out through Graph.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import msal
import requests
from peerpulse.connectors.atomic_file import write_atomic
from peerpulse.connectors.base import AuthRequired, SourceUnavailable
from peerpulse.connectors.file_modes import make_private_dir, secret_file_problem
from peerpulse.connectors.microsoft.settings import LOGIN_ROOT, MicrosoftSettings
from peerpulse.connectors.settings import SecretRef

log = logging.getLogger(__name__)

GRAPH = "https://graph.microsoft.com/"
SCOPE_CALENDAR = GRAPH + "Calendars.Read"
SCOPE_MAIL = GRAPH + "Mail.ReadBasic"
SCOPE_DIRECTORY = GRAPH + "User.Read.All"
SCOPE_SEND = GRAPH + "Mail.Send"
APP_SCOPE = GRAPH + ".default"

# Token-endpoint answers that only a new sign-in fixes (the others are outages or config).
REAUTHORIZE_ERRORS = {"invalid_grant", "interaction_required", "consent_required", "login_required"}
# A token request that failed for a moment (no answer, 429, 5xx) is tried this many times in
# all before the run gives up on the source, waiting the server's Retry-After or a back-off.
SIGNIN_ATTEMPTS = 4
# Error codes of a token answer that is an outage or throttling, not a refusal.
TRANSIENT_ERRORS = {"temporarily_unavailable", "server_error", "TooManyRequests",
                    "ServiceUnavailable", "InternalServerError", "invalid_response"}


def auth_command(account: str) -> str:
    return f"peerpulse auth microsoft --account {account}"


def scopes_for(settings: MicrosoftSettings, *, send: bool = False) -> list[str]:
    """The minimal delegated scopes the configured sources (and Graph delivery) need."""
    scopes = []
    if settings.calendar:
        scopes.append(SCOPE_CALENDAR)
    if settings.mail:
        scopes.append(SCOPE_MAIL)
    if settings.directory:
        scopes.append(SCOPE_DIRECTORY)
    if send:
        scopes.append(SCOPE_SEND)
    return scopes


def token_path(state_dir: str | Path, account: str) -> Path:
    return Path(state_dir) / "tokens" / f"{account}-microsoft.json"


def resolve_secret(ref: SecretRef, base_dir: str | Path = ".") -> str:
    """The value behind a secret reference (an environment variable or a file).

    Relative files resolve against ``$CREDENTIALS_DIRECTORY`` (systemd
    ``LoadCredential=``) when set, else against the config file's folder; a
    file readable by others is refused like an ssh key.
    """
    env, file = ref.env, ref.file
    if env:
        value = os.environ.get(str(env))
        if value is None:
            raise SourceUnavailable(
                f"environment variable {env} is not set", hint="export it or use a file"
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
    raise SourceUnavailable("a Microsoft secret reference names neither env nor file")


def describe(result: Mapping[str, Any]) -> str:
    """An msal error result in one line: the error and the first line of its description
    (which starts with the AADSTS code); never any token."""
    text = str(result.get("error_description") or "").strip().splitlines()
    return f"{result.get('error', 'error')}: {text[0][:200] if text else ''}".strip(": ")


def transient(result: Mapping[str, Any] | None) -> bool:
    """An error answer worth repeating: throttling or an outage of the sign-in service."""
    if not result or "access_token" in result or needs_reauthorization(result):
        return False
    return str(result.get("error")) in TRANSIENT_ERRORS


def acquire_with_retries(
    acquire: Callable[[], Mapping[str, Any] | None],
    what: str,
    *,
    sleep: Callable[[float], None] = time.sleep,
    asked: Callable[[], float | None] = lambda: None,
    waited: Callable[[], None] = lambda: None,
) -> Mapping[str, Any] | None:
    """``acquire()`` until it answers something other than a passing failure (bounded).

    A dropped connection, a read timeout, a body cut short or a 429 from the token
    endpoint used to end the run at once, and a 5xx escaped as msal's own exception
    (an "unexpected error"), while the same faults from Graph are retried; found by
    ``make chaos-microsoft``. ``asked`` is the Retry-After of the
    last answer, if any; ``waited`` runs after each wait (it empties msal's throttle
    cache, which would otherwise answer the repeat with the cached error).
    """
    for attempt in range(SIGNIN_ATTEMPTS):
        last = attempt == SIGNIN_ATTEMPTS - 1
        try:
            result = acquire()
        except (requests.RequestException, msal.exceptions.MsalServiceError) as exc:
            # msal raises "HTTP Error: 503" for a 5xx answer instead of returning it
            if last:
                raise SourceUnavailable(f"cannot reach {what}: {exc}") from None
            reason = str(exc) if isinstance(exc, msal.exceptions.MsalServiceError) else (
                type(exc).__name__
            )
        else:
            if last or not transient(result):
                return result
            reason = describe(result or {})
        wait = asked()
        if wait is None:
            wait = min(30.0, 2.0**attempt) * random.uniform(0.5, 1.0)
        log.info("%s failed (%s); trying again in %.1f s", what, reason, wait)
        sleep(wait)
        waited()
    return None  # not reached: the last attempt returns or raises


def needs_reauthorization(result: Mapping[str, Any]) -> bool:
    return str(result.get("error")) in REAUTHORIZE_ERRORS or str(
        result.get("error_description", "")
    ).startswith(("AADSTS70008", "AADSTS50173", "AADSTS700082", "AADSTS50076", "AADSTS65001"))


class CacheFile:
    """The msal token cache of one account, on disk as 0600 and saved on every change."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.cache = msal.SerializableTokenCache()
        self._lock = threading.Lock()

    def load(self) -> bool:
        """Read the file if there is one; False when there is none yet."""
        problem = secret_file_problem(self.path)
        if problem:
            raise SourceUnavailable(problem)
        try:
            self.cache.deserialize(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return False
        except (OSError, ValueError) as exc:
            raise SourceUnavailable(
                f"the Microsoft token cache {self.path} is unreadable: {exc}"
            ) from None
        return True

    def save(self) -> None:
        """Write the cache if msal changed it (a rotated refresh token, a new access token)."""
        with self._lock:
            if not self.cache.has_state_changed:
                return
            make_private_dir(self.path.parent)
            os.chmod(self.path.parent, 0o700)
            write_atomic(self.path, self.cache.serialize().encode("utf-8"))
            self.cache.has_state_changed = False


def _authority(settings: MicrosoftSettings, default_tenant: str) -> str:
    return f"{LOGIN_ROOT}/{settings.tenant or default_tenant}"


def _build(factory: Callable[[], Any], what: str) -> Any:
    """Construct an msal application: it fetches the tenant's OpenID configuration."""
    try:
        return factory()
    except requests.RequestException as exc:
        raise SourceUnavailable(f"cannot reach Microsoft's sign-in service: {exc}") from None
    except ValueError as exc:
        raise SourceUnavailable(
            f"Microsoft does not know this {what}: {str(exc).splitlines()[0][:200]}",
            hint="check tenant and client_id in the account's [accounts.source]",
        ) from None


def public_app(
    settings: MicrosoftSettings,
    session: requests.Session,
    cache: Any = None,
    http_cache: dict[str, Any] | None = None,
) -> msal.PublicClientApplication:
    return _build(
        lambda: msal.PublicClientApplication(
            settings.client_id,
            authority=_authority(settings, "organizations"),
            token_cache=cache,
            http_client=session,
            http_cache=http_cache,
            instance_discovery=False,
        ),
        "tenant or client",
    )


class DelegatedCredentials:
    """Silent acquisition from the account's cache; never interactive."""

    def __init__(
        self,
        account: str,
        settings: MicrosoftSettings,
        session: requests.Session,
        *,
        scopes: list[str],
        state_dir: str | Path | None,
    ) -> None:
        self.account = account
        self.scopes = scopes
        if not state_dir:
            raise SourceUnavailable("no state_dir given to the Microsoft connector")
        self.file = CacheFile(token_path(state_dir, account))
        if not self.file.load():
            raise AuthRequired(
                f"account {account} has not signed in to Microsoft yet",
                command=auth_command(account),
            )
        self._http_cache: dict[str, Any] = {}  # msal's throttle cache, emptied after a wait
        self.app = public_app(settings, session, self.file.cache, self._http_cache)
        self._session = session
        self._lock = threading.Lock()
        self.sleep: Callable[[float], None] = time.sleep

    def token(self, force_refresh: bool = False) -> str:
        """A valid access token (refreshed through the cache as needed); saves the cache."""
        command = auth_command(self.account)
        with self._lock:
            accounts = self.app.get_accounts()
            if not accounts:
                raise AuthRequired(
                    f"the Microsoft token cache of account {self.account} holds no sign-in",
                    command=command,
                )
            try:
                result = acquire_with_retries(
                    lambda: self.app.acquire_token_silent_with_error(
                        self.scopes, account=accounts[0], force_refresh=force_refresh
                    ),
                    "Microsoft's token endpoint",
                    sleep=self.sleep,
                    asked=lambda: getattr(self._session, "retry_after", None),
                    waited=self._http_cache.clear,
                )
            finally:
                self.file.save()
        if result and "access_token" in result:
            return str(result["access_token"])
        if result is None:  # nothing cached for these scopes: a scope was added since sign-in
            raise AuthRequired(
                f"account {self.account}'s Microsoft sign-in does not cover "
                f"{', '.join(s.removeprefix(GRAPH) for s in self.scopes)}; sign in again",
                command=command,
            )
        if needs_reauthorization(result):
            raise AuthRequired(
                f"Microsoft refused account {self.account}'s sign-in ({describe(result)}); "
                "it expired, was revoked or needs new consent",
                command=command,
            )
        raise SourceUnavailable(f"Microsoft's token endpoint said {describe(result)}")


class ApplicationCredentials:
    """App-only client credentials (certificate or secret); msal caches the token in memory."""

    def __init__(
        self,
        account: str,
        settings: MicrosoftSettings,
        session: requests.Session,
        *,
        base_dir: str | Path = ".",
    ) -> None:
        self.account = account
        self.scopes = [APP_SCOPE]
        credential: Any
        if settings.certificate_key is not None:
            credential = {
                "private_key": resolve_secret(settings.certificate_key, base_dir),
                "thumbprint": str(settings.certificate_thumbprint),
            }
        elif settings.client_secret is not None:
            credential = resolve_secret(settings.client_secret, base_dir)
        else:
            raise SourceUnavailable(
                "application mode needs certificate_key or client_secret",
                hint='client_secret = {env = "PEERPULSE_MS_SECRET"}',
            )
        self._http_cache: dict[str, Any] = {}  # msal's throttle cache, emptied after a wait
        self._session = session
        self.app = _build(
            lambda: msal.ConfidentialClientApplication(
                settings.client_id,
                client_credential=credential,
                authority=_authority(settings, ""),
                http_client=session,
                http_cache=self._http_cache,
                instance_discovery=False,
            ),
            "tenant or client",
        )
        self._lock = threading.Lock()
        self.sleep: Callable[[float], None] = time.sleep

    def token(self, force_refresh: bool = False) -> str:
        with self._lock:
            if force_refresh:
                self.app.remove_tokens_for_client()
            try:
                result = acquire_with_retries(
                    lambda: self.app.acquire_token_for_client(self.scopes),
                    "Microsoft's token endpoint",
                    sleep=self.sleep,
                    asked=lambda: getattr(self._session, "retry_after", None),
                    waited=self._http_cache.clear,
                )
            except ValueError as exc:  # an unusable private key
                raise SourceUnavailable(f"the certificate key is unusable: {exc}") from None
        if result and "access_token" in result:
            return str(result["access_token"])
        result = result or {}
        raise SourceUnavailable(
            f"Microsoft refused the app's credentials for account {self.account} "
            f"({describe(result)})",
            hint="the client secret or certificate may have expired; renew it in the app "
            "registration and update the reference in the config",
        )


Credentials = DelegatedCredentials | ApplicationCredentials


def account_credentials(
    account: str,
    settings: MicrosoftSettings,
    session: requests.Session,
    *,
    state_dir: str | Path | None,
    base_dir: str | Path = ".",
    send: bool = False,
) -> Credentials:
    """Credentials for one configured account (never interactive); the delegated
    token cache lives under ``state_dir``."""
    if settings.mode == "application":
        return ApplicationCredentials(account, settings, session, base_dir=base_dir)
    return DelegatedCredentials(
        account, settings, session, scopes=scopes_for(settings, send=send), state_dir=state_dir
    )


def authorize(
    account: str,
    settings: MicrosoftSettings,
    session: requests.Session,
    *,
    state_dir: str | Path,
    send: bool = False,
    say: Callable[[str], None] = print,
) -> Path:
    """Sign in once by device code and store the token cache; returns its path.

    Prints Microsoft's instruction (a URL and a short code to enter from any
    browser) and waits while msal polls the token endpoint.
    """
    if settings.mode == "application":
        raise SourceUnavailable("application-mode accounts need no interactive sign-in")
    file = CacheFile(token_path(state_dir, account))
    file.load()
    app = public_app(settings, session, file.cache)
    scopes = scopes_for(settings, send=send)
    try:
        flow = app.initiate_device_flow(scopes=scopes)
        if "user_code" not in flow:
            raise SourceUnavailable(f"Microsoft refused the device-code sign-in ({describe(flow)})")
        say(str(flow["message"]))
        result = app.acquire_token_by_device_flow(flow)
    except requests.RequestException as exc:
        raise SourceUnavailable(f"cannot reach Microsoft's sign-in service: {exc}") from None
    finally:
        file.save()
    if "access_token" not in result:
        raise AuthRequired(
            f"the sign-in did not complete ({describe(result)})", command=auth_command(account)
        )
    return file.path
