"""The code location loads in both environments and keeps the house rules of docs/architecture.md."""

import ast
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from ci_assets.definitions import build_definitions
from ci_assets.defs.resources import executor_for, resources_for
from ci_assets.lib import env
from ci_assets.lib.storage.bigquery_io import BigQueryIOManager
from ci_assets.lib.storage.object_store_resource import LocalObjectStoreResource, S3ObjectStoreResource
from ci_assets.lib.storage.parquet_io import ParquetIOManager
from ci_assets.lib.storage.sql import BigQuerySqlRunner, DuckDBSqlRunner

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "ci_assets"
RESOURCE_KEYS = {
    *("object_store", "lake_writer", "lake_io_manager", "warehouse_writer", "warehouse_io_manager"),
    *("postgres", "sql", "pulse", "uptime_source"),
}
SETTINGS_KEYS = {"activedata_settings", "buildhub_settings", "aggregates_source", "registry_settings"}
SYSTEMS = ["activedata", "sources", "fxci", "buildhub", "aggregates"]


CLOUD = {
    "CI_ASSETS_ENV": "cloud",
    "CI_ASSETS_BQ_PROJECT": "moz-fx-data-shared-prod",
    "CI_ASSETS_LAKE_BUCKET": "ci-assets-lake",
    "CI_ASSETS_POSTGRES_DSN": "postgresql://u:secret@db/ci",
    "CI_ASSETS_S3_ENDPOINT_URL": "http://127.0.0.1:9000",
}


def test_local_definitions_load_with_the_embedded_resources(tmp_path: Path) -> None:
    home = tmp_path / "home"
    defs = build_definitions(env.read({"CI_ASSETS_HOME": str(home)}))
    dg.Definitions.validate_loadable(defs)
    assert set(defs.resources) >= RESOURCE_KEYS | SETTINGS_KEYS
    lake = defs.resources["lake_io_manager"]
    assert isinstance(lake, ParquetIOManager) and isinstance(lake.store, LocalObjectStoreResource)
    assert isinstance(defs.resources["sql"], DuckDBSqlRunner)
    assert (lake.store.root, lake.bucket) == (str(home / "objects"), "ci-assets-lake")
    assert defs.resources["postgres"].embedded_dir == str(home / "postgres")
    assert defs.resources["pulse"].folder == str(home / "pulse")


def test_kinds_say_where_each_environment_keeps_the_data(tmp_path: Path) -> None:
    def kinds(defs: dg.Definitions) -> set[str]:
        return {k for spec in defs.resolve_all_asset_specs() for k in spec.kinds}

    local, cloud = (
        kinds(build_definitions(env.read({"CI_ASSETS_HOME": str(tmp_path)}))),
        kinds(build_definitions(env.read(CLOUD))),
    )
    assert {"s3", "bigquery", "rabbitmq", "postgres", "parquet"} <= cloud
    assert not {"s3", "bigquery", "rabbitmq"} & local and {"filesystem", "duckdb", "postgres", "parquet"} <= local


def test_cloud_resources_come_from_the_environment() -> None:
    resources = resources_for(env.read(CLOUD))
    assert set(resources) == RESOURCE_KEYS | SETTINGS_KEYS
    assert isinstance(resources["lake_io_manager"], ParquetIOManager)
    assert isinstance(resources["lake_io_manager"].store, S3ObjectStoreResource)
    assert resources["lake_io_manager"].bucket == "ci-assets-lake"
    assert isinstance(resources["warehouse_io_manager"], BigQueryIOManager)
    assert isinstance(resources["sql"], BigQuerySqlRunner)
    assert resources["object_store"].endpoint_url == "http://127.0.0.1:9000"
    # The DSN stays an EnvVar: its value is read at run time and never shown in the UI.
    assert isinstance(resources["postgres"].dsn, dg.EnvVar)
    dg.Definitions.validate_loadable(dg.Definitions(resources=resources))


def test_environments_switch_without_reloading_a_module(tmp_path: Path) -> None:
    local = build_definitions(env.read({"CI_ASSETS_HOME": str(tmp_path)}))
    cloud = build_definitions(env.read({**CLOUD, "CI_ASSETS_LISTING_INTERVAL_SECONDS": "7"}))
    assert isinstance(local.resources["object_store"], LocalObjectStoreResource)
    assert isinstance(cloud.resources["object_store"], S3ObjectStoreResource)
    intervals = {s.name: s.minimum_interval_seconds for s in cloud.sensors}
    assert intervals["activedata_new_keys"] == intervals["buildhub_new_keys"] == 7
    assert {s.name: s.minimum_interval_seconds for s in local.sensors}["buildhub_new_keys"] == 60


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"CI_ASSETS_ENV": "staging"}, "CI_ASSETS_ENV must be one of local, cloud"),
        ({"CI_ASSETS_ENV": "cloud"}, "needs CI_ASSETS_LAKE_BUCKET, CI_ASSETS_BQ_PROJECT, CI_ASSETS_POSTGRES_DSN"),
        ({**CLOUD, "CI_ASSETS_BQ_PROJECT": " "}, "needs CI_ASSETS_BQ_PROJECT"),
        ({"CI_ASSETS_LISTING_INTERVAL_SECONDS": "soon"}, "CI_ASSETS_LISTING_INTERVAL_SECONDS must be a positive"),
        ({"CI_ASSETS_STATSD_PORT": "-1"}, "CI_ASSETS_STATSD_PORT must be a positive"),
        ({"CI_ASSETS_S3_ENDPOINT_URL": "127.0.0.1:9000"}, "CI_ASSETS_S3_ENDPOINT_URL must be a URL"),
        ({"CI_ASSETS_BUILDHUB_PREFIXES": "pub/,,nightly/"}, "CI_ASSETS_BUILDHUB_PREFIXES must be comma-separated"),
        ({"CI_ASSETS_PULSE_URL": "pulse.mozilla.org"}, "CI_ASSETS_PULSE_URL must be a URL"),
    ],
)
def test_a_missing_or_malformed_variable_is_named_when_the_code_loads(variables: dict, message: str) -> None:
    with pytest.raises(env.EnvironmentError, match=message):
        build_definitions(env.read(variables))


