"""The hostile corpus through a real Mosquitto into a real ingest and PostGIS, in one session.

Interleaved with good traffic: the ingest survives, stores every good message once, dead-letters
every bad one once with its reason, and keeps injection texts byte for byte.
"""

from __future__ import annotations

import base64
import random
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from mdx.core.settings import NodeSettings
from mdx.ingest.service import ANNOUNCED_PAYLOAD_BYTES
from tests.integration.harness import RawPublisher, ServiceProcess, scalar, wait_for
from tests.integration.test_ingest import subscribe, wait_until_online
from tests.security.corpus import Case, Dead, Stored, dead_cases, envelope, stored_cases

GOOD_POSITIONS = 200
GOOD_INCIDENTS = 20


@pytest.fixture
def ingest(node_settings: NodeSettings, tmp_path: Path) -> Iterator[ServiceProcess]:
    proc = ServiceProcess("ingest", node_settings, tmp_path)
    proc.start()
    wait_until_online(node_settings, proc)
    yield proc
    proc.stop()


def good_traffic() -> list[tuple[str, bytes]]:
    positions = [
        (
            "mdx/v1/in/ais1/position",
            orjson.dumps(
                envelope(
                    "position",
                    {
                        "mmsi": f"431{i:06d}",
                        "lat": 33.0 + i / 1000,
                        "lon": 129.0 + i / 1000,
                        "observed_at": "2026-11-25T08:00:00Z",
                        "source_type": "ais-terrestrial",
                    },
                    producer="ais1",
                )
            ),
        )
        for i in range(GOOD_POSITIONS)
    ]
    incidents = [
        (
            "mdx/v1/in/ops1/incident",
            orjson.dumps(
                envelope(
                    "incident",
                    {
                        "incident_id": f"00000000-0000-4000-8000-{i:012d}",
                        "version": 1,
                        "category": "sar",
                        "status": "reported",
                        "title": f"Good incident {i}",
                        "location": {"type": "Point", "coordinates": [130.0, 35.0]},
                        "observed_at": "2026-11-25T08:00:00Z",
                    },
                    producer="ops1",
                )
            ),
        )
        for i in range(GOOD_INCIDENTS)
    ]
    return positions + incidents


def test_the_hostile_corpus_is_dead_lettered_or_stored_verbatim_and_ingest_survives(
    node_settings: NodeSettings, ingest: ServiceProcess
) -> None:
    dead = dead_cases()
    stored = stored_cases()
    assert len({c.payload for c in dead}) == len(dead), "every bad payload must be unique"
    messages: list[tuple[str, bytes]] = [
        *good_traffic(),
        *((c.topic, c.payload) for c in [*dead, *stored]),
    ]
    random.Random(6).shuffle(messages)
    watcher, announced = subscribe(node_settings, "mdx/v1/deadletter/#")
    publisher = RawPublisher(node_settings.broker.host, node_settings.broker.port)
    assert publisher.publish_all(messages) == len(messages)

    url = node_settings.database.url
    n_incidents = GOOD_INCIDENTS + sum(
        1 for c in stored if isinstance(c.expect, Stored) and c.expect.table == "incidents"
    )

    def counts() -> tuple[int, int]:
        return (
            scalar(url, "SELECT count(*) FROM incidents")
            + scalar(url, "SELECT count(*) FROM positions"),
            scalar(url, "SELECT count(*) FROM dead_letters"),
        )

    want = (n_incidents + GOOD_POSITIONS, len(dead))
    wait_for(
        lambda: counts() == want,
        60,
        lambda: f"(stored, dead letters) {counts()} to become {want}; log:\n{ingest.log()[-3000:]}",
    )

    # Alive and still working: a message sent after the corpus is stored too.
    assert ingest.proc is not None and ingest.proc.poll() is None
    sentinel = _sentinel()
    publisher.publish_all([sentinel])
    publisher.close()
    wait_for(
        lambda: scalar(url, "SELECT count(*) FROM positions WHERE mmsi = '431999999'") == 1,
        20,
        lambda: f"the sentinel position after the corpus; log:\n{ingest.log()[-3000:]}",
    )
    assert counts() == (want[0] + 1, want[1])
    assert "Traceback" not in ingest.log()
    # Each dead letter is announced to its producer once, within the broker's packet limit.
    wait_for(lambda: len(announced) >= len(dead), 10, "an announcement of every dead letter")
    watcher.loop_stop()
    watcher.disconnect()
    assert len(announced) == len(dead)
    sizes = sorted(body["payload_size"] for _, body in announced)
    assert sizes == sorted(len(c.payload) for c in dead)
    largest = max((body for _, body in announced), key=lambda body: body["payload_size"])
    assert len(base64.b64decode(largest["payload_base64"])) == ANNOUNCED_PAYLOAD_BYTES

    failures = [f for c in dead if (f := _dead_letter_mismatch(url, c))]
    failures += [f for c in stored if (f := _stored_mismatch(url, c))]
    assert failures == []
    internal = "SELECT count(*) FROM dead_letters WHERE reason LIKE %s"
    assert scalar(url, internal, "%internal error%") == 0


def _dead_letter_mismatch(url: str, case: Case) -> str | None:
    assert isinstance(case.expect, Dead)
    rows = scalar(
        url,
        "SELECT array_agg(reason) FROM dead_letters WHERE topic = %s AND payload = %s",
        case.topic,
        case.payload,
    )
    if rows is None or len(rows) != 1:
        return f"{case.name}: {0 if rows is None else len(rows)} dead letters, want 1"
    reason: str = rows[0]
    expected = case.expect.reason
    ok = expected in reason if case.expect.anywhere else reason.startswith(expected)
    return None if ok else f"{case.name}: reason {reason[:300]!r} does not give {expected!r}"


def _stored_mismatch(url: str, case: Case) -> str | None:
    assert isinstance(case.expect, Stored)
    expect = case.expect
    for field, text in expect.texts.items():
        if expect.table == "incidents":
            got = scalar(
                url,
                "SELECT data->>%s FROM incidents WHERE incident_id = %s",
                field,
                expect.key,
            )
        else:
            got = scalar(url, "SELECT name FROM vessels WHERE mmsi = %s", expect.key)
        if got is None or got.encode() != text.encode():
            return f"{case.name}: {expect.table}.{field} is {got!r}, want {text!r}"
    return None


def _sentinel() -> tuple[str, bytes]:
    data = {
        "mmsi": "431999999",
        "lat": 34.0,
        "lon": 130.0,
        "observed_at": "2026-11-25T08:00:00Z",
        "source_type": "ais-terrestrial",
    }
    return "mdx/v1/in/ais1/position", orjson.dumps(envelope("position", data, producer="ais1"))
