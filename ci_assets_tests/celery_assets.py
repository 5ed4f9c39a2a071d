"""The platform's scale-out jobs as reconstructable targets: the celery workers import this module
(PYTHONPATH) and rebuild the job from the same code location and environment as the run."""

import dagster as dg


def aggregates_on_celery() -> dg.JobDefinition:
    from ci_assets.definitions import build_definitions

    return build_definitions().resolve_job_def("aggregates_on_celery")
