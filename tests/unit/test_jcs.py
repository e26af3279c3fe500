"""mdx.core.jcs writes exactly the bytes of the RFC 8785 reference (rfc8785) for every JSON
value, through its fast path or its fallback, and refuses what the reference refuses."""

from __future__ import annotations

from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from mdx.core import jcs

SAFE = 2**53 - 1

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-SAFE, SAFE)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.floats(-1e17, 1e17).map(float.__floor__).map(float)  # whole floats, both sides of 2^53
    | st.text()
)
keys = st.text(max_size=8) | st.text(alphabet=st.characters(max_codepoint=127), max_size=8)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(keys, inner, max_size=5),
    max_leaves=30,
)


@settings(max_examples=3000, deadline=None)
@given(values)
def test_the_same_bytes_as_the_reference(value: Any) -> None:
    assert jcs.dumps(value) == rfc8785.dumps(value)


@pytest.mark.parametrize(
    "value",
    [
        {"lat": 33.0, "lon": -0.0, "n": 1e15, "big": 2.0**60, "tiny": 1.5e-7, "x": 0.1 + 0.2},
        {"é": 1, "z": 2, "a": {"😀": [1.0, "\u2028\x00\x7f"]}},  # non-ASCII keys: the fallback
        [True, False, None, "", [], {}],
        # JCS writes these without an exponent, orjson with one (found by the property test).
        [1.0621342844626598e-6, -9.99e-6, 1e-6, 2.5e-5],
    ],
)
def test_values_mdx_signs(value: Any) -> None:
    assert jcs.dumps(value) == rfc8785.dumps(value)


@pytest.mark.parametrize("value", [2**53, -(2**53), float("nan"), float("inf"), {"a": 2**70}])
def test_what_the_reference_refuses_is_refused(value: Any) -> None:
    with pytest.raises(rfc8785.CanonicalizationError):
        rfc8785.dumps(value)
    with pytest.raises(rfc8785.CanonicalizationError):
        jcs.dumps(value)
