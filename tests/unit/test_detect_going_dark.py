"""going_dark: silent inside a watched zone after regular reports."""

from __future__ import annotations

from mdx.detect import RULES, Thresholds, Zone, going_dark
from mdx.detect.geo import ZoneIndex
from tests.unit.test_detect_support import JP_EEZ, ZONES, at, box_feature, line, vessel

T = Thresholds()
MMSI = "431000123"
VESSELS = {MMSI: vessel(MMSI, "JP", "fishing", "TAISEI MARU")}


def _track(minutes: float = 90, lon: float = 133.0, lat: float = 37.0, every_s: float = 60) -> list:
    # Reports from T0 for `minutes`, then silence.
    return line(MMSI, at(0), minutes, lon, lat, 8.0, every_s=every_s)


def test_silent_for_70_minutes_in_a_watched_zone_is_dark() -> None:
    track = _track()
    last = track[-1]
    found = going_dark.detect({MMSI: track}, VESSELS, ZONES, at(90 + 70), T)
    assert len(found) == 1
    d = found[0]
    assert d.rule == "going_dark"
    assert d.mmsis == (MMSI,)
    assert d.started_at == last.at == at(90)
    assert d.last_seen_at == last.at
    assert d.key == f"going_dark:{MMSI}:{JP_EEZ.id}:20250601T013000Z"
    assert d.zone_id == JP_EEZ.id
    assert d.category == "iuu_fishing"
    assert (d.lon, d.lat) == (last.lon, last.lat)
    assert 3 <= len(d.evidence) <= T.max_evidence
    assert d.evidence[-1] == last
    assert all(f.at >= at(30) for f in d.evidence)  # the hour before the gap
    assert d.title.startswith("AIS gap of 1 h 10 min: JP fishing vessel TAISEI MARU (431000123)")
    assert "inside Japan EEZ (illustrative)" in d.title
    assert 0 < d.confidence <= 1
    assert (d.severity, d.urgency) == ("Moderate", "Expected")


def test_silent_for_50_minutes_is_not_dark() -> None:
    assert going_dark.detect({MMSI: _track()}, VESSELS, ZONES, at(90 + 50), T) == []


def test_exactly_the_threshold_is_dark() -> None:
    assert len(going_dark.detect({MMSI: _track()}, VESSELS, ZONES, at(90 + 60), T)) == 1


def test_never_dark_outside_watched_zones() -> None:
    open_sea = _track(lon=150.0, lat=40.0)  # in no zone
    assert going_dark.detect({MMSI: open_sea}, VESSELS, ZONES, at(90 + 600), T) == []
    only_unwatched = [Zone.from_feature(box_feature("quiet", (149, 39, 151, 41), watch=()))]
    assert going_dark.detect({MMSI: open_sea}, VESSELS, only_unwatched, at(700), T) == []


def test_silence_is_measured_by_the_clock_of_the_vessels_receiver() -> None:
    track = _track()  # its receiver delivered up to minute 90 + 50, the wall clock is at + 70
    late = {MMSI: at(90 + 50)}
    assert going_dark.detect({MMSI: track}, VESSELS, ZONES, at(90 + 70), T, late) == []
    caught_up = {MMSI: at(90 + 80)}  # a receiver ahead of `now` counts up to `now` only
    (d,) = going_dark.detect({MMSI: track}, VESSELS, ZONES, at(90 + 70), T, caught_up)
    assert d.facts["gap_minutes"] == 70.0


def test_the_most_specific_watching_zone_is_named() -> None:
    # The MPA does not watch going_dark; the EEZ around it does, and is named.
    mpa = _track(lon=133.6, lat=37.6)
    (d,) = going_dark.detect({MMSI: mpa}, VESSELS, ZONES, at(90 + 600), T)
    assert d.zone_id == JP_EEZ.id


def test_the_last_fix_decides_not_earlier_ones() -> None:
    # Reported inside the EEZ, then left it eastwards at 30 kn into open sea, then silent.
    inside = line(MMSI, at(0), 60, 133.9, 37.0, 8.0)
    outside = line(MMSI, at(61), 30, 136.5, 37.0, 8.0)
    found = going_dark.detect({MMSI: inside + outside}, VESSELS, ZONES, at(600), T)
    assert found == []


def test_a_vessel_seen_rarely_is_not_dark() -> None:
    twice = _track(minutes=10, every_s=600)  # two fixes
    assert len(twice) == 2
    assert going_dark.detect({MMSI: twice}, VESSELS, ZONES, at(300), T) == []
    three = _track(minutes=20, every_s=600)
    assert len(going_dark.detect({MMSI: three}, VESSELS, ZONES, at(300), T)) == 1


def test_key_is_stable_across_runs_and_new_after_new_reports() -> None:
    track = _track()
    first = going_dark.detect({MMSI: track}, VESSELS, ZONES, at(90 + 70), T)
    later = going_dark.detect({MMSI: track}, VESSELS, ZONES, at(90 + 300), T)
    assert [d.key for d in first] == [d.key for d in later]
    assert later[0].confidence > first[0].confidence
    assert "5 h" in later[0].title
    # It reports again for an hour, then is silent again: a new episode.
    again = track + line(MMSI, at(300), 60, 133.2, 37.0, 8.0)
    (d,) = going_dark.detect({MMSI: again}, VESSELS, ZONES, at(300 + 60 + 70), T)
    assert d.key != first[0].key
    assert d.started_at == at(360)


def test_evidence_is_thinned_keeping_the_last_fix() -> None:
    track = _track(every_s=10)  # 6 reports a minute
    (d,) = going_dark.detect({MMSI: track}, VESSELS, ZONES, at(90 + 70), T)
    assert len(d.evidence) == T.max_evidence
    assert d.evidence[-1] == track[-1]
    assert list(d.evidence) == sorted(d.evidence, key=lambda f: f.at)


def test_cargo_in_an_aor_is_a_safety_matter() -> None:
    cargo = {MMSI: vessel(MMSI, "PA", "cargo", None)}
    track = _track(lon=135.0, lat=33.0)  # jcg-aor-test only
    (d,) = going_dark.detect({MMSI: track}, cargo, ZONES, at(90 + 120), T)
    assert d.zone_id == "jcg-aor-test"
    assert (d.category, d.severity) == ("maritime_safety", "Minor")
    assert "MMSI 431000123" in d.title


def test_unknown_vessel_and_prebuilt_index_and_registry() -> None:
    found = RULES["going_dark"]({MMSI: _track()}, {}, ZoneIndex(ZONES), at(90 + 70), T)
    assert len(found) == 1
    assert found[0].category == "iuu_fishing"  # unknown category in an EEZ
