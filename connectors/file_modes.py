"""Permission checks for secrets and private folders, the way ssh does them.

A token or password file that group or others can read has already leaked to
every account on the machine, so it is refused rather than used: the message
names the file and the ``chmod`` that fixes it. A symlinked secret is allowed
(systemd credentials and secret managers use them) but warned about, since
the link's target is what gets checked. Folders the worker creates (state,
tokens, digest output) are made 0700 component by component, so a permissive
umask (even 0) never leaves a world-writable parent behind.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)


def secret_file_problem(path: Path) -> str | None:
    """Why ``path`` must not be used as a secret, or None if it is fine (or absent).

    Warns (does not refuse) when ``path`` is a symlink; the target's mode decides.
    """
    try:
        if path.is_symlink():
            log.warning(
                "secret file %s is a symlink to %s; its target's permissions are checked",
                path, os.path.realpath(path),
            )
        mode = path.stat().st_mode
    except OSError:
        return None  # the caller's read reports a missing or unreadable file
    if not stat.S_ISREG(mode):
        return f"secret file {path} is not a regular file"
    loose = stat.S_IMODE(mode) & 0o077
    if loose:
        who = " and ".join(
            name for name, bits in (("group", 0o070), ("others", 0o007)) if loose & bits
        )
        return (
            f"secret file {path} is accessible by {who} "
            f"(mode {stat.S_IMODE(mode):04o}); fix it with: chmod 600 {path}"
        )
    return None


def output_dir_problem(path: Path) -> str | None:
    """Why ``path`` must not receive private output, or None if fine (or absent)."""
    if path.is_symlink():
        return (
            f"output folder {path} is a symlink (to {os.path.realpath(path)}); "
            "point the config at the real folder"
        )
    try:
        mode = path.stat().st_mode
    except OSError:
        return None
    if stat.S_IMODE(mode) & 0o002:
        return (
            f"output folder {path} is world-writable (mode {stat.S_IMODE(mode):04o}); "
            f"fix it with: chmod 700 {path}"
        )
    return None


def make_private_dir(path: Path) -> None:
    """Create ``path`` and any missing parents as 0700, whatever the umask.

    Folders that already exist are left as they are: they may be shared
    parents such as ``~/.local/state`` that the user chose.
    """
    path = Path(path)
    missing: list[Path] = []
    probe = path
    while not probe.exists() and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:
            continue  # a concurrent run made it; its creator applied the same mode
        os.chmod(folder, 0o700)  # mkdir's mode is masked by the umask
