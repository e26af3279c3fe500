"""What an export holds: every page of a filtered selection the caller may see, up to a maximum.

Reads go through the API's own queries, so the releasability policy is the one every read
passes through: incidents through `mdx.api.incident_query.page`, vessels (latest positions with
registry data) through the query of `mdx.api.vessels`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import orjson
from sqlalchemy import Connection

from mdx.api import incident_query, vessel_filters, vessels
from mdx.api.incident_query import IncidentFilter
from mdx.api.vessel_filters import VesselFilter
from mdx.api.visibility import Caller
from mdx.exports.values import Feature

PAGE = 5000  # features read per query

# One page: its features, where the next starts (None: this was the last) and each
# feature's (id, TLP) for the audit trail.
Page = tuple[list[Feature], Any, list[tuple[str, str]]]
Fetch = Callable[[Any, int], Page]


@dataclass
class Selection:
    """An iterable of features, read page by page as it is consumed. Once consumed, `count`,
    `truncated` (more matched than `maximum`) and `marked` (id, TLP of each feature) are known."""

    fetch: Fetch
    maximum: int
    count: int = 0
    truncated: bool = False
    marked: list[tuple[str, str]] = field(default_factory=list)

    def __iter__(self) -> Iterator[Feature]:
        after: Any = None
        while self.count < self.maximum:
            features, after, marked = self.fetch(after, min(PAGE, self.maximum - self.count))
            self.marked.extend(marked)
            for feature in features:
                self.count += 1
                yield feature
            if after is None:
                return
        self.truncated = True


def incidents(conn: Connection, f: IncidentFilter, who: Caller, maximum: int) -> Selection:
    """The incidents matching `f` that `who` may see, newest observation first, whole (every
    property, redacted as the policy says for `who`)."""

    def fetch(after: Any, limit: int) -> Page:
        return incident_query.page(conn, replace(f, after=after, limit=limit, properties=None), who)

    return Selection(fetch, maximum)


def latest_positions(conn: Connection, f: VesselFilter, who: Caller, maximum: int) -> Selection:
    """Each vessel's latest position `who` may see, with the registry data it may see, ordered
    by MMSI: the features of GET /api/v1/vessels."""

    def fetch(after: Any, limit: int) -> Page:
        found = vessels._Search(who)
        latest = found.latest.c
        query = found.query.where(
            *vessel_filters.conditions(f, latest, found.reg.c, found.name, found.imo)
        )
        if after is not None:
            query = query.where(latest.mmsi > after)
        rows = conn.execute(query.order_by(latest.mmsi).limit(limit + 1)).all()
        more = len(rows) > limit
        rows = rows[:limit]
        return (
            [orjson.loads(r.json) for r in rows],
            rows[-1].mmsi if more else None,
            [(r.mmsi, r.tlp) for r in rows],
        )

    return Selection(fetch, maximum)
