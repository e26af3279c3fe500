"""schemas/asyncapi.yaml: structure, references, and agreement with the schemas and topics.

No PyPI package ships the AsyncAPI 3.0.0 JSON Schema, so this checks the rules a reader
relies on directly (the document was also checked once against the official 3.0.0 schema).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
import yaml

from mdx.core import topics
from mdx.core.schemas import (
    DEADLETTER_SCHEMA_ID,
    ENVELOPE_SCHEMA_ID,
    FORMATS,
    ID_BASE,
    RECEIPT_SCHEMA_ID,
    SCHEMA_DIR,
    STATUS_SCHEMA_ID,
    SchemaSet,
)
from mdx.core.signing import SHARE_SCHEMA_ID

DOC_PATH = SCHEMA_DIR / "asyncapi.yaml"
PAYLOAD_FORMAT = "application/schema+json;version=draft-2020-12"
RECEIVE, SEND, BOTH = {"receive"}, {"send"}, {"send", "receive"}
EXPECTED = {  # channel id -> (address, node's actions, retained, payload root schema)
    "inPosition": ("mdx/v1/in/{producer}/position", RECEIVE, False, ENVELOPE_SCHEMA_ID),
    "inIncident": ("mdx/v1/in/{producer}/incident", RECEIVE, False, ENVELOPE_SCHEMA_ID),
    "inSar": ("mdx/v1/in/{producer}/sar", RECEIVE, False, ENVELOPE_SCHEMA_ID),
    "inVessel": ("mdx/v1/in/{producer}/vessel", RECEIVE, False, ENVELOPE_SCHEMA_ID),
    "inAis": ("mdx/v1/in/{producer}/ais", RECEIVE, False, None),  # raw text, not JSON
    "receipt": ("mdx/v1/receipt/{producer}", SEND, True, RECEIPT_SCHEMA_ID),
    "deadletter": ("mdx/v1/deadletter/{producer}", SEND, False, DEADLETTER_SCHEMA_ID),
    "status": ("mdx/v1/status/{service}", SEND, True, STATUS_SCHEMA_ID),
    # A node sends its own streams and receives its partners' (and the receipts of each).
    "share": ("mdx/v1/share/{sender}/{recipient}", BOTH, False, SHARE_SCHEMA_ID),
    "shareReceipt": ("mdx/v1/share-receipt/{sender}/{recipient}", BOTH, True, RECEIPT_SCHEMA_ID),
}


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    loaded = yaml.safe_load(DOC_PATH.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def _resolve(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = doc
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and part in node, f"unresolvable {ref}"
        node = node[part]
    return node


def _deref(doc: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and set(node) == {"$ref"}:
        node = _resolve(doc, node["$ref"])
    return node


def _refs(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def test_top_level(doc: dict[str, Any]) -> None:
    assert doc["asyncapi"] == "3.0.0"
    assert isinstance(doc["info"]["title"], str) and isinstance(doc["info"]["version"], str)
    assert doc["defaultContentType"] == "application/json"
    assert set(doc) <= {
        "asyncapi",
        "id",
        "info",
        "servers",
        "defaultContentType",
        "channels",
        "operations",
        "components",
    }
    for server in doc["servers"].values():
        assert (server["protocol"], server["protocolVersion"]) == ("mqtt", "5")
        for name in re.findall(r"{(\w+)}", server["host"]):
            assert name in server["variables"]


def test_channels_and_their_parameters(doc: dict[str, Any]) -> None:
    assert {cid: ch["address"] for cid, ch in doc["channels"].items()} == {
        cid: spec[0] for cid, spec in EXPECTED.items()
    }
    for cid, channel in doc["channels"].items():
        in_address = set(re.findall(r"{(\w+)}", channel["address"]))
        assert in_address == set(channel["parameters"]), cid
        for parameter in channel["parameters"].values():
            assert "description" in _deref(doc, parameter)


def test_addresses_match_the_topics_module(doc: dict[str, Any]) -> None:
    address = {
        cid: ch["address"].replace("{producer}", "p-1") for cid, ch in doc["channels"].items()
    }
    assert address["inPosition"] == topics.inbound("p-1", "position")
    assert address["inIncident"] == topics.inbound("p-1", "incident")
    assert address["inSar"] == topics.inbound("p-1", "sar")
    assert address["inVessel"] == topics.inbound("p-1", "vessel")
    assert address["inAis"] == topics.inbound("p-1", topics.AIS_KIND)
    assert address["receipt"] == topics.receipt("p-1")
    assert address["deadletter"] == topics.deadletter("p-1")
    assert doc["channels"]["status"]["address"].replace("{service}", "ingest") == topics.status(
        "ingest"
    )
    for cid, topic in (("share", topics.share), ("shareReceipt", topics.share_receipt)):
        address = doc["channels"][cid]["address"]
        assert address.format(sender="jcg", recipient="kcg") == topic("jcg", "kcg")


def test_every_local_ref_resolves(doc: dict[str, Any]) -> None:
    local = [r for r in _refs(doc) if r.startswith("#")]
    assert len(local) >= 20
    for ref in local:
        _resolve(doc, ref)


def test_operations_reference_their_channel_and_its_messages(doc: dict[str, Any]) -> None:
    by_channel: dict[str, set[tuple[str, int, bool]]] = {}
    for oid, op in doc["operations"].items():
        channel_ref = op["channel"]["$ref"]
        cid = channel_ref.removeprefix("#/channels/")
        assert cid in doc["channels"], oid
        assert op["messages"], oid
        for message in op["messages"]:  # AsyncAPI 3: a subset of the channel's messages
            assert message["$ref"].startswith(f"{channel_ref}/messages/"), oid
            _resolve(doc, message["$ref"])
        mqtt = _deref(doc, op["bindings"])["mqtt"]
        by_channel.setdefault(cid, set()).add((op["action"], mqtt["qos"], mqtt["retain"]))
    assert by_channel == {
        cid: {(action, 1, spec[2]) for action in spec[1]} for cid, spec in EXPECTED.items()
    }


def test_messages_point_at_schema_files_loaded_by_schema_set(doc: dict[str, Any]) -> None:
    ids = SchemaSet().ids
    file_refs = [r for r in _refs(doc) if not r.startswith("#")]
    assert len(file_refs) == 8
    for ref in file_refs:
        path = (DOC_PATH.parent / ref).resolve()
        assert path.is_file(), ref
        schema_id = json.loads(path.read_text(encoding="utf-8"))["$id"]
        assert schema_id == ID_BASE + path.relative_to(SCHEMA_DIR).as_posix()
        assert schema_id in ids
    for mid, message in doc["components"]["messages"].items():
        if mid == "aisSentences":  # NMEA text as receivers send it
            assert message["contentType"] == "text/plain"
            assert message["payload"]["schema"]["type"] == "string"
            continue
        assert message["contentType"] == "application/json", mid
        assert message["payload"]["schemaFormat"] == PAYLOAD_FORMAT, mid
        assert _deref(doc, message["bindings"])["mqtt"]["contentType"] == "application/json"


def _payload_validator(doc: dict[str, Any], cid: str) -> jsonschema_rs.Validator:
    """Compile a channel's message payload with the schema files, as a consumer would."""
    schema_set = SchemaSet()
    registry = jsonschema_rs.Registry([(i, schema_set.schema(i)) for i in schema_set.ids])
    [message] = doc["channels"][cid]["messages"].values()
    payload = _deref(doc, message)["payload"]["schema"]
    # The document is served beside the schemas, so its relative $refs reach their $ids.
    return jsonschema_rs.validator_for(
        {"$schema": "https://json-schema.org/draft/2020-12/schema", **payload},
        registry=registry,
        base_uri=ID_BASE + DOC_PATH.name,
        validate_formats=True,
        formats=FORMATS,
    )


