"""Simulated vessel traffic in the seas around Japan and Korea (pure, deterministic by seed).

Cargo ships and tankers follow lanes through the Korea Strait and across the East China Sea,
fishing boats work grounds at trawling speed, a patrol vessel sweeps between grounds and
reports what it sees; occasionally something happens that becomes an incident.
"""

from __future__ import annotations

import math
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

# (lat, lon) waypoints. Illustrative lanes, not charted traffic separation schemes.
LANES: dict[str, list[tuple[float, float]]] = {
    "busan-kanmon": [(35.05, 129.05), (34.60, 129.60), (34.10, 130.40), (33.95, 130.85)],
    "shanghai-busan": [
        (31.25, 122.30),
        (32.40, 124.20),
        (33.60, 126.80),
        (34.70, 128.60),
        (35.05, 129.05),
    ],
    "shanghai-osumi": [
        (31.25, 122.30),
        (30.90, 125.50),
        (30.80, 128.50),
        (30.90, 130.85),
        (30.90, 131.60),
    ],
    "busan-tsugaru": [(35.05, 129.05), (37.20, 131.80), (39.90, 136.50), (41.50, 140.10)],
}
# Fishing grounds: centre (lat, lon) and radius in nautical miles.
GROUNDS: dict[str, tuple[float, float, float]] = {
    "tsushima": (34.55, 128.85, 10.0),  # west of the island, in the western channel
    "yamato-bank": (39.50, 135.20, 25.0),
    "east-china-sea": (31.60, 126.30, 35.0),
    "jeju-south": (32.90, 126.60, 15.0),
}
# Allocated Maritime Identification Digits: Japan, Korea, China, Panama, Liberia, Marshall Is.
FLAG_MIDS = {"JP": 431, "KR": 440, "CN": 412, "PA": 351, "LR": 636, "MH": 538}

NM_PER_DEG = 60.0


def imo_with_check_digit(rng: random.Random) -> str:
    digits = [rng.randint(1, 9)] + [rng.randint(0, 9) for _ in range(5)]
    check = sum(d * w for d, w in zip(digits, range(7, 1, -1), strict=True)) % 10
    return "".join(map(str, digits)) + str(check)


@dataclass
class Vessel:
    mmsi: str
    name: str
    kind: str  # cargo, tanker, fishing, patrol
    flag: str
    lat: float
    lon: float
    sog: float
    cog: float
    imo: str | None = None
    route: list[tuple[float, float]] = field(default_factory=list)
    ground: tuple[float, float, float] | None = None

    def step(self, dt_s: float, rng: random.Random) -> None:
        if self.route:
            self._steer_to(self.route[0])
            if _distance_nm(self.lat, self.lon, *self.route[0]) < 1.0:
                self.route.append(self.route.pop(0))  # loop the lane
        elif self.ground:
            glat, glon, radius = self.ground
            self.cog = (self.cog + rng.uniform(-25, 25)) % 360
            if _distance_nm(self.lat, self.lon, glat, glon) > radius:
                self._steer_to((glat, glon))
            self.sog = max(0.5, min(6.0, self.sog + rng.uniform(-0.5, 0.5)))
        nm = self.sog * dt_s / 3600
        rad = math.radians(self.cog)
        self.lat += nm * math.cos(rad) / NM_PER_DEG
        self.lon += nm * math.sin(rad) / (NM_PER_DEG * math.cos(math.radians(self.lat)))

    def _steer_to(self, target: tuple[float, float]) -> None:
        dlat = target[0] - self.lat
        dlon = (target[1] - self.lon) * math.cos(math.radians(self.lat))
        self.cog = math.degrees(math.atan2(dlon, dlat)) % 360

    def position(self, source_type: str, now: datetime) -> dict[str, Any]:
        data: dict[str, Any] = {
            "mmsi": self.mmsi,
            "lat": round(self.lat, 6),
            "lon": round(self.lon, 6),
            "sog": round(self.sog, 1),
            "cog": round(self.cog, 1) % 360,  # 359.96 rounds to 360.0, which AIS means "n/a"
            "heading": round(self.cog) % 360,
            "nav_status": 7 if self.kind == "fishing" else 0,
            "observed_at": now.isoformat().replace("+00:00", "Z"),
            "source_type": source_type,
            "name": self.name,
        }
        if self.imo:
            data["imo"] = self.imo
        return data


