"""encounter: two slow vessels side by side for hours, one of them a fishing vessel or reefer."""

from __future__ import annotations

import random
import time

from mdx.detect import Fix, Thresholds, encounter
from mdx.detect.geo import haversine_m
from tests.unit.test_detect_support import JP_EEZ, MPA, ZONES, at, line, offset, vessel

T = Thresholds()
FISH = "440100001"
REEFER = "355000001"
CARGO_A = "538000001"
CARGO_B = "538000002"
VESSELS = {
    FISH: vessel(FISH, "KR", "fishing", "DAE HO 7"),
    REEFER: vessel(REEFER, "PA", "reefer", "POLAR STAR"),
    CARGO_A: vessel(CARGO_A, "MH", "cargo"),
    CARGO_B: vessel(CARGO_B, "MH", "cargo"),
}


def _pair(
    a: str,
    b: str,
    metres: float,
    minutes: float,
    lon: float = 133.0,
    lat: float = 37.0,
    sog_b: float = 0.5,
    b_every_s: float = 60,
    b_delay_min: float = 0,
) -> dict[str, list[Fix]]:
    """Both steam in from far apart at 10 kn, then drift east at 0.5 kn `metres` apart
    from T0 for `minutes`."""
    b_lon, b_lat = offset(lon, lat, 0, metres)
    return {
        a: line(a, at(-30), 29, lon - 0.1, lat, 10.0) + line(a, at(0), minutes, lon, lat, 0.5),
        b: line(b, at(-30), 29, lon + 0.1, lat, 10.0)
        + line(b, at(b_delay_min), minutes - b_delay_min, b_lon, b_lat, sog_b, every_s=b_every_s),
    }


def test_400_m_for_2_h_10_min_is_an_encounter() -> None:
    fixes = _pair(FISH, REEFER, 400, 130)
    found = encounter.detect(fixes, VESSELS, ZONES, at(131), T)
    assert len(found) == 1
    d = found[0]
    assert d.rule == "encounter"
    assert d.mmsis == (REEFER, FISH)  # sorted
    assert d.key == f"encounter:{REEFER}+{FISH}:{JP_EEZ.id}:20250601T000000Z"
    assert d.started_at == at(0)
    assert d.last_seen_at == at(130)
    assert d.zone_id == JP_EEZ.id
    assert d.category == "iuu_fishing"
    assert 2 <= len(d.evidence) <= T.max_evidence
    assert {f.mmsi for f in d.evidence} == {FISH, REEFER}
    assert d.evidence[0].at == at(0) and d.evidence[-1].at == at(130)
    assert all(at(0) <= f.at <= at(130) for f in d.evidence)
    assert d.title.startswith("Encounter for 2 h 10 min: ")
    assert "KR fishing vessel DAE HO 7 (440100001)" in d.title
    assert "within 400 m" in d.title
    assert d.urgency == "Expected"
    assert 0.7 < d.confidence <= 1
    assert abs(d.facts["mean_distance_m"] - 400) < 5


def test_700_m_apart_is_not_an_encounter() -> None:
    assert encounter.detect(_pair(FISH, REEFER, 700, 130), VESSELS, ZONES, at(131), T) == []


def test_1_h_50_min_is_not_an_encounter() -> None:
    assert encounter.detect(_pair(FISH, REEFER, 400, 110), VESSELS, ZONES, at(111), T) == []


def test_two_cargo_vessels_are_not_an_encounter() -> None:
    assert encounter.detect(_pair(CARGO_A, CARGO_B, 400, 130), VESSELS, ZONES, at(131), T) == []


def test_one_vessel_too_fast_is_not_an_encounter() -> None:
    # The reefer keeps station 400 m off while reporting 5 kn (e.g. circling): not slow.
    fixes = _pair(FISH, REEFER, 400, 130, sog_b=5.0)
    fixes[REEFER] = [
        Fix(f.mmsi, f.at, *offset(133.0, 37.0, 0, 400), f.sog, f.cog) if f.at >= at(0) else f
        for f in fixes[REEFER]
    ]
    assert encounter.detect(fixes, VESSELS, ZONES, at(131), T) == []


def test_fishing_with_an_unknown_vessel_anywhere() -> None:
    # Open sea, no zone: zone_id None and `-` in the key; the partner is not in `vessels`.
    fixes = _pair(FISH, "412999999", 300, 150, lon=150.0, lat=30.0)
    (d,) = encounter.detect(fixes, VESSELS, ZONES, at(151), T)
    assert d.zone_id is None
    assert d.key == f"encounter:412999999+{FISH}:-:20250601T000000Z"
    assert "at 30.00N 150.00E" in d.title


def test_the_most_specific_watching_zone_is_named() -> None:
    (d,) = encounter.detect(_pair(FISH, REEFER, 300, 130, 133.6, 37.6), VESSELS, ZONES, at(131), T)
    assert d.zone_id == MPA.id


def test_reports_at_different_times_and_rates_are_paired() -> None:
    # The reefer reports every 2 min, 30 s after the fishing vessel's minute marks. Pairing
    # is on a 5-min grid, so the start is known to within one step: here the reefer's
    # position at T0 is interpolated from its last fix under way (far off) and its first
    # alongside, which is not close, so the episode starts at the next grid time.
    fixes = _pair(FISH, REEFER, 400, 130, b_every_s=120, b_delay_min=0.5)
    (d,) = encounter.detect(fixes, VESSELS, ZONES, at(131), T)
    assert d.started_at == at(4.5)  # the reefer's fix used at T0 + 5 min
    assert d.last_seen_at == at(130)
    assert d.mmsis == (REEFER, FISH)
    again = encounter.detect(fixes, VESSELS, ZONES, at(131), T)
    assert [x.key for x in again] == [d.key]


