"""The deployed topology, run here (`make topology` runs this file alone): the installed package's code
server, webserver and daemon as separate processes on the cloud instance and the cloud environment
(ci_assets_tests/deploy/topology.py). Through GraphQL, one partition of every system and a 7-day
aggregates backfill; Buildhub's listing sensor ingests what lands in moto. Then the faults a
deployment meets: the code server killed mid-backfill and started again, the daemon killed with runs
queued, the instance's PostgreSQL dropping every connection. No run is lost or run twice, and
nothing is stored twice.

Two demo runs are left out, each for a stand-in that cannot do what production does: fxci's worker
tables (Cloud Monitoring has no local server) and Buildhub's warehouse table (the BigQuery
emulator cannot create its column named `as`; ci_assets_tests/defs/buildhub/test_warehouse.py).
"""

from __future__ import annotations

import datetime as dt
import subprocess
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import dagster as dg
import psycopg
import pytest

from ci_assets.cli import SYSTEMS
from ci_assets.definitions import build_definitions
from ci_assets.defs.resources import resources_for
from ci_assets.lib import env
from ci_assets.lib.launch import DemoRun, launch_in_order
from ci_assets.lib.storage.bigquery_tables import make_client
from ci_assets_tests.conftest import RabbitMQ
from ci_assets_tests.deploy import local_twin
from ci_assets_tests.deploy.topology import Topology
from ci_assets_tests.services.databases import scratch_database
from ci_assets_tests.services.tcp_proxy import TcpProxy, tcp_proxy

pytestmark = pytest.mark.topology

PROJECT = "moz-fx-data-shared-prod"
LEFT_OUT = {"the worker tables, yesterday", "the builds table"}
TODAY = dt.datetime.now(dt.UTC).date()
NOW = dt.datetime.now(dt.UTC)
SEEDS = (8, 40, 30)  # aggregates days, buildhub.json documents, pulse messages an exchange
BACKFILL_DAYS = [(TODAY - dt.timedelta(days=n)).isoformat() for n in range(8, 1, -1)]  # the 7 days before yesterday


