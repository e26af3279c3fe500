"""The collections this node serves over OGC API - Features, by id, in the order listed."""

from __future__ import annotations

from mdx.ogcapi.collection import Collection
from mdx.ogcapi.incidents import Incidents
from mdx.ogcapi.vessels import Positions, Vessels
from mdx.ogcapi.zones import Zones

COLLECTIONS: dict[str, Collection] = {
    c.id: c for c in (Incidents(), Vessels(), Positions(), Zones())
}
