"""The `incidents` collection: each incident's current version, through mdx.api.incident_query
(the same rows, order, features and policy as /api/v1/incidents)."""

from __future__ import annotations

import functools
import uuid
from typing import Any

from sqlalchemy import ColumnElement, Connection

from mdx.api import cursor, incident_query
from mdx.api.deps import Resources
from mdx.api.incident_query import IncidentFilter
from mdx.api.visibility import Caller
from mdx.core.db import Incident
from mdx.core.schemas import DEFS_SCHEMA_ID
from mdx.ogcapi.collection import Collection, Item, ItemsPage, ItemsQuery, conditions
from mdx.ogcapi.cql2 import GEOMETRY, Queryable

TLPS = ("CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED")

_TABLE = Incident.__table__.c
# Queryable -> the column it filters on (the incidents table is what incident_query selects).
_COLUMNS: dict[str, ColumnElement[Any]] = {
    **{
        name: _TABLE[name]
        for name in (
            "category", "status", "severity", "certainty", "urgency",
            "origin", "tlp", "title", "version", "observed_at",
        )
    },
    GEOMETRY: _TABLE.geom,
}  # fmt: skip


class Incidents(Collection):
    id = "incidents"
    title = "Incidents"
    description = (
        "Maritime incidents (illegal fishing, search and rescue, piracy, pollution, ...) this "
        "node holds, at their current version, newest observation first"
    )
    audit_kind = "incident"

    def queryables(self, res: Resources) -> dict[str, Queryable]:
        enum = functools.partial(res.policy.schemas.enum, DEFS_SCHEMA_ID, "$defs")
        return {
            "category": Queryable("string", "Category", tuple(sorted(res.categories))),
            "status": Queryable("string", "Status", tuple(sorted(res.statuses))),
            "severity": Queryable("string", "Severity (CISE)", enum("severity")),
            "certainty": Queryable("string", "Certainty (CISE)", enum("certainty")),
            "urgency": Queryable("string", "Urgency (CISE)", enum("urgency")),
            "origin": Queryable("string", "Node the incident was first reported at"),
            "tlp": Queryable("string", "TLP 2.0 label", TLPS),
            "title": Queryable("string", "Title"),
            "version": Queryable("integer", "Version"),
            "observed_at": Queryable("datetime", "When it was observed"),
            GEOMETRY: Queryable("geometry", "Location"),
        }

    def items(self, conn: Connection, res: Resources, who: Caller, q: ItemsQuery) -> ItemsPage:
        found = conditions(q, self.queryables(res), _COLUMNS, _TABLE.observed_at)
        f = IncidentFilter(
            conditions=tuple(found),
            after=cursor.decode_time_uuid(q.cursor) if q.cursor is not None else None,
            limit=q.limit,
        )
        (features, last, marked), matched = incident_query.counted_page(conn, f, who)
        next_cursor = cursor.time_uuid(*last) if last else None
        return ItemsPage(features, next_cursor, matched, marked)

    def item(self, conn: Connection, res: Resources, who: Caller, feature_id: str) -> Item | None:
        try:
            incident_id = uuid.UUID(feature_id)
        except ValueError:
            return None  # no incident has such an id
        found = incident_query.one(conn, incident_id, who)
        return Item(found, found["properties"]["tlp"]) if found is not None else None
