"""The registry documents' contracts, from schema/*.schema.yaml: sources.json's entries (the
REQUIRED keys, a bucket S3 would accept, a prefix relative to it, a doclink that is a URL) and
the schema.json dimensions (a field name each, one folder level: no `/`)."""

from pathlib import Path

from ci_assets.lib import contracts

SCHEMA_DIR = Path(__file__).parent / "schema"
# S3's bucket naming rules (lib/storage/object_store.validate_bucket_name) as one pattern.
BUCKET_NAME = r"^[a-z0-9][a-z0-9.\-]{2,62}$"

SOURCES = contracts.Contract.from_file(
    "sources_json",
    SCHEMA_DIR / "sources.schema.yaml",
    unique=["source"],
    rules=[
        contracts.Rule(
            "bucket", "s3_bucket_name", lambda c: c.str.contains(BUCKET_NAME) & ~c.str.contains("..", literal=True)
        ),
        contracts.Rule("prefix", "relative_path", lambda c: ~c.str.starts_with("/")),
        contracts.Rule("metadata_prefix", "not_empty", lambda c: c.str.strip_chars("/").str.len_chars() > 0),
        contracts.matches("doclink", r"^(https?://\S+)?$", "empty_or_url"),
    ],
)
DIMENSIONS = contracts.Contract.from_file(
    "schema_json",
    SCHEMA_DIR / "schema_json.schema.yaml",
    unique=["source", "field_name"],
    rules=[contracts.matches("field_name", r"^[^/]+$", "one_folder_level")],
)
