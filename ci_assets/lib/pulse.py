"""The `pulse` resource: a kombu connection to the message broker.

`amqp://` (RabbitMQ in tests and CI, pulse.mozilla.org over TLS on 5671 in
production) and kombu's `filesystem://` transport for the embedded local default
go through the same code. The URL carries a password: the environment's module
gives it as a `dg.EnvVar`, so it is read at run time and never shown.
"""

from pathlib import Path

import dagster as dg
import kombu


class PulseResource(dg.ConfigurableResource):
    """`url` is a kombu URL (empty: the filesystem transport in `folder`); `user` names the
    queues (`queue/<user>/<name>`), as pulse requires."""

    url: str = ""
    user: str = "ci-assets"
    ssl: bool = False
    # Where the filesystem transport keeps its messages and control files (under CI_ASSETS_HOME).
    folder: str | None = None

    def connection(self) -> kombu.Connection:
        if self.url and not self.url.startswith("filesystem://"):
            return kombu.Connection(
                self.url, ssl=self.ssl or self.url.startswith("amqps://") or None, connect_timeout=10
            )
        if not self.folder:
            raise ValueError("the filesystem pulse transport needs a folder (CI_ASSETS_HOME/pulse)")
        folder = Path(self.folder)
        for sub in ("out", "processed", "control"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        return kombu.Connection(
            "filesystem://",
            transport_options={
                "data_folder_in": str(folder / "out"),
                "data_folder_out": str(folder / "out"),
                "processed_folder": str(folder / "processed"),
                "control_folder": str(folder / "control"),
                "store_processed": True,
            },
        )
