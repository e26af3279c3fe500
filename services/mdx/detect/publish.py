"""From a detection to the incident the node shares, and back.

`incident_data` builds the incident (schemas/incident/v1) a detection raises or updates: its
title, CAP severity/certainty/urgency and category from the rule, a one-paragraph factual
description, the vessels with their registry names, and the `detection` object (rule, key,
confidence, facts, evidence). `detection_of` reads a stored incident back into a Detection, so
that a restarted service continues the incidents it raised. `change` says whether a new
detection differs enough from the last one published to be worth a new version.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final, cast

from mdx.detect import distress
from mdx.detect._common import described, fmt_distance, fmt_duration, fmt_position
from mdx.detect.model import Detection, Fix, Thresholds, Vessel, Zone, thin

# The CISE purpose an incident of each category is shared for.
PURPOSES: Final[dict[str, str]] = {
    "iuu_fishing": "FisheriesMonitoring",
    "sar": "SAR",
    "maritime_safety": "Safety",
}
# The incident fields a detection writes; every other field of the stored incident (an
# operator's persons_at_risk, say) is kept on update, except the note of one version.
OWNED: Final = frozenset(
    {
        "incident_id",
        "version",
        "category",
        "status",
        "title",
        "description",
        "location",
        "observed_at",
        "severity",
        "certainty",
        "urgency",
        "vessels",
        "detection",
        "note",
    }
)
MAX_TITLE: Final = 200
MAX_FACTS: Final = 20
MAX_EVIDENCE: Final = 50
MAX_VESSELS: Final = 50
MAX_DESCRIPTION: Final = 4000
_KEY = re.compile(r"^[a-z_]+:([0-9+]+):")

# What makes a detection worth a new version of its incident.
MIN_ADVANCE: Final = timedelta(minutes=5)
MIN_CONFIDENCE_STEP: Final = 0.05
# A changed number of evidence fixes counts once the last fix is at least this much newer
# (an AIS-SART sends a burst of 8 messages a minute: one version a minute, not eight).
MIN_EVIDENCE_ADVANCE: Final = timedelta(minutes=1)


def iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


# A transshipment at sea matters beyond fisheries (sanctions, smuggling, forced labour): it
# goes to the partners registered for law enforcement, as a boarding report would.
RULE_PURPOSES: Final[dict[str, str]] = {"encounter": "LawEnforcementMonitoring"}


def purpose_for(category: str, rule: str | None = None) -> str | None:
    return RULE_PURPOSES.get(rule or "") or PURPOSES.get(category)


def namespace(node: str) -> uuid.UUID:
    """The namespace of this node's detection incidents: incident_id = uuid5(it, key)."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"urn:mdx:{node}:detect")


def change(new: Detection, old: Detection | None) -> str | None:
    """Why `new` deserves a new version after `old` was published, or None if it does not."""
    if old is None:
        return "new"
    if new.urgency != old.urgency:
        return f"urgency {old.urgency} -> {new.urgency}"
    if new.severity != old.severity:
        return f"severity {old.severity} -> {new.severity}"
    if new.category != old.category:
        return f"category {old.category} -> {new.category}"
    if set(new.mmsis) != set(old.mmsis):
        return f"vessels {', '.join(old.mmsis)} -> {', '.join(new.mmsis)}"
    if abs(new.confidence - old.confidence) >= MIN_CONFIDENCE_STEP - 1e-9:
        return f"confidence {old.confidence:.2f} -> {new.confidence:.2f}"
    advanced = new.last_seen_at - old.last_seen_at
    if advanced >= MIN_ADVANCE:
        return f"last seen {fmt_duration(advanced.total_seconds() / 60)} later"
    if len(new.evidence) != len(old.evidence) and advanced >= MIN_EVIDENCE_ADVANCE:
        return f"evidence {len(old.evidence)} -> {len(new.evidence)} fixes"
    return None


# -- to JSON ----------------------------------------------------------------------------------


def _fix_json(f: Fix) -> dict[str, Any]:
    out: dict[str, Any] = {"mmsi": f.mmsi, "observed_at": iso(f.at), "lon": f.lon, "lat": f.lat}
    if f.sog is not None and 0 <= f.sog <= 102.2:
        out["sog"] = f.sog
    if f.cog is not None and 0 <= f.cog < 360:
        out["cog"] = f.cog
    return out


def _facts_json(facts: Mapping[str, Any]) -> dict[str, Any]:
    """The facts the schema takes: numbers and booleans (the rules' words, such as a zone's
    fishing rule or a distress text, are in the description instead), at most MAX_FACTS."""
    out: dict[str, Any] = {}
    for k, v in facts.items():
        if len(out) == MAX_FACTS:
            break
        if isinstance(v, bool) or (isinstance(v, int | float) and math.isfinite(v)):
            out[k] = v
    return out


def detection_json(d: Detection) -> dict[str, Any]:
    """The incident's `detection` object."""
    out: dict[str, Any] = {
        "rule": d.rule,
        "key": d.key,
        "confidence": d.confidence,
        "started_at": iso(d.started_at),
        "last_seen_at": iso(d.last_seen_at),
        "evidence": [_fix_json(f) for f in thin(d.evidence, MAX_EVIDENCE)],
    }
    if d.zone_id:
        out["zone_id"] = d.zone_id
    facts = _facts_json(d.facts)
    if facts:
        out["facts"] = facts
    return out


