"""The one reader of the environment: every variable the platform knows, checked when the code loads.

`read()` takes a snapshot of `os.environ` (or any mapping, so tests switch environments
without reloading a module); `defs/resources.py` turns it into resources and nothing
else looks at the environment. A malformed or missing variable is refused here, by
name, instead of failing a run later. Secrets are never read into config: a resource
gets `secret()`, a `dg.EnvVar` that Dagster resolves at run time and never shows.
"""

from __future__ import annotations

import dataclasses
import os
import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import dagster as dg

Environment = Literal["local", "cloud"]
ENVIRONMENTS: tuple[Environment, ...] = ("local", "cloud")

Kind = Literal["text", "choice", "int", "list", "url", "path"]


class EnvironmentError(ValueError):
    """A variable is missing or malformed; the message names it."""


@dataclasses.dataclass(frozen=True)
class Variable:
    name: str
    default: str
    meaning: str
    kind: Kind = "text"
    secret: bool = False
    # Who reads it: "ci_assets" through this module; others read it themselves (boto3, Dagster, tests).
    reader: str = "ci_assets"
    required_in_cloud: bool = False


VARIABLES: tuple[Variable, ...] = (
    Variable("CI_ASSETS_ENV", "`local`", "`local` (embedded) or `cloud`", kind="choice"),
    Variable(
        "CI_ASSETS_HOME",
        "`./.ci_assets`",
        "root of every local path (objects, lake, postgres, dagster_home, pulse)",
        kind="path",
    ),
    Variable("CI_ASSETS_S3_ENDPOINT_URL", "AWS", "S3 and SQS endpoint (e.g. a MinIO or moto server)", kind="url"),
    Variable("AWS_REGION", "boto3's chain", "S3 region; with `AWS_ACCESS_KEY_ID`, ... the credentials", reader="boto3"),
    Variable("CI_ASSETS_LAKE_BUCKET", "required in cloud", "bucket of the Parquet lake", required_in_cloud=True),
    Variable("CI_ASSETS_LAKE_PREFIX", "`lake`", "prefix of the lake in that bucket"),
    Variable(
        "CI_ASSETS_BQ_PROJECT",
        "required in cloud",
        "project that runs BigQuery jobs (and holds tables without a `table`)",
        required_in_cloud=True,
    ),
    Variable("CI_ASSETS_BQ_DATASET", "`ci_assets`", "dataset for warehouse assets without a `table`"),
    Variable("CI_ASSETS_BQ_LOCATION", "BigQuery's", "job location"),
    Variable(
        "CI_ASSETS_BQ_ENDPOINT",
        "Google",
        "BigQuery API endpoint (an emulator); no credentials are sent to it",
        kind="url",
    ),
    Variable("GOOGLE_APPLICATION_CREDENTIALS", "ADC", "Google credentials", reader="google-auth"),
    Variable(
        "CI_ASSETS_POSTGRES_DSN",
        "required in cloud",
        "operational PostgreSQL",
        kind="url",
        secret=True,
        required_in_cloud=True,
    ),
    Variable(
        "CI_ASSETS_BUILDHUB_BUCKET", "`net-mozaws-prod-delivery-firefox`", "bucket holding the buildhub.json files"
    ),
    Variable(
        "CI_ASSETS_BUILDHUB_PREFIXES",
        "the whole bucket",
        "comma-separated prefixes the listing sensor walks",
        kind="list",
    ),
    Variable(
        "CI_ASSETS_BUILDHUB_SQS_QUEUE_URL",
        "none (sensor skips)",
        "SQS queue fed by the bucket's event notifications",
        kind="url",
    ),
    Variable(
        "CI_ASSETS_BUILDHUB_SEARCH_DSN",
        "the reader role on the main DSN",
        "read-only DSN for `/api/search`",
        kind="url",
        secret=True,
    ),
    Variable(
        "SEARCH_PORT",
        "`8000`",
        "port of Buildhub's search page (`make search`, and beside the UI in `make dev`)",
        kind="int",
    ),
    Variable("CI_ASSETS_STATSD_HOST", "log lines", "statsd host for the markus metrics"),
    Variable("CI_ASSETS_STATSD_PORT", "`8125`", "statsd port", kind="int"),
    Variable(
        "CI_ASSETS_PULSE_URL",
        "`filesystem://` under `CI_ASSETS_HOME`",
        "pulse broker, in either environment (kombu URL; `amqps://` for TLS on 5671)",
        kind="url",
        secret=True,
    ),
    Variable("CI_ASSETS_PULSE_USER", "`ci-assets`", "pulse user: queues are `queue/<user>/<name>`"),
    Variable(
        "CI_ASSETS_ACTIVEDATA_BUCKETS",
        "all eight + Bugzilla's",
        "comma-separated ActiveData buckets the sensor lists",
        kind="list",
    ),
    Variable(
        "CI_ASSETS_ACTIVEDATA_BUGZILLA_BUCKET",
        "`ci-assets-bugzilla`",
        "bucket of the Bugzilla snapshots (the seed names none)",
    ),
    Variable(
        "CI_ASSETS_METADATA_BUCKET",
        "`net-mozaws-prod-us-west-2-pipeline-metadata`",
        "bucket of `sources.json` and the schemas",
    ),
    Variable(
        "CI_ASSETS_AGGREGATES_DSN",
        "the embedded `mozaggregator` database",
        "mozaggregator's PostgreSQL (source of the dumps)",
        kind="url",
        secret=True,
    ),
    Variable("CI_ASSETS_AGGREGATES_BUCKET", "`ci-assets-aggregates`", "bucket for `aggregates/dumps/...`"),
    Variable(
        "CI_ASSETS_PG_DUMP", "chosen", "a pg_dump to use (it must be at least the server's major version)", kind="path"
    ),
    Variable(
        "CI_ASSETS_SLACK_CHANNEL",
        "none (no alerts)",
        "Slack channel that failed runs and checks failed at ERROR are posted to; setting it switches the alerts on",
    ),
    Variable("CI_ASSETS_SLACK_TOKEN", "—", "Slack bot token for those alerts", secret=True),
    Variable("CI_ASSETS_SLACK_API_URL", "Slack's", "Slack's Web API base URL (a stand-in or a proxy)", kind="url"),
    Variable(
        "CI_ASSETS_WEBSERVER_URL", "`http://127.0.0.1:3000`", "the Dagster UI's URL, for the alerts' links", kind="url"
    ),
    Variable(
        "CI_ASSETS_VERSION_FILE",
        "`/app/version.json`",
        "Dockerflow's version.json the image writes at build time, served at `/__version__`",
        kind="path",
    ),
    Variable("CI_ASSETS_LISTING_INTERVAL_SECONDS", "`60`", "how often the bucket-listing sensors tick", kind="int"),
    Variable(
        "CI_ASSETS_SCREENSHOTS",
        "`build/screenshots`",
        "where the browser tests write their screenshots",
        reader="tests",
    ),
    Variable("CI_ASSETS_CHROMIUM", "`chromium` on the PATH", "the Chromium the browser tests drive", reader="tests"),
    Variable("DAGSTER_HOME", "`$CI_ASSETS_HOME/dagster_home` locally", "Dagster instance directory", reader="Dagster"),
    Variable(
        "DAGSTER_PG_HOST",
        "—",
        "the cloud instance's PostgreSQL (also `_PORT`, `_USER`, `_PASSWORD`, `_DB`)",
        reader="Dagster",
    ),
)
BY_NAME = {v.name: v for v in VARIABLES}


