"""Query parameters: the patterns the OpenAPI document states for them, and their parsers.

Each parameter's pattern admits exactly what its parser reads, so the published contract is the
enforced one (schemathesis holds the two together: tests/security/test_api_fuzz.py). What no
pattern can state (a box's corners in order, a parameter needing another) is a parser's
`InvalidParameter`, naming the parameter, the bad value and the rule.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection
from datetime import datetime
from typing import Annotated

from fastapi import Query

from mdx.api.problems import InvalidParameter, param_error

# Separators of a list value: commas or spaces (a `+` in a query string is a space).
_SEPARATORS = re.compile(r"[ ,]+")

# Decimal degrees in range, as `float` reads them (no exponent, inf, nan or underscores).
LON = r"[+-]?(?:180(?:\.0*)?|(?:1[0-7][0-9]|[0-9]{1,2})(?:\.[0-9]*)?|\.[0-9]+)"
LAT = r"[+-]?(?:90(?:\.0*)?|[0-8]?[0-9](?:\.[0-9]*)?|\.[0-9]+)"
BBOX = rf"^{LON},{LAT},{LON},{LAT}$"
POINT = rf"^{LON},{LAT}$"
# RFC 3339 with its offset, each field in range (the query parameter also declares
# `format: date-time`, which rules out days a month lacks).
RFC3339 = (
    r"^(?:[1-9][0-9]{3}|0[1-9][0-9]{2}|00[1-9][0-9]|000[1-9])-(?:0[1-9]|1[0-2])"
    r"-(?:0[1-9]|[12][0-9]|3[01])[Tt](?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]+)?"
    r"(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])$"
)
DATE_TIME = {"format": "date-time"}
# A time window over observed_at, as every route that takes one states it.
Since = Annotated[
    str | None,
    Query(
        pattern=RFC3339,
        json_schema_extra=DATE_TIME,
        description="RFC 3339 with offset; observed_at >= since",
    ),
]
Until = Annotated[
    str | None,
    Query(
        pattern=RFC3339,
        json_schema_extra=DATE_TIME,
        description="RFC 3339 with offset; observed_at < until",
    ),
]
_RFC3339 = re.compile(RFC3339)
NODE_ID = r"[a-z][a-z0-9-]{1,31}"
MAX_BIGINT = 2**63 - 1  # a sequence number PostgreSQL can compare
PRODUCER_ID = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


def list_of(word: str) -> str:
    """The pattern of one or more `word`s separated by commas or spaces (what `words` reads)."""
    return rf"^[ ,]*(?:{word})(?:[ ,]+(?:{word}))*[ ,]*$"


def exactly(values: Collection[str]) -> str:
    """The pattern of one of `values` and nothing else."""
    return rf"^(?:{one_of(values)})$"


def one_of(values: Collection[str]) -> str:
    """A pattern matching exactly one of `values`."""
    return "|".join(re.escape(v) for v in sorted(values, key=lambda v: (-len(v), v)))


def bad(name: str, value: object, message: str) -> InvalidParameter:
    return InvalidParameter(f"{name}: {message}", errors=[param_error(name, value, message)])


def numbers(name: str, value: str, count: int) -> list[float]:
    parts = value.split(",")
    if len(parts) != count:
        raise bad(name, value, f"expected {count} comma-separated numbers, got {len(parts)}")
    try:
        found = [float(p) for p in parts]
    except ValueError:
        raise bad(name, value, "not a list of numbers") from None
    if not all(math.isfinite(n) for n in found):
        raise bad(name, value, "numbers must be finite")
    return found


def _check_lon_lat(name: str, value: str, lon: float, lat: float) -> None:
    if not -180 <= lon <= 180:
        raise bad(name, value, f"longitude {lon} is outside [-180, 180]")
    if not -90 <= lat <= 90:
        raise bad(name, value, f"latitude {lat} is outside [-90, 90]")


def bbox(value: str) -> tuple[float, float, float, float]:
    """`minlon,minlat,maxlon,maxlat` in WGS 84 degrees (boxes across 180° are not supported)."""
    minlon, minlat, maxlon, maxlat = numbers("bbox", value, 4)
    _check_lon_lat("bbox", value, minlon, minlat)
    _check_lon_lat("bbox", value, maxlon, maxlat)
    # A box of no width or height is a line or a point: it still finds what lies on it.
    if minlon > maxlon:
        raise bad("bbox", value, f"minlon {minlon} must not exceed maxlon {maxlon}")
    if minlat > maxlat:
        raise bad("bbox", value, f"minlat {minlat} must not exceed maxlat {maxlat}")
    return minlon, minlat, maxlon, maxlat


def lon_lat(name: str, value: str) -> tuple[float, float]:
    lon, lat = numbers(name, value, 2)
    _check_lon_lat(name, value, lon, lat)
    return lon, lat


def timestamp(name: str, value: str) -> datetime:
    """An RFC 3339 date-time with its offset (a time without one is ambiguous); the query
    parameter declares `format: date-time` and the pattern RFC3339."""
    if not _RFC3339.match(value):
        raise bad(name, value, "not an RFC 3339 date-time such as 2024-05-01T09:30:00Z")
    try:
        return datetime.fromisoformat(value)
    except ValueError as e:
        raise bad(name, value, str(e)) from None


def words(name: str, value: str, allowed: Collection[str] | None = None) -> list[str]:
    """Values separated by commas or spaces, each checked against `allowed` when given."""
    found = split(value)
    if not found:
        raise bad(name, value, "empty")
    for w in found:
        if allowed is not None and w not in allowed:
            raise bad(name, value, f"{w!r} is not one of {', '.join(sorted(allowed))}")
    return found


def split(value: str | None) -> list[str]:
    """Words separated by commas or spaces; none for an absent or blank value."""
    return [w for w in _SEPARATORS.split(value or "") if w]
