"""The SMTP backend: one connection, one message, an honest outcome.

The SMTP conversation is driven step by step (MAIL, RCPT per recipient, DATA,
content) instead of through ``sendmail``, so the outcome can say exactly how
far the message got:

- any failure before the content is sent is definite: a 4xx reply or a network
  problem is RETRY, a 5xx reply to the message or its recipient is FAILED;
- refused recipients are inspected one by one: all refused means nobody got it
  (FAILED if every refusal is 5xx, else RETRY); some refused means the others
  got it (SENT, naming the refused ones);
- once the content has started to leave, a disconnect or a timeout is UNKNOWN:
  the server may have queued it (RFC 1047), so we never resend blindly;
- a reply to the content is definite again (250 SENT, 4xx RETRY, 5xx FAILED).

TLS uses ``ssl.create_default_context()`` (certificate and host name checked).
Authentication, connection and TLS problems are RETRY: they are about our setup,
not this message, and the next run after a fix should send it.
"""

from __future__ import annotations

import contextlib
import email.policy
import re
import smtplib
import ssl
from collections.abc import Callable
from email.message import EmailMessage

from peerpulse.worker.delivery.base import DeliveryOutcome, DeliveryState
from peerpulse.worker.delivery.settings import SmtpSettings
from peerpulse.worker.errors import ConfigError
from peerpulse.worker.faults import fault_point

_LOOPBACK = {"localhost", "127.0.0.1", "::1"}
_DOT_LINE = re.compile(rb"(?m)^\.")


class SmtpBackend:
    def __init__(
        self,
        config: SmtpSettings,
        *,
        password: Callable[[], str] | None = None,
        ssl_context: Callable[[], ssl.SSLContext] = ssl.create_default_context,
    ) -> None:
        self.config = config
        self._password = password or (config.password.resolve if config.password else None)
        self._ssl_context = ssl_context

    def send(self, message: EmailMessage) -> DeliveryOutcome:
        raw = message.as_bytes(policy=email.policy.SMTP)
        sender, recipients = _envelope(message)
        if not sender or not recipients:
            return DeliveryOutcome(DeliveryState.FAILED, "message has no From or To address")
        try:
            client = self._connect()
        except ConfigError as exc:
            hint = f" ({exc.hint})" if exc.hint else ""
            return DeliveryOutcome(DeliveryState.RETRY, f"SMTP login not possible: {exc}{hint}")
        except smtplib.SMTPResponseException as exc:
            return DeliveryOutcome(DeliveryState.RETRY, f"SMTP {self._where()}: {_reply(exc)}")
        except smtplib.SMTPException as exc:
            return DeliveryOutcome(DeliveryState.RETRY, f"SMTP {self._where()}: {exc}")
        except OSError as exc:  # refused, unreachable, DNS, TLS handshake or certificate
            return DeliveryOutcome(DeliveryState.RETRY, f"cannot reach {self._where()}: {exc}")
        try:
            return self._transaction(client, sender, recipients, raw)
        finally:
            _close(client)

    # -- steps ---------------------------------------------------------------------

    def _connect(self) -> smtplib.SMTP:
        cfg = self.config
        if cfg.username and cfg.security == "none" and cfg.host not in _LOOPBACK:
            raise ConfigError(
                "refusing to send the SMTP password without TLS",
                key="delivery.security",
                hint="set security = \"starttls\" or \"ssl\"",
            )
        timeout = cfg.timeout_seconds
        client: smtplib.SMTP
        if cfg.security == "ssl":
            client = smtplib.SMTP_SSL(cfg.host, cfg.port, timeout=timeout,
                                      context=self._ssl_context())
        else:
            client = smtplib.SMTP(cfg.host, cfg.port, timeout=timeout)
        try:
            client.ehlo()
            if cfg.security == "starttls":
                client.starttls(context=self._ssl_context())
                client.ehlo()
            if cfg.username:
                if self._password is None:
                    raise ConfigError("delivery.username is set but delivery.password is not",
                                      key="delivery.password")
                client.login(cfg.username, self._password())
        except BaseException:
            _close(client)
            raise
        return client

    def _transaction(
        self, client: smtplib.SMTP, sender: str, recipients: list[str], raw: bytes
    ) -> DeliveryOutcome:
        content_started = False
        try:
            code, reply = client.mail(sender)
            if code != 250:
                return _refused("sender refused", code, reply)
            refused: dict[str, tuple[int, bytes]] = {}
            for rcpt in recipients:
                code, reply = client.rcpt(rcpt)
                if code not in (250, 251):
                    refused[rcpt] = (code, reply)
            if len(refused) == len(recipients):
                return _all_refused(refused)
            code, reply = client.docmd("DATA")
            if code != 354:
                return _refused("DATA refused", code, reply)
            content_started = True
            client.send(_dot_stuffed(raw))
            code, reply = client.getreply()
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            # SMTPServerDisconnected, timeouts and resets all land here.
            if content_started:
                return DeliveryOutcome(
                    DeliveryState.UNKNOWN,
                    f"connection lost after the message was sent, before the server "
                    f"confirmed it ({type(exc).__name__}: {exc}); it may have been delivered",
                )
            return DeliveryOutcome(DeliveryState.RETRY, f"connection lost before DATA: {exc}")
        except smtplib.SMTPResponseException as exc:
            return _refused("server error", exc.smtp_code, exc.smtp_error)
        if code != 250:
            return _refused("message refused", code, reply)
        fault_point("after_data")
        detail = f"accepted by {self._where()}: {_text(reply)}"
        if refused:
            detail += "; refused: " + ", ".join(
                f"{r} ({c} {_text(m)})" for r, (c, m) in sorted(refused.items())
            )
        return DeliveryOutcome(DeliveryState.SENT, detail)

    def _where(self) -> str:
        return f"{self.config.host}:{self.config.port}"


