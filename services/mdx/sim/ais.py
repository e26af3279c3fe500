"""Simulated AIS traffic as real NMEA: vessels, scripted behaviours, and the sentence stream.

Everything here is pure and deterministic by seed (apart from reading the zone files): the
same scenario, `now` and seed give the same lines, byte for byte. The pieces:

- geodesy on a sphere (`destination`, `distance_m`, `bearing_deg`);
- motions: where a vessel is at any time `t` (unix seconds), as a pure function of `t`, so
  that the reporting rate changes how often a track is sampled, never the track itself
  (`Route`, `Orbit`, `Drift`, `Offset`, `Phased`, `tow_pattern`);
- zones read from the node's zone files, and regions derived from them: where a flag may fish,
  where it may not (`load_zones`, `fishing_region`, `foreign_region`, `place`);
- behaviours: small dataclasses whose parameters are explicit, each giving the `SimVessel`s
  that act it out (`Background`, `ForeignFishing`, `GoingDark`, `Encounter`, `Loitering`,
  `ManOverboard`); the node scenarios that combine them are in `mdx.sim.ais_scenarios`;
- the stream: `generate` turns vessels into time-ordered `AisMessage`s (type 1/3 and 18
  positions, type 5 and 24 A/B static data every 6 minutes, type 14 safety broadcasts),
  encoded with `pyais.encode_dict` as `!AIVDM` sentences on alternating channels, each line
  prefixed by an NMEA 4.0 tag block `\\c:<unix time>,s:<station>*hh\\`; `batches` groups
  them for publishing.

Publishing (MQTT, TCP feed, file) and pacing are in `mdx.sim.ais_cli`.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import json
import math
import random
from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import reduce
from operator import xor
from pathlib import Path
from typing import Any, Final, Literal, Protocol

from pyais import encode_dict
from shapely import ops
from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry

from mdx.ais.facts import flag_of

LatLon = tuple[float, float]  # (lat, lon) in degrees; shapely takes (lon, lat)

EARTH_RADIUS_M: Final = 6_371_008.8
M_PER_NM: Final = 1852.0
MS_PER_KN: Final = M_PER_NM / 3600
M_PER_DEG_LAT: Final = math.pi * EARTH_RADIUS_M / 180

STATIC_EVERY_S: Final = 360  # type 5 / 24 every 6 minutes (ITU-R M.1371)
SHIP_TYPE_FISHING: Final = 30
SHIP_TYPE_CARGO: Final = 70
SHIP_TYPE_TANKER: Final = 80
SHIP_TYPE_PASSENGER: Final = 60
NAV_UNDER_WAY: Final = 0
NAV_FISHING: Final = 7
NAV_SART: Final = 14  # "AIS-SART active" (also MOB and EPIRB-AIS devices)


# -- geodesy ----------------------------------------------------------------------------------


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine) in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def bearing_deg(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Initial great-circle bearing from point 1 to point 2, degrees true in [0, 360)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dl = math.radians(lon2 - lon1)
    y = math.sin(dl) * math.cos(p2)
    x = math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dl)
    return math.degrees(math.atan2(y, x)) % 360


def destination(lat: float, lon: float, bearing: float, dist_m: float) -> LatLon:
    """The point `dist_m` metres from (lat, lon) along the great circle of initial `bearing`."""
    d = dist_m / EARTH_RADIUS_M
    b = math.radians(bearing)
    p1, l1 = math.radians(lat), math.radians(lon)
    p2 = math.asin(math.sin(p1) * math.cos(d) + math.cos(p1) * math.sin(d) * math.cos(b))
    l2 = l1 + math.atan2(
        math.sin(b) * math.sin(d) * math.cos(p1), math.cos(d) - math.sin(p1) * math.sin(p2)
    )
    return math.degrees(p2), (math.degrees(l2) + 540) % 360 - 180


# -- motions ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Kin:
    """Where a vessel is and how it moves at one instant. `nav_status` None: the vessel's."""

    lat: float
    lon: float
    sog: float  # knots
    cog: float  # degrees true
    nav_status: int | None = None


class Motion(Protocol):
    def at(self, t: float) -> Kin: ...


class Route:
    """Along a polyline of great-circle legs at constant speed, from `t0` on.

    cycle=True: the route loops, closing from the last point back to the first (give
    A..Z..B for a ping-pong between A and Z). cycle=False: the vessel holds at the ends
    (before t0 at the first point, after the last leg at the last).
    `offset_m`: how far along the route the vessel is at t0.
    """

    def __init__(
        self,
        points: Sequence[LatLon],
        speed_kn: float,
        t0: float,
        *,
        offset_m: float = 0.0,
        cycle: bool = True,
        nav_status: int | None = None,
    ) -> None:
        pts = list(points)
        if len(pts) < 2:
            raise ValueError("a route needs at least two points")
        if cycle and pts[0] != pts[-1]:
            pts.append(pts[0])
        self.points = pts
        self.speed_kn = speed_kn
        self.t0 = t0
        self.offset_m = offset_m
        self.cycle = cycle
        self.nav_status = nav_status
        self._bearings = [bearing_deg(*a, *b) for a, b in itertools.pairwise(pts)]
        lengths = [distance_m(*a, *b) for a, b in itertools.pairwise(pts)]
        self._cum = [0.0]
        for length in lengths:
            self._cum.append(self._cum[-1] + length)
        self.length_m = self._cum[-1]
        if self.length_m <= 0:
            raise ValueError("a route needs some length")

    @property
    def duration_s(self) -> float:
        return self.length_m / (self.speed_kn * MS_PER_KN) if self.speed_kn > 0 else math.inf

    def at(self, t: float) -> Kin:
        s = self.offset_m + self.speed_kn * MS_PER_KN * (t - self.t0)
        moving = True
        if self.cycle:
            s %= self.length_m
        elif s <= 0 or s >= self.length_m:
            moving = False
            s = min(max(s, 0.0), self.length_m)
        i = min(bisect.bisect_right(self._cum, s) - 1, len(self._bearings) - 1)
        lat, lon = destination(*self.points[i], self._bearings[i], s - self._cum[i])
        # On long legs the great-circle course changes along the way: steer for the leg's end.
        ahead = self._cum[i + 1] - s
        cog = bearing_deg(lat, lon, *self.points[i + 1]) if ahead > 100 else self._bearings[i]
        return Kin(lat, lon, self.speed_kn if moving else 0.0, cog, self.nav_status)


