"""The contract's own examples (schemas/*/v1/examples/), made into messages a producer of the
target node could publish: each valid one new (fresh ids, its source the producer), each
invalid one still breaking exactly the rule it names."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mdx.core import topics
from mdx.core.envelope import make_envelope, source_urn, utc_now_iso
from mdx.core.schemas import SCHEMA_DIR

# Envelope kinds a producer publishes (topics.KIND_TO_TYPE), in the order they are sent:
# incidents before the SAR steps that refer to them.
KINDS = ("position", "vessel", "incident", "sar")
# Markings that let the checking identity read every item back (the releasability checks
# test markings themselves): CLEAR may go to anyone, whatever its purpose.
READABLE_TLP = "CLEAR"
_MARKINGS = ("tlp", "relto", "purpose")


@dataclass(frozen=True, slots=True)
class Example:
    name: str  # e.g. incident/valid/sar-search-area-oki.json
    kind: str  # the topic kind it is published on
    envelope: dict[str, Any]
    breaks: str = ""  # for an invalid one: the path and keyword it breaks


def _files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.json"))


def _kind_of(envelope: dict[str, Any]) -> str:
    return topics.TYPE_TO_KIND.get(str(envelope.get("type")), "position")


def _own(envelope: dict[str, Any], node: str, producer: str, keep: str = "") -> dict[str, Any]:
    """`envelope` as new from `producer` at `node`, leaving alone the attribute at `keep`."""
    e = copy.deepcopy(envelope)
    for name, value in (
        ("id", str(uuid.uuid4())),
        ("source", source_urn(node, producer)),
        ("time", utc_now_iso()),
    ):
        if not keep.startswith(f"/{name}"):
            e[name] = value
    if not keep.startswith("/seq"):
        e.pop("seq", None)  # the kit numbers what it sends itself
    if not any(keep.startswith(f"/{m}") for m in _MARKINGS):
        for m in _MARKINGS:
            e.pop(m, None)
        e["tlp"] = READABLE_TLP
    data = e.get("data")
    if isinstance(data, dict) and "incident_id" in data and not keep.startswith("/data/incident"):
        data["incident_id"] = str(uuid.uuid4())
    return e


def valid(node: str, producer: str, schema_dir: Path = SCHEMA_DIR) -> list[Example]:
    """Every valid example of each kind: the data examples wrapped in an envelope, and the
    envelope examples; SAR steps refer to the first incident sent, at the target."""
    found: list[Example] = []
    for kind in KINDS:
        folder = schema_dir / kind / "v1" / "examples" / "valid"
        for f in _files(folder):
            data = json.loads(f.read_text())
            envelope = make_envelope(
                node, producer, topics.KIND_TO_TYPE[kind], data, tlp=READABLE_TLP
            )
            found.append(Example(f"{kind}/valid/{f.name}", kind, _own(envelope, node, producer)))
    for f in _files(schema_dir / "envelope" / "v1" / "examples" / "valid"):
        envelope = json.loads(f.read_text())
        found.append(
            Example(f"envelope/valid/{f.name}", _kind_of(envelope), _own(envelope, node, producer))
        )
    found.sort(key=lambda e: KINDS.index(e.kind))
    first_incident = next(e for e in found if e.kind == "incident").envelope["data"]
    for e in found:
        if e.kind == "sar":
            e.envelope["data"]["incident_id"] = first_incident["incident_id"]
            e.envelope["data"]["incident_origin"] = node
            if e.envelope["data"].get("to") == node:
                e.envelope["data"]["to"] = "other"
    return found


def invalid(node: str, producer: str, schema_dir: Path = SCHEMA_DIR) -> Iterator[Example]:
    """Every invalid example of each kind (its data in a valid envelope) and of the envelope."""
    for kind in KINDS:
        for f in _files(schema_dir / kind / "v1" / "examples" / "invalid"):
            doc = json.loads(f.read_text())
            breaks = doc["breaks"]
            envelope = make_envelope(
                node, producer, topics.KIND_TO_TYPE[kind], doc["instance"], tlp=READABLE_TLP
            )
            keep = "/data" + breaks["path"]
            yield Example(
                f"{kind}/invalid/{f.name}",
                kind,
                _own(envelope, node, producer, keep),
                f"{keep} {breaks['keyword']}",
            )
    for f in _files(schema_dir / "envelope" / "v1" / "examples" / "invalid"):
        doc = json.loads(f.read_text())
        breaks = doc["breaks"]
        yield Example(
            f"envelope/invalid/{f.name}",
            _kind_of(doc["instance"]),
            _own(doc["instance"], node, producer, breaks["path"] or "/"),
            f"{breaks['path'] or '/'} {breaks['keyword']}",
        )
