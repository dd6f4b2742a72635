"""Which secret files are accepted: PostgreSQL's rule for its SSL key (issue 12).

A file owned by this user must be 0600 or stricter; one owned by root may be
group-readable (0640, 0440: a Kubernetes Secret volume with ``fsGroup``); no
other owner, and never readable by others. Kubernetes' ``key -> ..data/key``
links are followed. The tests run as root (CI), so the pod's user is given as
``euid`` on real files; one test forks a child that really drops to ``nobody``.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from peerpulse.connectors.file_modes import mode_problem, secret_file_problem
from peerpulse.connectors.settings import SecretRef, SecretUnavailable

POD = 10001  # the image's user
ROOT_ONLY = os.geteuid() == 0


def _file(path: Path, mode: int, owner: int | None = None) -> Path:
    path.write_text("s3cret\n")
    path.chmod(mode)
    if owner is not None:
        os.chown(path, owner, POD)
    return path


@pytest.mark.parametrize(("owner", "mode", "ok"), [
    ("me", 0o600, True), ("me", 0o400, True),
    ("me", 0o640, False), ("me", 0o440, False), ("me", 0o604, False), ("me", 0o644, False),
    ("root", 0o640, True), ("root", 0o440, True), ("root", 0o600, True), ("root", 0o400, True),
    ("root", 0o660, False), ("root", 0o650, False), ("root", 0o644, False),
    ("root", 0o444, False), ("root", 0o604, False),
    ("other", 0o600, False), ("other", 0o400, False), ("other", 0o640, False),
])
def test_the_rule_is_postgresqls_for_its_ssl_key(owner, mode, ok):
    uid = {"me": POD, "root": 0, "other": 4242}[owner]
    problem = mode_problem(Path("/run/secrets/db"), uid, mode, POD)
    assert (problem is None) == ok, problem
    if not ok and mode & 0o007:
        assert "accessible by" in problem and "others" in problem


def test_others_readable_is_refused_whoever_owns_it():
    for uid in (POD, 0):
        problem = mode_problem(Path("/s"), uid, 0o644, POD)
        assert problem is not None and "others" in problem


@pytest.mark.skipif(not ROOT_ONLY, reason="needs root to chown files to root and others")
@pytest.mark.parametrize(("owner", "mode", "ok"), [
    (0, 0o440, True), (0, 0o640, True), (0, 0o644, False), (0, 0o660, False),
    (POD, 0o600, True), (POD, 0o640, False), (4242, 0o600, False),
])
def test_real_files_for_the_pods_user(tmp_path, owner, mode, ok):
    secret = _file(tmp_path / "db", mode, owner)
    problem = secret_file_problem(secret, euid=POD)
    assert (problem is None) == ok, problem
    if problem:
        assert str(secret) in problem and "fix it with" in problem


def test_a_root_owned_group_readable_file_is_refused_to_root_itself(tmp_path):
    """As in PostgreSQL: the owner's own file must be private, root included."""
    secret = _file(tmp_path / "db", 0o640)
    problem = secret_file_problem(secret, euid=secret.stat().st_uid)
    assert problem is not None and f"chmod 600 {secret}" in problem


def _kubernetes_volume(root: Path, mode: int) -> Path:
    """What the kubelet's atomic writer makes of a Secret with key ``db-password``."""
    stamp = root / "..2026_12_03_14_00_00.123456789"
    stamp.mkdir()
    target = _file(stamp / "db-password", mode, 0 if ROOT_ONLY else None)
    (root / "..data").symlink_to(stamp.name)
    (root / "db-password").symlink_to("..data/db-password")
    assert target.exists()
    return root / "db-password"


@pytest.mark.skipif(not ROOT_ONLY, reason="needs root to make a root-owned Secret file")
def test_a_kubernetes_secret_volume_is_followed_without_a_warning(tmp_path, caplog):
    link = _kubernetes_volume(tmp_path, 0o440)
    with caplog.at_level(logging.WARNING):
        assert secret_file_problem(link, euid=POD) is None
    assert caplog.records == []
    (link.resolve()).chmod(0o444)  # defaultMode 0444: everyone in the pod may read it
    problem = secret_file_problem(link, euid=POD)
    assert problem is not None and "others" in problem


def test_any_other_symlink_is_still_warned_about(tmp_path, caplog):
    target = _file(tmp_path / "real", 0o600)
    link = tmp_path / "link"
    link.symlink_to(target)
    with caplog.at_level(logging.WARNING):
        assert secret_file_problem(link) is None
    assert any("symlink" in r.getMessage() for r in caplog.records)


def _as_nobody(path: Path) -> str:
    """``SecretRef(file=path).value()`` in a forked child running as ``nobody``."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        try:
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            try:
                answer = "value:" + SecretRef(file=path).value()
            except SecretUnavailable as exc:
                answer = "refused:" + str(exc)
            os.write(write, answer.encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        answer = pipe.read()
    os.waitpid(pid, 0)
    return answer


@pytest.mark.skipif(not ROOT_ONLY or not hasattr(os, "fork"),
                    reason="needs root to drop to another user")
def test_a_non_root_process_reads_a_kubernetes_secret_mounted_0440_with_fsgroup():
    """The pod's case for real: root-owned, group ``nobody``'s, 0440, behind
    ``..data`` links; the process runs as ``nobody`` and reads it through its group."""
    root = Path(tempfile.mkdtemp())
    try:
        root.chmod(0o755)
        link = _kubernetes_volume(root, 0o440)
        os.chown(link.resolve(), 0, 65534)
        link.resolve().parent.chmod(0o755)
        assert _as_nobody(link) == "value:s3cret"
        link.resolve().chmod(0o444)
        answer = _as_nobody(link)
        assert answer.startswith("refused:") and "others" in answer, answer
    finally:
        shutil.rmtree(root)
