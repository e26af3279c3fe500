"""The schema files, their examples, and what SchemaSet reports.

Every example is checked by our SchemaSet (jsonschema-rs) and by the independent `jsonschema`
package, so a bug in one validator or in our error handling cannot hide a bad schema.
"""

from __future__ import annotations

import copy
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import jsonschema
import jsonschema_rs
import pytest
from referencing import Registry, Resource

from mdx.core.identifiers import imo_is_valid
from mdx.core.schemas import (
    DEADLETTER_SCHEMA_ID,
    DEFS_SCHEMA_ID,
    ENVELOPE_SCHEMA_ID,
    ID_BASE,
    INCIDENT_SCHEMA_ID,
    POSITION_SCHEMA_ID,
    RECEIPT_SCHEMA_ID,
    SAR_SCHEMA_ID,
    SCHEMA_DIR,
    STATUS_SCHEMA_ID,
    VESSEL_SCHEMA_ID,
    ZONE_SCHEMA_ID,
    SchemaSet,
    Violation,
    data_schema_for_types,
)
from mdx.core.signing import SHARE_SCHEMA_ID

DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_FILES = sorted(SCHEMA_DIR.rglob("*.schema.json"))
# message schema -> (min valid examples, min invalid examples)
MINIMUM_EXAMPLES = {
    "envelope": (3, 8),
    "position": (3, 8),
    "incident": (3, 8),
    "receipt": (2, 2),
    "deadletter": (2, 2),
    "status": (2, 2),
    "sar": (3, 4),
    "share": (3, 6),
    "zone": (3, 8),
    "vessel": (3, 6),
}
EXAMPLES = sorted(SCHEMA_DIR.glob("*/v1/examples/*/*.json"))
VALID = [p for p in EXAMPLES if p.parent.name == "valid"]
INVALID = [p for p in EXAMPLES if p.parent.name == "invalid"]
DATA_ID = {"position": POSITION_SCHEMA_ID, "incident": INCIDENT_SCHEMA_ID}
TYPE_OF = {"position": "mdx.position.v1", "incident": "mdx.incident.v1"}


def _rel(path: Path) -> str:
    return path.relative_to(SCHEMA_DIR).as_posix()


def _load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _schema_id(example: Path) -> str:
    name = example.relative_to(SCHEMA_DIR).parts[0]
    return f"{ID_BASE}{name}/v1/{name}.schema.json"


@pytest.fixture(scope="module")
def schema_set() -> SchemaSet:
    return SchemaSet()


@pytest.fixture(scope="module")
def reference() -> dict[str, jsonschema.protocols.Validator]:
    """Validators of the independent `jsonschema` package, with the same custom format."""
    schemas = [_load(p) for p in SCHEMA_FILES]
    registry: Registry[Any] = Registry().with_resources(
        (s["$id"], Resource.from_contents(s)) for s in schemas
    )
    checker = jsonschema.FormatChecker()
    checker.checks("mdx-imo")(imo_is_valid)
    # Without rfc3339-validator, jsonschema silently skips date-time: the test would be hollow.
    assert {"date-time", "uuid", "mdx-imo"} <= set(checker.checkers)
    return {
        s["$id"]: jsonschema.Draft202012Validator(s, registry=registry, format_checker=checker)
        for s in schemas
    }


def _envelope(kind: str, data: object) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": "5d0c7e2a-9b1f-4c3d-8e6a-2f4b6d8a0c1e",
        "source": "urn:mdx:jcg:test-producer",
        "type": TYPE_OF[kind],
        "time": "2025-03-14T01:12:46Z",
        "datacontenttype": "application/json",
        "dataschema": DATA_ID[kind],
        "data": data,
        "tlp": "GREEN",
        "seq": 1,
    }


def _subschemas(node: object) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _subschemas(value)
    elif isinstance(node, list):
        for item in node:
            yield from _subschemas(item)


# -- the schema files ---------------------------------------------------------------------


