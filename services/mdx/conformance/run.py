"""Run every group of checks against a target, in an order where each leaves the data the
next reads (the OGC checks page through what intake and releasability published)."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from mdx.conformance import intake, ogc, releasability, replay, share
from mdx.conformance.report import Result, failed
from mdx.conformance.target import KitError, Target

GROUPS: tuple[tuple[str, Callable[[Target], list[Result]]], ...] = (
    ("intake", intake.run),
    ("releasability", releasability.run),
    ("signatures", share.run),
    ("replay", replay.run),
    ("ogcapi", ogc.run),
)


def run_all(target: Target) -> list[Result]:
    results: list[Result] = []
    for group, checks in GROUPS:
        try:
            results += checks(target)
        except (KitError, httpx.HTTPError, ValueError, KeyError, TypeError) as e:
            # The group could not run to the end: the target did not answer, or not as the
            # contract says (e.g. not JSON, a member missing).
            results.append(failed(f"{group}.run", f"{group} checks stopped: {e!r}"))
    return results
