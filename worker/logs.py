"""Logging set-up: quiet under cron, readable by journald, JSON on request.

Under systemd (``$JOURNAL_STREAM`` set) each line starts with a ``<N>`` syslog
priority prefix, which journald turns into the entry's priority and strips, and
carries no timestamp (the journal adds its own). On a terminal, lines are short
and human. ``--log-format json`` gives one JSON object per line for log
shippers. Secrets never reach logs: nothing logs config values or tokens.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime
from typing import TextIO

_SYSLOG_PRIORITY = {
    logging.DEBUG: 7,
    logging.INFO: 6,
    logging.WARNING: 4,
    logging.ERROR: 3,
    logging.CRITICAL: 2,
}


class JournalFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        priority = _SYSLOG_PRIORITY.get(record.levelno, 6)
        return f"<{priority}>{record.levelname.lower()}: {super().format(record)}"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload, ensure_ascii=False)


def configure(verbosity: int, log_format: str = "text", stream: TextIO | None = None) -> None:
    """verbosity: -1 quiet (errors only), 0 default (warnings), 1 info, 2+ debug."""
    level = {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO}.get(verbosity, logging.DEBUG)
    handler = logging.StreamHandler(stream or sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    elif os.environ.get("JOURNAL_STREAM"):
        handler.setFormatter(JournalFormatter("%(message)s"))
    else:
        handler.setFormatter(logging.Formatter("peerpulse: %(levelname)s: %(message)s"))
    # Client libraries (whatever providers are installed) are chatty at INFO: only
    # peerpulse's own records follow -v; the others need WARNING unless debugging.
    if verbosity < 2:
        handler.addFilter(_own_or_warning)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def _own_or_warning(record: logging.LogRecord) -> bool:
    return record.name.split(".")[0] == "peerpulse" or record.levelno >= logging.WARNING
