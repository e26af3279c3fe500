"""Envelope and schema validation, as properties of `intake.accept` over generated messages.

Valid envelopes are accepted as they were sent; breaking one required field, one type or one
marking is a rejection whose reason names the field; nothing, however malformed, raises.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
from hypothesis import assume, given
from hypothesis import strategies as st

from mdx.core.intake import Accepted, IntakePolicy, Rejected, accept
from mdx.core.schemas import ENVELOPE_SCHEMA_ID, INCIDENT_SCHEMA_ID, POSITION_SCHEMA_ID
from tests.property.strategies import (
    NODE,
    NOW,
    PRODUCER,
    PURPOSES,
    SCHEMAS,
    TLPS,
    envelopes,
    node_ids,
)

POLICY = IntakePolicy(node_id=NODE, default_tlp="GREEN", schemas=SCHEMAS, now=lambda: NOW)
REQUIRED = {
    "envelope": SCHEMAS.schema(ENVELOPE_SCHEMA_ID)["required"],
    "position": SCHEMAS.schema(POSITION_SCHEMA_ID)["required"],
    "incident": SCHEMAS.schema(INCIDENT_SCHEMA_ID)["required"],
}
# Field -> the JSON types its schema allows (as Python types), per where it lives.
TYPED: dict[str, dict[str, tuple[type, ...]]] = {
    "envelope": {
        "specversion": (str,),
        "id": (str,),
        "source": (str,),
        "type": (str,),
        "time": (str,),
        "datacontenttype": (str,),
        "dataschema": (str,),
        "data": (dict,),
    },
    "position": {
        "mmsi": (str,),
        "lat": (int, float),
        "lon": (int, float),
        "observed_at": (str,),
        "source_type": (str,),
    },
    "incident": {
        "incident_id": (str,),
        "version": (int,),
        "category": (str,),
        "status": (str,),
        "title": (str,),
        "location": (dict,),
        "observed_at": (str,),
    },
}
# Unprintable characters never reach a reason (PostgreSQL text, logs and terminals read it).
RELTO = re.compile(SCHEMAS.schema(ENVELOPE_SCHEMA_ID)["properties"]["relto"]["pattern"])
UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")

# What JSON can carry through orjson: 64-bit integers, finite floats, UTF-8 text.
utf8_text = st.text(st.characters(codec="utf-8"))
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | utf8_text
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(utf8_text, inner, max_size=4),
    max_leaves=12,
)


def topic(kind: str, producer: str = PRODUCER) -> str:
    return f"mdx/v1/in/{producer}/{kind}"


def judge(kind: str, envelope: object, producer: str = PRODUCER) -> Accepted | Rejected:
    return accept(topic(kind, producer), orjson.dumps(envelope), POLICY)


def rejected(verdict: Accepted | Rejected) -> str:
    assert isinstance(verdict, Rejected), verdict
    assert verdict.producer == PRODUCER
    assert verdict.reason and not UNPRINTABLE.search(verdict.reason)
    return verdict.reason


def names(reason: str, pointer: str) -> bool:
    """The reason is about the value at `pointer` (or inside it): a schema violation, or a
    NUL the parser refused before the schema was asked."""
    return re.match(rf"(schema|unsafe JSON): {re.escape(pointer)}[:/]", reason) is not None


def is_of(value: object, allowed: tuple[type, ...]) -> bool:
    """JSON Schema's view of the type: booleans are no numbers, 5.0 is an integer."""
    if isinstance(value, bool):
        return bool in allowed
    if isinstance(value, float) and value.is_integer() and int in allowed:
        return True
    return isinstance(value, allowed)


@given(envelopes())
def test_valid_envelopes_are_accepted_as_sent(drawn: tuple[str, dict[str, Any]]) -> None:
    kind, envelope = drawn
    verdict = judge(kind, envelope)
    assert isinstance(verdict, Accepted), verdict
    assert (verdict.kind, verdict.producer, verdict.origin) == (kind, PRODUCER, NODE)
    assert verdict.envelope == envelope
    assert verdict.tlp == envelope.get("tlp", POLICY.default_tlp)
    assert verdict.relto == (envelope["relto"].split() if "relto" in envelope else [])
    assert verdict.seq == envelope.get("seq")