def vessel_refs(
    d: Detection, vessels: Mapping[str, Vessel], kept: list[dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """The vessels of the detection (suspects; the distressed for a distress alert), then the
    others the stored incident names (an operator's responders, say)."""
    role = "victim" if d.rule == distress.RULE else "suspect"
    refs: list[dict[str, Any]] = []
    for mmsi in d.mmsis:
        ref: dict[str, Any] = {"mmsi": mmsi, "role": role}
        v = vessels.get(mmsi)
        if v is not None and v.name and v.name.strip():
            ref["name"] = v.name.strip()[:120]
        if v is not None and v.flag and re.fullmatch(r"[A-Z]{2}", v.flag):
            ref["flag"] = v.flag
        refs.append(ref)
    refs += [r for r in kept or () if r.get("mmsi") not in d.mmsis]
    return refs[:MAX_VESSELS]


def incident_data(
    d: Detection,
    incident_id: uuid.UUID,
    version: int,
    status: str,
    *,
    vessels: Mapping[str, Vessel],
    zones: Mapping[str, Zone],
    thresholds: Thresholds,
    stored: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Version `version` of the incident raised by `d` (schemas/incident/v1). `stored`: the
    incident as the node holds it, whose fields a detection does not own are kept."""
    data = {k: v for k, v in (stored or {}).items() if k not in OWNED}
    kept = (stored or {}).get("vessels")
    data.update(
        incident_id=str(incident_id),
        version=version,
        category=d.category,
        status=status,
        title=d.title if len(d.title) <= MAX_TITLE else d.title[: MAX_TITLE - 1] + "\u2026",
        description=describe(d, vessels, zones, thresholds),
        location={"type": "Point", "coordinates": [d.lon, d.lat]},
        observed_at=iso(d.last_seen_at),
        severity=d.severity,
        certainty=d.certainty,
        urgency=d.urgency,
        vessels=vessel_refs(d, vessels, kept if isinstance(kept, list) else None),
        detection=detection_json(d),
    )
    return data


# -- from JSON --------------------------------------------------------------------------------


def _fix_of(e: Mapping[str, Any]) -> Fix:
    return Fix(
        mmsi=str(e["mmsi"]),
        at=datetime.fromisoformat(e["observed_at"]),
        lon=float(e["lon"]),
        lat=float(e["lat"]),
        sog=float(e["sog"]) if e.get("sog") is not None else None,
        cog=float(e["cog"]) if e.get("cog") is not None else None,
    )


def detection_of(data: Mapping[str, Any]) -> Detection | None:
    """The detection a stored incident carries, or None if it carries none (or a broken one)."""
    det = data.get("detection")
    if not isinstance(det, Mapping):
        return None
    try:
        key = str(det["key"])
        m = _KEY.match(key)
        if m is None:
            return None
        evidence = tuple(_fix_of(e) for e in det["evidence"])
        coordinates = data["location"]["coordinates"]
        point = data["location"]["type"] == "Point"
        lon, lat = (
            (coordinates[0], coordinates[1]) if point else (evidence[-1].lon, evidence[-1].lat)
        )
        return Detection(
            rule=str(det["rule"]),
            key=key,
            mmsis=tuple(m.group(1).split("+")),
            started_at=datetime.fromisoformat(det["started_at"]),
            last_seen_at=datetime.fromisoformat(det["last_seen_at"]),
            lon=float(lon),
            lat=float(lat),
            confidence=float(det["confidence"]),
            evidence=evidence,
            zone_id=det.get("zone_id"),
            category=cast(Any, data["category"]),
            title=str(data["title"]),
            severity=data.get("severity", "Unknown"),
            certainty=data.get("certainty", "Unknown"),
            urgency=data.get("urgency", "Unknown"),
            facts=_facts_of(det, str(data["title"])),
        )
    except (KeyError, IndexError, TypeError, ValueError):
        return None


def _facts_of(det: Mapping[str, Any], title: str) -> dict[str, Any]:
    facts = dict(det.get("facts") or {})
    if det.get("rule") == distress.RULE:
        # The kind of alert is not a fact the schema holds; the title starts with it.
        label = title.partition(":")[0]
        if label in distress.KINDS.values():
            facts["label"] = label
    return facts


# -- the description --------------------------------------------------------------------------


def _when(at: datetime) -> str:
    return f"{at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def _place(d: Detection, zones: Mapping[str, Zone]) -> str:
    zone = zones.get(d.zone_id) if d.zone_id else None
    position = fmt_position(d.lon, d.lat)
    return f"inside {zone.name} ({position})" if zone is not None else f"at {position}"


def _num(facts: Mapping[str, Any], name: str, default: float = 0.0) -> float:
    value = facts.get(name)
    return (
        float(value) if isinstance(value, int | float) and not isinstance(value, bool) else default
    )


def _fishing_rule(zone: Zone | None, facts: Mapping[str, Any]) -> str:
    rule = zone.fishing if zone is not None else str(facts.get("zone_rule", ""))
    if rule == "prohibited":
        return "where fishing is prohibited"
    if rule == "flag_state_only" and zone is not None and zone.state:
        return f"where only vessels of {zone.state} may fish"
    if rule == "agreement_states_only" and zone is not None:
        states = sorted(zone.agreement_states | ({zone.state} if zone.state else set()))
        return f"where only vessels of {', '.join(states)} may fish"
    return f"whose fishing rule is {rule or 'unknown'}"


def describe(
    d: Detection, vessels: Mapping[str, Vessel], zones: Mapping[str, Zone], t: Thresholds
) -> str:
    """One factual paragraph: what was seen, where and when, and which rule raised it."""
    f = d.facts
    who = [described(vessels.get(m) or Vessel(mmsi=m)) for m in d.mmsis]
    place = _place(d, zones)
    confidence = f"confidence {d.confidence:.2f}"
    if d.rule == "going_dark":
        gap = _num(f, "gap_minutes")
        reports = round(_num(f, "prior_fixes_per_hour") * t.dark_prior_window_min / 60)
        text = (
            f"{who[0]} fell silent after {reports} position reports in the "
            f"{fmt_duration(t.dark_prior_window_min)} before its last one, at "
            f"{_when(d.last_seen_at)} {place}"
        )
        if f.get("withdrawn") is True:
            back = d.last_seen_at + timedelta(minutes=gap)
            text += (
                f"; its next report, at {_when(back)}, was stored late: it was never silent "
                f"for {fmt_duration(t.dark_after_min)}. Withdrawn."
            )
        elif f.get("resumed") is True:
            back = d.last_seen_at + timedelta(minutes=gap)
            text += f"; it reported again at {_when(back)}, after {fmt_duration(gap)} of silence."
        else:
            text += f"; silent for {fmt_duration(gap)} since."
        text += (
            f" Candidate raised by mdx rule going_dark (threshold "
            f"{fmt_duration(t.dark_after_min)} of silence), {confidence}."
        )
    elif d.rule == "foreign_fishing":
        zone = zones.get(d.zone_id) if d.zone_id else None
        low, high = t.fishing_sog_kn
        text = (
            f"{who[0]} moved at fishing speed (mean {_num(f, 'mean_sog_kn'):.1f} kn) for "
            f"{fmt_duration(_num(f, 'minutes'))} from {_when(d.started_at)} to "
            f"{_when(d.last_seen_at)}, {place}, {_fishing_rule(zone, f)}. Candidate raised by "
            f"mdx rule foreign_fishing (threshold {fmt_duration(t.foreign_fishing_min_minutes)}"
            f" at {low:g}-{high:g} kn), {confidence}."
        )
    elif d.rule == "loitering":
        text = (
            f"{who[0]} stayed within {fmt_distance(_num(f, 'max_distance_m'))} of one point "
            f"at a mean {_num(f, 'mean_sog_kn'):.1f} kn for {fmt_duration(_num(f, 'minutes'))}"
            f" from {_when(d.started_at)} to {_when(d.last_seen_at)}, {place}. Candidate raised"
            f" by mdx rule loitering (threshold {fmt_duration(t.loiter_min_minutes)} within "
            f"{fmt_distance(t.loiter_radius_m)} at a mean {t.loiter_max_sog_kn:g} kn or less)"
            f", {confidence}."
        )
    elif d.rule == "encounter":
        pair = " and ".join(who)
        text = (
            f"{pair} stayed within {fmt_distance(_num(f, 'max_distance_m'))} of each other "
            f"(mean {fmt_distance(_num(f, 'mean_distance_m'))}), both at "
            f"{t.encounter_max_sog_kn:g} kn or less, for {fmt_duration(_num(f, 'minutes'))} "
            f"from {_when(d.started_at)} to {_when(d.last_seen_at)}, {place}: a possible "
            f"transshipment. Candidate raised by mdx rule encounter (threshold "
            f"{fmt_duration(t.encounter_min_minutes)} within "
            f"{fmt_distance(t.encounter_distance_m)}), {confidence}."
        )
    elif d.rule == distress.RULE:
        messages = int(_num(f, "messages", 1))
        label = str(f.get("label") or "Distress alert")
        said = str(f.get("text") or "").strip()
        sent = (
            f"one message at {_when(d.last_seen_at)}"
            if messages == 1
            else f"{messages} messages since {_when(d.started_at)}, the latest at "
            f"{_when(d.last_seen_at)}"
        )
        text = (
            f"{label} from {who[0]}: {sent}, {place} (position from the "
            f"{f.get('position_from') or 'message'})."
        )
        if said:
            text += f' Text: "{said}".'
        text += " Raised by mdx rule distress."
    else:
        text = f"{d.title}. Raised by mdx rule {d.rule}, {confidence}."
    if d.urgency == "Past" and d.rule != "going_dark":
        text += f" Over: nothing since {_when(d.last_seen_at)}."
    return text[:MAX_DESCRIPTION]
