"""mdx items as Cursor-on-Target events: pure functions from a vessel's latest position or an
incident to one CoT `<event>` (CoT 2.0, the XML TAK clients read), built with lxml.

Types come from MITRE's CoT type tree (CoTtypes.xml v1.80; tests/unit/test_cot_mapping.py
checks every one exists there, the affiliation letter aside); docs/standards/cot.md has the
tables and the reasons for each choice.

- Affiliation (the second field): `f` (friend) for a law-enforcement or SAR vessel flagged by
  this node's state or a partner's (the coast guards of the network: the states of their areas
  of responsibility, `friendly_flags`); `u` (unknown) for every other vessel and for incidents.
  mdx does not judge intent: "neutral" or "hostile" is an assessment for the watch officer.
- `how`: `m-g` (machine, GPS) for AIS and VMS positions and for incidents a detection rule
  raised from them, `m-r` (machine, radio) for radar, `h-e` (human, estimated) for a patrol's
  sighting and for incidents an operator reported.
- `time` and `start`: when the item was observed. `stale`: a vessel's observation plus
  `VESSEL_STALE`; an open incident's `now` plus `INCIDENT_STALE` (the server sends it again
  before then); a resolved or closed incident's observation plus `INCIDENT_STALE`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from lxml import etree

VERSION = "2.0"
# CoT's "unknown" for heights and errors (ATAK and TAK Server use the same value).
UNKNOWN = 9999999.0
VESSEL_STALE = timedelta(minutes=10)
INCIDENT_STALE = timedelta(hours=24)
KNOT_MS = 1852.0 / 3600.0  # CoT's track speed is metres per second
FRIENDLY, UNKNOWN_AFFILIATION = "f", "u"
OPEN_STATUSES = frozenset({"reported", "acknowledged", "responding"})

# Registry category (mdx.ais.facts.SHIP_CATEGORIES) -> CoT type without the affiliation. Where
# the tree has no node for a kind, the closest parent: S-X "non-military" for civilian kinds,
# S "sea surface track" for military and unknown ones (see docs/standards/cot.md).
VESSEL_TYPES: dict[str, str] = {
    "fishing": "a-.-S-X-F",
    "law_enforcement": "a-.-S-X-L",
    "cargo": "a-.-S-X-M-C",
    "tanker": "a-.-S-X-M-O",
    "passenger": "a-.-S-X-M-P",
    "towing": "a-.-S-X-M-T-O",
    "tug": "a-.-S-X-M-T-U",
    "sailing": "a-.-S-X-R",
    "pleasure": "a-.-S-X-R",
    "sar": "a-.-S-N-N-R",
    "medical": "a-.-S-N-M",
    "dredging": "a-.-S-X",
    "diving": "a-.-S-X",
    "high_speed": "a-.-S-X",
    "pilot": "a-.-S-X",
    "port_tender": "a-.-S-X",
    "anti_pollution": "a-.-S-X",
    "wig": "a-.-S-X",
    "other": "a-.-S-X",
    "military": "a-.-S",
    "unknown": "a-.-S",
}
# Cargo ships carrying dangerous goods (AIS ship types 71-74: hazard categories A-D).
HAZMAT_CARGO = "a-.-S-X-M-H"
# SAR aircraft (MMSI 111MIDxxx; the registry calls them "sar"): the tree's air track.
SAR_AIRCRAFT = "a-.-A"

# Incident category (schemas/incident/v1) -> CoT type from the incident branch a-.-X-i.
INCIDENT_TYPES: dict[str, str] = {
    "sar": "a-.-X-i-r",  # RESCUE
    "pollution": "a-.-X-i-e",  # POLLUTION ENVIRONMENTAL
    "piracy_robbery": "a-.-X-i-t-m-h",  # TRANSPORTATION/MARITIME HIJACKING (closest)
    "iuu_fishing": "a-.-X-i-l-l",  # SECURITY/LAW ENFORCEMENT (no fishing node)
    "smuggling": "a-.-X-i-l-l",  # SECURITY/LAW ENFORCEMENT (no smuggling node)
    "irregular_migration": "a-.-X-i-l",  # SECURITY (no migration node)
    "maritime_safety": "a-.-X-i-t-m",  # TRANSPORTATION/MARITIME
    "other": "a-.-X-i-o",  # OTHER
}
INCIDENT_FALLBACK = "a-.-X-i"

# Position source (schemas/position/v1 SourceType) -> how.
POSITION_HOW: dict[str, str] = {
    "ais-terrestrial": "m-g",
    "ais-satellite": "m-g",
    "vms": "m-g",
    "radar": "m-r",
    "patrol-sighting": "h-e",
}


@dataclass(frozen=True, slots=True)
class Markings:
    """The handling markings every item carries (TLP 2.0, releasable-to, purpose, origin)."""

    origin: str
    tlp: str
    relto: tuple[str, ...] = ()
    purpose: str | None = None


@dataclass(frozen=True, slots=True)
class VesselFix:
    """A vessel's latest position with what the registry knows of it."""

    mmsi: str
    lat: float
    lon: float
    observed_at: datetime
    source_type: str
    markings: Markings
    sog: float | None = None
    cog: float | None = None
    heading: int | None = None
    name: str | None = None
    imo: str | None = None
    call_sign: str | None = None
    flag: str | None = None
    category: str = "unknown"
    ship_type: int | None = None


