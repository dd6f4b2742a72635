"""deploy/compose.yaml without docker: its structure, and the trial it describes run
here, service by service, as the containers would run it.

The end-to-end test starts what compose would (a PostgreSQL server, the fake Google
with the compose service's own arguments, an SMTP sink standing in for Mailpit),
rewrites only the host names of deploy/compose/config.toml to this machine's, and
runs each peerpulse service's command in order (migrate, then the two workers at
once, which defer the tick themselves) with the image's environment (its ENV,
paths re-rooted under a temporary folder, no --config: the default lookup finds
the mounted config). Where this
machine allows a mount namespace (root: CI), every peerpulse process runs with the
whole filesystem read-only except the image's two VOLUMEs, as with
`read_only: true` and the tmpfs mounts: the entry command needs no writable root.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
import tomllib
import uuid
from collections import Counter
from pathlib import Path

import pytest
import yaml
from peerpulse.connectors.file_modes import secret_file_problem

from tests.deploy.commands import parse_error
from tests.deploy.dockerfile import DOCKERFILE, stages
from tests.worker.smtp_sink import Sink, smtp_server

DEPLOY = DOCKERFILE.parent
REPO = DEPLOY.parent
COMPOSE = DEPLOY / "compose.yaml"
MANAGERS = ["manager1", "manager2", "manager3"]
IMAGE_UID = 10001
# An environment variable named like one of these carries a credential.
CREDENTIAL = re.compile(r"PASS|SECRET|TOKEN|KEY|CREDENTIAL|AUTH", re.IGNORECASE)


def _compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_the_trial_has_every_service_and_each_command_is_a_real_peerpulse_command():
    services = _compose()["services"]
    assert {"postgres", "migrate", "worker-1", "worker-2", "fake-google",
            "mailpit"} <= set(services)
    peerpulse = {name: s for name, s in services.items() if s.get("image") == "peerpulse:trial"}
    assert set(peerpulse) == {"migrate", "worker-1", "worker-2"}
    for name, service in peerpulse.items():
        assert parse_error(service["command"]) is None, (name, service["command"])
        # as in production: non-root, read-only root, no capabilities
        assert service["user"].split(":")[0] == "10001"
        assert service["read_only"] is True and service["cap_drop"] == ["ALL"]
        assert {t.split(":")[0] for t in service["tmpfs"]} == set(stages()["runtime"].volumes())
        assert any(v.endswith(":/etc/peerpulse/config.toml:ro") for v in service["volumes"])
        assert service["build"]["target"] == "runtime"
    assert [s["command"][:2] for s in peerpulse.values()].count(["org", "worker"]) == 2
    # the order compose starts them in: database, schema, then the work
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("worker-1", "worker-2"):
        assert services[name]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully")
    for name in ("worker-1", "worker-2"):
        assert services[name]["depends_on"]["fake-google"]["condition"] == "service_healthy"
    # the image targets and files compose builds from exist
    targets = set(stages())
    for service in services.values():
        if "build" in service:
            assert (COMPOSE.parent / service["build"]["context"] / service["build"][
                "dockerfile"]).resolve() == DOCKERFILE
            assert service["build"]["target"] in targets
    for service in peerpulse.values():
        for volume in service["volumes"]:
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (COMPOSE.parent / source).is_file(), source
    # the digests can be seen: Mailpit's web UI, on this machine only
    assert "127.0.0.1:8025:8025" in services["mailpit"]["ports"]


def test_the_fake_google_service_runs_the_module_the_image_stage_starts():
    services = _compose()["services"]
    fake = stages()["fake-google"]
    assert fake.exec_form("ENTRYPOINT")[-2:] == ["-m", "tests.connectors.google.serve"]
    assert services["fake-google"]["build"]["target"] == "fake-google"
    assert services["fake-google"]["read_only"] is True
    assert services["fake-google"]["user"] == fake.all("USER")[-1]  # owns the key volume
    key = services["fake-google"]["command"][services["fake-google"]["command"].index(
        "--key-out") + 1]
    config = (DEPLOY / "compose" / "config.toml").read_text()
    assert config.count(f'{{ file = "{key}" }}') == len(MANAGERS)
    # the volume the key is written to is the one the workers mount
    volume = next(v for v in services["fake-google"]["volumes"] if key.startswith(v.split(":")[1]))
    for name in ("worker-1", "worker-2"):
        assert f"{volume}:ro" in services[name]["volumes"]


# -- credentials: files only --------------------------------------------------------


def _secret_targets(service: dict) -> dict[str, str]:
    """The service's mounted secrets: path in the container -> top-level secret name."""
    targets = {}
    for entry in service.get("secrets", []):
        name, target = (entry, entry) if isinstance(entry, str) else (
            entry["source"], entry.get("target", entry["source"]))
        targets[target if target.startswith("/") else f"/run/secrets/{target}"] = name
    return targets


