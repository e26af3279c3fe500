"""The query benchmark's data: a fleet moving around Japan and Korea and the incidents of a month,
under mixed handling markings, written to a node's database with COPY, and the probes (requests)
whose exact answers the generator knows because it placed every row itself.

Rows go straight into the tables ingest fills (positions, vessel_latest, vessel_marked_latest,
the vessel registry and its reports, incidents and their versions) with the same columns and
values ingest would write (mdx.core.store): COPY is the only way to load a million rows in
seconds. Who may see what is `mdx.core.policy.decide`, the one definition the API's SQL filter
must agree with.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import orjson
import psycopg

from mdx.ais.facts import flag_of, ship_category
from mdx.core import policy
from mdx.core.policy import Decision, Marked
from mdx.core.settings import NodeSettings

NODE = "jcg"
PARTNER = "kcg"  # the partner whose signed requests the benchmark makes
# The seas around Japan and Korea (lon, lat), where the fleet moves and incidents happen.
REGION = (123.0, 28.0, 142.0, 42.0)
START = datetime(2026, 11, 1, tzinfo=UTC)
EARTH_RADIUS_M = 6_371_008.8
# Spherical distance differs from PostGIS's spheroid by < 0.5 %: radii are picked so that no
# incident lies in this relative band around the circle, and the expected count is exact.
RADIUS_BAND = 0.008

# (origin, tlp, relto, purpose, weight): what a coast guard's holdings look like.
INCIDENT_MARKINGS: tuple[tuple[str, str, tuple[str, ...], str | None, float], ...] = (
    (NODE, "CLEAR", (), None, 0.25),
    (NODE, "GREEN", (), None, 0.25),
    (NODE, "GREEN", (), "SAR", 0.10),
    (NODE, "GREEN", (), "LawEnforcementMonitoring", 0.05),
    (NODE, "AMBER", ("kcg",), "FisheriesMonitoring", 0.12),
    (NODE, "AMBER", ("uscg",), "LawEnforcementMonitoring", 0.08),
    (NODE, "AMBER", ("kcg", "uscg"), None, 0.05),
    ("kcg", "GREEN", (), None, 0.05),  # a partner's, held here: never shown back to kcg
    ("uscg", "CLEAR", (), None, 0.05),
)
VESSEL_MARKINGS: tuple[tuple[str, str, tuple[str, ...], str | None, float], ...] = (
    (NODE, "GREEN", (), None, 0.65),
    (NODE, "CLEAR", (), None, 0.15),
    (NODE, "AMBER", ("kcg",), "FisheriesMonitoring", 0.05),
    (NODE, "AMBER", ("uscg",), "LawEnforcementMonitoring", 0.05),
    ("kcg", "GREEN", (), None, 0.10),
)
PARTNERS = {
    "kcg": ["SAR", "Safety", "FisheriesMonitoring"],
    "uscg": ["SAR", "Safety", "LawEnforcementMonitoring"],
}
CATEGORIES = ("iuu_fishing", "sar", "piracy_robbery", "pollution", "smuggling", "maritime_safety")
STATUSES = ("reported", "acknowledged", "responding", "resolved", "closed")
MIDS = (431, 432, 440, 441, 412, 413, 416, 273, 351, 538)
SHIP_TYPES = (30, 30, 30, 70, 70, 80, 60, 52, 37)


@dataclass(frozen=True, slots=True)
class Sizes:
    vessels: int
    positions: int
    incidents: int

    @classmethod
    def of(cls, quick: bool) -> Sizes:
        if quick:
            return cls(vessels=200, positions=20_000, incidents=2_000)
        return cls(vessels=4_000, positions=1_000_000, incidents=100_000)


@dataclass(slots=True)
class Dataset:
    """Everything placed in the database, as arrays the probes' answers are counted from."""

    mmsi: list[str]
    vessel_marking: np.ndarray  # index into VESSEL_MARKINGS, per vessel
    vessel_start: np.ndarray  # first and last observation (Unix s), per vessel
    vessel_end: np.ndarray
    pos_vessel: np.ndarray  # per position: its vessel's index
    pos_t: np.ndarray  # Unix seconds
    pos_lon: np.ndarray
    pos_lat: np.ndarray
    inc_lon: np.ndarray
    inc_lat: np.ndarray
    inc_marking: np.ndarray  # index into INCIDENT_MARKINGS
    inc_personal: np.ndarray  # bool: names people
    partner_sees_vessel: np.ndarray = field(init=False)
    partner_sees_incident: np.ndarray = field(init=False)


