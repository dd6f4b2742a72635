"""The one atomic-write helper: whole file or the old one, 0600, no temp left behind."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from peerpulse.connectors import atomic_file
from peerpulse.connectors.atomic_file import write_atomic


def test_replaces_whole_file_private(tmp_path: Path) -> None:
    target = tmp_path / "token.json"
    target.write_text("old")
    write_atomic(target, b"new")
    assert target.read_bytes() == b"new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["token.json"]


def test_failed_rename_keeps_old_and_leaves_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "digest.eml"
    target.write_bytes(b"old")

    def broken_replace(src: str, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(atomic_file.os, "replace", broken_replace)
    with pytest.raises(OSError):
        write_atomic(target, b"new")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["digest.eml"]
    assert os.path.exists(target)
