"""Encounter: two vessels side by side at sea, slowly, for a long time (possible
transshipment).

Raised for two vessels that stay within `encounter_distance_m` of each other (great-circle)
for at least `encounter_min_minutes`, both at most `encounter_max_sog_kn`, when at least one
of them is a `fishing` vessel or a `reefer`. Anywhere: zones are optional, and the detection
names the most specific zone watching "encounter" that holds the pair's first position
(zone_id None outside them; the key has `-` then).

Pairing in time: the two tracks are sampled on a common time grid of `encounter_step_min`
(5 min), aligned to the Unix epoch so that every run samples the same instants. A vessel's
position at a grid time is interpolated linearly between its fixes just before and after it
when both lie within one step of it, else it is its fix nearest to it within one step, else
unknown; its speed there is "slow" when the speeds of the fixes used are all at most the
maximum (a fix without speed is not slow). At each grid time the slow samples are bucketed in
a latitude/longitude grid of cells at least `encounter_distance_m` wide, and only samples of
fishing vessels and reefers look into their own and the 8 neighbouring cells: no comparison of
all pairs.

The episode of a pair is a run of grid times at which they are close and both slow; it ends at
a grid time at which both positions are known and they are not (apart, or one faster), or at a
stretch longer than `episode_gap_min` without both positions. Its duration runs from the first
to the last close grid time; started_at is the time of the earliest fix used at the first close
grid time, so it is stable from run to run. Evidence: the fixes of both vessels over the
episode, time-ordered, thinned.

Confidence: (0.7 + up to 0.15 as the duration grows to twice the minimum + up to 0.15 the
closer the pair on average) times 1.0 for a fishing vessel with a reefer, 0.8 for two fishing
vessels (pair trawling looks alike) and for a fishing vessel or reefer with any other vessel.
Category iuu_fishing, severity Moderate, urgency Expected while it goes on, Past once over.

Not handled: the antimeridian (cells on either side of 180 degrees are not neighbours), and
ports and anchorages, where moored vessels lie side by side: the service should leave out
positions in port, which this module cannot know.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt

from mdx.detect._common import (
    Zones,
    certainty_for,
    clamp01,
    described,
    fmt_distance,
    fmt_duration,
    minutes_between,
    urgency_for,
    utc_now,
    vessel_of,
    where,
)
from mdx.detect.geo import M_PER_DEG_LAT, ZoneIndex, haversine_m_array, most_specific
from mdx.detect.model import Detection, Fix, Thresholds, Vessel, Zone, make_key, thin

RULE = "encounter"
PARTIES = frozenset({"fishing", "reefer"})

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class _Samples:
    """One vessel's track on the time grid: only grid times with a known position."""

    mmsi: str
    fixes: Sequence[Fix]
    grid: IntArray  # grid index (time = index * step)
    lon: FloatArray
    lat: FloatArray
    slow: BoolArray
    lo: IntArray  # fixes used: lo..hi (equal when one fix)
    hi: IntArray
    row: dict[int, int]  # grid index -> position in the arrays above


@dataclass(frozen=True, slots=True)
class _Close:
    a: int  # sample row of the first vessel of the pair
    b: int  # sample row of the second
    metres: float


def detect(
    fixes: Mapping[str, Sequence[Fix]],
    vessels: Mapping[str, Vessel],
    zones: Zones,
    now: datetime,
    thresholds: Thresholds,
) -> list[Detection]:
    """Every episode of an encounter involving a fishing vessel or a reefer."""
    now = utc_now(now)
    t = thresholds
    vmax = t.encounter_max_sog_kn
    step_s = t.encounter_step_min * 60
    parties = {m for m, v in vessels.items() if v.category in PARTIES and m in fixes and fixes[m]}
    if not any(_any_slow(fixes[m], vmax) for m in parties):
        return []

    samples: list[_Samples] = []
    for mmsi, track in fixes.items():
        if track and _any_slow(track, vmax):
            s = _resample(mmsi, track, step_s, vmax)
            if s is not None:
                samples.append(s)
    is_party = [s.mmsi in parties for s in samples]
    close = _close_pairs(samples, is_party, t.encounter_distance_m)

    index = ZoneIndex.of(zones)
    out: list[Detection] = []
    for (i, j), at_grid in close.items():
        a, b = samples[i], samples[j]
        if b.mmsi < a.mmsi:
            a, b = b, a
            at_grid = {g: _Close(c.b, c.a, c.metres) for g, c in at_grid.items()}
        for episode, ended in _episodes(a, b, at_grid, step_s, t.episode_gap_min * 60):
            if (episode[-1] - episode[0]) * step_s < t.encounter_min_minutes * 60:
                continue
            out.append(_detection(a, b, episode, at_grid, ended, index, vessels, now, t))
    out.sort(key=lambda d: d.key)
    return out


