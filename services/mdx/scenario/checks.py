"""What a scenario expects to see at a node, looked at the way an operator or producer there
would: the node's HTTP API (logged in as the network's operator account) and its broker (as
the producer, who gets its own dead letters; as the node's `recorder`, who may read the signed
share messages its partners send it).

Each check answers (seen, detail): whether what it looks for is there now, and what it saw.
"""

from __future__ import annotations

import threading
import uuid
from typing import Any

import httpx
import orjson

from mdx.core import mqtt, topics
from mdx.scenario.model import (
    AnyExpect,
    DeadLetterExpect,
    IncidentExpect,
    SearchExpect,
    ShareExpect,
    TrackExpect,
)
from mdx.scenario.network import NetworkError, NodeAccess
from mdx.scenario.template import Template

SEARCH_LIMIT = 1000


RECORDER = "recorder"  # the identity that may read the partners' streams to a node (mdx.node.acl)


def watched(expect: AnyExpect) -> tuple[str, str, str] | None:
    """(node, identity, topic) an expectation listens to on a broker, if it does."""
    if isinstance(expect, DeadLetterExpect):
        producer = expect.deadletters.producer
        return expect.node, producer, topics.deadletter(producer)
    if isinstance(expect, ShareExpect):
        return expect.node, RECORDER, topics.share(expect.shared.sender, expect.node)
    return None


class TopicWatch:
    """Every message on one topic of a node's broker from the moment the run starts
    (subscribed before any step runs, so none is missed)."""

    def __init__(self, node: NodeAccess, identity: str, topic: str) -> None:
        self._payloads: list[bytes] = []
        self._lock = threading.Lock()
        subscribed = threading.Event()
        self.client = mqtt.client(node.producer(identity), f"mdx-scenario-{uuid.uuid4().hex[:8]}")
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *_a: subscribed.set()
        self.client.on_connect = lambda c, *_a: c.subscribe(topic, qos=1)
        try:
            self.client.connect(node.broker_host, node.broker_port)
        except OSError as e:
            raise NetworkError(
                f"{node.id}: broker {node.broker_host}:{node.broker_port}: {e}"
            ) from None
        self.client.loop_start()
        if not subscribed.wait(10):
            self.close()
            raise NetworkError(
                f"{node.id}: could not subscribe to {topic} as {identity} at "
                f"{node.broker_host}:{node.broker_port} (broker down, or wrong password?)"
            )

    def _on_message(self, _c: Any, _u: Any, msg: Any) -> None:
        with self._lock:
            self._payloads.append(bytes(msg.payload))

    def seen(self) -> list[bytes]:
        with self._lock:
            return list(self._payloads)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def look(
    expect: AnyExpect,
    node: NodeAccess,
    template: Template,
    watches: dict[tuple[str, str, str], TopicWatch],
) -> tuple[bool, str]:
    where = watched(expect)
    if isinstance(expect, ShareExpect):
        assert where is not None
        return _shared(watches[where].seen(), expect, template)
    if isinstance(expect, DeadLetterExpect):
        assert where is not None
        want = expect.deadletters
        reasons = [_reason(p) for p in watches[where].seen()]
        missing = [r for r in want.reasons if not any(r in got for got in reasons)]
        detail = f"{len(reasons)} dead letters (want {want.count})"
        if missing:
            detail += f"; no reason mentions {missing}"
        if missing or len(reasons) != want.count:
            detail += f"; reasons: {reasons}"
        return len(reasons) == want.count and not missing, detail
    with httpx.Client(
        base_url=node.api, headers={"Authorization": f"Bearer {node.token()}"}, timeout=10
    ) as api:
        if isinstance(expect, IncidentExpect):
            return _incident(api, expect, template)
        if isinstance(expect, SearchExpect):
            return _search(api, expect, template)
        assert isinstance(expect, TrackExpect)
        return _track(api, expect, template)


def _reason(payload: bytes) -> str:
    try:
        return str(orjson.loads(payload)["reason"])
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return f"(unreadable dead letter: {payload[:80]!r})"


def _shared(payloads: list[bytes], e: ShareExpect, template: Template) -> tuple[bool, str]:
    want = e.shared
    key, value = ("incident_id", want.incident) if want.incident else ("mmsi", want.mmsi)
    value = template.render(value)
    carrying = 0
    for payload in payloads:
        try:
            data = orjson.loads(payload)["envelope"]["data"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            continue  # not a share message: the node's share service judges those
        if isinstance(data, dict) and data.get(key) == value:
            carrying += 1
    detail = f"{carrying} of {len(payloads)} share messages from {want.sender} carry {key} {value}"
    return carrying > 0, detail


def _incident(api: httpx.Client, e: IncidentExpect, template: Template) -> tuple[bool, str]:
    incident_id = template.render(e.incident)
    r = api.get(f"/api/v1/incidents/{incident_id}")
    if r.status_code == 404:
        return False, f"no incident {incident_id}"
    r.raise_for_status()
    props = r.json()["properties"]
    wrong = _mismatches(props, template.render(e.where))
    if wrong:
        return False, f"incident {incident_id} has {wrong}"
    if e.sar_events:
        t = api.get(f"/api/v1/incidents/{incident_id}/timeline")
        t.raise_for_status()
        steps = [(s["type"], s["by"]) for s in t.json()["timeline"] if s["type"] != "version"]
        wanted = [(s["kind"], s["by"]) for s in template.render(e.sar_events)]
        lacking = [w for w in wanted if w not in steps]
        if lacking:
            return False, f"incident {incident_id}'s timeline lacks {lacking} (has {steps})"
        return True, f"incident {incident_id} with {len(steps)} SAR steps"
    return True, f"incident {incident_id} v{props.get('version')} tlp {props.get('tlp')}"


def _search(api: httpx.Client, e: SearchExpect, template: Template) -> tuple[bool, str]:
    q = e.incidents
    params: dict[str, str | int] = {"category": q.category, "limit": SEARCH_LIMIT}
    if q.origin:
        params["origin"] = q.origin
    r = api.get("/api/v1/incidents", params=params)
    r.raise_for_status()
    mmsi = template.render(q.mmsi)
    found = [
        f["properties"]
        for f in r.json()["features"]
        if any(v.get("mmsi") == mmsi for v in f["properties"].get("vessels", []))
    ]
    if not found:
        return False, f"no {q.category} incident involving {mmsi}"
    wanted = template.render(e.where)
    for props in found:
        if not _mismatches(props, wanted):
            return True, f"{props['incident_id']} ({props.get('title', '')[:80]})"
    return False, f"{len(found)} incidents involving {mmsi}, none with {wanted}"


def _track(api: httpx.Client, e: TrackExpect, template: Template) -> tuple[bool, str]:
    mmsi = template.render(e.track)
    r = api.get(f"/api/v1/vessels/{mmsi}/track", params={"limit": 100_000})
    got = 0 if r.status_code == 404 else len(r.raise_for_status().json()["properties"]["times"])
    if e.absent:  # seen: any position at all
        return got > 0, f"{got} positions of {mmsi}"
    return got == e.positions, f"{got} positions of {mmsi} (want {e.positions})"


def _mismatches(props: dict[str, Any], wanted: dict[str, Any]) -> dict[str, Any]:
    """The wanted properties that differ: name -> what the item has."""
    return {k: props.get(k) for k, v in wanted.items() if props.get(k) != v}
