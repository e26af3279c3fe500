"""Re-sharing along a chain: JCG and USCG have no link of their own; KCG passes JCG's items on
to USCG as JCG signed them, adding its link to the chain of custody, where JCG's markings
allow it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import login
from tests.integration.federation import Network, build_network
from tests.integration.harness import wait_for
from tests.integration.test_federation import has_incident, incident, publish

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def chain() -> Iterator[Network]:
    links = {frozenset(("jcg", "kcg")), frozenset(("kcg", "uscg"))}
    for network in build_network(links=links, reshare=True):
        network.start()
        yield network


def test_kcg_passes_jcg_items_on_to_uscg_only_where_the_markings_allow(chain: Network) -> None:
    jcg, kcg, uscg = chain["jcg"], chain["kcg"], chain["uscg"]
    cases: dict[str, tuple[dict[str, Any], dict[str, Any], bool]] = {
        "green": (incident(), {"tlp": "GREEN"}, True),
        "amber for both": (incident(), {"tlp": "AMBER", "relto": ["kcg", "uscg"]}, True),
        "amber for kcg": (incident(), {"tlp": "AMBER", "relto": ["kcg"]}, False),
        "green for a purpose": (
            incident(category="sar"),
            {"tlp": "GREEN", "purpose": "SAR"},
            False,
        ),
        # JCG redacts it for KCG (not registered for personal data) and signs what it sends:
        # what KCG passes on names no one.
        "green naming people": (
            incident(persons=[{"name": "Sato Hiroshi", "role": "master"}]),
            {"tlp": "GREEN"},
            True,
        ),
    }
    for data, markings, _ in cases.values():
        publish(jcg, "ops1", "incident", data, **markings)
    for name, (data, _, _) in cases.items():
        wait_for(lambda d=data: has_incident(kcg, d["incident_id"]), 30, f"{name} at KCG")
    # A last GREEN item: once USCG has it, KCG has forwarded everything before it.
    sentinel = incident()
    publish(jcg, "ops1", "incident", sentinel, tlp="GREEN")
    wait_for(lambda: has_incident(uscg, sentinel["incident_id"]), 30, "the sentinel at USCG")
    for name, (data, _, passed_on) in cases.items():
        assert has_incident(uscg, data["incident_id"]) == passed_on, name

    people = cases["green naming people"][0]["incident_id"]
    assert (
        uscg.scalar("SELECT data ? 'persons' FROM incidents WHERE incident_id = %s", people)
        is False
    )
    viewer = login(uscg.api, uscg.db, "viewer")
    url = f"{uscg.api}/api/v1/incidents/{cases['green'][0]['incident_id']}"
    feature = httpx.get(url, headers=viewer).json()
    provenance = feature["properties"]["provenance"]
    assert (provenance["origin"], provenance["received_via"]) == ("jcg", "kcg")
    assert provenance["signature_verified"] is True
    assert [(c["node"], c["from"], c["to"]) for c in provenance["custody"]] == [
        ("kcg", "jcg", "uscg")
    ]
    # And nothing goes back the way it came.
    assert kcg.scalar("SELECT count(*) FROM outbox WHERE recipient = 'jcg'") == 0
