"""/api/v1/incidents: search, read, report and change the status of incidents."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Request
from pydantic import BaseModel, ConfigDict
from sqlalchemy import Connection

from mdx.api import (
    cursor,
    geojson,
    incident_query,
    incident_write,
    params,
    problems,
    restricted_reads,
)
from mdx.api.access import Writer
from mdx.api.deps import Db, Res, Who
from mdx.api.geojson import MEDIA_TYPE, GeoJSONResponse, collection, link
from mdx.api.problems import NotFound
from mdx.api.visibility import Caller

PREFIX = "/api/v1/incidents"
router = APIRouter(prefix=PREFIX, tags=["incidents"], default_response_class=GeoJSONResponse)

MAX_LIMIT = 5000
_ID_DOC = "Incident UUID; a malformed one is a 400 problem (the request, not the resource, is bad)."


class StatusChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: str
    note: str | None = None


@router.get("", responses=geojson.COLLECTION, summary="Search incidents, newest observation first")
def list_incidents(
    request: Request,
    db: Db,
    res: Res,
    who: Who,
    bbox: Annotated[str | None, Query(description="minlon,minlat,maxlon,maxlat (WGS 84)")] = None,
    near: Annotated[str | None, Query(description="lon,lat; needs radius_m")] = None,
    radius_m: Annotated[
        float | None, Query(gt=0, le=20_100_000, description="metres on the ellipsoid")
    ] = None,
    category: Annotated[str | None, Query(description="one or more, comma-separated")] = None,
    status: Annotated[str | None, Query(description="one or more, comma-separated")] = None,
    origin: Annotated[str | None, Query(description="origin node ids, comma-separated")] = None,
    since: Annotated[str | None, Query(description="RFC 3339; observed_at >= since")] = None,
    until: Annotated[str | None, Query(description="RFC 3339; observed_at < until")] = None,
    properties: Annotated[
        str | None,
        Query(description="only these properties, comma-separated (a lighter page for maps)"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    cursor_: Annotated[
        str | None, Query(alias="cursor", description="from the previous page's next link")
    ] = None,
) -> GeoJSONResponse:
    """A FeatureCollection; `links` has a `next` link (with an opaque cursor) when more exist."""
    if (near is None) != (radius_m is None):
        given, missing = ("near", "radius_m") if near is not None else ("radius_m", "near")
        raise params.bad(missing, None, f"{given} needs {missing}")
    f = incident_query.IncidentFilter(
        bbox=params.bbox(bbox) if bbox is not None else None,
        near=params.lon_lat("near", near) if near is not None else None,
        radius_m=radius_m,
        categories=params.words("category", category, res.categories) if category else None,
        statuses=params.words("status", status, res.statuses) if status else None,
        origins=params.words("origin", origin) if origin else None,
        since=params.timestamp("since", since) if since is not None else None,
        until=params.timestamp("until", until) if until is not None else None,
        after=cursor.decode_time_uuid(cursor_) if cursor_ is not None else None,
        limit=limit,
        properties=(
            frozenset(params.words("properties", properties, res.incident_properties))
            if properties is not None
            else None
        ),
    )
    if f.since is not None and f.until is not None and f.since >= f.until:
        raise params.bad("until", until, f"must be later than since ({since})")
    features, last, marked = incident_query.page(db, f, who)
    restricted_reads.record(res.engine, request, who, "incident", marked)
    links = [link(str(request.url), "self")]
    if last is not None:
        next_cursor = cursor.encode(last[0].isoformat(), str(last[1]))
        links.append(link(str(request.url.include_query_params(cursor=next_cursor)), "next"))
    return GeoJSONResponse(collection(features, links))


IncidentId = Annotated[uuid.UUID, Path(description=_ID_DOC)]


@router.get(
    "/{incident_id}", responses=geojson.FEATURE, summary="One incident as a GeoJSON Feature"
)
def get_incident(
    request: Request, incident_id: IncidentId, db: Db, res: Res, who: Who
) -> GeoJSONResponse:
    found = incident_query.one(db, incident_id, who)
    if found is None:
        raise NotFound(f"no incident {incident_id}")
    marked = [(str(incident_id), found["properties"]["tlp"])]
    restricted_reads.record(res.engine, request, who, "incident", marked)
    return GeoJSONResponse(found)


@router.post(
    "",
    status_code=201,
    responses={201: {"content": {MEDIA_TYPE: {}}}, **problems.responses(403, 409, 422, 429)},
    summary="Report an incident (or a newer version of one)",
)
def post_incident(
    data: Annotated[
        dict[str, Any],
        Body(description="incident v1 data; incident_id and version may be left out"),
    ],
    db: Db,
    res: Res,
    who: Writer,
    tlp: Annotated[str | None, Query(description="TLP 2.0 label; default: the node's")] = None,
    relto: Annotated[
        str | None, Query(description="releasable to: node ids, space- or comma-separated")
    ] = None,
    purpose: Annotated[str | None, Query(description="CISE purpose")] = None,
) -> GeoJSONResponse:
    """Judged by the same intake handler as MQTT; a rejection is a 422 listing each broken rule.

    Without `incident_id` and `version` this is a new incident (a UUID4, version 1). With them,
    the version must be newer than the stored one, or the answer is 409 and nothing is stored.
    """
    markings = incident_write.Markings(tlp, params.split(relto), purpose)
    incident_id = incident_write.submit(res, data, markings)
    return GeoJSONResponse(
        _stored(db, incident_id, who),
        status_code=201,
        headers={"Location": f"{PREFIX}/{incident_id}"},
    )


@router.patch(
    "/{incident_id}",
    responses={**geojson.FEATURE, **problems.responses(403, 409, 422, 429)},
    summary="Change the status (a new version)",
)
def patch_incident(
    incident_id: IncidentId, change: StatusChange, db: Db, res: Res, who: Writer
) -> GeoJSONResponse:
    """Store version n+1: the stored data with the new status, under the stored markings.

    `note` goes into the new version's data and is judged by the incident schema like every
    other field (incident v1 has no `note` yet, so a note is refused with a 422 until it does).
    """
    incident_write.change_status(res, incident_id, change.status, change.note)
    return GeoJSONResponse(_stored(db, incident_id, who))


def _stored(db: Connection, incident_id: uuid.UUID, who: Caller) -> dict[str, Any]:
    found = incident_query.one(db, incident_id, who)
    if found is None:  # only if the policy hides what the caller has just written
        raise NotFound(f"incident {incident_id} was stored but is not visible to you")
    return found
