"""loitering: a long, slow stay in a small area of a zone that watches loitering."""

from __future__ import annotations

from mdx.detect import Thresholds, loitering
from mdx.detect.geo import haversine_m
from tests.unit.test_detect_support import MPA, US_AOR, ZONES, at, circle, line, vessel

T = Thresholds()
MMSI = "538000123"
FISHER = "412000321"
VESSELS = {
    MMSI: vessel(MMSI, "MH", "cargo", "OCEAN DAWN"),
    FISHER: vessel(FISHER, "CN", "fishing"),
}
GUAM = (145.0, 14.0)  # inside the US aor, which watches loitering


def _stay(minutes: float, mmsi: str = MMSI, where: tuple[float, float] = GUAM):
    # Round and round a circle of 800 m (within 1 km of the centre) at 1 kn.
    return circle(mmsi, at(0), minutes, *where, 800, 1.0)


def test_four_hours_within_a_kilometre_at_1_kn_is_loitering() -> None:
    track = _stay(240)
    found = loitering.detect({MMSI: track}, VESSELS, ZONES, at(241), T)
    assert len(found) == 1
    d = found[0]
    assert d.rule == "loitering"
    assert d.key == f"loitering:{MMSI}:{US_AOR.id}:20250601T000000Z"
    assert d.mmsis == (MMSI,)
    assert d.started_at == at(0)
    assert d.last_seen_at == at(240)
    assert d.zone_id == US_AOR.id
    assert d.category == "maritime_safety"
    assert 2 <= len(d.evidence) <= T.max_evidence
    assert d.evidence[0] == track[0] and d.evidence[-1] == track[-1]
    assert haversine_m(d.lon, d.lat, *GUAM) < 300  # the centroid
    assert d.title.startswith("Loitering for 4 h: MH cargo vessel OCEAN DAWN (538000123) within ")
    assert "inside Test zone uscg-aor-test" in d.title
    assert d.facts["max_distance_m"] <= 1000
    assert (d.severity, d.urgency) == ("Minor", "Expected")


def test_two_hours_is_not_loitering() -> None:
    assert loitering.detect({MMSI: _stay(120)}, VESSELS, ZONES, at(121), T) == []


def test_drifting_20_km_in_four_hours_is_not_loitering() -> None:
    track = line(MMSI, at(0), 240, *GUAM, 2.7, heading=0)  # 2.7 kn x 4 h = 20 km
    assert haversine_m(track[0].lon, track[0].lat, track[-1].lon, track[-1].lat) > 19_000
    assert loitering.detect({MMSI: track}, VESSELS, ZONES, at(241), T) == []


def test_fast_circling_is_not_loitering() -> None:
    track = circle(MMSI, at(0), 240, *GUAM, 800, 6.0)
    assert loitering.detect({MMSI: track}, VESSELS, ZONES, at(241), T) == []


def test_not_outside_zones_that_watch_loitering() -> None:
    jp_eez = (133.0, 37.0)  # watches going dark, foreign fishing, encounters; not loitering
    assert loitering.detect({MMSI: _stay(240, where=jp_eez)}, VESSELS, ZONES, at(241), T) == []
    assert (
        loitering.detect({MMSI: _stay(240, where=(160.0, 0.0))}, VESSELS, ZONES, at(241), T) == []
    )


def test_a_fishing_vessel_where_it_may_fish_is_fishing() -> None:
    # The US aor sets no fishing rule (open): the CN fishing vessel is fishing there.
    assert loitering.detect({FISHER: _stay(240, FISHER)}, VESSELS, ZONES, at(241), T) == []
    # In the MPA nobody may fish: its long slow stay there is reported, as a fisheries matter.
    in_mpa = circle(FISHER, at(0), 240, 133.6, 37.6, 500, 1.0)
    (d,) = loitering.detect({FISHER: in_mpa}, VESSELS, ZONES, at(241), T)
    assert d.zone_id == MPA.id
    assert d.category == "iuu_fishing"


def test_key_is_stable_as_fixes_are_appended() -> None:
    first = loitering.detect({MMSI: _stay(200)}, VESSELS, ZONES, at(201), T)
    later = loitering.detect({MMSI: _stay(400)}, VESSELS, ZONES, at(401), T)
    assert len(first) == len(later) == 1
    assert first[0].key == later[0].key
    assert later[0].last_seen_at == at(400)


def test_arriving_then_staying_starts_at_the_stay() -> None:
    # 30 min at 12 kn towards the spot, then 4 h round it: the episode starts on arrival,
    # with the last few fixes under way that already lie within 2 km of the centroid.
    arrive = line(MMSI, at(0), 30, 145.0, 13.9, 12.0, heading=0)
    stay = circle(MMSI, at(31), 240, *GUAM, 800, 1.0)
    (d,) = loitering.detect({MMSI: arrive + stay}, VESSELS, ZONES, at(272), T)
    assert at(25) <= d.started_at <= at(31)
    assert all(haversine_m(f.lon, f.lat, d.lon, d.lat) <= T.loiter_radius_m for f in d.evidence)
    assert d.last_seen_at == at(271)


def test_a_stay_that_ended_is_past() -> None:
    # It leaves from the centre at 12 kn: its first fixes under way are still within the
    # radius of the centroid, and belong to the stay.
    leave = line(MMSI, at(241), 60, *GUAM, 12.0, heading=90)
    (d,) = loitering.detect({MMSI: _stay(240) + leave}, VESSELS, ZONES, at(302), T)
    assert at(241) <= d.last_seen_at <= at(241 + 10)
    assert d.urgency == "Past"
