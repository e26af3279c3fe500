"""Keeping one key per behaviour across runs when the rules alone cannot.

A rule keys an episode by its first fix, which is stable while the service looks at a window
that still holds that fix. When the window slides past the start of a long episode, or when a
behaviour is briefly interrupted (one fast fix in a trawl, a vessel out of range for a while),
the rule sees an episode with a later start and so a new key. `carry_over` gives such a
detection the key of the open detection it continues, so the service keeps updating one
incident.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from datetime import timedelta

from mdx.detect.model import Detection, thin


def continues(previous: Detection, current: Detection, max_gap: timedelta) -> bool:
    """Whether `current` is the same behaviour as `previous` going on: same rule, vessels and
    zone, starting no earlier than `previous` and at most `max_gap` after its last fix."""
    return (
        previous.rule == current.rule
        and previous.mmsis == current.mmsis
        and previous.zone_id == current.zone_id
        and previous.started_at <= current.started_at <= previous.last_seen_at + max_gap
    )


def carry_over(
    current: Sequence[Detection],
    open_detections: Iterable[Detection],
    max_gap: timedelta,
    max_evidence: int = 50,
) -> list[Detection]:
    """`current` with each detection that continues an open one (see `continues`) given that
    one's key and start, and the evidence of both (thinned); the others unchanged."""
    by_who: dict[tuple[str, tuple[str, ...], str | None], list[Detection]] = {}
    for p in open_detections:
        by_who.setdefault((p.rule, p.mmsis, p.zone_id), []).append(p)
    out: list[Detection] = []
    for d in current:
        match = [
            p
            for p in by_who.get((d.rule, d.mmsis, d.zone_id), ())
            if p.key != d.key and continues(p, d, max_gap)
        ]
        if not match:
            out.append(d)
            continue
        p = max(match, key=lambda x: x.last_seen_at)
        evidence = sorted(
            {(f.at, f.mmsi, f.lon, f.lat): f for f in (*p.evidence, *d.evidence)}.values(),
            key=lambda f: (f.at, f.mmsi),
        )
        out.append(
            dataclasses.replace(
                d,
                key=p.key,
                started_at=p.started_at,
                evidence=thin(evidence, max_evidence),
            )
        )
    return out
