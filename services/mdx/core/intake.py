"""The intake handler: one inbound message in, an accepted item or a rejection with its reason out.

Pure (no I/O), so the MQTT ingest service and the HTTP API share it and tests can drive it
directly. Storage is the job of `mdx.core.store`.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, cast

import orjson
from shapely.geometry import shape
from shapely.validation import explain_validity

from mdx.core import strict_json, topics
from mdx.core.envelope import parse_source
from mdx.core.identifiers import mid_is_allocated, mmsi_mid
from mdx.core.schemas import SchemaSet

# Clocks drift; an observation further in the future than this cannot be real.
MAX_CLOCK_SKEW = timedelta(minutes=10)
MAX_REASONS = 5
# Nothing older is a report of the present; PostgreSQL could store it but not read it back.
EARLIEST_OBSERVATION = datetime(1900, 1, 1, tzinfo=UTC)
# C0 and C1 control characters and lone surrogates: shown escaped in a rejection's reason.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")

Kind = Literal["position", "incident", "sar", "vessel"]
KINDS: tuple[Kind, ...] = ("position", "incident", "sar", "vessel")


@dataclass(slots=True)
class Accepted:
    kind: Kind
    producer: str
    origin: str
    envelope: dict[str, Any]
    tlp: str
    relto: list[str]
    seq: int | None
    # Where it came from, byte for byte: what a dead letter keeps if storing it fails later.
    topic: str = ""
    payload: bytes = b""
    # A partner's item: the node that passed it to us, and the re-sharing custody chain.
    received_via: str | None = None
    custody: list[dict[str, Any]] | None = None

    @property
    def data(self) -> dict[str, Any]:
        data: dict[str, Any] = self.envelope["data"]
        return data


@dataclass(slots=True)
class Rejected:
    producer: str
    reason: str
    seq: int | None = None

    def __post_init__(self) -> None:
        # Reasons quote what was sent; PostgreSQL text cannot hold NUL, logs should not hold
        # terminal escapes, and a lone surrogate cannot be encoded at all.
        self.reason = _UNPRINTABLE.sub(_escaped, self.reason)


@dataclass(slots=True)
class IntakePolicy:
    """What a node needs to know to judge a message addressed to it."""

    node_id: str
    default_tlp: str
    schemas: SchemaSet
    max_payload_bytes: int = 256 * 1024
    now: Any = field(default=lambda: datetime.now(UTC))


# The hot path meets the same few topics and vessels over and over: remember their answers
# (bounded, so a producer inventing names cannot grow them).
parse_topic = functools.lru_cache(maxsize=4096)(topics.parse_inbound)


@functools.lru_cache(maxsize=65536)
def _unallocated_mid(mmsi: str) -> int | None:
    mid = mmsi_mid(mmsi)
    return mid if mid is not None and not mid_is_allocated(mid) else None


def accept(topic: str, payload: bytes, policy: IntakePolicy) -> Accepted | Rejected:
    """Judge one message published on `topic`."""
    parsed_topic = parse_topic(topic)
    producer = parsed_topic[0] if parsed_topic else "unknown"
    if parsed_topic is None:
        return Rejected(producer, f"topic {topic!r} is not mdx/v1/in/{{producer}}/{{kind}}")
    kind = parsed_topic[1]
    if len(payload) > policy.max_payload_bytes:
        return Rejected(
            producer, f"payload too large: {len(payload)} bytes > {policy.max_payload_bytes}"
        )
    try:
        envelope = strict_json.loads(payload)
    except orjson.JSONDecodeError as e:
        try:
            payload.decode("utf-8")  # orjson refuses bad UTF-8 too, but cannot say where
        except UnicodeDecodeError as bad:
            return Rejected(producer, f"not UTF-8: invalid byte at offset {bad.start}")
        return Rejected(producer, f"not JSON: {e}")
    except strict_json.StrictJsonError as e:
        return Rejected(producer, f"unsafe JSON: {e}")
    if not isinstance(envelope, dict):
        return Rejected(producer, f"envelope is a JSON {_json_type(envelope)}, not an object")
    seq = _seq(envelope.get("seq"))
    verdict = _judge(envelope, producer, kind, seq, policy)
    if isinstance(verdict, Accepted):
        verdict.topic, verdict.payload = topic, payload
    return verdict


def accept_envelope(
    envelope: dict[str, Any], producer: str, kind: str, policy: IntakePolicy
) -> Accepted | Rejected:
    """Judge an envelope that did not come over MQTT (an operator's report over HTTP)."""
    verdict = _judge(envelope, producer, kind, None, policy)
    if isinstance(verdict, Accepted):
        verdict.topic, verdict.payload = f"http:{producer}/{kind}", orjson.dumps(envelope)
    return verdict


def accept_foreign(
    envelope: dict[str, Any],
    origin: str,
    sender: str,
    custody: list[dict[str, Any]],
    policy: IntakePolicy,
) -> Accepted | Rejected:
    """Judge a partner's item, whose signature (by `origin`) the share layer has verified: the
    same rules as our own producers' items, except that its source names its origin node."""
    kind = topics.TYPE_TO_KIND.get(str(envelope.get("type")), "unknown")
    source = parse_source(str(envelope.get("source", "")))
    producer = source[1] if source else "unknown"
    if "tlp" not in envelope:
        return Rejected(sender, "a shared item must carry its tlp marking")
    verdict = _judge(envelope, producer, kind, None, policy, node=origin)
    if isinstance(verdict, Rejected):
        return Rejected(sender, verdict.reason)
    verdict.received_via, verdict.custody = sender, custody
    return verdict


def _judge(
    envelope: dict[str, Any],
    producer: str,
    kind: str,
    seq: int | None,
    policy: IntakePolicy,
    node: str | None = None,
) -> Accepted | Rejected:
    """`node`: the node the source must name (default: this node, for its own producers)."""
    expected_node = node or policy.node_id
    violations = policy.schemas.validate_envelope(envelope)
    if violations:
        shown = "; ".join(str(v) for v in violations[:MAX_REASONS])
        more = f" (+{len(violations) - MAX_REASONS} more)" if len(violations) > MAX_REASONS else ""
        return Rejected(producer, f"schema: {shown}{more}", seq)
    expected_type = topics.KIND_TO_TYPE.get(kind)
    if expected_type is None:
        return Rejected(producer, f"unknown topic kind {kind!r}", seq)
    if envelope["type"] != expected_type:
        return Rejected(
            producer, f"type {envelope['type']} does not belong on a {kind!r} topic", seq
        )
    source = parse_source(envelope["source"])
    if source is None:  # the schema's pattern makes this unreachable; kept for safety
        return Rejected(
            producer, f"source {envelope['source']!r} is not urn:mdx:node:producer", seq
        )
    source_node, source_producer = source
    if source_node != expected_node:
        whose = "this node" if node is None else "the signing node"
        return Rejected(
            producer, f"source node {source_node!r} is not {whose} {expected_node!r}", seq
        )
    if source_producer != producer:
        return Rejected(
            producer,
            f"source producer {source_producer!r} does not match topic producer {producer!r}",
            seq,
        )
    problem = _impossible(kind, envelope["data"], policy.now())
    if problem:
        return Rejected(producer, problem, seq)
    relto = envelope["relto"].split() if "relto" in envelope else []
    return Accepted(
        kind=cast(Kind, kind),  # a key of KIND_TO_TYPE, checked above
        producer=producer,
        origin=source_node,
        envelope=envelope,
        tlp=envelope.get("tlp", policy.default_tlp),
        relto=relto,
        seq=seq,
    )


def _escaped(match: re.Match[str]) -> str:
    return ascii(match.group())[1:-1]


def _json_type(value: object) -> str:
    names = {list: "array", str: "string", bool: "boolean", int: "number", float: "number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def _seq(value: object) -> int | None:
    """The producer's sequence number; JSON Schema counts 5.0 as the integer 5, and so do we."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _impossible(kind: str, data: dict[str, Any], now: datetime) -> str | None:
    """Rules a JSON Schema cannot express: time in the future, unallocated MIDs, bad polygons."""
    try:
        observed = datetime.fromisoformat(data["observed_at"])
    except ValueError as e:  # e.g. year 0000, which RFC 3339's grammar allows
        return f"/data/observed_at: {data['observed_at']!r} is not a real time ({e})"
    if observed.tzinfo is None:
        return f"/data/observed_at: {data['observed_at']!r} has no UTC offset"
    if observed < EARLIEST_OBSERVATION:
        return f"/data/observed_at: {data['observed_at']} is before {EARLIEST_OBSERVATION.year}"
    if observed - now > MAX_CLOCK_SKEW:
        return f"/data/observed_at: {data['observed_at']} is in the future"
    mmsis = (
        [data["mmsi"]]
        if kind in ("position", "vessel")
        else [v["mmsi"] for v in data.get("vessels", []) if "mmsi" in v]
    )
    for mmsi in mmsis:
        mid = _unallocated_mid(mmsi)
        if mid is not None:
            return f"mmsi {mmsi}: MID {mid} is not an allocated Maritime Identification Digit"
    if kind == "incident" and data["location"]["type"] == "Polygon":
        for i, ring in enumerate(data["location"]["coordinates"]):
            if ring[0] != ring[-1]:
                return f"/data/location/coordinates/{i}: ring is not closed (RFC 7946 3.1.6)"
        polygon = shape(data["location"])
        if not polygon.is_valid:
            return f"/data/location: invalid polygon: {explain_validity(polygon)}"
    return None
