"""mdx items as CISE data-model 1.5.3 entities: pure functions from the API's GeoJSON Features
(an incident, a vessel's latest position) to lxml elements, built in the order the XSDs'
sequences require.

- An incident becomes the CISE Incident subtype of its category (`SUBTYPES`), with Severity,
  Certainty and ResponseUrgency (mdx already uses CISE's words), its location, when it happened,
  its status as a ResponseType, the vessels involved with their identifiers and role, and the
  people it names (only when the caller was given them: the API redacts first). Categories
  CISE expresses as a risk (illegal fishing, smuggling, irregular migration) also carry a Risk
  of that type involving the suspect vessels: the CISE way to say "this vessel is suspected".
- A vessel becomes a CISE Vessel with its identifiers, flag (Nationality), ship type, and its
  latest position with course, speed, heading and navigational status.
- Each entity carries Metadata with its own TLP as InformationSensitivityDegree, since one
  message's payload has one sensitivity for all its entities (mdx.cise.payload).

docs/standards/cise.md has the tables and what is left out and why. Payload entities name their
type with `xsi:type` (`<vessel:Vessel xsi:type="vessel:Vessel">`), so a validator checks them
against the data model through the message's `lax` wildcard.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from lxml import etree

_BASE = "http://www.cise.eu/datamodel/v1/entity/"
NS: Final = {
    "incident": _BASE + "incident/",
    "vessel": _BASE + "vessel/",
    "person": _BASE + "person/",
    "risk": _BASE + "risk/",
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
}
_XSI_TYPE = f"{{{NS['xsi']}}}type"

# mdx is not a system accredited for EU classified information, so nothing it holds is EUCI:
# TLP is a sharing marking, not a security classification.
SECURITY_CLASSIFICATION: Final = "NonClassified"
# TLP 2.0 -> the TLP 1.0 words CISE uses. CLEAR is TLP 1.0's WHITE; CISE has no AMBER+STRICT,
# so it becomes Amber (mdx releases AMBER+STRICT to no partner, so only local callers get it).
SENSITIVITY: Final = {
    "CLEAR": "White",
    "GREEN": "Green",
    "AMBER": "Amber",
    "AMBER+STRICT": "Amber",
    "RED": "Red",
}
UNKNOWN_TLP_SENSITIVITY: Final = "Red"  # fail closed, as the policy does


@dataclass(frozen=True, slots=True)
class Subtype:
    """How one mdx category is said in CISE."""

    name: str  # the Incident subtype: element and type name in the incident namespace
    type_element: str | None  # its type field, if the subtype has one
    type_value: str | None
    risk: str | None = None  # RiskType of the Risk the incident implies, if any


SUBTYPES: Final = {
    # The maritime-safety type list names the casualty (Fire, Grounding, Capsizing ...); mdx
    # records no such nature, so SAR and other safety cases say so rather than guess.
    "sar": Subtype("MaritimeSafetyIncident", "MaritimeSafetyIncidentType", "NonSpecified"),
    "maritime_safety": Subtype(
        "MaritimeSafetyIncident", "MaritimeSafetyIncidentType", "NonSpecified"
    ),
    "pollution": Subtype("PollutionIncident", "MaritimeSafetyIncidentType", "Pollution"),
    "iuu_fishing": Subtype(
        "LawInfringementIncident",
        "LawInfringementIncidentType",
        "LawInfringementByVessels",
        "IllegalFishing",
    ),
    # The law-infringement list has no piracy or robbery value; both are done from vessels.
    "piracy_robbery": Subtype(
        "LawInfringementIncident", "LawInfringementIncidentType", "LawInfringementByVessels"
    ),
    # mdx does not record what was smuggled: the smuggling value that names no kind of goods.
    "smuggling": Subtype(
        "LawInfringementIncident",
        "LawInfringementIncidentType",
        "SmugglingInOtherMaterial",
        "Smuggling",
    ),
    "irregular_migration": Subtype(
        "IrregularMigrationIncident",
        "IrregularMigrationIncidentType",
        "NonSpecified",
        "IllegalImmigration",
    ),
    "other": Subtype("Incident", None, None),  # the base type is concrete
}
# mdx status -> CISE ResponseType (the OASIS CAP response types): what is being done about it.
RESPONSE: Final = {
    "reported": "Assess",
    "acknowledged": "Monitor",
    "responding": "Execute",
    "resolved": "AllClear",
    "closed": "AllClear",
}
# A vessel's role in an incident -> ObjectRoleInEventType. CISE has no "suspect": a suspect is
# the alleged cause (and, for risk categories, the object of the Risk).
VESSEL_ROLE: Final = {
    "suspect": "Cause",
    "victim": "Victim",
    "reporter": "Reporter",
    "responder": "Participant",
}
# A person's role -> AgentRoleInEventType; a suspect also gets IsSuspect.
PERSON_ROLE: Final = {
    "crew": "Participant",
    "master": "Participant",
    "passenger": "Participant",
    "missing": "Victim",
    "casualty": "Victim",
    "suspect": "Cause",
    "rescuer": "Participant",
}
# Registry category (mdx.ais.facts.SHIP_CATEGORIES) -> CISE VesselType where CISE has the same
# kind or the nearest broader one; AIS cannot tell oil from chemical tankers, nor general cargo
# from bulk carriers, so those two are the closest CISE offers.
VESSEL_TYPE: Final = {
    "fishing": "FishingVessel",
    "passenger": "PassengerShip",
    "high_speed": "HighSpeedCraft",
    "cargo": "GeneralCargoShip",
    "tanker": "OilTanker",
    "unknown": "NonSpecified",
}
OTHER_VESSEL_TYPE: Final = "Other"
# AIS navigational status (ITU-R M.1371) -> NavigationalStatusType; 9, 10 and 13 are reserved.
NAV_STATUS: Final = {
    0: "UnderWayUsingEngine",
    1: "AtAnchor",
    2: "NotUnderCommand",
    3: "RestrictedManoeuvrability",
    4: "ConstrainedByHerDraught",
    5: "Moored",
    6: "Aground",
    7: "EngagedInFishing",
    8: "UnderWaySailing",
    11: "PowerDrivenVesselTowingAstern",
    12: "PowerDrivenVesselTowigAheadOrPushingAlongside",  # sic, as the XSD spells it
    14: "AISSARTSeekingToAttractAttention",
    15: "UndefinedDefault",
}
# Where a position came from -> SourceType: AIS and VMS are what the vessel declares about
# itself; radar and a patrol's sighting are observations.
SOURCE_TYPE: Final = {
    "ais-terrestrial": "Declaration",
    "ais-satellite": "Declaration",
    "vms": "Declaration",
    "radar": "Observation",
    "patrol-sighting": "Observation",
}
# Vessels are identified by MMSI in mdx; CISE wants a UUID, so a name-based one (RFC 4122 v5)
# that every mdx node derives alike from the MMSI.
VESSEL_UUID_NAMESPACE: Final = uuid.UUID("6f1c7c3e-2f55-5b8e-9d3a-6a0d3c1e4b21")

# Characters XML 1.0 cannot carry at all, even escaped; replaced, never dropped silently.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(value: object) -> str:
    """`value` as text an XML document can hold (lxml escapes &, < and > itself)."""
    return _NOT_XML.sub("\ufffd", str(value))


def sensitivity(tlp: str) -> str:
    return SENSITIVITY.get(tlp, UNKNOWN_TLP_SENSITIVITY)


def vessel_uuid(mmsi: str) -> str:
    return str(uuid.uuid5(VESSEL_UUID_NAMESPACE, f"mmsi:{mmsi}"))


def incident_entity(feature: Mapping[str, Any]) -> etree._Element:
    """An incident Feature (mdx.api.incident_query.to_feature) as its CISE Incident subtype."""
    props: Mapping[str, Any] = feature["properties"]
    subtype = SUBTYPES.get(props.get("category", "other"), SUBTYPES["other"])
    root = _entity("incident", subtype.name)
    _identifier(root, str(feature.get("id") or props["incident_id"]))
    _metadata(
        root,
        props.get("tlp"),
        abstract=props.get("title"),
        comments=props.get("note"),
        description=props.get("description"),
    )
    observed = props.get("observed_at")
    if observed:
        _period(_sub(root, "OccurrencePeriod"), observed)
    vessels: list[Mapping[str, Any]] = list(props.get("vessels") or [])
    if subtype.risk is not None:
        risk = _sub(_sub(root, "ImpliedRiskRel"), "Risk")
        _add(risk, "RiskType", subtype.risk)
        for ref in vessels:
            if ref.get("role") == "suspect":
                _vessel_ref(_sub(_sub(risk, "InvolvedObjectRel"), "Object"), ref)
    if feature.get("geometry"):
        _location(_sub(_sub(root, "LocationRel"), "Location"), feature["geometry"])
    for ref in vessels:
        rel = _sub(root, "InvolvedObjectRel")
        _vessel_ref(_sub(rel, "Object"), ref)
        _add(rel, "ObjectRole", VESSEL_ROLE.get(ref.get("role", ""), "Other"))
    for person in props.get("persons") or []:
        rel = _sub(root, "InvolvedAgentRel")
        _person(_sub(rel, "Agent"), person)
        _add(rel, "AgentRole", PERSON_ROLE.get(person.get("role", ""), "Other"))
    _add(root, "Certainty", props.get("certainty"))
    _add(root, "ResponseType", RESPONSE.get(props.get("status", "")))
    _add(root, "ResponseUrgency", props.get("urgency"))
    _add(root, "Severity", props.get("severity"))
    if subtype.type_element is not None:
        _add(root, subtype.type_element, subtype.type_value)
    if subtype.name == "PollutionIncident":
        _add(root, "PollutionType", "UNK")  # mdx does not record what polluted
    return root


def vessel_entity(feature: Mapping[str, Any]) -> etree._Element:
    """A vessel Feature of the vessels API (latest position and registry data) as a Vessel."""
    props: Mapping[str, Any] = feature["properties"]
    root = _entity("vessel", "Vessel")
    mmsi = props.get("mmsi") or feature.get("id")
    if mmsi:
        _identifier(root, vessel_uuid(str(mmsi)))
    _metadata(root, props.get("tlp"))
    _add(root, "Name", props.get("name"))
    if feature.get("geometry"):
        rel = _sub(root, "LocationRel")
        _location(_sub(rel, "Location"), feature["geometry"])
        _add(rel, "COG", props.get("cog"))
        _add(rel, "Heading", props.get("heading"))
        if props.get("observed_at"):
            _period(_sub(rel, "PeriodOfTime"), props["observed_at"])
        _add(rel, "SourceType", SOURCE_TYPE.get(props.get("source_type") or ""))
        _add(rel, "SOG", props.get("sog"))
    _add(root, "Nationality", props.get("flag"))
    _add(root, "CallSign", props.get("call_sign"))
    _add(root, "IMONumber", _number(props.get("imo")))
    _add(root, "MMSI", _number(mmsi))
    nav = props.get("nav_status")
    _add(root, "NavigationalStatus", NAV_STATUS.get(nav, "Other") if nav is not None else None)
    category = props.get("category")
    _add(root, "ShipType", VESSEL_TYPE.get(category, OTHER_VESSEL_TYPE) if category else None)
    return root


# -- parts -------------------------------------------------------------------------------------


def _entity(prefix: str, name: str) -> etree._Element:
    element = etree.Element(f"{{{NS[prefix]}}}{name}", nsmap=NS)
    element.set(_XSI_TYPE, f"{prefix}:{name}")
    return element


def _sub(parent: etree._Element, name: str) -> etree._Element:
    # The data model's local elements are unqualified (no elementFormDefault in its schemas).
    return etree.SubElement(parent, name)


def _add(parent: etree._Element, name: str, value: object) -> None:
    if value is None or value == "":
        return
    _sub(parent, name).text = (
        ("true" if value else "false") if isinstance(value, bool) else xml_text(value)
    )


def _number(value: object) -> int | None:
    """MMSI and IMO are xs:long in CISE: digits as a number (an MMSI's leading zeros are lost,
    which only group and coast-station MMSIs have)."""
    return int(str(value)) if value is not None and str(value).isdigit() else None


def _identifier(parent: etree._Element, value: str) -> None:
    _add(_sub(parent, "Identifier"), "UUID", value)


def _metadata(
    parent: etree._Element,
    tlp: str | None,
    *,
    abstract: str | None = None,
    comments: str | None = None,
    description: str | None = None,
) -> None:
    meta = _sub(parent, "Metadata")
    _add(meta, "Abstract", abstract)
    _add(meta, "Comments", comments)
    _add(meta, "Description", description)
    _add(meta, "InformationSecurityClassification", SECURITY_CLASSIFICATION)
    _add(meta, "InformationSensitivityDegree", sensitivity(tlp or ""))


def _period(parent: etree._Element, timestamp: str | datetime) -> None:
    """A start time as CISE's Period has it: a date and a time, here in UTC."""
    at = timestamp if isinstance(timestamp, datetime) else _parse(timestamp)
    at = at.astimezone(UTC)
    _add(parent, "StartDate", at.date().isoformat())
    _add(parent, "StartTime", at.time().isoformat() + "Z")


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))


