"""A real mozaggregator-shaped source database, and real dumps of it by the real pg_dump."""

import dataclasses
import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from ci_assets.defs.aggregates import generate, pg_dump
from ci_assets.defs.aggregates.names import dump_pattern
from ci_assets.defs.aggregates.toc import data_files, read
from ci_assets_tests.services.databases import scratch_database

DAY = dt.date(2019, 12, 1)
EMPTY_DAY = dt.date(2019, 12, 2)
DIRTY = "submission_date_nightly_72_20191201"
ODD_NAMES = ("submission_date_nightly_cck_40_20191201", "submission_date_beta_71_20191201_old")
# Rows PostgreSQL itself accepts but that cannot become output rows, with the reason each gets.
DIRTY_ROWS = [
    ('{"os": "Linux", "metric": "GC_MS"}', "{1,2}", "lack key(s)"),
    (None, "{1}", "dimensions is NULL"),
    ('{"os": "Linux", "child": "false", "label": "", "metric": "A", "osVersion": "5.4", "application": "Firefox", '
     '"architecture": "x86", "e10s": "true"}', "{1}", "no column for"),
    ('{"os": "Linux", "child": "false", "label": "", "metric": "C", "osVersion": "5.4", "application": "Firefox", '
     '"architecture": "x86"}', "{1,NULL,3}", "NULL elements"),
    ('{"os": "Linux", "child": "false", "label": "", "metric": "D", "osVersion": "5.4", "application": "Firefox", '
     '"architecture": "x86"}', None, "histogram is NULL"),
]  # fmt: skip
# An empty histogram: the original writes it as `[]`, and so do we.
EMPTY_HISTOGRAM_ROW = (
    '{"os": "Linux", "child": "false", "label": "", "metric": "B", "osVersion": "5.4", "application": "Firefox", '
    '"architecture": "x86"}',
    "{}",
)
# Sound rows the fast path cannot take (escapes in values): converted one by one, exactly.
ESCAPED_LABEL = 'tab\there "quoted" back\\slash'
ESCAPED_ROW = (
    '{"os": "Linux", "child": "false", "label": ' + '"tab\\there \\"quoted\\" back\\\\slash"'
    ', "metric": "E", "osVersion": "5.4", "application": "Firefox", "architecture": "x86"}',
    "{5,0,7}",
)


@dataclasses.dataclass(frozen=True)
class Source:
    dsn: str
    rows: dict[str, int]  # table -> rows, for the aggregate tables of DAY and EMPTY_DAY

    def good_rows(self, aggregate_type: str, day: dt.date = DAY) -> int:
        suffix = f"_{day:%Y%m%d}"
        return sum(n for t, n in self.rows.items() if t.startswith(aggregate_type + "_") and t.endswith(suffix)) - (
            len(DIRTY_ROWS) if aggregate_type == "submission_date" and day == DAY else 0
        )


def build_source(dsn: str) -> Source:
    made = generate.create_day(dsn, DAY, "submission_date", tables=3, rows_per_table=120, seed=1)
    made += generate.create_day(dsn, DAY, "build_id", tables=1, rows_per_table=200, seed=1)
    with psycopg.connect(dsn, autocommit=True) as conn:
        for name in ODD_NAMES:
            conn.execute(f"CREATE TABLE {name} (dimensions jsonb, histogram bigint[])")
            conn.execute(f"INSERT INTO {name} VALUES ('{{}}', '{{1}}')")
        with conn.cursor() as cur:
            cur.executemany(
                f"INSERT INTO {DIRTY} VALUES (%s, %s)", [r[:2] for r in DIRTY_ROWS] + [ESCAPED_ROW, EMPTY_HISTOGRAM_ROW]
            )
        rows = {t.name: conn.execute(f"SELECT count(*) FROM {t.name}").fetchone()[0] for t in made}
    return Source(dsn, rows)


@pytest.fixture(scope="module")
def source(postgres_dsn: str) -> Iterator[Source]:
    with scratch_database("ci_assets_aggregates") as dsn:
        yield build_source(dsn)


def make_dump(dsn: str, aggregate_type: str, day: dt.date, out: Path, binary: str | None = None) -> Path:
    chosen = pg_dump.choose(pg_dump.server_major(dsn), binary)
    pg_dump.dump(chosen, dsn, [dump_pattern(aggregate_type, day)], out)
    return out


def file_of(directory: Path, table: str) -> Path:
    """The data file toc.dat gives `table` in a dump directory."""
    _, entries = read(directory)
    name = next(f for f, e in data_files(entries).items() if e.tag == table)
    return directory / f"{name}.gz"


@pytest.fixture(scope="module")
def submission_dump(source: Source, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_dump(source.dsn, "submission_date", DAY, tmp_path_factory.mktemp("dump") / "submission_date")


@pytest.fixture
def dump_copy(submission_dump: Path, tmp_path: Path) -> Path:
    """A copy of the real dump that a test may damage."""
    return Path(shutil.copytree(submission_dump, tmp_path / "dump"))
