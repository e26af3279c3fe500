"""Each node's map shows exactly what its operators may see: KCG's map shows JCG's incidents
released to KCG, and never one JCG withheld from it, on first load and live."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import ARTEFACTS, sign_in
from tests.integration.federation import Network, build_network
from tests.integration.harness import wait_for
from tests.integration.test_federation import has_incident, incident, publish

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def net() -> Iterator[Network]:
    for network in build_network():
        network.start()
        yield network


def marker(incident_id: str) -> str:
    return f".leaflet-marker-pane [data-incident-id='{incident_id}']"


def test_kcg_map_never_shows_what_jcg_withheld_from_kcg(net: Network, browser: Any) -> None:
    jcg, kcg, uscg = net["jcg"], net["kcg"], net["uscg"]
    # Far apart, so neither hides in the other's cluster.
    for_kcg = incident(
        title="Released to KCG", location={"type": "Point", "coordinates": [129.2, 34.4]}
    )
    for_uscg = incident(
        title="For USCG only", location={"type": "Point", "coordinates": [141.0, 30.0]}
    )
    publish(jcg, "ops1", "incident", for_uscg, tlp="AMBER", relto=["uscg"])
    publish(jcg, "ops1", "incident", for_kcg, tlp="AMBER", relto=["kcg"])
    wait_for(lambda: has_incident(kcg, for_kcg["incident_id"]), 30, "the KCG item at KCG")
    wait_for(lambda: has_incident(uscg, for_uscg["incident_id"]), 30, "the USCG item at USCG")

    context = browser.new_context(viewport={"width": 1280, "height": 800})
    sign_in(context, kcg.api, kcg.db, kcg.id)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        page.goto(f"{kcg.api}/map/")
        page.wait_for_selector("body[data-ready='true']")
        page.wait_for_selector(marker(for_kcg["incident_id"]), timeout=10_000)
        # And live: a later item for USCG only never appears, one for KCG does.
        later_uscg = incident(
            title="Later, USCG only", location={"type": "Point", "coordinates": [142.0, 31.0]}
        )
        later_kcg = incident(
            title="Later, for KCG", location={"type": "Point", "coordinates": [128.0, 33.0]}
        )
        publish(jcg, "ops1", "incident", later_uscg, tlp="AMBER", relto=["uscg"])
        publish(jcg, "ops1", "incident", later_kcg, tlp="AMBER", relto=["kcg"])
        page.wait_for_selector(marker(later_kcg["incident_id"]), timeout=15_000)
        ARTEFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTEFACTS / "map-kcg-view.png"))
        shown = set(
            page.eval_on_selector_all(
                ".leaflet-marker-pane [data-incident-id]",
                "els => els.map(e => e.getAttribute('data-incident-id'))",
            )
        )
        assert for_uscg["incident_id"] not in shown
        assert later_uscg["incident_id"] not in shown
        assert {for_kcg["incident_id"], later_kcg["incident_id"]} <= shown
        assert errors == []
    finally:
        context.close()


def test_sar_assistance_requested_from_the_map_reaches_the_partner(
    net: Network, browser: Any
) -> None:
    jcg, kcg, uscg = net["jcg"], net["kcg"], net["uscg"]
    case = incident(
        category="sar",
        title="Liferaft sighted, 6 aboard",
        location={"type": "Point", "coordinates": [139.5, 33.1]},
    )
    publish(jcg, "ops1", "incident", case, tlp="GREEN", purpose="SAR")
    wait_for(lambda: has_incident(kcg, case["incident_id"]), 30, "the case at KCG")
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    sign_in(context, jcg.api, jcg.db, jcg.id)
    sign_in(context, kcg.api, kcg.db, kcg.id)  # one cookie per node: both stay signed in
    try:
        page = context.new_page()
        page.goto(f"{jcg.api}/map/")
        page.wait_for_selector(marker(case["incident_id"]), timeout=10_000)
        page.locator(marker(case["incident_id"])).click()
        page.locator("#sar-form select").select_option("uscg")
        page.locator("#sar-form input[name='text']").fill("Long-range aircraft for the search")
        page.locator("#sar-form button").click()
        page.wait_for_selector("#actions-message[data-ok='true']")
        wait_for(
            lambda: (
                uscg.scalar(
                    "SELECT count(*) FROM incident_events WHERE incident_id = %s AND kind = "
                    "'assistance-requested'",
                    case["incident_id"],
                )
                == 1
            ),
            30,
            "the request at USCG",
        )

        # At KCG the same case is JCG's: its map offers no status change.
        page.goto(f"{kcg.api}/map/")
        page.wait_for_selector(marker(case["incident_id"]), timeout=10_000)
        page.locator(marker(case["incident_id"])).click()
        page.wait_for_selector("#details-actions p")
        assert page.locator("#details-actions p").first.text_content() == (
            "Only the origin node (jcg) can change this incident."
        )
        assert page.locator("#status-form").count() == 0
        page.screenshot(path=str(ARTEFACTS / "map-kcg-partner-incident.png"))
    finally:
        context.close()
