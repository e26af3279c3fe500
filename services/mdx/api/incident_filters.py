"""The query parameters that select incidents: one definition for the incident search and for
every other route that takes "the same filters as the API" (exports, CISE).

Their OpenAPI patterns admit exactly what the parsers read; the vocabularies (category, status)
come from the incident schema, the one place they are defined.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query

from mdx.api import params
from mdx.api.incident_query import STORED_PROPERTIES, IncidentFilter
from mdx.api.vocabulary import CATEGORIES, INCIDENT_SCHEMA, STATUSES

# What a feature's properties may be cut to (`properties`): the incident's fields but its
# location (the geometry), and what the node adds.
PROPERTIES = frozenset(INCIDENT_SCHEMA["properties"]) - {"location"} | STORED_PROPERTIES
MAX_RADIUS_M = 20_100_000  # half the Earth's circumference: every point is within it


async def incident_filter(
    bbox: Annotated[
        str | None,
        Query(pattern=params.BBOX, description="minlon,minlat,maxlon,maxlat (WGS 84 degrees)"),
    ] = None,
    near: Annotated[
        str | None, Query(pattern=params.POINT, description="lon,lat; needs radius_m")
    ] = None,
    radius_m: Annotated[
        float | None,
        Query(gt=0, le=MAX_RADIUS_M, description="metres on the ellipsoid; needs near"),
    ] = None,
    category: Annotated[
        str | None,
        Query(
            pattern=params.list_of(params.one_of(CATEGORIES)),
            description="one or more, comma-separated: " + ", ".join(sorted(CATEGORIES)),
        ),
    ] = None,
    status: Annotated[
        str | None,
        Query(
            pattern=params.list_of(params.one_of(STATUSES)),
            description="one or more, comma-separated: " + ", ".join(sorted(STATUSES)),
        ),
    ] = None,
    origin: Annotated[
        str | None,
        Query(
            pattern=params.list_of(params.NODE_ID), description="origin node ids, comma-separated"
        ),
    ] = None,
    since: params.Since = None,
    until: params.Until = None,
) -> IncidentFilter:
    """The filter, or a 400 problem naming the parameter and what is wrong with it.

    `async` though it never waits: FastAPI then runs it on the event loop instead of handing it
    to a worker thread and back (a thread switch per request for a few string splits).
    """
    if (near is None) != (radius_m is None):
        given, missing = ("near", "radius_m") if near is not None else ("radius_m", "near")
        raise params.bad(missing, None, f"{given} needs {missing}")
    return IncidentFilter(
        bbox=params.bbox(bbox) if bbox is not None else None,
        near=params.lon_lat("near", near) if near is not None else None,
        radius_m=radius_m,
        categories=params.words("category", category, CATEGORIES) if category else None,
        statuses=params.words("status", status, STATUSES) if status else None,
        origins=params.words("origin", origin) if origin else None,
        # An empty window (since >= until) selects nothing; it is not an error.
        since=params.timestamp("since", since) if since is not None else None,
        until=params.timestamp("until", until) if until is not None else None,
    )


IncidentSearch = Annotated[IncidentFilter, Depends(incident_filter)]
