"""A corpus of hostile MQTT messages, each with what the node must make of it.

`Dead` cases must be dead-lettered once, with a reason that starts with or contains `reason`.
`Stored` cases are hostile only to what displays or queries them (SQL, HTML, terminal
escapes): they are valid, so they must be stored verbatim, and the map must show them as text.
Every payload is unique: a dead letter is found by its exact bytes.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import orjson

from mdx.core.envelope import make_envelope

NODE = "jcg"
HOSTILE = "hostile"  # the producer every bad message claims to come from
INGEST_LIMIT = 256 * 1024  # settings.ingest.max_payload_bytes by default

SQL = "'; DROP TABLE incidents; -- Robert'); DELETE FROM dead_letters WHERE ('1'='1"
IMG = "<img src=x onerror=window.__xss=1>"
SCRIPT = "<script>window.__xss=2</script>"
# Escaped control characters are valid JSON and valid text: kept, never interpreted.
TERMINAL = "bell \u0007 escape \u001b[31mred\u001b[0m tab\tnew\nline, RTL \u202egnp.exe"


@dataclass(frozen=True)
class Dead:
    reason: str
    anywhere: bool = False  # the reason contains it (default: starts with it)


@dataclass(frozen=True)
class Stored:
    table: str  # incidents or vessels
    key: str  # incident_id or mmsi
    texts: dict[str, str]  # data field -> the exact text it must hold


@dataclass(frozen=True)
class Case:
    name: str
    topic: str
    payload: bytes
    expect: Dead | Stored


def topic(kind: str, producer: str = HOSTILE) -> str:
    return f"mdx/v1/in/{producer}/{kind}"


def incident_data(n: int, **changes: Any) -> dict[str, Any]:
    return {
        "incident_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"urn:mdx:test:hostile:{n}")),
        "version": 1,
        "category": "other",
        "status": "reported",
        "title": f"Hostile corpus incident {n}",
        "location": {"type": "Point", "coordinates": [129.0 + n / 1000, 34.0]},
        "observed_at": "2026-11-25T08:00:00Z",
    } | changes


def envelope(kind: str, data: dict[str, Any], producer: str = HOSTILE, **kw: Any) -> dict[str, Any]:
    return make_envelope(NODE, producer, f"mdx.{kind}.v1", data, **kw)


def incident_bytes(n: int, **changes: Any) -> bytes:
    return orjson.dumps(envelope("incident", incident_data(n, **changes)))


def _replace_once(payload: bytes, old: bytes, new: bytes) -> bytes:
    assert payload.count(old) == 1, (old, payload[:200])
    return payload.replace(old, new)


def _add_members(payload: bytes, members: bytes) -> bytes:
    """`payload`'s top-level object with raw `members` text appended (duplicates included)."""
    assert payload.endswith(b"}")
    return payload[:-1] + b"," + members + b"}"


def _bad_utf8(n: int, bad: bytes) -> tuple[bytes, int]:
    base = incident_bytes(n, title="Broken bytes here: XX")
    at = base.index(b"XX")
    return base[:at] + bad + base[at + 2 :], at