def _examples(name: str) -> list[Path]:
    found = sorted((SCHEMA_DIR / name / "v1/examples/valid").glob("*.json"))
    assert found
    return found


def test_payloads_take_their_own_examples_only(doc: dict[str, Any]) -> None:
    json_channels = {cid for cid, spec in EXPECTED.items() if spec[3] is not None}
    validators = {cid: _payload_validator(doc, cid) for cid in json_channels}
    owner = {
        "mdx.position.v1": "inPosition",
        "mdx.incident.v1": "inIncident",
        "mdx.sar.v1": "inSar",
        "mdx.vessel.v1": "inVessel",
    }
    cases = [({owner[json.loads(p.read_text())["type"]]}, p) for p in _examples("envelope")]
    cases += [({"receipt", "shareReceipt"}, p) for p in _examples("receipt")]  # one schema
    cases += [({"deadletter"}, p) for p in _examples("deadletter")]
    cases += [({"status"}, p) for p in _examples("status")]
    cases += [({"share"}, p) for p in _examples("share")]
    assert set().union(*(cids for cids, _ in cases)) == json_channels
    for cids, path in cases:
        instance = json.loads(path.read_text(encoding="utf-8"))
        accepted_by = {c for c, v in validators.items() if v.is_valid(instance)}
        assert accepted_by == cids, path.name
