"""sources/sources_json and sources/schema_json: the registry, written from the asset graph."""

import dataclasses
import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

import dagster as dg
import polars as pl

from ci_assets.defs.sources.contracts import DIMENSIONS, SOURCES
from ci_assets.defs.sources.registry import (
    SOURCES_JSON,
    declared_sources,
    disagreements,
    merged_entries,
    parse_sources,
    schema_document,
    schema_path,
)
from ci_assets.lib import contracts, quarantine
from ci_assets.lib.conventions import OWNERS
from ci_assets.lib.retries import transient_retries
from ci_assets.lib.storage.frames import fields_frame_schema, fields_schema
from ci_assets.lib.storage.object_store import BucketNotFoundError, InvalidKeyError, ObjectNotFoundError, ObjectStore
from ci_assets.lib.storage.object_store_resource import ObjectStoreResource

GROUP = "sources"
QUARANTINE_SOURCE = "sources-registry"
SOURCES_KEY = dg.AssetKey([GROUP, "sources_json"])
SCHEMAS_KEY = dg.AssetKey([GROUP, "schema_json"])


# The code location sets the registry's code version from the graph (registry_version): a deploy that
# changes a dataset's location or dimensions is a new version, and Dagster's automation rewrites it.
REWRITTEN_WHEN_THE_GRAPH_CHANGES = dg.AutomationCondition.code_version_changed()

# Resources that root datasets of the graph (metadata `source.root`): each has a `bucket` and a `prefix`.
SOURCE_ROOTS = ("lake_io_manager", "aggregates_source")


def _graph_specs(context: dg.AssetExecutionContext) -> Iterable[dg.AssetSpec]:
    try:
        repository = context.repository_def
    except Exception:  # noqa: BLE001 - an ephemeral run (tests, dg.materialize) has no repository
        repository = None
    if repository is not None:
        return [spec for a in repository.assets_defs_by_key.values() for spec in a.specs]
    from ci_assets.definitions import asset_specs  # the code location's graph, when run outside it

    return asset_specs()


