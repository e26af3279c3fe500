"""What a CoT client is sent, read from the node's database under the releasability policy:
the current picture when it connects, then what changed.

Every query goes through `mdx.api.visibility.visible` for the client's `Caller` (and incident
data through `shown`), so an item withheld from a partner is never read for it. Changes are
found the way the live SSE stream (mdx.api.stream) finds them: by the serial ids of
incident_versions and positions, a watermark that, unlike a timestamp, never skips a row
committed late.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, func, or_, select
from sqlalchemy.dialects.postgresql import distinct_on

from mdx.ais.facts import flag_of, ship_category
from mdx.api import restricted_reads, vessels
from mdx.api.visibility import Caller, shown, visible
from mdx.core import audit
from mdx.core.db import Incident, IncidentVersion, Position, VesselLatest, Zone
from mdx.core.settings import NodeSettings
from mdx.cot.mapping import OPEN_STATUSES, IncidentItem, Markings, VesselFix

BATCH = 500


@dataclass(frozen=True, slots=True)
class Watermark:
    """The last incident_versions.id and positions.id a client has been given."""

    iv: int = 0
    p: int = 0


def watermark(engine: Engine) -> Watermark:
    with engine.connect() as conn:
        iv = conn.execute(select(func.coalesce(func.max(IncidentVersion.id), 0))).scalar_one()
        p = conn.execute(select(func.coalesce(func.max(Position.id), 0))).scalar_one()
    return Watermark(int(iv), int(p))


def friendly_flags(engine: Engine, settings: NodeSettings) -> frozenset[str]:
    """The states of the areas of responsibility of this node and its partners (the zones the
    node loaded): their law-enforcement and SAR vessels are the network's own."""
    authorities = [settings.node.id, *(p.id for p in settings.partners)]
    query = select(Zone.state).where(
        Zone.kind == "aor", Zone.authority.in_(authorities), Zone.state.is_not(None)
    )
    with engine.connect() as conn:
        return frozenset(str(s) for s in conn.execute(query.distinct()).scalars())


# -- vessels ---------------------------------------------------------------------------------------


def _position_columns(table: type[Position] | type[VesselLatest]) -> tuple[Any, ...]:
    return (
        table.mmsi,
        table.imo,
        table.name,
        table.observed_at,
        func.ST_Y(table.geom).label("lat"),
        func.ST_X(table.geom).label("lon"),
        table.sog,
        table.cog,
        table.heading,
        table.source_type,
        table.origin,
        table.tlp,
        table.relto,
        table.purpose,
    )


def _with_registry(positions: Any, who: Caller) -> Any:
    reg = vessels.registry(who)
    return select(
        positions,
        reg.c.name.label("reg_name"),
        reg.c.imo.label("reg_imo"),
        reg.c.flag,
        reg.c.category,
        reg.c.call_sign,
        reg.c.ship_type,
    ).select_from(positions.outerjoin(reg, reg.c.mmsi == positions.c.mmsi))


def _fix(row: Any) -> VesselFix:
    return VesselFix(
        mmsi=row.mmsi,
        lat=float(row.lat),
        lon=float(row.lon),
        observed_at=row.observed_at,
        source_type=row.source_type,
        markings=_markings(row),
        sog=row.sog,
        cog=row.cog,
        heading=row.heading,
        name=row.reg_name or row.name,
        imo=row.reg_imo or row.imo,
        call_sign=row.call_sign,
        # The flag is a fact of the MMSI; the category is the registry's, when `who` sees it.
        flag=row.flag or flag_of(row.mmsi),
        category=row.category or ship_category(None, row.mmsi),
        ship_type=row.ship_type,
    )


def _markings(row: Any) -> Markings:
    return Markings(row.origin, row.tlp, tuple(row.relto or ()), row.purpose)


def fresh_vessels(conn: Connection, who: Caller, since: datetime) -> list[VesselFix]:
    """Each vessel's latest position `who` may see, for vessels observed after `since`."""
    # A partner gets each vessel's newest report released to it (as GET /api/v1/vessels).
    table: type[Position] | type[VesselLatest] = VesselLatest if who.local else Position
    query = select(*_position_columns(table)).where(table.observed_at > since)
    if not who.local:
        query = query.ext(distinct_on(table.mmsi)).order_by(table.mmsi, table.observed_at.desc())
    latest = visible(query, table.__table__, who).subquery()
    rows = conn.execute(_with_registry(latest, who).order_by(latest.c.mmsi)).all()
    return [_fix(r) for r in rows]


