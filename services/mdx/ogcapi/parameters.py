"""The query parameters of OGC API - Features Part 1 (`bbox`, `datetime`, `limit`) and the check
that a request names no others.

mdx.api.params checks /api/v1's own forms; these follow the OGC forms instead: a `bbox` of 4 or
6 numbers that may cross the antimeridian, a `datetime` instant or interval with `..` or an
empty string for an open end, and a `limit` above the maximum clamped rather than refused.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from fastapi import Request

from mdx.api import cursor, params
from mdx.api.problems import InvalidParameter, param_error

DEFAULT_LIMIT = 10
MAX_LIMIT = 10_000
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"

Box = tuple[float, float, float, float]
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

# The patterns the OpenAPI document states for these parameters: exactly what the parsers
# read (what no pattern states, such as a box's corners in order or a day a month lacks, is
# the parser's 400).
_HEIGHT = r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
_LON, _LAT = params.LON, params.LAT
BBOX = (
    rf"^(?:{_LON},{_LAT},{_LON},{_LAT}"
    rf"|{_LON},{_LAT},{_HEIGHT},{_LON},{_LAT},{_HEIGHT})$"
)
_INSTANT = params.RFC3339.removeprefix("^").removesuffix("$")
_DAY = r"[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
_END = rf"(?:{_INSTANT}|{_DAY}|\.\.|)"
DATETIME = rf"^(?:{_INSTANT}|{_DAY}|{_END}/{_END})$"
# Each collection's keyset: a (time, id) for incidents, a number for the others.
CURSOR = rf"^(?:{cursor.TIME_UUID[1:-1]}|{cursor.SEQ[1:-1]})$"


def refuse_unknown(request: Request, known: Collection[str]) -> None:
    """A 400 naming every query parameter this operation does not define."""
    unknown = sorted(set(request.query_params) - set(known))
    if unknown:
        allowed = ", ".join(sorted(known)) or "none"
        raise InvalidParameter(
            f"unknown query parameter{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
            f"this operation takes: {allowed}",
            errors=[
                param_error(n, request.query_params.get(n), "not a parameter of this operation")
                for n in unknown
            ],
        )


def format_(value: str | None, allowed: Collection[str]) -> None:
    """`f`: only the JSON encodings are served."""
    if value is not None and value not in allowed:
        raise params.bad("f", value, f"not served; one of {', '.join(sorted(allowed))}")


def crs(name: str, value: str | None) -> None:
    """`bbox-crs` and `filter-crs`: coordinates are WGS 84 longitude, latitude (CRS84) only."""
    if value is not None and value != CRS84:
        raise params.bad(name, value, f"only {CRS84} is supported")


def limit(value: int | None) -> int:
    if value is None:
        return DEFAULT_LIMIT
    if value < 1:
        raise params.bad("limit", value, "must be at least 1")
    return min(value, MAX_LIMIT)  # above the maximum: the maximum, as the standard asks


def bbox(value: str) -> list[Box]:
    """One box, or two when it crosses the antimeridian (minlon greater than maxlon)."""
    parts = value.split(",")
    if len(parts) not in (4, 6):
        raise params.bad(
            "bbox", value, f"expected 4 or 6 comma-separated numbers, got {len(parts)}"
        )
    found = params.numbers("bbox", value, len(parts))
    if len(found) == 6:  # minlon, minlat, minheight, maxlon, maxlat, maxheight: heights ignored
        found = [found[0], found[1], found[3], found[4]]
    minlon, minlat, maxlon, maxlat = found
    for lon in (minlon, maxlon):
        if not -180 <= lon <= 180:
            raise params.bad("bbox", value, f"longitude {lon} is outside [-180, 180]")
    for lat in (minlat, maxlat):
        if not -90 <= lat <= 90:
            raise params.bad("bbox", value, f"latitude {lat} is outside [-90, 90]")
    if minlat > maxlat:
        raise params.bad("bbox", value, f"minlat {minlat} is greater than maxlat {maxlat}")
    if minlon > maxlon:
        return [(minlon, minlat, 180.0, maxlat), (-180.0, minlat, maxlon, maxlat)]
    return [(minlon, minlat, maxlon, maxlat)]


@dataclass(frozen=True, slots=True)
class TimeFilter:
    """observed_at within [start, end] (`end_exclusive`: [start, end)); None is an open end."""

    start: datetime | None
    end: datetime | None
    end_exclusive: bool = False


def datetime_(value: str) -> TimeFilter:
    """An instant (`2024-05-01T09:30:00Z`, or a date: that whole UTC day) or an interval
    `start/end` whose open end is `..` or empty; both ends are included."""
    if "/" not in value:
        if _DATE.match(value):
            day = _day("datetime", value)
            return TimeFilter(day, day + timedelta(days=1), end_exclusive=True)
        instant = params.timestamp("datetime", value)
        return TimeFilter(instant, instant)
    if value.count("/") != 1:
        raise params.bad("datetime", value, "an interval is start/end with one '/'")
    first, second = value.split("/")
    start = _end(value, first, last=False)
    end = _end(value, second, last=True)
    if start is not None and end is not None and start > end:
        raise params.bad("datetime", value, "the interval ends before it starts")
    exclusive = end is not None and _DATE.match(second) is not None
    return TimeFilter(start, end, end_exclusive=exclusive)


def _end(value: str, part: str, last: bool) -> datetime | None:
    if part in ("", ".."):
        return None
    if _DATE.match(part):
        day = _day("datetime", part)
        return day + timedelta(days=1) if last else day  # a closing date includes its day
    try:
        return params.timestamp("datetime", part)
    except InvalidParameter:
        raise params.bad(
            "datetime", value, f"{part!r} is not an RFC 3339 date-time, a date, '..' or empty"
        ) from None


def _day(name: str, value: str) -> datetime:
    try:
        d = date.fromisoformat(value)
    except ValueError as e:
        raise params.bad(name, value, str(e)) from None
    return datetime(d.year, d.month, d.day, tzinfo=UTC)
