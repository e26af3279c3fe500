"""One text for a property value, the same in a CSV cell and in a KML `Data` value."""

from __future__ import annotations

from typing import Any

import orjson

Feature = dict[str, Any]


def as_text(value: Any) -> str:
    """Strings as they are; nothing as an empty text; numbers, booleans and times as JSON writes
    them (times RFC 3339); lists and objects as JSON text."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    text = orjson.dumps(value).decode()
    # A datetime or UUID comes out of orjson as a JSON string: its text is inside the quotes.
    return text[1:-1] if text.startswith('"') else text
