"""A GeoJSON (RFC 7946) FeatureCollection, written feature by feature."""

from __future__ import annotations

from collections.abc import Iterable
from typing import IO, Any

import orjson

MEDIA_TYPE = "application/geo+json"


def write_geojson(out: IO[bytes], features: Iterable[Any], **foreign: Any) -> int:
    """Write the collection of `features` (dicts or orjson fragments) to `out`, then `foreign`
    members (RFC 7946 6.1), which may be computed while the features are written: a callable
    value is called once the last feature is out. Returns how many features were written."""
    out.write(b'{"type":"FeatureCollection","features":[')
    count = 0
    for feature in features:
        if count:
            out.write(b",")
        out.write(orjson.dumps(feature))
        count += 1
    out.write(b"]")
    for name, value in foreign.items():
        resolved = value() if callable(value) else value
        out.write(b"," + orjson.dumps(name) + b":" + orjson.dumps(resolved))
    out.write(b"}")
    return count
