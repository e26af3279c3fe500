"""The pure intake handler: every way `accept` rejects a message, and what it hands on when not."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from mdx.core.intake import (
    MAX_CLOCK_SKEW,
    Accepted,
    IntakePolicy,
    Rejected,
    accept,
    accept_envelope,
)
from mdx.core.schemas import INCIDENT_SCHEMA_ID, POSITION_SCHEMA_ID, SCHEMA_DIR, SchemaSet

NODE = "jcg"
PRODUCER = "patrol-7"
NOW = datetime(2025, 3, 14, 3, 0, 0, tzinfo=UTC)
POSITION_TOPIC = f"mdx/v1/in/{PRODUCER}/position"
INCIDENT_TOPIC = f"mdx/v1/in/{PRODUCER}/incident"


@pytest.fixture(scope="module")
def schema_set() -> SchemaSet:
    return SchemaSet()


@pytest.fixture(scope="module")
def policy(schema_set: SchemaSet) -> IntakePolicy:
    return IntakePolicy(node_id=NODE, default_tlp="AMBER", schemas=schema_set, now=lambda: NOW)


def position_envelope(**data: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "mmsi": "431000123",
        "lat": 34.31,
        "lon": 129.42,
        "sog": 11.5,
        "observed_at": "2025-03-14T02:55:00Z",
        "source_type": "patrol-sighting",
    }
    body.update(data)
    return {
        "specversion": "1.0",
        "id": "6f1c2d3e-4a5b-4c6d-8e7f-0a1b2c3d4e5f",
        "source": f"urn:mdx:{NODE}:{PRODUCER}",
        "type": "mdx.position.v1",
        "time": "2025-03-14T02:55:01Z",
        "datacontenttype": "application/json",
        "dataschema": POSITION_SCHEMA_ID,
        "data": body,
    }


def incident_envelope(**data: Any) -> dict[str, Any]:
    example = SCHEMA_DIR / "incident/v1/examples/valid/sar-search-area-oki.json"
    body = json.loads(example.read_text(encoding="utf-8"))
    body["observed_at"] = "2025-03-14T11:30:00+09:00"  # 02:30Z, half an hour before NOW
    body.update(data)
    envelope = position_envelope()
    envelope.update(type="mdx.incident.v1", dataschema=INCIDENT_SCHEMA_ID, data=body)
    return envelope


def dumps(envelope: object) -> bytes:
    return orjson.dumps(envelope)


def rejected(result: Accepted | Rejected) -> Rejected:
    assert isinstance(result, Rejected), result
    return result


def accepted(result: Accepted | Rejected) -> Accepted:
    assert isinstance(result, Accepted), result
    return result


def test_the_baseline_envelopes_are_accepted(policy: IntakePolicy) -> None:
    """Every rejection test below changes one thing in one of these."""
    assert accepted(accept(POSITION_TOPIC, dumps(position_envelope()), policy)).kind == "position"
    assert accepted(accept(INCIDENT_TOPIC, dumps(incident_envelope()), policy)).kind == "incident"


# -- bytes that are not an envelope ---------------------------------------------------------


@pytest.mark.parametrize("payload", [b"{nope", b"", b"not json at all", b'{"a": 1,}', b"NaN"])
def test_not_json(policy: IntakePolicy, payload: bytes) -> None:
    with pytest.raises(orjson.JSONDecodeError) as parse_error:
        orjson.loads(payload)
    result = rejected(accept(POSITION_TOPIC, payload, policy))
    assert result == Rejected(PRODUCER, f"not JSON: {parse_error.value}", None)


def test_not_json_names_where_the_parser_stopped(policy: IntakePolicy) -> None:
    result = rejected(accept(POSITION_TOPIC, b"{nope", policy))
    assert result.reason.startswith("not JSON: ")
    assert "line 1 column 2 (char 1)" in result.reason


@pytest.mark.parametrize(
    ("payload", "offset"),
    [
        (b"\xff{}", 0),
        (b'{"name": "\xc3"}', 10),  # a lead byte followed by '"', not a continuation byte
        (b'{"name": "ok\xc0\xaf"}', 12),  # overlong encoding of "/"
        (b'{"name": "\xed\xa0\x80"}', 10),  # a UTF-16 surrogate encoded as UTF-8
    ],
)
def test_not_utf8_names_the_byte_offset(policy: IntakePolicy, payload: bytes, offset: int) -> None:
    result = rejected(accept(POSITION_TOPIC, payload, policy))
    assert result == Rejected(PRODUCER, f"not UTF-8: invalid byte at offset {offset}", None)


def test_too_large_is_rejected_before_reading_and_the_limit_is_inclusive(
    schema_set: SchemaSet,
) -> None:
    payload = dumps(position_envelope())
    size = len(payload)
    exact = IntakePolicy(NODE, "GREEN", schema_set, max_payload_bytes=size, now=lambda: NOW)
    assert isinstance(accept(POSITION_TOPIC, payload, exact), Accepted)
    small = IntakePolicy(NODE, "GREEN", schema_set, max_payload_bytes=size - 1, now=lambda: NOW)
    result = rejected(accept(POSITION_TOPIC, payload, small))
    assert result == Rejected(PRODUCER, f"payload too large: {size} bytes > {size - 1}", None)
    # Size is judged first: oversized garbage is "too large", not "not JSON".
    result = rejected(
        accept(POSITION_TOPIC, b"\xff" * 11, IntakePolicy(NODE, "GREEN", schema_set, 10))
    )
    assert result.reason == "payload too large: 11 bytes > 10"


def test_the_default_limit_is_256_kib(policy: IntakePolicy) -> None:
    assert policy.max_payload_bytes == 256 * 1024
    result = rejected(accept(POSITION_TOPIC, b" " * (256 * 1024 + 1), policy))
    assert result.reason == f"payload too large: {256 * 1024 + 1} bytes > {256 * 1024}"


@pytest.mark.parametrize(
    "payload", [b"[]", b"[{}]", b"42", b"1.5", b'"envelope"', b"null", b"true"]
)
def test_json_that_is_not_an_object_is_rejected(policy: IntakePolicy, payload: bytes) -> None:
    result = rejected(accept(POSITION_TOPIC, payload, policy))
    assert result.producer == PRODUCER and result.seq is None
    assert result.reason.startswith("envelope is a JSON ")
    assert result.reason.endswith(", not an object")


@pytest.mark.parametrize(
    ("payload", "json_type"),
    [
        (b"[]", "array"),
        (b"42", "number"),
        (b"1.5", "number"),
        (b'"envelope"', "string"),
        (b"null", "null"),
        (b"true", "boolean"),
    ],
)
def test_not_an_object_reason_names_the_json_type(
    policy: IntakePolicy, payload: bytes, json_type: str
) -> None:
    result = rejected(accept(POSITION_TOPIC, payload, policy))
    assert result.reason == f"envelope is a JSON {json_type}, not an object"


# -- schema ---------------------------------------------------------------------------------


def test_schema_violation_names_the_path_and_rule(policy: IntakePolicy) -> None:
    payload = dumps(position_envelope(lat=91))
    result = rejected(accept(POSITION_TOPIC, payload, policy))
    assert result == Rejected(
        PRODUCER,
        "schema: /data/lat: 91 is greater than the maximum of 90 "
        "(rule maximum at /allOf/0/then/properties/data/$ref/properties/lat/$ref/maximum)",
        None,
    )


def test_schema_violations_beyond_five_are_counted(policy: IntakePolicy) -> None:
    result = rejected(accept(POSITION_TOPIC, b"{}", policy))
    shown = [
        f'/: "{name}" is a required property (rule required at /required)'
        for name in ("data", "datacontenttype", "dataschema", "id", "source")
    ]
    # Eight required attributes are missing: five shown, three counted.
    assert result.reason == "schema: " + "; ".join(shown) + " (+3 more)"


def test_two_violations_are_both_shown_without_a_count(policy: IntakePolicy) -> None:
    result = rejected(accept(POSITION_TOPIC, dumps(position_envelope(lat=91, lon=181)), policy))
    assert result.reason.startswith("schema: /data/lat: 91 is greater than the maximum of 90 ")
    assert "; /data/lon: 181 is greater than the maximum of 180 " in result.reason
    assert result.reason.count("; ") == 1 and "more)" not in result.reason


def test_unknown_type(policy: IntakePolicy) -> None:
    envelope = position_envelope()
    envelope["type"] = "mdx.track.v1"
    result = rejected(accept(POSITION_TOPIC, dumps(envelope), policy))
    assert result.reason == (
        'schema: /type: "mdx.track.v1" is not one of "mdx.position.v1", "mdx.incident.v1" or '
        "2 other candidates (rule enum at /properties/type/enum)"
    )


# -- topic ----------------------------------------------------------------------------------


def test_type_must_match_the_topic_kind(policy: IntakePolicy) -> None:
    result = rejected(accept(POSITION_TOPIC, dumps(incident_envelope()), policy))
    assert result.reason == "type mdx.incident.v1 does not belong on a 'position' topic"
    result = rejected(accept(INCIDENT_TOPIC, dumps(position_envelope()), policy))
    assert result.reason == "type mdx.position.v1 does not belong on a 'incident' topic"


def test_unknown_topic_kind(policy: IntakePolicy) -> None:
    result = rejected(accept(f"mdx/v1/in/{PRODUCER}/track", dumps(position_envelope()), policy))
    assert result == Rejected(PRODUCER, "unknown topic kind 'track'", None)


@pytest.mark.parametrize(
    "topic",
    [
        "mdx/v1/share/jcg/kcg",
        f"mdx/v1/in/{PRODUCER}",
        f"mdx/v1/in/{PRODUCER}/position/extra",
        f"mdx/v2/in/{PRODUCER}/position",
        f"MDX/v1/in/{PRODUCER}/position",
        f"/mdx/v1/in/{PRODUCER}/position",
        "",
    ],
)
def test_topic_that_is_not_inbound(policy: IntakePolicy, topic: str) -> None:
    result = rejected(accept(topic, dumps(position_envelope(seq=3)), policy))
    assert result == Rejected("unknown", f"topic {topic!r} is not mdx/v1/in/{{producer}}/{{kind}}")


# -- source ---------------------------------------------------------------------------------


def test_source_node_must_be_this_node(policy: IntakePolicy) -> None:
    envelope = position_envelope()
    envelope["source"] = f"urn:mdx:kcg:{PRODUCER}"
    result = rejected(accept(POSITION_TOPIC, dumps(envelope), policy))
    assert result.reason == "source node 'kcg' is not this node 'jcg'"


def test_source_producer_must_be_the_topic_producer(policy: IntakePolicy) -> None:
    envelope = position_envelope()
    envelope["source"] = f"urn:mdx:{NODE}:patrol-8"
    result = rejected(accept(POSITION_TOPIC, dumps(envelope), policy))
    assert result == Rejected(
        PRODUCER, "source producer 'patrol-8' does not match topic producer 'patrol-7'"
    )


def test_producer_comparison_is_case_sensitive(policy: IntakePolicy) -> None:
    result = rejected(accept("mdx/v1/in/Patrol-7/position", dumps(position_envelope()), policy))
    assert result.producer == "Patrol-7"
    assert result.reason == ("source producer 'patrol-7' does not match topic producer 'Patrol-7'")


# -- rules the schema cannot express --------------------------------------------------------


def test_clock_skew_is_ten_minutes() -> None:
    assert MAX_CLOCK_SKEW.total_seconds() == 600


@pytest.mark.parametrize(
    ("observed_at", "ok"),
    [
        ("2025-03-14T03:00:00Z", True),
        ("2025-03-14T03:09:59Z", True),
        ("2025-03-14T03:10:00Z", True),  # exactly the skew
        ("2025-03-14T03:10:00.001Z", False),
        ("2025-03-14T03:10:01Z", False),
        ("2025-03-15T03:00:00Z", False),
        ("2025-03-14T12:10:00+09:00", True),  # the same instants, written in JST
        ("2025-03-14T12:10:01+09:00", False),
        ("2025-03-13T22:10:01-05:00", False),
        ("2024-03-14T03:00:00Z", True),  # the past is fine
    ],
)
def test_observed_at_in_the_future(policy: IntakePolicy, observed_at: str, ok: bool) -> None:
    result = accept(POSITION_TOPIC, dumps(position_envelope(observed_at=observed_at)), policy)
    if ok:
        assert isinstance(result, Accepted), result
    else:
        assert result == Rejected(PRODUCER, f"/data/observed_at: {observed_at} is in the future")


def test_incident_observed_in_the_future(policy: IntakePolicy) -> None:
    envelope = incident_envelope(observed_at="2025-03-14T03:30:00Z")
    result = rejected(accept(INCIDENT_TOPIC, dumps(envelope), policy))
    assert result.reason == "/data/observed_at: 2025-03-14T03:30:00Z is in the future"


def test_the_policy_clock_is_read_per_message(schema_set: SchemaSet) -> None:
    clock = [NOW]
    moving = IntakePolicy(NODE, "GREEN", schema_set, now=lambda: clock[0])
    payload = dumps(position_envelope(observed_at="2025-03-14T03:20:00Z"))
    assert isinstance(accept(POSITION_TOPIC, payload, moving), Rejected)
    clock[0] = datetime(2025, 3, 14, 3, 10, tzinfo=UTC)
    assert isinstance(accept(POSITION_TOPIC, payload, moving), Accepted)


def test_observed_at_year_zero_is_rejected_not_raised(policy: IntakePolicy) -> None:
    payload = dumps(position_envelope(observed_at="0000-01-01T00:00:00Z"))
    result = accept(POSITION_TOPIC, payload, policy)
    assert isinstance(result, Rejected)
    assert result.reason.startswith("/data/observed_at: ")


@pytest.mark.parametrize(
    ("mmsi", "mid"),
    [("200123456", 200), ("776123456", 776), ("799999999", 799), ("002001234", 200)],
)
def test_position_mmsi_with_unallocated_mid(policy: IntakePolicy, mmsi: str, mid: int) -> None:
    result = rejected(accept(POSITION_TOPIC, dumps(position_envelope(mmsi=mmsi)), policy))
    assert result == Rejected(
        PRODUCER, f"mmsi {mmsi}: MID {mid} is not an allocated Maritime Identification Digit"
    )


@pytest.mark.parametrize("mmsi", ["201000000", "775999999", "970012345", "994401017"])
def test_allocated_mids_and_devices_without_mid_are_accepted(
    policy: IntakePolicy, mmsi: str
) -> None:
    accepted(accept(POSITION_TOPIC, dumps(position_envelope(mmsi=mmsi)), policy))


def test_incident_vessel_mmsi_with_unallocated_mid(policy: IntakePolicy) -> None:
    envelope = incident_envelope()
    envelope["data"]["vessels"][1]["mmsi"] = "776123456"
    result = rejected(accept(INCIDENT_TOPIC, dumps(envelope), policy))
    assert result.reason == (
        "mmsi 776123456: MID 776 is not an allocated Maritime Identification Digit"
    )


SHELL = [[132.9, 36.4], [133.6, 36.4], [133.6, 36.9], [132.9, 36.9], [132.9, 36.4]]
HOLE = [[133.1, 36.5], [133.2, 36.5], [133.2, 36.6], [133.1, 36.6], [133.1, 36.5]]


@pytest.mark.parametrize(
    ("rings", "reason"),
    [
        (
            [[*SHELL[:-1], [132.9, 36.5]]],
            "/data/location/coordinates/0: ring is not closed (RFC 7946 3.1.6)",
        ),
        (
            [SHELL, [*HOLE[:-1], [133.1, 36.55]]],
            "/data/location/coordinates/1: ring is not closed (RFC 7946 3.1.6)",
        ),
        (
            [[[133.0, 36.0], [134.0, 37.0], [134.0, 36.0], [133.0, 37.0], [133.0, 36.0]]],
            "/data/location: invalid polygon: Self-intersection[133.5 36.5]",
        ),
    ],
    ids=["shell-not-closed", "hole-not-closed", "bow-tie"],
)
def test_bad_polygons(policy: IntakePolicy, rings: list[Any], reason: str) -> None:
    envelope = incident_envelope(location={"type": "Polygon", "coordinates": rings})
    assert rejected(accept(INCIDENT_TOPIC, dumps(envelope), policy)) == Rejected(PRODUCER, reason)


def test_hole_outside_the_shell_is_an_invalid_polygon(policy: IntakePolicy) -> None:
    outside = [[x + 5, y] for x, y in HOLE]
    envelope = incident_envelope(location={"type": "Polygon", "coordinates": [SHELL, outside]})
    result = rejected(accept(INCIDENT_TOPIC, dumps(envelope), policy))
    assert result.reason.startswith("/data/location: invalid polygon: Hole lies outside shell")


def test_polygon_with_a_hole_is_accepted(policy: IntakePolicy) -> None:
    envelope = incident_envelope(location={"type": "Polygon", "coordinates": [SHELL, HOLE]})
    result = accepted(accept(INCIDENT_TOPIC, dumps(envelope), policy))
    assert result.data["location"]["coordinates"] == [SHELL, HOLE]


# -- seq ------------------------------------------------------------------------------------

# One rejection from each stage after the envelope is parsed.
REJECTORS: dict[str, Callable[[dict[str, Any]], tuple[str, dict[str, Any]]]] = {
    "schema": lambda e: (POSITION_TOPIC, {**e, "data": {**e["data"], "lat": 91}}),
    "kind": lambda e: (INCIDENT_TOPIC, e),
    "node": lambda e: (POSITION_TOPIC, {**e, "source": f"urn:mdx:kcg:{PRODUCER}"}),
    "producer": lambda e: (POSITION_TOPIC, {**e, "source": f"urn:mdx:{NODE}:other"}),
    "future": lambda e: (
        POSITION_TOPIC,
        {**e, "data": {**e["data"], "observed_at": "2025-03-15T00:00:00Z"}},
    ),
    "mid": lambda e: (POSITION_TOPIC, {**e, "data": {**e["data"], "mmsi": "776123456"}}),
}


@pytest.mark.parametrize("stage", sorted(REJECTORS))
def test_rejections_carry_the_seq(policy: IntakePolicy, stage: str) -> None:
    topic, envelope = REJECTORS[stage](position_envelope())
    envelope["seq"] = 42
    assert rejected(accept(topic, dumps(envelope), policy)).seq == 42


@pytest.mark.parametrize(
    ("seq", "carried"),
    [
        (7, 7),
        (2**63 - 1, 2**63 - 1),
        (2**63, 2**63),  # over the schema's maximum, but still the producer's number
        (0, None),
        (-3, None),
        (True, None),  # a bool is not a seq, though Python calls it an int
        (False, None),
        ("7", None),
        (None, None),
    ],
)
def test_seq_on_a_schema_rejection(policy: IntakePolicy, seq: object, carried: int | None) -> None:
    envelope = position_envelope(lat=91)
    envelope["seq"] = seq
    result = rejected(accept(POSITION_TOPIC, dumps(envelope), policy))
    assert result.reason.startswith("schema: ")
    assert result.seq == carried
    assert type(result.seq) is (int if carried is not None else type(None))


def test_bool_seq_is_ignored_and_reported_by_the_schema(policy: IntakePolicy) -> None:
    envelope = position_envelope()
    envelope["seq"] = True
    result = rejected(accept(POSITION_TOPIC, dumps(envelope), policy))
    assert result == Rejected(
        PRODUCER, 'schema: /seq: true is not of type "integer" (rule type at /properties/seq/type)'
    )


def test_no_seq_before_the_payload_is_parsed(policy: IntakePolicy) -> None:
    assert rejected(accept(POSITION_TOPIC, b'{"seq": 5', policy)).seq is None
    assert rejected(accept(POSITION_TOPIC, b'[{"seq": 5}]', policy)).seq is None


def test_integral_float_seq_is_not_lost(policy: IntakePolicy) -> None:
    result = accept(POSITION_TOPIC, b'{"seq": 5.0, ' + dumps(position_envelope())[1:], policy)
    assert result.seq == 5


# -- acceptance -----------------------------------------------------------------------------


def test_accepted_position_carries_origin_producer_and_defaults(policy: IntakePolicy) -> None:
    envelope = position_envelope()
    envelope["seq"] = 9
    payload = dumps(envelope)
    result = accepted(accept(POSITION_TOPIC, payload, policy))
    assert result == Accepted(
        kind="position",
        producer=PRODUCER,
        origin=NODE,
        envelope=envelope,
        tlp="AMBER",  # the policy's default: the envelope has no tlp
        relto=[],
        seq=9,
        topic=POSITION_TOPIC,  # kept byte for byte, for a dead letter if storing fails
        payload=payload,
    )
    assert result.data == envelope["data"]


def test_default_tlp_follows_the_policy(schema_set: SchemaSet) -> None:
    red = IntakePolicy(NODE, "RED", schema_set, now=lambda: NOW)
    assert accepted(accept(POSITION_TOPIC, dumps(position_envelope()), red)).tlp == "RED"


@pytest.mark.parametrize("tlp", ["CLEAR", "GREEN", "AMBER+STRICT", "RED"])
def test_explicit_tlp_is_kept(policy: IntakePolicy, tlp: str) -> None:
    envelope = position_envelope()
    envelope["tlp"] = tlp
    assert accepted(accept(POSITION_TOPIC, dumps(envelope), policy)).tlp == tlp


@pytest.mark.parametrize(
    ("relto", "expected"),
    [
        ("kcg", ["kcg"]),
        ("kcg uscg", ["kcg", "uscg"]),
        ("kcg uscg cgph-2", ["kcg", "uscg", "cgph-2"]),
    ],
)
def test_relto_is_split_into_a_list(policy: IntakePolicy, relto: str, expected: list[str]) -> None:
    envelope = incident_envelope()
    envelope.update(relto=relto, purpose="SAR", tlp="AMBER")
    result = accepted(accept(INCIDENT_TOPIC, dumps(envelope), policy))
    assert result.relto == expected
    assert result.envelope["relto"] == relto  # the envelope itself is kept as sent


def test_accepted_incident(policy: IntakePolicy) -> None:
    envelope = incident_envelope()
    result = accepted(accept(INCIDENT_TOPIC, dumps(envelope), policy))
    assert (result.kind, result.producer, result.origin, result.seq) == (
        "incident",
        PRODUCER,
        NODE,
        None,
    )
    assert result.envelope == envelope


# -- accept_envelope (operators' reports over HTTP) -----------------------------------------


def test_accept_envelope_accepts_without_a_seq(policy: IntakePolicy) -> None:
    envelope = incident_envelope()
    envelope["seq"] = 12
    result = accepted(accept_envelope(copy.deepcopy(envelope), PRODUCER, "incident", policy))
    assert (result.kind, result.producer, result.origin, result.tlp, result.relto) == (
        "incident",
        PRODUCER,
        NODE,
        "AMBER",
        [],
    )
    assert result.envelope == envelope
    assert result.seq is None
    assert result.topic == f"http:{PRODUCER}/incident"
    assert orjson.loads(result.payload) == envelope


@pytest.mark.parametrize(
    ("change", "producer", "kind", "reason"),
    [
        (
            {"source": "urn:mdx:jcg:desk-1"},
            PRODUCER,
            "incident",
            "source producer 'desk-1' does not match topic producer 'patrol-7'",
        ),
        (
            {"source": "urn:mdx:kcg:patrol-7"},
            PRODUCER,
            "incident",
            "source node 'kcg' is not this node 'jcg'",
        ),
        ({}, PRODUCER, "position", "type mdx.incident.v1 does not belong on a 'position' topic"),
        ({}, PRODUCER, "sighting", "unknown topic kind 'sighting'"),
        (
            {"specversion": "0.3"},
            PRODUCER,
            "incident",
            'schema: /specversion: "1.0" was expected '
            "(rule const at /properties/specversion/const)",
        ),
    ],
)
def test_accept_envelope_rejections(
    policy: IntakePolicy, change: dict[str, Any], producer: str, kind: str, reason: str
) -> None:
    envelope = incident_envelope() | change
    envelope["seq"] = 4
    result = rejected(accept_envelope(envelope, producer, kind, policy))
    assert result == Rejected(producer, reason, None)


def test_accept_envelope_judges_the_same_node_rules(policy: IntakePolicy) -> None:
    envelope = incident_envelope(observed_at="2025-03-14T04:00:00Z")
    result = rejected(accept_envelope(envelope, PRODUCER, "incident", policy))
    assert result.reason == "/data/observed_at: 2025-03-14T04:00:00Z is in the future"


@pytest.mark.parametrize("not_an_object", [[], "envelope", 3])
def test_accept_envelope_of_a_non_object_is_a_schema_rejection(
    policy: IntakePolicy, not_an_object: Any
) -> None:
    result = rejected(accept_envelope(not_an_object, PRODUCER, "incident", policy))
    assert result.reason.startswith("schema: /: ")
    assert "(rule type at /type)" in result.reason