def _distance_nm(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    dlat = lat2 - lat1
    dlon = (lon2 - lon1) * math.cos(math.radians((lat1 + lat2) / 2))
    return math.hypot(dlat, dlon) * NM_PER_DEG


def make_fleet(count: int, rng: random.Random) -> list[Vessel]:
    """`count` vessels: one patrol, then merchant ships on lanes and fishing boats by turns."""
    fleet: list[Vessel] = []
    serials: set[int] = set()

    def mmsi(flag: str) -> str:
        while (n := rng.randint(100000, 999999)) in serials:
            pass
        serials.add(n)
        return f"{FLAG_MIDS[flag]}{n}"

    if count < 1:
        return fleet
    for i in range(count - 1):
        if i % 2 == 0:
            lane = list(LANES.values())[i % len(LANES)]
            start = rng.randrange(len(lane))
            route = lane[start:] + lane[:start]
            lat, lon = route[0]
            kind = "tanker" if i % 6 == 0 else "cargo"
            flag = rng.choice(["PA", "LR", "MH", "KR", "JP", "CN"])
            fleet.append(
                Vessel(
                    mmsi(flag),
                    f"{kind.upper()} {i:03d}",
                    kind,
                    flag,
                    lat + rng.uniform(-0.05, 0.05),
                    lon + rng.uniform(-0.05, 0.05),
                    rng.uniform(11, 17),
                    0.0,
                    imo_with_check_digit(rng),
                    route[1:],
                )
            )
        else:
            ground = list(GROUNDS.values())[i % len(GROUNDS)]
            flag = rng.choice(["JP", "KR", "CN", "CN"])
            lat = ground[0] + rng.uniform(-0.2, 0.2)
            lon = ground[1] + rng.uniform(-0.2, 0.2)
            fleet.append(
                Vessel(
                    mmsi(flag),
                    f"FV {flag}-{i:03d}",
                    "fishing",
                    flag,
                    lat,
                    lon,
                    rng.uniform(1, 5),
                    rng.uniform(0, 360),
                    ground=ground,
                )
            )
    tsushima = GROUNDS["tsushima"]
    fleet.append(
        Vessel(
            mmsi("JP"),
            "PATROL SHIKINE",
            "patrol",
            "JP",
            34.2,
            129.9,
            18.0,
            0.0,
            route=[(tsushima[0], tsushima[1]), (31.6, 126.3), (33.2, 129.0)],
        )
    )
    return fleet


INCIDENT_STORIES = ("iuu_fishing", "sar", "pollution", "maritime_safety")


def make_incident(
    fleet: list[Vessel], rng: random.Random, now: datetime
) -> tuple[dict[str, Any], dict[str, Any]]:
    """An incident a patrol or an operator would report, and its handling markings."""
    story = rng.choice(INCIDENT_STORIES)
    fishing = [v for v in fleet if v.kind == "fishing"] or fleet
    merchant = [v for v in fleet if v.kind in ("cargo", "tanker")] or fleet
    vessel = rng.choice(fishing if story in ("iuu_fishing", "sar") else merchant)
    when = now.isoformat().replace("+00:00", "Z")
    base: dict[str, Any] = {
        "incident_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "version": 1,
        "status": "reported",
        "observed_at": when,
        "location": {"type": "Point", "coordinates": [round(vessel.lon, 5), round(vessel.lat, 5)]},
        "vessels": [
            {
                "mmsi": vessel.mmsi,
                "name": vessel.name,
                "flag": vessel.flag,
                "ship_type": vessel.kind,
                "role": "suspect" if story == "iuu_fishing" else "victim",
            }
        ],
    }
    if story == "iuu_fishing":
        base |= {
            "category": "iuu_fishing",
            "severity": "Moderate",
            "certainty": "Likely",
            "urgency": "Expected",
            "title": f"Suspected unlicensed fishing by {vessel.name}",
            "description": "Patrol sighted gear in the water and no licence displayed.",
        }
        markings = {"tlp": "AMBER", "relto": ["kcg"], "purpose": "FisheriesMonitoring"}
    elif story == "sar":
        base |= {
            "category": "sar",
            "severity": "Severe",
            "certainty": "Observed",
            "urgency": "Immediate",
            "title": f"{vessel.name} taking on water",
            "description": "Distress call on VHF 16; crew preparing life rafts.",
            "persons_at_risk": rng.randint(3, 12),
        }
        markings = {"tlp": "GREEN", "purpose": "SAR"}
    elif story == "pollution":
        lon, lat = base["location"]["coordinates"]
        ring = [
            [lon - 0.02, lat - 0.01],
            [lon + 0.02, lat - 0.01],
            [lon + 0.02, lat + 0.01],
            [lon - 0.02, lat + 0.01],
            [lon - 0.02, lat - 0.01],
        ]
        base |= {
            "category": "pollution",
            "severity": "Moderate",
            "certainty": "Observed",
            "urgency": "Expected",
            "title": f"Oil sheen astern of {vessel.name}",
            "location": {
                "type": "Polygon",
                "coordinates": [[[round(x, 5), round(y, 5)] for x, y in ring]],
            },
        }
        markings = {"tlp": "GREEN", "purpose": "EnvironmentResponse"}
    else:
        base |= {
            "category": "maritime_safety",
            "severity": "Minor",
            "certainty": "Observed",
            "urgency": "Future",
            "title": f"{vessel.name} adrift with engine failure",
        }
        markings = {"tlp": "CLEAR", "purpose": "Safety"}
    return base, markings


def utc_now() -> datetime:
    return datetime.now(UTC)
