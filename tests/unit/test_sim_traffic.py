"""The simulated fleet: valid messages, plausible movement, deterministic by seed."""

from __future__ import annotations

import itertools
import math
import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from mdx.core import topics
from mdx.core.envelope import make_envelope
from mdx.core.identifiers import imo_is_valid, mmsi_mid
from mdx.core.intake import Accepted, IntakePolicy, accept
from mdx.core.schemas import INCIDENT_SCHEMA_ID, POSITION_SCHEMA_ID, SchemaSet
from mdx.sim.traffic import (
    FLAG_MIDS,
    INCIDENT_STORIES,
    Vessel,
    imo_with_check_digit,
    make_fleet,
    make_incident,
)

START = datetime(2025, 6, 1, 0, 0, tzinfo=UTC)
STEP_S = 60.0
HOURS = 2
STEPS = int(HOURS * 3600 / STEP_S)
SEED = 20250601
EARTH_RADIUS_NM = 3440.065
NODE, PRODUCER = "jcg", "sim"


@pytest.fixture(scope="module")
def schema_set() -> SchemaSet:
    return SchemaSet()


def great_circle_nm(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Haversine distance, independent of the simulator's flat approximation."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_NM * math.asin(math.sqrt(h))


def segment_distance_nm(
    p: tuple[float, float], a: tuple[float, float], b: tuple[float, float]
) -> float:
    """Distance from p to the segment ab, on a local equirectangular plane (fine for < 300 nm)."""
    k = math.cos(math.radians(p[0]))

    def xy(q: tuple[float, float]) -> tuple[float, float]:
        return (q[1] - p[1]) * k * 60, (q[0] - p[0]) * 60

    (ax, ay), (bx, by) = xy(a), xy(b)
    dx, dy = bx - ax, by - ay
    t = 0.0 if dx == dy == 0 else max(0.0, min(1.0, -(ax * dx + ay * dy) / (dx * dx + dy * dy)))
    return math.hypot(ax + t * dx, ay + t * dy)


class Voyage:
    """The fleet of SEED stepped for two simulated hours, every position recorded."""

    def __init__(self, count: int, seed: int) -> None:
        rng = random.Random(seed)
        self.fleet = make_fleet(count, rng)
        self.start = {v.mmsi: (v.lat, v.lon) for v in self.fleet}
        self.lanes = {v.mmsi: [(v.lat, v.lon), *v.route] for v in self.fleet if v.route}
        self.travelled = dict.fromkeys(self.start, 0.0)
        self.track: dict[str, list[tuple[float, float]]] = {m: [] for m in self.start}
        self.positions: list[dict[str, Any]] = []
        for i in range(1, STEPS + 1):
            now = START + timedelta(seconds=i * STEP_S)
            for v in self.fleet:
                before = (v.lat, v.lon)
                v.step(STEP_S, rng)
                self.travelled[v.mmsi] += great_circle_nm(*before, v.lat, v.lon)
                self.track[v.mmsi].append((v.lat, v.lon))
                self.positions.append(v.position("ais-terrestrial", now))


@pytest.fixture(scope="module")
def voyage() -> Voyage:
    return Voyage(40, SEED)


# -- the fleet ------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [2, 3, 10, 60, 250])
def test_fleet_size_and_unique_mmsis(count: int) -> None:
    fleet = make_fleet(count, random.Random(count))
    assert len(fleet) == count
    assert len({v.mmsi for v in fleet}) == count
    assert fleet[-1].kind == "patrol"
    merchant = [v for v in fleet if v.kind in ("cargo", "tanker")]
    fishing = [v for v in fleet if v.kind == "fishing"]
    assert len(merchant) == math.ceil((count - 1) / 2)
    assert len(fishing) == (count - 1) // 2
    assert len(merchant) + len(fishing) + 1 == count


def test_a_fleet_of_one() -> None:
    assert len(make_fleet(1, random.Random(1))) == 1


def test_mmsi_mid_is_the_flag_and_merchant_imos_are_valid() -> None:
    fleet = make_fleet(60, random.Random(SEED))
    for v in fleet:
        assert mmsi_mid(v.mmsi) == FLAG_MIDS[v.flag], v
        assert (v.imo is not None) == (v.kind in ("cargo", "tanker")), v
        assert v.imo is None or imo_is_valid(v.imo), v
    assert {v.kind for v in fleet} == {"cargo", "tanker", "fishing", "patrol"}


def test_imo_with_check_digit_is_always_valid() -> None:
    rng = random.Random(SEED)
    imos = [imo_with_check_digit(rng) for _ in range(2000)]
    assert all(imo_is_valid(imo) for imo in imos)
    assert all(len(imo) == 7 and imo[0] != "0" for imo in imos)
    assert len(set(imos)) > 1900  # random, not one number repeated
    # The check digit is not constant: every value 0-9 turns up.
    assert {imo[-1] for imo in imos} == set("0123456789")


# -- positions ------------------------------------------------------------------------------


def test_every_position_validates_in_an_envelope(voyage: Voyage, schema_set: SchemaSet) -> None:
    assert len(voyage.positions) == 40 * STEPS
    for data in voyage.positions:
        envelope = make_envelope(NODE, PRODUCER, "mdx.position.v1", data)
        assert schema_set.validate_envelope(envelope) == [], data
        assert schema_set.validate(POSITION_SCHEMA_ID, data) == []


def test_positions_pass_intake(voyage: Voyage, schema_set: SchemaSet) -> None:
    last = START + timedelta(hours=HOURS)
    policy = IntakePolicy(NODE, "GREEN", schema_set, now=lambda: last)
    topic = topics.inbound(PRODUCER, "position")
    for seq, data in enumerate(voyage.positions[-40:], start=1):
        envelope = make_envelope(NODE, PRODUCER, "mdx.position.v1", data, seq=seq)
        result = accept(topic, orjson.dumps(envelope), policy)
        assert isinstance(result, Accepted), result
        assert result.seq == seq


def test_a_course_just_below_north_is_not_sent_as_360(schema_set: SchemaSet) -> None:
    vessel = Vessel("431000123", "FV JP-001", "fishing", "JP", 34.4, 129.2, 3.0, 359.97)
    data = vessel.position("ais-terrestrial", START)
    assert schema_set.validate(POSITION_SCHEMA_ID, data) == []


def test_everyone_stays_in_the_region(voyage: Voyage) -> None:
    for mmsi, track in voyage.track.items():
        assert len(track) == STEPS
        for lat, lon in track:
            assert 24 <= lat <= 46 and 118 <= lon <= 146, (mmsi, lat, lon)


def test_fishing_boats_stay_on_their_grounds(voyage: Voyage) -> None:
    fishing = [v for v in voyage.fleet if v.kind == "fishing"]
    assert len(fishing) == 19
    for v in fishing:
        assert v.ground is not None
        glat, glon, radius = v.ground
        furthest = max(great_circle_nm(lat, lon, glat, glon) for lat, lon in voyage.track[v.mmsi])
        assert furthest <= 2 * radius, (v.name, furthest, radius)
        assert 0.5 <= v.sog <= 6.0
        # They work the ground; they do not sit still.
        assert voyage.travelled[v.mmsi] > 0.5 * HOURS


def test_merchant_ships_make_their_speed_along_their_lane(voyage: Voyage) -> None:
    merchant = [v for v in voyage.fleet if v.kind in ("cargo", "tanker")]
    assert len(merchant) == 20
    for v in merchant:
        expected = v.sog * HOURS
        assert 11 <= v.sog <= 17
        assert abs(voyage.travelled[v.mmsi] - expected) <= 0.1 * expected, v.name
        lane = voyage.lanes[v.mmsi]
        legs = [*itertools.pairwise(lane), (lane[-1], lane[1])]  # the route loops at its end
        for point in voyage.track[v.mmsi]:
            off = min(segment_distance_nm(point, a, b) for a, b in legs)
            assert off <= 5.0, (v.name, point, off)
        # A straight-ish course: most of the distance run is made good.
        lat0, lon0 = voyage.start[v.mmsi]
        made_good = great_circle_nm(lat0, lon0, v.lat, v.lon)
        assert made_good >= 0.5 * expected, (v.name, made_good, expected)


# -- incidents ------------------------------------------------------------------------------


def test_every_incident_story_validates_and_is_accepted(schema_set: SchemaSet) -> None:
    now = START + timedelta(minutes=5)
    policy = IntakePolicy(NODE, "GREEN", schema_set, now=lambda: now)
    topic = topics.inbound(PRODUCER, "incident")
    seen: Counter[str] = Counter()
    seed = 0
    while set(seen) != set(INCIDENT_STORIES):
        assert seed < 200, f"only {sorted(seen)} after 200 seeds"
        rng = random.Random(seed)
        fleet = make_fleet(12, rng)
        data, markings = make_incident(fleet, rng, now)
        assert schema_set.validate(INCIDENT_SCHEMA_ID, data) == [], data
        envelope = make_envelope(NODE, PRODUCER, "mdx.incident.v1", data, **markings)
        assert schema_set.validate_envelope(envelope) == []
        result = accept(topic, orjson.dumps(envelope), policy)
        assert isinstance(result, Accepted), result
        assert result.kind == "incident" and result.origin == NODE
        assert result.tlp == markings["tlp"]
        assert result.relto == markings.get("relto", [])
        assert data["vessels"][0]["mmsi"] in {v.mmsi for v in fleet}
        seen[data["category"]] += 1
        seed += 1
    assert set(seen) == {"iuu_fishing", "sar", "pollution", "maritime_safety"}


def test_pollution_is_a_closed_polygon_around_the_vessel() -> None:
    now = START
    for seed in range(200):
        rng = random.Random(seed)
        data, _ = make_incident(make_fleet(12, rng), rng, now)
        if data["category"] == "pollution":
            break
    else:
        pytest.fail("no pollution incident in 200 seeds")
    [ring] = data["location"]["coordinates"]
    assert len(ring) == 5 and ring[0] == ring[-1]
    lons, lats = [p[0] for p in ring], [p[1] for p in ring]
    assert max(lons) - min(lons) == pytest.approx(0.04, abs=2e-5)
    assert max(lats) - min(lats) == pytest.approx(0.02, abs=2e-5)


# -- determinism ----------------------------------------------------------------------------


def _traffic(seed: int) -> tuple[list[Vessel], list[dict[str, Any]], list[Any]]:
    rng = random.Random(seed)
    fleet = make_fleet(20, rng)
    positions, incidents = [], []
    for i in range(30):
        now = START + timedelta(seconds=i * STEP_S)
        for v in fleet:
            v.step(STEP_S, rng)
            positions.append(v.position("ais-satellite", now))
        incidents.append(make_incident(fleet, rng, now))
    return fleet, positions, incidents


def test_same_seed_same_traffic() -> None:
    assert _traffic(7) == _traffic(7)


def test_another_seed_other_traffic() -> None:
    first, second = _traffic(7), _traffic(8)
    assert [v.mmsi for v in first[0]] != [v.mmsi for v in second[0]]
    assert first[1] != second[1]
    assert [i[0]["incident_id"] for i in first[2]] != [i[0]["incident_id"] for i in second[2]]