class Orbit:
    """Circling around a (possibly moving) centre at `radius_m`, `speed_kn` along the circle.

    At t0 the vessel is at `angle0` (bearing from the centre); clockwise seen from above.
    """

    def __init__(
        self,
        centre: Motion | LatLon,
        radius_m: float,
        speed_kn: float,
        t0: float,
        angle0: float,
        *,
        clockwise: bool = True,
        nav_status: int | None = None,
    ) -> None:
        self.centre: Motion = Fixed(*centre) if isinstance(centre, tuple) else centre
        self.radius_m = radius_m
        self.speed_kn = speed_kn
        self.t0 = t0
        self.angle0 = angle0
        self.sign = 1.0 if clockwise else -1.0
        self.nav_status = nav_status

    def angle(self, t: float) -> float:
        turned = math.degrees(self.speed_kn * MS_PER_KN * (t - self.t0) / self.radius_m)
        return (self.angle0 + self.sign * turned) % 360

    def at(self, t: float) -> Kin:
        c = self.centre.at(t)
        a = self.angle(t)
        lat, lon = destination(c.lat, c.lon, a, self.radius_m)
        return Kin(lat, lon, self.speed_kn, (a + self.sign * 90) % 360, self.nav_status)


class Fixed:
    """Not moving."""

    def __init__(self, lat: float, lon: float, nav_status: int | None = None) -> None:
        self.lat, self.lon, self.nav_status = lat, lon, nav_status

    def at(self, t: float) -> Kin:
        return Kin(self.lat, self.lon, 0.0, 0.0, self.nav_status)


class Drift:
    """A straight great-circle track from `start` at `t0`, constant speed and bearing."""

    def __init__(
        self,
        start: LatLon,
        bearing: float,
        speed_kn: float,
        t0: float,
        nav_status: int | None = None,
    ) -> None:
        self.start, self.bearing, self.speed_kn, self.t0 = start, bearing, speed_kn, t0
        self.nav_status = nav_status

    def at(self, t: float) -> Kin:
        d = self.speed_kn * MS_PER_KN * (t - self.t0)
        lat, lon = destination(*self.start, self.bearing, d)
        return Kin(lat, lon, self.speed_kn, self.bearing, self.nav_status)


class Offset:
    """Keeping station `distance_m` from a leader, on a fixed bearing from it (alongside)."""

    def __init__(
        self, leader: Motion, bearing: float, distance_m: float, nav_status: int | None = None
    ) -> None:
        self.leader, self.bearing, self.distance_m = leader, bearing, distance_m
        self.nav_status = nav_status

    def at(self, t: float) -> Kin:
        k = self.leader.at(t)
        lat, lon = destination(k.lat, k.lon, self.bearing, self.distance_m)
        return Kin(lat, lon, k.sog, k.cog, self.nav_status)


class Phased:
    """One motion after another: each (start time, motion) holds from its start on; before
    the first start, the first motion."""

    def __init__(self, phases: Sequence[tuple[float, Motion]]) -> None:
        if not phases:
            raise ValueError("no phases")
        self.phases = sorted(phases, key=lambda p: p[0])
        self._starts = [p[0] for p in self.phases]

    def at(self, t: float) -> Kin:
        i = max(0, bisect.bisect_right(self._starts, t) - 1)
        return self.phases[i][1].at(t)


def tow_pattern(
    first: LatLon, heading: float, length_nm: float, spacing_nm: float, tows: int
) -> list[LatLon]:
    """Parallel tows (a trawler working a ground), starting at `first`, then back the way it
    came: use with Route(cycle=True). Each tow is `length_nm` long along `heading`; tows are
    `spacing_nm` apart to starboard."""
    out: list[LatLon] = []
    for i in range(max(1, tows)):
        a = destination(*first, heading + 90, i * spacing_nm * M_PER_NM)
        b = destination(*a, heading, length_nm * M_PER_NM)
        out += [a, b] if i % 2 == 0 else [b, a]
    return out + out[-2:0:-1]


def tow_extent_m(length_nm: float, spacing_nm: float, tows: int) -> float:
    """How far a tow pattern reaches from its first point (an upper bound)."""
    return math.hypot(length_nm, spacing_nm * max(0, tows - 1)) * M_PER_NM


# -- zones ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SimZone:
    """A zone of a zone file (infra/zones/README.md); `fishing` None when it sets no rule."""

    id: str
    kind: str
    state: str | None
    fishing: str | None
    agreement_states: frozenset[str]
    watch: frozenset[str]
    geometry: BaseGeometry  # lon/lat
    authority: str | None = None

    def allows_fishing(self, flag: str | None) -> bool:
        """Whether a vessel of `flag` may fish here by this zone's own rule."""
        if self.fishing in (None, "open"):
            return True
        if self.fishing == "prohibited" or flag is None:
            return False
        if self.fishing == "flag_state_only":
            return flag == self.state
        return flag in self.agreement_states or flag == self.state

    def covers(self, lat: float, lon: float) -> bool:
        return bool(self.geometry.covers(Point(lon, lat)))


Zones = Mapping[str, SimZone]


def default_zones_dir() -> Path:
    """The repository's infra/zones (this file is services/mdx/sim/ais.py)."""
    return Path(__file__).resolve().parents[3] / "infra" / "zones"


def load_zones(directory: Path | None = None) -> dict[str, SimZone]:
    """Every zone of the `*.geojson` files of `directory` (default: the repository's)."""
    folder = directory or default_zones_dir()
    zones: dict[str, SimZone] = {}
    for path in sorted(folder.glob("*.geojson")):
        for feature in json.loads(path.read_text(encoding="utf-8")).get("features", []):
            props = feature["properties"]
            rules = props.get("rules") or {}
            zones[props["id"]] = SimZone(
                id=props["id"],
                kind=props.get("kind", ""),
                state=props.get("state"),
                fishing=rules.get("fishing"),
                agreement_states=frozenset(rules.get("agreement_states") or ()),
                watch=frozenset(rules.get("watch") or ()),
                geometry=shape(feature["geometry"]),
                authority=props.get("authority"),
            )
    if not zones:
        raise FileNotFoundError(f"no zones in {folder}")
    return zones


def zones_at(zones: Zones, lat: float, lon: float) -> list[SimZone]:
    return [z for z in zones.values() if z.covers(lat, lon)]


def may_fish_at(zones: Zones, flag: str | None, lat: float, lon: float) -> bool:
    """Whether every zone at the point that sets a fishing rule allows `flag`."""
    return all(z.allows_fishing(flag) for z in zones_at(zones, lat, lon) if z.fishing)


def _zone(zones: Zones, zone_id: str) -> SimZone:
    try:
        return zones[zone_id]
    except KeyError:
        raise ValueError(f"no zone {zone_id!r} in the zone files") from None


def fishing_region(zones: Zones, flag: str, within: Iterable[str]) -> BaseGeometry:
    """Where a vessel of `flag` may fish inside the zones `within`: every zone with a fishing
    rule that does not allow the flag (other EEZs, MPAs, agreements it is no party to) is cut
    out."""
    inside = ops.unary_union([_zone(zones, z).geometry for z in within])
    banned = [z.geometry for z in zones.values() if z.fishing and not z.allows_fishing(flag)]
    return inside.difference(ops.unary_union(banned)) if banned else inside


