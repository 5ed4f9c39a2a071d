"""Splitting one frame by partition: grouped frames by slicing, shuffled ones by copying."""

import datetime as dt

import dagster as dg
import polars as pl
import pytest

from ci_assets.lib.storage.partition_split import PartitionSplitError, hive_segments, split_frame

DAYS = dg.DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-01-31")
HOURS = dg.HourlyPartitionsDefinition(start_date="2024-01-01-00:00", end_date="2024-01-02-00:00")
KEYS = ["2024-01-01", "2024-01-02", "2024-01-03"]


def frame(order: list[int]) -> pl.DataFrame:
    return pl.DataFrame({"day": [dt.date(2024, 1, d) for d in order], "n": list(range(len(order)))})


@pytest.mark.parametrize("order", [[1, 1, 2, 2, 2], [2, 1, 2, 1, 2], [2, 2, 2, 1, 1]], ids=str)
def test_grouped_and_shuffled_frames_split_alike(order: list[int]) -> None:
    split = split_frame(frame(order), DAYS, KEYS, "day", "t")
    assert {k: f["n"].to_list() for k, f in split.items()} == {
        "2024-01-01": [i for i, d in enumerate(order) if d == 1],
        "2024-01-02": [i for i, d in enumerate(order) if d == 2],
        "2024-01-03": [],  # in the run, no rows: stored empty, as if it had run alone
    }
    assert split["2024-01-03"].schema == frame(order).schema


def test_timestamps_are_bucketed_into_their_partition() -> None:
    ts = [dt.datetime(2024, 1, 1, 0, 5), dt.datetime(2024, 1, 1, 0, 59), dt.datetime(2024, 1, 1, 1, 0)]
    df = pl.DataFrame({"at": ts, "n": [0, 1, 2]})
    split = split_frame(df, HOURS, ["2024-01-01-00:00", "2024-01-01-01:00"], "at", "t")
    assert [f.height for f in split.values()] == [2, 1]
    assert split["2024-01-01-00:00"].columns == ["at", "n"]  # no helper column leaks out
    late = df.with_columns(at=pl.lit(dt.datetime(2024, 1, 1, 5, 30)))
    with pytest.raises(PartitionSplitError, match="2024-01-01 05:30"):
        split_frame(late, HOURS, ["2024-01-01-00:00", "2024-01-01-01:00"], "at", "t")
    aware = df.with_columns(pl.col("at").dt.replace_time_zone("UTC"))
    assert [
        f.height for f in split_frame(aware, HOURS, ["2024-01-01-00:00", "2024-01-01-01:00"], "at", "t").values()
    ] == [2, 1]


def test_rows_outside_the_run_or_without_a_partition_are_refused() -> None:
    with pytest.raises(PartitionSplitError, match="2024-01-09"):
        split_frame(frame([1, 9]), DAYS, KEYS, "day", "t")
    nulls = pl.DataFrame({"day": [dt.date(2024, 1, 1), None]}, schema={"day": pl.Date})
    with pytest.raises(PartitionSplitError, match="<null>"):
        split_frame(nulls, DAYS, KEYS, "day", "t")
    with pytest.raises(PartitionSplitError, match="no 'partition_expr'"):
        split_frame(frame([1, 2]), DAYS, KEYS, None, "t")
    with pytest.raises(PartitionSplitError, match="not in the output frame"):
        split_frame(frame([1]), DAYS, KEYS, "submission_date", "t")


def test_multi_partition_keys_and_hive_segments() -> None:
    multi = dg.MultiPartitionsDefinition({"day": DAYS, "type": dg.StaticPartitionsDefinition(["a", "b/c"])})
    df = frame([1, 1, 2]).with_columns(kind=pl.Series(["a", "b/c", "a"]))
    keys = ["2024-01-01|a", "2024-01-01|b/c", "2024-01-02|a", "2024-01-02|b/c"]
    split = split_frame(df, multi, keys, {"day": "day", "type": "kind"}, "t")
    assert [f.height for f in split.values()] == [1, 1, 1, 0]
    assert hive_segments(multi, "2024-01-01|b/c", {"day": "day", "type": "kind"}) == ["day=2024-01-01", "kind=b%2Fc"]
    assert hive_segments(DAYS, "2024-01-01", None) == ["partition=2024-01-01"]
