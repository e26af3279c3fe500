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
from mdx.core.mqtt import secret_path
from tests.conftest import login
from tests.integration.harness import RunningNode, running_node, wait_for


@pytest.fixture
def node(db: str, broker_dir: Path, tmp_path: Path) -> Iterator[RunningNode]:
    with running_node(db, broker_dir, tmp_path, default_tlp="AMBER") as n:
        yield n


def mosquitto_pub(node: RunningNode, topic: str, payload: bytes) -> None:
    """As the topic's producer, with the password the node generated for it."""
    producer = topic.split("/")[3]
    password = secret_path(node.security_dir, producer).read_text().strip()
    where = ["-p", str(node.broker_port), "-u", producer, "-P", password]
    subprocess.run(
        ["mosquitto_pub", *where, "-V", "5", "-q", "1", "-t", topic, "-s"],
        input=payload,
        check=True,
    )


def test_published_reports_reach_the_api(node: RunningNode, db: str) -> None:
    base = node.base
    viewer = login(base, db, "viewer")
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
    mosquitto_pub(node, "mdx/v1/in/ops1/incident", orjson.dumps(incident))
    mosquitto_pub(node, "mdx/v1/in/ais1/position", orjson.dumps(position))
    mosquitto_pub(node, "mdx/v1/in/ais1/position", b'{"specversion": "1.0"')

    def status(path: str) -> int:
        return httpx.get(base + path, headers=viewer, timeout=2).status_code

    wait_for(lambda: status(f"/api/v1/incidents/{incident_id}") == 200, 10, "the incident")
    wait_for(lambda: status("/api/v1/vessels/440123456") == 200, 10, "the vessel")
    feature = httpx.get(f"{base}/api/v1/incidents/{incident_id}", headers=viewer).json()
    assert feature["id"] == incident_id
    assert feature["properties"]["tlp"] == "AMBER"  # the node's default marking
    assert feature["geometry"] == {"type": "Point", "coordinates": [129.3, 34.2]}

    def deadletters() -> list[dict[str, object]]:
        body = httpx.get(f"{base}/api/v1/deadletters", headers=viewer, timeout=2).json()
        return list(body["deadletters"])

    wait_for(lambda: len(deadletters()) == 1, 10, "the dead letter")
    [dead] = deadletters()
    assert dead["topic"] == "mdx/v1/in/ais1/position"
    assert str(dead["reason"]).startswith("not JSON")