def test_key_is_stable_as_fixes_are_appended() -> None:
    first = encounter.detect(_pair(FISH, REEFER, 400, 130), VESSELS, ZONES, at(131), T)
    later = encounter.detect(_pair(FISH, REEFER, 400, 240), VESSELS, ZONES, at(241), T)
    assert len(first) == len(later) == 1
    assert first[0].key == later[0].key
    assert later[0].last_seen_at == at(240)
    assert len(later[0].evidence) == T.max_evidence


def test_a_new_encounter_after_parting_has_a_new_key() -> None:
    # Side by side for 2 h 10 min, then the reefer steams off for 90 min at 10 kn and comes
    # back alongside for 2 h 30 min: two episodes, two keys, the first one over.
    here = (133.0, 37.0)
    alongside = offset(*here, 0, 300)
    fixes = {
        FISH: line(FISH, at(0), 370, *here, 0.0),
        REEFER: line(REEFER, at(0), 130, *alongside, 0.0)
        + line(REEFER, at(131), 88, 133.2, 37.1, 10.0)
        + line(REEFER, at(220), 150, *alongside, 0.0),
    }
    found = encounter.detect(fixes, VESSELS, ZONES, at(371), T)
    assert sorted((d.started_at, d.urgency) for d in found) == [
        (at(0), "Past"),
        (at(220), "Expected"),
    ]
    assert len({d.key for d in found}) == 2


def _random_world(seed: int, count: int, minutes: int) -> tuple[dict, dict, list[tuple[str, str]]]:
    """`count` vessels over the seas around Japan for `minutes` at 1 fix a minute, mostly
    under way, some drifting, about a third fishing; plus planted encounters and a near miss."""
    rng = random.Random(seed)
    fixes: dict[str, list[Fix]] = {}
    vessels = {}
    kinds = ["fishing"] * 30 + ["reefer"] * 5 + ["cargo"] * 40 + ["tanker"] * 15 + ["other"] * 10
    for k in range(count):
        mmsi = f"{200000000 + k}"
        kind = rng.choice(kinds)
        vessels[mmsi] = vessel(mmsi, rng.choice(["JP", "KR", "CN", "PA"]), kind)
        lon, lat = rng.uniform(125, 150), rng.uniform(25, 45)
        sog = rng.uniform(0.0, 1.5) if rng.random() < 0.25 else rng.uniform(6, 16)
        fixes[mmsi] = line(mmsi, at(0), minutes - 1, lon, lat, round(sog, 1), rng.uniform(0, 360))
    planted = []
    for n, (lon, lat, metres) in enumerate(
        [(140.0, 30.0, 250), (130.0, 40.0, 450), (145, 35, 800)]
    ):
        a, b = f"{300000000 + n}", f"{310000000 + n}"
        vessels[a] = vessel(a, "CN", "fishing")
        vessels[b] = vessel(b, "PA", "reefer")
        fixes[a] = line(a, at(0), minutes - 1, lon, lat, 0.4, 45)
        fixes[b] = line(b, at(0), minutes - 1, *offset(lon, lat, metres, 0), 0.4, 45)
        if metres <= 500:
            planted.append((a, b))
    return fixes, vessels, planted


def test_thousands_of_vessels_fast_and_exact() -> None:
    fixes, vessels, planted = _random_world(seed=20250601, count=3000, minutes=120)
    assert sum(len(t) for t in fixes.values()) == 3006 * 120
    started = time.perf_counter()
    found = encounter.detect(fixes, vessels, ZONES, at(120), T)
    elapsed = time.perf_counter() - started
    print(f"encounter over {len(fixes)} vessels x 120 fixes: {elapsed:.3f} s")
    assert sorted(tuple(sorted(d.mmsis)) for d in found) == sorted(planted)
    assert elapsed < 3.0


def test_pairs_found_agree_with_brute_force_on_a_dense_cluster() -> None:
    # 60 drifting vessels packed in 3 km: the grid must find every pair the brute force finds.
    rng = random.Random(7)
    fixes, vessels = {}, {}
    for k in range(60):
        mmsi = f"{400000000 + k}"
        vessels[mmsi] = vessel(mmsi, "KR", "fishing" if k % 3 == 0 else "cargo")
        lon, lat = offset(133.0, 37.0, rng.uniform(-1500, 1500), rng.uniform(-1500, 1500))
        fixes[mmsi] = line(mmsi, at(0), 130, lon, lat, 0.0)
    found = {tuple(sorted(d.mmsis)) for d in encounter.detect(fixes, vessels, (), at(131), T)}
    expected = set()
    for a in fixes:
        for b in fixes:
            fa, fb = fixes[a][0], fixes[b][0]
            parties = {vessels[a].category, vessels[b].category} & {"fishing", "reefer"}
            if a < b and parties and haversine_m(fa.lon, fa.lat, fb.lon, fb.lat) <= 500:
                expected.add((a, b))
    assert found == expected
    assert len(expected) > 10
