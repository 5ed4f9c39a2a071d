"""ci_assets: Mozilla's CI and telemetry pipelines as one Dagster asset graph."""
