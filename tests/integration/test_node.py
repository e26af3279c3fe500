"""A whole node from its config file (`mdx node run`): MQTT in, HTTP out, within a second."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from mdx.core.envelope import make_envelope
from tests.integration.harness import running_node, wait_for


@pytest.fixture
def node(db: str, broker_dir: Path, tmp_path: Path) -> Iterator[tuple[str, int]]:
    with running_node(db, broker_dir, tmp_path, default_tlp="AMBER") as n:
        yield n.base, n.broker_port


def mosquitto_pub(port: int, topic: str, payload: bytes) -> None:
    subprocess.run(
        ["mosquitto_pub", "-p", str(port), "-V", "5", "-q", "1", "-t", topic, "-s"],
        input=payload,
        check=True,
    )


def test_published_reports_reach_the_api(node: tuple[str, int]) -> None:
    base, port = node
    incident_id = str(uuid.uuid4())
    incident = make_envelope(
        "jcg",
        "ops1",
        "mdx.incident.v1",
        {
            "incident_id": incident_id,
            "version": 1,
            "category": "sar",
            "status": "reported",
            "title": "Fishing vessel taking on water",
            "observed_at": "2026-11-25T08:00:00Z",
            "location": {"type": "Point", "coordinates": [129.3, 34.2]},
        },
    )
    position = make_envelope(
        "jcg",
        "ais1",
        "mdx.position.v1",
        {
            "mmsi": "440123456",
            "lat": 34.21,
            "lon": 129.31,
            "sog": 3.2,
            "observed_at": "2026-11-25T08:01:00Z",
            "source_type": "ais-terrestrial",
        },
    )
    mosquitto_pub(port, "mdx/v1/in/ops1/incident", orjson.dumps(incident))
    mosquitto_pub(port, "mdx/v1/in/ais1/position", orjson.dumps(position))
    mosquitto_pub(port, "mdx/v1/in/ais1/position", b'{"specversion": "1.0"')

    def status(path: str) -> int:
        return httpx.get(base + path, timeout=2).status_code

    wait_for(lambda: status(f"/api/v1/incidents/{incident_id}") == 200, 10, "the incident")
    wait_for(lambda: status("/api/v1/vessels/440123456") == 200, 10, "the vessel")
    feature = httpx.get(f"{base}/api/v1/incidents/{incident_id}").json()
    assert feature["id"] == incident_id
    assert feature["properties"]["tlp"] == "AMBER"  # the node's default marking
    assert feature["geometry"] == {"type": "Point", "coordinates": [129.3, 34.2]}

    def deadletters() -> list[dict[str, object]]:
        body = httpx.get(f"{base}/api/v1/deadletters", timeout=2).json()
        return list(body["deadletters"])

    wait_for(lambda: len(deadletters()) == 1, 10, "the dead letter")
    [dead] = deadletters()
    assert dead["topic"] == "mdx/v1/in/ais1/position"
    assert str(dead["reason"]).startswith("not JSON")
