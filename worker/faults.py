"""Test hook: kill the process at a named step (exactly-once and crash-resume tests).

Set ``PEERPULSE_FAULT`` to one of :data:`STEPS` and the process ends with
``os._exit(137)`` (what a SIGKILL looks like to a parent) when it reaches that
step: no cleanup, no flush, no commit, just like a power cut. The tests in
tests/worker/test_exactly_once.py use it; nothing else should.

- ``after_render``: the period's digest is rendered and stored (state pending).
- ``after_claim``: the ledger row says "sending"; nothing has left yet.
- ``after_data``: the backend handed the whole message over (SMTP replied to
  the end of DATA, the file was written) and has not returned yet.
- ``before_mark_sent``: the backend returned; the ledger does not know yet.
- ``after_sync_batch:N``: the N-th sync batch of this process (records and
  cursor) has just been committed (tests/worker/test_crash_resume.py).
"""

from __future__ import annotations

import os

FAULT_ENV = "PEERPULSE_FAULT"
STEPS = ("after_render", "after_claim", "after_data", "before_mark_sent")
_counts: dict[str, int] = {}


def fault_point(step: str) -> None:
    """End the process abruptly if ``PEERPULSE_FAULT`` names ``step``."""
    if os.environ.get(FAULT_ENV) == step:
        os._exit(137)


def counted_fault_point(step: str) -> None:
    """Like :func:`fault_point` for repeated steps: ``PEERPULSE_FAULT=step:N`` ends
    the process the N-th time ``step`` is reached."""
    wanted = os.environ.get(FAULT_ENV, "")
    name, _, count = wanted.partition(":")
    if name != step or not count.isdigit():
        return
    _counts[step] = _counts.get(step, 0) + 1
    if _counts[step] == int(count):
        os._exit(137)