@given(envelopes(), st.data())
def test_a_missing_required_field_is_named(drawn: tuple[str, Any], data: st.DataObject) -> None:
    kind, envelope = drawn
    where = data.draw(st.sampled_from(["envelope", kind]))
    field = data.draw(st.sampled_from(REQUIRED[where]))
    parent = envelope if where == "envelope" else envelope["data"]
    del parent[field]
    reason = rejected(judge(kind, envelope))
    assert reason.startswith("schema: ")
    assert f'"{field}" is a required property' in reason
    assert reason.startswith("schema: /: " if where == "envelope" else "schema: /data: ")


@given(envelopes(), st.data())
def test_a_value_of_the_wrong_type_is_named(drawn: tuple[str, Any], data: st.DataObject) -> None:
    kind, envelope = drawn
    where = data.draw(st.sampled_from(["envelope", kind]))
    field = data.draw(st.sampled_from(sorted(TYPED[where])))
    value = data.draw(json_values.filter(lambda v: not is_of(v, TYPED[where][field])))
    parent = envelope if where == "envelope" else envelope["data"]
    parent[field] = value
    pointer = f"/{field}" if where == "envelope" else f"/data/{field}"
    assert names(rejected(judge(kind, envelope)), pointer)


@given(envelopes(), st.data())
def test_a_broken_marking_is_named(drawn: tuple[str, Any], data: st.DataObject) -> None:
    kind, envelope = drawn
    marking = data.draw(st.sampled_from(["tlp", "relto", "purpose"]))
    if marking == "tlp":
        value: object = data.draw(utf8_text.filter(lambda t: t not in TLPS))
    elif marking == "purpose":
        value = data.draw(utf8_text.filter(lambda t: t not in PURPOSES))
    else:  # releasable-to: space-separated node ids, nothing else
        value = data.draw(utf8_text.filter(lambda t: not RELTO.fullmatch(t)))
    envelope[marking] = value
    assert names(rejected(judge(kind, envelope)), f"/{marking}")


@given(envelopes(), node_ids)
def test_a_source_naming_another_node_is_rejected(drawn: tuple[str, Any], node: str) -> None:
    assume(node != NODE)
    kind, envelope = drawn
    envelope["source"] = f"urn:mdx:{node}:{PRODUCER}"
    assert rejected(judge(kind, envelope)) == f"source node {node!r} is not this node {NODE!r}"


@given(envelopes(), st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,20}", fullmatch=True))
def test_a_source_naming_another_producer_is_rejected(drawn: tuple[str, Any], other: str) -> None:
    assume(other != PRODUCER)
    kind, envelope = drawn
    envelope["source"] = f"urn:mdx:{NODE}:{other}"
    assert rejected(judge(kind, envelope)) == (
        f"source producer {other!r} does not match topic producer {PRODUCER!r}"
    )


@given(envelopes(), st.data())
def test_any_value_anywhere_is_judged_without_raising(
    drawn: tuple[str, Any], data: st.DataObject
) -> None:
    kind, envelope = drawn
    parent = data.draw(st.sampled_from([envelope, envelope["data"]]))
    parent[data.draw(st.text(st.characters(codec="utf-8"), max_size=12))] = data.draw(json_values)
    verdict = judge(kind, envelope)
    assert isinstance(verdict, Accepted | Rejected)
    if isinstance(verdict, Rejected):
        rejected(verdict)


@given(st.binary(max_size=2_000), st.sampled_from(["position", "incident", "sar", "vessel"]))
def test_any_bytes_are_judged_without_raising(payload: bytes, kind: str) -> None:
    rejected(accept(topic(kind), payload, POLICY))
