"""The AIS simulator: real NMEA that decodes cleanly, and behaviours where and when intended.

Every check decodes the generated lines with `mdx.ais.AisFeed` (what ingest does) and judges
the decoded reports, against the zone files with shapely.
"""

from __future__ import annotations

import itertools
import math
import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import reduce
from operator import xor
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from mdx.ais import (
    AisFeed,
    Decoded,
    LineError,
    PositionReport,
    SafetyBroadcast,
    Skipped,
    StaticReport,
    distress_kind,
    flag_of,
)
from mdx.sim.ais import (
    AisMessage,
    Encounter,
    ForeignFishing,
    GoingDark,
    Loitering,
    ManOverboard,
    Scenario,
    SimVessel,
    SimZone,
    batches,
    build,
    distance_m,
    load_zones,
    may_fish_at,
    tag_block,
    zones_at,
)
from mdx.sim.ais_cli import ListSink, app, pace, parse_listen
from mdx.sim.ais_scenarios import build_scenario

NOW = 1_767_225_600  # 2026-01-01T00:00:00Z
HISTORY_H = 4.0
LIVE_S = 2700  # how far past `now` the live checks look (the distress ends at +43 min)
BACKGROUND = 8
NODES = ("jcg", "kcg", "uscg")
STATE = {"jcg": "JP", "kcg": "KR", "uscg": "US"}
TAG = re.compile(r"^\\c:(\d+),s:([a-z0-9-]+)\*([0-9A-F]{2})\\!AIVDM,(\d),(\d),(\d?),([AB]),")


@dataclass
class Run:
    """A scenario's messages from the start of the history to LIVE_S after now, decoded."""

    scenario: Scenario
    messages: list[AisMessage]
    decoded: list[Decoded]
    fixes: dict[str, list[PositionReport]] = field(default_factory=lambda: defaultdict(list))
    statics: dict[str, list[StaticReport]] = field(default_factory=lambda: defaultdict(list))
    texts: dict[str, list[SafetyBroadcast]] = field(default_factory=lambda: defaultdict(list))

    @property
    def history(self) -> list[AisMessage]:
        return [m for m in self.messages if m.at <= self.scenario.now]

    def track(self, role: str, *, until: float | None = None) -> list[PositionReport]:
        v = self.scenario.vessel(role)
        end = self.scenario.now if until is None else until
        return [f for f in self.fixes[v.mmsi] if f.observed_at.timestamp() <= end]

    def static(self, role: str) -> StaticReport:
        return self.statics[self.scenario.vessel(role).mmsi][0]


def decode(
    lines: Iterable[str],
) -> list[Decoded]:
    return AisFeed().feed("\n".join(lines), datetime.fromtimestamp(NOW, UTC))


@pytest.fixture(scope="module")
def zones() -> dict[str, SimZone]:
    return load_zones()


@pytest.fixture(scope="module", params=NODES)
def run(request: pytest.FixtureRequest, zones: dict[str, SimZone]) -> Run:
    scenario = build_scenario(
        request.param, now=NOW, seed=3, vessels=BACKGROUND, history_h=HISTORY_H, zones=zones
    )
    messages = list(scenario.messages(end=NOW + LIVE_S))
    out = Run(scenario, messages, decode(line for m in messages for line in m.lines))
    for d in out.decoded:
        if isinstance(d, PositionReport):
            out.fixes[d.mmsi].append(d)
        elif isinstance(d, StaticReport):
            out.statics[d.mmsi].append(d)
        elif isinstance(d, SafetyBroadcast):
            out.texts[d.mmsi].append(d)
    return out


def minutes(a: PositionReport, b: PositionReport) -> float:
    return (b.observed_at - a.observed_at).total_seconds() / 60


def inside(zone: SimZone, fixes: Iterable[PositionReport]) -> bool:
    return all(zone.covers(f.lat, f.lon) for f in fixes)


def scheduled(interval: int, phase: int, lo: float, hi: float) -> list[int]:
    """k * interval + phase within [lo, hi]."""
    first = math.ceil((lo - phase) / interval)
    last = math.floor((hi - phase) / interval)
    return [k * interval + phase for k in range(first, last + 1)]


