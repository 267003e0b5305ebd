"""The Kubernetes manifests (object_storage=s3): valid for a named Kubernetes version; what docs/kubernetes.md says.

No cluster can run here. Every manifest is validated offline against the API schemas of
KUBERNETES_VERSION, strictly (an unknown field is an error), with kubernetes-validate;
then the properties are checked one by one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from .support.baking import bake

KUBERNETES_VERSION = "1.34.0"
# What production refuses to start without (config/settings.py), for an s3 and SMTP bake.
REQUIRED = {
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "DATABASE_URL",
    "REDIS_URL",
    "AWS_STORAGE_BUCKET_NAME",
    "AWS_S3_ENDPOINT_URL",
    "DEFAULT_FROM_EMAIL",
    "SERVER_EMAIL",
    "EMAIL_URL",
}
SECRETS = {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "EMAIL_URL"}

type Manifest = dict[str, Any]


@pytest.fixture(scope="module", params=[{"metrics": "yes"}, {"metrics": "no", "sentry": "yes"}], ids=["m-yes", "m-no"])
def project(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bake(tmp_path_factory.mktemp("k8s"), object_storage="s3", mail_service="smtp", **request.param)


def documents(project: Path) -> Iterator[tuple[str, Manifest]]:
    for path in sorted((project / "deploy" / "kubernetes").glob("*.yaml")):
        if path.name != "kustomization.yaml":
            for document in yaml.safe_load_all(path.read_text()):
                yield path.name, document


def by_kind(project: Path, kind: str) -> dict[str, Manifest]:
    return {doc["metadata"]["name"]: doc for _, doc in documents(project) if doc["kind"] == kind}


def pod_specs(project: Path) -> dict[str, Manifest]:
    workloads = {**by_kind(project, "Deployment"), **by_kind(project, "Job")}
    return {name: workload["spec"]["template"]["spec"] for name, workload in workloads.items()}


def test_every_manifest_is_valid_for_the_named_kubernetes_version(project: Path) -> None:
    checked = []
    for filename, document in documents(project):
        try:
            kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(
                f"{filename}: {document['kind']} {document['metadata']['name']}: {error.message} at {error.path}"
            )
        checked.append(document["kind"])
    expected = {"Namespace", "ConfigMap", "Job", "Deployment", "Service", "Ingress"}
    expected |= {"HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy"}
    assert set(checked) == expected


def test_kustomization_lists_every_manifest_and_makes_the_secret(project: Path) -> None:
    directory = project / "deploy" / "kubernetes"
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    on_disk = {path.name for path in directory.glob("*.yaml")} - {"kustomization.yaml"}
    assert sorted(kustomization["resources"]) == sorted(on_disk)
    assert kustomization["secretGenerator"] == [{"name": "app-secrets", "envs": ["secrets.env"]}]
    assert "deploy/kubernetes/secrets.env" in (project / ".gitignore").read_text().splitlines()
    assert not (directory / "secrets.env").exists()
    images = {image["name"] for image in kustomization["images"]}
    used = {container["image"] for spec in pod_specs(project).values() for container in spec["containers"]}
    assert used == images


def test_every_container_runs_unprivileged_on_a_read_only_file_system_with_resources(project: Path) -> None:
    namespace = next(iter(by_kind(project, "Namespace").values()))
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    for name, spec in pod_specs(project).items():
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["runAsUser"] != 0, name
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert spec["automountServiceAccountToken"] is False, name
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["capabilities"] == {"drop": ["ALL"]}, name
            assert {"cpu", "memory"} <= set(container["resources"]["requests"]), name
            assert "memory" in container["resources"]["limits"], name
            # What is written goes to an emptyDir volume.
            volumes = {volume["name"]: volume for volume in spec["volumes"]}
            assert container["volumeMounts"], name
            assert all("emptyDir" in volumes[mount["name"]] for mount in container["volumeMounts"]), name


def test_probes_watch_health_and_readiness(project: Path) -> None:
    specs = pod_specs(project)
    web = specs["web"]["containers"][0]
    assert web["args"] == ["/app/deploy/entrypoint.sh", "web"]
    assert web["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert web["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert web["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert web["ports"] == [{"name": "http", "containerPort": 8000}]
    worker = specs["worker"]["containers"][0]
    assert worker["args"] == ["/app/deploy/entrypoint.sh", "worker"]
    env = {item["name"]: item["value"] for item in worker["env"]}
    mounts = {mount["mountPath"] for mount in worker["volumeMounts"]}
    assert str(Path(env["WORKER_HEARTBEAT_FILE"]).parent) in mounts  # the writable emptyDir
    assert "$WORKER_HEARTBEAT_FILE" in worker["livenessProbe"]["exec"]["command"][-1]
    proxy = specs["proxy"]["containers"][0]
    assert proxy["readinessProbe"]["httpGet"]["path"] == "/healthz"


def test_graceful_termination_outlasts_gunicorns(project: Path) -> None:
    settings = by_kind(project, "ConfigMap")["app-settings"]["data"]
    graceful = int(settings["GUNICORN_GRACEFUL_TIMEOUT"])
    gunicorn_conf = (project / "deploy" / "gunicorn.conf.py").read_text()
    assert re.search(r'graceful_timeout = _int\("GUNICORN_GRACEFUL_TIMEOUT", 30\)', gunicorn_conf)
    web = pod_specs(project)["web"]
    pause = web["containers"][0]["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert web["terminationGracePeriodSeconds"] > pause + graceful
    # The worker: as long as supervisord gives it (deploy/supervisord.conf's stopwaitsecs).
    supervisord = (project / "deploy" / "supervisord.conf").read_text()
    worker_stop = re.search(r"\[program:worker\].*?stopwaitsecs=(\d+)", supervisord, re.DOTALL)
    assert worker_stop
    assert pod_specs(project)["worker"]["terminationGracePeriodSeconds"] >= int(worker_stop.group(1))


def test_secrets_come_from_the_secret_and_settings_cover_what_production_requires(project: Path) -> None:
    settings = by_kind(project, "ConfigMap")["app-settings"]["data"]
    assert not SECRETS & set(settings)
    example = (project / "deploy" / "kubernetes" / "secrets.env.example").read_text()
    secret_names = set(re.findall(r"^([A-Z][A-Z0-9_]*)=", example, flags=re.MULTILINE))
    assert secret_names >= SECRETS
    assert set(settings) | secret_names >= REQUIRED
    for name, spec in pod_specs(project).items():
        if name == "proxy":
            continue
        sources = spec["containers"][0]["envFrom"]
        assert {"secretRef": {"name": "app-secrets"}} in sources, name
        assert {"configMapRef": {"name": "app-settings"}} in sources, name
        literal = {item["name"] for item in spec["containers"][0].get("env", []) if "value" in item}
        assert not literal & SECRETS, name


def test_services_autoscaler_budgets_and_policies_point_at_the_right_pods(project: Path) -> None:
    deployments = by_kind(project, "Deployment")
    labels = {name: d["spec"]["template"]["metadata"]["labels"] for name, d in deployments.items()}
    services = by_kind(project, "Service")
    assert services["web"]["spec"]["clusterIP"] == "None"  # headless: nginx sees every pod
    for name, service in services.items():
        assert service["spec"]["selector"].items() <= labels[name].items()
    proxy_env = {
        item["name"]: item.get("value")
        for item in deployments["proxy"]["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert proxy_env["NGINX_UPSTREAM"] == "web:8000"
    backend = by_kind(project, "Ingress")["site"]["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": "proxy", "port": {"name": "http"}}
    autoscaler = by_kind(project, "HorizontalPodAutoscaler")["web"]["spec"]
    assert autoscaler["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}
    assert autoscaler["minReplicas"] >= 2
    for name, budget in by_kind(project, "PodDisruptionBudget").items():
        assert budget["spec"]["selector"]["matchLabels"].items() <= labels[name].items()
    policies = by_kind(project, "NetworkPolicy")
    assert policies["default-deny-ingress"]["spec"] == {"podSelector": {}, "policyTypes": ["Ingress"]}
    web_from = policies["web-from-proxy"]["spec"]["ingress"][0]["from"]
    assert {"podSelector": {"matchLabels": labels["proxy"]}} in web_from


def test_a_local_storage_bake_has_no_kubernetes_manifests(tmp_path: Path) -> None:
    project = bake(tmp_path, object_storage="local")
    assert not (project / "deploy" / "kubernetes").exists()
    assert not (project / "docs" / "kubernetes.md").exists()
