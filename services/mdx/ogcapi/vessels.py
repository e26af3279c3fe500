"""The `vessels` collection (each vessel at its latest position, with registry data, as
/api/v1/vessels serves them) and the `positions` collection (the position history)."""

from __future__ import annotations

import re
from collections.abc import Hashable
from typing import Any, ClassVar

import orjson
from sqlalchemy import (
    JSON,
    BigInteger,
    ColumnElement,
    Connection,
    Text,
    cast,
    func,
    literal,
    select,
    true,
)

from mdx.ais.facts import SHIP_CATEGORIES
from mdx.api import cursor, vessels
from mdx.api.deps import Resources
from mdx.api.visibility import Caller, policy_key, visible
from mdx.core.db import Position
from mdx.ogcapi.collection import Collection, Item, ItemsPage, ItemsQuery, conditions
from mdx.ogcapi.cql2 import GEOMETRY, Queryable

_MMSI = re.compile(r"^[0-9]{9}$")
_REPORT_ID = re.compile(r"^[0-9]{1,18}$")  # a bigint

# What a vessel and a position report share.
_READINGS: dict[str, Queryable] = {
    "mmsi": Queryable("string", "MMSI (9 digits)"),
    "sog": Queryable("number", "Speed over ground (knots)"),
    "cog": Queryable("number", "Course over ground (degrees)"),
    "heading": Queryable("integer", "True heading (degrees)"),
    "nav_status": Queryable("integer", "AIS navigational status"),
    "source_type": Queryable("string", "Sensor (e.g. ais-terrestrial)"),
    "origin": Queryable("string", "Node that received the report first"),
    "observed_at": Queryable("datetime", "When the position was observed"),
    GEOMETRY: Queryable("geometry", "Position"),
}


class Vessels(Collection):
    id = "vessels"
    title = "Vessels"
    description = (
        "Every vessel at its latest known position, with its registry data (name, IMO, flag "
        "from the MMSI, category from the AIS ship type), ordered by MMSI"
    )
    audit_kind = "vessel"

    def queryables(self, res: Resources) -> dict[str, Queryable]:
        return {
            **_READINGS,
            "name": Queryable("string", "Name"),
            "imo": Queryable("string", "IMO number (7 digits)"),
            "flag": Queryable("string", "Flag state (ISO 3166-1 alpha-2, from the MMSI)"),
            "category": Queryable("string", "Ship category", SHIP_CATEGORIES),
        }

    def items(self, conn: Connection, res: Resources, who: Caller, q: ItemsQuery) -> ItemsPage:
        found = vessels.all_vessels(who)
        latest = found.latest.c
        columns: dict[str, ColumnElement[Any]] = {
            **{name: latest[name] for name in _READINGS if name != GEOMETRY},
            GEOMETRY: latest.geom,
            "name": found.name,
            "imo": found.imo,
            "flag": found.reg.c.flag,
            "category": found.reg.c.category,
        }
        query = found.query.where(*conditions(q, self.queryables(res), columns, latest.observed_at))
        # One statement for the count and the page: the matching vessels are found once (for a
        # partner that is most of the work: mdx.api.vessels._partner_latest).
        matching = query.cte("matching").prefix_with("MATERIALIZED")
        total = select(func.count().label("matched")).select_from(matching).subquery("total")
        page = select(matching.c.json, matching.c.mmsi, matching.c.tlp)
        if q.cursor is not None:
            # MMSIs are 9 digits, so the number keeps the order (and its leading zeros).
            page = page.where(matching.c.mmsi > f"{cursor.decode_seq(q.cursor):09d}")
        paged = page.order_by(matching.c.mmsi).limit(q.limit + 1).lateral("page")
        both = select(total.c.matched, paged.c.json, paged.c.mmsi, paged.c.tlp).select_from(
            total.outerjoin(paged, true())
        )
        found_rows = conn.execute(both).all()
        matched = found_rows[0].matched
        rows = [r for r in found_rows if r.mmsi is not None]  # none: a row of the count alone
        more = len(rows) > q.limit
        rows = rows[: q.limit]
        return ItemsPage(
            [orjson.Fragment(r.json) for r in rows],
            cursor.seq(int(rows[-1].mmsi)) if more else None,
            int(matched),
            [(r.mmsi, r.tlp) for r in rows],
        )

    def item(self, conn: Connection, res: Resources, who: Caller, feature_id: str) -> Item | None:
        if not _MMSI.match(feature_id):
            return None
        row = conn.execute(vessels._Search(who, feature_id).query).first()
        return Item(orjson.loads(row.json), row.tlp) if row is not None else None