@dataclass(frozen=True, slots=True)
class IncidentItem:
    """An incident's current version, its data as the caller may see it (mdx.api.visibility
    `shown`), placed at one point (a polygon's point on surface) with the radius `ce_m` that
    covers its area (None for a point)."""

    incident_id: str
    lat: float
    lon: float
    observed_at: datetime
    markings: Markings
    data: dict[str, Any] = field(default_factory=dict)
    ce_m: float | None = None

    @property
    def category(self) -> str:
        return str(self.data.get("category", "other"))

    @property
    def status(self) -> str:
        return str(self.data.get("status", "reported"))


# -- types, how, times -------------------------------------------------------------------------


def with_affiliation(type_: str, affiliation: str) -> str:
    """The tree writes atoms as `a-.-...`; an event names the affiliation in place of `.`."""
    if not type_.startswith("a-.-"):
        raise ValueError(f"not an atom type of the tree: {type_!r}")
    return f"a-{affiliation}-{type_.removeprefix('a-.-')}"


def vessel_affiliation(fix: VesselFix, friendly_flags: Iterable[str]) -> str:
    """`f` for a law-enforcement or SAR vessel of the network's states, else `u`."""
    state_vessel = fix.category in ("law_enforcement", "sar")
    return FRIENDLY if state_vessel and fix.flag in set(friendly_flags) else UNKNOWN_AFFILIATION


def vessel_type(fix: VesselFix, friendly_flags: Iterable[str] = ()) -> str:
    if fix.category == "sar" and fix.mmsi.startswith("111"):
        base = SAR_AIRCRAFT
    elif fix.category == "cargo" and fix.ship_type in (71, 72, 73, 74):
        base = HAZMAT_CARGO
    else:
        base = VESSEL_TYPES.get(fix.category, VESSEL_TYPES["unknown"])
    return with_affiliation(base, vessel_affiliation(fix, friendly_flags))


def incident_type(category: str) -> str:
    return with_affiliation(INCIDENT_TYPES.get(category, INCIDENT_FALLBACK), UNKNOWN_AFFILIATION)


def position_how(source_type: str) -> str:
    return POSITION_HOW.get(source_type, "m-g" if source_type.startswith("ais") else "h-e")


def incident_how(data: dict[str, Any]) -> str:
    """A detection rule's candidate is placed by AIS fixes; anything else an operator typed."""
    return "m-g" if data.get("detection") else "h-e"


def cot_time(t: datetime) -> str:
    """UTC with milliseconds and `Z`, the form TAK clients write and parse."""
    return t.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def vessel_stale(fix: VesselFix, stale: timedelta = VESSEL_STALE) -> datetime:
    return fix.observed_at + stale


def incident_stale(
    item: IncidentItem, now: datetime, stale: timedelta = INCIDENT_STALE
) -> datetime:
    if item.status in OPEN_STATUSES:
        return max(now, item.observed_at) + stale
    return item.observed_at + stale


# -- events --------------------------------------------------------------------------------------


def vessel_uid(mmsi: str) -> str:
    return f"mdx-vessel-{mmsi}"


def incident_uid(incident_id: str) -> str:
    return f"mdx-incident-{incident_id}"


def vessel_event(
    fix: VesselFix, friendly_flags: Iterable[str] = (), stale: timedelta = VESSEL_STALE
) -> etree._Element:
    event = _event(
        vessel_uid(fix.mmsi),
        vessel_type(fix, friendly_flags),
        position_how(fix.source_type),
        fix.observed_at,
        vessel_stale(fix, stale),
        fix.lat,
        fix.lon,
        None,
    )
    detail = etree.SubElement(event, "detail")
    etree.SubElement(detail, "contact", callsign=(fix.name or "").strip() or fix.mmsi)
    course = fix.cog if fix.cog is not None else fix.heading
    if course is not None and fix.sog is not None:
        etree.SubElement(detail, "track", course=_num(float(course)), speed=_num(fix.sog * KNOT_MS))
    etree.SubElement(detail, "remarks").text = vessel_remarks(fix)
    _mdx_detail(detail, "vessel", fix.markings, category=fix.category, mmsi=fix.mmsi)
    return event