def test_the_expected_schema_files_exist() -> None:
    assert [_rel(p) for p in SCHEMA_FILES] == [
        "common/v1/defs.schema.json",
        "deadletter/v1/deadletter.schema.json",
        "envelope/v1/envelope.schema.json",
        "incident/v1/incident.schema.json",
        "position/v1/position.schema.json",
        "receipt/v1/receipt.schema.json",
        "sar/v1/sar.schema.json",
        "share/v1/share.schema.json",
        "status/v1/status.schema.json",
        "vessel/v1/vessel.schema.json",
        "zone/v1/zone.schema.json",
    ]


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=_rel)
def test_schema_file_is_valid_2020_12_with_id_matching_its_path(path: Path) -> None:
    schema = _load(path)
    assert schema["$schema"] == DRAFT_2020_12
    jsonschema.Draft202012Validator.check_schema(schema)  # raises SchemaError
    assert jsonschema_rs.meta.is_valid(schema)
    assert schema["$id"] == ID_BASE + _rel(path)
    assert re.fullmatch(r"[a-z]+/v[0-9]+/[a-z]+\.schema\.json", _rel(path))


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=_rel)
def test_strings_are_bounded_and_patterns_anchored(path: Path) -> None:
    for sub in _subschemas(_load(path)):
        types = sub.get("type", [])
        if "string" in (types if isinstance(types, list) else [types]):
            assert "maxLength" in sub or "enum" in sub or "const" in sub, sub
        pattern = sub.get("pattern")
        if isinstance(pattern, str):
            assert pattern.startswith("^") and pattern.endswith("$"), pattern
            assert "\\d" not in pattern, "\\d matches non-ASCII digits in some engines"


def test_schema_set_loads_every_file(schema_set: SchemaSet) -> None:
    assert schema_set.ids == tuple(
        sorted(
            [
                DEFS_SCHEMA_ID,
                ENVELOPE_SCHEMA_ID,
                POSITION_SCHEMA_ID,
                INCIDENT_SCHEMA_ID,
                RECEIPT_SCHEMA_ID,
                DEADLETTER_SCHEMA_ID,
                STATUS_SCHEMA_ID,
                SHARE_SCHEMA_ID,
                SAR_SCHEMA_ID,
                ZONE_SCHEMA_ID,
                VESSEL_SCHEMA_ID,
            ]
        )
    )
    copy_ = schema_set.schema(POSITION_SCHEMA_ID)
    copy_["required"].clear()  # a copy: the validator's schema is untouched
    assert schema_set.schema(POSITION_SCHEMA_ID)["required"] != []


def test_type_to_data_schema_is_read_from_the_envelope_schema(schema_set: SchemaSet) -> None:
    expected = {
        "mdx.position.v1": POSITION_SCHEMA_ID,
        "mdx.incident.v1": INCIDENT_SCHEMA_ID,
        "mdx.sar.v1": SAR_SCHEMA_ID,
        "mdx.vessel.v1": VESSEL_SCHEMA_ID,
    }
    assert schema_set.data_schemas == expected
    assert data_schema_for_types(schema_set) == expected
    envelope = schema_set.schema(ENVELOPE_SCHEMA_ID)
    assert envelope["properties"]["type"]["enum"] == list(expected)
    for branch in envelope["allOf"]:  # the data $ref and the dataschema const agree
        then = branch["then"]["properties"]
        assert urljoin(ENVELOPE_SCHEMA_ID, then["data"]["$ref"]) == then["dataschema"]["const"]


def test_a_schema_directory_without_the_envelope_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no envelope schema"):
        SchemaSet(tmp_path)


# -- examples -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(MINIMUM_EXAMPLES))
def test_enough_examples(name: str) -> None:
    min_valid, min_invalid = MINIMUM_EXAMPLES[name]
    assert len([p for p in VALID if p.parts[-5] == name]) >= min_valid
    assert len([p for p in INVALID if p.parts[-5] == name]) >= min_invalid


def test_no_stray_example_files() -> None:
    """Every file under an examples/ folder is a valid/ or invalid/ example of a known schema."""
    strays = [
        _rel(p) for p in SCHEMA_DIR.rglob("examples/**/*") if p.is_file() and p not in EXAMPLES
    ]
    assert strays == []
    assert {p.parts[-5] for p in EXAMPLES} == set(MINIMUM_EXAMPLES)


