"""The code location loads in both environments and keeps the house rules of DESIGN.md."""

import ast
import importlib
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from ci_assets.defs.resources import resources_for_env
from ci_assets.lib.storage.bigquery_io import BigQueryIOManager
from ci_assets.lib.storage.parquet_io import LocalParquetIOManager, S3ParquetIOManager
from ci_assets.lib.storage.sql import BigQuerySqlRunner, DuckDBSqlRunner

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "ci_assets"
RESOURCE_KEYS = {"object_store", "lake_io_manager", "warehouse_io_manager", "postgres", "sql", "pulse"}
SYSTEMS = ["activedata", "sources", "fxci", "buildhub", "aggregates"]


def test_local_definitions_load_with_the_embedded_resources(ci_home: Path) -> None:
    import ci_assets.definitions as module

    defs = importlib.reload(module).defs
    dg.Definitions.validate_loadable(defs)
    assert set(defs.resources) >= RESOURCE_KEYS
    assert isinstance(defs.resources["lake_io_manager"], LocalParquetIOManager)
    assert isinstance(defs.resources["sql"], DuckDBSqlRunner)
    assert defs.resources["lake_io_manager"].root == str(ci_home / "objects")
    assert defs.resources["lake_io_manager"].bucket == "ci-assets-lake"


def test_cloud_resources_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI_ASSETS_ENV", "cloud")
    monkeypatch.setenv("CI_ASSETS_BQ_PROJECT", "moz-fx-data-shared-prod")
    monkeypatch.setenv("CI_ASSETS_LAKE_BUCKET", "ci-assets-lake")
    monkeypatch.setenv("CI_ASSETS_POSTGRES_DSN", "postgresql://u:secret@db/ci")
    monkeypatch.setenv("CI_ASSETS_S3_ENDPOINT_URL", "http://127.0.0.1:9000")
    resources = resources_for_env()
    assert set(resources) == RESOURCE_KEYS
    assert isinstance(resources["lake_io_manager"], S3ParquetIOManager)
    assert isinstance(resources["warehouse_io_manager"], BigQueryIOManager)
    assert isinstance(resources["sql"], BigQuerySqlRunner)
    assert resources["object_store"].endpoint_url == "http://127.0.0.1:9000"
    # The DSN stays an EnvVar: its value is read at run time and never shown in the UI.
    assert isinstance(resources["postgres"].dsn, dg.EnvVar)
    dg.Definitions.validate_loadable(dg.Definitions(resources=resources))


def test_an_unknown_environment_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI_ASSETS_ENV", "staging")
    with pytest.raises(ValueError, match="CI_ASSETS_ENV must be one of local, cloud"):
        resources_for_env()


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


def test_steps_run_in_the_run_process_locally_and_fork_from_a_preloaded_server_in_the_cloud(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ci_assets.definitions import executor_for_env

    monkeypatch.setenv("CI_ASSETS_ENV", "local")
    assert executor_for_env() is dg.in_process_executor
    monkeypatch.setenv("CI_ASSETS_ENV", "cloud")
    cloud = executor_for_env()
    assert cloud.name == "multiprocess"
    applied = cloud.apply_config_mapping({})  # what a run without executor config gets
    assert applied.success and applied.value["config"]["start_method"] == {"forkserver": {}}