def credential_problems(compose: dict) -> list[str]:
    """Why the compose file leaks a credential, one line each (empty when it does not).

    A credential may reach a service only as a file secret under /run/secrets: no
    environment variable named like one (PASSWORD, SECRET, TOKEN, KEY...) holds a
    value, only ``*_FILE`` pointing at a secret that service mounts; no value is
    interpolated from the host's environment; every secret a service mounts is
    defined at the top level by ``file:`` (not ``environment:``, not inline content).
    """
    problems = []
    defined = compose.get("secrets", {})
    for name, secret in defined.items():
        if set(secret) != {"file"}:
            problems.append(f"secret {name} is not a file secret: {sorted(secret)}")
    for service_name, service in compose["services"].items():
        mounted = _secret_targets(service)
        for target, name in mounted.items():
            if name not in defined:
                problems.append(f"{service_name}: secret {name} is not defined")
            if not target.startswith("/run/secrets/"):
                problems.append(f"{service_name}: secret {name} mounted at {target}")
        environment = service.get("environment", {})
        if isinstance(environment, list):
            environment = dict(item.partition("=")[::2] for item in environment)
        for key, value in environment.items():
            value = "" if value is None else str(value)
            if "${" in value or value.startswith("$"):
                problems.append(f"{service_name}: {key} comes from the host's environment")
            if not CREDENTIAL.search(key):
                continue
            if not key.endswith("_FILE"):
                problems.append(f"{service_name}: credential {key} passed as a value")
            elif value not in mounted:
                problems.append(f"{service_name}: {key}={value} is not a secret it mounts")
        if "env_file" in service:
            problems.append(f"{service_name}: env_file passes variables unseen")
    return problems


def test_no_credential_is_passed_through_the_environment_only_as_file_secrets():
    compose = _compose()
    assert credential_problems(compose) == []
    services = compose["services"]
    # the database password: one file secret, read by PostgreSQL and by peerpulse
    assert compose["secrets"]["db-password"]["file"] == "./compose/secrets/db-password"
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD_FILE"] == (
        "/run/secrets/db-password")
    config = tomllib.loads((DEPLOY / "compose" / "config.toml").read_text())
    reference = config["database"]["password"]
    assert set(reference) == {"file"}, reference
    for name in ("migrate", "worker-1", "worker-2"):
        assert _secret_targets(services[name]) == {"/run/secrets/db-password": "db-password"}
        assert reference["file"] in _secret_targets(services[name])
    # no reference in the config names an environment variable
    assert "{ env =" not in (DEPLOY / "compose" / "config.toml").read_text()
    # the secret files never enter git nor the image's build context
    assert "/deploy/compose/secrets/" in (REPO / ".gitignore").read_text().splitlines()


