"""Parsers for query parameters whose syntax FastAPI cannot check (bbox, points, RFC 3339).

Each failure is an `InvalidParameter` naming the parameter, the bad value and the rule.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection
from datetime import datetime

from mdx.api.problems import InvalidParameter, param_error

_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_SEPARATORS = re.compile(r"[\s,]+")


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
    if not minlon < maxlon:
        raise bad("bbox", value, f"minlon {minlon} must be less than maxlon {maxlon}")
    if not minlat < maxlat:
        raise bad("bbox", value, f"minlat {minlat} must be less than maxlat {maxlat}")
    return minlon, minlat, maxlon, maxlat


def lon_lat(name: str, value: str) -> tuple[float, float]:
    lon, lat = numbers(name, value, 2)
    _check_lon_lat(name, value, lon, lat)
    return lon, lat


def timestamp(name: str, value: str) -> datetime:
    """An RFC 3339 date-time with its offset (a time without one is ambiguous)."""
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
