"""Sending one message through Gmail's users.messages.send (raw, base64url).

Costs 100 quota units and needs only ``gmail.send``. Never retried here: the
digest ledger decides (a 200 does not even prove delivery, Gmail error guide;
faults §2.1), so each outcome says what is known: accepted, certainly not
accepted (retry later / give up), or unknown.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from typing import Any

import google.auth.exceptions
import httplib2
from googleapiclient.errors import HttpError
from peerpulse.connectors.google.pacing import error_reason


@dataclass(frozen=True, slots=True)
class SendResult:
    state: str  # "sent" | "retry" | "failed" | "unknown"
    detail: str = ""
    message_id: str | None = None  # Gmail's id of the sent message


def encode(message: EmailMessage) -> str:
    """RFC 5322 bytes (CRLF line ends) as unpadded-safe base64url, as the API wants."""
    return base64.urlsafe_b64encode(message.as_bytes(policy=SMTP)).decode("ascii")


def send_message(gmail: Any, http: Any, message: EmailMessage, user: str = "me") -> SendResult:
    """Send once and classify the result; never raises for API or network failures."""
    request = gmail.users().messages().send(userId=user, body={"raw": encode(message)}, fields="id")
    try:
        response = request.execute(http=http)
    except HttpError as exc:
        status = exc.resp.status
        detail = f"Gmail said {status} {error_reason(exc)}".strip()
        if status == 429 or status == 503 or (status == 403 and "RateLimit" in error_reason(exc)):
            return SendResult("retry", detail)
        if status >= 500:
            return SendResult("unknown", detail)
        return SendResult("failed", detail)
    except google.auth.exceptions.RefreshError as exc:
        return SendResult("failed", f"Google refused the token: {exc}")
    except TimeoutError as exc:
        return SendResult("unknown", f"no answer from Gmail: {exc}")
    except (ConnectionRefusedError, httplib2.ServerNotFoundError) as exc:
        return SendResult("retry", f"cannot reach Gmail: {exc}")
    except (ConnectionError, OSError, httplib2.HttpLib2Error) as exc:
        return SendResult("unknown", f"connection lost: {exc}")
    return SendResult("sent", message_id=str(response.get("id")) if response else None)