def _envelope(message: EmailMessage) -> tuple[str | None, list[str]]:
    """Envelope sender and recipients from the headers we built (From, To, Cc)."""
    sender_header = message["From"]
    senders = getattr(sender_header, "addresses", ())
    sender = senders[0].addr_spec if senders else None
    recipients: list[str] = []
    for name in ("To", "Cc"):
        header = message[name]
        for address in getattr(header, "addresses", ()):
            if address.addr_spec and address.addr_spec not in recipients:
                recipients.append(address.addr_spec)
    return sender, recipients


def _dot_stuffed(raw: bytes) -> bytes:
    """The DATA payload: lines starting with '.' doubled, ended by CRLF.CRLF (RFC 5321 4.5.2)."""
    body = _DOT_LINE.sub(b"..", raw)
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    return body + b".\r\n"


def _state_for(code: int) -> DeliveryState:
    return DeliveryState.FAILED if 500 <= code < 600 else DeliveryState.RETRY


def _refused(what: str, code: int, reply: bytes | str) -> DeliveryOutcome:
    return DeliveryOutcome(_state_for(code), f"{what}: {code} {_text(reply)}")


def _all_refused(refused: dict[str, tuple[int, bytes]]) -> DeliveryOutcome:
    codes = [code for code, _ in refused.values()]
    state = DeliveryState.FAILED if all(500 <= c < 600 for c in codes) else DeliveryState.RETRY
    detail = "; ".join(f"{r}: {c} {_text(m)}" for r, (c, m) in sorted(refused.items()))
    return DeliveryOutcome(state, f"all recipients refused: {detail}")


def _reply(exc: smtplib.SMTPResponseException) -> str:
    return f"{exc.smtp_code} {_text(exc.smtp_error)}"


def _text(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return " ".join(text.split())[:300]


def _close(client: smtplib.SMTP) -> None:
    """QUIT politely; the outcome is already decided, so errors here change nothing."""
    try:
        client.quit()
    except (OSError, smtplib.SMTPException):
        with contextlib.suppress(OSError):
            client.close()
