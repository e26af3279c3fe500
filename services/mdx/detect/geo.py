"""Small geodesy and zone look-up helpers for the rules.

Distances are great-circle (haversine on a sphere of the mean Earth radius): within 0.5 % of
the WGS 84 geodesic, plenty for thresholds of hundreds of metres. Zone look-up is vectorised
over prepared geometries (see ZoneIndex). A point on a zone's boundary is inside it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Final

import numpy as np
import numpy.typing as npt
import shapely

from mdx.detect.model import Fix, Zone

EARTH_RADIUS_M: Final = 6_371_008.8
M_PER_DEG_LAT: Final = math.pi * EARTH_RADIUS_M / 180
KNOT_M_PER_S: Final = 1852 / 3600

# Which of several zones at a point a detection names: the most specific kind, then the
# smallest area. An MPA inside an EEZ inside an aor: the MPA.
_KIND_RANK: Final = {"mpa": 0, "territorial_sea": 1, "fishing_agreement": 2, "eez": 3, "aor": 4}

FloatArray = npt.NDArray[np.float64]


def haversine_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in metres between two lon/lat points (degrees)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def haversine_m_array(
    lon1: FloatArray | float,
    lat1: FloatArray | float,
    lon2: FloatArray | float,
    lat2: FloatArray | float,
) -> FloatArray:
    """haversine_m, element-wise over numpy arrays (broadcasting)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dl = np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    result: FloatArray = 2 * EARTH_RADIUS_M * np.arcsin(np.minimum(1.0, np.sqrt(a)))
    return result


def fix_distance_m(a: Fix, b: Fix) -> float:
    return haversine_m(a.lon, a.lat, b.lon, b.lat)


def most_specific(zones: Iterable[Zone]) -> Zone | None:
    """The zone a detection names when several hold its position (see _KIND_RANK)."""
    return min(
        zones,
        key=lambda z: (_KIND_RANK.get(z.kind, 5), z.geometry.area, z.id),
        default=None,
    )


class ZoneIndex:
    """The zones, prepared once for many point look-ups. Build one per zone set and pass it to
    every rule (the rules accept either a ZoneIndex or a plain sequence of zones).

    A look-up runs one vectorised pass per zone over all the points: a numpy bounding-box
    filter, then shapely.intersects_xy against the zone's prepared geometry for the points in
    the box; there is no Python loop over points, and no point geometries are built (for a
    million fixes that alone costs over a second, more than the look-up). The cost grows
    linearly with the number of zones, which suits the tens of zones a node watches.
    The result names each point's set of zones by a small integer (its "combination"), so that
    rules work out what a set of zones means once per combination, not once per fix.
    """

    def __init__(self, zones: Sequence[Zone]) -> None:
        self.zones: tuple[Zone, ...] = tuple(zones)
        self._geoms = [z.geometry for z in self.zones]
        for g in self._geoms:
            shapely.prepare(g)
        self._bounds = [g.bounds for g in self._geoms]

    @classmethod
    def of(cls, zones: Sequence[Zone] | ZoneIndex) -> ZoneIndex:
        return zones if isinstance(zones, ZoneIndex) else cls(zones)

    def __len__(self) -> int:
        return len(self.zones)

    def watching(self, watch: str) -> bool:
        """Whether any zone watches `watch` (a rule with nothing to watch returns early)."""
        return any(watch in z.watch for z in self.zones)

    def lookup(
        self, lons: Sequence[float] | FloatArray, lats: Sequence[float] | FloatArray
    ) -> tuple[list[int], tuple[tuple[Zone, ...], ...]]:
        """For each point, the number of its combination of zones, and the combinations: the
        zones holding the point (boundary included), in index order; () is no zone."""
        x = np.asarray(lons, dtype=np.float64)
        y = np.asarray(lats, dtype=np.float64)
        words = max(1, (len(self.zones) + 63) // 64)
        masks = np.zeros((len(x), words), dtype=np.uint64)
        for k, (geom, (x0, y0, x1, y1)) in enumerate(zip(self._geoms, self._bounds, strict=True)):
            near = np.flatnonzero((x >= x0) & (x <= x1) & (y >= y0) & (y <= y1))
            if len(near):
                inside = near[shapely.intersects_xy(geom, x[near], y[near])]
                masks[inside, k // 64] |= np.uint64(1 << (k % 64))
        if words == 1:
            unique, inverse = np.unique(masks[:, 0], return_inverse=True)
            rows = unique.reshape(-1, 1)
        else:
            rows, inverse = np.unique(masks, axis=0, return_inverse=True)
        combos = tuple(
            tuple(z for k, z in enumerate(self.zones) if int(row[k // 64]) >> (k % 64) & 1)
            for row in rows
        )
        ids: list[int] = inverse.reshape(-1).tolist()
        return ids, combos

    def containing(
        self, lons: Sequence[float] | FloatArray, lats: Sequence[float] | FloatArray
    ) -> list[tuple[Zone, ...]]:
        """For each point, the zones that hold it (boundary included), in index order."""
        ids, combos = self.lookup(lons, lats)
        return [combos[i] for i in ids]

    def at(self, lon: float, lat: float) -> tuple[Zone, ...]:
        """The zones that hold one point."""
        return self.containing([lon], [lat])[0]

    def fixes_in(self, fixes: Sequence[Fix]) -> list[tuple[Zone, ...]]:
        """For each fix, the zones that hold it."""
        return self.containing([f.lon for f in fixes], [f.lat for f in fixes])
