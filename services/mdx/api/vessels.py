"""/api/v1/vessels: every vessel's latest position, one vessel's latest position and its track.

The track is one GeoJSON Feature with a LineString, the shape QGIS draws as a line layer and
Leaflet as a polyline; `properties.times` holds one RFC 3339 time per vertex (the convention
of Leaflet.TimeDimension and togeojson's `coordTimes`) and `properties.points` the per-vertex
readings (speed, course, sensor). RFC 7946 needs two positions for a LineString, so a track
of one position is a Point and an empty track has a null geometry.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Query, Request
from sqlalchemy import JSON, Connection, Text, cast, func, literal, select, true, union_all

from mdx.api import geojson, params, restricted_reads, vessel_filters
from mdx.api.deps import Db, Who
from mdx.api.geojson import GeoJSONResponse
from mdx.api.problems import NotFound
from mdx.api.vessel_filters import VesselSearch
from mdx.api.visibility import AnyRow, AnySelect, Caller, policy_key, visible
from mdx.core.db import Position, Vessel, VesselLatest, VesselMarkedLatest

router = APIRouter(prefix="/api/v1/vessels", tags=["vessels"])

Mmsi = Annotated[str, Path(pattern=r"^[0-9]{9}$", description="9-digit MMSI")]
_READINGS = ("sog", "cog", "heading", "nav_status", "source_type", "origin")
# The same properties as incidents carry: the vessel's fields plus the handling markings.
LATEST_PROPS = (
    "mmsi",
    "imo",
    "name",
    "observed_at",
    "sog",
    "cog",
    "heading",
    "nav_status",
    "source_type",
    "origin",
    "tlp",
    "relto",
    "purpose",
    "received_at",
)


# The registry's fields a listing adds to each vessel.
_REGISTRY = (
    Vessel.mmsi,
    Vessel.name,
    Vessel.imo,
    Vessel.flag,
    Vessel.category,
    Vessel.call_sign,
    Vessel.ship_type,
)


@router.get(
    "", responses=geojson.COLLECTION, summary="Search vessels: latest positions with registry data"
)
def listing(
    request: Request,
    db: Db,
    who: Who,
    search: VesselSearch,
    limit: Annotated[int, Query(ge=1, le=20_000, description="at most this many vessels")] = 5_000,
) -> GeoJSONResponse:
    """The registry joined to each vessel's latest position: static data (name, call sign, IMO,
    ship type and category) from the registry where the caller may see it, flag from the MID."""
    found = all_vessels(who)
    latest = found.latest
    query = found.query.where(
        *vessel_filters.conditions(search, latest.c, found.reg.c, found.name, found.imo)
    )
    query = query.order_by(latest.c.observed_at.desc(), latest.c.mmsi).limit(limit)
    rows = db.execute(query).all()
    restricted_reads.record(db, request, who, "vessel", [(r.mmsi, r.tlp) for r in rows])
    features = [orjson.Fragment(r.json) for r in rows]
    return GeoJSONResponse(geojson.collection(features))


REGISTRY_PROPS = ("flag", "category", "call_sign", "ship_type")


def registry(who: Caller) -> Any:
    """The registry rows `who` may see, as a subquery to join on mmsi."""
    return visible(select(*_REGISTRY), Vessel.__table__, who).subquery()


def feature_json(pos: Any, reg: Any) -> tuple[Any, Any, Any]:
    """A vessel Feature as JSON text written by PostgreSQL, from a position's columns `pos`
    (a positions-like table or subquery) joined to the registry `reg`; with the name and IMO
    expressions for filters. The vessel list, one vessel and the live stream all use it."""
    name = func.coalesce(reg.c.name, pos.name)
    imo = func.coalesce(reg.c.imo, pos.imo)
    values = {
        **{key: getattr(pos, key) for key in LATEST_PROPS},
        "name": name,
        "imo": imo,
        **{key: reg.c[key] for key in REGISTRY_PROPS},
    }
    props = func.json_build_object(*[p for k, v in values.items() for p in (k, v)])
    feature = func.json_build_object(
        "type", "Feature",
        "id", pos.mmsi,
        "geometry", cast(func.ST_AsGeoJSON(pos.geom), JSON),
        "properties", props,
    )  # fmt: skip
    return cast(feature, Text), name, imo


class _Search:
    """Each vessel's latest position `who` may see, with the registry's data it may see."""

    def __init__(self, who: Caller, mmsi: str | None = None) -> None:
        # One row per vessel first, then any filter: a vessel that has left a box is not drawn
        # at an older position inside it.
        self.latest = latest = _latest_query(who, mmsi).subquery()
        self.reg = reg = registry(who)
        feature, self.name, self.imo = feature_json(latest.c, reg)
        self.query: AnySelect = select(
            feature.label("json"), latest.c.mmsi, latest.c.tlp
        ).select_from(latest.outerjoin(reg, reg.c.mmsi == latest.c.mmsi))


_SEARCHES: dict[Hashable, _Search] = {}


def all_vessels(who: Caller) -> _Search:
    """Every vessel's `_Search` for `who`, built once per policy (visibility.policy_key): the
    statement costs more Python to build than a page of vessels does to send (profiled)."""
    key = policy_key(who)
    found = _SEARCHES.get(key)
    if found is None:
        found = _SEARCHES.setdefault(key, _Search(who))
    return found


@router.get("/{mmsi}", responses=geojson.FEATURE, summary="Latest known position of a vessel")
def latest(request: Request, mmsi: Mmsi, db: Db, who: Who) -> GeoJSONResponse:
    row = db.execute(_Search(who, mmsi).query).first()
    if row is None:
        raise NotFound(f"no position of vessel {mmsi}")
    restricted_reads.record(db, request, who, "vessel", [(mmsi, row.tlp)])
    return GeoJSONResponse(orjson.Fragment(row.json))


@router.get("/{mmsi}/track", responses=geojson.FEATURE, summary="Track of a vessel, oldest first")
def track(
    request: Request,
    mmsi: Mmsi,
    db: Db,
    who: Who,
    since: params.Since = None,
    until: params.Until = None,
    limit: Annotated[
        int, Query(ge=1, le=100_000, description="at most this many of the latest positions")
    ] = 10_000,
) -> GeoJSONResponse:
    query = visible(
        select(
            func.ST_X(Position.geom).label("lon"),
            func.ST_Y(Position.geom).label("lat"),
            Position.observed_at,
            Position.tlp,
            *(getattr(Position, c) for c in _READINGS),
        ).where(Position.mmsi == mmsi),
        Position.__table__,
        who,
    )
    if since is not None:
        query = query.where(Position.observed_at >= params.timestamp("since", since))
    if until is not None:
        query = query.where(Position.observed_at < params.timestamp("until", until))
    # The latest `limit + 1` (one more tells whether the track was cut), then oldest first.
    rows = db.execute(query.order_by(Position.observed_at.desc()).limit(limit + 1)).all()
    truncated = len(rows) > limit
    rows = rows[:limit][::-1]
    if not rows and _latest(db, mmsi, who) is None:
        raise NotFound(f"no position of vessel {mmsi}")
    restricted_reads.record(db, request, who, "vessel", [(mmsi, r.tlp) for r in rows])
    coords = [[r.lon, r.lat] for r in rows]
    geometry: dict[str, Any] | None = None
    if len(coords) == 1:
        geometry = {"type": "Point", "coordinates": coords[0]}
    elif coords:
        geometry = {"type": "LineString", "coordinates": coords}
    props = {
        "mmsi": mmsi,
        "times": [r.observed_at for r in rows],
        "points": [
            {"observed_at": r.observed_at, **{c: getattr(r, c) for c in _READINGS}} for r in rows
        ],
        "truncated": truncated,
    }
    return GeoJSONResponse(geojson.feature(mmsi, geometry, props))


def _latest(db: Connection, mmsi: str, who: Caller) -> AnyRow | None:
    return db.execute(_latest_query(who, mmsi)).first()


def _latest_query(who: Caller, mmsi: str | None = None) -> AnySelect:
    """Each vessel's latest position that `who` may see (only vessel `mmsi`'s when given).

    vessel_latest keeps one row per vessel, under the latest report's markings but with a name
    or IMO carried over from earlier reports; a partner gets its newest releasable report.
    """
    if not who.local:
        return _partner_latest(who, mmsi)
    table = VesselLatest
    columns = [getattr(table, name) for name in LATEST_PROPS]
    query: AnySelect = select(*columns, table.geom, func.ST_AsGeoJSON(table.geom).label("geometry"))
    if mmsi is not None:
        query = query.where(table.mmsi == mmsi)
    return query.order_by(table.mmsi, table.observed_at.desc())


def _partner_latest(who: Caller, mmsi: str | None) -> AnySelect:
    """A partner's newest releasable report of each vessel, without sorting the history.

    Where the vessel's latest report is released to the partner, that report is the answer: its
    row in positions, found by (source, event_id) (the name it carried, not one carried over).
    Otherwise it is the newest of the vessel's rows in vessel_marked_latest (its newest report
    under each set of markings) that the partner may see, if any.
    """
    latest, pos = VesselLatest.__table__, Position.__table__
    older, shown_pos = latest.alias("withheld_latest"), pos.alias("newest_released")

    def row(p: Any) -> list[Any]:
        return [*(p.c[name] for name in LATEST_PROPS), p.c.geom,
                func.ST_AsGeoJSON(p.c.geom).label("geometry")]  # fmt: skip

    # The report's own name, IMO and arrival; the rest as vessel_latest holds them (the same
    # values), so that a box filters on vessel_latest's GiST index before any join.
    own = {"name": pos.c.name, "imo": pos.c.imo, "received_at": pos.c.received_at}
    on_report = (pos.c.source == latest.c.source) & (pos.c.event_id == latest.c.event_id)
    released: AnySelect = visible(
        select(
            *(own[name] if name in own else latest.c[name] for name in LATEST_PROPS),
            latest.c.geom,
            func.ST_AsGeoJSON(latest.c.geom).label("geometry"),
        ).select_from(latest.join(pos, on_report)),
        latest,
        who,
    )
    marked = VesselMarkedLatest.__table__
    newest = (
        visible(select(marked.c.position_id).where(marked.c.mmsi == older.c.mmsi), marked, who)
        .order_by(marked.c.observed_at.desc(), marked.c.position_id.desc())
        .limit(1)
        .lateral("newest")
    )
    latest_shown = visible(
        select(literal(1)).select_from(latest).where(latest.c.mmsi == older.c.mmsi), latest, who
    )
    walked: AnySelect = (
        select(*row(shown_pos))
        .select_from(
            older.join(newest, true()).join(shown_pos, shown_pos.c.id == newest.c.position_id)
        )
        .where(~latest_shown.exists())
    )
    if mmsi is not None:
        released = released.where(latest.c.mmsi == mmsi)
        walked = walked.where(older.c.mmsi == mmsi)
    both = union_all(released, walked).subquery("partner_latest")
    return select(*both.c)