@pytest.mark.parametrize("path", VALID, ids=_rel)
def test_valid_example_validates(
    path: Path, schema_set: SchemaSet, reference: dict[str, jsonschema.protocols.Validator]
) -> None:
    instance = _load(path)
    schema_id = _schema_id(path)
    assert schema_set.validate(schema_id, instance) == []
    assert list(reference[schema_id].iter_errors(instance)) == []
    kind = path.parts[-5]
    if kind in DATA_ID:  # bare data must also travel in an envelope
        envelope = _envelope(kind, instance)
        assert schema_set.validate_envelope(envelope) == []
        assert list(reference[ENVELOPE_SCHEMA_ID].iter_errors(envelope)) == []


@pytest.mark.parametrize("path", INVALID, ids=_rel)
def test_invalid_example_breaks_exactly_its_rule(
    path: Path, schema_set: SchemaSet, reference: dict[str, jsonschema.protocols.Validator]
) -> None:
    example = _load(path)
    assert set(example) == {"description", "breaks", "instance"}
    assert example["description"].strip()
    breaks = example["breaks"]
    instance = example["instance"]
    schema_id = _schema_id(path)

    found = [(v.path, v.keyword) for v in schema_set.validate(schema_id, instance)]
    assert found == [(breaks["path"], breaks["keyword"])]
    assert list(reference[schema_id].iter_errors(instance)) != []

    kind = path.parts[-5]
    if kind in DATA_ID:  # the same rule, reported under /data when enveloped
        envelope = _envelope(kind, instance)
        found = [(v.path, v.keyword) for v in schema_set.validate_envelope(envelope)]
        assert found == [("/data" + breaks["path"], breaks["keyword"])]
        assert list(reference[ENVELOPE_SCHEMA_ID].iter_errors(envelope)) != []


# -- specific reports ---------------------------------------------------------------------


@pytest.fixture
def position_envelope() -> dict[str, Any]:
    return _envelope(
        "position",
        _load(SCHEMA_DIR / "position/v1/examples/valid/korea-strait-container-ship.json"),
    )


def test_lat_91_is_reported_at_the_leaf(
    schema_set: SchemaSet, position_envelope: dict[str, Any]
) -> None:
    position_envelope["data"]["lat"] = 91
    [violation] = schema_set.validate_envelope(position_envelope)
    assert violation == Violation(
        path="/data/lat",
        keyword="maximum",
        schema_path="/allOf/0/then/properties/data/$ref/properties/lat/$ref/maximum",
        message="91 is greater than the maximum of 90",
    )
    assert str(violation) == (
        "/data/lat: 91 is greater than the maximum of 90 "
        "(rule maximum at /allOf/0/then/properties/data/$ref/properties/lat/$ref/maximum)"
    )


def test_all_violations_are_returned_sorted(
    schema_set: SchemaSet, position_envelope: dict[str, Any]
) -> None:
    position_envelope["data"].update(lat=91, lon=181, heading=511)
    del position_envelope["source"]
    found = [(v.path, v.keyword) for v in schema_set.validate_envelope(position_envelope)]
    assert found == [
        ("", "required"),
        ("/data/heading", "maximum"),
        ("/data/lat", "maximum"),
        ("/data/lon", "maximum"),
    ]
    assert str(schema_set.validate_envelope(position_envelope)[0]).startswith(
        '/: "source" is a required property'
    )


def _mutate(envelope: dict[str, Any], pointer: str, value: object) -> dict[str, Any]:
    *parents, last = pointer.strip("/").split("/")
    target: Any = envelope
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]
    target[last] = value
    return envelope


