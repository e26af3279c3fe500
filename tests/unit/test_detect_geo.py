"""Geodesy and zone look-up helpers of the detection rules."""

from __future__ import annotations

import numpy as np
import pytest

from mdx.detect.geo import ZoneIndex, haversine_m, haversine_m_array, most_specific
from tests.unit.test_detect_support import AOR, JP_EEZ, MPA, ZONES, box, offset


def test_haversine() -> None:
    assert haversine_m(133.0, 37.0, 133.0, 38.0) == pytest.approx(111_195, rel=1e-4)
    assert haversine_m(0.0, 0.0, 1.0, 0.0) == pytest.approx(111_195, rel=1e-4)
    assert haversine_m(179.9, 0.0, -179.9, 0.0) == pytest.approx(22_239, rel=1e-3)
    lon, lat = offset(133.0, 37.0, 300, 400)
    assert haversine_m(133.0, 37.0, lon, lat) == pytest.approx(500, rel=2e-3)
    many = haversine_m_array(
        np.array([133.0, 0.0]), np.array([37.0, 0.0]), np.array([133.0, 1.0]), np.array([38.0, 0.0])
    )
    assert many == pytest.approx([111_195, 111_195], rel=1e-4)


def test_zone_index_lookups() -> None:
    index = ZoneIndex(ZONES)
    assert index.at(133.6, 37.6) == (JP_EEZ, MPA)  # index order
    assert index.at(150.0, 0.0) == ()
    assert index.at(134.0, 37.0) == (JP_EEZ, ZONES[1])  # a shared border counts for both
    assert index.at(133.0, 36.0) == (JP_EEZ, AOR)
    found = index.containing([133.6, 150.0, 133.6, 133.0], [37.6, 0.0, 37.6, 37.0])
    assert found == [(JP_EEZ, MPA), (), (JP_EEZ, MPA), (JP_EEZ,)]
    ids, combos = index.lookup([133.6, 150.0, 133.6], [37.6, 0.0, 37.6])
    assert ids[0] == ids[2] != ids[1] and combos[ids[1]] == ()
    assert ZoneIndex.of(index) is index
    assert index.watching("loitering") and not ZoneIndex([JP_EEZ]).watching("loitering")
    assert ZoneIndex([]).containing([1.0], [2.0]) == [()]


def test_many_zones_and_many_points() -> None:
    # 130 zones (more than one 64-bit word of membership) over a grid of points.
    zones = [box(f"z{k}", (k * 0.1, 0.0, k * 0.1 + 0.15, 1.0)) for k in range(130)]
    index = ZoneIndex(zones)
    lons = np.linspace(0.01, 12.99, 2000)
    found = index.containing(lons, np.full(2000, 0.5))
    spans = [(z.geometry.bounds[0], z.geometry.bounds[2], z) for z in zones]
    for lon, zs in zip(lons, found, strict=True):
        assert list(zs) == [z for x0, x1, z in spans if x0 <= lon <= x1]


def test_most_specific() -> None:
    assert most_specific([AOR, JP_EEZ, MPA]) is MPA
    assert most_specific([AOR, JP_EEZ]) is JP_EEZ
    small = box("small-eez", (133.0, 37.0, 133.1, 37.1))
    assert most_specific([JP_EEZ, small]) is small
    assert most_specific([]) is None
