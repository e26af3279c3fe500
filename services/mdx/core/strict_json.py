"""JSON parsing that refuses what parsers disagree on (duplicate keys) and what the node
cannot keep (NUL characters, nesting deeper than orjson writes).

`{"tlp": "RED", "tlp": "CLEAR"}` is CLEAR to orjson (the last wins) and may be RED to a
partner's parser, so a message with a duplicate key is refused, not read one way or the
other. orjson stays the parser; a duplicate is looked for with the stdlib parser only when a
cheap count says there may be one (see `_may_have_duplicates`), so normal traffic pays for
an orjson rewrite, not for a second, slower parse.

NUL (U+0000) is refused because PostgreSQL can store it in neither text nor jsonb.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

# Escapes of U+0000-U+00FF: how a JSON text writes NUL (a raw NUL byte is not JSON) and
# the only way to write a colon other than ":" itself (\\u003a), which the count relies on.
_LOW_ESCAPE = b"\\u00"
# A reason stays one short line whatever the key.
_MAX_KEY_SHOWN = 80


class StrictJsonError(ValueError):
    """Valid JSON that mdx refuses, with the reason."""


def loads(payload: bytes) -> Any:
    """Parse `payload` like orjson, refusing duplicate keys, NUL characters and values nested
    deeper than orjson writes (255 levels: the node could neither store nor share them, and
    the schema validator gives up near there too).

    Raises orjson.JSONDecodeError for what is not JSON, StrictJsonError for the rest.
    """
    value = orjson.loads(payload)
    try:
        rewritten = orjson.dumps(value)
    except orjson.JSONEncodeError as e:
        raise StrictJsonError(f"nested too deeply: {e}") from None
    escapes = _LOW_ESCAPE in payload
    if escapes or _may_have_duplicates(payload, rewritten):
        json.loads(payload, object_pairs_hook=_refuse_duplicates)
    if escapes:
        where = nul_path(value)
        if where is not None:
            raise StrictJsonError(f"{where or '/'}: contains U+0000 (NUL), which cannot be stored")
    return value


def nul_path(value: Any) -> str | None:
    """JSON pointer to the first string (value or key) holding U+0000, or None."""
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return path
        elif isinstance(item, dict):
            for key, child in item.items():
                here = f"{path}/{_escape_pointer(key)}"
                if "\x00" in key:
                    return here
                stack.append((here, child))
        elif isinstance(item, list):
            stack.extend((f"{path}/{i}", child) for i, child in enumerate(item))
    return None


def _may_have_duplicates(payload: bytes, rewritten: bytes) -> bool:
    """False only if `payload`, written without escaped colons, has no duplicate key.

    Outside strings, a colon in JSON text follows a key, once per key written. So a text's
    colons are its keys plus the colons inside its strings. `rewritten`, the parsed value
    written out again, holds every key once: a key dropped as a duplicate leaves the payload
    with more colons than the rewrite (orjson never escapes a colon).
    """
    return payload.count(b":") != rewritten.count(b":")


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            shown = key if len(key) <= _MAX_KEY_SHOWN else key[:_MAX_KEY_SHOWN] + "…"
            raise StrictJsonError(f"duplicate key {shown!r} (parsers differ on which counts)")
        seen.add(key)
    return dict(pairs)


def _escape_pointer(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")
