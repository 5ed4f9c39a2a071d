"""The `pulse` resource: a kombu connection to the message broker.

`amqp://` (RabbitMQ in tests and CI, pulse.mozilla.org over TLS on 5671 in
production) and kombu's `filesystem://` transport for the embedded local default
go through the same code.
"""

import os
from pathlib import Path

import dagster as dg
import kombu

from ci_assets.lib import env


class PulseResource(dg.ConfigurableResource):
    """`url` is a kombu URL; `user` names the queues (`queue/<user>/<name>`), as pulse requires."""

    url: str = ""
    user: str = "ci-assets"
    ssl: bool = False

    def connection(self) -> kombu.Connection:
        if self.url and not self.url.startswith("filesystem://"):
            return kombu.Connection(self.url, ssl=self.ssl or None, connect_timeout=10)
        folder = Path(env.home()) / "pulse"
        for sub in ("out", "processed"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        return kombu.Connection(
            "filesystem://",
            transport_options={
                "data_folder_in": str(folder / "out"),
                "data_folder_out": str(folder / "out"),
                "processed_folder": str(folder / "processed"),
                "store_processed": True,
            },
        )


def pulse_from_env() -> PulseResource:
    """Cloud: `CI_ASSETS_PULSE_URL` (e.g. amqps://user:pass@pulse.mozilla.org:5671), `CI_ASSETS_PULSE_USER`."""
    url = os.environ.get("CI_ASSETS_PULSE_URL", "")
    return PulseResource(
        url=url,
        user=os.environ.get("CI_ASSETS_PULSE_USER", "ci-assets"),
        ssl=url.startswith("amqps://") or os.environ.get("CI_ASSETS_PULSE_SSL", "") == "1",
    )
