"""The zones on the operator's map (zones.js) in Chromium against a running JCG node that loaded
the shipped zone files: its own zones of interest, its partners' areas of responsibility, the
layers control that switches them, and its labels in three languages."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.browser.conftest import ROOT, Node, Watched

OWN = {
    "jcg-aor": "aor",
    "jp-eez-sea-of-japan": "eez",
    "jp-eez-pacific": "eez",
    "jp-mpa-kerama": "mpa",
    "jp-kr-provisional-zone": "fishing_agreement",  # Japan is a party
}
PARTNERS = {"kcg-aor": "aor", "uscg-aor": "aor"}
LABELS = {
    "en": ("Own zones of interest", "Partner areas of responsibility"),
    "ja": ("自ノードの監視海域", "相手国の責任区域"),
    "ko": ("자국 관심 해역", "상대국 책임 구역"),
}
CONTROL = "#zones-control"


@pytest.fixture(scope="module", autouse=True)
def shipped_zones() -> Iterator[None]:
    """The node (started by the `node` fixture, after this) loads infra/zones wherever the
    tests run from."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MDX_ZONES__DIR", str(ROOT / "infra" / "zones"))
        yield


def open_map(w: Watched, node: Node) -> None:
    w.page.goto(f"{node.base}/map/")
    w.page.wait_for_selector("body[data-ready='true']")
    w.page.wait_for_selector(f"{CONTROL}[data-state='ready']")


def drawn(w: Watched, layer: str) -> dict[str, str]:
    """zone id -> kind of each zone path of one overlay on the page."""
    paths = w.page.locator(f".leaflet-overlay-pane path[data-zone-id][data-layer='{layer}']")
    return {
        p.get_attribute("data-zone-id") or "": p.get_attribute("data-kind") or ""
        for p in paths.all()
    }


def labels(w: Watched) -> list[str]:
    texts = w.page.locator(f"{CONTROL} .leaflet-control-layers-overlays label").all_text_contents()
    return [t.strip() for t in texts]


def test_jcg_map_shows_its_own_zones_and_the_partners_areas(watched: Watched, node: Node) -> None:
    open_map(watched, node)
    page = watched.page
    assert drawn(watched, "own") == OWN
    assert drawn(watched, "partners") == PARTNERS
    # Korea's own zones are KCG's business: not drawn at JCG.
    assert page.locator("[data-zone-id='kr-eez-east-sea']").count() == 0
    assert page.locator(CONTROL).get_attribute("data-own") == str(len(OWN))
    assert page.locator(CONTROL).get_attribute("data-partners") == str(len(PARTNERS))
    assert labels(watched) == list(LABELS["en"])
    # Dashed outlines, a colour per authority, a faint fill.
    jcg = page.locator("path[data-zone-id='jcg-aor']")
    kcg = page.locator("path[data-zone-id='kcg-aor']")
    assert jcg.get_attribute("stroke-dasharray") == "16 8"
    assert page.locator("path[data-zone-id='jp-mpa-kerama']").get_attribute("stroke-dasharray")
    assert jcg.get_attribute("stroke") != kcg.get_attribute("stroke")
    assert float(jcg.get_attribute("fill-opacity") or "1") < 0.2
    watched.screenshot("zones")
    assert watched.console_errors == []
    assert watched.foreign_requests() == []


def test_switching_the_partner_layer_off_and_on(watched: Watched, node: Node) -> None:
    open_map(watched, node)
    page = watched.page
    partner_paths = ".leaflet-overlay-pane path[data-layer='partners']"
    toggle = page.locator(f"{CONTROL} label", has_text=LABELS["en"][1]).locator("input")
    assert toggle.is_checked()
    toggle.uncheck()
    page.wait_for_selector(partner_paths, state="detached")
    assert drawn(watched, "partners") == {}
    assert drawn(watched, "own") == OWN  # the other overlay stays
    watched.screenshot("zones-partners-off")
    toggle.check()
    page.wait_for_selector(partner_paths, state="attached")
    assert drawn(watched, "partners") == PARTNERS  # tagged again when drawn again
    assert watched.console_errors == []


def test_the_layer_names_follow_the_language(watched: Watched, node: Node) -> None:
    open_map(watched, node)
    page = watched.page
    page.locator("#lang").select_option("ja")
    page.wait_for_function(
        "(want) => document.querySelector('#zones-control').textContent.includes(want)",
        arg=LABELS["ja"][0],
    )
    assert labels(watched) == list(LABELS["ja"])
    watched.screenshot("zones-japanese")
    page.locator("#lang").select_option("ko")
    page.wait_for_function(
        "(want) => document.querySelector('#zones-control').textContent.includes(want)",
        arg=LABELS["ko"][0],
    )
    assert labels(watched) == list(LABELS["ko"])
    # Relabelled, the overlays keep their state and their paths.
    assert drawn(watched, "partners") == PARTNERS
    page.locator("#lang").select_option("en")
    assert watched.console_errors == []


def test_a_zone_outline_tells_what_the_zone_is_and_its_inside_stays_the_map_s(
    watched: Watched, node: Node
) -> None:
    open_map(watched, node)
    page = watched.page
    # Inside the JP-KR zone, away from any outline: the map's own click (the report form).
    inside = page.evaluate(
        "() => { const p = window.mdxMap.latLngToContainerPoint([38.3, 133.6]); "
        "return [p.x, p.y]; }"
    )
    box = page.locator("#map").bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + inside[0], box["y"] + inside[1])
    page.locator("#report").wait_for(state="visible")
    assert page.locator(".zone-details").count() == 0

    # On the outline: the zone's details, as text.
    edge = page.evaluate(
        "() => { const m = window.mdxMap; const a = m.latLngToContainerPoint([39.6, 135.5]);"
        " const b = m.latLngToContainerPoint([39.6, 134.4]);"
        " return [(a.x + b.x) / 2, a.y]; }"
    )
    page.mouse.click(box["x"] + edge[0], box["y"] + edge[1])
    details = page.locator(".zone-details[data-zone-id='jp-kr-provisional-zone']")
    details.wait_for(state="visible")
    text = details.text_content() or ""
    assert "Japan-Korea provisional fishing zone" in text
    assert "JP, KR" in text and "not a legal boundary" in text
    page.wait_for_timeout(300)  # the popup's fade-in
    watched.screenshot("zones-details")
    assert watched.console_errors == []


def test_no_zones_no_control(watched: Watched, node: Node) -> None:
    """A page that cannot get the zones still works, without the control (a warning only)."""
    page = watched.page
    page.route("**/api/v1/zones", lambda route: route.fulfill(status=503, body="{}"))
    page.goto(f"{node.base}/map/")
    page.wait_for_selector("body[data-ready='true']")
    page.wait_for_timeout(500)
    assert page.locator(CONTROL).count() == 0
    # The failed request itself is logged by Chromium; nothing else is.
    assert [e for e in watched.console_errors if "503" not in e] == []
