"""Sending the digest through Graph's ``sendMail`` (Mail.Send), as MIME.

``POST {mailbox}/sendMail`` with the RFC 5322 message base64-encoded and
``Content-Type: text/plain``; Graph answers 202 Accepted and files a copy in
Sent Items. Sent once, never retried here: the digest ledger decides. Each
outcome says what is known: ``sent`` (202), ``retry`` (certainly not accepted:
throttled, unreachable), ``failed`` (refused: permissions, bad request) or
``unknown`` (a 5xx or a lost connection after the request went out: Graph may
have accepted it, so a blind retry could send the digest twice).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP

from peerpulse.connectors.base import AuthRequired, SourceUnavailable
from peerpulse.connectors.microsoft.graph import (
    AccessDenied,
    GraphClient,
    GraphError,
    GraphUnreachable,
)


@dataclass(frozen=True, slots=True)
class SendResult:
    state: str  # "sent" | "retry" | "failed" | "unknown"
    detail: str = ""


def encode(message: EmailMessage) -> bytes:
    return base64.b64encode(message.as_bytes(policy=SMTP))


def send_message(client: GraphClient, message: EmailMessage) -> SendResult:
    """Send once and classify the result; never raises for API or network failures."""
    try:
        response = client.request(
            "POST",
            client.url("sendMail"),
            data=encode(message),
            content_type="text/plain",
            retry=False,
        )
    except AuthRequired as exc:
        return SendResult("failed", f"{exc}; run: {exc.command}")
    except GraphError as exc:
        if exc.status in (429, 503):
            return SendResult("retry", str(exc))
        if exc.status >= 500:
            return SendResult("unknown", str(exc))
        return SendResult("failed", str(exc))
    except AccessDenied as exc:
        return SendResult("failed", f"{exc}; {exc.hint}")
    except GraphUnreachable as exc:
        return SendResult("retry" if exc.not_sent else "unknown", str(exc))
    except SourceUnavailable as exc:  # the token endpoint: nothing was sent
        return SendResult("retry", str(exc))
    if response.status_code == 202:
        return SendResult("sent")
    return SendResult("unknown", f"Graph answered {response.status_code}, not 202 Accepted")
