"""A one-line progress display for terminals; silent everywhere else.

Cron, systemd and pipes get nothing (their logs stay clean); an interactive
terminal gets a single self-overwriting line on stderr, throttled so that
updating it costs nothing measurable.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    def __init__(self, stream: TextIO | None = None, enabled: bool | None = None) -> None:
        self._stream = stream or sys.stderr
        self.enabled = self._stream.isatty() if enabled is None else enabled
        self._last = 0.0
        self._width = 0

    def __call__(self, label: str, count: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last < 0.1:
            return
        self._last = now
        text = f"syncing {label}: {count:,} records"
        self._stream.write("\r" + text.ljust(self._width))
        self._width = len(text)
        self._stream.flush()

    def done(self) -> None:
        if self.enabled and self._width:
            self._stream.write("\r" + " " * self._width + "\r")
            self._stream.flush()
            self._width = 0