def dead_cases() -> list[Case]:
    inc = topic("incident")
    invalid_utf8, invalid_at = _bad_utf8(1, b"\xff\xfe")
    overlong, overlong_at = _bad_utf8(2, b"\xc0\xaf")
    huge = incident_bytes(3)
    huge = _add_members(huge, b'"padding":"' + b"x" * INGEST_LIMIT + b'"')
    one_mb_title = incident_bytes(4, title="T" * 1_000_000)
    nested_data = _replace_once(
        incident_bytes(5), b'"data":{', b'"data":{"deep":' + b"[" * 5_000 + b"]" * 5_000 + b","
    )
    # Within what the parser takes, beyond what the node can write back (and validate).
    too_deep_to_keep = _replace_once(
        incident_bytes(6), b'"data":{', b'"data":{"deep":' + b"[" * 500 + b"]" * 500 + b","
    )
    deep_enough = _replace_once(
        incident_bytes(25), b'"data":{', b'"data":{"deep":' + b"[" * 200 + b"]" * 200 + b","
    )
    lat = orjson.dumps(envelope("position", _position(7)))
    forged_producer = orjson.dumps(envelope("incident", incident_data(12), producer="ops1"))
    sql_topic_producer = "x'; DROP TABLE dead_letters;--"
    long_title = "L" * 200_001
    nul_key = _replace_once(incident_bytes(22), b'"title":', b'"ti\\u0000tle":')
    return [
        Case(
            "huge payload",
            inc,
            huge,
            Dead(f"payload too large: {len(huge)} bytes > {INGEST_LIMIT}"),
        ),
        Case(
            "1 MB title",
            inc,
            one_mb_title,
            Dead(f"payload too large: {len(one_mb_title)} bytes > {INGEST_LIMIT}"),
        ),
        Case(
            "10,000-deep arrays",
            inc,
            b"[" * 10_000 + b"]" * 10_000,
            Dead("not JSON: depth limit exceeded"),
        ),
        Case("5,000-deep data", inc, nested_data, Dead("not JSON: depth limit exceeded")),
        Case(
            "500-deep data",
            inc,
            too_deep_to_keep,
            Dead("unsafe JSON: nested too deeply: Recursion limit reached"),
        ),
        Case(
            "200-deep data",
            inc,
            deep_enough,
            Dead("schema: /data: Additional properties are not allowed ('deep' was unexpected)"),
        ),
        Case(
            "invalid UTF-8",
            inc,
            invalid_utf8,
            Dead(f"not UTF-8: invalid byte at offset {invalid_at}"),
        ),
        Case(
            "overlong UTF-8",
            inc,
            overlong,
            Dead(f"not UTF-8: invalid byte at offset {overlong_at}"),
        ),
        Case(
            "NaN",
            topic("position"),
            _replace_once(lat, b'"lat":34.5', b'"lat":NaN'),
            Dead("not JSON"),
        ),
        Case(
            "Infinity",
            topic("position"),
            _replace_once(lat, b'"lat":34.5', b'"lat":Infinity'),
            Dead("not JSON"),
        ),
        Case(
            "-Infinity",
            topic("position"),
            _replace_once(lat, b'"lat":34.5', b'"lat":-Infinity'),
            Dead("not JSON"),
        ),
        Case(
            "1e400 (infinite as a double)",
            topic("position"),
            _replace_once(lat, b'"lat":34.5', b'"lat":1e400'),
            Dead("not JSON: number is infinity"),
        ),
        Case(
            "two tlp values",
            inc,
            _add_members(incident_bytes(8, title="Two tlp"), b'"tlp":"RED","tlp":"CLEAR"'),
            Dead("unsafe JSON: duplicate key 'tlp'"),
        ),
        Case(
            "two source values",
            inc,
            _add_members(incident_bytes(9, title="Two sources"), b'"source":"urn:mdx:kcg:ops1"'),
            Dead("unsafe JSON: duplicate key 'source'"),
        ),
        Case(
            "two titles in data",
            inc,
            _replace_once(incident_bytes(10), b'"title":', b'"title":"first","title":'),
            Dead("unsafe JSON: duplicate key 'title'"),
        ),
        Case(
            "a duplicate hidden behind an escaped colon",
            inc,
            _add_members(incident_bytes(11), b'"note":"\\u003a","tlp":"RED","tlp":"CLEAR"'),
            Dead("unsafe JSON: duplicate key 'tlp'"),
        ),
        Case(
            "source naming another node",
            inc,
            orjson.dumps(
                envelope("incident", incident_data(13)) | {"source": "urn:mdx:kcg:hostile"}
            ),
            Dead("source node 'kcg' is not this node 'jcg'"),
        ),
        Case(
            "source naming another producer",
            inc,
            forged_producer,
            Dead("source producer 'ops1' does not match topic producer 'hostile'"),
        ),
        Case(
            "SQL in the topic's producer",
            topic("incident", sql_topic_producer),
            orjson.dumps(envelope("incident", incident_data(14), producer="ops1")),
            Dead(f"source producer 'ops1' does not match topic producer {sql_topic_producer!r}"),
        ),
        Case("empty payload", inc, b"", Dead("not JSON: Input is a zero-length, empty document")),
        Case(
            "JSON array", inc, b'["an", "array"]', Dead("envelope is a JSON array, not an object")
        ),
        Case("JSON number", inc, b"42", Dead("envelope is a JSON number, not an object")),
        Case(
            "JSON string", inc, b'"an envelope"', Dead("envelope is a JSON string, not an object")
        ),
        Case("JSON null", inc, b"null", Dead("envelope is a JSON null, not an object")),
        Case("JSON true", inc, b"true", Dead("envelope is a JSON boolean, not an object")),
        Case(
            "raw control character",
            inc,
            _replace_once(incident_bytes(15), b"incident 15", b"incident \x1b[2J 15"),
            Dead("not JSON: unexpected control character in string"),
        ),
        Case(
            "lone surrogate escape",
            inc,
            _replace_once(incident_bytes(16), b"incident 16", b"incident \\ud800 16"),
            Dead("not JSON: no low surrogate in string"),
        ),
        Case(
            "NUL escape in a title",
            inc,
            _replace_once(incident_bytes(17), b"incident 17", b"incident \\u0000 17"),
            Dead("unsafe JSON: /data/title: contains U+0000 (NUL), which cannot be stored"),
        ),
        Case(
            "NUL escape in a key",
            inc,
            nul_key,
            Dead("unsafe JSON: /data/ti\\x00tle: contains U+0000 (NUL), which cannot be stored"),
        ),
        Case(
            "UTF-8 byte order mark",
            inc,
            b"\xef\xbb\xbf" + incident_bytes(18),
            Dead("not JSON: UTF-8 byte order mark"),
        ),
        Case(
            "200,001-character title",
            inc,
            incident_bytes(19, title=long_title),
            Dead("schema: /data/title: "),
        ),
        Case(
            "SQL in a marking",
            inc,
            orjson.dumps(envelope("incident", incident_data(20)) | {"tlp": SQL}),
            Dead("schema: /tlp: "),
        ),
        Case(
            "script in the source",
            inc,
            orjson.dumps(envelope("incident", incident_data(21)) | {"source": SCRIPT}),
            Dead("schema: /source: "),
        ),
        Case(
            "version beyond a 32-bit integer",
            inc,
            incident_bytes(23, version=2**31),
            Dead("/data/version", anywhere=True),
        ),
        Case(
            "unknown kind",
            topic("weather"),
            incident_bytes(24),
            Dead("unknown topic kind 'weather'"),
        ),
    ]