def new_positions(conn: Connection, who: Caller, after: int) -> tuple[list[VesselFix], int, bool]:
    """Positions stored after id `after` that `who` may see, the last of each vessel; the
    new watermark; whether the batch was full (more are waiting)."""
    query = visible(
        select(Position.id.label("stream_id"), *_position_columns(Position)).where(
            Position.id > after
        ),
        Position.__table__,
        who,
    )
    batch = query.order_by(Position.id).limit(BATCH).subquery()
    rows = conn.execute(_with_registry(batch, who).order_by(batch.c.stream_id)).all()
    last = {r.mmsi: r for r in rows}  # in id order: the last one of each vessel wins
    mark = max((int(r.stream_id) for r in rows), default=after)
    return [_fix(r) for r in last.values()], mark, len(rows) == BATCH


# -- incidents -------------------------------------------------------------------------------------


def _incident_columns() -> tuple[Any, ...]:
    # One point for the event (inside a polygon), and the radius in metres that covers the area.
    point = func.ST_PointOnSurface(Incident.geom)
    return (
        Incident.incident_id,
        Incident.observed_at,
        Incident.origin,
        Incident.tlp,
        Incident.relto,
        Incident.purpose,
        Incident.data,
        func.ST_Y(point).label("lat"),
        func.ST_X(point).label("lon"),
        func.ST_Length(func.geography(func.ST_LongestLine(point, Incident.geom))).label("ce"),
    )


def _item(row: Any, who: Caller) -> IncidentItem:
    return IncidentItem(
        incident_id=str(row.incident_id),
        lat=float(row.lat),
        lon=float(row.lon),
        observed_at=row.observed_at,
        markings=_markings(row),
        data=shown(row, row.data, who),
        ce_m=float(row.ce) if row.ce else None,
    )


def current_incidents(conn: Connection, who: Caller, since: datetime) -> list[IncidentItem]:
    """The incidents `who` may see that are open, or were observed after `since`."""
    query = select(*_incident_columns()).where(
        or_(Incident.status.in_(sorted(OPEN_STATUSES)), Incident.observed_at > since)
    )
    rows = conn.execute(
        visible(query, Incident.__table__, who).order_by(Incident.observed_at, Incident.incident_id)
    ).all()
    return [_item(r, who) for r in rows]


def new_incident_versions(
    conn: Connection, who: Caller, after: int
) -> tuple[list[IncidentItem], int, bool]:
    """Incidents whose current version was stored after incident_versions id `after`, as
    `who` may see them; the new watermark; whether the batch was full."""
    # A version that did not become the current state (it arrived after a newer one) is no news.
    query = select(IncidentVersion.id.label("stream_id"), *_incident_columns()).join(
        Incident,
        and_(
            Incident.incident_id == IncidentVersion.incident_id,
            Incident.version == IncidentVersion.version,
        ),
    )
    query = visible(query.where(IncidentVersion.id > after), Incident.__table__, who)
    rows = conn.execute(query.order_by(IncidentVersion.id).limit(BATCH)).all()
    mark = max((int(r.stream_id) for r in rows), default=after)
    return [_item(r, who) for r in rows], mark, len(rows) == BATCH


# -- the audit trail -------------------------------------------------------------------------------


def record_restricted(
    engine: Engine, who: Caller, peer: str, kind: str, items: Iterable[tuple[str, str]]
) -> None:
    """One `read.restricted` audit row for what a client was sent of TLP AMBER and above, as
    the API writes for its reads."""
    ids = sorted({i for i, tlp in items if tlp in restricted_reads.RESTRICTED_TLPS})
    if not ids:
        return
    detail = {"channel": "cot", "client": peer, "kind": kind, "ids": ids}
    with engine.begin() as conn:
        audit.record(
            conn,
            audit.READ_RESTRICTED,
            actor=restricted_reads.actor(who),
            peer=who.node,
            detail=detail,
        )


def ids_of(items: Sequence[VesselFix | IncidentItem]) -> list[tuple[str, str]]:
    return [(i.mmsi if isinstance(i, VesselFix) else i.incident_id, i.markings.tlp) for i in items]