_ABOVE_EVERY_ID = 2**53  # a float's exact integers end here: btree_gist's distances are floats
_POSITION_PROPS = (
    "mmsi", "imo", "name", "observed_at", "sog", "cog", "heading", "nav_status", "source_type",
    "origin", "tlp", "relto", "purpose", "received_at",
)  # fmt: skip


class Positions(Collection):
    id = "positions"
    title = "Vessel positions"
    description = (
        "Every vessel position report this node holds (the history behind `vessels`), most "
        "recently stored first; the id is the report's number at this node"
    )
    audit_kind = "position"

    def queryables(self, res: Resources) -> dict[str, Queryable]:
        return dict(_READINGS)

    _selects: ClassVar[dict[Hashable, Any]] = {}  # policy_key -> _build_select's statement

    def _select(self, who: Caller) -> Any:
        """The positions `who` may see as features; built once per policy (the statement costs
        more Python to build than a page takes to send)."""
        key = policy_key(who)
        found = self._selects.get(key)
        if found is None:
            found = self._selects.setdefault(key, self._build_select(who))
        return found

    def _build_select(self, who: Caller) -> Any:
        feature = func.json_build_object(
            "type", "Feature",
            "id", Position.id,
            "geometry", cast(func.ST_AsGeoJSON(Position.geom), JSON),
            "properties", func.json_build_object(
                *[p for name in _POSITION_PROPS for p in (name, getattr(Position, name))]
            ),
        )  # fmt: skip
        query = select(Position.id, Position.tlp, cast(feature, Text).label("json"))
        return visible(query, Position.__table__, who)

    def items(self, conn: Connection, res: Resources, who: Caller, q: ItemsQuery) -> ItemsPage:
        table = Position.__table__.c
        columns: dict[str, ColumnElement[Any]] = {
            **{name: table[name] for name in _READINGS if name != GEOMETRY},
            GEOMETRY: table.geom,
        }
        query = self._select(who).where(
            *conditions(q, self.queryables(res), columns, table.observed_at)
        )
        if q.cursor is not None:
            query = query.where(Position.id < cursor.decode_seq(q.cursor))
        # Newest stored first by the append-only id: stable while reports keep arriving. Written
        # as the distance from 2^53 (the same order for every id up to 2^53, far beyond any
        # sequence's reach), which ix_positions_geom_id walks nearest first (migration 0011).
        newest_first = Position.id.op("<->")(literal(_ABOVE_EVERY_ID, BigInteger))
        rows = conn.execute(query.order_by(newest_first).limit(q.limit + 1)).all()
        more = len(rows) > q.limit
        rows = rows[: q.limit]
        # numberMatched left out: counting a long history costs more than a page.
        return ItemsPage(
            [orjson.Fragment(r.json) for r in rows],
            cursor.seq(rows[-1].id) if more else None,
            None,
            [(str(r.id), r.tlp) for r in rows],
        )

    def item(self, conn: Connection, res: Resources, who: Caller, feature_id: str) -> Item | None:
        if not _REPORT_ID.match(feature_id):
            return None
        row = conn.execute(self._select(who).where(Position.id == int(feature_id))).first()
        return Item(orjson.loads(row.json), row.tlp) if row is not None else None
