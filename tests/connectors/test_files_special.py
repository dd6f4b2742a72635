"""FIFOs, sockets and device files in an input folder: a skipped input, never opened.

Opening a FIFO for reading blocks until a writer appears: a worker that opened
one would hang forever. So such a file is reported as skipped and not touched.
"""

from __future__ import annotations

import builtins
import io
import os
import socket
from pathlib import Path
from typing import Any

import pytest

from tests.connectors.test_files_incremental import source


def _no_open_of(monkeypatch: pytest.MonkeyPatch, special: Path) -> None:
    """Fail (instead of hanging) if anything opens ``special``."""
    real_open, real_io_open = builtins.open, io.open

    def guarded(file: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(file, (str, os.PathLike)) and Path(file).name == special.name:
            raise AssertionError(f"opened {file}")
        return real_open(file, *args, **kwargs)

    def guarded_io(file: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(file, (str, os.PathLike)) and Path(file).name == special.name:
            raise AssertionError(f"opened {file}")
        return real_io_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", guarded)
    monkeypatch.setattr(io, "open", guarded_io)


def _skipped(src: Any) -> list[tuple[str, str]]:
    return [(s.location, s.reason) for batch in src.sync(None) for s in batch.skipped]


def _reasons(src: Any) -> dict[str, str]:
    return {label: reason for label, reason in _skipped(src)}


def _fifo(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path)
    return path


@pytest.mark.parametrize(("name", "folder_entry", "kind"), [
    ("calendar", "cals", "pipe.ics"),
    ("people", "people", "pipe.csv"),
    ("mail", "mail", "pipe.mbox"),
])
def test_a_fifo_in_an_input_folder_is_a_skipped_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, folder_entry: str, kind: str
) -> None:
    fifo = _fifo(tmp_path / folder_entry / kind)
    _no_open_of(monkeypatch, fifo)
    reasons = _reasons(source(tmp_path, name, [folder_entry]))
    label = f"{folder_entry}/{kind}"
    assert label in reasons
    assert "FIFO" in reasons[label] and "never opened" in reasons[label]


def test_a_fifo_in_a_maildir_is_skipped_and_the_rest_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for sub in ("cur", "new", "tmp"):
        (tmp_path / "Mail" / sub).mkdir(parents=True)
    (tmp_path / "Mail/cur/1.host:2,S").write_text(
        "Message-ID: <a@example.com>\nDate: Mon, 4 Mar 2024 10:00:00 +0000\n"
        "From: peer@example.com\nTo: owner@example.com\nSubject: hi\n\nbody\n")
    fifo = _fifo(tmp_path / "Mail/new/2.host")
    _no_open_of(monkeypatch, fifo)
    batches = list(source(tmp_path, "mail", ["Mail"]).sync(None))
    assert [s.location for b in batches for s in b.skipped] == ["Mail/new/2.host"]
    assert [r.source_id for b in batches for r in b.upserts] == ["a@example.com"]


def test_a_socket_named_directly_is_a_skipped_input(tmp_path: Path) -> None:
    path = tmp_path / "s.ics"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        server.bind(str(path))
        reasons = _reasons(source(tmp_path, "calendar", ["s.ics"]))
    finally:
        server.close()
    assert "socket" in reasons["s.ics"]


def test_a_device_file_named_directly_is_a_skipped_input(tmp_path: Path) -> None:
    reasons = _reasons(source(tmp_path, "mail", ["/dev/null"]))
    assert "device file" in reasons["/dev/null"]