def _check_url(variable: Variable, value: str) -> None:
    parsed = urllib.parse.urlsplit(value)
    if not parsed.scheme:
        raise EnvironmentError(f"{variable.name} must be a URL with a scheme (e.g. https://...); got {value!r}")
    try:
        password = parsed.password
    except ValueError:
        password = None
    if password and not variable.secret:
        # This variable is shown as plain config: credentials belong in their own variables.
        raise EnvironmentError(
            f"{variable.name} must not carry a password (it is shown in the Dagster UI); give credentials "
            "through the service's own variables (AWS_ACCESS_KEY_ID, GOOGLE_APPLICATION_CREDENTIALS, ...)"
        )


def _check(variable: Variable, value: str) -> None:
    if variable.kind == "int" and not (value.isdigit() and int(value) >= 1):
        raise EnvironmentError(f"{variable.name} must be a positive whole number; got {value!r}")
    if variable.kind == "choice" and value.strip().lower() not in ENVIRONMENTS:
        raise EnvironmentError(f"{variable.name} must be one of {', '.join(ENVIRONMENTS)}; got {value!r}")
    if variable.kind == "url":
        _check_url(variable, value)
    if variable.kind == "list" and any(not item.strip() for item in value.split(",")):
        raise EnvironmentError(f"{variable.name} must be comma-separated names without empty items; got {value!r}")


