"""/api/v1/incidents: search, read, report and change the status of incidents."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection

from mdx.api import (
    bodies,
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
from mdx.api.geojson import GeoJSONResponse, collection, link
from mdx.api.incident_filters import PROPERTIES, IncidentSearch
from mdx.api.problems import NotFound
from mdx.api.visibility import Caller
from mdx.api.vocabulary import INCIDENT_SCHEMA, PURPOSES, TLPS

PREFIX = "/api/v1/incidents"
router = APIRouter(prefix=PREFIX, tags=["incidents"], default_response_class=GeoJSONResponse)

MAX_LIMIT = 5000
_ID_DOC = "Incident UUID; a malformed one is a 400 problem (the request, not the resource, is bad)."


_INCIDENT_FIELDS = INCIDENT_SCHEMA["properties"]


class StatusChange(BaseModel):
    """The new status, and a note on why; both judged by the incident schema, which states
    their form here too."""

    model_config = ConfigDict(extra="forbid")
    status: str = Field(json_schema_extra={"enum": _INCIDENT_FIELDS["status"]["enum"]})
    note: str | None = Field(
        default=None, max_length=_INCIDENT_FIELDS["note"]["maxLength"], pattern=bodies.NO_NUL
    )


@router.get("", responses=geojson.COLLECTION, summary="Search incidents, newest observation first")
def list_incidents(
    request: Request,
    db: Db,
    who: Who,
    search: IncidentSearch,
    properties: Annotated[
        str | None,
        Query(
            pattern=params.list_of(params.one_of(PROPERTIES)),
            description="only these properties, comma-separated (a lighter page for maps)",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    cursor_: Annotated[
        str | None,
        Query(
            alias="cursor",
            pattern=cursor.TIME_UUID,
            description="from the previous page's next link",
        ),
    ] = None,
) -> GeoJSONResponse:
    """A FeatureCollection; `links` has a `next` link (with an opaque cursor) when more exist."""
    f = dataclasses.replace(
        search,
        after=cursor.decode_time_uuid(cursor_) if cursor_ is not None else None,
        limit=limit,
        properties=(
            frozenset(params.words("properties", properties, PROPERTIES))
            if properties is not None
            else None
        ),
    )
    features, last, marked = incident_query.page(db, f, who, serialised=True)
    restricted_reads.record(db, request, who, "incident", marked)
    links = [link(str(request.url), "self")]
    if last is not None:
        next_cursor = cursor.time_uuid(*last)
        links.append(link(str(request.url.include_query_params(cursor=next_cursor)), "next"))
    return GeoJSONResponse(collection(features, links))


IncidentBody = Annotated[dict[str, Any], Depends(bodies.json_object)]
IncidentId = Annotated[uuid.UUID, Path(description=_ID_DOC)]


@router.get(
    "/{incident_id}", responses=geojson.FEATURE, summary="One incident as a GeoJSON Feature"
)
def get_incident(request: Request, incident_id: IncidentId, db: Db, who: Who) -> GeoJSONResponse:
    found = incident_query.one(db, incident_id, who)
    if found is None:
        raise NotFound(f"no incident {incident_id}")
    marked = [(str(incident_id), found["properties"]["tlp"])]
    restricted_reads.record(db, request, who, "incident", marked)
    return GeoJSONResponse(found)


@router.post(
    "",
    status_code=201,
    responses={201: geojson.FEATURE[200], **problems.responses(403, 409, 415, 422, 429)},
    summary="Report an incident (or a newer version of one)",
    openapi_extra=bodies.body(
        INCIDENT_SCHEMA,
        optional=("incident_id", "version"),
        description="incident v1 data; incident_id and version may be left out",
    ),
)
def post_incident(
    data: IncidentBody,
    db: Db,
    res: Res,
    who: Writer,
    tlp: Annotated[
        str | None,
        Query(
            pattern=f"^(?:{params.one_of(TLPS)})$", description="TLP 2.0 label; default: the node's"
        ),
    ] = None,
    relto: Annotated[
        str | None,
        Query(
            pattern=params.list_of(params.NODE_ID),
            description="releasable to: node ids, space- or comma-separated",
        ),
    ] = None,
    purpose: Annotated[
        str | None, Query(pattern=params.exactly(PURPOSES), description="CISE purpose")
    ] = None,
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
    responses={**geojson.FEATURE, **problems.responses(403, 409, 415, 422, 429)},
    summary="Change the status (a new version)",
)
def patch_incident(
    incident_id: IncidentId, change: StatusChange, db: Db, res: Res, who: Writer
) -> GeoJSONResponse:
    """Store version n+1: the stored data with the new status (and `note`, which belongs to
    that version only), under the stored markings."""
    incident_write.change_status(res, incident_id, change.status, change.note)
    return GeoJSONResponse(_stored(db, incident_id, who))


def _stored(db: Connection, incident_id: uuid.UUID, who: Caller) -> dict[str, Any]:
    found = incident_query.one(db, incident_id, who)
    if found is None:  # only if the policy hides what the caller has just written
        raise NotFound(f"incident {incident_id} was stored but is not visible to you")
    return found