def stored_cases() -> list[Case]:
    """Valid messages whose text is an attack on whoever displays or queries it."""
    texts = [
        {"title": SQL, "description": SCRIPT + IMG},
        {"title": IMG, "description": SQL},
        {"title": SCRIPT, "description": TERMINAL},
    ]
    cases = []
    for i, fields in enumerate(texts):
        data = incident_data(100 + i, **fields)
        cases.append(
            Case(
                f"injection in incident text {i}",
                topic("incident", "ops1"),
                orjson.dumps(envelope("incident", data, producer="ops1")),
                Stored("incidents", data["incident_id"], fields),
            )
        )
    # JSON Schema counts 3.0 as an integer: such a message is valid and must be stored (an
    # integer column once refused "3.0" and failed the whole batch).
    data = incident_data(110, version=3.0, persons_at_risk=2.0, title="whole numbers as 3.0")
    cases.append(
        Case(
            "integers written with a fraction",
            topic("incident", "ops1"),
            orjson.dumps(envelope("incident", data, producer="ops1")),
            Stored("incidents", data["incident_id"], {"title": data["title"]}),
        )
    )
    for i, name in enumerate((IMG, SCRIPT, SQL[:120])):
        mmsi = f"44000{i:04d}"
        data = {
            "mmsi": mmsi,
            "name": name,
            "observed_at": "2026-11-25T08:00:00Z",
            "source_type": "registry",
        }
        cases.append(
            Case(
                f"injection in a vessel name {i}",
                topic("vessel", "ops1"),
                orjson.dumps(envelope("vessel", data, producer="ops1")),
                Stored("vessels", mmsi, {"name": name}),
            )
        )
    return cases


def _position(n: int) -> dict[str, Any]:
    return {
        "mmsi": f"4310{n:05d}",
        "lat": 34.5,
        "lon": 129.5,
        "observed_at": "2026-11-25T08:00:00Z",
        "source_type": "ais-terrestrial",
    }