@dataclasses.dataclass(frozen=True)
class Settings:
    """A checked snapshot of the variables this platform reads."""

    values: Mapping[str, str]

    def _known(self, name: str) -> Variable:
        if name not in BY_NAME:
            raise KeyError(f"{name} is not one of the platform's variables (lib/env.py VARIABLES)")
        return BY_NAME[name]

    def text(self, name: str, default: str | None = None) -> str | None:
        variable = self._known(name)
        if variable.secret:
            raise KeyError(f"{name} is a secret: ask for secret({name!r}), which stays an EnvVar")
        value = self.values.get(name, "").strip()
        return value or default

    def number(self, name: str, default: int) -> int:
        value = self.text(name)
        return int(value) if value else default

    def items(self, name: str) -> list[str]:
        value = self.text(name)
        return [item.strip() for item in value.split(",")] if value else []

    def is_set(self, name: str) -> bool:
        self._known(name)
        return bool(self.values.get(name, "").strip())

    def secret(self, name: str) -> dg.EnvVar | None:
        """The variable as an EnvVar when it is set: Dagster reads its value at run time and never shows it."""
        if not self._known(name).secret:
            raise KeyError(f"{name} is not a secret; read it with text()")
        return dg.EnvVar(name) if self.is_set(name) else None

    def secret_value(self, name: str) -> str | None:
        """For what runs outside Dagster (the search server): the value itself, never to be logged."""
        self._known(name)
        return self.values.get(name, "").strip() or None

    @property
    def env(self) -> Environment:
        return (self.text("CI_ASSETS_ENV") or "local").lower()  # type: ignore[return-value]

    @property
    def home(self) -> Path:
        """The root of every local path; created on first use."""
        root = Path(self.text("CI_ASSETS_HOME") or ".ci_assets").expanduser().resolve()
        root.mkdir(parents=True, exist_ok=True)
        return root


def read(environ: Mapping[str, str] | None = None) -> Settings:
    """Check and snapshot the environment; refuses a malformed or (in the cloud) missing variable by name."""
    source = os.environ if environ is None else environ
    values = {v.name: source[v.name] for v in VARIABLES if v.reader == "ci_assets" and source.get(v.name, "").strip()}
    for name, value in values.items():
        _check(BY_NAME[name], value.strip())
    settings = Settings(values)
    if settings.env == "cloud":
        missing = [v.name for v in VARIABLES if v.required_in_cloud and not settings.is_set(v.name)]
        if missing:
            raise EnvironmentError(f"CI_ASSETS_ENV=cloud needs {', '.join(missing)} (see the README's variable table)")
    return settings


def variables_markdown() -> str:
    """The README's variable table, generated from VARIABLES."""
    rows = ["| variable | default | what it does |", "|---|---|---|"]
    for v in VARIABLES:
        note = "" if v.reader == "ci_assets" else f", read by {v.reader}"
        secret = " (a secret: read at run time, never shown in the UI)" if v.secret else ""
        rows.append(f"| `{v.name}` | {v.default} | {v.meaning}{secret}{note} |")
    return "\n".join(rows)


def child_environment(**overrides: str) -> dict[str, str]:
    """This process's environment with `overrides`, for a process this one starts (`ci-assets dev`)."""
    return {**os.environ, **overrides}
