"""The key convention as code: parse and build round-trip; keys that break it are refused with why."""

import random

import pytest

from ci_assets.defs.activedata.keys import AGGREGATION, JOIN, KeyConventionError, build_key, parse_key


def test_the_seeds_example_reads_as_its_lineage() -> None:
    key = parse_key("tc.1623116:162311556.34.json.gz")
    assert key.ids == ("tc", 1623116, 162311556, 34)
    assert key.operators == (JOIN, AGGREGATION, JOIN)
    assert key.lineage == "tc.1623116:162311556.34" and key.source == "tc"
    assert key.record_id(0) == "tc.1623116:162311556.34.0"
    assert key.owns("tc.1623116:162311556.34.7") and key.owns("tc.1623116:162311556.34")
    assert not key.owns("tc.1623116:162311556.345.0") and not key.owns("tc.1623116:162311556.3")


def test_parse_and_build_round_trip_on_random_lineages() -> None:
    rng = random.Random(3)
    for _ in range(500):
        n = rng.randint(1, 6)
        ids = [
            rng.choice([rng.randint(0, 10**9), rng.choice(["tc", "bb", "th", "a_b", "x-1", "007"])]) for _ in range(n)
        ]
        ops = [rng.choice([JOIN, AGGREGATION]) for _ in range(n - 1)]
        key = build_key(ids, ops)
        assert parse_key(str(key)) == key
        assert str(parse_key(str(key))) == str(key)
    assert parse_key("007.1.json.gz").ids == ("007", 1)  # a leading zero stays text, so it prints back the same


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("tc..5.json.gz", "two operators in a row"),
        ("tc.5..json.gz", "trailing operator"),
        ("tc.5:.json.gz", "trailing operator"),
        (".tc.5.json.gz", "nothing before it"),
        (".json.gz", "nothing before it"),
        ("tc.5", "does not end in .json.gz"),
        ("tc.5.json", "does not end in .json.gz"),
        ("tc.ünï.json.gz", "keys are ASCII"),
        ("tc.a b.json.gz", "letters, digits"),
        ("tc.a/b.json.gz", "letters, digits"),
    ],
)
def test_keys_that_break_the_convention_are_refused(text: str, why: str) -> None:
    with pytest.raises(KeyConventionError, match=why):
        parse_key(text)


def test_building_refuses_what_could_not_be_parsed_back() -> None:
    with pytest.raises(KeyConventionError, match="operators"):
        build_key(["tc", 1], [])
    with pytest.raises(KeyConventionError, match="neither"):
        build_key(["tc", 1], ["/"])
    with pytest.raises(KeyConventionError, match="letters, digits"):
        build_key(["tc", ""], [JOIN])
    with pytest.raises(KeyConventionError, match="letters, digits"):
        build_key(["tc", -4], [JOIN])
    with pytest.raises(KeyConventionError, match="reads as the integer"):
        build_key(["tc", "5"], [JOIN])
