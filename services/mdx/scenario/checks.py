"""What a scenario expects to see at a node, looked at the way an operator or producer there
would: the node's HTTP API (logged in as the network's operator account) and its broker (as
the producer, who gets its own dead letters).

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
    TrackExpect,
)
from mdx.scenario.network import NetworkError, NodeAccess
from mdx.scenario.template import Template

SEARCH_LIMIT = 1000


class DeadLetterWatch:
    """A producer's dead letters at a node, from the moment the run starts (subscribed before
    any step runs, so none is missed)."""

    def __init__(self, node: NodeAccess, producer: str) -> None:
        self.reasons: list[str] = []
        self._lock = threading.Lock()
        subscribed = threading.Event()
        self.client = mqtt.client(
            node.producer(producer), f"mdx-scenario-dl-{uuid.uuid4().hex[:8]}"
        )
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *_a: subscribed.set()
        self.client.on_connect = lambda c, *_a: c.subscribe(topics.deadletter(producer), qos=1)
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
                f"{node.id}: could not subscribe to {producer}'s dead letters at "
                f"{node.broker_host}:{node.broker_port} (broker down, or wrong password?)"
            )

    def _on_message(self, _c: Any, _u: Any, msg: Any) -> None:
        try:
            reason = str(orjson.loads(msg.payload)["reason"])
        except (orjson.JSONDecodeError, KeyError, TypeError):
            reason = f"(unreadable dead letter: {bytes(msg.payload)[:80]!r})"
        with self._lock:
            self.reasons.append(reason)

    def seen(self) -> list[str]:
        with self._lock:
            return list(self.reasons)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def look(
    expect: AnyExpect,
    node: NodeAccess,
    template: Template,
    watches: dict[tuple[str, str], DeadLetterWatch],
) -> tuple[bool, str]:
    if isinstance(expect, DeadLetterExpect):
        want = expect.deadletters
        reasons = watches[(expect.node, want.producer)].seen()
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
