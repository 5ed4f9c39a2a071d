"""The code location: every system's definitions plus the environment's resources.

`defs` is built when Dagster loads the code location (`@dg.definitions`), not when this module
is imported, so a test builds it for any environment with `build_definitions(env.read({...}))`.
"""

import dagster as dg

from ci_assets.defs import activedata, aggregates, buildhub, fxci, sources
from ci_assets.defs.resources import executor_for, listing_interval, resources_for
from ci_assets.defs.sources.assets import SCHEMAS_KEY, SOURCES_KEY, registry_version
from ci_assets.lib import alerts, env
from ci_assets.lib.conventions import with_environment_kinds
from ci_assets.lib.listing import DEFAULT_INTERVAL_SECONDS
from ci_assets.scaleout import jobs as scaleout_jobs

SYSTEMS = (activedata, sources, fxci, buildhub, aggregates)
REGISTRY_KEYS = (SOURCES_KEY, SCHEMAS_KEY)


def asset_graph(listing_interval_seconds: int = DEFAULT_INTERVAL_SECONDS) -> dg.Definitions:
    """Every system's assets, checks, jobs and automation: the same in every environment but for
    how often the listing sensors tick."""
    return dg.Definitions.merge(*(system.build_defs(listing_interval_seconds) for system in SYSTEMS))


def asset_specs(graph: dg.Definitions | None = None) -> list[dg.AssetSpec]:
    """Every asset's spec, read from the graph without resolving it (that would need resources)."""
    return [
        spec
        for item in (graph or asset_graph()).assets or []
        for spec in (item.specs if isinstance(item, dg.AssetsDefinition) else [item])
        if isinstance(spec, dg.AssetSpec)
    ]


def build_definitions(settings: env.Settings | None = None) -> dg.Definitions:
    settings = settings or env.read()
    graph = asset_graph(listing_interval(settings))
    resources = resources_for(settings)
    version = registry_version(asset_specs(graph), resources)

    def for_this_environment(spec: dg.AssetSpec) -> dg.AssetSpec:
        spec = with_environment_kinds(spec, settings.env)
        return spec.replace_attributes(code_version=version) if spec.key in REGISTRY_KEYS else spec

    return dg.Definitions(
        assets=dg.map_asset_specs(for_this_environment, graph.assets or []),
        asset_checks=graph.asset_checks,
        jobs=[*(graph.jobs or []), *scaleout_jobs.JOBS],
        schedules=graph.schedules,
        sensors=[
            *(graph.sensors or []),
            *(alerts.SENSORS if "slack_alerts" in resources else ()),
        ],
        resources=resources,
        executor=executor_for(settings),
    )


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions()