def incident_event(
    item: IncidentItem, now: datetime, stale: timedelta = INCIDENT_STALE
) -> etree._Element:
    event = _event(
        incident_uid(item.incident_id),
        incident_type(item.category),
        incident_how(item.data),
        item.observed_at,
        incident_stale(item, now, stale),
        item.lat,
        item.lon,
        item.ce_m,
    )
    detail = etree.SubElement(event, "detail")
    title = str(item.data.get("title", "")).strip()
    etree.SubElement(detail, "contact", callsign=title or item.category)
    etree.SubElement(detail, "remarks").text = incident_remarks(item)
    _mdx_detail(detail, "incident", item.markings, category=item.category, status=item.status)
    return event


def to_bytes(event: etree._Element) -> bytes:
    """One complete XML document without a declaration: what a TAK stream carries."""
    return bytes(etree.tostring(event, encoding="UTF-8", xml_declaration=False))


def _event(
    uid: str,
    type_: str,
    how: str,
    observed_at: datetime,
    stale: datetime,
    lat: float,
    lon: float,
    ce_m: float | None,
) -> etree._Element:
    when = cot_time(observed_at)
    event = etree.Element(
        "event",
        version=VERSION,
        uid=uid,
        type=type_,
        how=how,
        time=when,
        start=when,
        stale=cot_time(stale),
    )
    etree.SubElement(
        event,
        "point",
        lat=_num(lat),
        lon=_num(lon),
        hae=_num(UNKNOWN),
        ce=_num(ce_m if ce_m else UNKNOWN),
        le=_num(UNKNOWN),
    )
    return event


def _mdx_detail(detail: etree._Element, kind: str, m: Markings, **extra: str) -> None:
    """The markings as attributes too, for programs (TAK clients keep unknown detail as is)."""
    attrs = {"kind": kind, **extra, "origin": m.origin, "tlp": m.tlp, "relto": " ".join(m.relto)}
    if m.purpose:
        attrs["purpose"] = m.purpose
    etree.SubElement(detail, "mdx", attrs)


def _num(x: float) -> str:
    return repr(round(float(x), 7))


# -- remarks ---------------------------------------------------------------------------------------


def markings_text(m: Markings) -> str:
    """`TLP:AMBER, releasable to kcg; purpose FisheriesMonitoring; origin jcg`."""
    parts = [f"TLP:{m.tlp}" + (f", releasable to {', '.join(m.relto)}" if m.relto else "")]
    if m.purpose:
        parts.append(f"purpose {m.purpose}")
    parts.append(f"origin {m.origin}")
    return "; ".join(parts)


def vessel_remarks(fix: VesselFix) -> str:
    ids = [f"MMSI {fix.mmsi}"]
    if fix.imo:
        ids.append(f"IMO {fix.imo}")
    if fix.call_sign:
        ids.append(f"call sign {fix.call_sign}")
    if fix.flag:
        ids.append(f"flag {fix.flag}")
    lines = [
        (fix.name or "(no name)").strip(),
        ", ".join(ids),
        f"{fix.category.replace('_', ' ')}; source {fix.source_type}",
        markings_text(fix.markings),
    ]
    return "\n".join(lines)


def incident_remarks(item: IncidentItem) -> str:
    d = item.data
    lines = [f"{item.category.replace('_', ' ').upper()}: {d.get('title', '')}".strip()]
    if d.get("description"):
        lines.append(str(d["description"]))
    scale = [f"{k} {d[k]}" for k in ("severity", "certainty", "urgency") if d.get(k)]
    lines.append("; ".join([f"status {item.status}", *scale]))
    if d.get("persons_at_risk") is not None:
        lines.append(f"persons at risk {d['persons_at_risk']}")
    vessels = _vessel_refs(d.get("vessels") or [])
    if vessels:
        lines.append("vessels: " + "; ".join(vessels))
    detection = d.get("detection")
    if isinstance(detection, dict) and detection.get("rule"):
        lines.append(
            f"detected by rule {detection['rule']} (confidence {detection.get('confidence')})"
        )
    lines.append(markings_text(item.markings))
    return "\n".join(lines)


def _vessel_refs(refs: Sequence[Any]) -> list[str]:
    found = []
    for ref in refs:
        if not isinstance(ref, dict):
            continue
        ids = [str(ref[k]) for k in ("name",) if ref.get(k)]
        ids += [f"{k.upper()} {ref[k]}" for k in ("mmsi", "imo") if ref.get(k)]
        ids += [str(ref[k]) for k in ("flag", "role") if ref.get(k)]
        if ids:
            found.append(", ".join(ids))
    return found
