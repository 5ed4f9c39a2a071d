"""The one quarantine takes any rejected input whatever its bytes: nothing a message, key or line
holds can make the insert fail (and with it the batch that holds valid inputs)."""

import uuid
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ci_assets.lib import quarantine


@pytest.fixture(scope="module")
def conn(postgres_dsn: str) -> Any:
    with psycopg.connect(postgres_dsn, autocommit=True) as connection:
        quarantine.ensure_table(connection)
        yield connection


_TEXT = st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=30) | st.sampled_from(
    ["\x00", "a\x00b", "\ud800", "x\udfffy"]
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_TEXT, _TEXT, st.one_of(st.binary(max_size=64), _TEXT, st.none()), st.dictionaries(_TEXT, _TEXT, max_size=2))
def test_any_rejected_input_is_stored(conn: Any, locator: str, reason: str, raw: Any, detail: dict[str, str]) -> None:
    source = f"test-{uuid.uuid4().hex[:8]}"
    rejected = quarantine.Rejected(locator, reason or "r", raw, {"k": detail}, partition=locator)
    assert quarantine.quarantine(conn, source, [rejected]) == 1
    (row,) = quarantine.rows(conn, source)
    assert row.locator == quarantine.storable(locator) and "\x00" not in (row.raw_excerpt or "")
    if isinstance(raw, bytes) and b"\x00" in raw:
        assert "\\x00" in (row.raw_excerpt or "")


def test_bytes_that_are_not_text_stay_visible_as_escapes() -> None:
    assert quarantine.storable(b"\x00\xff\xfeok") == "\\x00\\xff\\xfeok"
    assert quarantine.storable("a\ud800") == "a\\ud800"
    assert quarantine.storable("plain é") == "plain é"
