"""deploy/kubernetes/: every manifest valid against the Kubernetes schemas that
kubernetes-validate bundles (offline, strict: an unknown field fails), and what the
deployment promises: hardened pods, secrets only by reference, a config peerpulse
loads, real commands, resources set."""

from __future__ import annotations

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


def test_the_secret_is_a_template_and_every_reference_to_it_exists():
    docs = _docs()
    secret = docs["Secret/peerpulse-credentials"]
    assert set(secret["stringData"].values()) == {"REPLACE_ME"}
    keys = set(secret["stringData"])
    for name in ("Deployment/peerpulse-worker", "Job/peerpulse-migrate"):
        for container in _pod(docs[name])["containers"]:
            for env in container["env"]:
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["name"] == "peerpulse-credentials" and ref["key"] in keys
                else:  # plain values carry no secret
                    assert "PASSWORD" not in env["name"] or env["name"].endswith("__ENV")


def test_the_configmap_is_a_config_peerpulse_loads_with_the_secret_env(tmp_path, monkeypatch):
    """The config.toml the workers mount, with the environment the Deployment gives
    them; and with the Job's overrides it connects as the owner role."""
    from peerpulse.worker import config

    docs = _docs()
    path = tmp_path / "config.toml"
    path.write_text(docs["ConfigMap/peerpulse-config"]["data"]["config.toml"])
    worker_env = {e["name"] for e in _pod(docs["Deployment/peerpulse-worker"])["containers"][0]
                  ["env"]}
    for name in worker_env:
        monkeypatch.setenv(name, "from-secret")
    settings = config.load(path)
    assert settings.database is not None and settings.database.url.startswith("postgresql://")
    assert settings.database.password.env in worker_env
    referenced = {settings.database.password.env}
    for account in settings.accounts:
        referenced.add(account.source.service_account_key.env)
        referenced.add(account.delivery.password.env)
    assert referenced <= worker_env, referenced - worker_env

    for env in _pod(docs["Job/peerpulse-migrate"])["containers"][0]["env"]:
        monkeypatch.setenv(env["name"], env.get("value", "from-secret"))
    owner = config.load(path)
    assert "peerpulse_owner@" in owner.database.url
    assert owner.database.password.env == "PEERPULSE_DB_OWNER_PASSWORD"
