"""The aggregate tables' naming convention, and what falls outside it."""

import datetime as dt

import pytest

from ci_assets.defs.aggregates.names import TableNameError, dump_pattern, parse_table_name

DAY = dt.date(2015, 10, 29)


def test_names_give_type_channel_version_and_day() -> None:
    parsed = parse_table_name("submission_date_nightly_40_20151029", "submission_date", DAY)
    assert (parsed.aggregate_type, parsed.channel, parsed.version, parsed.ds_nodash) == (
        "submission_date",
        "nightly",
        "40",
        "20151029",
    )
    assert parse_table_name("build_id_aurora_0_20151029", "build_id", DAY).version == "0"
    assert dump_pattern("build_id", DAY) == "build_id_*_20151029*"


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("submission_date_nightly_cck_40_20151029", "does not match"),  # an extra underscore in the channel
        ("submission_date_beta_40_20151029_old", "does not match"),  # the dump pattern's trailing *
        ("submission_date_Beta_40_20151029", "does not match"),
        ("submission_date_beta_40_20151339", "not a date"),
        ("submission_date_beta_40_20151030", "not of the partition"),
        ("build_id_beta_40_20151029", "not of the partition"),
        ("table_update_dates", "bookkeeping"),
        ("filter_options", "bookkeeping"),
    ],
)
def test_names_outside_the_convention_are_refused_with_their_reason(name: str, reason: str) -> None:
    with pytest.raises(TableNameError, match=reason):
        parse_table_name(name, "submission_date", DAY)
