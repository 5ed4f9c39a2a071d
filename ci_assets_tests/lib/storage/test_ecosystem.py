"""Dagster's own integrations where they fit, and the tested reason where one cannot serve."""

import pkgutil

import dagster_aws
from dagster_aws.s3 import S3Resource
from dagster_gcp import BigQueryResource

from ci_assets.lib.storage.bigquery_tables import make_client
from ci_assets.lib.storage.object_store_resource import S3ObjectStoreResource


def test_the_s3_store_is_configured_and_built_as_dagster_aws_s3_resource(moto_endpoint: str) -> None:
    assert set(S3Resource.model_fields) <= set(S3ObjectStoreResource.model_fields)
    store = S3ObjectStoreResource(endpoint_url=moto_endpoint, max_attempts=2)
    store.create_bucket("ecosystem-probe")
    store.put("ecosystem-probe", "a", b"x")
    assert store.get_bytes("ecosystem-probe", "a") == b"x"
    assert store.impl.client.meta.config.retries["total_max_attempts"] == 3  # the client S3Resource built (1 + 2)


def test_dagster_aws_has_no_sqs_resource() -> None:
    """So the Buildhub SQS sensor builds its client with boto3."""
    assert "sqs" not in {m.name for m in pkgutil.iter_modules(dagster_aws.__path__)}


def test_dagster_gcp_bigquery_resource_cannot_reach_the_emulator(bigquery_endpoint: str) -> None:
    """It has no endpoint or client options to point at one; our client does."""
    assert not {"endpoint", "api_endpoint", "client_options"} & set(BigQueryResource.model_fields)
    client = make_client("ecosystem-probe", bigquery_endpoint)
    assert list(client.list_datasets()) == []
