"""The SMTP password never lands in output, logs or state (issue 10, secrets scan).

``peerpulse run`` at the highest verbosity, in text and JSON log formats, once
with a wrong password (the failure path, where a careless error message would
echo it) and once with the right one; then every byte the worker wrote (stdout,
stderr, the state directory, the delivery folder) is searched for the secret.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from peerpulse.worker.cli import Env, main

from tests.worker.smtp_sink import Sink, smtp_server
from tests.worker.test_delivery_smtp import Auth

REPO = Path(__file__).resolve().parents[2]
NOW = "2026-11-23T09:30:00+00:00"
SECRET = "s3cret"
WRONG = "wr0ng-Pa55word-7f3a"


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), Env(stdout=out, stderr=err))
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_the_smtp_password_appears_in_no_output_and_no_state_file(tmp_path, monkeypatch,
                                                                   log_format):
    code, _, err = cli("demo", "--out", str(tmp_path / "demo"), "--end", "2026-11-22",
                       "--managers", "24", "--months", "3")
    assert code == 0, err
    meta = json.loads((tmp_path / "demo" / "demo.json").read_text())
    seen: list[str] = []
    with smtp_server(Sink(), authenticator=Auth(), auth_require_tls=False,
                     auth_exclude_mechanism=["LOGIN"]) as (sink, port):
        config = tmp_path / "config.toml"
        config.write_text(
            (REPO / "config.example.toml").read_text()
            .replace('# state_dir = "~/.local/state/peerpulse"',
                     f'state_dir = "{tmp_path / "state"}"')
            .replace('aliases = ["dana@example.com", "dana.reyes@example.co.uk"]',
                     f"aliases = {json.dumps(meta['aliases'])}")
            .replace('type = "file"\ndir = "out"',
                     f'type = "smtp"\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n'
                     'username = "sam"\npassword = { env = "PEERPULSE_SCAN_PASSWORD" }\n'
                     "timeout_seconds = 5")
        )
        for password, expected in ((WRONG, 1), (SECRET, 0)):
            monkeypatch.setenv("PEERPULSE_SCAN_PASSWORD", password)
            code, out, err = cli("--config", str(config), "-vv", "--log-format", log_format,
                                 "run", "--now", NOW)
            seen += [out, err]
            assert code == expected, err
        code, out, err = cli("--config", str(config), "status", "--now", NOW)
        seen += [out, err]
    assert len(sink.messages) == 1
    assert any("auth" in text.lower() for text in seen)  # the failure was reported
    written = b"".join(p.read_bytes() for p in tmp_path.rglob("*")
                       if p.is_file() and "demo" not in p.parts)
    for secret in (SECRET, WRONG):
        assert all(secret not in text for text in seen), f"{secret!r} in the output"
        assert secret.encode() not in written, f"{secret!r} in a file the worker wrote"
