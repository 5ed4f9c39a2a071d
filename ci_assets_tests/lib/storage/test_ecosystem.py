"""Dagster's own integrations where they fit, and the tested reason where one cannot serve."""

import pkgutil

import dagster_aws
from dagster_aws.s3 import S3Resource
from dagster_gcp import BigQueryResource

from ci_assets.lib.storage.bigquery_tables import make_client
from ci_assets.lib.storage.object_store_resource import S3ObjectStoreResource


def test_the_s3_store_is_configured_and_built_as_dagster_aws_s3_resource(moto_endpoint: str) -> None:
    ours = {name: field.annotation for name, field in S3ObjectStoreResource.model_fields.items()}
    theirs = {name: field.annotation for name, field in S3Resource.model_fields.items()}
    assert {name: ours.get(name) for name in theirs} == theirs  # the same names and types
    defaults = {name: field.default for name, field in S3Resource.model_fields.items()}
    assert {name: S3ObjectStoreResource.model_fields[name].default for name in defaults} == defaults
    store = S3ObjectStoreResource(endpoint_url=moto_endpoint, max_attempts=2)
    store.create_bucket("ecosystem-probe")
    store.put("ecosystem-probe", "a", b"x")
    assert store.get_bytes("ecosystem-probe", "a") == b"x"
    assert store.impl.client.meta.config.retries["total_max_attempts"] == 3  # the client S3Resource built (1 + 2)


def test_dagster_aws_is_imported_when_an_s3_store_is_used_not_when_the_code_loads() -> None:
    import subprocess
    import sys

    probe = "import sys, ci_assets.definitions; print('dagster_aws' in sys.modules)"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip().splitlines()[-1] == "False"


def test_dagster_aws_has_no_sqs_resource() -> None:
    """So the Buildhub SQS sensor builds its client with boto3."""
    assert "sqs" not in {m.name for m in pkgutil.iter_modules(dagster_aws.__path__)}


def test_dagster_gcp_bigquery_resource_cannot_reach_the_emulator(bigquery_endpoint: str) -> None:
    """It has no endpoint or client options to point at one; our client does."""
    assert not {"endpoint", "api_endpoint", "client_options"} & set(BigQueryResource.model_fields)
    client = make_client("ecosystem-probe", bigquery_endpoint)
    assert list(client.list_datasets()) == []
