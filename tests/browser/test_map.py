"""The operator's map (/map/) in Chromium against a running node: offline, live, filterable,
with details, a report form that shows the server's rule violations, and three languages."""

from __future__ import annotations

import re
import subprocess
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson

from mdx.core.envelope import make_envelope
from mdx.core.mqtt import secret_path
from tests.browser.conftest import SIGNED_IN, Node, Watched
from tests.integration.harness import wait_for

LIVE_WITHIN_MS = 5_000


def mosquitto_pub(node: Node, topic: str, payload: bytes) -> None:
    """As the topic's producer (ops1 or ais1), with the password the node generated for it."""
    producer = topic.split("/")[3]
    password = secret_path(node.security_dir, producer).read_text().strip()
    auth = ["-u", producer, "-P", password]
    args = ["-p", str(node.broker_port), *auth, "-V", "5", "-q", "1", "-t", topic, "-s"]
    subprocess.run(["mosquitto_pub", *args], input=payload, check=True)


def publish_incident(node: Node, **data: Any) -> str:
    incident_id = str(uuid.uuid4())
    body = {
        "incident_id": incident_id,
        "version": 1,
        "category": "sar",
        "status": "reported",
        "title": "Fishing vessel taking on water",
        "observed_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "location": {"type": "Point", "coordinates": [129.3, 34.2]},
        **data,
    }
    envelope = make_envelope("jcg", "ops1", "mdx.incident.v1", body)
    mosquitto_pub(node, "mdx/v1/in/ops1/incident", orjson.dumps(envelope))
    return incident_id


def publish_position(node: Node, mmsi: str, lon: float, lat: float, heading: int) -> None:
    data = {
        "mmsi": mmsi,
        "lat": lat,
        "lon": lon,
        "sog": 9.5,
        "cog": heading,
        "heading": heading,
        "observed_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "source_type": "ais-terrestrial",
    }
    envelope = make_envelope("jcg", "ais1", "mdx.position.v1", data)
    mosquitto_pub(node, "mdx/v1/in/ais1/position", orjson.dumps(envelope))


def open_map(w: Watched, node: Node, query: str = "") -> None:
    w.page.goto(f"{node.base}/map/{query}")
    w.page.wait_for_selector("body[data-ready='true']")
    # The offline basemap is drawn: many country outlines, no tile images.
    w.page.wait_for_function("document.querySelectorAll('.leaflet-basemap-pane path').length > 100")


def vessel(mmsi: str) -> str:
    return f".leaflet-vessels-pane path.vessel[data-mmsi='{mmsi}']"


def marker(incident_id: str) -> str:
    return f".leaflet-marker-pane [data-incident-id='{incident_id}']"


def test_loads_offline_with_no_console_errors(watched: Watched, node: Node) -> None:
    open_map(watched, node)
    watched.page.wait_for_timeout(1_500)  # a polling round and the partners panel
    watched.screenshot("loaded")
    assert watched.console_errors == []
    assert watched.requests, "the page made no requests at all"
    assert watched.foreign_requests() == []
    assert watched.page.locator("#partners-note").text_content() == (
        "No partners are configured on this node."
    )


def test_incident_appears_live_and_a_category_filter_hides_it(watched: Watched, node: Node) -> None:
    open_map(watched, node)
    page = watched.page
    incident_id = publish_incident(node, category="piracy_robbery", title="Armed boarding")
    page.wait_for_selector(marker(incident_id), timeout=LIVE_WITHIN_MS)
    watched.screenshot("live-incident")
    assert page.locator(marker(incident_id)).get_attribute("data-category") == "piracy_robbery"

    page.locator("#filter-category input[value='piracy_robbery']").uncheck()
    page.wait_for_selector(marker(incident_id), state="detached")
    watched.screenshot("filtered")
    page.locator("#filter-category input[value='piracy_robbery']").check()
    page.wait_for_selector(marker(incident_id))
    assert watched.console_errors == []
    assert watched.foreign_requests() == []


def test_vessels_appear_live_with_their_heading(watched: Watched, node: Node) -> None:
    open_map(watched, node)
    page = watched.page
    assert page.locator("#live-state").get_attribute("data-mode") == "stream"
    publish_position(node, "440123456", 130.1, 35.6, 90)
    arrow = page.locator(vessel("440123456"))
    arrow.wait_for(timeout=LIVE_WITHIN_MS)
    assert arrow.get_attribute("data-heading") == "90"
    # Drawn pointing east: the arrow's tip (its first point) lies east of the rest.
    xs = [float(n) for n in re.findall(r"[ML]([-\d.]+) ", arrow.get_attribute("d") or "")]
    assert len(xs) == 4 and xs[0] == max(xs) and xs[0] - min(xs) >= 12
    watched.screenshot("vessel")
    assert watched.console_errors == []