@pytest.fixture(scope="module")
def topology(
    image_venv: Path,
    moto_endpoint: str,
    bigquery_endpoint: str,
    rabbitmq: RabbitMQ,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Topology, TcpProxy]]:
    home, tag = tmp_path_factory.mktemp("topology"), uuid.uuid4().hex[:8]
    with (
        scratch_database("topology_instance") as instance_dsn,
        scratch_database("topology_ci") as ci_dsn,
        scratch_database("topology_aggregates") as aggregates_dsn,
    ):
        instance = urlparse(instance_dsn)
        with tcp_proxy(instance.hostname or "127.0.0.1", instance.port or 5432) as proxy:
            dagster_env = {
                "DAGSTER_HOME": str(home / "dagster_home"),
                "DAGSTER_PG_HOST": "127.0.0.1",
                "DAGSTER_PG_PORT": str(proxy.port),
                "DAGSTER_PG_USER": "postgres",
                "DAGSTER_PG_PASSWORD": "trust-auth-ignores-it",
                "DAGSTER_PG_DB": instance.path.lstrip("/"),
            }
            code_env = {
                "CI_ASSETS_ENV": "cloud",
                "CI_ASSETS_HOME": str(home / "ci_home"),
                "CI_ASSETS_S3_ENDPOINT_URL": moto_endpoint,
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": "us-east-1",
                "CI_ASSETS_LAKE_BUCKET": f"topology-lake-{tag}",
                "CI_ASSETS_BQ_PROJECT": PROJECT,
                "CI_ASSETS_BQ_DATASET": f"topology_{tag}",
                "CI_ASSETS_BQ_ENDPOINT": bigquery_endpoint,
                "CI_ASSETS_POSTGRES_DSN": ci_dsn,
                "CI_ASSETS_AGGREGATES_DSN": aggregates_dsn,
                "CI_ASSETS_AGGREGATES_BUCKET": f"topology-dumps-{tag}",
                "CI_ASSETS_BUILDHUB_BUCKET": f"topology-buildhub-{tag}",
                "CI_ASSETS_METADATA_BUCKET": f"topology-metadata-{tag}",
                "CI_ASSETS_PULSE_URL": rabbitmq.url,
                "CI_ASSETS_PULSE_USER": f"topology-{tag}",
                "CI_ASSETS_LISTING_INTERVAL_SECONDS": "5",
            }
            world = Topology(image_venv, home / "dagster_home", code_env, dagster_env)
            world.write_instance()
            script = str(Path(__file__).with_name("seed_cloud.py"))
            seed = subprocess.run(
                [str(image_venv / "bin" / "python"), script, *map(str, SEEDS), NOW.isoformat()],
                env={"PATH": "/usr/bin:/bin", "HOME": str(home)} | code_env,
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert seed.returncode == 0, seed.stderr[-3000:]
            try:
                for name in ("code_server", "webserver", "daemon"):
                    world.start(name)
                yield world, proxy
            finally:
                world.stop_all()


def demo_runs() -> list[DemoRun]:
    import importlib

    runs = [r for s in SYSTEMS for r in importlib.import_module(f"ci_assets.defs.{s}.demo").demo_runs(TODAY)]
    return [r for r in runs if r.description not in LEFT_OUT]


def test_the_deployed_topology_runs_every_system_and_loses_nothing_to_its_faults(
    topology: tuple[Topology, TcpProxy], bigquery_endpoint: str
) -> None:
    world, proxy = topology
    started = time.monotonic()
    world.wait_for(lambda: bool(world.runs(statuses=["SUCCESS"], tags=[BUILDHUB])), 300, "Buildhub's sensor run")
    assert launch_in_order(world.url, demo_runs(), world.note, timeout=600) == []
    assert not [line for line in world.notes if "not launched" in line], world.notes

    # The aggregates month's shape in small: 7 days x both types as one backfill; the code server
    # is SIGKILLed while the backfill's run is going, then started again (its runs go on, as Jobs).
    partitions = [f"{day}|{t}" for day in BACKFILL_DAYS for t in ("build_id", "submission_date")]
    backfill = world.backfill([["aggregates", "dump"], ["aggregates", "parquet"]], partitions)
    in_flight = [backfill_tag(backfill)]

    def launched() -> bool:  # both runs handed to their processes; one may have finished already
        statuses = [r["status"] for r in world.runs(tags=in_flight)]
        return len(statuses) == 2 and "STARTED" in statuses and set(statuses) <= {"STARTED", "SUCCESS"}

    # Not while the daemon is handing a run to the code server: a kill inside that call fails the
    # run and leaves the backfill waiting for a retry that never comes (a Dagster race, see the
    # README); the deployed shape's fault is the code server dying under running runs.
    world.wait_for(launched, 300, "the backfill's runs")
    time.sleep(2)  # their steps under way
    world.note(f"killing the code server; the backfill's runs: {world.runs(tags=in_flight)}")
    world.kill("code_server")
    time.sleep(3)
    world.start("code_server")
    world.wait_for(lambda: world.backfill_status(backfill) in ("COMPLETED", "COMPLETED_SUCCESS"), 600, "the backfill")

    # The daemon killed with nothing running; runs launched meanwhile wait in the queue.
    world.wait_idle(600)
    world.kill("daemon", group=True)
    queued = [world.launch(run) for run in demo_runs() if run.system == "sources"]
    time.sleep(3)
    assert {r["status"] for r in world.runs(runIds=queued)} == {"QUEUED"}
    # The instance's PostgreSQL drops every connection and refuses new ones for a while.
    proxy.outage(8)
    time.sleep(8)
    world.start("daemon")
    world.wait_idle(600)

    runs = world.runs()
    for r in runs:
        world.note(f"run {r['runId']} {r['status']} {r['jobName']} {r['assetSelection']} {tags(r)}")
    assert Counter(r["status"] for r in runs) == {"SUCCESS": len(runs)}, [
        (r["jobName"], r["status"], r["runId"]) for r in runs if r["status"] != "SUCCESS"
    ]
    selected = Counter(
        (r["jobName"], str(sorted(a["path"] for a in r["assetSelection"] or [])), partition_of(r))
        for r in runs
        if "dagster/sensor_name" not in tags(r)  # Buildhub's sensor runs: one per upload day
    )
    twice = {k for k, n in selected.items() if n > 1}
    assert len(twice) == 1 and "sources_json" in next(iter(twice))[1]  # the registry, launched twice on purpose
    # The backfill's single-run policy: one run for each type's 7 days, whatever was killed meanwhile.
    assert sorted(partition_of(r) for r in runs if tags(r).get("dagster/backfill") == backfill) == [
        f"{BACKFILL_DAYS[0]}|{t}...{BACKFILL_DAYS[-1]}|{t}" for t in ("build_id", "submission_date")
    ]
    assert all(world.runs(runIds=[run_id])[0]["status"] == "SUCCESS" for run_id in queued)

    client = make_client(PROJECT, bigquery_endpoint)
    dataset = "moz-fx-data-shared-prod.dev_telemetry_derived"
    yesterday = (TODAY - dt.timedelta(days=1)).isoformat()
    for t in ("build_id", "submission_date"):
        where = f"FROM `{dataset}.{t}_aggregates` WHERE ingest_date = DATE '{yesterday}'"
        sql = f"SELECT (SELECT count(*) {where}) AS n, (SELECT count(*) FROM (SELECT DISTINCT * {where})) AS d"
        [row] = client.query(sql).result().to_arrow(create_bqstorage_client=False).to_pylist()
        assert row["n"] > 0 and row["n"] == row["d"]  # the day's rows, none twice
    for table, key in (("tasks_v2", "task_id"), ("task_runs_v1", "concat(task_id, '/', cast(run_id AS string))")):
        sql = f"SELECT count(*) AS n, count(DISTINCT {key}) AS d FROM `{PROJECT}.fxci_derived.{table}`"
        [row] = client.query(sql).result().to_arrow(create_bqstorage_client=False).to_pylist()
        assert row["n"] > 0 and row["n"] == row["d"]
    compared = equals_a_local_run(world, runs)
    world.note(f"topology: {len(runs)} runs, all succeeded, in {time.monotonic() - started:.0f} s; {compared}")


def equals_a_local_run(world: Topology, runs: list[dict]) -> str:
    """The cloud's runs replayed on the embedded local default, seeded alike (local_twin.py): every
    asset partition they stored reads back the same rows from moto and the emulator as from the local
    lake and warehouse, and Buildhub's store holds the same builds."""
    settings = local_twin.local_settings(str(world.home.parent / "local_twin"))
    local_twin.seed_twin(settings, SEEDS, NOW)
    local, cloud_settings = build_definitions(settings), env.read(world.code_env)
    cloud = build_definitions(cloud_settings)
    with tempfile.TemporaryDirectory() as scratch, dg.DagsterInstance.local_temp(scratch) as instance:
        local_twin.record_buildhub_keys(local, instance)
        stored = local_twin.replay(local, [local_twin.Replay.of(r) for r in reversed(runs)], instance)
    compared, different = 0, []
    with local_twin.readers(settings) as here, local_twin.readers(cloud_settings) as there:
        for key, partition in stored:
            reader = local_twin.reader_of(local, key)
            if reader is None:
                continue
            compared += 1
            in_cloud = local_twin.rows(cloud, there, reader, key, partition)
            in_local = local_twin.rows(local, here, reader, key, partition)
            if in_cloud != in_local:
                only = sorted(set(in_cloud) ^ set(in_local))[:2]
                different.append((key.to_user_string(), partition, len(in_cloud), len(in_local), only))
    assert compared and not different, different
    builds = "SELECT build_hash FROM buildhub.main_build ORDER BY 1"
    with psycopg.connect(world.code_env["CI_ASSETS_POSTGRES_DSN"]) as conn:
        in_cloud = conn.execute(builds).fetchall()
    with resources_for(settings)["postgres"].connect() as conn:
        assert conn.execute(builds).fetchall() == in_cloud and in_cloud
    return f"{compared} asset partitions and {len(in_cloud)} builds equal a local run's"


def test_a_code_server_that_never_comes_back_fails_the_queued_run_saying_so(
    topology: tuple[Topology, TcpProxy],
) -> None:
    """A run waits in the queue (the daemon is down) while its code server goes away for good: the
    daemon tries it as the instance file says (three more tries, the delay shortened here), then
    fails the run with a message that says why, instead of leaving it queued or hung."""
    world, _ = topology
    world.wait_idle(600)
    world.kill("daemon", group=True)
    [registry] = [run for run in demo_runs() if run.system == "sources"][:1]
    run_id = world.launch(registry)
    world.kill("code_server", group=True)
    world.start("daemon")
    world.wait_for(lambda: world.runs(runIds=[run_id])[0]["status"] == "FAILURE", 240, "the run to fail")
    said = world.messages(run_id)
    assert any("failed to reach the user code server after 3 attempts" in m for m in said), said
    assert sum("re-submitting the run into the queue" in m for m in said) == 3, said


BUILDHUB = {"key": "dagster/sensor_name", "value": "buildhub_new_keys"}


def backfill_tag(backfill_id: str) -> dict[str, str]:
    return {"key": "dagster/backfill", "value": backfill_id}


def tags(run: dict) -> dict[str, str]:
    return {t["key"]: t["value"] for t in run["tags"]}


def partition_of(run: dict) -> str | None:
    """The run's partition, or its range (a single-run backfill's)."""
    t = tags(run)
    start, end = t.get("dagster/asset_partition_range_start"), t.get("dagster/asset_partition_range_end")
    return t.get("dagster/partition") or (f"{start}...{end}" if start else None)


LOCATION_ERRORS = """
{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus
  locationOrLoadError { __typename ... on PythonError { message causes { message } } } } } } }
"""
DAEMONS = "{ instance { daemonHealth { allDaemonStatuses { daemonType healthy required } } } }"


def test_a_broken_deployment_says_which_location_and_why_and_the_daemon_goes_on(
    image_venv: Path, tmp_path: Path
) -> None:
    """A code server missing a variable the cloud needs serves its load error, which the webserver
    shows naming the variable, while the daemon keeps running; a workspace whose code server port has
    nothing listening shows which location cannot be reached."""
    with scratch_database("topology_broken") as instance_dsn:
        instance = urlparse(instance_dsn)
        dagster_env = {
            "DAGSTER_HOME": str(tmp_path / "dagster_home"),
            "DAGSTER_PG_HOST": instance.hostname or "127.0.0.1",
            "DAGSTER_PG_PORT": str(instance.port or 5432),
            "DAGSTER_PG_USER": "postgres",
            "DAGSTER_PG_PASSWORD": "trust-auth-ignores-it",
            "DAGSTER_PG_DB": instance.path.lstrip("/"),
        }
        code_env = {"CI_ASSETS_ENV": "cloud", "CI_ASSETS_BQ_PROJECT": PROJECT}  # no lake bucket, no DSN
        world = Topology(image_venv, tmp_path / "dagster_home", code_env, dagster_env)
        world.write_instance()
        try:
            for name in ("code_server", "webserver", "daemon"):
                world.start(name)

            def load_error() -> str:
                [entry] = world.graphql(LOCATION_ERRORS)["workspaceOrError"]["locationEntries"]
                loaded = entry["locationOrLoadError"] or {}
                said = [loaded.get("message", ""), *(c["message"] for c in loaded.get("causes") or [])]
                return "\n".join(said) if entry["name"] == "ci_assets" else ""

            world.wait_for(lambda: bool(load_error()), 120, "the location's load error")
            assert "CI_ASSETS_LAKE_BUCKET" in load_error() and "CI_ASSETS_POSTGRES_DSN" in load_error()
            time.sleep(5)
            assert world.started["daemon"].poll() is None  # the daemon goes on without the location
            statuses = world.graphql(DAEMONS)["instance"]["daemonHealth"]["allDaemonStatuses"]
            assert any(s["daemonType"] == "SENSOR" and s["healthy"] for s in statuses), statuses

            # Nothing listening where the workspace points: the location is named, and why.
            world.kill("code_server", group=True)
            world.wait_for(lambda: "UNAVAILABLE" in load_error() or "connect" in load_error().lower(), 120,
                           "the unreachable location's error")  # fmt: skip
            assert f"127.0.0.1:{world.grpc_port}" in load_error() or "localhost" in load_error()
        finally:
            world.stop_all()
