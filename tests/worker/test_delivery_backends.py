"""The file and stdout backends, and choosing a backend from the config."""

from __future__ import annotations

import io
import os
import stat
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from peerpulse.worker.config import DELIVERY_MODELS, FileDelivery, SmtpDelivery, StdoutDelivery
from peerpulse.worker.delivery import make_backend
from peerpulse.worker.delivery.base import DeliveryState
from peerpulse.worker.delivery.files import FileBackend
from peerpulse.worker.delivery.smtp import SmtpBackend
from peerpulse.worker.delivery.stdout import StdoutBackend
from peerpulse.worker.digest.message import build_message, message_bytes, new_message_id
from peerpulse.worker.digest.render import render_digest
from peerpulse.worker.errors import ConfigError

from tests.worker.digest_builders import full_digest

NOW = datetime(2026, 11, 23, 7, 0, tzinfo=ZoneInfo("Europe/Berlin"))


def _message():
    rendered = render_digest(full_digest(), recipient="sam@example.com",
                             sender="sam@example.com", now=NOW)
    return build_message(rendered, account="work",
                         message_id=new_message_id("2026-W48", "sam@example.com"), date=NOW)


def test_the_file_backend_replaces_files_whole_and_leaves_no_temporary_files(tmp_path):
    out = tmp_path / "deep" / "out"
    backend = FileBackend(out)
    message = _message()
    assert backend.send(message).state is DeliveryState.SENT
    assert backend.send(message).state is DeliveryState.SENT  # a rewrite replaces in place
    assert sorted(p.name for p in out.iterdir()) == [
        "2026-W48-work.eml", "2026-W48-work.html", "2026-W48-work.txt"]
    assert (out / "2026-W48-work.eml").read_bytes() == message_bytes(message)
    assert (out / "2026-W48-work.html").read_text().startswith("<!DOCTYPE html>")
    assert "PEER OF THE WEEK" in (out / "2026-W48-work.txt").read_text()
    assert stat.S_IMODE(out.stat().st_mode) == 0o700


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_an_unwritable_folder_means_retry(tmp_path):
    out = tmp_path / "out"
    out.mkdir(mode=0o500)
    outcome = FileBackend(out).send(_message())
    assert outcome.state is DeliveryState.RETRY


def test_an_unwritable_path_means_retry(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    outcome = FileBackend(blocker / "out").send(_message())
    assert outcome.state is DeliveryState.RETRY
    assert "cannot write" in outcome.detail


@pytest.mark.parametrize(
    ("fmt", "starts", "contains"),
    [
        ("text", "Subject: Week 48: lunch with Dana", "PEER OF THE WEEK"),
        ("html", "<!DOCTYPE html>", "Peer of the week"),
        ("eml", "From: peerpulse <sam@example.com>", "Content-Type: multipart/alternative"),
    ],
)
def test_the_stdout_backend_prints_the_chosen_part(fmt, starts, contains):
    stream = io.StringIO()
    outcome = StdoutBackend(fmt, stream=stream).send(_message())
    assert outcome.state is DeliveryState.SENT
    assert stream.getvalue().startswith(starts)
    assert contains in stream.getvalue()
    assert "\r" not in stream.getvalue()


def test_make_backend_picks_the_configured_backend_and_resolves_paths(tmp_path):
    def resolve(p) -> Path:
        return tmp_path / p

    file_backend = make_backend(FileDelivery(type="file", dir=Path("out")),
                                owner="sam@example.com", resolve_path=resolve)
    assert isinstance(file_backend, FileBackend) and file_backend.directory == tmp_path / "out"
    assert isinstance(make_backend(StdoutDelivery(type="stdout"), owner="sam@example.com",
                                   resolve_path=resolve), StdoutBackend)
    assert isinstance(make_backend(SmtpDelivery(type="smtp", host="127.0.0.1"),
                                   owner="sam@example.com", resolve_path=resolve), SmtpBackend)


def test_a_backend_that_is_not_wired_in_is_a_config_error(tmp_path):
    try:
        backend = make_backend(DELIVERY_MODELS["gmail"](type="gmail"), owner="sam@example.com",
                               resolve_path=Path)
    except ConfigError as exc:
        assert "delivery.type" in str(exc)
    else:
        assert hasattr(backend, "send")


def test_a_symlinked_output_folder_is_refused(tmp_path):
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    link = tmp_path / "out"
    link.symlink_to(real)
    outcome = FileBackend(link).send(_message())
    assert outcome.state is DeliveryState.FAILED
    assert str(link) in outcome.detail and "symlink" in outcome.detail
    assert list(real.iterdir()) == []


def test_a_world_writable_output_folder_is_refused_with_the_fix(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o777)
    outcome = FileBackend(out).send(_message())
    assert outcome.state is DeliveryState.FAILED
    assert f"chmod 700 {out}" in outcome.detail
    assert list(out.iterdir()) == []


def test_output_folders_are_private_whatever_the_umask(tmp_path):
    old = os.umask(0)
    try:
        outcome = FileBackend(tmp_path / "a" / "b" / "out").send(_message())
    finally:
        os.umask(old)
    assert outcome.state is DeliveryState.SENT
    for folder in ("a", "a/b", "a/b/out"):
        assert stat.S_IMODE((tmp_path / folder).stat().st_mode) == 0o700, folder