def _any_slow(track: Sequence[Fix], vmax: float) -> bool:
    return any(f.sog is not None and f.sog <= vmax for f in track)


def _resample(mmsi: str, fixes: Sequence[Fix], step_s: float, vmax: float) -> _Samples | None:
    t = np.array([f.at.timestamp() for f in fixes], dtype=np.float64)
    if len(t) > 1 and bool((np.diff(t) < 0).any()):  # not in time order: sort
        by_time = np.argsort(t, kind="stable")
        fixes = [fixes[i] for i in by_time.tolist()]
        t = t[by_time]
    n = len(fixes)
    lon = np.array([f.lon for f in fixes], dtype=np.float64)
    lat = np.array([f.lat for f in fixes], dtype=np.float64)
    sog = np.array([np.nan if f.sog is None else f.sog for f in fixes], dtype=np.float64)
    first, last = math.ceil((t[0] - step_s) / step_s), math.floor((t[-1] + step_s) / step_s)
    grid = np.arange(first, last + 1, dtype=np.int64)
    at = grid * step_s
    nxt = np.searchsorted(t, at, side="left")  # t[nxt - 1] < at <= t[nxt]
    has_next, has_prev = nxt < n, nxt > 0
    nxt_c, prv_c = np.minimum(nxt, n - 1), np.maximum(nxt - 1, 0)
    d_next = np.where(has_next, t[nxt_c] - at, np.inf)
    d_prev = np.where(has_prev, at - t[prv_c], np.inf)
    interp = (d_next > 0) & (d_next <= step_s) & (d_prev <= step_s)
    near_next = ~interp & (d_next <= d_prev) & (d_next <= step_s)
    near_prev = ~interp & ~near_next & (d_prev <= step_s)
    ok = interp | near_next | near_prev
    if not ok.any():
        return None
    lo = np.where(interp | near_prev, prv_c, nxt_c)[ok]
    hi = np.where(interp, nxt_c, np.where(near_prev, prv_c, nxt_c))[ok]
    at, grid = at[ok], grid[ok]
    span = t[hi] - t[lo]
    w = np.divide(at - t[lo], span, out=np.zeros_like(span), where=span > 0)
    return _Samples(
        mmsi=mmsi,
        fixes=fixes,
        grid=grid,
        lon=lon[lo] + w * (lon[hi] - lon[lo]),
        lat=lat[lo] + w * (lat[hi] - lat[lo]),
        slow=(sog[lo] <= vmax) & (sog[hi] <= vmax),  # NaN (no speed) compares False
        lo=lo.astype(np.int64),
        hi=hi.astype(np.int64),
        row={g: r for r, g in enumerate(grid.tolist())},
    )


def _close_pairs(
    samples: list[_Samples], is_party: list[bool], max_m: float
) -> dict[tuple[int, int], dict[int, _Close]]:
    """For each pair of vessels (sample list positions, as found), the grid times at which
    both are slow and within max_m of each other. Vectorised: every slow sample gets a cell
    key (grid time, latitude cell, longitude cell); the keys are sorted once, and each sample
    of a fishing vessel or reefer finds the samples of its own and the 8 neighbouring cells by
    binary search; only those candidates have their distance computed."""
    slow = [np.flatnonzero(s.slow) for s in samples]
    counts = [len(r) for r in slow]
    if sum(counts) < 2:
        return {}
    vid = np.repeat(np.arange(len(samples), dtype=np.int64), counts)
    row = np.concatenate(slow).astype(np.int64)
    grid = np.concatenate([s.grid[r] for s, r in zip(samples, slow, strict=True)])
    lon = np.concatenate([s.lon[r] for s, r in zip(samples, slow, strict=True)])
    lat = np.concatenate([s.lat[r] for s, r in zip(samples, slow, strict=True)])
    party = np.asarray(is_party, dtype=bool)[vid]

    cell_lat = max_m / M_PER_DEG_LAT * 1.05
    top = float(np.abs(lat).max())
    # Wide enough in longitude at the highest latitude present, hence everywhere below it.
    cell_lon = cell_lat / math.cos(math.radians(min(89.0, top + cell_lat)))
    cy = np.floor(lat / cell_lat).astype(np.int64)
    cx = np.floor(lon / cell_lon).astype(np.int64)
    # One int64 per (grid, cy, cx), with a margin of one cell on every side.
    cy -= cy.min() - 1
    cx -= cx.min() - 1
    ny, nx = int(cy.max()) + 2, int(cx.max()) + 2
    key = ((grid - grid.min()) * ny + cy) * nx + cx
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]

    queries = np.flatnonzero(party)
    found_q: list[npt.NDArray[np.int64]] = []
    found_c: list[npt.NDArray[np.int64]] = []
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            wanted = key[queries] + dy * nx + dx
            lo = np.searchsorted(sorted_key, wanted, side="left")
            hi = np.searchsorted(sorted_key, wanted, side="right")
            n = hi - lo
            total = int(n.sum())
            if not total:
                continue
            q = np.repeat(queries, n)
            starts = np.repeat(lo - (np.cumsum(n) - n), n)
            c = order[starts + np.arange(total)]
            found_q.append(q)
            found_c.append(c)
    if not found_q:
        return {}
    q = np.concatenate(found_q)
    c = np.concatenate(found_c)
    # Not itself; a pair of two parties only once (from the lower vessel number).
    keep = (vid[c] != vid[q]) & (~party[c] | (vid[c] > vid[q]))
    q, c = q[keep], c[keep]
    metres = haversine_m_array(lon[q], lat[q], lon[c], lat[c])
    near = metres <= max_m

    close: dict[tuple[int, int], dict[int, _Close]] = {}
    for qi, ci, m in zip(q[near].tolist(), c[near].tolist(), metres[near].tolist(), strict=True):
        pair = close.setdefault((int(vid[qi]), int(vid[ci])), {})
        pair[int(grid[qi])] = _Close(int(row[qi]), int(row[ci]), m)
    return close