def partner_settings() -> NodeSettings:
    """The node's policy settings as the benchmark's API runs them (keys are not needed here)."""
    return NodeSettings(
        node={"id": NODE},
        partners=[
            {"id": p, "broker_port": 1, "api_url": "http://127.0.0.1:1", "public_key": "/x",
             "purposes": purposes}
            for p, purposes in PARTNERS.items()
        ],
    )  # fmt: skip


def _released(marking: tuple[str, str, tuple[str, ...], str | None, float], personal: bool) -> bool:
    origin, tlp, relto, purpose, _ = marking
    verdict = policy.decide(Marked(origin, tlp, relto, purpose, personal), PARTNER, _SETTINGS)
    return verdict.decision is not Decision.WITHHOLD


_SETTINGS = partner_settings()


def _fold(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Reflect a coordinate back into [lo, hi]: a vessel turns at the region's edge."""
    period = 2 * (hi - lo)
    y = np.mod(x - lo, period)
    return np.where(y > hi - lo, period - y, y) + lo


def generate(sizes: Sizes, seed: int = 8) -> Dataset:
    rng = np.random.default_rng(seed)
    v, n = sizes.vessels, sizes.positions // sizes.vessels
    mids = rng.choice(MIDS, v)
    mmsi = [f"{mid}{i:06d}" for i, mid in enumerate(mids)]
    weights = np.array([m[-1] for m in VESSEL_MARKINGS])
    vessel_marking = rng.choice(len(VESSEL_MARKINGS), v, p=weights / weights.sum())
    # Each vessel reports n times, evenly over 24-48 h that start within the first day.
    start = START.timestamp() + rng.integers(0, 24 * 3600, v)
    span = rng.integers(24 * 3600, 48 * 3600, v)
    step = span // (n - 1)
    t = start[:, None] + step[:, None] * np.arange(n)[None, :]
    speed_ms = rng.uniform(4, 18, v) * 0.5144
    heading = rng.uniform(0, 2 * math.pi, v)[:, None] + np.cumsum(
        rng.normal(0, 0.12, (v, n)), axis=1
    )
    lon0 = rng.uniform(REGION[0], REGION[2], v)
    lat0 = rng.uniform(REGION[1], REGION[3], v)
    metres = (speed_ms * step)[:, None]
    dlat = np.cumsum(metres * np.cos(heading), axis=1) / 111_320
    dlon = (
        np.cumsum(metres * np.sin(heading), axis=1) / (111_320 * np.cos(np.radians(lat0)))[:, None]
    )
    lat = np.round(_fold(lat0[:, None] + dlat, REGION[1], REGION[3]), 6)
    lon = np.round(_fold(lon0[:, None] + dlon, REGION[0], REGION[2]), 6)
    # Incidents: half spread over the seas, half clustered on fishing grounds and lanes.
    k = sizes.incidents
    spread = k // 2
    centres = np.column_stack(
        [
            rng.uniform(REGION[0] + 1, REGION[2] - 1, 40),
            rng.uniform(REGION[1] + 1, REGION[3] - 1, 40),
        ]
    )
    which = rng.integers(0, 40, k - spread)
    clustered = centres[which] + rng.normal(0, 0.6, (k - spread, 2))
    inc_lon = np.concatenate([rng.uniform(REGION[0], REGION[2], spread), clustered[:, 0]])
    inc_lat = np.concatenate([rng.uniform(REGION[1], REGION[3], spread), clustered[:, 1]])
    inc_lon = np.round(np.clip(inc_lon, REGION[0], REGION[2]), 6)
    inc_lat = np.round(np.clip(inc_lat, REGION[1], REGION[3]), 6)
    iw = np.array([m[-1] for m in INCIDENT_MARKINGS])
    data = Dataset(
        mmsi=mmsi,
        vessel_marking=vessel_marking,
        vessel_start=t[:, 0].astype(np.int64),
        vessel_end=t[:, -1].astype(np.int64),
        pos_vessel=np.repeat(np.arange(v), n),
        pos_t=t.ravel().astype(np.int64),
        pos_lon=lon.ravel(),
        pos_lat=lat.ravel(),
        inc_lon=inc_lon,
        inc_lat=inc_lat,
        inc_marking=rng.choice(len(INCIDENT_MARKINGS), k, p=iw / iw.sum()),
        inc_personal=rng.random(k) < 0.05,
    )
    sees_vessel = [_released(m, False) for m in VESSEL_MARKINGS]
    data.partner_sees_vessel = np.array(sees_vessel)[data.vessel_marking]
    sees = {(i, p): _released(m, p) for i, m in enumerate(INCIDENT_MARKINGS) for p in (False, True)}
    data.partner_sees_incident = np.array(
        [sees[(int(i), bool(p))] for i, p in zip(data.inc_marking, data.inc_personal, strict=True)]
    )
    return data


# --- writing ------------------------------------------------------------------------------------


def _array(values: tuple[str, ...]) -> str:
    return "{" + ",".join(values) + "}"


def _null(value: str | None) -> str:
    return "\\N" if value is None else value


def _ts(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat()


def _marking_cols(m: tuple[str, str, tuple[str, ...], str | None, float], kind: str) -> str:
    """source, origin, tlp, relto, purpose, received_via, signature, custody (COPY text)."""
    origin, tlp, relto, purpose, _ = m
    partner = origin != NODE
    return "\t".join(
        (
            f"urn:mdx:{origin}:{kind}",
            origin,
            tlp,
            _array(relto),
            _null(purpose),
            origin if partner else "\\N",
            "bench-signature" if partner else "\\N",
            "[]" if partner else "\\N",
        )
    )


_MARK = "source, origin, tlp, relto, purpose, received_via, signature, custody"
_POSITION_COLS = (
    f"{_MARK}, event_id, mmsi, name, observed_at, geom, sog, cog, heading, nav_status, source_type"
)


def _event_id(kind: int, i: int) -> str:
    return f"00000000-0000-4000-{8000 + kind:04x}-{i:012x}"


def _position_lines(d: Dataset, chunk: int = 20_000) -> Iterator[bytes]:
    marks = [_marking_cols(m, "ais1") for m in VESSEL_MARKINGS]
    vessel_marks = [marks[i] for i in d.vessel_marking]
    lines: list[str] = []
    # In time order, as a feed delivers them: a vessel's reports spread over the whole table.
    for i in np.argsort(d.pos_t, kind="stable").tolist():
        v = int(d.pos_vessel[i])
        lines.append(
            f"{vessel_marks[v]}\t{_event_id(1, i)}\t{d.mmsi[v]}\tBENCH {v:05d}\t"
            f"{_ts(int(d.pos_t[i]))}\tSRID=4326;POINT({d.pos_lon[i]} {d.pos_lat[i]})\t"
            f"{8 + v % 10}.5\t{(i * 7) % 360}\t{(i * 7) % 360}\t0\tais-terrestrial\n"
        )
        if len(lines) >= chunk:
            yield "".join(lines).encode()
            lines = []
    if lines:
        yield "".join(lines).encode()


_VESSEL_LATEST = """
INSERT INTO vessel_latest (source, event_id, origin, tlp, relto, purpose, received_via,
  signature, custody, mmsi, imo, name, observed_at, geom, sog, cog, heading, nav_status,
  source_type)
SELECT DISTINCT ON (mmsi) source, event_id, origin, tlp, relto, purpose, received_via,
  signature, custody, mmsi, imo, name, observed_at, geom, sog, cog, heading, nav_status,
  source_type
FROM positions ORDER BY mmsi, observed_at DESC
"""
# As migration 0012 fills it from a stored history.
_VESSEL_MARKED_LATEST = """
INSERT INTO vessel_marked_latest (mmsi, origin, tlp, relto, purpose, observed_at, position_id)
SELECT DISTINCT ON (mmsi, origin, tlp, relto, purpose)
       mmsi, origin, tlp, relto, purpose, observed_at, id
FROM positions ORDER BY mmsi, origin, tlp, relto, purpose, observed_at DESC, id DESC
"""
# The registry as ingest leaves it after one static report per vessel: the report's markings.
_REGISTRY_COLS = (
    f"{_MARK}, event_id, mmsi, flag, category, name, call_sign, ship_type, first_seen_at, static_at"
)


def _registry_lines(d: Dataset) -> Iterator[bytes]:
    rng = np.random.default_rng(9)
    types = rng.choice(SHIP_TYPES, len(d.mmsi))
    marks = [_marking_cols(m, "ais1") for m in VESSEL_MARKINGS]
    for v, mmsi in enumerate(d.mmsi):
        t = _ts(int(d.vessel_start[v]))
        yield (
            f"{marks[d.vessel_marking[v]]}\t{_event_id(2, v)}\t{mmsi}\t{_null(flag_of(mmsi))}\t"
            f"{ship_category(int(types[v]), mmsi)}\tBENCH {v:05d}\tJB{v:05d}\t{types[v]}\t"
            f"{t}\t{t}\n"
        ).encode()


_INCIDENT_MARK_COLS = f"{_MARK}, event_id, incident_id"


def _incident_lines(d: Dataset) -> tuple[list[bytes], list[bytes]]:
    """COPY text for incidents and incident_versions (version 1 of each)."""
    rng = np.random.default_rng(10)
    marks = [_marking_cols(m, "ops1") for m in INCIDENT_MARKINGS]
    observed = START.timestamp() - rng.integers(0, 30 * 24 * 3600, len(d.inc_lon))
    categories = rng.integers(0, len(CATEGORIES), len(d.inc_lon))
    statuses = rng.integers(0, len(STATUSES), len(d.inc_lon))
    current: list[bytes] = []
    versions: list[bytes] = []
    for i in range(len(d.inc_lon)):
        incident_id = f"{i:08x}-0000-4000-8000-00000000be4c"
        lon, lat = float(d.inc_lon[i]), float(d.inc_lat[i])
        at = datetime.fromtimestamp(int(observed[i]), UTC).isoformat().replace("+00:00", "Z")
        category, status = CATEGORIES[categories[i]], STATUSES[statuses[i]]
        title = f"Benchmark {category} {i}"
        data: dict[str, Any] = {
            "incident_id": incident_id,
            "version": 1,
            "category": category,
            "status": status,
            "title": title,
            "location": {"type": "Point", "coordinates": [lon, lat]},
            "observed_at": at,
            "severity": "Moderate",
        }
        if d.inc_personal[i]:
            data["persons"] = [{"name": f"Person {i}", "role": "crew"}]
        text = orjson.dumps(data).decode().replace("\\", "\\\\")
        head = f"{marks[d.inc_marking[i]]}\t{_event_id(3, i)}\t{incident_id}"
        current.append(
            f"{head}\t1\t{category}\t{status}\tModerate\t{title}\t{at}\t"
            f"SRID=4326;POINT({lon} {lat})\t{text}\n".encode()
        )
        versions.append(f"{head}\t1\t{text}\n".encode())
    return current, versions


def load(dsn: str, d: Dataset, progress: Any = None) -> dict[str, int]:
    """Write the dataset into a migrated, empty node database; returns the row counts."""
    with psycopg.connect(dsn) as conn:
        with conn.cursor() as cur:
            with cur.copy(f"COPY positions ({_POSITION_COLS}) FROM STDIN") as copy:
                for block in _position_lines(d):
                    copy.write(block)
                    if progress is not None:
                        progress(block.count(b"\n"))
            cur.execute(_VESSEL_LATEST)
            cur.execute(_VESSEL_MARKED_LATEST)
            with cur.copy(f"COPY vessels ({_REGISTRY_COLS}) FROM STDIN") as copy:
                for line in _registry_lines(d):
                    copy.write(line)
            cur.execute(
                f"""INSERT INTO vessel_reports ({_MARK}, event_id, mmsi, observed_at, data)
                SELECT {_MARK}, event_id, mmsi, static_at,
                       jsonb_build_object('mmsi', mmsi, 'name', name, 'ship_type', ship_type,
                                          'call_sign', call_sign)
                FROM vessels"""
            )
            current, versions = _incident_lines(d)
            cols = (
                f"{_INCIDENT_MARK_COLS}, version, category, status, severity, title, "
                "observed_at, geom, data"
            )
            with cur.copy(f"COPY incidents ({cols}) FROM STDIN") as copy:
                for line in current:
                    copy.write(line)
            with cur.copy(
                f"COPY incident_versions ({_INCIDENT_MARK_COLS}, version, data) FROM STDIN"
            ) as copy:
                for line in versions:
                    copy.write(line)
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")
        # The load's dirty pages written out now, not by a checkpoint during the measurements
        # (a role that may not checkpoint leaves it to the server's schedule).
        with contextlib.suppress(psycopg.errors.InsufficientPrivilege):
            conn.execute("CHECKPOINT")
        counts = {}
        for table in ("positions", "vessel_latest", "vessels", "incidents"):
            row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
            counts[table] = int(row[0]) if row else 0
    return counts


# --- probes -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Probe:
    """One request and the number of rows its answer must hold for the operator and for the
    partner (None: not asked as the partner); `matched` likewise for OGC `numberMatched`."""

    kind: str
    path: str
    rows: int
    partner_rows: int | None
    matched: int | None = None
    partner_matched: int | None = None


KINDS = (
    "incidents_bbox",
    "vessels_bbox",
    "incidents_radius",
    "track_24h",
    "ogc_incidents",
    "ogc_vessels",
    "ogc_positions",
)
# p99 targets of the issue (ms); OGC items are judged by throughput against pygeoapi.
TARGETS_MS = {"incidents_bbox": 50, "vessels_bbox": 50, "incidents_radius": 100, "track_24h": 50}
OGC_COLLECTIONS = {
    "ogc_incidents": "incidents",
    "ogc_vessels": "vessels",
    "ogc_positions": "positions",
}
OGC_LIMIT = 100
BBOX_LIMIT = 1000


def _box_text(box: tuple[float, float, float, float]) -> str:
    return ",".join(repr(c) for c in box)


def _in_box(lon: np.ndarray, lat: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    mask: np.ndarray = (lon >= box[0]) & (lon <= box[2]) & (lat >= box[1]) & (lat <= box[3])
    return mask


def _random_box(
    rng: np.random.Generator, lo: float, hi: float
) -> tuple[float, float, float, float]:
    w, h = rng.uniform(lo, hi), rng.uniform(lo, hi)
    x = rng.uniform(REGION[0], REGION[2] - w)
    y = rng.uniform(REGION[1], REGION[3] - h)
    return (round(x, 4), round(y, 4), round(x + w, 4), round(y + h, 4))


def _boxes(
    rng: np.random.Generator,
    lon: np.ndarray,
    lat: np.ndarray,
    count: int,
    side: tuple[float, float],
    most: int,
) -> Iterator[tuple[tuple[float, float, float, float], np.ndarray]]:
    """`count` boxes holding 1..`most` of the points, each with its mask."""
    made = 0
    lo, hi = side
    while made < count:
        box = _random_box(rng, lo, hi)
        mask = _in_box(lon, lat, box)
        n = int(mask.sum())
        if 1 <= n <= most:
            made += 1
            yield box, mask
        elif n > most:
            hi = max(lo * 1.01, hi * 0.97)  # a dense area: smaller boxes from now on


def _haversine(lon: np.ndarray, lat: np.ndarray, lon0: float, lat0: float) -> np.ndarray:
    p1, p2 = np.radians(lat), math.radians(lat0)
    dp, dl = p1 - p2, np.radians(lon - lon0)
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * math.cos(p2) * np.sin(dl / 2) ** 2
    distance: np.ndarray = 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(a))
    return distance


def _iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


def probes(d: Dataset, per_kind: int, seed: int = 11) -> dict[str, list[Probe]]:
    """`per_kind` distinct requests of each kind, with the rows each answer must hold."""
    rng = np.random.default_rng(seed)
    out: dict[str, list[Probe]] = {k: [] for k in KINDS}
    sees_inc = d.partner_sees_incident
    for box, mask in _boxes(rng, d.inc_lon, d.inc_lat, per_kind, (0.2, 1.5), BBOX_LIMIT):
        n, p = int(mask.sum()), int((mask & sees_inc).sum())
        path = f"/api/v1/incidents?bbox={_box_text(box)}&limit={BBOX_LIMIT}"
        out["incidents_bbox"].append(Probe("incidents_bbox", path, n, p))
    for box, mask in _boxes(rng, d.inc_lon, d.inc_lat, per_kind, (0.5, 3.0), 100_000):
        n, p = int(mask.sum()), int((mask & sees_inc).sum())
        path = f"/ogcapi/collections/incidents/items?limit={OGC_LIMIT}&bbox={_box_text(box)}"
        out["ogc_incidents"].append(
            Probe("ogc_incidents", path, min(n, OGC_LIMIT), min(p, OGC_LIMIT), n, p)
        )
    # Latest positions: the last report of each vessel (every vessel's markings are one set).
    last = np.cumsum(np.bincount(d.pos_vessel)) - 1
    vlon, vlat = d.pos_lon[last], d.pos_lat[last]
    sees_v = d.partner_sees_vessel
    for box, mask in _boxes(rng, vlon, vlat, per_kind, (1.0, 5.0), BBOX_LIMIT):
        n, p = int(mask.sum()), int((mask & sees_v).sum())
        path = f"/api/v1/vessels?bbox={_box_text(box)}"
        out["vessels_bbox"].append(Probe("vessels_bbox", path, n, p))
    for box, mask in _boxes(rng, vlon, vlat, per_kind, (1.0, 5.0), 100_000):
        n, p = int(mask.sum()), int((mask & sees_v).sum())
        path = f"/ogcapi/collections/vessels/items?limit={OGC_LIMIT}&bbox={_box_text(box)}"
        out["ogc_vessels"].append(
            Probe("ogc_vessels", path, min(n, OGC_LIMIT), min(p, OGC_LIMIT), n, p)
        )
    sees_pos = sees_v[d.pos_vessel]
    for box, mask in _boxes(rng, d.pos_lon, d.pos_lat, per_kind, (0.3, 1.5), 10**9):
        n, p = int(mask.sum()), int((mask & sees_pos).sum())
        path = f"/ogcapi/collections/positions/items?limit={OGC_LIMIT}&bbox={_box_text(box)}"
        out["ogc_positions"].append(
            Probe("ogc_positions", path, min(n, OGC_LIMIT), min(p, OGC_LIMIT))
        )
    while len(out["incidents_radius"]) < per_kind:
        i = int(rng.integers(0, len(d.inc_lon)))
        lon0 = round(float(d.inc_lon[i]) + rng.uniform(-0.1, 0.1), 4)
        lat0 = round(float(d.inc_lat[i]) + rng.uniform(-0.1, 0.1), 4)
        radius = float(round(rng.uniform(5_000, 40_000)))
        dist = _haversine(d.inc_lon, d.inc_lat, lon0, lat0)
        near_edge = np.abs(dist - radius) < radius * RADIUS_BAND
        inside = dist < radius
        n = int(inside.sum())
        if near_edge.any() or not 1 <= n <= BBOX_LIMIT:
            continue
        path = f"/api/v1/incidents?near={lon0},{lat0}&radius_m={radius:.0f}&limit={BBOX_LIMIT}"
        out["incidents_radius"].append(
            Probe("incidents_radius", path, n, int((inside & sees_inc).sum()))
        )
    while len(out["track_24h"]) < per_kind:
        v = int(rng.integers(0, len(d.mmsi)))
        room = int(d.vessel_end[v] - d.vessel_start[v]) - 24 * 3600
        since = int(d.vessel_start[v]) + int(rng.integers(0, max(room, 1)))
        until = since + 24 * 3600
        t = d.pos_t[d.pos_vessel == v]
        n = int(((t >= since) & (t < until)).sum())
        path = f"/api/v1/vessels/{d.mmsi[v]}/track?since={_iso(since)}&until={_iso(until)}"
        # A vessel the partner may not see is a 404 to it: asked as the operator only.
        out["track_24h"].append(Probe("track_24h", path, n, n if sees_v[v] else None))
    return out
