"""foreign_fishing: a fishing vessel at fishing speeds where its flag may not fish."""

from __future__ import annotations

from mdx.detect import Thresholds, foreign_fishing
from tests.unit.test_detect_support import AGREEMENT, JP_EEZ, MPA, ZONES, at, box, line, vessel

T = Thresholds()
KR = "440123456"
JP = "431999001"
CN = "412000777"
NOFLAG = "999000001"
VESSELS = {
    KR: vessel(KR, "KR", "fishing", "DAE HO"),
    JP: vessel(JP, "JP", "fishing", "SHINSEI MARU"),
    CN: vessel(CN, "CN", "fishing", "LU YU 101"),
    NOFLAG: vessel(NOFLAG, None, "fishing"),
}


def _trawl(mmsi: str, minutes: float = 40, sog: float = 3.0, lon: float = 133.0, lat: float = 37.0):
    return line(mmsi, at(0), minutes, lon, lat, sog, heading=45)


def test_kr_trawler_in_a_jp_flag_state_only_zone() -> None:
    track = _trawl(KR)
    found = foreign_fishing.detect({KR: track}, VESSELS, ZONES, at(41), T)
    assert len(found) == 1
    d = found[0]
    assert d.rule == "foreign_fishing"
    assert d.key == f"foreign_fishing:{KR}:{JP_EEZ.id}:20250601T000000Z"
    assert d.mmsis == (KR,)
    assert d.started_at == at(0)
    assert d.last_seen_at == at(40)
    assert d.zone_id == JP_EEZ.id
    assert d.category == "iuu_fishing"
    assert 2 <= len(d.evidence) <= T.max_evidence
    assert d.evidence[0] == track[0] and d.evidence[-1] == track[-1]
    assert (d.lon, d.lat) == (track[-1].lon, track[-1].lat)
    assert d.title == (
        "Foreign fishing: KR fishing vessel DAE HO (440123456) at fishing speed for 40 min "
        "inside Japan EEZ (illustrative)"
    )
    assert (d.severity, d.certainty, d.urgency) == ("Moderate", "Likely", "Expected")
    assert 0.7 <= d.confidence <= 1


def test_the_same_vessel_transiting_at_11_kn_is_not_fishing() -> None:
    track = _trawl(KR, minutes=60, sog=11.0, lon=132.2)
    assert foreign_fishing.detect({KR: track}, VESSELS, ZONES, at(61), T) == []


def test_a_jp_vessel_may_fish_in_its_own_zone() -> None:
    assert foreign_fishing.detect({JP: _trawl(JP)}, VESSELS, ZONES, at(41), T) == []


def test_kr_may_fish_in_the_agreement_zone_cn_may_not() -> None:
    fixes = {KR: _trawl(KR, lon=135.0), CN: _trawl(CN, lon=135.0)}
    (d,) = foreign_fishing.detect(fixes, VESSELS, ZONES, at(41), T)
    assert d.mmsis == (CN,)
    assert d.zone_id == AGREEMENT.id


def test_an_agreement_zone_overrides_an_eez_it_overlaps() -> None:
    # An agreement zone laid over part of the JP EEZ: KR may fish in the overlap.
    overlap = box(
        "overlap-agreement",
        (132.9, 36.9, 133.2, 37.2),
        kind="fishing_agreement",
        state=None,
        fishing="agreement_states_only",
        agreement_states=("JP", "KR"),
        watch=(),
    )
    zones = [*ZONES, overlap]
    assert foreign_fishing.detect({KR: _trawl(KR)}, VESSELS, zones, at(41), T) == []
    assert len(foreign_fishing.detect({CN: _trawl(CN)}, VESSELS, zones, at(41), T)) == 1


def test_nobody_may_fish_in_a_prohibited_zone() -> None:
    (d,) = foreign_fishing.detect(
        {JP: _trawl(JP, lon=133.55, lat=37.55)}, VESSELS, ZONES, at(41), T
    )
    assert d.zone_id == MPA.id
    assert d.category == "iuu_fishing"
    assert d.severity == "Severe"
    assert d.title.startswith("Fishing in a no-fishing zone: JP fishing vessel SHINSEI MARU")
    # The KR vessel there breaks both the MPA and the EEZ rule: one detection, in the MPA.
    (k,) = foreign_fishing.detect(
        {KR: _trawl(KR, lon=133.55, lat=37.55)}, VESSELS, ZONES, at(41), T
    )
    assert k.zone_id == MPA.id


def test_unknown_flag_or_not_a_fishing_vessel_is_not_judged() -> None:
    assert foreign_fishing.detect({NOFLAG: _trawl(NOFLAG)}, VESSELS, ZONES, at(41), T) == []
    cargo = {KR: vessel(KR, "KR", "cargo")}
    assert foreign_fishing.detect({KR: _trawl(KR)}, cargo, ZONES, at(41), T) == []
    assert foreign_fishing.detect({KR: _trawl(KR)}, {}, ZONES, at(41), T) == []


def test_too_short_or_in_an_unwatched_zone_is_not_reported() -> None:
    assert foreign_fishing.detect({KR: _trawl(KR, minutes=20)}, VESSELS, ZONES, at(21), T) == []
    unwatched = [box("jp-quiet", (132.0, 36.0, 134.0, 38.0), watch=("going_dark",))]
    assert foreign_fishing.detect({KR: _trawl(KR)}, VESSELS, unwatched, at(41), T) == []


def test_key_is_stable_as_fixes_are_appended() -> None:
    first = foreign_fishing.detect({KR: _trawl(KR, minutes=40)}, VESSELS, ZONES, at(41), T)
    later = foreign_fishing.detect({KR: _trawl(KR, minutes=180)}, VESSELS, ZONES, at(181), T)
    assert [d.key for d in first] == [d.key for d in later]
    assert later[0].last_seen_at == at(180)
    assert len(later[0].evidence) == T.max_evidence
    assert later[0].confidence > first[0].confidence


def test_the_episode_starts_when_fishing_starts_and_ends_when_it_stops() -> None:
    steam_in = line(KR, at(0), 30, 132.3, 37.0, 11.0)
    trawl = line(KR, at(31), 60, 132.5, 37.0, 3.0)
    steam_out = line(KR, at(92), 30, 132.6, 37.0, 12.0)
    (d,) = foreign_fishing.detect({KR: steam_in + trawl + steam_out}, VESSELS, ZONES, at(123), T)
    assert d.started_at == at(31)
    assert d.last_seen_at == at(91)
    assert d.urgency == "Past"
    assert len(d.evidence) == T.max_evidence


def test_fixes_without_speed_neither_extend_nor_end_an_episode() -> None:
    track = _trawl(KR, minutes=40)
    holes = [
        f if i % 3 else type(f)(f.mmsi, f.at, f.lon, f.lat, None, None) for i, f in enumerate(track)
    ]
    (d,) = foreign_fishing.detect({KR: holes}, VESSELS, ZONES, at(41), T)
    assert d.started_at == at(1)
    assert all(f.sog is not None for f in d.evidence)
