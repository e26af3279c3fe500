"""strict_json.loads against any JSON text: it reads what orjson reads, and refuses every
duplicate key however the text is written (escapes included, which its quick count must not
be fooled by) and every NUL."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mdx.core import strict_json

utf8 = st.characters(codec="utf-8", exclude_characters="\x00")
keys = st.text(utf8, max_size=6) | st.sampled_from([":", "a:b", "tlp", "source", "\\", '"'])
values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(utf8, max_size=8)
    | st.sampled_from(["urn:mdx:jcg:ops1", "2026-11-25T08:00:00Z", ":"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=15,
)
objects = st.dictionaries(keys, values, min_size=1, max_size=5)


def write(value: Any, escape: bool, extra: dict[int, tuple[str, Any]] | None = None) -> str:
    """JSON text of `value`; `escape` writes every string character as \\uXXXX (a colon
    too); `extra` adds a member to the object with that id() (a duplicate, if the key is
    taken)."""
    if isinstance(value, str):
        if not escape:
            return orjson.dumps(value).decode()
        return '"' + "".join(_escaped(c) for c in value) + '"'
    if isinstance(value, list):
        return "[" + ",".join(write(v, escape, extra) for v in value) + "]"
    if isinstance(value, dict):
        members = list(value.items())
        if extra and id(value) in extra:
            members.append(extra[id(value)])
        inner = ",".join(f"{write(k, escape)}:{write(v, escape, extra)}" for k, v in members)
        return "{" + inner + "}"
    return orjson.dumps(value).decode()


def _escaped(c: str) -> str:
    code = ord(c)
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000  # a surrogate pair, as JSON writes characters beyond the BMP
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def objects_in(value: Any) -> list[dict[str, Any]]:
    found = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            found.append(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


@given(objects, st.booleans())
def test_what_has_no_duplicate_is_read_as_orjson_reads_it(value: Any, escape: bool) -> None:
    text = write(value, escape).encode()
    assert strict_json.loads(text) == orjson.loads(text) == value


@given(objects, st.booleans(), values, st.data())
def test_every_duplicate_key_is_refused(
    value: Any, escape: bool, second: Any, data: st.DataObject
) -> None:
    target = data.draw(st.sampled_from([o for o in objects_in(value) if o]))
    key = data.draw(st.sampled_from(sorted(target)))
    text = write(value, escape, {id(target): (key, second)}).encode()
    with pytest.raises(strict_json.StrictJsonError, match=r"^duplicate key "):
        strict_json.loads(text)


@given(objects, st.booleans(), st.data())
def test_nul_anywhere_is_refused_with_its_place(
    value: Any, escape: bool, data: st.DataObject
) -> None:
    target = data.draw(st.sampled_from(objects_in(value)))
    target["\x00"] = "NUL as a key"
    with pytest.raises(strict_json.StrictJsonError, match="contains U\\+0000"):
        strict_json.loads(write(value, escape).encode())