def source_roots(resources: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    """Resource key -> (bucket, prefix) of each resource that roots datasets."""
    return {key: (resources[key].bucket, resources[key].prefix) for key in SOURCE_ROOTS}


def registry_version(specs: Iterable[dg.AssetSpec], resources: Mapping[str, Any]) -> str:
    """The registry's code version: a digest of what the graph declares (every source's location,
    dimensions and text), so a graph that moves or adds a dataset is a new version, which the
    registry's automation condition materializes."""
    declared = declared_sources(specs, source_roots(resources))
    return hashlib.sha256(json.dumps(declared, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _screened(
    store: ObjectStore, bucket: str, entries: dict[str, dict], declared: Mapping[str, Mapping[str, Any]]
) -> list[quarantine.Rejected]:
    """Take out of `entries` each source whose entry or dimensions break the registry's contracts;
    their quarantine rows."""
    columns = [f["name"] for f in SOURCES.fields]
    rows = pl.DataFrame(
        [{c: name if c == "source" else entry.get(c) for c in columns} for name, entry in entries.items()],
        schema=fields_frame_schema(SOURCES.fields),
        strict=False,
    )
    dimensions = pl.DataFrame(
        [
            {"source": name, "field_name": str(d), "allowed_values": "*"}
            for name in entries
            for d in declared[name]["dimensions"]
        ],
        schema=fields_frame_schema(DIMENSIONS.fields),
    )
    rejected = []
    for contract, frame in ((SOURCES, rows), (DIMENSIONS, dimensions)):
        _, violations = contracts.enforce(contract, frame)
        rejected += contracts.rejections(
            frame, violations, locate=lambda row: f"{store.uri(bucket, SOURCES_JSON)}#{row['source']}"
        )
    for row in rejected:
        entries.pop(row.locator.rsplit("#", 1)[1], None)
    return rejected


@dataclasses.dataclass(frozen=True)
class Written:
    entries: dict[str, dict]
    missing: list[dict[str, str]]  # sources whose bucket is not there
    rejected: list[quarantine.Rejected]  # left out for breaking the registry's contract
    disagreeing: list[dict[str, str]]  # listed elsewhere than the graph declares them


def write_registry(
    store: ObjectStore, bucket: str, specs: Iterable[dg.AssetSpec], roots: Mapping[str, tuple[str, str]]
) -> Written:
    """Write sources.json and every schema.json from the specs' `source` metadata."""
    store.create_bucket(bucket)
    declared = declared_sources(specs, roots)
    try:
        existing = parse_sources(store.get_bytes(bucket, SOURCES_JSON))
    except ObjectNotFoundError:
        existing = {}
    entries = merged_entries(declared, existing)
    rejected = _screened(store, bucket, entries, declared)
    for name, entry in entries.items():
        store.put(bucket, schema_path(entry), json.dumps(schema_document(declared[name]), indent=2).encode())
    store.put(bucket, SOURCES_JSON, json.dumps(entries, indent=2, sort_keys=True).encode())
    missing = []
    for name, entry in entries.items():
        try:
            store.list_page(entry["bucket"], max_keys=1)
        except BucketNotFoundError:
            missing.append({"source": name, "bucket": entry["bucket"], "reason": "no such bucket"})
        except InvalidKeyError as e:
            missing.append({"source": name, "bucket": entry["bucket"], "reason": str(e)})
    return Written(entries, missing, rejected, disagreements(entries, declared))


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            SOURCES_KEY,
            group_name=GROUP,
            owners=OWNERS,
            kinds={"s3", "json"},
            automation_condition=REWRITTEN_WHEN_THE_GRAPH_CHANGES,
            metadata={"dagster/column_schema": fields_schema(SOURCES.fields)},
            description="sources.json: source name -> description, bucket, prefix, doclink, metadata_prefix, "
            "for every object-store dataset of the graph (metadata `source`); unknown keys kept.",
        ),
        dg.AssetSpec(
            SCHEMAS_KEY,
            group_name=GROUP,
            owners=OWNERS,
            kinds={"s3", "json"},
            automation_condition=REWRITTEN_WHEN_THE_GRAPH_CHANGES,
            metadata={"dagster/column_schema": fields_schema(DIMENSIONS.fields)},
            description="Each source's schema.json: its dimensions, one folder level each, in order.",
        ),
    ],
    required_resource_keys={"object_store", "registry_settings", "postgres", *SOURCE_ROOTS},
    check_specs=[
        dg.AssetCheckSpec("every_bucket_exists", asset=SOURCES_KEY, description="Each source's bucket is there."),
        dg.AssetCheckSpec(
            "matches_graph",
            asset=SOURCES_KEY,
            description="Each source is listed where the graph declares it (a migration's move waits for the graph).",
        ),
        dg.AssetCheckSpec(
            "entries_keep_contract",
            asset=SOURCES_KEY,
            description="Every declared source keeps the registry's contract (the others are quarantined, not listed).",
        ),
    ],
)
@transient_retries()
def registry(context: dg.AssetExecutionContext):
    # Resources by key (not typed parameters): the roots are whichever resources SOURCE_ROOTS names.
    object_store: ObjectStoreResource = context.resources.object_store
    bucket = context.resources.registry_settings.metadata_bucket
    roots = source_roots({key: getattr(context.resources, key) for key in SOURCE_ROOTS})
    written = write_registry(object_store, bucket, _graph_specs(context), roots)
    rejected = written.rejected
    with context.resources.postgres.connect() as conn:
        quarantine.ensure_table(conn)
        quarantine.quarantine(conn, QUARANTINE_SOURCE, rejected)
    yield dg.MaterializeResult(
        asset_key=SOURCES_KEY,
        metadata={"sources": len(written.entries), "location": object_store.uri(bucket, SOURCES_JSON)},
    )
    yield dg.MaterializeResult(asset_key=SCHEMAS_KEY, metadata={"schemas": len(written.entries)})
    yield dg.AssetCheckResult(
        asset_key=SOURCES_KEY,
        check_name="entries_keep_contract",
        passed=not rejected,
        metadata={
            "rejected": dg.MetadataValue.json(
                [{"source": r.locator.rsplit("#", 1)[1], "reason": r.reason} for r in rejected]
            )
        },
    )
    yield dg.AssetCheckResult(
        asset_key=SOURCES_KEY,
        check_name="every_bucket_exists",
        passed=not written.missing,
        metadata={"missing": dg.MetadataValue.json(written.missing)},
    )
    yield dg.AssetCheckResult(
        asset_key=SOURCES_KEY,
        check_name="matches_graph",
        passed=not written.disagreeing,
        metadata={"disagreeing": dg.MetadataValue.json(written.disagreeing)},
    )