def expected_counts(vessels: list[SimVessel], start: float, end: float) -> Counter[int]:
    """Message types the vessels should send in [start, end], worked out from their setup."""
    want: Counter[int] = Counter()
    for v in vessels:
        lo = max(start, v.active_from)
        hi = end if v.active_until is None else min(end, math.ceil(v.active_until) - 1)
        for t in scheduled(v.interval_s, v.phase_s, lo, hi):
            if v.ais_class == "B":
                want[18] += 1
            elif v.static is not None and (t // v.interval_s) % 10 == 9:
                want[3] += 1
            else:
                want[1] += 1
        if v.static is not None:
            n = len(scheduled(360, v.static_phase_s, lo, hi))
            want[5 if v.ais_class == "A" else 24] += n if v.ais_class == "A" else 2 * n
        want[14] += sum(1 for t, _ in v.broadcasts if start <= t <= end)
    return want


# -- the stream ----------------------------------------------------------------------------------


def test_history_decodes_cleanly_with_the_expected_message_counts(run: Run) -> None:
    s = run.scenario
    reports = [d for d in run.decoded if not isinstance(d, LineError | Skipped)]
    assert reports == run.decoded  # no errors, nothing skipped
    history = [d for d in reports if d.observed_at.timestamp() <= s.now]
    assert sum(len(d.raw) for d in history) == sum(len(m.lines) for m in run.history)

    got = Counter(d.msg_type for d in history)
    assert got == expected_counts(s.vessels, s.start, s.now)
    assert got[1] and got[3] and got[5]
    assert bool(got[18] and got[24]) == any(v.ais_class == "B" for v in s.vessels)
    assert got[14] == 0  # the distress comes live


def test_type_5_is_two_sentences_reassembled(run: Run) -> None:
    fives = [d for d in run.decoded if isinstance(d, StaticReport) and d.msg_type == 5]
    assert fives
    names = {v.mmsi: v.static.name for v in run.scenario.vessels if v.static}
    for d in fives:
        assert len(d.raw) == 2
        assert ",2,1," in d.raw[0] and ",2,2," in d.raw[1]
        assert d.name == names[d.mmsi]
    parts = Counter(d.part for d in run.decoded if isinstance(d, StaticReport) and d.msg_type == 24)
    assert parts["A"] == parts["B"]
    assert bool(parts["A"]) == any(v.ais_class == "B" for v in run.scenario.vessels)


def test_tag_blocks_times_channels_and_sequence_ids(run: Run) -> None:
    s = run.scenario
    times = []
    channels = []
    seq_ids = []
    for m in run.history:
        for i, line in enumerate(m.lines):
            match = TAG.match(line)
            assert match, line
            at, station, check, count, number, seq, channel = match.groups()
            body = line[1 : line.index("*")]
            assert reduce(xor, map(ord, body), 0) == int(check, 16)
            assert station == f"{s.name}-sim"
            assert int(at) == m.at
            assert (int(count), int(number)) == (len(m.lines), i + 1)
            times.append(int(at))
            if i == 0:
                channels.append(channel)
                if len(m.lines) > 1:
                    seq_ids.append(int(seq))
            else:
                assert channel == channels[-1] and int(seq) == seq_ids[-1]
    assert times == sorted(times)
    assert s.start <= times[0] and times[-1] <= s.now == NOW
    assert s.now - s.start == HISTORY_H * 3600
    assert all(a != b for a, b in itertools.pairwise(channels))
    assert seq_ids == [i % 10 for i in range(len(seq_ids))]


def test_scenarios_mix_class_a_and_b(zones: dict[str, SimZone]) -> None:
    for name in NODES:
        s = build_scenario(name, now=NOW, zones=zones)
        classes = Counter(v.ais_class for v in s.vessels)
        assert classes["A"] > classes["B"] > 5, name
        assert len(s.vessels) == 60 + len(s.behaviours) - 1 + 2  # two vessels per pair


def test_tag_block_checksum() -> None:
    body = "c:1767225600,s:jcg-sim"
    assert tag_block(NOW, "jcg-sim") == f"\\{body}*{reduce(xor, map(ord, body), 0):02X}\\"
    with pytest.raises(ValueError):
        tag_block(NOW, "a,b")


def test_same_seed_same_lines_other_seed_other_background(zones: dict[str, SimZone]) -> None:
    def lines(seed: int) -> list[str]:
        s = build_scenario("kcg", now=NOW, seed=seed, vessels=6, history_h=1, zones=zones)
        return [line for m in s.history() for line in m.lines]

    assert lines(3) == lines(3)
    assert lines(3) != lines(4)


def test_reporting_interval_is_configurable(zones: dict[str, SimZone]) -> None:
    behaviours = {
        "ff": ForeignFishing("412000001", "TEST 1", "kr-eez-yellow-sea", (34.35, 124.95)),
        "dark": GoingDark("440000002", "TEST 2", "kr-eez-east-sea", (36.5, 130.0)),
    }
    s = build("t", behaviours, now=NOW, history_h=1.75, report_every_s=10, zones=zones)
    fixes: dict[str, list[float]] = defaultdict(list)
    for d in decode(line for m in s.history() for line in m.lines):
        if isinstance(d, PositionReport):
            fixes[d.mmsi].append(d.observed_at.timestamp())
    gaps = {m: {b - a for a, b in itertools.pairwise(ts)} for m, ts in fixes.items()}
    assert gaps == {"412000001": {10}, "440000002": {60}}  # the dark vessel keeps its own rate


# -- behaviours ----------------------------------------------------------------------------------


def test_foreign_fishing(run: Run, zones: dict[str, SimZone]) -> None:
    spec = run.scenario.behaviours.get("foreign_fishing")
    if run.scenario.name == "uscg":
        assert spec is None  # no zone around Guam watches foreign fishing
        return
    assert isinstance(spec, ForeignFishing)
    track = run.track("foreign_fishing")
    flag = flag_of(spec.mmsi)
    zone = zones[spec.zone_id]
    assert flag not in (None, STATE[run.scenario.name], "JP")
    assert zone.kind == "eez" and zone.state == STATE[run.scenario.name]
    assert zone.fishing == "flag_state_only" and "foreign_fishing" in zone.watch
    assert inside(zone, track)
    # Nowhere along the track does a zone (an agreement) let the flag fish.
    assert not any(may_fish_at(zones, flag, f.lat, f.lon) for f in track)
    assert minutes(track[0], track[-1]) >= 45
    assert all(f.sog is not None and 2.5 <= f.sog <= 3.5 for f in track)
    assert run.static("foreign_fishing").ship_type == 30


def test_going_dark(run: Run, zones: dict[str, SimZone]) -> None:
    spec = run.scenario.behaviours["going_dark"]
    assert isinstance(spec, GoingDark)
    track = run.track("going_dark", until=NOW + LIVE_S)  # silent in the live phase too
    last = track[-1]
    silent_min = (NOW - last.observed_at.timestamp()) / 60
    assert 90 <= silent_min <= 91
    prior = [f for f in track if minutes(f, last) <= 60]
    assert len(prior) >= 3
    assert {minutes(a, b) for a, b in itertools.pairwise(track)} == {1.0}
    watching = [z for z in zones_at(zones, last.lat, last.lon) if "going_dark" in z.watch]
    assert spec.zone_id in {z.id for z in watching}
    assert inside(zones[spec.zone_id], track)
    flag = flag_of(spec.mmsi)
    assert all(may_fish_at(zones, flag, f.lat, f.lon) for f in track)  # dark, not foreign
    assert run.static("going_dark").ship_type == 30


def test_encounter(run: Run, zones: dict[str, SimZone]) -> None:
    spec = run.scenario.behaviours["encounter"]
    assert isinstance(spec, Encounter)
    fishing = run.track("encounter:fishing")
    reefer = {int(f.observed_at.timestamp()): f for f in run.track("encounter:reefer")}
    together: list[tuple[PositionReport, float]] = []
    best: list[tuple[PositionReport, float]] = []
    for f in fishing:
        t = int(f.observed_at.timestamp())
        r = min((reefer[u] for u in range(t - 30, t + 31) if u in reefer), default=None)
        close = r is not None and distance_m(f.lat, f.lon, r.lat, r.lon) <= 300
        slow = r is not None and max(f.sog or 0, r.sog or 0) <= 1.0
        if close and slow and r is not None:
            together.append((f, distance_m(f.lat, f.lon, r.lat, r.lon)))
            best = max(best, together, key=len)
        else:
            together = []
    span = minutes(best[0][0], best[-1][0])
    assert span >= spec.duration_min - 2  # fixes once a minute inside the 150 minutes
    assert max(d for _, d in best) <= 300
    name = run.static("encounter:reefer")
    assert name.name is not None and name.name.endswith("REEFER")
    assert name.ship_type is not None and 70 <= name.ship_type <= 79
    assert run.static("encounter:fishing").ship_type == 30
    zone = zones[spec.zone_id]
    assert inside(zone, (f for f, _ in best))
    flag = flag_of(spec.fishing_mmsi)
    assert all(may_fish_at(zones, flag, f.lat, f.lon) for f in fishing)


def test_loitering(run: Run, zones: dict[str, SimZone]) -> None:
    spec = run.scenario.behaviours["loitering"]
    assert isinstance(spec, Loitering)
    t_s = NOW + spec.start_min * 60
    t_e = t_s + spec.duration_min * 60
    stay = [f for f in run.track("loitering") if t_s <= f.observed_at.timestamp() <= t_e]
    lat = statistics.fmean(f.lat for f in stay)
    lon = statistics.fmean(f.lon for f in stay)
    assert max(distance_m(lat, lon, f.lat, f.lon) for f in stay) <= 1000
    assert minutes(stay[0], stay[-1]) >= 208  # 3 h 30, sampled once a minute
    assert statistics.fmean(f.sog or 0 for f in stay) <= 1.2
    zone = zones[spec.zone_id]
    assert "loitering" in zone.watch and inside(zone, stay)
    assert run.static("loitering").ship_type == 70


def test_man_overboard_comes_live(run: Run, zones: dict[str, SimZone]) -> None:
    spec = run.scenario.behaviours["distress"]
    assert isinstance(spec, ManOverboard)
    device = run.track("distress:device", until=NOW + LIVE_S)
    vessel = run.track("distress:vessel", until=NOW + LIVE_S)
    assert distress_kind(spec.device_mmsi) in ("ais-sart", "mob")
    first, last = device[0].observed_at.timestamp(), device[-1].observed_at.timestamp()
    assert NOW < first <= NOW + 5 * 60  # operators see it appear
    assert last - first == (spec.active_min - 1) * 60
    assert {minutes(a, b) for a, b in itertools.pairwise(device)} == {1.0}
    assert {f.nav_status for f in device} == {14}
    assert inside(zones[spec.zone_id], device)
    start_pos = next(f for f in vessel if f.observed_at.timestamp() >= first - 60)
    assert distance_m(start_pos.lat, start_pos.lon, device[0].lat, device[0].lon) < 1000
    nearest = min(
        distance_m(v.lat, v.lon, d.lat, d.lon)
        for v in vessel
        for d in device
        if abs((v.observed_at - d.observed_at).total_seconds()) <= 30
    )
    assert nearest <= 300  # the vessel came back for its man
    device_text = "SART ACTIVE" if spec.device_mmsi.startswith("970") else "MOB ACTIVE"
    texts = {m: [b.text for b in bs] for m, bs in run.texts.items()}
    assert texts == {spec.device_mmsi: [device_text], spec.vessel_mmsi: [spec.vessel_text]}


def test_scripted_vessels_are_in_the_node_area(run: Run, zones: dict[str, SimZone]) -> None:
    aor = zones[f"{run.scenario.name}-aor"]
    for v in run.scenario.vessels:
        if not v.role.startswith("background"):
            assert inside(aor, run.fixes[v.mmsi]), v.role


def test_background_is_legal_and_moving(run: Run, zones: dict[str, SimZone]) -> None:
    background = [v for v in run.scenario.vessels if v.role.startswith("background")]
    assert len(background) == BACKGROUND
    kinds = Counter(v.role.split(":")[1] for v in background)
    assert kinds["fishing"] and sum(kinds.values()) - kinds["fishing"]
    for v in background:
        track = run.fixes[v.mmsi]
        assert track, v.role
        if v.role.split(":")[1] == "fishing":
            flag = flag_of(v.mmsi)
            assert all(may_fish_at(zones, flag, f.lat, f.lon) for f in track), v.role
            assert all(f.sog is not None and 2.3 <= f.sog <= 4.2 for f in track), v.role
        else:
            assert all(f.sog is not None and f.sog >= 9.5 for f in track), v.role


def test_one_behaviour_alone(zones: dict[str, SimZone]) -> None:
    dark = GoingDark("440000001", "TEST 1", "kr-eez-east-sea", (36.5, 130.0), dark_min=-30)
    s = build("test", {"dark": dark}, now=NOW, history_h=2, zones=zones)
    fixes = [d for d in decode(line for m in s.history() for line in m.lines)]
    positions = [d for d in fixes if isinstance(d, PositionReport)]
    assert {d.mmsi for d in fixes if not isinstance(d, LineError)} == {"440000001"}
    assert len(positions) == 90
    assert positions[-1].observed_at.timestamp() < NOW - 30 * 60


# -- batching, pacing, command -------------------------------------------------------------------


def _messages(zones: dict[str, SimZone]) -> list[AisMessage]:
    s = build_scenario("uscg", now=NOW, vessels=20, history_h=0.5, zones=zones)
    return list(s.messages(end=NOW + 120))


def test_batches_keep_messages_whole_and_in_order(zones: dict[str, SimZone]) -> None:
    messages = _messages(zones)
    out = list(batches(messages, max_lines=5, slice_s=10, live_after=NOW))
    assert [line for b in out for line in b.lines] == [line for m in messages for line in m.lines]
    for b in out:
        assert len(b.lines) <= 5
        assert ",2,2," not in b.lines[0]  # a type 5 is never split across batches
        assert b.last_at - b.first_at < (10 if b.last_at <= NOW else 1)
        assert not (b.first_at <= NOW < b.last_at)


def test_pace_sends_history_at_the_max_rate_then_live_on_time(zones: dict[str, SimZone]) -> None:
    clock = [float(NOW)]
    slept: list[float] = []
    sent_at: list[tuple[float, int]] = []

    def sleep(s: float) -> None:
        slept.append(s)
        clock[0] += s

    class Sink(ListSink):
        def send(self, batch):  # type: ignore[no-untyped-def]
            sent_at.append((clock[0], batch.last_at))
            super().send(batch)

    sink = Sink()
    stream = batches(_messages(zones), max_lines=50, slice_s=10, live_after=NOW)
    stats = pace(stream, [sink], live_after=NOW, max_rate=100, clock=lambda: clock[0], sleep=sleep)
    assert stats.history_lines > 100 and stats.live_lines > 0
    # The history took about lines / rate seconds of (fake) wall time, live lines waited.
    last_history = max(t for t, at in sent_at if at <= NOW)
    assert last_history - NOW == pytest.approx(stats.history_lines / 100, abs=1.0)
    assert all(t >= at for t, at in sent_at if at > NOW)


def test_command_writes_lines_that_decode(tmp_path: Path) -> None:
    out = tmp_path / "ais.nmea"
    result = CliRunner().invoke(
        app,
        [
            "--scenario", "jcg", "--no-mqtt", "--out", str(out), "--history-h", "0.25",
            "--duration", "0.5", "--vessels", "5", "--max-rate", "0",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = out.read_text().splitlines()
    assert len(lines) > 100
    decoded = decode(lines)
    assert not [d for d in decoded if isinstance(d, LineError | Skipped)]


def test_command_needs_a_scenario_or_config() -> None:
    result = CliRunner().invoke(app, ["--no-mqtt", "--out", "/dev/null"])
    assert result.exit_code != 0


def test_parse_listen() -> None:
    assert parse_listen("127.0.0.1:10110") == ("127.0.0.1", 10110)
    assert parse_listen(":10110") == ("0.0.0.0", 10110)
    assert parse_listen("[::1]:10110") == ("::1", 10110)
    with pytest.raises(typer.BadParameter):
        parse_listen("10110")