@pytest.mark.parametrize(
    "name", ["CI_ASSETS_S3_ENDPOINT_URL", "CI_ASSETS_BQ_ENDPOINT", "CI_ASSETS_BUILDHUB_SQS_QUEUE_URL"]
)
def test_a_password_in_a_variable_shown_as_config_is_refused(name: str) -> None:
    with pytest.raises(env.EnvironmentError, match=f"{name} must not carry a password"):
        env.read({name: "https://user:hunter2@example.com/"})


def test_the_environment_is_read_in_one_module() -> None:
    readers = sorted(
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if "os.environ" in path.read_text() or "getenv" in path.read_text()
    )
    assert readers == ["lib/env.py"]


def test_the_readme_variable_table_is_the_one_in_lib_env() -> None:
    readme = (REPO / "README.md").read_text()
    assert env.variables_markdown() in readme, "regenerate the README's table with env.variables_markdown()"


@pytest.mark.parametrize(
    "command",
    [["dg", "check", "defs"], ["dagster", "definitions", "validate", "-w", "workspace.yaml"]],
    ids=["dg-check-defs", "dagster-definitions-validate"],
)
def test_the_cli_tools_accept_the_code_location(command: list[str], ci_home: Path) -> None:
    exe = str(Path(sys.executable).parent / command[0])
    result = subprocess.run(
        [exe, *command[1:]], cwd=REPO, capture_output=True, text=True, timeout=120, env=dict(os.environ)
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_lib_knows_no_system_and_systems_do_not_import_each_other() -> None:
    for path in (PACKAGE / "lib").rglob("*.py"):
        assert not {n for n in _imports(path) if n.startswith("ci_assets.defs")}, path
    for system in SYSTEMS:
        others = tuple(f"ci_assets.defs.{s}" for s in SYSTEMS if s != system)
        for path in (PACKAGE / "defs" / system).rglob("*.py"):
            assert not {n for n in _imports(path) if n.startswith(others)}, path


def test_the_package_uses_dagsters_public_api() -> None:
    """No import from a `dagster._…` module, and no `dagster_internal_init` or `_raw_…` attribute."""
    for path in PACKAGE.rglob("*.py"):
        private = {n for n in _imports(path) if n.startswith("dagster._")}
        text = path.read_text()
        assert not private and "dagster_internal_init" not in text and "._raw_" not in text, path


def test_steps_run_in_the_run_process_locally_and_fork_from_a_preloaded_server_in_the_cloud() -> None:
    assert executor_for(env.read({})) is dg.in_process_executor
    cloud = executor_for(env.read(CLOUD))
    assert cloud.name == "multiprocess"
    applied = cloud.apply_config_mapping({})  # what a run without executor config gets
    assert applied.success and applied.value["config"]["start_method"] == {"forkserver": {}}


def test_every_column_of_every_schema_file_is_described_and_the_ui_shows_it(tmp_path: Path) -> None:
    """Each schema file's columns (nested ones too) carry a description, from the file or, for the
    verbatim production copies, from the `descriptions.yaml` beside them; and every column schema
    the graph declares from those files shows it."""
    from ci_assets.lib.storage.frames import read_fields

    def undescribed(fields: list[dict], parent: str = "") -> list[str]:
        out = []
        for f in fields:
            if not (f.get("description") or "").strip():
                out.append(parent + f["name"])
            out += undescribed(f.get("fields", []), parent + f["name"] + ".")
        return out

    files = [p for p in PACKAGE.rglob("*.schema.*") if p.suffix in (".yaml", ".json")]
    files.append(PACKAGE / "defs" / "aggregates" / "schema.yaml")
    files.append(PACKAGE / "defs" / "buildhub" / "schema" / "schema.bigquery.json")
    assert len(files) >= 10
    assert {str(p.relative_to(PACKAGE)): undescribed(read_fields(p)) for p in files} == {
        str(p.relative_to(PACKAGE)): [] for p in files
    }
    defs = build_definitions(env.read({"CI_ASSETS_HOME": str(tmp_path)}))
    described = 0
    for spec in defs.resolve_all_asset_specs():
        schema = spec.metadata.get("dagster/column_schema")
        schema = getattr(schema, "schema", schema)
        if schema is not None and any(c.description for c in schema.columns):
            described += 1
            assert all(c.description for c in schema.columns), spec.key
    assert described >= 12
