"""What the rules share: the rule signature, episode runs, zone checks, wording of titles."""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Protocol

from mdx.detect.geo import ZoneIndex
from mdx.detect.model import Certainty, Detection, Fix, Thresholds, Urgency, Vessel, Zone, as_utc

Zones = Sequence[Zone] | ZoneIndex


class TrackRule(Protocol):
    """The signature every track rule has (the RULES registry holds these)."""

    def __call__(
        self,
        fixes: Mapping[str, Sequence[Fix]],
        vessels: Mapping[str, Vessel],
        zones: Zones,
        now: datetime,
        thresholds: Thresholds,
    ) -> list[Detection]: ...


def utc_now(now: datetime) -> datetime:
    return as_utc(now, "now")


def ordered(fixes: Sequence[Fix]) -> Sequence[Fix]:
    """The fixes in time order: as given when they already are (the usual case), else sorted."""
    times = [f.at for f in fixes]
    if all(map(operator.le, times, times[1:])):
        return fixes
    return sorted(fixes, key=lambda f: f.at)


def vessel_of(mmsi: str, vessels: Mapping[str, Vessel]) -> Vessel:
    return vessels.get(mmsi) or Vessel(mmsi=mmsi)


def zones_of_tracks(
    index: ZoneIndex, tracks: Mapping[str, Sequence[Fix]]
) -> tuple[dict[str, list[int]], tuple[tuple[Zone, ...], ...]]:
    """For every fix of every track, the number of its combination of zones (see
    ZoneIndex.lookup), and the combinations: one vectorised look-up for all tracks."""
    lons: list[float] = []
    lats: list[float] = []
    for fixes in tracks.values():
        lons += [f.lon for f in fixes]
        lats += [f.lat for f in fixes]
    ids, combos = index.lookup(lons, lats)
    out: dict[str, list[int]] = {}
    start = 0
    for mmsi, fixes in tracks.items():
        out[mmsi] = ids[start : start + len(fixes)]
        start += len(fixes)
    return out, combos


def may_fish(zones_here: Sequence[Zone], flag: str | None) -> bool:
    """Whether a vessel of this flag may fish where these zones overlap: every zone's rule
    must allow it, except that a fishing-agreement zone that allows the flag overrides a
    flag-state-only or agreement zone around it (never a prohibition)."""
    return not forbidding(zones_here, flag, watch=None)


def forbidding(zones_here: Sequence[Zone], flag: str | None, watch: str | None) -> list[Zone]:
    """The zones (watching `watch`, if given) whose fishing rule this flag breaks here."""
    agreed = any(z.kind == "fishing_agreement" and z.allows_fishing(flag) for z in zones_here)
    return [
        z
        for z in zones_here
        if (watch is None or watch in z.watch)
        and not z.allows_fishing(flag)
        and (z.fishing == "prohibited" or not agreed)
    ]


def runs(
    fixes: Sequence[Fix], state: Callable[[int], bool | None], max_gap_s: float
) -> Iterator[tuple[list[int], bool]]:
    """Maximal runs of fixes whose state is True, as index lists, each with whether it ended
    by the data ending (True) rather than by a fix in the wrong state or a gap (False).
    A fix whose state is None (unknown, e.g. no speed) neither extends nor ends a run; a time
    gap longer than max_gap_s between two fixes of a run ends it."""
    run: list[int] = []
    for i in range(len(fixes)):
        s = state(i)
        if s is None:
            continue
        if run and (not s or (fixes[i].at - fixes[run[-1]].at).total_seconds() > max_gap_s):
            yield run, False
            run = []
        if s:
            run.append(i)
    if run:
        yield run, True


def clamp01(value: float) -> float:
    return round(min(1.0, max(0.0, value)), 3)


def certainty_for(confidence: float) -> Certainty:
    """CAP certainty of a behaviour inferred from tracks (never Observed: that is for a
    report of the event itself, such as a distress alert)."""
    if confidence >= 0.7:
        return "Likely"
    if confidence >= 0.4:
        return "Possible"
    return "Unlikely"


def urgency_for(ended: bool, last_seen_at: datetime, now: datetime, t: Thresholds) -> Urgency:
    """Expected while the behaviour may still be going on, Past once it is over."""
    stale = (now - last_seen_at).total_seconds() > t.episode_gap_min * 60
    return "Past" if ended or stale else "Expected"


def minutes_between(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds() / 60


def fmt_duration(minutes: float) -> str:
    """`40 min`, `3 h`, `3 h 10 min` (rounded down to the minute)."""
    total = int(minutes)
    hours, mins = divmod(total, 60)
    if not hours:
        return f"{mins} min"
    return f"{hours} h" if not mins else f"{hours} h {mins} min"


def fmt_distance(metres: float) -> str:
    return f"{metres:.0f} m" if metres < 1000 else f"{metres / 1000:.1f} km"


def fmt_position(lon: float, lat: float) -> str:
    ns = "N" if lat >= 0 else "S"
    ew = "E" if lon >= 0 else "W"
    return f"{abs(lat):.2f}{ns} {abs(lon):.2f}{ew}"


def where(zone: Zone | None, lon: float, lat: float) -> str:
    return f"inside {zone.name}" if zone is not None else f"at {fmt_position(lon, lat)}"


def described(vessel: Vessel) -> str:
    """`KR fishing vessel NAME (MMSI)`: flag and category when known."""
    kind = vessel.category if vessel.category not in (None, "", "unknown", "other") else None
    words = [w for w in (vessel.flag, f"{kind} vessel" if kind else None) if w]
    words = [w.replace("_", " ") for w in words]
    return " ".join([*words, vessel.label])
