"""deploy/kubernetes/: every manifest valid against the Kubernetes schemas that
kubernetes-validate bundles (offline, strict: an unknown field fails), and what the
deployment promises: hardened pods, secrets mounted as files peerpulse accepts, a
config peerpulse loads, real commands, resources set."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from tests.deploy.commands import parse_error

KUBE = Path(__file__).resolve().parents[2] / "deploy" / "kubernetes"
kubernetes_validate = pytest.importorskip(
    "kubernetes_validate", reason="pip install -e '.[test]' brings kubernetes-validate")


def _docs() -> dict[str, dict]:
    out = {}
    for path in sorted(KUBE.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                out[f"{doc['kind']}/{doc['metadata']['name']}"] = doc
    return out


def _pod(doc: dict) -> dict:
    return doc["spec"]["template"]["spec"]


def test_every_manifest_is_valid_against_the_kubernetes_schemas():
    docs = _docs()
    assert set(docs) == {
        "ConfigMap/peerpulse-config", "Secret/peerpulse-credentials",
        "Job/peerpulse-migrate", "Deployment/peerpulse-worker",
    }
    version = kubernetes_validate.latest_version()
    for doc in docs.values():
        kubernetes_validate.validate(doc, version, strict=True)  # raises on any error


def test_the_validation_rejects_a_misspelt_field():
    """Strict validation is what catches a typo that kubectl would drop silently."""
    doc = _docs()["Deployment/peerpulse-worker"]
    doc["spec"]["template"]["spec"]["containers"][0]["securityContext"][
        "readOnlyRootFileSystem"] = True
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(doc, kubernetes_validate.latest_version(), strict=True)


@pytest.mark.parametrize("name", ["Deployment/peerpulse-worker", "Job/peerpulse-migrate"])
def test_pods_are_non_root_read_only_without_capabilities_and_sized(name):
    pod = _pod(_docs()[name])
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod["automountServiceAccountToken"] is False
    mounts_needed = {"/etc/peerpulse", "/var/lib/peerpulse", "/tmp"}
    for container in pod["containers"]:
        ctx = container["securityContext"]
        assert ctx["readOnlyRootFilesystem"] is True
        assert ctx["allowPrivilegeEscalation"] is False
        assert ctx["capabilities"]["drop"] == ["ALL"] and "add" not in ctx["capabilities"]
        assert {m["mountPath"] for m in container["volumeMounts"]} >= mounts_needed
        resources = container["resources"]
        assert set(resources["requests"]) == {"cpu", "memory"}
        assert "memory" in resources["limits"]
        assert parse_error(container["args"]) is None, container["args"]


def test_workers_are_replicated_and_the_migration_is_a_job():
    docs = _docs()
    worker = docs["Deployment/peerpulse-worker"]
    assert worker["spec"]["replicas"] >= 2
    assert _pod(worker)["containers"][0]["args"][:2] == ["org", "worker"]
    job = docs["Job/peerpulse-migrate"]
    assert _pod(job)["containers"][0]["args"] == ["org", "migrate"]
    assert _pod(job)["restartPolicy"] == "Never"
    # no CronJob: the workers' periodic tasks defer the ticks (docs/DEPLOY.md)
    assert not any(name.startswith("CronJob/") for name in docs)


def _secret_files(pod: dict) -> dict[str, str]:
    """{mounted file path: Secret key} of the pod's Secret volumes."""
    volumes = {v["name"]: v["secret"] for v in pod["volumes"] if "secret" in v}
    out = {}
    for container in pod["containers"]:
        for mount in container["volumeMounts"]:
            secret = volumes.get(mount["name"])
            if secret is not None:
                for item in secret["items"]:
                    out[f"{mount['mountPath']}/{item['path']}"] = item["key"]
    return out


def test_the_secret_is_a_template_and_every_reference_to_it_exists():
    docs = _docs()
    secret = docs["Secret/peerpulse-credentials"]
    assert set(secret["stringData"].values()) == {"REPLACE_ME"}
    keys = set(secret["stringData"])
    for name in ("Deployment/peerpulse-worker", "Job/peerpulse-migrate"):
        pod = _pod(docs[name])
        for volume in pod["volumes"]:
            if "secret" in volume:
                assert volume["secret"]["secretName"] == "peerpulse-credentials"
                assert {i["key"] for i in volume["secret"]["items"]} <= keys
        for container in pod["containers"]:
            for env in container.get("env", []):
                assert "valueFrom" not in env  # credentials are files, not the environment
                assert "PASSWORD" not in env["name"] or env["name"].endswith("__FILE")
    # each pod mounts only what it uses: the workers never get the owner's password
    assert "db-owner-password" not in _secret_files(_pod(docs["Deployment/peerpulse-worker"])
                                                    ).values()
    assert set(_secret_files(_pod(docs["Job/peerpulse-migrate"])).values()) == {
        "db-owner-password"}


