"""The instance dagster.yaml that the Dagster chart writes from our values (its configmap-instance),
for the parts deploy/helm/values.yaml sets: external PostgreSQL, K8sRunLauncher, the queued coordinator.

Helm is not on this machine and the chart cannot be downloaded here, so this is the offline half of
`helm template`: the chart's mapping of values to instance config, re-stated for what we use, so
Dagster's own config schema can judge the result.
"""

from __future__ import annotations

from typing import Any

RELEASE = NAMESPACE = "dagster"
DAGSTER_HOME = "/opt/dagster/dagster_home"

# camelCase in the values, snake_case in the instance (the chart's own renames).
_LAUNCHER_LISTS = {"envVars": "env_vars", "volumes": "volumes", "volumeMounts": "volume_mounts"}
_RUN_K8S = {
    "containerConfig": "container_config",
    "podSpecConfig": "pod_spec_config",
    "podTemplateSpecMetadata": "pod_template_spec_metadata",
    "jobSpecConfig": "job_spec_config",
    "jobMetadata": "job_metadata",
}


def _postgres(values: dict[str, Any]) -> dict[str, Any]:
    pg = values["postgresql"]
    assert pg["enabled"] is False, "the instance's PostgreSQL is an existing server"
    return {
        "postgres_db": {
            "username": pg["postgresqlUsername"],
            "password": {"env": "DAGSTER_PG_PASSWORD"},  # from global.postgresqlSecretName
            "hostname": pg["postgresqlHost"],
            "db_name": pg["postgresqlDatabase"],
            "port": pg["service"]["port"],
            "params": pg.get("postgresqlParams", {}),
        }
    }


def _run_launcher(values: dict[str, Any]) -> dict[str, Any]:
    launcher = values["runLauncher"]
    assert launcher["type"] == "K8sRunLauncher"
    k8s = launcher["config"]["k8sRunLauncher"]
    config: dict[str, Any] = {
        "load_incluster_config": k8s.get("loadInclusterConfig", True),
        "job_namespace": k8s.get("jobNamespace") or NAMESPACE,
        "image_pull_policy": k8s.get("imagePullPolicy", "Always"),
        "service_account_name": RELEASE,
        "dagster_home": DAGSTER_HOME,
        "instance_config_map": f"{RELEASE}-instance",
        "postgres_password_secret": values["global"]["postgresqlSecretName"],
    }
    if k8s.get("envConfigMaps"):
        config["env_config_maps"] = [c["name"] for c in k8s["envConfigMaps"]]
    if k8s.get("envSecrets"):
        config["env_secrets"] = [s["name"] for s in k8s["envSecrets"]]
    for source, target in _LAUNCHER_LISTS.items():
        if k8s.get(source):
            config[target] = k8s[source]
    for key in ("labels", "resources"):
        if k8s.get(key):
            config[key] = k8s[key]
    if k8s.get("runK8sConfig"):
        config["run_k8s_config"] = {_RUN_K8S[k]: v for k, v in k8s["runK8sConfig"].items()}
    return {"module": "dagster_k8s", "class": "K8sRunLauncher", "config": config}


def _run_coordinator(values: dict[str, Any]) -> dict[str, Any]:
    """What the chart's `dagsterYaml.runCoordinator` helper writes: the queued block translated, or a
    custom block copied as written."""
    coordinator = values["dagsterDaemon"]["runCoordinator"]
    if coordinator["type"] == "CustomRunCoordinator":
        custom = coordinator["config"]["customRunCoordinator"]
        return {"module": custom["module"], "class": custom["class"], "config": custom["config"]}
    assert coordinator["type"] == "QueuedRunCoordinator"
    queued = coordinator["config"]["queuedRunCoordinator"]
    config = {"max_concurrent_runs": queued.get("maxConcurrentRuns", -1)}
    if queued.get("tagConcurrencyLimits"):
        config["tag_concurrency_limits"] = queued["tagConcurrencyLimits"]  # copied as written
    return {"module": "dagster._core.run_coordinator", "class": "QueuedRunCoordinator", "config": config}


def instance_config(values: dict[str, Any]) -> dict[str, Any]:
    postgres = _postgres(values)
    monitoring = values["dagsterDaemon"].get("runMonitoring", {})
    return {
        "scheduler": {"module": "dagster._core.scheduler", "class": "DagsterDaemonScheduler"},
        "schedule_storage": {
            "module": "dagster_postgres.schedule_storage",
            "class": "PostgresScheduleStorage",
            "config": postgres,
        },
        "run_storage": {"module": "dagster_postgres.run_storage", "class": "PostgresRunStorage", "config": postgres},
        "event_log_storage": {
            "module": "dagster_postgres.event_log",
            "class": "PostgresEventLogStorage",
            "config": postgres,
        },
        "run_launcher": _run_launcher(values),
        "run_coordinator": _run_coordinator(values),
        "compute_logs": {"module": "dagster._core.storage.noop_compute_log_manager", "class": "NoOpComputeLogManager"},
        "run_monitoring": {
            "enabled": monitoring.get("enabled", True),
            "max_resume_run_attempts": monitoring.get("maxResumeRunAttempts", 0),
        },
        "telemetry": {"enabled": values.get("telemetry", {}).get("enabled", True)},
        **_retention(values),
    }


def _retention(values: dict[str, Any]) -> dict[str, Any]:
    """The chart's `retention` block, as its instance template writes it (only when enabled)."""
    retention = values.get("retention", {})
    if not retention.get("enabled"):
        return {}
    return {
        "retention": {
            kind: {"purge_after_days": retention[kind]["purgeAfterDays"]}
            for kind in ("schedule", "sensor")
            if kind in retention
        }
    }
