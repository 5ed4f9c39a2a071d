"""The instance configurations: PostgreSQL-backed in the cloud, SQLite under $CI_ASSETS_HOME locally."""

import shutil
from pathlib import Path
from urllib.parse import urlparse

import dagster as dg
import psycopg
import pytest

from ci_assets.instance import config_file, prepare_local_dagster_home

DAYS = dg.DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-01-10")


@dg.asset(partitions_def=DAYS, backfill_policy=dg.BackfillPolicy.single_run())
def probe(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"keys": len(context.partition_keys)})


def test_cloud_instance_records_runs_and_partitions_in_postgres(
    postgres_dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = urlparse(postgres_dsn)
    for name, value in {
        "DAGSTER_PG_HOST": url.hostname,
        "DAGSTER_PG_PORT": str(url.port),
        "DAGSTER_PG_USER": url.username,
        "DAGSTER_PG_PASSWORD": "trust-auth-ignores-it",
        "DAGSTER_PG_DB": url.path.lstrip("/"),
    }.items():
        monkeypatch.setenv(name, str(value))
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(config_file("cloud"), home / "dagster.yaml")

    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        single = dg.materialize([probe], partition_key="2024-01-02", instance=instance)
        tags = {"dagster/asset_partition_range_start": "2024-01-04", "dagster/asset_partition_range_end": "2024-01-06"}
        ranged = dg.materialize([probe], instance=instance, tags=tags)
        assert single.success and ranged.success
        assert instance.get_materialized_partitions(probe.key) == {
            "2024-01-02",
            "2024-01-04",
            "2024-01-05",
            "2024-01-06",
        }

    # Read the rows back with plain SQL, not through Dagster: they are really in PostgreSQL.
    with psycopg.connect(postgres_dsn) as conn:
        runs = dict(conn.execute("SELECT run_id, status FROM runs").fetchall())
        partitions = conn.execute(
            "SELECT run_id, partition FROM event_logs "
            "WHERE dagster_event_type = 'ASSET_MATERIALIZATION' AND asset_key LIKE %s ORDER BY partition",
            ("%probe%",),
        ).fetchall()
    assert runs[single.run_id] == runs[ranged.run_id] == "SUCCESS"
    assert partitions == [
        (single.run_id, "2024-01-02"),
        (ranged.run_id, "2024-01-04"),
        (ranged.run_id, "2024-01-05"),
        (ranged.run_id, "2024-01-06"),
    ]


def test_local_dagster_home_lives_under_ci_assets_home(ci_home: Path) -> None:
    home = prepare_local_dagster_home(ci_home)
    assert home == ci_home / "dagster_home" and (home / "dagster.yaml").exists()
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert type(instance.run_storage).__name__ == "SqliteRunStorage"
        assert dg.materialize([probe], partition_key="2024-01-03", instance=instance).success
        assert instance.get_materialized_partitions(probe.key) == {"2024-01-03"}
        # Every configured part is built (their config is only checked when first used): the
        # queue with its limits, the warm launcher, run monitoring and retries.
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        assert instance.run_coordinator.get_run_queue_config().max_concurrent_runs == 4
        assert type(instance.run_launcher).__name__ == "DefaultRunLauncher"
        assert instance.run_monitoring_enabled and instance.run_retries_max_retries == 1
