"""ActiveData's records contract: the `_id`-prefix rule, on any text, as the convention says it."""

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from ci_assets.defs.activedata.contracts import PREFIXED
from ci_assets.defs.activedata.keys import AGGREGATION, EXTENSION, JOIN

_PIECES = st.sampled_from(["tc", "1623116", "é", ".", ":", "..", "json", ".gz", EXTENSION, "a", ""])
_TEXT = st.lists(_PIECES, max_size=5).map("".join) | st.text(max_size=12)


def _as_the_convention_says(record_id: str | None, key: str | None) -> bool | None:
    if record_id is None or key is None:
        return None
    lineage = key.removesuffix(EXTENSION)
    return record_id == lineage or record_id.startswith((lineage + JOIN, lineage + AGGREGATION))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.none() | _TEXT, st.none() | _TEXT), min_size=1, max_size=20), st.booleans())
def test_the_prefix_rule_holds_where_the_id_is_its_keys_lineage_then_an_operator(
    rows: list[tuple[str | None, str | None]], with_extension: bool
) -> None:
    """Built from pieces a lineage is made of (an `_id` that is the lineage, or it and `.`, `:`, or
    any other character after it), with and without the `.json.gz` the key ends with."""
    rows = [(i, k + EXTENSION if with_extension and k is not None else k) for i, k in rows]
    lineages = [(k.removesuffix(EXTENSION), k) for _, k in rows if k is not None]
    rows += [(lineage + tail, k) for lineage, k in lineages for tail in ("", ".x", ":1", "x")]
    rows += [(head + lineage, k) for lineage, k in lineages for head in (".", ":", "x.")]  # the lineage, not first
    frame = pl.DataFrame(rows, schema={"_id": pl.String, "key": pl.String}, orient="row")
    got = frame.select(PREFIXED.holds(pl.col("_id"))).to_series().to_list()
    assert got == [_as_the_convention_says(i, k) for i, k in rows]