def _episodes(
    a: _Samples, b: _Samples, at_grid: dict[int, _Close], step_s: float, max_gap_s: float
) -> list[tuple[list[int], bool]]:
    """Runs of close grid times (see module docstring), each with whether it has ended."""
    grids = sorted(at_grid)
    out: list[tuple[list[int], bool]] = []
    run = [grids[0]]
    for g in grids[1:]:
        prev = run[-1]
        apart = (g - prev) * step_s > max_gap_s or any(
            m in a.row and m in b.row for m in range(prev + 1, g)
        )
        if apart:
            out.append((run, True))
            run = [g]
        else:
            run.append(g)
    both_later = set(a.row).intersection(b.row)
    out.append((run, any(m > run[-1] for m in both_later)))
    return out


def _used(s: _Samples, row: int) -> tuple[Fix, Fix]:
    return s.fixes[int(s.lo[row])], s.fixes[int(s.hi[row])]


def _detection(
    a: _Samples,
    b: _Samples,
    episode: list[int],
    at_grid: dict[int, _Close],
    ended: bool,
    index: ZoneIndex,
    vessels: Mapping[str, Vessel],
    now: datetime,
    t: Thresholds,
) -> Detection:
    first, last = at_grid[episode[0]], at_grid[episode[-1]]
    started_at = min(_used(a, first.a)[0].at, _used(b, first.b)[0].at)
    last_seen_at = max(_used(a, last.a)[1].at, _used(b, last.b)[1].at)
    start_lon = (float(a.lon[first.a]) + float(b.lon[first.b])) / 2
    start_lat = (float(a.lat[first.a]) + float(b.lat[first.b])) / 2
    lon = (float(a.lon[last.a]) + float(b.lon[last.b])) / 2
    lat = (float(a.lat[last.a]) + float(b.lat[last.b])) / 2
    zone: Zone | None = most_specific(z for z in index.at(start_lon, start_lat) if RULE in z.watch)
    zone_id = zone.id if zone is not None else None

    va, vb = vessel_of(a.mmsi, vessels), vessel_of(b.mmsi, vessels)
    kinds = {va.category, vb.category}
    factor = 1.0 if kinds == {"fishing", "reefer"} else 0.8
    metres = [at_grid[g].metres for g in episode]
    mean_m = sum(metres) / len(metres)
    minutes = minutes_between(started_at, last_seen_at)
    duration_score = min(1.0, minutes / t.encounter_min_minutes - 1)
    closeness = 1 - min(1.0, mean_m / t.encounter_distance_m)
    confidence = clamp01(factor * (0.7 + 0.15 * max(0.0, duration_score) + 0.15 * closeness))

    evidence = sorted(
        (f for f in (*a.fixes, *b.fixes) if started_at <= f.at <= last_seen_at),
        key=lambda f: (f.at, f.mmsi),
    )
    return Detection(
        rule=RULE,
        key=make_key(RULE, [a.mmsi, b.mmsi], zone_id, started_at),
        mmsis=(a.mmsi, b.mmsi),
        started_at=started_at,
        last_seen_at=last_seen_at,
        lon=lon,
        lat=lat,
        confidence=confidence,
        evidence=thin(evidence, t.max_evidence),
        zone_id=zone_id,
        category="iuu_fishing",
        title=(
            f"Encounter for {fmt_duration(minutes)}: {described(va)} and {described(vb)} "
            f"within {fmt_distance(max(metres))} {where(zone, start_lon, start_lat)}"
        ),
        severity="Moderate",
        certainty=certainty_for(confidence),
        urgency=urgency_for(ended, last_seen_at, now, t),
        facts={
            "minutes": round(minutes, 1),
            "mean_distance_m": round(mean_m, 1),
            "max_distance_m": round(max(metres), 1),
        },
    )