def test_polling_fallback_shows_new_incidents_too(watched: Watched, node: Node) -> None:
    open_map(watched, node, "?live=poll")
    page = watched.page
    assert page.locator("#live-state").get_attribute("data-mode") == "polling"
    incident_id = publish_incident(
        node,
        category="smuggling",
        title="Fast boat, no lights",
        location={"type": "Point", "coordinates": [136.5, 41.0]},  # apart: not in a cluster
    )
    page.wait_for_selector(marker(incident_id), timeout=LIVE_WITHIN_MS)
    assert watched.console_errors == []


def test_clicking_an_incident_shows_its_details(watched: Watched, node: Node) -> None:
    incident_id = publish_incident(
        node,
        category="pollution",
        title="Oil sheen north of Tsushima",
        location={"type": "Point", "coordinates": [133.0, 38.5]},
        severity="Moderate",
    )
    open_map(watched, node)
    page = watched.page
    page.wait_for_selector(marker(incident_id), timeout=LIVE_WITHIN_MS)
    page.locator(marker(incident_id)).click()
    details = page.locator("#details")
    details.wait_for(state="visible")
    assert page.locator("#details-title").text_content() == "Oil sheen north of Tsushima"
    assert page.locator("#details [data-field='origin']").text_content() == "jcg"
    assert page.locator("#details [data-field='severity']").text_content() == "Moderate"
    assert page.locator("#details [data-field='tlp']").text_content() == "GREEN"
    # The timeline from /timeline: version 1, reported.
    page.wait_for_selector("#details-timeline li time")
    assert "1" in (page.locator("#details-timeline li").first.text_content() or "")
    watched.screenshot("details")
    assert watched.console_errors == []


def test_report_form_shows_the_servers_error_next_to_the_field(
    watched: Watched, node: Node
) -> None:
    open_map(watched, node)
    page = watched.page
    box = page.locator("#map").bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + 120, box["y"] + box["height"] - 120)  # open sea, no marker
    page.locator("#report").wait_for(state="visible")
    page.locator("#report-title").fill("")
    page.locator("#report-form button[type='submit']").click()
    page.wait_for_selector("#err-title:not(:empty)")
    watched.screenshot("report-error")

    # The message shown is the server's own, for /title.
    answer = httpx.post(
        f"{node.base}/api/v1/incidents",
        headers=SIGNED_IN[node.base],
        json={
            "category": "sar",
            "status": "reported",
            "title": "",
            "location": {"type": "Point", "coordinates": [130, 35]},
            "observed_at": "2026-11-25T08:00:00Z",
        },
    )
    assert answer.status_code == 422
    [expected] = [e["message"] for e in answer.json()["errors"] if e.get("path") == "/title"]
    assert page.locator("#err-title").text_content() == expected
    assert page.locator("#report-title").get_attribute("aria-invalid") == "true"

    # Fixed, the same form reports the incident and the map shows it.
    page.locator("#report-title").fill("Drifting container")
    page.locator("#report-form button[type='submit']").click()
    page.locator("#details").wait_for(state="visible")
    assert page.locator("#details-title").text_content() == "Drifting container"
    incident_id = page.locator("#details").get_attribute("data-incident-id")
    url = f"{node.base}/api/v1/incidents/{incident_id}"
    assert incident_id and httpx.get(url, headers=SIGNED_IN[node.base]).is_success
    assert page.locator(marker(incident_id)).count() == 1
    assert watched.foreign_requests() == []


def test_switching_to_japanese_and_korean(watched: Watched, node: Node) -> None:
    open_map(watched, node)
    page = watched.page
    assert page.locator("#filters h2").text_content() == "Filters"
    page.locator("#lang").select_option("ja")
    assert page.locator("#filters h2").text_content() == "絞り込み"
    assert page.locator("#partners h2").text_content() == "連携先との接続"
    assert page.locator("html").get_attribute("lang") == "ja"
    watched.screenshot("japanese")
    page.locator("#lang").select_option("ko")
    assert page.locator("#filters h2").text_content() == "필터"
    page.reload()  # the choice is remembered
    page.wait_for_selector("body[data-ready='true']")
    assert page.locator("#filters h2").text_content() == "필터"
    assert watched.console_errors == []


def stamp(ago: timedelta) -> str:
    return (datetime.now(UTC) - ago).isoformat().replace("+00:00", "Z")


def wait_until_stored(node: Node, path: str, ready: Callable[[dict[str, Any]], bool]) -> None:
    def stored() -> bool:
        r = httpx.get(f"{node.base}{path}", headers=SIGNED_IN[node.base], timeout=2)
        return r.status_code == 200 and ready(r.json())

    wait_for(stored, 10, lambda: f"{path} never had the data")


def test_vessels_stored_before_the_page_opens_are_drawn(watched: Watched, node: Node) -> None:
    publish_position(node, "431000101", 141.5, 39.5, 180)
    wait_until_stored(node, "/api/v1/vessels/431000101", lambda _: True)
    open_map(watched, node)
    page = watched.page
    assert page.locator(vessel("431000101")).count() == 1  # drawn with the first picture
    assert int(page.locator("#vessel-count").text_content() or "0") >= 1
    watched.screenshot("vessels-at-load")
    assert watched.console_errors == []


