"""The `zones` collection: the geography this node watches, as /api/v1/zones serves it.

Zones are the node's public geography, not data under handling markings: every caller gets the
same ones. They have no time, so a `datetime` selects none of them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Connection, func, select

from mdx.api import cursor, params, zones
from mdx.api.deps import Resources
from mdx.api.visibility import Caller
from mdx.core.db import Zone
from mdx.ogcapi.collection import Collection, Item, ItemsPage, ItemsQuery, conditions
from mdx.ogcapi.cql2 import GEOMETRY, Queryable

_TABLE = Zone.__table__.c
_COLUMNS: dict[str, ColumnElement[Any]] = {
    "id": _TABLE.zone_id,
    "name": _TABLE.name,
    "kind": _TABLE.kind,
    "state": _TABLE.state,
    "authority": _TABLE.authority,
    GEOMETRY: _TABLE.geom,
}


class Zones(Collection):
    id = "zones"
    title = "Zones"
    description = (
        "The zones this node watches (areas of responsibility, EEZ-like zones, fishing-agreement "
        "zones, marine protected areas) with their rules; illustrative shapes, not legal "
        "boundaries; ordered by id"
    )
    audit_kind = "zone"
    temporal = False

    def queryables(self, res: Resources) -> dict[str, Queryable]:
        return {
            "id": Queryable("string", "Zone id"),
            "name": Queryable("string", "Name"),
            "kind": Queryable("string", "Kind of zone", tuple(sorted(res.zone_kinds))),
            "state": Queryable("string", "Coastal state (ISO 3166-1 alpha-2)"),
            "authority": Queryable("string", "Node responsible for it"),
            GEOMETRY: Queryable("geometry", "Area"),
        }

    def items(self, conn: Connection, res: Resources, who: Caller, q: ItemsQuery) -> ItemsPage:
        query = select(*zones._COLUMNS).where(*conditions(q, self.queryables(res), _COLUMNS, None))
        matched = conn.execute(select(func.count()).select_from(query.subquery())).scalar_one()
        # A few dozen zones that change only when the node reloads its files: an offset is
        # stable enough, and the cursor stays opaque to callers all the same.
        offset = cursor.decode_seq(q.cursor) if q.cursor is not None else 0
        if offset < 0:
            raise params.bad("cursor", q.cursor, "not one this server issued")
        rows = conn.execute(query.order_by(Zone.zone_id).offset(offset).limit(q.limit + 1)).all()
        more = len(rows) > q.limit
        rows = rows[: q.limit]
        features = [zones._feature(r) for r in rows]
        return ItemsPage(features, cursor.seq(offset + q.limit) if more else None, int(matched))

    def item(self, conn: Connection, res: Resources, who: Caller, feature_id: str) -> Item | None:
        row = conn.execute(select(*zones._COLUMNS).where(Zone.zone_id == feature_id)).first()
        return Item(zones._feature(row), None) if row is not None else None
