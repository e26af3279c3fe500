"""/api/v1/cise: incidents and vessels as EU CISE XML, a service-model Push message whose
payload holds data-model 1.5.3 entities (mdx.cise; docs/standards/cise.md).

Only what the caller may see, as the caller may see it: the items are read through the same
queries as the GeoJSON API (mdx.api.incident_query, mdx.api.vessels), which apply the
releasability policy and redact personal data, and are mapped afterwards.
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Query, Request, Response

from mdx.api import incident_query, restricted_reads, vessel_filters, vessels
from mdx.api.deps import Db, Res, Who
from mdx.api.incident_filters import IncidentSearch
from mdx.api.problems import NotFound
from mdx.api.vessel_filters import VesselSearch
from mdx.cise import payload

router = APIRouter(prefix="/api/v1/cise", tags=["cise"])

MAX_LIMIT = 5000


class XMLResponse(Response):
    media_type = payload.MEDIA_TYPE


_XML: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "A CISE Push message (service model) with data-model entities",
        "content": {payload.MEDIA_TYPE: {"schema": {"type": "string"}}},
    }
}
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="at most this many items")]


@router.get(
    "/incidents",
    response_class=XMLResponse,
    responses=_XML,
    summary="Incidents as CISE XML, newest observation first",
)
def incidents(
    request: Request, db: Db, res: Res, who: Who, search: IncidentSearch, limit: Limit = 100
) -> XMLResponse:
    """Each incident as its CISE Incident subtype in one Push message; the payload's
    InformationSensitivity is the strictest TLP of the selection, its Purpose theirs when they
    share one, IsPersonalData whether any names a person (as released to the caller)."""
    features, _, marked = incident_query.page(db, dataclasses.replace(search, limit=limit), who)
    restricted_reads.record(db, request, who, "incident", marked)
    return XMLResponse(payload.incidents_document(features, res.settings.node.id))


@router.get(
    "/incidents/{incident_id}",
    response_class=XMLResponse,
    responses=_XML,
    summary="One incident as CISE XML",
)
def incident(
    request: Request,
    incident_id: Annotated[uuid.UUID, Path(description="Incident UUID")],
    db: Db,
    res: Res,
    who: Who,
) -> XMLResponse:
    found = incident_query.one(db, incident_id, who)
    if found is None:
        raise NotFound(f"no incident {incident_id}")
    marked = [(str(incident_id), found["properties"]["tlp"])]
    restricted_reads.record(db, request, who, "incident", marked)
    return XMLResponse(payload.incidents_document([found], res.settings.node.id))


@router.get(
    "/vessels",
    response_class=XMLResponse,
    responses=_XML,
    summary="Vessels (latest positions with registry data) as CISE XML",
)
def vessel_list(
    request: Request, db: Db, res: Res, who: Who, search: VesselSearch, limit: Limit = 1000
) -> XMLResponse:
    """The vessels the caller may see, newest position first, as CISE Vessels with Location."""
    found = vessels._Search(who)
    latest = found.latest
    query = found.query.where(
        *vessel_filters.conditions(search, latest.c, found.reg.c, found.name, found.imo)
    )
    rows = db.execute(query.order_by(latest.c.observed_at.desc(), latest.c.mmsi).limit(limit)).all()
    restricted_reads.record(db, request, who, "vessel", [(r.mmsi, r.tlp) for r in rows])
    features = [orjson.loads(r.json) for r in rows]
    return XMLResponse(payload.vessels_document(features, res.settings.node.id))


@router.get(
    "/vessels/{mmsi}",
    response_class=XMLResponse,
    responses=_XML,
    summary="One vessel's latest position as CISE XML",
)
def vessel(request: Request, mmsi: vessels.Mmsi, db: Db, res: Res, who: Who) -> XMLResponse:
    row = db.execute(vessels._Search(who, mmsi).query).first()
    if row is None:
        raise NotFound(f"no position of vessel {mmsi}")
    restricted_reads.record(db, request, who, "vessel", [(mmsi, row.tlp)])
    return XMLResponse(payload.vessels_document([orjson.loads(row.json)], res.settings.node.id))
