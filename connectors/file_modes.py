"""Permission checks for secrets and private folders, the way PostgreSQL and ssh do them.

A token or password file that others can read has already leaked to every
account on the machine, so it is refused rather than used: the message names
the file and the ``chmod`` that fixes it. The rule is PostgreSQL's for its SSL
key: private to its owner, or root-owned and readable by a group (a
Kubernetes Secret mounted with ``fsGroup``). A symlinked secret is allowed
(Kubernetes, systemd credentials and secret managers use them); the link's
target is what gets checked. Folders the worker creates (state,
tokens, digest output) are made 0700 component by component, so a permissive
umask (even 0) never leaves a world-writable parent behind.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)


def secret_file_problem(path: Path, *, euid: int | None = None) -> str | None:
    """Why ``path`` must not be used as a secret, or None if it is fine (or absent).

    The rule is PostgreSQL's for its SSL key file: a secret owned by this user
    (``euid``, default the process's) must be private to it (0600 or stricter);
    one owned by root may also be readable, not writable, by its group (0640,
    0440), which is how a Kubernetes Secret volume with ``fsGroup`` hands a
    root-owned file to a non-root pod, and how systemd or an administrator
    shares one with a service's group; any other owner is refused. Others may
    never read it. A symlink is followed and its target checked; it is warned
    about, except Kubernetes' own layout (``key -> ..data/key``, the
    ``..data`` link swapped atomically on every Secret update).
    """
    try:
        if path.is_symlink():
            _note_symlink(path)
        st = path.stat()
    except OSError:
        return None  # the caller's read reports a missing or unreadable file
    if not stat.S_ISREG(st.st_mode):
        return f"secret file {path} is not a regular file"
    return mode_problem(path, st.st_uid, stat.S_IMODE(st.st_mode),
                        os.geteuid() if euid is None else euid)


def mode_problem(path: Path, owner: int, mode: int, euid: int) -> str | None:
    """:func:`secret_file_problem`'s rule on an owner and permission bits."""
    if owner == euid:
        loose = mode & 0o077  # nobody else at all
        fix = f"chmod 600 {path}"
    elif owner == 0:
        loose = mode & 0o037  # the group may read, nothing more; others nothing
        fix = (f"chmod 640 {path} (a Kubernetes Secret volume: defaultMode 0440 "
               "and the pod's fsGroup)")
    else:
        return (f"secret file {path} is owned by uid {owner}, neither this user "
                f"(uid {euid}) nor root; fix it with: chown {euid} {path} && chmod 600 {path}")
    if not loose:
        return None
    who = " and ".join(
        name for name, bits in (("group", 0o070), ("others", 0o007)) if loose & bits
    )
    access = "more than readable by its group" if who == "group" else f"accessible by {who}"
    return f"secret file {path} is {access} (mode {mode:04o}); fix it with: {fix}"


def _note_symlink(path: Path) -> None:
    target = os.readlink(path)
    if target.startswith("..data/"):  # a Kubernetes Secret or ConfigMap volume
        log.debug("secret file %s is Kubernetes' link to %s", path, os.path.realpath(path))
        return
    log.warning(
        "secret file %s is a symlink to %s; its target's permissions are checked",
        path, os.path.realpath(path),
    )


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