def test_clicking_a_vessel_draws_its_track_and_shows_it(watched: Watched, node: Node) -> None:
    for lon in (127.0, 127.2, 127.4):
        publish_position(node, "440000201", lon, 31.5, 90)
    publish_position(node, "440000202", 144.0, 33.0, 0)
    wait_until_stored(
        node,
        "/api/v1/vessels/440000201/track",
        lambda f: len(f["properties"]["times"]) == 3,
    )
    wait_until_stored(node, "/api/v1/vessels/440000202", lambda _: True)
    open_map(watched, node)
    page = watched.page
    tracks = ".leaflet-overlay-pane path.track"
    assert page.locator(tracks).count() == 0

    page.locator(vessel("440000201")).click()
    page.wait_for_selector(f"{tracks}[data-mmsi='440000201']", state="attached")
    assert page.locator(tracks).get_attribute("data-points") == "3"
    panel = page.locator("#vessel")
    panel.wait_for(state="visible")
    assert page.locator("#vessel [data-field='mmsi']").text_content() == "440000201"
    assert page.locator("#vessel [data-field='sog']").text_content() == "9.5 kn"
    assert page.locator("#vessel [data-field='cog']").text_content() == "90°"
    assert page.locator("#vessel [data-field='last_seen']").text_content() != "—"
    watched.screenshot("vessel-track")

    # One selected track at a time.
    page.locator(vessel("440000202")).click()
    page.wait_for_selector(f"{tracks}[data-mmsi='440000202']", state="attached")
    assert page.locator(tracks).count() == 1
    assert page.locator("#vessel [data-field='mmsi']").text_content() == "440000202"
    page.locator("#vessel-close").click()
    page.wait_for_selector(tracks, state="detached")
    assert watched.console_errors == []


def test_time_window_hides_what_was_observed_before_it(watched: Watched, node: Node) -> None:
    old = publish_incident(
        node,
        title="Seen three hours ago",
        observed_at=stamp(timedelta(hours=3)),
        location={"type": "Point", "coordinates": [124.5, 31.0]},
    )
    new = publish_incident(
        node, title="Seen now", location={"type": "Point", "coordinates": [138.5, 30.0]}
    )
    wait_until_stored(node, f"/api/v1/incidents/{old}", lambda _: True)
    wait_until_stored(node, f"/api/v1/incidents/{new}", lambda _: True)
    open_map(watched, node)
    page = watched.page
    page.wait_for_selector(marker(old))
    page.wait_for_selector(marker(new))

    page.locator("#filter-window").select_option("3600000")  # last hour
    page.wait_for_selector(marker(old), state="detached")
    assert page.locator(marker(new)).count() == 1
    watched.screenshot("window-1h")
    page.locator("#filter-window").select_option("0")  # any time
    page.wait_for_selector(marker(old))
    assert watched.console_errors == []


def test_replay_slider_shows_the_picture_of_that_moment(watched: Watched, node: Node) -> None:
    recent = publish_incident(
        node,
        title="Seen an hour ago",
        observed_at=stamp(timedelta(hours=1)),
        location={"type": "Point", "coordinates": [134.5, 27.5]},
    )
    earlier = publish_incident(
        node,
        title="Seen five hours ago",
        observed_at=stamp(timedelta(hours=5)),
        location={"type": "Point", "coordinates": [121.0, 40.0]},
    )
    wait_until_stored(node, f"/api/v1/incidents/{recent}", lambda _: True)
    wait_until_stored(node, f"/api/v1/incidents/{earlier}", lambda _: True)
    open_map(watched, node)
    page = watched.page
    page.wait_for_selector(marker(recent))
    assert page.locator("#time").get_attribute("data-replay") == "live"

    page.locator("#replay").fill("-120")  # two hours ago
    page.wait_for_selector(marker(recent), state="detached")
    assert page.locator(marker(earlier)).count() == 1
    assert page.locator("#time").get_attribute("data-replay") == "-120"
    watched.screenshot("replay-2h")

    page.locator("#replay-live").click()
    page.wait_for_selector(marker(recent))
    assert page.locator("#time").get_attribute("data-replay") == "live"
    assert watched.console_errors == []


def test_status_update_from_the_details_panel_raises_the_version(
    watched: Watched, node: Node
) -> None:
    incident_id = publish_incident(
        node,
        title="Engine failure, drifting",
        location={"type": "Point", "coordinates": [131.5, 37.2]},
    )
    open_map(watched, node)
    page = watched.page
    page.wait_for_selector(marker(incident_id), timeout=LIVE_WITHIN_MS)
    page.locator(marker(incident_id)).click()
    page.locator("#status-form select").select_option("responding")
    page.locator("#status-form button").click()
    page.wait_for_selector("#actions-message[data-ok='true']")
    url = f"{node.base}/api/v1/incidents/{incident_id}"
    stored = httpx.get(url, headers=SIGNED_IN[node.base]).json()["properties"]
    assert (stored["version"], stored["status"]) == (2, "responding")
    watched.screenshot("status-updated")
    assert watched.console_errors == []
