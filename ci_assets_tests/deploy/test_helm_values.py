"""deploy/helm/values.yaml, checked offline: the chart's rules for what we set, and the instance it
yields judged by Dagster's own config schema (dagster-k8s' K8sRunLauncher, dagster-postgres)."""

from __future__ import annotations

import importlib
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from dagster._config import process_config, resolve_to_config_type
from dagster._core.instance.config import dagster_instance_config

from ci_assets.instance import config_file
from ci_assets_tests.deploy.chart_instance import instance_config

REPO = Path(__file__).resolve().parents[2]
VALUES = REPO / "deploy" / "helm" / "values.yaml"
PULL_POLICIES = {"Always", "IfNotPresent", "Never"}


@pytest.fixture(scope="module")
def values() -> dict[str, Any]:
    return yaml.safe_load(VALUES.read_text())


def test_the_user_deployment_is_what_the_chart_requires(values: dict[str, Any]) -> None:
    users = values["dagster-user-deployments"]
    assert users["enabled"] and users["enableSubchart"]
    [deployment] = users["deployments"]  # a list replaces the chart's default: every field is ours
    assert deployment["name"] == "ci-assets"
    assert deployment["image"]["repository"] and deployment["image"]["pullPolicy"] in PULL_POLICIES
    assert isinstance(deployment["port"], int)
    assert all(isinstance(e["name"], str) and isinstance(e["value"], str) for e in deployment["env"])
    assert all(set(s) == {"name"} for s in deployment["envSecrets"])  # objects, not bare names
    # The code server serves the module the project's own tooling loads.
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["dg"]["project"]
    assert deployment["codeServerArgs"] == ["-m", project["code_location_target_module"]]
    assert "dagsterApiGrpcArgs" not in deployment  # `dagster code-server start`, not `dagster api grpc`
    importlib.import_module(project["code_location_target_module"])


def test_the_run_launcher_and_queue_use_the_charts_keys(values: dict[str, Any]) -> None:
    assert set(values["runLauncher"]) == {"type", "config"}
    k8s = values["runLauncher"]["config"]["k8sRunLauncher"]
    allowed = {"imagePullPolicy", "jobNamespace", "loadInclusterConfig", "envConfigMaps", "envSecrets", "envVars",
               "volumes", "volumeMounts", "labels", "resources", "runK8sConfig", "failPodOnRunFailure"}  # fmt: skip
    assert set(k8s) <= allowed
    assert all(set(s) == {"name"} for s in k8s["envSecrets"])
    assert set(k8s["runK8sConfig"]) <= {"containerConfig", "podSpecConfig", "podTemplateSpecMetadata",
                                        "jobSpecConfig", "jobMetadata"}  # fmt: skip
    custom = values["dagsterDaemon"]["runCoordinator"]["config"]["customRunCoordinator"]
    assert set(custom) == {"module", "class", "config"}
    assert values["generatePostgresqlPasswordSecret"] is False and values["global"]["postgresqlSecretName"]


def test_the_run_queue_is_the_cloud_instances(values: dict[str, Any]) -> None:
    cloud = yaml.safe_load(config_file("cloud").read_text())["run_coordinator"]
    assert instance_config(values)["run_coordinator"] == cloud


def test_tick_retention_is_the_same_in_the_chart_and_both_instance_files(values: dict[str, Any]) -> None:
    local, cloud = (yaml.safe_load(config_file(name).read_text())["retention"] for name in ("local", "cloud"))
    assert local == cloud == instance_config(values)["retention"]
    assert cloud["sensor"]["purge_after_days"]["skipped"] <= 7  # a listing sensor skips every minute


def test_the_instance_the_chart_writes_passes_dagsters_schema(
    values: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", "from-the-secret")  # the chart sets it from postgresqlSecretName
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(instance_config(values)))
    config, _ = dagster_instance_config(str(tmp_path))  # the instance file's own schema
    for section in ("schedule_storage", "run_storage", "event_log_storage", "run_launcher", "run_coordinator"):
        module, name = config[section]["module"], config[section]["class"]
        configurable = getattr(importlib.import_module(module), name)
        checked = process_config(resolve_to_config_type(configurable.config_type()), config[section]["config"])
        assert checked.success, (section, [e.message for e in checked.errors])
    launcher = config["run_launcher"]["config"]
    assert launcher["env_secrets"] == ["ci-assets-secrets"] and launcher["job_namespace"] == "dagster"


def test_every_variable_the_values_name_is_documented(values: dict[str, Any]) -> None:
    readme = (REPO / "README.md").read_text()
    named = set(re.findall(r"\b(CI_ASSETS_[A-Z_]+|GOOGLE_APPLICATION_CREDENTIALS)\b", VALUES.read_text()))
    assert named, "the values name the platform's variables"
    assert {n for n in named if f"`{n}`" not in readme} == set()


def test_the_run_workers_job_manifest_is_built_by_dagster_k8s_from_the_values(values: dict[str, Any]) -> None:
    """No cluster here: dagster-k8s' own `construct_dagster_k8s_job` builds the Job a run would be,
    from the launcher config the chart writes out of values.yaml and the user deployment's image."""
    import inspect

    from dagster_k8s import DagsterK8sJobConfig, construct_dagster_k8s_job
    from dagster_k8s.job import UserDefinedDagsterK8sConfig
    from kubernetes.client import ApiClient

    launcher = instance_config(values)["run_launcher"]["config"]
    [deployment] = values["dagster-user-deployments"]["deployments"]
    image = f"{deployment['image']['repository']}:{deployment['image']['tag']}"
    fields = set(inspect.signature(DagsterK8sJobConfig).parameters) & set(launcher)
    job_config = DagsterK8sJobConfig(job_image=image, **{k: launcher[k] for k in fields})
    user_config = UserDefinedDagsterK8sConfig(**launcher.get("run_k8s_config", {}))
    job = construct_dagster_k8s_job(
        job_config, ["dagster", "api", "execute_run", "{}"], "dagster-run-0123", user_config, component="run_worker"
    )
    manifest = ApiClient().sanitize_for_serialization(job)
    [container] = manifest["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "ghcr.io/mozilla/ci-assets:main" and container["imagePullPolicy"] == "Always"
    assert container["args"][:3] == ["dagster", "api", "execute_run"]
    assert {"secretRef": {"name": "ci-assets-secrets"}} in container["envFrom"]
    env = {e["name"]: e for e in container["env"]}
    assert env["DAGSTER_HOME"]["value"] == "/opt/dagster/dagster_home"  # where the image keeps it
    assert env["DAGSTER_PG_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == values["global"]["postgresqlSecretName"]
    assert container["resources"] == {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"memory": "6Gi"}}
    assert manifest["spec"]["ttlSecondsAfterFinished"] == 86400
    assert manifest["spec"]["template"]["spec"]["serviceAccountName"] == launcher["service_account_name"]


def test_the_daemon_waits_for_a_restarting_code_server_as_the_topology_test_s_does(values: dict[str, Any]) -> None:
    from ci_assets_tests.deploy.topology import DAEMON_ENV

    env = {e["name"]: e["value"] for e in values["dagsterDaemon"]["env"]}
    assert env == DAEMON_ENV and all(isinstance(v, str) for v in env.values())
