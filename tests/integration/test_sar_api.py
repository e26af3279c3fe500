"""SAR coordination steps through the HTTP API: numbering and what a step may name."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fastapi.testclient import TestClient

from tests.integration.test_api import client, incident, post, schemas  # noqa: F401

INCIDENTS = "/api/v1/incidents"


def sitrep(api: TestClient, incident_id: str, n: int) -> dict[str, Any]:
    body = {"kind": "sitrep", "sitrep": {"identity": "FV Test", "situation": f"report {n}"}}
    r = api.post(f"{INCIDENTS}/{incident_id}/sar", json=body)
    assert r.status_code == 201, r.text
    result: dict[str, Any] = r.json()
    return result


def test_sitreps_sent_at_once_get_distinct_numbers(client: TestClient) -> None:  # noqa: F811
    case = post(client, incident(category="sar"))["id"]
    with ThreadPoolExecutor(max_workers=8) as pool:
        numbers = list(pool.map(lambda n: sitrep(client, case, n)["number"], range(8)))
    assert sorted(numbers) == list(range(1, 9))
    timeline = client.get(f"{INCIDENTS}/{case}/timeline").json()["timeline"]
    assert sorted(e["number"] for e in timeline if e["type"] == "sitrep") == list(range(1, 9))


def test_only_an_assistance_request_names_a_node(client: TestClient) -> None:  # noqa: F811
    case = post(client, incident(category="sar"))["id"]
    r = client.post(
        f"{INCIDENTS}/{case}/sar", json={"kind": "status", "status": "on scene", "to": "kcg"}
    )
    assert r.status_code == 422, r.text
    assert [e["path"] for e in r.json()["errors"]] == ["/to"]
    timeline = client.get(f"{INCIDENTS}/{case}/timeline").json()["timeline"]
    assert [e["type"] for e in timeline] == ["version"]  # nothing was stored