def foreign_region(zones: Zones, flag: str, zone_id: str) -> BaseGeometry:
    """Where a vessel of `flag` fishing inside `zone_id` is fishing where it may not: the zone,
    less any zone with a fishing rule that allows the flag (which would override it)."""
    zone = _zone(zones, zone_id)
    if zone.allows_fishing(flag):
        raise ValueError(f"zone {zone_id} allows {flag} vessels to fish")
    allowed = [z.geometry for z in zones.values() if z.fishing and z.allows_fishing(flag)]
    return zone.geometry.difference(ops.unary_union(allowed)) if allowed else zone.geometry


def place(region: BaseGeometry, anchor: LatLon, radius_m: float) -> LatLon:
    """A point near `anchor` (lat, lon) whose disc of `radius_m` lies inside `region`: the
    anchor itself when it fits, else the nearest point that does. ValueError if none does."""
    lat = anchor[0]
    # In degrees, generously: a degree of longitude is shorter than one of latitude.
    r_deg = 1.05 * radius_m / (M_PER_DEG_LAT * math.cos(math.radians(min(abs(lat) + 1, 89))))
    inner = region.buffer(-r_deg)
    if inner.is_empty:
        raise ValueError(f"no room for a disc of {radius_m:.0f} m in the region")
    here = Point(anchor[1], anchor[0])
    if inner.contains(here):
        return anchor
    q = ops.nearest_points(inner.buffer(-r_deg * 0.05), here)[0]
    return (q.y, q.x)


# -- vessels ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Static:
    """What type 5 (Class A) or 24 A/B (Class B) report. `dims`: to bow, stern, port,
    starboard in metres; `eta`: (month, day, hour, minute) UTC or None."""

    name: str
    ship_type: int
    call_sign: str = ""
    imo: int = 0
    dims: tuple[int, int, int, int] = (0, 0, 0, 0)
    destination: str = ""
    eta: tuple[int, int, int, int] | None = None
    draught: float = 0.0


@dataclass(slots=True)
class SimVessel:
    """One AIS station and what it transmits.

    Positions every `report_every_s` at times k * interval + `phase_s` (unix seconds) within
    [active_from, active_until); static data every 6 minutes at k * 360 + `static_phase_s`
    (none for a SART/MOB/EPIRB device: `static` None); `broadcasts`: (time, text) of type 14
    safety broadcasts. `role` names the behaviour the vessel acts in (tests, logs).
    """

    mmsi: str
    motion: Motion
    role: str
    ais_class: Literal["A", "B"] = "A"
    static: Static | None = None
    report_every_s: float = 60.0
    active_from: float = -math.inf
    active_until: float | None = None
    nav_status: int = NAV_UNDER_WAY
    broadcasts: tuple[tuple[float, str], ...] = ()
    jitter_kn: float = 0.1  # reported speed wobbles by about this much
    phase_s: int = 0
    static_phase_s: int = 0

    @property
    def interval_s(self) -> int:
        return max(1, round(self.report_every_s))

    @property
    def flag(self) -> str | None:
        return flag_of(self.mmsi)

    def active(self, t: float) -> bool:
        return self.active_from <= t and (self.active_until is None or t < self.active_until)

    def report_times(self, start: float, end: float) -> Iterator[int]:
        """Position report times in [start, end] (inclusive) while active."""
        yield from _times(self.interval_s, self.phase_s, self, start, end)

    def static_times(self, start: float, end: float) -> Iterator[int]:
        if self.static is None:
            return
        yield from _times(STATIC_EVERY_S, self.static_phase_s, self, start, end)

    def reported(self, t: float) -> Kin:
        """The kinematics as the transponder reports them at t: speed and heading wobble a
        little (a deterministic function of t, so any sampling rate sees the same track)."""
        k = self.motion.at(t)
        seed = int(self.mmsi) % 997
        wobble = math.sin(t / 47.0 + seed) * 0.7 + math.sin(t / 13.0 + 2 * seed) * 0.3
        sog = max(0.0, k.sog + self.jitter_kn * wobble) if k.sog > 0 else 0.0
        return Kin(k.lat, k.lon, sog, k.cog, k.nav_status)


def _times(interval: int, phase: int, v: SimVessel, start: float, end: float) -> Iterator[int]:
    lo = max(start, v.active_from)
    # active_until is exclusive; times are whole seconds (and 1e9 + 1e-9 == 1e9 in floats).
    hi = end if v.active_until is None else min(end, math.ceil(v.active_until) - 1)
    k = math.ceil((lo - phase) / interval)
    t = k * interval + phase
    while t <= hi:
        yield t
        t += interval


# -- NMEA -------------------------------------------------------------------------------------


def nmea_checksum(text: str) -> int:
    """XOR of the characters' codes (NMEA sentences and tag blocks alike)."""
    return reduce(xor, (ord(c) for c in text), 0)


def tag_block(at: int, station: str) -> str:
    """NMEA 4.0 tag block `\\c:<unix seconds>,s:<station>*hh\\`."""
    if not station or any(c in station for c in ",*\\!$"):
        raise ValueError(f"station {station!r} cannot be used in a tag block")
    body = f"c:{int(at)},s:{station}"
    return f"\\{body}*{nmea_checksum(body):02X}\\"


class NmeaEncoder:
    """Encodes messages as tagged !AIVDM lines of one receiving station: channel A and B in
    turn, sequential message ids 0-9 in turn for multi-sentence messages.

    Static data does not change between transmissions: with a `cache_key` the sentences are
    encoded once per (key, channel, sequence id) and reused.
    """

    def __init__(self, station: str) -> None:
        tag_block(0, station)  # validates the station
        self.station = station
        self._channel = 0
        self._seq = 0
        self._cache: dict[tuple[Hashable, str, int], list[str]] = {}

    def encode(
        self, data: dict[str, Any], at: int, cache_key: Hashable | None = None
    ) -> tuple[str, ...]:
        channel = "AB"[self._channel]
        self._channel ^= 1
        key = (cache_key, channel, self._seq)
        sentences = self._cache.get(key) if cache_key is not None else None
        if sentences is None:
            # pyais 3.3 encodes a type 2 or 3 as type 1 unless msg_type is given as well.
            fields = data | {"msg_type": data["type"]}
            sentences = encode_dict(
                fields, talker_id="AI", sentence_type="VDM", radio_channel=channel, seq_id=self._seq
            )
            if cache_key is not None:
                self._cache[key] = sentences
        if len(sentences) > 1:
            self._seq = (self._seq + 1) % 10
        tag = tag_block(at, self.station)
        return tuple(tag + s for s in sentences)


