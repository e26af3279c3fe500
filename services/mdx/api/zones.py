"""/api/v1/zones: the geography this node watches, as GeoJSON.

Zones are the node's public geography, loaded from its zone files (mdx.core.zones), not data
that partners release to it: they carry no handling markings and every caller sees all of them.
Each Feature has the properties of the zone file it came from (`state` and `authority` only
when the file gives them), so it validates against schemas/zone/v1; the geometry is always a
MultiPolygon.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Query
from pydantic import Field
from sqlalchemy import ColumnElement, Text, func, literal, or_, select
from sqlalchemy.dialects.postgresql import ARRAY

from mdx.api import geojson, params
from mdx.api.deps import Db
from mdx.api.geojson import GeoJSONResponse
from mdx.api.problems import NotFound
from mdx.api.vocabulary import ZONE_KINDS
from mdx.core.db import Zone

router = APIRouter(prefix="/api/v1/zones", tags=["zones"], default_response_class=GeoJSONResponse)

_COUNTRY = re.compile(r"^[A-Z]{2}$")
_COLUMNS = (
    Zone.zone_id,
    Zone.name,
    Zone.kind,
    Zone.state,
    Zone.authority,
    Zone.illustrative,
    Zone.rules,
    func.ST_AsGeoJSON(Zone.geom).label("geometry"),
)
ZoneId = Annotated[
    str, Path(pattern=r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$", description="zone id (a slug)")
]


@router.get("", responses=geojson.COLLECTION, summary="The zones this node watches, by id")
def list_zones(
    db: Db,
    kind: Annotated[
        list[Annotated[str, Field(pattern=params.list_of(params.one_of(ZONE_KINDS)))]] | None,
        Query(
            description="repeatable, or comma-separated: " + ", ".join(sorted(ZONE_KINDS)),
        ),
    ] = None,
    state: Annotated[
        str | None,
        Query(
            pattern=params.list_of("[A-Z]{2}"),
            description="ISO 3166-1 alpha-2, comma-separated; includes agreements it is party to",
        ),
    ] = None,
    authority: Annotated[
        str | None,
        Query(pattern=params.list_of(params.NODE_ID), description="node ids, comma-separated"),
    ] = None,
    bbox: Annotated[
        str | None,
        Query(pattern=params.BBOX, description="minlon,minlat,maxlon,maxlat (WGS 84)"),
    ] = None,
    contains: Annotated[
        str | None,
        Query(pattern=params.POINT, description="lon,lat: zones covering this point"),
    ] = None,
) -> GeoJSONResponse:
    """A FeatureCollection of every zone that passes all the filters given, ordered by id.

    Zones are the node's public geography, not releasability-controlled data: every caller,
    operator or partner, gets the same answer.
    """
    query = select(*_COLUMNS)
    if kind:
        query = query.where(Zone.kind.in_(params.words("kind", ",".join(kind), ZONE_KINDS)))
    if state is not None:
        query = query.where(_of_states(params.words("state", state)))
    if authority is not None:
        query = query.where(Zone.authority.in_(params.words("authority", authority)))
    if bbox is not None:
        box = func.ST_MakeEnvelope(*params.bbox(bbox), 4326)
        # `&&` is the index's cheap box test; ST_Intersects then drops the near misses.
        query = query.where(Zone.geom.op("&&")(box), func.ST_Intersects(Zone.geom, box))
    if contains is not None:
        point = func.ST_SetSRID(func.ST_MakePoint(*params.lon_lat("contains", contains)), 4326)
        # Covers, not Contains: a point on a shared border belongs to both zones.
        query = query.where(func.ST_Covers(Zone.geom, point))
    features = [_feature(row) for row in db.execute(query.order_by(Zone.zone_id))]
    return GeoJSONResponse(geojson.collection(features))


@router.get("/{zone_id}", responses=geojson.FEATURE, summary="One zone as a GeoJSON Feature")
def get_zone(zone_id: ZoneId, db: Db) -> GeoJSONResponse:
    row = db.execute(select(*_COLUMNS).where(Zone.zone_id == zone_id)).first()
    if row is None:
        raise NotFound(f"no zone {zone_id}")
    return GeoJSONResponse(_feature(row))


def _of_states(states: list[str]) -> ColumnElement[bool]:
    for s in states:
        if not _COUNTRY.match(s):
            raise params.bad("state", ",".join(states), f"{s!r} is not an ISO 3166-1 alpha-2 code")
    # A fishing-agreement zone has no single state: it is each party's.
    parties = Zone.rules["agreement_states"].has_any(literal(states, ARRAY(Text)))
    return or_(Zone.state.in_(states), parties)


def _feature(row: Any) -> dict[str, Any]:
    props: dict[str, Any] = {"id": row.zone_id, "name": row.name, "kind": row.kind}
    if row.state is not None:
        props["state"] = row.state
    if row.authority is not None:
        props["authority"] = row.authority
    props["illustrative"] = row.illustrative
    props["rules"] = row.rules
    return geojson.feature(row.zone_id, orjson.loads(row.geometry), props)