@pytest.mark.parametrize("name", ["Deployment/peerpulse-worker", "Job/peerpulse-migrate"])
def test_secret_volumes_are_read_only_0440_for_the_pods_group(name):
    pod = _pod(_docs()[name])
    assert pod["securityContext"]["fsGroup"] == pod["securityContext"]["runAsGroup"]
    secrets = [v["secret"] for v in pod["volumes"] if "secret" in v]
    assert secrets and all(s["defaultMode"] == 0o440 for s in secrets)
    names = {v["name"] for v in pod["volumes"] if "secret" in v}
    for container in pod["containers"]:
        for mount in container["volumeMounts"]:
            if mount["name"] in names:
                assert mount["readOnly"] is True


def _kubelet_layout(root: Path, pod: dict) -> dict[str, Path]:
    """The pod's Secret files as the kubelet writes them under ``root``: the atomic
    writer's ``..<timestamp>`` folder, the ``..data`` link and one link per key;
    root-owned, group fsGroup, defaultMode plus the group read bits a read-only
    volume with fsGroup gets (pkg/volume/volume_linux.go)."""
    group = pod["securityContext"]["fsGroup"]
    volumes = {v["name"]: v["secret"] for v in pod["volumes"] if "secret" in v}
    out = {}
    for container in pod["containers"]:
        for mount in container["volumeMounts"]:
            secret = volumes.get(mount["name"])
            if secret is None:
                continue
            where = root / mount["mountPath"].lstrip("/")
            stamp = where / "..2026_12_03_14_00_00.000000001"
            stamp.mkdir(parents=True)
            (where / "..data").symlink_to(stamp.name)
            for item in secret["items"]:
                real = stamp / item["path"]
                real.write_text("REPLACE_ME")
                os.chown(real, 0, group)
                real.chmod(secret["defaultMode"] | 0o440)
                (where / item["path"]).symlink_to(f"..data/{item['path']}")
                out[f"{mount['mountPath']}/{item['path']}"] = where / item["path"]
    return out


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to make the kubelet's root-owned files")
@pytest.mark.parametrize("name", ["Deployment/peerpulse-worker", "Job/peerpulse-migrate"])
def test_peerpulse_accepts_the_secret_files_as_the_kubelet_mounts_them(tmp_path, name):
    from peerpulse.connectors.file_modes import secret_file_problem

    pod = _pod(_docs()[name])
    files = _kubelet_layout(tmp_path, pod)
    assert files
    for mounted, path in files.items():
        assert secret_file_problem(path, euid=pod["securityContext"]["runAsUser"]) is None, (
            mounted)


def test_the_configmap_is_a_config_peerpulse_loads_with_the_mounted_secrets(tmp_path,
                                                                           monkeypatch):
    """The config.toml the workers mount refers to the Secret files the Deployment
    mounts; with the Job's overrides it connects as the owner role, with the
    owner's password file, the one the Job mounts."""
    from peerpulse.worker import config

    docs = _docs()
    path = tmp_path / "config.toml"
    path.write_text(docs["ConfigMap/peerpulse-config"]["data"]["config.toml"])
    settings = config.load(path)
    assert settings.database is not None and settings.database.url.startswith("postgresql://")
    referenced = {str(settings.database.password.file)}
    for account in settings.accounts:
        referenced.add(str(account.source.service_account_key.file))
        referenced.add(str(account.delivery.password.file))
    mounted = _secret_files(_pod(docs["Deployment/peerpulse-worker"]))
    assert referenced <= set(mounted), referenced - set(mounted)

    job = _pod(docs["Job/peerpulse-migrate"])
    for env in job["containers"][0]["env"]:
        monkeypatch.setenv(env["name"], env["value"])
    owner = config.load(path)
    assert "peerpulse_owner@" in owner.database.url
    assert _secret_files(job)[str(owner.database.password.file)] == "db-owner-password"
