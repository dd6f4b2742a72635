"""Secrets and private folders (issue 10, item 7): ssh-style permission checks."""

from __future__ import annotations

import json
import logging
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from peerpulse.connectors.base import SourceUnavailable
from peerpulse.connectors.file_modes import make_private_dir
from peerpulse.connectors.google.auth import (
    UserTokenStore,
    resolve_secret,
    token_path,
    write_private,
)


@contextmanager
def umask(value: int) -> Iterator[None]:
    old = os.umask(value)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_a_secret_readable_by_group_or_others_is_refused_with_the_fix(tmp_path, mode):
    secret = tmp_path / "client.json"
    secret.write_text("{}")
    secret.chmod(mode)
    with pytest.raises(SourceUnavailable) as err:
        resolve_secret({"file": str(secret)})
    assert str(secret) in str(err.value)
    assert f"chmod 600 {secret}" in str(err.value)


def test_a_private_secret_is_read(tmp_path):
    secret = tmp_path / "client.json"
    secret.write_text("value\n")
    secret.chmod(0o600)
    assert resolve_secret({"file": str(secret)}) == "value"


def test_a_symlinked_secret_is_warned_about_and_its_target_checked(tmp_path, caplog):
    target = tmp_path / "real.json"
    target.write_text("value")
    target.chmod(0o600)
    link = tmp_path / "link.json"
    link.symlink_to(target)
    with caplog.at_level(logging.WARNING):
        assert resolve_secret({"file": str(link)}) == "value"
    assert any(str(link) in r.getMessage() and "symlink" in r.getMessage() for r in caplog.records)
    target.chmod(0o644)
    with pytest.raises(SourceUnavailable, match="chmod 600"):
        resolve_secret({"file": str(link)})


def test_a_token_file_readable_by_others_is_refused(tmp_path):
    path = token_path(tmp_path, "work")
    path.parent.mkdir(mode=0o700)
    path.write_text(json.dumps({"scopes": ["s"], "refresh_token": "r", "client_id": "c",
                                "client_secret": "x", "token": "t"}))
    path.chmod(0o644)
    with pytest.raises(SourceUnavailable) as err:
        UserTokenStore("work", tmp_path).load(["s"])
    assert str(path) in str(err.value) and f"chmod 600 {path}" in str(err.value)


def test_folders_created_along_the_way_are_private_even_with_umask_0(tmp_path):
    with umask(0):
        make_private_dir(tmp_path / "a" / "b" / "c")
        write_private(tmp_path / "state" / "tokens" / "work-google.json", "{}")
    for folder in ("a", "a/b", "a/b/c", "state", "state/tokens"):
        assert _mode(tmp_path / folder) == 0o700, folder
    assert _mode(tmp_path / "state" / "tokens" / "work-google.json") == 0o600


def test_an_existing_parent_is_left_alone(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o755)
    make_private_dir(shared / "mine")
    assert _mode(shared) == 0o755 and _mode(shared / "mine") == 0o700