@pytest.mark.parametrize("leak, expected", [
    ({"services": {"w": {"environment": {"PEERPULSE_DB_PASSWORD": "x"}}}},
     "w: credential PEERPULSE_DB_PASSWORD passed as a value"),
    ({"services": {"w": {"environment": ["SMTP_TOKEN=abc"]}}},
     "w: credential SMTP_TOKEN passed as a value"),
    ({"services": {"w": {"environment": {"PGHOST": "${DB_HOST}"}}}},
     "w: PGHOST comes from the host's environment"),
    ({"services": {"w": {"environment": {"POSTGRES_PASSWORD_FILE": "/tmp/pw"}}}},
     "w: POSTGRES_PASSWORD_FILE=/tmp/pw is not a secret it mounts"),
    ({"services": {"w": {"secrets": ["pw"]}}, "secrets": {"pw": {"environment": "PW"}}},
     "secret pw is not a file secret: ['environment']"),
    ({"services": {"w": {"secrets": ["pw"]}}, "secrets": {"pw": {"content": "x"}}},
     "secret pw is not a file secret: ['content']"),
    ({"services": {"w": {"secrets": ["pw"]}}}, "w: secret pw is not defined"),
    ({"services": {"w": {"env_file": ".env"}}}, "w: env_file passes variables unseen"),
])
def test_the_credential_check_catches_each_way_of_leaking(leak, expected):
    assert expected in credential_problems(leak)


