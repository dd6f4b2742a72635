"""The ``file`` backend: the digest as .eml, .html and .txt files in a folder.

For users without a mail account to send from (a Takeout export on a laptop)
and for previews. Each file appears whole or not at all: written to a temporary
file in the same folder, flushed to disk, then renamed over the target. The
folder is created private (0700) and the files are 0600: a digest names people.
"""

from __future__ import annotations

import email.policy
import re
from email.message import EmailMessage
from pathlib import Path

from peerpulse.connectors.atomic_file import write_atomic
from peerpulse.connectors.file_modes import make_private_dir, output_dir_problem
from peerpulse.worker.delivery.base import DeliveryOutcome, DeliveryState
from peerpulse.worker.faults import fault_point

_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


class FileBackend:
    """Writes ``<dir>/<period>-<account>.eml``, ``.html`` and ``.txt``."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def send(self, message: EmailMessage) -> DeliveryOutcome:
        stem = _stem(message)
        problem = output_dir_problem(self.directory)
        if problem:
            return DeliveryOutcome(DeliveryState.FAILED, problem)
        try:
            self._ensure_dir()
            raw = message.as_bytes(policy=email.policy.SMTP)
            html = _part(message, "html")
            text = _part(message, "plain")
            written = [self._write(f"{stem}.eml", raw)]
            if html is not None:
                written.append(self._write(f"{stem}.html", html.encode("utf-8")))
            if text is not None:
                written.append(self._write(f"{stem}.txt", text.encode("utf-8")))
        except OSError as exc:
            # Nothing a reader could see was replaced half-way; try again next run.
            return DeliveryOutcome(DeliveryState.RETRY, f"cannot write to {self.directory}: {exc}")
        fault_point("after_data")
        location = written[1] if len(written) > 1 else written[0]
        return DeliveryOutcome(
            DeliveryState.SENT, "wrote " + ", ".join(p.name for p in written), str(location)
        )

    def _ensure_dir(self) -> None:
        if not self.directory.is_dir():
            make_private_dir(self.directory)

    def _write(self, name: str, data: bytes) -> Path:
        return write_atomic(self.directory / name, data)


def _stem(message: EmailMessage) -> str:
    period = _SAFE.sub("_", str(message.get("X-Peerpulse-Period", "digest")))[:20]
    account = _SAFE.sub("_", str(message.get("X-Peerpulse-Account", "account")))[:64]
    return f"{period}-{account}"


def _part(message: EmailMessage, subtype: str) -> str | None:
    body = message.get_body(preferencelist=(subtype,))
    if body is None or body.get_content_subtype() != subtype:
        return None
    content = body.get_content()
    return content if isinstance(content, str) else None

