"""The code location: every system's definitions plus the environment's resources."""

import dagster as dg

from ci_assets.defs import activedata, aggregates, buildhub, fxci, sources
from ci_assets.defs.resources import resources_for_env
from ci_assets.lib import env

SYSTEMS = (activedata, sources, fxci, buildhub, aggregates)


def executor_for_env() -> dg.ExecutorDefinition:
    """Locally a run's steps run in its own process: a step process would load the code location
    again (seconds) to do what is mostly one heavy step per run, and the machine has few cores.
    In the cloud a run's independent steps run in parallel, forked from a server that loaded the
    code location once."""
    if env.current_env() == "local":
        return dg.in_process_executor
    return dg.multiprocess_executor.configured({"start_method": {"forkserver": {}}})


defs = dg.Definitions.merge(
    *(system.defs for system in SYSTEMS),
    dg.Definitions(resources=resources_for_env(), executor=executor_for_env()),
)