def test_make_secrets_writes_a_password_file_peerpulse_accepts_as_uid_10001(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("make-secrets.sh chowns to root (needs root or sudo)")
    folder = tmp_path / "secrets"
    done = subprocess.run(["sh", str(DEPLOY / "compose" / "make-secrets.sh"), str(folder)],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    secret = folder / "db-password"
    st = secret.stat()
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (0, IMAGE_UID, 0o440)
    assert secret_file_problem(secret, euid=IMAGE_UID) is None
    password = secret.read_text().strip()
    assert len(password) >= 24 and password.isalnum()
    # run again: the password stays (the database volume was initialised with it)
    subprocess.run(["sh", str(DEPLOY / "compose" / "make-secrets.sh"), str(folder)],
                   check=True, capture_output=True, timeout=30)
    assert secret.read_text().strip() == password


# -- the trial, run here --------------------------------------------------------------


def _read_only_wrapper(state: Path, tmp: Path) -> list[str] | None:
    """A prefix that runs a command with / read-only but ``state`` and ``tmp``
    writable (a private mount namespace), or None where this machine does not allow it."""
    if os.geteuid() != 0 or not shutil.which("unshare") or not sys.platform.startswith("linux"):
        return None
    script = ('mount --make-rprivate / && mount --bind "$1" "$1" && mount --bind "$2" "$2" '
              '&& mount -o remount,bind,ro / && shift 2 && exec "$@"')
    prefix = ["unshare", "-m", "sh", "-c", script, "sh", str(state), str(tmp)]
    probe = subprocess.run([*prefix, "sh", "-c", f"touch {state}/ok && ! touch {REPO}/.ro-probe"],
                           capture_output=True, timeout=30)
    Path(REPO / ".ro-probe").unlink(missing_ok=True)
    (state / "ok").unlink(missing_ok=True)
    return prefix if probe.returncode == 0 else None


def _container_env(root: Path) -> dict[str, str]:
    """The runtime image's ENV with its absolute paths moved under ``root``."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PEERPULSE_", "XDG_")) and k not in (
               "STATE_DIRECTORY", "CONFIGURATION_DIRECTORY")}
    for key, value in stages()["runtime"].env().items():
        if key == "PATH":
            continue
        env[key] = str(root / value.lstrip("/")) if value.startswith("/") else value
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    return env


@pytest.fixture
def trial(pg_cluster, tmp_path):
    """The compose trial's services, on this machine."""
    services = _compose()["services"]
    root = tmp_path / "container"
    for volume in stages()["runtime"].volumes():
        (root / volume.lstrip("/")).mkdir(parents=True)
    key = tmp_path / "fake-google" / "service-account.json"
    args = list(services["fake-google"]["command"])
    args[args.index("--host") + 1] = "127.0.0.1"
    args[args.index("--port") + 1] = "0"
    args[args.index("--key-out") + 1] = str(key)
    fake = subprocess.Popen([sys.executable, "-m", "tests.connectors.google.serve", *args],
                            cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        line = fake.stdout.readline()
        assert line.startswith("fake Google on "), line
        url = line.split()[3]
        database = pg_cluster.new_database()
        # compose's file secret, as the workers see it: private to their user (the
        # trial cluster trusts local connections, so its value is not checked)
        secrets = tmp_path / "run-secrets"
        secrets.mkdir()
        password = secrets / "db-password"
        password.write_text("trial-only\n")
        password.chmod(0o600)
        with smtp_server(Sink()) as (sink, port):
            config = (DEPLOY / "compose" / "config.toml").read_text()
            for old, new in (
                ("postgresql://peerpulse@postgres:5432/peerpulse", database),
                ("/run/secrets/db-password", str(password)),
                ("http://fake-google:8080/", url),
                ("/run/fake-google/service-account.json", str(key)),
                ('host = "mailpit"', 'host = "127.0.0.1"'),
                ("port = 1025", f"port = {port}"),
            ):
                assert old in config, old
                config = config.replace(old, new)
            etc = root / "etc" / "peerpulse"
            etc.mkdir(parents=True)
            (etc / "config.toml").write_text(config)
            env = _container_env(root)
            yield services, root, env, sink
    finally:
        fake.send_signal(signal.SIGTERM)
        fake.wait(timeout=10)
        fake.stdout.close()


def test_the_compose_trial_delivers_one_digest_per_manager_with_a_read_only_root(trial):
    services, root, env, sink = trial
    volumes = stages()["runtime"].volumes()
    state, tmp = (root / v.lstrip("/") for v in volumes)
    wrapper = _read_only_wrapper(state, tmp) or []
    cwd = state  # the image's WORKDIR

    def run(name: str, *extra: str) -> subprocess.Popen:
        return subprocess.Popen(
            [*wrapper, "peerpulse", *services[name]["command"], *extra], cwd=cwd, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    proc = run("migrate")
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, out
    # No `org enqueue`: the workers defer the last hourly tick themselves at start.
    # Long-running, as in compose; stopped as compose stops them (SIGTERM) once every
    # manager's digest has arrived, and then a little later, to see no second one.
    workers = [run(name) for name in ("worker-1", "worker-2")]
    deadline = time.monotonic() + 240
    while len(sink.envelopes) < len(MANAGERS) and time.monotonic() < deadline:
        if any(w.poll() is not None for w in workers):
            break
        time.sleep(0.5)
    time.sleep(3)
    for w in workers:
        if w.poll() is None:
            w.send_signal(signal.SIGTERM)
    logs = [w.communicate(timeout=60)[0] for w in workers]
    assert all(w.returncode == 0 for w in workers), logs
    sent = Counter(rcpt for _, rcpts in sink.envelopes for rcpt in rcpts)
    assert sent == Counter({f"{m}@example.com": 1 for m in MANAGERS}), logs
    status = subprocess.run([*wrapper, "peerpulse", "org", "status", "--json"], cwd=cwd,
                            env=env, capture_output=True, text=True, timeout=120)
    assert status.returncode == 0, status.stdout + status.stderr
    rows = json.loads(status.stdout)
    assert [r["account"] for r in rows] == MANAGERS
    for row in rows:
        assert row["last_sync"] and row["error"] is None and not row["needs_reauth"], row
        assert row["last_digest"].endswith(" sent"), row
    if not wrapper:
        pytest.skip("ran, but not with a read-only root: no mount namespace on this machine "
                    "(needs root and unshare)")


def test_the_read_only_wrapper_really_refuses_writes_outside_the_volumes(tmp_path):
    state, tmp = tmp_path / "state", tmp_path / "tmp"
    state.mkdir()
    tmp.mkdir()
    wrapper = _read_only_wrapper(state, tmp)
    if wrapper is None:
        pytest.skip("no mount namespace on this machine (needs root and unshare)")
    target = tmp_path / f"outside-{uuid.uuid4().hex}"
    done = subprocess.run([*wrapper, "sh", "-c", f"touch {target}"], capture_output=True,
                          text=True, timeout=30)
    assert done.returncode != 0 and "Read-only file system" in done.stderr
    assert not target.exists()
