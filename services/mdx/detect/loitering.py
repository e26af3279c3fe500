"""Loitering: a vessel that stays in one small area, slowly, for a long time.

Raised for an episode of at least `loiter_min_minutes` in which every fix lies within
`loiter_radius_m` of the centroid of the episode's fixes and the mean reported speed is at most
`loiter_max_sog_kn` (without any reported speed: the speed along the track), all inside a zone
that watches "loitering".

Episodes are found along the track: from a fix, a run grows fix by fix while every fix stays
within the radius of the (moving) centroid; the first fix that would break that, a fix outside
the watched zones, or a time gap longer than `episode_gap_min` ends it. A run long and slow
enough is an episode and the search goes on after it; a run long enough but too fast on
average (circling) is skipped as a whole; a run too short is dropped and the search goes on
from the next fix that could start one (so a vessel arriving at 12 kn has its episode start
on arrival). Fixes that cannot start an episode are ruled out first for the whole track at
once by necessary conditions (see _candidates), which keeps the search fast for vessels under
way. A stay that drifts further than the radius becomes several episodes (several keys); the
service may join them (episodes.carry_over).

Left out: a vessel of category `fishing` at a fix where it may fish (every zone there allows
its flag, an unknown flag only in open waters): it is fishing, not loitering; where it may not
fish, its slow circling is reported (and foreign_fishing may report it too). Navigational status
(at anchor, moored) is not known here: a vessel at anchor inside a watched zone is reported.

Confidence: 0.5, plus up to 0.3 as the duration grows to twice the minimum, plus up to 0.2 the
tighter the stay (maximum distance from the centroid against the radius). Category iuu_fishing
for a fishing vessel or a reefer (a stay where it may not fish), maritime_safety otherwise.
Severity Minor, urgency Expected while it goes on, Past once it is over.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from mdx.detect._common import (
    Zones,
    certainty_for,
    clamp01,
    described,
    fmt_distance,
    fmt_duration,
    may_fish,
    minutes_between,
    ordered,
    urgency_for,
    utc_now,
    vessel_of,
    where,
    zones_of_tracks,
)
from mdx.detect.geo import (
    EARTH_RADIUS_M,
    KNOT_M_PER_S,
    FloatArray,
    ZoneIndex,
    fix_distance_m,
    most_specific,
)
from mdx.detect.model import Category, Detection, Fix, Thresholds, Vessel, Zone, make_key, thin

RULE = "loitering"


@dataclass(frozen=True, slots=True)
class _Stay:
    start: int  # index of the first fix
    end: int  # index of the last fix (inclusive)
    lon: float  # centroid
    lat: float
    max_m: float  # farthest fix from the centroid
    mean_sog: float  # knots


def detect(
    fixes: Mapping[str, Sequence[Fix]],
    vessels: Mapping[str, Vessel],
    zones: Zones,
    now: datetime,
    thresholds: Thresholds,
) -> list[Detection]:
    """Every episode of loitering in a zone that watches loitering."""
    now = utc_now(now)
    index = ZoneIndex.of(zones)
    if not index.watching(RULE):
        return []
    tracks = {m: ordered(t) for m, t in fixes.items() if t}
    combo_of, combos = zones_of_tracks(index, tracks)
    watched = [any(RULE in z.watch for z in combo) for combo in combos]
    out: list[Detection] = []
    for mmsi, track in tracks.items():
        vessel = vessel_of(mmsi, vessels)
        if vessel.category == "fishing":
            # A fishing vessel where it may fish is fishing, not loitering.
            allowed = [
                watched[c] and not may_fish(combo, vessel.flag) for c, combo in enumerate(combos)
            ]
        else:
            allowed = watched
        eligible = [allowed[c] for c in combo_of[mmsi]]
        if not any(eligible):
            continue
        for stay in _stays(track, eligible, thresholds):
            here = combos[combo_of[mmsi][stay.start]]
            zone = most_specific(z for z in here if RULE in z.watch)
            assert zone is not None  # the first fix of a stay is eligible
            episode = track[stay.start : stay.end + 1]
            ended = stay.end < len(track) - 1
            out.append(
                _detection(vessel, zone, stay, episode, stay.mean_sog, ended, now, thresholds)
            )
    return out


class _Track:
    """A track as unit vectors on the sphere, for distance work without a map projection:
    the chord between two fixes a few kilometres apart is their great-circle distance to
    within 1e-7, and the normalised sum of vectors is their centroid."""

    def __init__(self, track: Sequence[Fix], eligible: list[bool], t: Thresholds) -> None:
        self.t = np.array([f.at.timestamp() for f in track], dtype=np.float64)
        lon = np.radians(np.array([f.lon for f in track], dtype=np.float64))
        lat = np.radians(np.array([f.lat for f in track], dtype=np.float64))
        self.xyz = np.column_stack(
            (np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat))
        )
        self.eligible = np.asarray(eligible, dtype=bool)
        # Where a run must stop: an ineligible fix, or a fix after a long gap.
        stop = ~self.eligible
        stop[1:] |= np.diff(self.t) > t.episode_gap_min * 60
        self.stops = np.flatnonzero(stop)

    def limit(self, i: int) -> int:
        """The last fix a run from fix i can reach (before the next stop)."""
        k = int(np.searchsorted(self.stops, i, side="right"))
        return int(self.stops[k]) - 1 if k < len(self.stops) else len(self.t) - 1


# A chord c between unit vectors p and q: c^2 = 2 - 2 p.q, so "within chord r" is p.q >= 1 - r^2/2.
_BLOCK = 256


def _stays(track: Sequence[Fix], eligible: list[bool], t: Thresholds) -> list[_Stay]:
    """The loitering episodes of a track (see the module docstring)."""
    v = _Track(track, eligible, t)
    stays: list[_Stay] = []
    after = 0  # the next episode starts at or after this fix
    for i in _candidates(v, t):
        if i < after:
            continue
        end, c = _grow(v, i, t)
        episode = track[i : end + 1]
        if minutes_between(episode[0].at, episode[-1].at) < t.loiter_min_minutes:
            continue  # too short: try the next candidate start
        mean_sog = _mean_sog(episode)
        if mean_sog <= t.loiter_max_sog_kn:
            stays.append(_stay(v, episode, i, end, c, mean_sog))
        after = end + 1  # a long stay too fast on average (circling) is skipped as a whole
    return stays


def _candidates(v: _Track, t: Thresholds) -> list[int]:
    """The fixes an episode could start at, by necessary conditions checked for all fixes at
    once: the track goes on for loiter_min_minutes after it, eligible and without a long
    gap, and it is within twice the radius of that fix at the end of that time and at three
    points in between (all fixes within the radius of a centroid are within twice the radius
    of each other). Rules out almost every fix of a vessel under way, cheaply."""
    n = len(v.t)
    idx = np.arange(n)
    k = np.searchsorted(v.t, v.t + t.loiter_min_minutes * 60, side="left")
    ok = (k < n) & v.eligible
    k = np.minimum(k, n - 1)
    # No stop in (i, k]: the next stop after i is beyond k.
    nxt = np.searchsorted(v.stops, idx, side="right")
    next_stop = np.append(v.stops, n)[nxt]
    ok &= next_stop > k
    diameter = 2 * t.loiter_radius_m / EARTH_RADIUS_M
    for frac in (1.0, 0.5, 0.25, 0.75):
        q = idx + ((k - idx) * frac).astype(np.int64)
        d = v.xyz[q] - v.xyz
        ok &= (d * d).sum(axis=1) <= diameter * diameter
    found: list[int] = np.flatnonzero(ok).tolist()
    return found


def _grow(v: _Track, i: int, t: Thresholds) -> tuple[int, FloatArray]:
    """The last fix of the longest run from fix i whose fixes all stay within the radius of
    their centroid (up to the next stop), and that centroid (unit vector). Vectorised: the
    centroids of every prefix of the run from cumulative sums, then, a block of prefixes at a
    time, the smallest dot product of each centroid with the fixes of its prefix."""
    radius = t.loiter_radius_m / EARTH_RADIUS_M
    least = 1 - radius * radius / 2
    points = v.xyz[i : v.limit(i) + 1]
    sums = np.cumsum(points, axis=0)
    centroids = sums / np.linalg.norm(sums, axis=1)[:, None]
    for b0 in range(0, len(points), _BLOCK):
        b1 = min(len(points), b0 + _BLOCK)
        dots = points[:b1] @ centroids[b0:b1].T  # rows: fixes, columns: prefixes b0..b1-1
        later = np.arange(b1)[:, None] > np.arange(b0, b1)[None, :]
        dots[later] = np.inf  # a prefix holds only the fixes up to its own end
        bad = np.flatnonzero(dots.min(axis=0) < least)
        if len(bad):
            end = b0 + int(bad[0]) - 1
            return i + end, centroids[end]
    return i + len(points) - 1, centroids[-1]


def _stay(
    v: _Track, episode: Sequence[Fix], start: int, end: int, c: FloatArray, mean_sog: float
) -> _Stay:
    dots = v.xyz[start : end + 1] @ c
    farthest = math.sqrt(max(0.0, 2 - 2 * float(dots.min()))) * EARTH_RADIUS_M
    lat = math.degrees(math.asin(max(-1.0, min(1.0, float(c[2])))))
    lon = math.degrees(math.atan2(float(c[1]), float(c[0])))
    return _Stay(start, end, lon, lat, farthest, mean_sog)


def _mean_sog(episode: Sequence[Fix]) -> float:
    """Mean reported speed (knots); without any, the speed along the track."""
    sogs = [f.sog for f in episode if f.sog is not None]
    if sogs:
        return sum(sogs) / len(sogs)
    seconds = (episode[-1].at - episode[0].at).total_seconds()
    path = sum(fix_distance_m(a, b) for a, b in itertools.pairwise(episode))
    return path / seconds / KNOT_M_PER_S if seconds > 0 else 0.0


def _detection(
    vessel: Vessel,
    zone: Zone,
    stay: _Stay,
    episode: Sequence[Fix],
    mean_sog: float,
    ended: bool,
    now: datetime,
    t: Thresholds,
) -> Detection:
    first, last = episode[0], episode[-1]
    minutes = minutes_between(first.at, last.at)
    duration_score = min(1.0, minutes / t.loiter_min_minutes - 1)
    tightness = 1 - min(1.0, stay.max_m / t.loiter_radius_m)
    confidence = clamp01(0.5 + 0.3 * duration_score + 0.2 * tightness)
    category: Category = (
        "iuu_fishing" if vessel.category in ("fishing", "reefer") else "maritime_safety"
    )
    return Detection(
        rule=RULE,
        key=make_key(RULE, [vessel.mmsi], zone.id, first.at),
        mmsis=(vessel.mmsi,),
        started_at=first.at,
        last_seen_at=last.at,
        lon=stay.lon,
        lat=stay.lat,
        confidence=confidence,
        evidence=thin(episode, t.max_evidence),
        zone_id=zone.id,
        category=category,
        title=(
            f"Loitering for {fmt_duration(minutes)}: {described(vessel)} within "
            f"{fmt_distance(max(stay.max_m, 1.0))} {where(zone, stay.lon, stay.lat)}"
        ),
        severity="Minor",
        certainty=certainty_for(confidence),
        urgency=urgency_for(ended, last.at, now, t),
        facts={
            "minutes": round(minutes, 1),
            "max_distance_m": round(stay.max_m, 1),
            "mean_sog_kn": round(mean_sog, 2),
        },
    )
