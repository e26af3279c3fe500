"""Builders shared by the test_detect_* modules (zones as small GeoJSON boxes, synthetic
tracks); no tests here."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

from mdx.detect.model import Fix, Vessel, Zone

T0 = datetime(2025, 6, 1, 0, 0, tzinfo=UTC)
M_PER_DEG = 111_195.0


def box_feature(
    zone_id: str,
    bounds: tuple[float, float, float, float],
    *,
    kind: str = "eez",
    state: str | None = "JP",
    fishing: str | None = "flag_state_only",
    watch: tuple[str, ...] = ("foreign_fishing", "going_dark", "encounter"),
    agreement_states: tuple[str, ...] | None = None,
    name: str | None = None,
) -> dict[str, Any]:
    """A zone-file Feature whose geometry is the box (lon0, lat0, lon1, lat1)."""
    x0, y0, x1, y1 = bounds
    rules: dict[str, Any] = {"watch": list(watch)}
    if fishing is not None:
        rules["fishing"] = fishing
    if agreement_states is not None:
        rules["agreement_states"] = list(agreement_states)
    props: dict[str, Any] = {
        "id": zone_id,
        "name": name or f"Test zone {zone_id} (illustrative)",
        "kind": kind,
        "illustrative": True,
        "rules": rules,
    }
    if state is not None:
        props["state"] = state
    return {
        "type": "Feature",
        "geometry": {
            "type": "Polygon",
            "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]],
        },
        "properties": props,
    }


def box(zone_id: str, bounds: tuple[float, float, float, float], **kw: Any) -> Zone:
    return Zone.from_feature(box_feature(zone_id, bounds, **kw))


# The test world: a JP EEZ-like box, an agreement box east of it, an aor box watching only
# going_dark south of it, a US aor box watching loitering, and an MPA inside the JP box.
JP_EEZ = box("jp-eez-test", (132.0, 36.0, 134.0, 38.0), name="Japan EEZ (illustrative)")
AGREEMENT = box(
    "jp-kr-agreement-test",
    (134.0, 36.0, 136.0, 38.0),
    kind="fishing_agreement",
    state=None,
    fishing="agreement_states_only",
    agreement_states=("JP", "KR"),
)
AOR = box(
    "jcg-aor-test", (128.0, 30.0, 140.0, 36.0), kind="aor", fishing=None, watch=("going_dark",)
)
US_AOR = box(
    "uscg-aor-test",
    (144.0, 13.0, 146.0, 15.0),
    kind="aor",
    state="US",
    fishing=None,
    watch=("going_dark", "loitering"),
)
MPA = box(
    "jp-mpa-test",
    (133.5, 37.5, 133.7, 37.7),
    kind="mpa",
    fishing="prohibited",
    watch=("foreign_fishing", "loitering", "encounter"),
)
ZONES = (JP_EEZ, AGREEMENT, AOR, US_AOR, MPA)


def offset(lon: float, lat: float, east_m: float, north_m: float) -> tuple[float, float]:
    """The point `east_m`, `north_m` metres from (lon, lat) (flat-earth, fine for km)."""
    return (
        lon + east_m / (M_PER_DEG * math.cos(math.radians(lat))),
        lat + north_m / M_PER_DEG,
    )


def line(
    mmsi: str,
    start: datetime,
    minutes: float,
    lon: float,
    lat: float,
    sog: float | None,
    heading: float = 90.0,
    every_s: float = 60.0,
) -> list[Fix]:
    """Fixes every `every_s` over `minutes` (both ends included), moving at `sog` knots along
    `heading` (degrees) from (lon, lat)."""
    count = int(minutes * 60 // every_s) + 1
    speed = (sog or 0.0) * 1852 / 3600
    h = math.radians(heading)
    out = []
    for k in range(count):
        dist = speed * k * every_s
        x, y = offset(lon, lat, dist * math.sin(h), dist * math.cos(h))
        out.append(Fix(mmsi, start + timedelta(seconds=k * every_s), x, y, sog, heading))
    return out


def circle(
    mmsi: str,
    start: datetime,
    minutes: float,
    lon: float,
    lat: float,
    radius_m: float,
    sog: float,
    every_s: float = 60.0,
) -> list[Fix]:
    """Fixes going round a circle of `radius_m` around (lon, lat) at `sog` knots."""
    count = int(minutes * 60 // every_s) + 1
    omega = sog * 1852 / 3600 / radius_m  # rad/s
    out = []
    for k in range(count):
        a = omega * k * every_s
        x, y = offset(lon, lat, radius_m * math.cos(a), radius_m * math.sin(a))
        out.append(Fix(mmsi, start + timedelta(seconds=k * every_s), x, y, sog, None))
    return out


def vessel(mmsi: str, flag: str | None, category: str | None, name: str | None = None) -> Vessel:
    return Vessel(mmsi=mmsi, flag=flag, category=category, name=name)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)