@dataclass(frozen=True, slots=True)
class AisMessage:
    """One AIS message: its lines (2 for a type 5), the time they carry, who sent it."""

    at: int  # unix seconds (the tag block's c:)
    mmsi: str
    msg_type: int
    lines: tuple[str, ...]


_POSITION, _STATIC, _BROADCAST = 0, 1, 2


def generate(
    vessels: Sequence[SimVessel], start: float, end: float | None, station: str
) -> Iterator[AisMessage]:
    """Every message of `vessels` from `start` to `end` (inclusive; None: forever), in time
    order (ties: positions, then static data, then broadcasts; then vessel order)."""
    enc = NmeaEncoder(station)
    horizon = math.inf if end is None else end
    heap: list[tuple[int, int, int, Iterator[int]]] = []
    for i, v in enumerate(vessels):
        streams = [
            (_POSITION, v.report_times(start, horizon)),
            (_STATIC, v.static_times(start, horizon)),
            (_BROADCAST, iter(sorted(math.ceil(t) for t, _ in v.broadcasts if start <= t))),
        ]
        for kind, times in streams:
            _push(heap, kind, i, times)
    texts = [dict((math.ceil(t), s) for t, s in v.broadcasts) for v in vessels]
    while heap:
        at, kind, i, times = heapq.heappop(heap)
        if at > horizon:
            break
        v = vessels[i]
        if kind == _POSITION:
            yield _position(enc, v, at)
        elif kind == _STATIC:
            yield from _statics(enc, v, at)
        else:
            data = {"type": 14, "mmsi": int(v.mmsi), "text": texts[i][at]}
            yield AisMessage(at, v.mmsi, 14, enc.encode(data, at))
        _push(heap, kind, i, times)


def _push(
    heap: list[tuple[int, int, int, Iterator[int]]], kind: int, i: int, times: Iterator[int]
) -> None:
    t = next(times, None)
    if t is not None:
        heapq.heappush(heap, (t, kind, i, times))


def _position(enc: NmeaEncoder, v: SimVessel, at: int) -> AisMessage:
    k = v.reported(at)
    common: dict[str, Any] = {
        "mmsi": int(v.mmsi),
        "lat": round(k.lat, 6),
        "lon": round(k.lon, 6),
        "speed": round(k.sog, 1),
        "course": round(k.cog, 1) % 360,  # 359.96 would round to 360.0: "not available"
        "second": at % 60,
        "accuracy": 1,
    }
    device = v.static is None
    heading = 511 if device else round(k.cog + 2 * math.sin(at / 131.0)) % 360
    if v.ais_class == "B":
        data = common | {"type": 18, "heading": heading, "cs": 1, "dsc": 1, "band": 1, "msg22": 1}
    else:
        # Type 3 (a reply to an interrogation) now and then; devices send type 1 only.
        msg_type = 3 if not device and (at // v.interval_s) % 10 == 9 else 1
        status = k.nav_status if k.nav_status is not None else v.nav_status
        data = common | {"type": msg_type, "heading": heading, "status": status}
    return AisMessage(at, v.mmsi, int(data["type"]), enc.encode(data, at))


def _statics(enc: NmeaEncoder, v: SimVessel, at: int) -> Iterator[AisMessage]:
    s = v.static
    assert s is not None
    bow, stern, port, starboard = s.dims
    mmsi = int(v.mmsi)
    if v.ais_class == "A":
        month, day, hour, minute = s.eta or (0, 0, 24, 60)
        data = {
            "type": 5,
            "mmsi": mmsi,
            "ais_version": 2,
            "imo": s.imo,
            "callsign": s.call_sign,
            "shipname": s.name,
            "ship_type": s.ship_type,
            "to_bow": bow,
            "to_stern": stern,
            "to_port": port,
            "to_starboard": starboard,
            "epfd": 1,
            "month": month,
            "day": day,
            "hour": hour,
            "minute": minute,
            "draught": s.draught,
            "destination": s.destination,
            "dte": 0,
        }
        yield AisMessage(at, v.mmsi, 5, enc.encode(data, at, cache_key=(v.mmsi, 5)))
        return
    part_a = {"type": 24, "mmsi": mmsi, "partno": 0, "shipname": s.name}
    part_b = {
        "type": 24,
        "mmsi": mmsi,
        "partno": 1,
        "ship_type": s.ship_type,
        "vendorid": "SIM",
        "callsign": s.call_sign,
        "to_bow": bow,
        "to_stern": stern,
        "to_port": port,
        "to_starboard": starboard,
    }
    yield AisMessage(at, v.mmsi, 24, enc.encode(part_a, at, cache_key=(v.mmsi, "24A")))
    yield AisMessage(at, v.mmsi, 24, enc.encode(part_b, at, cache_key=(v.mmsi, "24B")))


@dataclass(frozen=True, slots=True)
class Batch:
    """Lines to publish together: whole messages, in time order."""

    first_at: int
    last_at: int
    lines: tuple[str, ...]


def batches(
    messages: Iterable[AisMessage],
    *,
    max_lines: int = 50,
    slice_s: int = 1,
    live_after: float | None = None,
) -> Iterator[Batch]:
    """Group messages into batches of at most `max_lines` lines (a message's sentences are
    never split) spanning less than `slice_s` seconds; after `live_after`, one second at
    most, and never across `live_after`."""
    lines: list[str] = []
    first = last = 0
    for m in messages:
        live = live_after is not None and m.at > live_after
        span = 1 if live else max(1, slice_s)
        if lines and (
            m.at - first >= span
            or len(lines) + len(m.lines) > max_lines
            or (live and live_after is not None and first <= live_after)
        ):
            yield Batch(first, last, tuple(lines))
            lines = []
        if not lines:
            first = m.at
        lines.extend(m.lines)
        last = m.at
    if lines:
        yield Batch(first, last, tuple(lines))


# -- behaviours -------------------------------------------------------------------------------

MIDS: Final[dict[str, tuple[int, ...]]] = {
    "JP": (431, 432),
    "KR": (440, 441),
    "CN": (412, 413, 414),
    "TW": (416,),
    "PA": (351, 352, 353, 354, 355, 356, 357, 370, 371, 372, 373),
    "LR": (636,),
    "MH": (538,),
    "SG": (563, 564, 565, 566),
    "HK": (477,),
    "US": (338, 366, 367, 368, 369),
    "FM": (510,),
    "VU": (576, 577),
}
CALL_SIGN_PREFIXES: Final[dict[str, tuple[str, ...]]] = {
    "JP": ("JA", "JD", "7J", "8J"),
    "KR": ("DS", "DT", "D7", "6K"),
    "CN": ("BA", "BQ", "BY", "BZ"),
    "TW": ("BM", "BN", "BV"),
    "PA": ("3E", "3F", "H3", "HO", "HP"),
    "LR": ("A8", "D5", "5L"),
    "MH": ("V7",),
    "SG": ("9V", "S6"),
    "HK": ("VR",),
    "US": ("WD", "WC", "WDK"),
    "FM": ("V6",),
    "VU": ("YJ",),
}
_MERCHANT_WORDS = (
    ("PACIFIC", "ORIENT", "GOLDEN", "BLUE", "SUNNY", "GRAND", "EVER", "OCEAN", "NORTHERN"),
    ("PIONEER", "HARMONY", "GLORY", "TRADER", "SPIRIT", "EXPRESS", "VENTURE", "BRIDGE", "DREAM"),
)
_FISHING_NAMES: Final[dict[str, tuple[str, ...]]] = {
    "JP": ("KAIYO MARU", "SHINSEI MARU", "FUKU MARU", "TAISEI MARU", "HOKO MARU", "SEIWA MARU"),
    "KR": ("DAE JIN", "HAN SUNG", "SAM YANG", "DONG WON", "O YANG", "SEO HAE"),
    "CN": ("LU RONG YU", "ZHE LING YU", "MIN JIN YU", "LIAO DAN YU", "SU YAN YU"),
    "TW": ("SHENG FA", "HSIN HUA", "CHIN CHUN", "YUH YOW"),
    "US": ("ISLAND GIRL", "LADY MARIANA", "PACIFIC BELLE", "SEA HUNTER", "TRADEWIND"),
    "FM": ("MICRONESIAN", "KOSRAE STAR", "POHNPEI"),
}


def imo_number(rng: random.Random) -> int:
    """A 7-digit IMO number with a correct check digit."""
    digits = [rng.randint(1, 9)] + [rng.randint(0, 9) for _ in range(5)]
    check = sum(d * w for d, w in zip(digits, range(7, 1, -1), strict=True)) % 10
    return int("".join(map(str, digits)) + str(check))


def call_sign(flag: str, rng: random.Random) -> str:
    prefix = rng.choice(CALL_SIGN_PREFIXES.get(flag, ("XX",)))
    return prefix + "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789") for _ in range(3))


