"""A selection of mdx items as one CISE service-model message: a Push whose XmlEntityPayload
holds the entities (mdx.cise.mapping) and the payload's handling metadata, derived from the
items' mdx markings.

One payload has one InformationSensitivity, one Purpose and one IsPersonalData for all its
entities, so a selection is summed up the safe way: the strictest sensitivity of its items,
their purpose when they all share one (NonSpecified otherwise: CISE has no list of purposes),
and personal data when any item names a person. Each entity also carries its own TLP in its
Metadata, so nothing is lost for a reader that looks. A single item's export is exact.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from lxml import etree

from mdx.cise import mapping

MESSAGE_NS: Final = "http://www.cise.eu/servicemodel/v1/message/"
MEDIA_TYPE: Final = "application/xml"
# The order of InformationSensitivityType from the least to the most restricted.
_STRICTNESS: Final = ("White", "Green", "Amber", "Red")
NO_PURPOSE: Final = "NonSpecified"
_XSI_TYPE = f"{{{mapping.NS['xsi']}}}type"


@dataclass(frozen=True, slots=True)
class Handling:
    """What the payload says about its entities taken together."""

    security_level: str
    sensitivity: str
    personal_data: bool
    purpose: str


def handling(tlps: Iterable[str], purposes: Iterable[str | None], personal: bool) -> Handling:
    levels = [mapping.sensitivity(t) for t in tlps]
    # Nothing in the payload: nothing to grade; CISE's word for that.
    strictest = max(levels, key=_STRICTNESS.index) if levels else "NonSpecified"
    distinct = set(purposes)
    purpose = next(iter(distinct)) if len(distinct) == 1 else None
    return Handling(mapping.SECURITY_CLASSIFICATION, strictest, personal, purpose or NO_PURPOSE)


def incidents_handling(features: Sequence[Mapping[str, Any]]) -> Handling:
    props = [f["properties"] for f in features]
    return handling(
        [p.get("tlp", "") for p in props],
        [p.get("purpose") for p in props],
        any(p.get("persons") for p in props),
    )


def vessels_handling(features: Sequence[Mapping[str, Any]]) -> Handling:
    props = [f["properties"] for f in features]
    return handling([p.get("tlp", "") for p in props], [p.get("purpose") for p in props], False)


def incidents_priority(features: Sequence[Mapping[str, Any]]) -> str:
    """High when any incident calls for immediate action or is extreme, else Medium."""
    for f in features:
        p = f["properties"]
        if p.get("urgency") == "Immediate" or p.get("severity") == "Extreme":
            return "High"
    return "Medium"


def incidents_document(
    features: Sequence[Mapping[str, Any]],
    node_id: str,
    *,
    created: datetime | None = None,
    message_id: str | None = None,
) -> bytes:
    """The Push message of `features` (already released to the caller) sent by node `node_id`."""
    message = push(
        [mapping.incident_entity(f) for f in features],
        incidents_handling(features),
        sender=f"{node_id}.incident.push.provider",
        service_type="IncidentService",
        priority=incidents_priority(features),
        created=created,
        message_id=message_id,
    )
    return serialize(message)


def vessels_document(
    features: Sequence[Mapping[str, Any]],
    node_id: str,
    *,
    created: datetime | None = None,
    message_id: str | None = None,
) -> bytes:
    message = push(
        [mapping.vessel_entity(f) for f in features],
        vessels_handling(features),
        sender=f"{node_id}.vessel.push.provider",
        service_type="VesselService",
        priority="Low",
        created=created,
        message_id=message_id,
    )
    return serialize(message)


def push(
    entities: Sequence[etree._Element],
    summary: Handling,
    *,
    sender: str,
    service_type: str,
    priority: str,
    created: datetime | None = None,
    message_id: str | None = None,
) -> etree._Element:
    """A Push message (service model message.xsd) carrying `entities` in an XmlEntityPayload."""
    root = etree.Element(f"{{{MESSAGE_NS}}}Push", nsmap={"msg": MESSAGE_NS, **mapping.NS})
    when = (created or datetime.now(UTC)).astimezone(UTC)
    _add(root, "CreationDateTime", when.isoformat().replace("+00:00", "Z"))
    _add(root, "MessageID", message_id or str(uuid.uuid4()))
    _add(root, "Priority", priority)
    _add(root, "RequiresAck", "false")
    service = etree.SubElement(root, "Sender")
    _add(service, "ServiceID", sender)
    _add(service, "ServiceOperation", "Push")
    _add(service, "ServiceRole", "Provider")
    _add(service, "ServiceType", service_type)
    payload = etree.SubElement(root, "Payload")
    payload.set(_XSI_TYPE, "msg:XmlEntityPayload")
    _add(payload, "InformationSecurityLevel", summary.security_level)
    _add(payload, "InformationSensitivity", summary.sensitivity)
    _add(payload, "IsPersonalData", "true" if summary.personal_data else "false")
    _add(payload, "Purpose", summary.purpose)
    payload.extend(entities)
    return root


def serialize(message: etree._Element) -> bytes:
    # One set of declarations on the root; kept even where only xsi:type values use them.
    names = {"msg": MESSAGE_NS, **mapping.NS}
    etree.cleanup_namespaces(message, top_nsmap=names, keep_ns_prefixes=list(names))
    return bytes(etree.tostring(message, xml_declaration=True, encoding="UTF-8"))


def _add(parent: etree._Element, name: str, text: str) -> None:
    # The service model's local elements are unqualified (message.xsd has no elementFormDefault).
    etree.SubElement(parent, name).text = text
