"""One peerpulse run at a time per state directory.

``flock(LOCK_EX | LOCK_NB)`` on ``<state>/run.lock``: the kernel drops the lock
when the holding process dies, however it dies, so a run killed with SIGKILL
never leaves a stale lock behind (a pid file would). The file itself stays; its
content is only the holder's pid, for the error message. We lock ourselves, so
the cron line and the systemd unit need no ``flock(1)`` wrapper; systemd never
starts a second instance of a running oneshot anyway.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from peerpulse.worker.errors import LockedError

LOCK_NAME = "run.lock"


class RunLock:
    """A held run lock; release it (or let the process end) to let the next run in."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        # Closing the descriptor releases the flock; the file stays for the next run
        # (unlinking it would let two runs lock two different inodes).
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def acquire_run_lock(state_dir: Path | str) -> RunLock:
    """Take the run lock of ``state_dir`` or raise LockedError at once (exit 75)."""
    path = Path(state_dir) / LOCK_NAME
    flags = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _read_pid(fd)
        os.close(fd)
        who = f" (pid {holder})" if holder else ""
        raise LockedError(
            f"another peerpulse run holds {path}{who}",
            hint="wait for it to finish; this run did nothing",
        ) from None
    except BaseException:
        os.close(fd)
        raise
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return RunLock(path, fd)


@contextlib.contextmanager
def run_lock(state_dir: Path | str) -> Iterator[RunLock]:
    """``with run_lock(settings.state_path): ...`` holds the lock for the block."""
    lock = acquire_run_lock(state_dir)
    try:
        yield lock
    finally:
        lock.release()


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