def eta_of(at: float) -> tuple[int, int, int, int]:
    d = datetime.fromtimestamp(at, UTC)
    return (d.month, d.day, d.hour, d.minute)


def fishing_static(name: str, flag: str, rng: random.Random, length_m: int = 45) -> Static:
    beam = max(6, length_m // 6)
    return Static(
        name=name,
        ship_type=SHIP_TYPE_FISHING,
        call_sign=call_sign(flag, rng),
        dims=(round(length_m * 0.7), round(length_m * 0.3), beam // 2, beam - beam // 2),
        destination="FISHING GROUND",
        draught=round(rng.uniform(2.5, 5.0), 1),
    )


@dataclass
class Context:
    """What behaviours need to build their vessels: zones, the time layout and the seed."""

    zones: Zones
    now: int  # end of the history window, unix seconds
    start: int  # start of the history window
    seed: int = 1
    report_every_s: float = 60.0
    used_mmsis: set[str] = field(default_factory=set)

    def rng(self, key: str) -> random.Random:
        return random.Random(f"{self.seed}:{key}")

    def t(self, minutes: float | None) -> float | None:
        """A time relative to now, in minutes (negative: in the past); None stays None."""
        return None if minutes is None else self.now + minutes * 60

    def claim(self, mmsi: str) -> str:
        if mmsi in self.used_mmsis:
            raise ValueError(f"MMSI {mmsi} is used twice in the scenario")
        self.used_mmsis.add(mmsi)
        return mmsi

    def new_mmsi(self, flag: str, rng: random.Random) -> str:
        while True:
            mmsi = f"{rng.choice(MIDS[flag])}{rng.randint(100000, 699999)}"
            if mmsi not in self.used_mmsis:
                return self.claim(mmsi)

    def phases(self, v: SimVessel, rng: random.Random) -> SimVessel:
        v.phase_s = rng.randrange(v.interval_s)
        v.static_phase_s = rng.randrange(STATIC_EVERY_S)
        return v


class Behaviour(Protocol):
    def vessels(self, ctx: Context) -> list[SimVessel]: ...


@dataclass(frozen=True)
class Lane:
    """A shipping lane: merchant ships go back and forth along it."""

    name: str
    points: tuple[LatLon, ...]
    ports: tuple[str, str]  # the destinations at either end
    flags: tuple[str, ...] = ("PA", "LR", "MH", "SG", "HK")
    tanker_share: float = 0.25
    passenger: bool = False


@dataclass(frozen=True)
class Ground:
    """A fishing ground: vessels of `flags` tow there at 2.6-4 kn, where their flag may fish
    inside the zones `within` (the ground is moved if its anchor is too close to an edge)."""

    name: str
    anchor: LatLon
    radius_nm: float
    flags: tuple[str, ...]
    within: tuple[str, ...]
    class_b_share: float = 0.5


@dataclass(frozen=True)
class Background:
    """Merchant ships on lanes and fishing fleets at work, legal everywhere they go."""

    lanes: tuple[Lane, ...]
    grounds: tuple[Ground, ...]
    count: int = 60
    merchant_share: float = 0.55
    role: str = "background"

    def vessels(self, ctx: Context) -> list[SimVessel]:
        rng = ctx.rng("background")
        merchants = round(self.count * self.merchant_share) if self.grounds else self.count
        if not self.lanes:
            merchants = 0
        out: list[SimVessel] = []
        centres: dict[tuple[str, str], LatLon] = {}
        for i in range(self.count):
            if i < merchants:
                v = self._merchant(ctx, rng, self.lanes[i % len(self.lanes)])
            else:
                ground = self.grounds[(i - merchants) % len(self.grounds)]
                v = self._fishing(ctx, rng, ground, centres)
            out.append(ctx.phases(v, rng))
        return out

    def _merchant(self, ctx: Context, rng: random.Random, lane: Lane) -> SimVessel:
        flag = rng.choice(lane.flags)
        mmsi = ctx.new_mmsi(flag, rng)
        if lane.passenger:
            kind, ship_type, speed = "passenger", SHIP_TYPE_PASSENGER, rng.uniform(15, 20)
        elif rng.random() < lane.tanker_share:
            kind, ship_type, speed = "tanker", SHIP_TYPE_TANKER, rng.uniform(10, 14)
        else:
            kind, ship_type, speed = "cargo", SHIP_TYPE_CARGO, rng.uniform(12, 18)
        dlat, dlon = rng.uniform(-0.01, 0.01), rng.uniform(-0.01, 0.01)
        pts = [(la + dlat, lo + dlon) for la, lo in lane.points]
        route = Route(pts + pts[-2:0:-1], speed, ctx.now, offset_m=0.0)
        route.offset_m = rng.uniform(0, route.length_m)
        outbound = route.offset_m < route.length_m / 2
        length = rng.randint(120, 300) if kind != "passenger" else rng.randint(100, 180)
        beam = min(60, max(18, length // 7))
        name = f"{rng.choice(_MERCHANT_WORDS[0])} {rng.choice(_MERCHANT_WORDS[1])}"
        static = Static(
            name=name,
            ship_type=ship_type,
            call_sign=call_sign(flag, rng),
            imo=imo_number(rng),
            dims=(round(length * 0.8), round(length * 0.2), beam // 2, beam - beam // 2),
            destination=lane.ports[1] if outbound else lane.ports[0],
            eta=eta_of(ctx.now + rng.uniform(6, 72) * 3600),
            draught=round(rng.uniform(6.0, 14.5), 1),
        )
        return SimVessel(
            mmsi, route, f"{self.role}:{kind}:{lane.name}", "A", static, ctx.report_every_s
        )

    def _fishing(
        self,
        ctx: Context,
        rng: random.Random,
        ground: Ground,
        centres: dict[tuple[str, str], LatLon],
    ) -> SimVessel:
        flag = rng.choice(ground.flags)
        mmsi = ctx.new_mmsi(flag, rng)
        length_nm, spacing, tows = rng.uniform(1.5, 4.0), rng.uniform(0.3, 0.7), rng.randint(2, 5)
        centre = centres.get((ground.name, flag))
        if centre is None:
            # Room for the ground, the longest tow pattern and a mile to spare.
            reach = (ground.radius_nm + 1) * M_PER_NM + tow_extent_m(4.0, 0.7, 5)
            region = fishing_region(ctx.zones, flag, ground.within)
            centre = centres[(ground.name, flag)] = place(region, ground.anchor, reach)
        first = destination(
            *centre,
            rng.uniform(0, 360),
            ground.radius_nm * M_PER_NM * math.sqrt(rng.random()),
        )
        pts = tow_pattern(first, rng.uniform(0, 360), length_nm, spacing, tows)
        route = Route(pts, rng.uniform(2.6, 4.0), ctx.now, nav_status=NAV_FISHING)
        route.offset_m = rng.uniform(0, route.length_m)
        ais_class: Literal["A", "B"] = "B" if rng.random() < ground.class_b_share else "A"
        names = _FISHING_NAMES.get(flag, ("FISHER",))
        number = rng.randint(1, 99 if flag != "CN" else 99999)
        name = f"{rng.choice(names)} {'NO.' if flag == 'JP' else ''}{number}"
        static = fishing_static(name, flag, rng, rng.randint(15, 30 if ais_class == "B" else 70))
        return SimVessel(
            mmsi, route, f"{self.role}:fishing:{ground.name}", ais_class, static, ctx.report_every_s
        )


def _trawler(
    region: BaseGeometry,
    anchor: LatLon,
    t0: float,
    sog_kn: float,
    tow_length_nm: float,
    tow_spacing_nm: float,
    tows: int,
    heading: float,
) -> Route:
    """A tow pattern placed in `region` near `anchor` (its middle about the placed point),
    worked from t0 on."""
    reach = tow_extent_m(tow_length_nm, tow_spacing_nm, tows)
    centre = place(region, anchor, reach + 0.5 * M_PER_NM)
    first = destination(
        *destination(*centre, heading + 180, tow_length_nm * M_PER_NM / 2),
        heading - 90,
        tow_spacing_nm * M_PER_NM * (tows - 1) / 2,
    )
    pts = tow_pattern(first, heading, tow_length_nm, tow_spacing_nm, tows)
    return Route(pts, sog_kn, t0, nav_status=NAV_FISHING)


@dataclass(frozen=True)
class ForeignFishing:
    """A fishing vessel (ship type 30) towing at about `sog_kn` inside `zone_id`, where its
    flag (by MMSI) may not fish, from `start_min` to `end_min` (minutes from now; None: on
    and on). Placed near `anchor` but wholly inside the zone's forbidden part."""

    mmsi: str
    name: str
    zone_id: str
    anchor: LatLon
    start_min: float = -150.0
    end_min: float | None = None
    sog_kn: float = 3.0
    heading: float = 30.0
    tow_length_nm: float = 2.5
    tow_spacing_nm: float = 0.4
    tows: int = 4
    report_every_s: float | None = None
    role: str = "foreign_fishing"

    def vessels(self, ctx: Context) -> list[SimVessel]:
        rng = ctx.rng(self.role + self.mmsi)
        flag = _flag(self.mmsi)
        t0 = ctx.now + self.start_min * 60
        route = _trawler(
            foreign_region(ctx.zones, flag, self.zone_id),
            self.anchor,
            t0,
            self.sog_kn,
            self.tow_length_nm,
            self.tow_spacing_nm,
            self.tows,
            self.heading,
        )
        v = SimVessel(
            ctx.claim(self.mmsi),
            route,
            self.role,
            "A",
            fishing_static(self.name, flag, rng, 50),
            self.report_every_s or ctx.report_every_s,
            active_from=t0,
            active_until=ctx.t(self.end_min),
            nav_status=NAV_FISHING,
        )
        return [ctx.phases(v, rng)]


@dataclass(frozen=True)
class GoingDark:
    """A fishing vessel towing inside `zone_id` (where its flag may fish), reporting every
    `report_every_s` from `start_min`, silent from `dark_min` on (minutes from now)."""

    mmsi: str
    name: str
    zone_id: str
    anchor: LatLon
    start_min: float = -300.0
    dark_min: float = -90.0
    sog_kn: float = 3.0
    heading: float = 120.0
    tow_length_nm: float = 2.0
    tow_spacing_nm: float = 0.5
    tows: int = 3
    report_every_s: float = 60.0
    role: str = "going_dark"

    def vessels(self, ctx: Context) -> list[SimVessel]:
        rng = ctx.rng(self.role + self.mmsi)
        flag = _flag(self.mmsi)
        t0 = ctx.now + self.start_min * 60
        route = _trawler(
            fishing_region(ctx.zones, flag, [self.zone_id]),
            self.anchor,
            t0,
            self.sog_kn,
            self.tow_length_nm,
            self.tow_spacing_nm,
            self.tows,
            self.heading,
        )
        v = SimVessel(
            ctx.claim(self.mmsi),
            route,
            self.role,
            "A",
            fishing_static(self.name, flag, rng, 40),
            self.report_every_s,
            active_from=t0,
            active_until=ctx.now + self.dark_min * 60,
            nav_status=NAV_FISHING,
        )
        return [ctx.phases(v, rng)]


@dataclass(frozen=True)
class Encounter:
    """A fishing vessel and a reefer meet at sea (transshipment): the reefer arrives at
    `reefer_kn` from `approach_bearing`, the fishing vessel leaves its tows to come alongside;
    from `meet_min` (minutes from now) for `duration_min` they drift together at `drift_kn`
    `separation_m` apart; then the reefer leaves on `depart_bearing` and the fishing vessel
    goes back to towing. Placed near `anchor` inside `zone_id`, where the fishing vessel's
    flag may fish (so that the encounter is all there is to see)."""

    fishing_mmsi: str
    fishing_name: str
    reefer_mmsi: str
    reefer_name: str  # "... REEFER": reefers have no AIS ship type of their own
    zone_id: str
    anchor: LatLon
    meet_min: float = -215.0
    duration_min: float = 150.0
    separation_m: float = 60.0
    drift_kn: float = 0.4
    drift_bearing: float = 70.0
    approach_bearing: float = 200.0  # where the reefer comes from, seen from the meeting point
    depart_bearing: float = 180.0
    reefer_kn: float = 11.0
    fishing_kn: float = 3.0
    reefer_type: int = SHIP_TYPE_CARGO
    report_every_s: float | None = None
    role: str = "encounter"

    def vessels(self, ctx: Context) -> list[SimVessel]:
        rng = ctx.rng(self.role + self.fishing_mmsi)
        flag = _flag(self.fishing_mmsi)
        region = fishing_region(ctx.zones, flag, [self.zone_id])
        meet = place(region, self.anchor, 6 * M_PER_NM)
        t_meet = ctx.now + self.meet_min * 60
        t_end = t_meet + self.duration_min * 60
        every = self.report_every_s or ctx.report_every_s

        # The reefer: approach, drift, depart (and on along a long lane, so it never falls
        # silent inside a watched zone).
        drift = Drift(meet, self.drift_bearing, self.drift_kn, t_meet)
        far = destination(*meet, self.approach_bearing, 40 * M_PER_NM)
        approach = Route([far, meet], self.reefer_kn, 0.0, cycle=False)
        approach.t0 = t_meet - approach.duration_s
        out_pt = drift.at(t_end)
        away = destination(out_pt.lat, out_pt.lon, self.depart_bearing, 150 * M_PER_NM)
        depart = Route([(out_pt.lat, out_pt.lon), away], self.reefer_kn, t_end)
        reefer_motion = Phased([(-math.inf, approach), (t_meet, drift), (t_end, depart)])

        # The fishing vessel: tows nearby, comes alongside over the last 30 minutes, keeps
        # station abeam during the drift, then tows again from where the drift ended.
        alongside = Offset(drift, self.drift_bearing + 90, self.separation_m, NAV_UNDER_WAY)
        t_go = t_meet - 30 * 60
        tows_at = destination(*meet, (self.approach_bearing + 120) % 360, 1.5 * M_PER_NM)
        before = Route(
            tow_pattern(tows_at, self.drift_bearing, 1.5, 0.4, 3),
            self.fishing_kn,
            t_go,
            nav_status=NAV_FISHING,
        )
        start = before.at(t_go)
        join = alongside.at(t_meet)
        run_in = Route(
            [(start.lat, start.lon), (join.lat, join.lon)],
            1.0,
            t_go,
            cycle=False,
            nav_status=NAV_UNDER_WAY,
        )
        run_in.speed_kn = max(1.0, run_in.length_m / MS_PER_KN / (30 * 60))
        end = alongside.at(t_end)
        after = Route(
            tow_pattern((end.lat, end.lon), (self.depart_bearing + 90) % 360, 2.0, 0.4, 3),
            self.fishing_kn,
            t_end,
            nav_status=NAV_FISHING,
        )
        fishing_motion = Phased([(-math.inf, before), (t_go, run_in), (t_meet, alongside)])
        fishing_motion = Phased([(-math.inf, fishing_motion), (t_end, after)])

        reefer = SimVessel(
            ctx.claim(self.reefer_mmsi),
            reefer_motion,
            self.role + ":reefer",
            "A",
            Static(
                name=self.reefer_name,
                ship_type=self.reefer_type,
                call_sign=call_sign(_flag(self.reefer_mmsi), rng),
                imo=imo_number(rng),
                dims=(110, 24, 10, 10),
                destination="AT SEA",
                draught=7.5,
            ),
            every,
            jitter_kn=0.05,
        )
        fishing = SimVessel(
            ctx.claim(self.fishing_mmsi),
            fishing_motion,
            self.role + ":fishing",
            "A",
            fishing_static(self.fishing_name, flag, rng, 55),
            every,
            nav_status=NAV_FISHING,
            jitter_kn=0.05,
        )
        return [ctx.phases(fishing, rng), ctx.phases(reefer, rng)]


@dataclass(frozen=True)
class Loitering:
    """A merchant ship that arrives on `approach_bearing`, circles `radius_m` around a point
    of `zone_id` near `anchor` at `sog_kn` from `start_min` for `duration_min`, then leaves
    the way it came at `transit_kn` (and on along a long lane)."""

    mmsi: str
    name: str
    zone_id: str
    anchor: LatLon
    start_min: float = -235.0
    duration_min: float = 210.0
    radius_m: float = 400.0
    sog_kn: float = 1.0
    approach_bearing: float = 200.0
    transit_kn: float = 11.0
    ship_type: int = SHIP_TYPE_CARGO
    report_every_s: float | None = None
    role: str = "loitering"

    def vessels(self, ctx: Context) -> list[SimVessel]:
        rng = ctx.rng(self.role + self.mmsi)
        centre = place(_zone(ctx.zones, self.zone_id).geometry, self.anchor, self.radius_m + 300)
        t_s = ctx.now + self.start_min * 60
        t_e = t_s + self.duration_min * 60
        circle = Orbit(centre, self.radius_m, self.sog_kn, t_s, self.approach_bearing)
        entry = circle.at(t_s)
        far = destination(*centre, self.approach_bearing, 30 * M_PER_NM)
        approach = Route([far, (entry.lat, entry.lon)], self.transit_kn, 0.0, cycle=False)
        approach.t0 = t_s - approach.duration_s
        leave = circle.at(t_e)
        away = destination(leave.lat, leave.lon, self.approach_bearing, 150 * M_PER_NM)
        depart = Route([(leave.lat, leave.lon), away], self.transit_kn, t_e)
        flag = _flag(self.mmsi)
        v = SimVessel(
            ctx.claim(self.mmsi),
            Phased([(-math.inf, approach), (t_s, circle), (t_e, depart)]),
            self.role,
            "A",
            Static(
                name=self.name,
                ship_type=self.ship_type,
                call_sign=call_sign(flag, rng),
                imo=imo_number(rng),
                dims=(150, 40, 14, 14),
                destination="FOR ORDERS",
                eta=eta_of(t_e + 2 * 86400),
                draught=9.8,
            ),
            self.report_every_s or ctx.report_every_s,
            jitter_kn=0.1,
        )
        return [ctx.phases(v, rng)]


@dataclass(frozen=True)
class ManOverboard:
    """A fishing vessel towing near `anchor` in `zone_id` (where it may fish) loses a man
    overboard at `mob_min` (minutes from now; default: just after the live phase starts).

    The device (`device_mmsi`: 970xxxxxx AIS-SART or 972xxxxxx MOB) reports its position
    every `device_every_s` with navigational status 14 while it drifts at `drift_kn`, and
    sends one type 14 `device_text`; the vessel broadcasts one type 14 `vessel_text` 30 s
    after the fall, turns back after `reaction_min`, circles the device `search_radius_m` off
    at `search_kn` until the recovery `active_min` after the fall, when the device is switched
    off and the vessel goes back to towing."""

    vessel_mmsi: str
    vessel_name: str
    device_mmsi: str
    zone_id: str
    anchor: LatLon
    mob_min: float = 3.0
    active_min: float = 40.0
    device_every_s: float = 60.0
    drift_kn: float = 0.5
    drift_bearing: float = 60.0
    reaction_min: float = 3.0
    return_kn: float = 6.0
    search_radius_m: float = 150.0
    search_kn: float = 2.5
    sog_kn: float = 3.0
    heading: float = 75.0
    vessel_text: str = "MOB MAN OVERBOARD"
    device_text: str | None = None  # default: SART ACTIVE or MOB ACTIVE by the device MMSI
    report_every_s: float | None = None
    role: str = "distress"

    def vessels(self, ctx: Context) -> list[SimVessel]:
        if not self.device_mmsi.startswith(("970", "972", "974")):
            raise ValueError(f"{self.device_mmsi} is not a SART/MOB/EPIRB MMSI (970/972/974)")
        rng = ctx.rng(self.role + self.vessel_mmsi)
        flag = _flag(self.vessel_mmsi)
        t_mob = ctx.now + self.mob_min * 60
        t_turn = t_mob + self.reaction_min * 60
        t_rec = t_mob + self.active_min * 60
        towing = _trawler(
            fishing_region(ctx.zones, flag, [self.zone_id]),
            self.anchor,
            ctx.start - 3600,
            self.sog_kn,
            2.5,
            0.5,
            3,
            self.heading,
        )
        fall = towing.at(t_mob)
        device = Drift((fall.lat, fall.lon), self.drift_bearing, self.drift_kn, t_mob, NAV_SART)

        # Back to the device: aim at the point of the search circle facing the vessel, where
        # the device will be when the vessel gets there (two refinements are plenty).
        turn = towing.at(t_turn)
        t_back = t_turn
        for _ in range(3):
            d = device.at(t_back)
            aim_bearing = bearing_deg(d.lat, d.lon, turn.lat, turn.lon)
            aim = destination(d.lat, d.lon, aim_bearing, self.search_radius_m)
            t_back = t_turn + distance_m(turn.lat, turn.lon, *aim) / (self.return_kn * MS_PER_KN)
        run_back = Route([(turn.lat, turn.lon), aim], self.return_kn, t_turn, cycle=False)
        search = Orbit(device, self.search_radius_m, self.search_kn, t_back, aim_bearing)
        rec = search.at(t_rec)
        again = Route(
            tow_pattern((rec.lat, rec.lon), self.heading, 2.5, 0.5, 3),
            self.sog_kn,
            t_rec,
            nav_status=NAV_FISHING,
        )
        motion = Phased([(-math.inf, towing), (t_turn, run_back), (t_back, search), (t_rec, again)])
        vessel = SimVessel(
            ctx.claim(self.vessel_mmsi),
            motion,
            self.role + ":vessel",
            "A",
            fishing_static(self.vessel_name, flag, rng, 35),
            self.report_every_s or ctx.report_every_s,
            nav_status=NAV_FISHING,
            broadcasts=((t_mob + 30, self.vessel_text),),
        )
        default_text = "SART ACTIVE" if self.device_mmsi.startswith("970") else "MOB ACTIVE"
        dev = SimVessel(
            ctx.claim(self.device_mmsi),
            device,
            self.role + ":device",
            "A",
            None,
            self.device_every_s,
            active_from=t_mob,
            active_until=t_rec,
            nav_status=NAV_SART,
            broadcasts=((t_mob, self.device_text or default_text),),
            jitter_kn=0.1,
        )
        ctx.phases(vessel, rng)
        dev.phase_s = math.ceil(t_mob) % dev.interval_s  # the first report at the fall
        return [vessel, dev]


def _flag(mmsi: str) -> str:
    flag = flag_of(mmsi)
    if flag is None:
        raise ValueError(f"MMSI {mmsi} names no flag state")
    return flag


# -- scenario ---------------------------------------------------------------------------------


@dataclass
class Scenario:
    """A node's simulated traffic: the vessels of its behaviours over a time layout."""

    name: str
    now: int
    start: int
    station: str
    behaviours: dict[str, Behaviour]
    vessels: list[SimVessel]

    def messages(
        self, end: float | None = None, start: float | None = None
    ) -> Iterator[AisMessage]:
        """From the start of the history window (or `start`) to `end` (None: on and on)."""
        return generate(self.vessels, self.start if start is None else start, end, self.station)

    def history(self) -> list[AisMessage]:
        """Every message of the history window [start, now]."""
        return list(self.messages(end=self.now))

    def role_of(self) -> dict[str, str]:
        return {v.mmsi: v.role for v in self.vessels}

    def vessel(self, role: str) -> SimVessel:
        """The one vessel of a role (e.g. "going_dark", "encounter:reefer")."""
        found = [v for v in self.vessels if v.role == role]
        if len(found) != 1:
            raise KeyError(f"{len(found)} vessels with role {role!r}")
        return found[0]


def build(
    name: str,
    behaviours: Mapping[str, Behaviour],
    *,
    now: int,
    history_h: float = 4.0,
    seed: int = 1,
    report_every_s: float = 60.0,
    zones: Zones | None = None,
    station: str | None = None,
) -> Scenario:
    """The scenario of these behaviours (scripted ones first: their MMSIs are fixed)."""
    ctx = Context(
        zones=zones if zones is not None else load_zones(),
        now=int(now),
        start=int(now - history_h * 3600),
        seed=seed,
        report_every_s=report_every_s,
    )
    ordered = sorted(behaviours.items(), key=lambda kv: isinstance(kv[1], Background))
    vessels = [v for _, b in ordered for v in b.vessels(ctx)]
    return Scenario(
        name=name,
        now=ctx.now,
        start=ctx.start,
        station=station or f"{name}-sim",
        behaviours=dict(behaviours),
        vessels=vessels,
    )