def _location(parent: etree._Element, geometry: Mapping[str, Any]) -> None:
    """Geometry: a point as Latitude and Longitude (decimal degrees, WGS 84) and WKT; any other
    shape as WKT (`x y` = longitude latitude, the OGC Simple Features order)."""
    element = _sub(parent, "Geometry")
    kind, coordinates = geometry["type"], geometry["coordinates"]
    if kind == "Point":
        lon, lat = coordinates[0], coordinates[1]
        _add(element, "Latitude", _degrees(lat))
        _add(element, "Longitude", _degrees(lon))
    _add(element, "WKT", wkt(geometry))


def _degrees(value: float) -> str:
    return format(float(value), ".7f").rstrip("0").rstrip(".")


def wkt(geometry: Mapping[str, Any]) -> str | None:
    """OGC WKT of a GeoJSON Point, LineString, Polygon or MultiPolygon; None for others."""
    kind: str = geometry["type"]
    coordinates: Any = geometry["coordinates"]

    def points(ring: Iterable[Iterable[float]]) -> str:
        return ", ".join(" ".join(_degrees(c) for c in list(p)[:2]) for p in ring)

    def rings(polygon: Iterable[Iterable[Iterable[float]]]) -> str:
        return ", ".join(f"({points(r)})" for r in polygon)

    if kind == "Point":
        return f"POINT ({points([coordinates])})"
    if kind == "LineString":
        return f"LINESTRING ({points(coordinates)})"
    if kind == "Polygon":
        return f"POLYGON ({rings(coordinates)})"
    if kind == "MultiPolygon":
        return f"MULTIPOLYGON ({', '.join(f'({rings(p)})' for p in coordinates)})"
    return None


def _vessel_ref(element: etree._Element, ref: Mapping[str, Any]) -> None:
    """A vessel named in an incident, as the `Object` of a relationship."""
    element.set(_XSI_TYPE, "vessel:Vessel")
    if ref.get("mmsi"):
        _identifier(element, vessel_uuid(str(ref["mmsi"])))
    _add(element, "Name", ref.get("name"))
    _add(element, "Nationality", ref.get("flag"))
    _add(element, "CallSign", ref.get("call_sign"))
    _add(element, "IMONumber", _number(ref.get("imo")))
    _add(element, "MMSI", _number(ref.get("mmsi")))
    ship_type = ref.get("ship_type")  # free text in an incident; mapped when it is a category
    if ship_type in VESSEL_TYPE:
        _add(element, "ShipType", VESSEL_TYPE[ship_type])


def _person(element: etree._Element, person: Mapping[str, Any]) -> None:
    element.set(_XSI_TYPE, "person:Person")
    if person.get("role") == "suspect":
        _add(element, "IsSuspect", True)
    _add(element, "Nationality", person.get("nationality"))
    _add(element, "FullName", person.get("name"))
