"""Releasability checks: items the target's producer marks so that the checking identity must
not get them (RED, AMBER+STRICT, AMBER for another node, a purpose it is not registered for)
and items it must get (CLEAR, GREEN, AMBER for it, a purpose it is registered for); then, read
as the checking identity, every released item is present and no withheld one appears
anywhere: by id, in lists and their counts, in OGC API items, in its share feed."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from typing import Any

import orjson

from mdx.conformance.report import Result, failed, passed, skipped
from mdx.conformance.target import Session, Target, wait
from mdx.core import topics
from mdx.core.envelope import make_envelope
from mdx.core.schemas import SchemaSet

RELEASED = "releasability.released"
NO_LEAK = "releasability.no-leak"
# relto of an AMBER item for a node that is not the checking identity.
OTHER = "other-node"
# Everywhere the checking identity could meet an item.
PLACES = (
    "by id",
    "in the incident list",
    "in OGC incidents",
    "by OGC id",
    "in OGC positions",
    "as a vessel",
    "in the share feed",
)


@dataclass(frozen=True, slots=True)
class Marked:
    label: str  # how the report names it, e.g. "AMBER for other-node"
    released: bool  # whether the checking identity must get it
    markings: dict[str, Any]


def cases(me: str, purposes: list[str] | None) -> list[Marked]:
    found = [
        Marked("RED", False, {"tlp": "RED"}),
        Marked("AMBER+STRICT", False, {"tlp": "AMBER+STRICT"}),
        Marked(f"AMBER for {OTHER}", False, {"tlp": "AMBER", "relto": [OTHER]}),
        Marked("CLEAR", True, {"tlp": "CLEAR"}),
        Marked("GREEN", True, {"tlp": "GREEN"}),
        Marked(f"AMBER for {me}", True, {"tlp": "AMBER", "relto": [me]}),
    ]
    if purposes:
        known = SchemaSet().schema("https://mdx.example/schemas/common/v1/defs.schema.json")
        others = [p for p in known["$defs"]["purpose"]["enum"] if p not in purposes]
        found.append(
            Marked(f"GREEN for {purposes[0]}", True, {"tlp": "GREEN", "purpose": purposes[0]})
        )
        if others:
            found.append(
                Marked(f"GREEN for {others[0]}", False, {"tlp": "GREEN", "purpose": others[0]})
            )
    return found


@dataclass(frozen=True, slots=True, eq=False)  # one published item is itself, by identity
class Published:
    case: Marked
    incident_id: str
    mmsi: str
    event_ids: tuple[str, str]
    title: str  # unique to this run: what a CQL2 filter can name


def title(tag: str, case: Marked) -> str:
    return f"mdx conformance {tag}: {case.label}"


def run(target: Target) -> list[Result]:
    if target.producer is None or target.key is None:
        why = "needs a producer account (--broker) and the checking identity's key (--key)"
        return [skipped(RELEASED, why), skipped(NO_LEAK, why)]
    producer = target.producer.credentials.username
    head = int(target.feed(0, 1)["head"])
    # A box of the open sea of its own, so lists and counts there hold exactly our items.
    lon, lat = random.uniform(150, 170), random.uniform(-40, -20)
    bbox = f"{lon - 0.01},{lat - 0.01},{lon + 0.01},{lat + 0.01}"
    tag = uuid.uuid4().hex[:8]
    published = _publish(target, producer, cases(target.me, target.purposes), lon, lat, tag)
    if isinstance(published, Result):
        return [published, skipped(NO_LEAK, "nothing was published")]
    released = [p for p in published if p.case.released]
    withheld = [p for p in published if not p.case.released]
    seen = _seen(target, published, bbox, head)
    missing = [
        f"{p.case.label} {where}" for p in released for where in PLACES if p not in seen[where]
    ]
    leaked = [f"{p.case.label} {where}" for p in withheld for where in PLACES if p in seen[where]]
    counted = seen["counts"]
    results = []
    # numberMatched below the released count misses some; above it counts a withheld one.
    if missing or min(counted) < len(released):
        detail = "; ".join(missing[:4]) or f"numberMatched {counted}, expected {len(released)}"
        results.append(failed(RELEASED, f"releasable items not served to {target.me}: {detail}"))
    else:
        results.append(
            passed(RELEASED, f"{len(released)} releasable items served to {target.me} everywhere")
        )
    if leaked or max(counted) > len(released):
        detail = "; ".join(leaked[:4]) or f"numberMatched {counted} > {len(released)} released"
        results.append(failed(NO_LEAK, f"withheld items reached {target.me}: {detail}"))
    else:
        labels = ", ".join(p.case.label for p in withheld)
        results.append(passed(NO_LEAK, f"none of {len(withheld)} withheld items ({labels}) leaked"))
    return results


def _publish(
    target: Target, producer: str, marked: list[Marked], lon: float, lat: float, tag: str
) -> list[Published] | Result:
    receipt = topics.receipt(producer)
    out = []
    with Session(target.producer, (receipt,)) as session:  # type: ignore[arg-type]
        seq = session.last_seq(receipt)
        for i, case in enumerate(marked):
            incident_id = str(uuid.uuid4())
            mmsi = f"4319{random.randrange(10**5):05d}"
            data = {
                "incident_id": incident_id,
                "version": 1,
                "category": "maritime_safety",
                "status": "reported",
                "title": title(tag, case),
                "location": {"type": "Point", "coordinates": [lon, lat]},
                "observed_at": "2026-01-01T00:00:00Z",
            }
            position = {
                "mmsi": mmsi,
                "lat": lat + i / 10_000,
                "lon": lon,
                "observed_at": "2026-01-01T00:00:00Z",
                "source_type": "ais-terrestrial",
            }
            ids = []
            for kind, body in (("incident", data), ("position", position)):
                seq += 1
                e = make_envelope(
                    target.node, producer, topics.KIND_TO_TYPE[kind], body, seq=seq, **case.markings
                )
                ids.append(e["id"])
                session.publish(topics.inbound(producer, kind), orjson.dumps(e))
            out.append(Published(case, incident_id, mmsi, (ids[0], ids[1]), title(tag, case)))
        if not wait(lambda: session.last_seq(receipt) >= seq, target.timeout):
            return failed(
                RELEASED,
                f"the receipt never covered seq {seq} within {target.timeout:.0f} s "
                f"(last {session.last_seq(receipt)})",
            )
    return out


def _seen(target: Target, published: list[Published], bbox: str, head: int) -> dict[str, Any]:
    """Where each published item shows for the checking identity; "counts" holds the
    numberMatched of OGC incidents in the box (plain, then asked with a filter naming every
    published incident, which must count only the released ones too)."""
    by_incident = {p.incident_id: p for p in published}
    by_mmsi = {p.mmsi: p for p in published}
    by_event = {e: p for p in published for e in p.event_ids}
    seen: dict[str, Any] = {}
    seen["by id"] = {
        p for p in published if target.get(f"/api/v1/incidents/{p.incident_id}").status_code == 200
    }
    listed = target.get("/api/v1/incidents", {"bbox": bbox, "limit": 100}).json()
    seen["in the incident list"] = {
        by_incident[i] for i in _feature_ids(listed, "incident_id") if i in by_incident
    }
    ogc = target.get("/ogcapi/collections/incidents/items", {"bbox": bbox, "limit": 100}).json()
    seen["in OGC incidents"] = {
        by_incident[i] for i in _feature_ids(ogc, "incident_id") if i in by_incident
    }
    seen["by OGC id"] = {
        p
        for p in published
        if target.get(f"/ogcapi/collections/incidents/items/{p.incident_id}").status_code == 200
    }
    positions = target.get(
        "/ogcapi/collections/positions/items", {"bbox": bbox, "limit": 100}
    ).json()
    seen["in OGC positions"] = {by_mmsi[m] for m in _feature_ids(positions, "mmsi") if m in by_mmsi}
    seen["as a vessel"] = {
        p for p in published if target.get(f"/api/v1/vessels/{p.mmsi}").status_code == 200
    }
    ids = " OR ".join(f"title='{p.title}'" for p in published)
    filtered = target.get(
        "/ogcapi/collections/incidents/items", {"filter": ids, "limit": 100}
    ).json()
    seen["counts"] = (_matched(ogc), _matched(filtered))
    feed = target.feed_after(head)
    seen["in the share feed"] = {
        by_event[m["envelope"]["id"]] for m in feed if m.get("envelope", {}).get("id") in by_event
    }
    return seen


def _matched(page: dict[str, Any]) -> int:
    """numberMatched, or the features returned when the target leaves it out (it may)."""
    matched = page.get("numberMatched")
    return matched if isinstance(matched, int) else len(page.get("features", []))


def _feature_ids(collection: dict[str, Any], name: str) -> set[str]:
    """The `name` of each feature (its property, or its id), as text."""
    found = set()
    for f in collection.get("features", []):
        props = f.get("properties") or {}
        found.add(str(props.get(name, f.get("id"))))
    return found
