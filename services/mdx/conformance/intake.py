"""Intake checks, as a producer of the target: every valid example of the contract is
acknowledged (its receipt covers its seq) and served by the API; every invalid one is
dead-lettered to the producer with a reason, and none is served."""

from __future__ import annotations

import base64
import uuid
from datetime import datetime
from typing import Any

import orjson

from mdx.conformance import examples
from mdx.conformance.report import Result, failed, passed, skipped
from mdx.conformance.target import Session, Target, wait
from mdx.core import topics

VALID = "intake.valid-examples"
INVALID = "intake.invalid-examples"


def run(target: Target) -> list[Result]:
    if target.producer is None:
        why = "no producer account on the target's broker (--broker mqtt://user:password@host:port)"
        return [skipped(VALID, why), skipped(INVALID, why)]
    producer = target.producer.credentials.username
    receipt, dead = topics.receipt(producer), topics.deadletter(producer)
    with Session(target.producer, (receipt, dead)) as session:
        return [_valid(target, session, producer), _invalid(target, session, producer)]


def _publish_numbered(session: Session, producer: str, items: list[examples.Example]) -> int:
    """Publish `items` numbered after the producer's current receipt; the last seq used."""
    seq = session.last_seq(topics.receipt(producer))
    for item in items:
        seq += 1
        envelope = {**item.envelope, "seq": seq}
        session.publish(topics.inbound(producer, item.kind), orjson.dumps(envelope))
    return seq


def _dead_letters(session: Session, producer: str) -> list[dict[str, Any]]:
    found = []
    for payload in session.messages(topics.deadletter(producer)):
        try:
            found.append(orjson.loads(payload))
        except orjson.JSONDecodeError:
            continue
    return found


def _announced(letter: dict[str, Any]) -> bytes:
    try:
        return base64.b64decode(str(letter.get("payload_base64", "")), validate=True)
    except ValueError:
        return b""


def _valid(target: Target, session: Session, producer: str) -> Result:
    items = examples.valid(target.node, producer)
    before = len(_dead_letters(session, producer))
    last = _publish_numbered(session, producer, items)
    receipt = topics.receipt(producer)
    if not wait(lambda: session.last_seq(receipt) >= last, target.timeout):
        return failed(
            VALID,
            f"receipt never covered seq {last} (the last of {len(items)} valid examples) within "
            f"{target.timeout:.0f} s; last receipt seq {session.last_seq(receipt)}",
        )
    ids = {e.envelope["id"]: e.name for e in items}
    for letter in _dead_letters(session, producer)[before:]:
        for event_id, name in ids.items():
            if event_id.encode() in _announced(letter):
                return failed(VALID, f"{name} was dead-lettered: {letter.get('reason')}")
    if target.key is None:
        return passed(VALID, f"{len(items)} valid examples receipted (served: not read, no --key)")
    missing = [e.name for e in items if not _served(target, e)]
    if missing:
        return failed(
            VALID,
            f"{len(missing)} of {len(items)} acknowledged examples not served by the API to "
            f"{target.me}: {', '.join(missing[:3])}",
        )
    return passed(VALID, f"{len(items)} valid examples receipted and served")


def _served(target: Target, e: examples.Example) -> bool:
    """Whether the API serves the item to the checking identity. Static vessel reports are
    served only beside a position (GET /api/v1/vessels lists vessels at their positions), so
    for them the receipt is the evidence."""
    data = e.envelope["data"]
    if e.kind == "incident":
        r = target.get(f"/api/v1/incidents/{data['incident_id']}")
        return r.status_code == 200 and r.json()["properties"].get("version") == data["version"]
    if e.kind == "position":
        return target.get(f"/api/v1/vessels/{data['mmsi']}").status_code == 200
    if e.kind == "sar":
        r = target.get(f"/api/v1/incidents/{data['incident_id']}/timeline")
        steps = r.json().get("timeline", []) if r.status_code == 200 else []
        return any(
            s.get("type") == data["kind"] and _same_time(s.get("at"), data["observed_at"])
            for s in steps
        )
    return True


def _same_time(a: object, b: str) -> bool:
    try:
        return isinstance(a, str) and datetime.fromisoformat(a) == datetime.fromisoformat(b)
    except ValueError:
        return False


def _invalid(target: Target, session: Session, producer: str) -> Result:
    items = list(examples.invalid(target.node, producer))
    before = len(_dead_letters(session, producer))
    payloads: dict[str, bytes] = {}
    for e in items:
        payloads[e.name] = orjson.dumps(e.envelope)
        session.publish(topics.inbound(producer, e.kind), payloads[e.name])

    def reasons() -> dict[str, str]:
        found: dict[str, str] = {}
        for letter in _dead_letters(session, producer)[before:]:
            announced = _announced(letter)
            for name, payload in payloads.items():
                if announced and payload.startswith(announced):
                    found[name] = str(letter.get("reason") or "")
        return found

    wait(lambda: len(reasons()) >= len(items), target.timeout)
    got = reasons()
    missing = [e.name for e in items if e.name not in got]
    if missing:
        return failed(
            INVALID,
            f"{len(missing)} of {len(items)} invalid examples got no dead letter within "
            f"{target.timeout:.0f} s: {', '.join(missing[:3])}",
        )
    empty = [name for name, reason in got.items() if not reason.strip()]
    if empty:
        return failed(INVALID, f"dead letters without a reason: {', '.join(empty[:3])}")
    if target.key is None:
        return passed(INVALID, f"{len(items)} invalid examples dead-lettered with a reason")
    stored = [
        e.name
        for e in items
        if e.kind == "incident"
        and isinstance(e.envelope.get("data"), dict)
        and _is_uuid(e.envelope["data"].get("incident_id"))
        and target.get(f"/api/v1/incidents/{e.envelope['data']['incident_id']}").status_code != 404
    ]
    if stored:
        return failed(INVALID, f"invalid examples served by the API: {', '.join(stored[:3])}")
    return passed(
        INVALID, f"{len(items)} invalid examples dead-lettered with a reason, none served"
    )


def _is_uuid(value: object) -> bool:
    try:
        return isinstance(value, str) and str(uuid.UUID(value)) == value
    except ValueError:
        return False
