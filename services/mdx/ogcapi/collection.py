"""What every OGC API collection is: its metadata, its queryables, a page of its items and one
item; and the conditions the items parameters (bbox, datetime, filter) share."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Connection, false, func, or_

from mdx.api.deps import Resources
from mdx.api.visibility import Caller
from mdx.ogcapi import cql2
from mdx.ogcapi.cql2 import GEOMETRY, Queryable
from mdx.ogcapi.parameters import Box, TimeFilter


@dataclass(frozen=True, slots=True)
class ItemsQuery:
    """The checked parameters of one items request."""

    boxes: list[Box] | None = None
    time: TimeFilter | None = None
    filter: str | None = None  # CQL2 text
    limit: int = 10
    cursor: str | None = None  # the previous page's `next` cursor


@dataclass(slots=True)
class ItemsPage:
    features: list[Any]  # GeoJSON Features (dicts or orjson fragments)
    next_cursor: str | None  # None on the last page
    matched: int | None = None  # every page's features together, where cheap to count
    # (id, TLP) of each feature, for the audit trail of restricted reads.
    marked: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Item:
    feature: dict[str, Any]  # a GeoJSON Feature
    tlp: str | None  # None: not data under handling markings (zones)


class Collection(ABC):
    id: str
    title: str
    description: str
    # The kind recorded in the audit trail when restricted items are read.
    audit_kind: str
    # Whether items have a time (observed_at) for `datetime` to select on.
    temporal: bool = True

    @abstractmethod
    def queryables(self, res: Resources) -> dict[str, Queryable]:
        """Name -> what it is: what `filter` may name, and the queryables document."""

    @abstractmethod
    def items(self, conn: Connection, res: Resources, who: Caller, q: ItemsQuery) -> ItemsPage:
        """A page of the items `who` may see, in a stable order."""

    @abstractmethod
    def item(self, conn: Connection, res: Resources, who: Caller, feature_id: str) -> Item | None:
        """One item, or None when it does not exist or `who` may not see it (the same answer)."""


def conditions(
    q: ItemsQuery,
    queryables: Mapping[str, Queryable],
    columns: Mapping[str, ColumnElement[Any]],
    time: ColumnElement[Any] | None,
) -> list[ColumnElement[bool]]:
    """SQL for `bbox`, `datetime` and `filter` over a collection's columns (`columns` holds one
    per queryable, the primary geometry as `geometry`; `time` None: items have no time)."""
    found: list[ColumnElement[bool]] = []
    if q.boxes is not None:
        geom = columns[GEOMETRY]
        # ST_Intersects does the index-assisted `&&` first, then the exact test.
        boxes = [func.ST_Intersects(geom, func.ST_MakeEnvelope(*b, 4326)) for b in q.boxes]
        found.append(or_(*boxes) if len(boxes) > 1 else boxes[0])
    if q.time is not None:
        if time is None:
            # Only items whose time meets the interval are selected; these have none.
            found.append(false())
        else:
            if q.time.start is not None:
                found.append(time >= q.time.start)
            if q.time.end is not None:
                found.append(time < q.time.end if q.time.end_exclusive else time <= q.time.end)
    if q.filter is not None:
        found.append(cql2.translate(q.filter, queryables, columns))
    return found
