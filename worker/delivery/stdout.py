"""The ``stdout`` backend: print the digest (text, HTML or the whole .eml).

For trying peerpulse out and for piping into another tool; "sent" means written
to the stream.
"""

from __future__ import annotations

import email.policy
import sys
from email.message import EmailMessage
from typing import Literal, TextIO

from peerpulse.worker.delivery.base import DeliveryOutcome, DeliveryState
from peerpulse.worker.faults import fault_point


class StdoutBackend:
    def __init__(self, fmt: Literal["text", "html", "eml"] = "text", stream: TextIO | None = None):
        self.format = fmt
        self._stream = stream

    def send(self, message: EmailMessage) -> DeliveryOutcome:
        stream = self._stream or sys.stdout
        if self.format == "eml":
            out = message.as_bytes(policy=email.policy.SMTP).decode("ascii").replace("\r\n", "\n")
        else:
            body = message.get_body(preferencelist=("html" if self.format == "html" else "plain",))
            out = body.get_content() if body is not None else ""
            if self.format == "text":
                out = f"Subject: {message.get('Subject', '')}\n\n{out}"
        try:
            stream.write(out if out.endswith("\n") else out + "\n")
            stream.flush()
        except OSError as exc:  # a closed pipe: nothing reached the reader for sure
            return DeliveryOutcome(DeliveryState.RETRY, f"cannot write to stdout: {exc}")
        fault_point("after_data")
        return DeliveryOutcome(DeliveryState.SENT, f"printed as {self.format}", "stdout")
