"""Text from the wire is shown as text: incident titles, descriptions and vessel names that
carry HTML run no script on the operator's map and appear literally."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import orjson

from mdx.core import mqtt
from mdx.core.envelope import make_envelope
from tests.browser.conftest import Node, Watched
from tests.browser.test_map import marker, open_map, vessel
from tests.integration.harness import RawPublisher, scalar, wait_for

IMG = "<img src=x onerror=window.__xss=1>"
SCRIPT = "<script>window.__xss=2</script>"
HOSTILE_MMSI = ("440000911", "440000912")


def now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def publish(node: Node, producer: str, kind: str, data: dict[str, Any]) -> None:
    """Publish as the node's producer `producer`, with the password the demo node made it."""
    password = mqtt.secret_path(node.security_dir, producer).read_text().strip()
    publisher = RawPublisher(
        "127.0.0.1", node.broker_port, f"test-{producer}", mqtt.Credentials(producer, password)
    )
    envelope = make_envelope("jcg", producer, f"mdx.{kind}.v1", data)
    publisher.publish_all([(f"mdx/v1/in/{producer}/{kind}", orjson.dumps(envelope))])
    publisher.close()


def publish_vessel(node: Node, mmsi: str, name: str) -> None:
    """A registry report naming the vessel, then a position that puts it on the map."""
    static = {"mmsi": mmsi, "name": name, "observed_at": now(), "source_type": "registry"}
    position = {
        "mmsi": mmsi,
        # Well clear of the incident's marker (which would take the click) and of each other.
        "lat": 36.5,
        "lon": 131.0 + int(mmsi[-1]),
        "observed_at": now(),
        "source_type": "ais-terrestrial",
    }
    publish(node, "ais1", "vessel", static)
    publish(node, "ais1", "position", position)


def assert_no_script_ran(w: Watched) -> None:
    page = w.page
    assert page.evaluate("typeof window.__xss") == "undefined"
    # Nothing from the data became an element: no <img src=x>, no script holding its text.
    assert page.locator("img[src='x']").count() == 0
    assert (
        page.evaluate("[...document.scripts].filter((s) => s.text.includes('__xss')).length") == 0
    )


def test_html_in_titles_descriptions_and_vessel_names_is_shown_as_text(
    watched: Watched, node: Node, database_url: str
) -> None:
    page = watched.page
    incident_id = str(uuid.uuid4())
    incident = {
        "incident_id": incident_id,
        "version": 1,
        "category": "iuu_fishing",
        "status": "reported",
        "title": IMG,
        "description": SCRIPT,
        "vessels": [{"mmsi": HOSTILE_MMSI[0], "name": SCRIPT + IMG, "role": "suspect"}],
        "location": {"type": "Point", "coordinates": [129.05, 34.15]},
        "observed_at": now(),
    }
    publish(node, "ops1", "incident", incident)
    for mmsi, name in zip(HOSTILE_MMSI, (IMG, SCRIPT), strict=True):
        publish_vessel(node, mmsi, name)

    # Stored (named, and with a position) before the map opens: the first picture has them.
    ready = (
        "SELECT count(*) FROM vessels JOIN vessel_latest USING (mmsi)"
        " WHERE mmsi = ANY(%s) AND vessels.name IS NOT NULL"
    )
    wait_for(
        lambda: scalar(database_url, ready, list(HOSTILE_MMSI)) == 2, 10, "both vessels stored"
    )
    open_map(watched, node)
    page.wait_for_selector(marker(incident_id))
    assert page.locator(marker(incident_id)).get_attribute("title") == IMG

    page.locator(marker(incident_id)).click()
    page.wait_for_selector(f"#details[data-incident-id='{incident_id}']")
    assert page.locator("#details-title").text_content() == IMG
    assert page.locator("#details [data-field='description']").text_content() == SCRIPT
    vessels_listed = page.locator("#details-vessels li").first.text_content() or ""
    assert vessels_listed.startswith(SCRIPT + IMG + " · MMSI " + HOSTILE_MMSI[0])
    assert_no_script_ran(watched)
    page.locator("#details-close").click()

    for mmsi, name in zip(HOSTILE_MMSI, (IMG, SCRIPT), strict=True):
        arrow = page.locator(vessel(mmsi))
        arrow.wait_for()
        # The vessel's hover label (an SVG <title>) holds the name as text.
        assert arrow.locator("title").text_content() == f"{name} ({mmsi})"
        arrow.click()
        page.wait_for_selector(f"#vessel[data-mmsi='{mmsi}']")
        assert page.locator("#vessel-title").text_content() == name
        assert page.locator("#vessel [data-field='name']").text_content() == name
    watched.screenshot("escaped-text")
    assert_no_script_ran(watched)
    assert watched.console_errors == []