@pytest.mark.parametrize(
    ("pointer", "value", "expected"),
    [
        ("/data/mmsi", "٤٣١٠٠٠١٢٣", [("/data/mmsi", "pattern")]),  # non-ASCII digits
        ("/data/imo", "9074728", [("/data/imo", "format")]),
        ("/data/observed_at", "2016-12-31T23:59:60Z", [("/data/observed_at", "pattern")]),
        (
            "/data/observed_at",
            "2025-03-14T01:12:45",
            [("/data/observed_at", "format"), ("/data/observed_at", "pattern")],
        ),
        ("/seq", 2**63, [("/seq", "maximum")]),
        ("/traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", []),
        ("/retries", 3, []),
        ("/urgent", True, []),
        ("/nothing", None, [("/nothing", "anyOf")]),
        ("/note", "x" * 2049, [("/note", "maxLength")]),
        (
            "/type",
            "mdx.incident.v1",
            [("/data", "additionalProperties"), ("/data", "required"), ("/dataschema", "const")],
        ),
    ],
)
def test_specific_envelopes(
    schema_set: SchemaSet,
    position_envelope: dict[str, Any],
    pointer: str,
    value: object,
    expected: list[tuple[str, str]],
) -> None:
    envelope = _mutate(position_envelope, pointer, value)
    found = sorted({(v.path, v.keyword) for v in schema_set.validate_envelope(envelope)})
    assert found == expected


def test_unknown_type_does_not_check_data(
    schema_set: SchemaSet, position_envelope: dict[str, Any]
) -> None:
    position_envelope.update(type="mdx.track.v1", data={})
    found = [(v.path, v.keyword) for v in schema_set.validate_envelope(position_envelope)]
    assert found == [("/type", "enum")]


@pytest.mark.parametrize("instance", [[], "envelope", 42, None])
def test_non_objects_are_reported_at_the_root(schema_set: SchemaSet, instance: object) -> None:
    found = [(v.path, v.keyword) for v in schema_set.validate_envelope(instance)]
    assert found == [("", "type")]


def test_polygon_errors_name_the_ring(schema_set: SchemaSet) -> None:
    incident = _load(SCHEMA_DIR / "incident/v1/examples/valid/sar-search-area-oki.json")
    incident["location"]["coordinates"].append([[133.0, 36.5], [133.1, 36.5], [133.0, 36.5]])
    incident["location"]["coordinates"][0][2] = [133.6, 95.0]
    found = [
        (v.path, v.keyword) for v in schema_set.validate_envelope(_envelope("incident", incident))
    ]
    assert found == [
        ("/data/location/coordinates/0/2/1", "maximum"),
        ("/data/location/coordinates/1", "minItems"),
    ]


def test_long_values_do_not_make_long_messages(
    schema_set: SchemaSet, position_envelope: dict[str, Any]
) -> None:
    position_envelope["data"]["name"] = "N" * 100_000
    [violation] = schema_set.validate_envelope(position_envelope)
    assert (violation.path, violation.keyword) == ("/data/name", "maxLength")
    assert len(violation.message) == 300 and violation.message.endswith("…")


def test_json_pointer_escaping(schema_set: SchemaSet, position_envelope: dict[str, Any]) -> None:
    position_envelope["data"]["a/b~c"] = 1
    [violation] = schema_set.validate_envelope(position_envelope)
    assert (violation.path, violation.keyword) == ("/data", "additionalProperties")
    assert "a/b~c" in violation.message


def test_unknown_schema_id_is_a_key_error(schema_set: SchemaSet) -> None:
    with pytest.raises(KeyError, match="no schema with"):
        schema_set.validate("https://mdx.example/schemas/nope/v1/nope.schema.json", {})


def test_valid_envelope_validation_is_fast(
    schema_set: SchemaSet, position_envelope: dict[str, Any]
) -> None:
    """Ingest validates every message: budget 50 µs (measured ~3 µs on the 2-core box)."""
    rounds, best = 2_000, float("inf")
    for _ in range(5):  # best of 5 batches, to ride out a noisy neighbour
        start = time.perf_counter()
        for _ in range(rounds):
            schema_set.validate_envelope(position_envelope)
        best = min(best, (time.perf_counter() - start) / rounds)
    assert schema_set.validate_envelope(copy.deepcopy(position_envelope)) == []
    assert best < 50e-6, f"{best * 1e6:.1f} µs per envelope"
