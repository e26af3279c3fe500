"""Reads of the current state of incidents, as GeoJSON features."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import (
    JSON,
    ColumnElement,
    Connection,
    Text,
    case,
    cast,
    column,
    func,
    literal,
    literal_column,
    select,
    true,
    tuple_,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import JSONB

from mdx.api import geojson
from mdx.api.visibility import (
    AnyRow,
    AnySelect,
    Caller,
    check_shown,
    personal_data,
    redacted_for,
    shown,
    visible,
)
from mdx.core.db import Incident
from mdx.core.policy import PERSONAL_FIELDS


@dataclass(frozen=True, slots=True)
class IncidentFilter:
    bbox: tuple[float, float, float, float] | None = None
    near: tuple[float, float] | None = None
    radius_m: float | None = None
    categories: list[str] | None = None
    statuses: list[str] | None = None
    origins: list[str] | None = None
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive, so consecutive windows never overlap
    after: tuple[datetime, uuid.UUID] | None = None  # keyset of the previous page's last item
    limit: int = 100
    # Only these properties in each feature (OGC API - Features Part 6 `properties`); None: all.
    properties: frozenset[str] | None = None
    # Further SQL conditions on the incidents table, all of which must hold (e.g. a CQL2 filter
    # of OGC API - Features translated over an allow-list of columns: mdx.ogcapi.cql2).
    conditions: tuple[ColumnElement[bool], ...] = ()


# What the node adds to an incident's own data in each feature.
STORED_PROPERTIES = frozenset(
    {"version", "origin", "tlp", "relto", "purpose", "received_at", "provenance"}
)


_COLUMNS = (
    Incident.incident_id,
    Incident.version,
    Incident.observed_at,
    Incident.origin,
    Incident.tlp,
    Incident.relto,
    Incident.purpose,
    Incident.received_at,
    Incident.received_via,
    Incident.signature,
    Incident.custody,
    Incident.data,
    func.ST_AsGeoJSON(Incident.geom).label("geometry"),
)


def _base(who: Caller) -> AnySelect:
    return visible(select(*_COLUMNS), Incident.__table__, who)


def _where(query: AnySelect, f: IncidentFilter) -> AnySelect:
    if f.bbox is not None:
        # ST_Intersects does the index-assisted `&&` first, then the exact test.
        query = query.where(func.ST_Intersects(Incident.geom, func.ST_MakeEnvelope(*f.bbox, 4326)))
    if f.near is not None and f.radius_m is not None:
        # geography, so the radius is metres on the spheroid; matches index ix_incidents_geog.
        centre = func.geography(func.ST_SetSRID(func.ST_MakePoint(*f.near), 4326))
        query = query.where(func.ST_DWithin(func.geography(Incident.geom), centre, f.radius_m))
    if f.categories:
        query = query.where(Incident.category.in_(f.categories))
    if f.statuses:
        query = query.where(Incident.status.in_(f.statuses))
    if f.origins:
        query = query.where(Incident.origin.in_(f.origins))
    if f.since is not None:
        query = query.where(Incident.observed_at >= f.since)
    if f.until is not None:
        query = query.where(Incident.observed_at < f.until)
    if f.conditions:
        query = query.where(*f.conditions)
    if f.after is not None:
        query = query.where(tuple_(Incident.observed_at, Incident.incident_id) < tuple_(*f.after))
    return query


# Properties stored as the row's own columns; the rest come from the incident's data.
_COLUMN_PROPERTIES = {
    "version": Incident.version,
    "origin": Incident.origin,
    "tlp": Incident.tlp,
    "relto": Incident.relto,
    "purpose": Incident.purpose,
}
# Written by Python only: provenance and personal data need judging, and PostgreSQL writes
# times differently (it drops trailing zeros of the fraction), so received_at stays one way.
_PYTHON_ONLY = frozenset({"provenance", "received_at", *PERSONAL_FIELDS})

# The features, the keyset to continue from, and each feature's (id, TLP) for the audit trail.
Page = tuple[list[Any], tuple[datetime, uuid.UUID] | None, list[tuple[str, str]]]


def page(conn: Connection, f: IncidentFilter, who: Caller, *, serialised: bool = False) -> Page:
    """Newest first; the keyset to continue from, or None when this is the last page; and the
    (id, TLP) of each feature.

    `serialised`: the caller only sends the features on (an HTTP page), so they may come as
    JSON text PostgreSQL wrote (orjson fragments), redacted there for a partner as `shown`
    would (and each row's markings judged again by the policy: visibility.check_shown).
    """
    if f.properties is not None and not f.properties & _PYTHON_ONLY:
        return _written_by_sql(conn, f, who)
    if serialised and f.properties is None:
        redacted = redacted_for(who)
        return _select_page(conn, f, who, _FULL_FEATURE[redacted], redacted=redacted)
    query = (
        _where(_base(who), f)
        .order_by(Incident.observed_at.desc(), Incident.incident_id.desc())
        .limit(f.limit + 1)  # one more than asked tells whether another page exists
    )
    rows = conn.execute(query).all()
    more = len(rows) > f.limit
    rows = rows[: f.limit]
    last = (rows[-1].observed_at, rows[-1].incident_id) if more else None
    features = [to_feature(r, who) for r in rows]
    if f.properties is not None:
        for feature in features:
            props = feature["properties"]
            feature["properties"] = {k: props[k] for k in f.properties if k in props}
    return features, last, [(str(r.incident_id), r.tlp) for r in rows]


def _written_by_sql(conn: Connection, f: IncidentFilter, who: Caller) -> Page:
    """A page whose features PostgreSQL writes as JSON: several times faster for the map's
    thousands of light features. Only for selections without provenance or personal data,
    which need Python (see _PYTHON_ONLY); the rows are the same `visible` ones.
    """
    assert f.properties is not None
    columns = [
        part for name in sorted(f.properties & _COLUMN_PROPERTIES.keys())
        for part in (literal(name), _COLUMN_PROPERTIES[name])
    ]  # fmt: skip
    data = [
        part
        for name in sorted(f.properties - _COLUMN_PROPERTIES.keys() - {"location"})
        for part in (literal(name), Incident.data[name])
    ]
    # Left out when the incident lacks them, as in the Python-written features.
    props = func.jsonb_build_object(*columns).op("||")(
        func.jsonb_strip_nulls(func.jsonb_build_object(*data))
    )
    return _select_page(conn, f, who, _feature_sql(props))


def _feature_sql(props: ColumnElement[Any]) -> ColumnElement[Any]:
    return func.json_build_object(
        "type", "Feature",
        "id", cast(Incident.incident_id, Text),
        "geometry", cast(func.ST_AsGeoJSON(Incident.geom), JSON),
        "properties", props,
    )  # fmt: skip


def _rfc3339(t: Any) -> ColumnElement[Any]:
    """A UTC time as orjson writes a datetime: microseconds only when not zero."""
    utc = func.timezone("UTC", t)
    whole = func.to_char(utc, 'YYYY-MM-DD"T"HH24:MI:SS')
    fraction = func.to_char(utc, ".US")
    return func.concat(
        whole, case((func.date_trunc("second", t) == t, ""), else_=fraction), "+00:00"
    )


def _full_feature_sql(redacted: bool) -> ColumnElement[Any]:
    """Every property, as to_feature writes it (`redacted`: without the personal data of an
    incident that has some, as `shown` does for a partner the policy says so for), written by
    PostgreSQL: a page of a thousand features costs the API no Python per row."""
    custody = (
        select(
            func.coalesce(
                func.jsonb_agg(
                    func.jsonb_build_object(
                        *[p for k in ("node", "from", "to", "at") for p in (k, _CUSTODY.c.value[k])]
                    )
                ),
                literal_column("'[]'::jsonb"),
            )
        )
        .select_from(_CUSTODY)
        .scalar_subquery()
    )
    provenance = func.jsonb_build_object(
        "origin", Incident.origin,
        "received_via", Incident.received_via,
        "signature_verified", Incident.signature.is_not(None),
        "signature", Incident.signature,
        "custody", custody,
    )  # fmt: skip
    stored = func.jsonb_build_object(
        "version", Incident.version,
        "origin", Incident.origin,
        "tlp", Incident.tlp,
        "relto", func.to_jsonb(func.coalesce(Incident.relto, literal_column("'{}'::text[]"))),
        "purpose", Incident.purpose,
        "received_at", _rfc3339(Incident.received_at),
        "provenance", provenance,
    )  # fmt: skip
    data: ColumnElement[Any] = Incident.__table__.c.data
    if redacted:
        without = data
        for name in PERSONAL_FIELDS:
            without = without.op("-")(name)
        data = case((personal_data(Incident.__table__.c), without), else_=data)
    props = data.op("-")("location").op("||")(stored)
    return _feature_sql(props)


# Each element of the incident's custody chain (for the SQL-written provenance).
_CUSTODY = func.jsonb_array_elements(
    func.coalesce(Incident.custody, literal_column("'[]'::jsonb"))
).table_valued(column("value", JSONB), name="custody_link")


def _compiled(expr: ColumnElement[Any]) -> ColumnElement[Any]:
    """`expr` as its SQL text, compiled once: built and hashed for the statement cache on
    every request, this expression cost the API more than the rest of a small page (profiled).
    """
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    sql = expr.compile(dialect=dialect, compile_kwargs={"literal_binds": True})
    return literal_column(str(sql), JSON)


# The full feature: as this node's accounts and partners allowed personal data see it, and
# with personal data left out.
_FULL_FEATURE = {redacted: _compiled(_full_feature_sql(redacted)) for redacted in (False, True)}


def _select_page(
    conn: Connection, f: IncidentFilter, who: Caller, feature: Any, *, redacted: bool | None = None
) -> Page:
    """`redacted`: whether `feature` leaves out personal data where there is some (None: it
    shows none in any case)."""
    query = (
        _where(
            visible(
                select(*_page_columns(who), cast(feature, Text).label("json")),
                Incident.__table__,
                who,
            ),
            f,
        )
        .order_by(Incident.observed_at.desc(), Incident.incident_id.desc())
        .limit(f.limit + 1)
    )
    return _paged(conn.execute(query).all(), f, who, redacted)


def _page_columns(who: Caller) -> list[Any]:
    columns: list[Any] = [Incident.observed_at, Incident.incident_id, Incident.tlp]
    if not who.local:  # what check_shown judges
        c = Incident.__table__.c
        columns += [c.origin, c.relto, c.purpose, personal_data(c).label("personal")]
    return columns


def _paged(rows: Sequence[AnyRow], f: IncidentFilter, who: Caller, redacted: bool | None) -> Page:
    """A page of `f.limit` from up to one more row (which tells that another page exists)."""
    more = len(rows) > f.limit
    rows = rows[: f.limit]
    check_shown(rows, who, redacted)
    last = (rows[-1].observed_at, rows[-1].incident_id) if more else None
    marked = [(str(r.incident_id), r.tlp) for r in rows]
    return [orjson.Fragment(r.json) for r in rows], last, marked


def counted_page(conn: Connection, f: IncidentFilter, who: Caller) -> tuple[Page, int]:
    """`page(conn, f, who, serialised=True)` of every property, and `count(conn, f, who)`, in
    one statement: the matching incidents are found once (a page and its numberMatched in OGC
    API items), and only the page's are read whole."""
    redacted = redacted_for(who)
    matching = (
        _where(
            visible(select(Incident.incident_id, Incident.observed_at), Incident.__table__, who),
            replace(f, after=None),
        )
        .cte("matching")
        .prefix_with("MATERIALIZED")
    )
    total = select(func.count().label("matched")).select_from(matching).subquery("total")
    newest = select(matching.c.incident_id)
    if f.after is not None:
        newest = newest.where(
            tuple_(matching.c.observed_at, matching.c.incident_id) < tuple_(*f.after)
        )
    on_page = (
        newest.order_by(matching.c.observed_at.desc(), matching.c.incident_id.desc())
        .limit(f.limit + 1)
        .subquery("on_page")
    )
    paged = (
        select(*_page_columns(who), cast(_FULL_FEATURE[redacted], Text).label("json"))
        .select_from(on_page.join(Incident, Incident.incident_id == on_page.c.incident_id))
        .subquery("paged")
    )
    query = (
        select(total.c.matched, *paged.c)
        .select_from(total.outerjoin(paged, true()))
        .order_by(paged.c.observed_at.desc(), paged.c.incident_id.desc())
    )
    rows = conn.execute(query).all()
    found = [r for r in rows if r.incident_id is not None]  # none: a row of the count alone
    return _paged(found, f, who, redacted), int(rows[0].matched)


def count(conn: Connection, f: IncidentFilter, who: Caller) -> int:
    """How many incidents `who` may see match `f`, on every page (`after` and `limit` ignored)."""
    query = visible(select(func.count()).select_from(Incident), Incident.__table__, who)
    return int(conn.execute(_where(query, replace(f, after=None))).scalar_one())


def one(conn: Connection, incident_id: uuid.UUID, who: Caller) -> dict[str, Any] | None:
    row = conn.execute(_base(who).where(Incident.incident_id == incident_id)).first()
    return to_feature(row, who) if row is not None else None


def to_feature(row: AnyRow, who: Caller) -> dict[str, Any]:
    # `location` is the geometry; repeating it in properties would only confuse GIS clients.
    props = {k: v for k, v in shown(row, row.data, who).items() if k != "location"}
    props.update(
        version=row.version,
        origin=row.origin,
        tlp=row.tlp,
        relto=list(row.relto or []),
        purpose=row.purpose,
        received_at=row.received_at,
        # Who said it and how it came here: a partner's item was stored only after its origin's
        # signature verified, and names every node that passed it on.
        provenance={
            "origin": row.origin,
            "received_via": row.received_via,
            "signature_verified": row.signature is not None,
            "signature": row.signature,
            "custody": [{k: c[k] for k in ("node", "from", "to", "at")} for c in row.custody or []],
        },
    )
    return geojson.feature(str(row.incident_id), orjson.loads(row.geometry), props)
