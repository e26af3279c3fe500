"""SAR coordination from the map, on both sides of a link: KCG's operator asks JCG for
assistance on KCG's case; JCG's operator acknowledges, assigns an asset and files SITREP no. 1
(a SITREP without its situation shows the server's error under that field); KCG's map, left
open, shows JCG's steps once they have crossed the link."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.browser.conftest import SIGNED_IN, Watched, sign_in
from tests.conftest import login
from tests.integration.federation import Network, Node, build_network
from tests.integration.harness import wait_for
from tests.integration.test_federation import has_incident

pytestmark = pytest.mark.slow

# The map's timeline line: "<kind> (<node>) ..." (map.js, English).
ENTRY = re.compile(
    r"^(version \d+|assistance requested|acknowledged|asset assigned|status|SITREP) \((\w+)\)"
)
# Japanese takes full-width parentheses around a Latin abbreviation.
SITREP_2_JA = "状況報告（SITREP）第2報"  # noqa: RUF001
LINK_S = 60  # generous: a step crosses a bridge and a share service before it shows


@pytest.fixture(scope="module")
def net() -> Iterator[Network]:
    for network in build_network():
        network.start()
        yield network


def open_map(browser: Any, node: Node) -> Watched:
    context = browser.new_context(viewport={"width": 1280, "height": 1000}, locale="en-GB")
    sign_in(context, node.api, node.db, node.id)
    page = context.new_page()
    w = Watched(page)
    page.on("request", lambda r: w.requests.append(r.url))
    page.on("console", lambda m: w.console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: w.console_errors.append(f"uncaught: {e}"))
    page.set_default_timeout(10_000)
    page.goto(f"{node.api}/map/")
    page.wait_for_selector("body[data-ready='true']")
    return w


def open_incident(w: Watched, incident_id: str) -> None:
    marker = f".leaflet-marker-pane [data-incident-id='{incident_id}']"
    w.page.wait_for_selector(marker, timeout=15_000)
    w.page.locator(marker).click()
    w.page.wait_for_selector(f"#details[data-incident-id='{incident_id}']")
    w.page.wait_for_selector("#details-actions h3")


def timeline(w: Watched) -> list[str]:
    return [
        s.strip()
        for s in w.page.eval_on_selector_all(
            "#details-timeline li span", "els => els.map(e => e.textContent)"
        )
    ]


def kinds(w: Watched) -> Counter[tuple[str, str]]:
    """(kind, node) of each timeline entry the map shows; every entry must parse."""
    out: Counter[tuple[str, str]] = Counter()
    for line in timeline(w):
        m = ENTRY.match(line)
        assert m, f"unexpected timeline line {line!r}"
        kind = "version" if m.group(1).startswith("version ") else m.group(1)
        out[(kind, m.group(2))] += 1
    return out


def wait_for_entry(w: Watched, pattern: str, timeout: float = 10_000) -> None:
    """Until a timeline line matches `pattern` (a JS regular expression)."""
    w.page.wait_for_function(
        """(pattern) => [...document.querySelectorAll('#details-timeline li span')]
             .some((s) => new RegExp(pattern).test(s.textContent.trim()))""",
        arg=pattern,
        timeout=timeout,
    )


def steps(node: Node, incident_id: str) -> list[tuple[str, str, int | None]]:
    url = f"{node.api}/api/v1/incidents/{incident_id}/timeline"
    if node.api not in SIGNED_IN:  # before a map of that node signed in
        SIGNED_IN[node.api] = login(node.api, node.db)
    entries = httpx.get(url, headers=SIGNED_IN[node.api]).json()["timeline"]
    return [(e["type"], e["by"], e.get("version") or e.get("number")) for e in entries]


def test_jcg_assists_on_kcgs_sar_case_and_kcg_follows_it(net: Network, browser: Any) -> None:
    jcg, kcg, uscg = net["jcg"], net["kcg"], net["uscg"]
    created = httpx.post(
        f"{kcg.api}/api/v1/incidents",
        headers=login(kcg.api, kcg.db),
        params={"tlp": "GREEN", "purpose": "SAR"},
        json={
            "category": "sar",
            "status": "reported",
            "severity": "Severe",
            "title": "Fishing vessel capsized, 9 crew",
            "location": {"type": "Point", "coordinates": [129.8, 34.6]},
            "observed_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        },
    )
    assert created.status_code == 201, created.text
    case = created.json()["id"]
    wait_for(
        lambda: has_incident(jcg, case) and has_incident(uscg, case),
        LINK_S,
        "the case at JCG and USCG",
    )

    # KCG, the origin, asks JCG for assistance from its map.
    at_kcg = open_map(browser, kcg)
    at_jcg: Watched | None = None
    at_uscg: Watched | None = None
    try:
        open_incident(at_kcg, case)
        page = at_kcg.page
        # The forms come once the panel knows who is signed in: wait for one that must show.
        page.locator("#sar-status-form").wait_for(state="visible")  # the origin reports
        assert page.locator("#sar-ack-form").count() == 0  # but does not acknowledge
        assert page.locator("#sar-asset-form").count() == 0
        assert page.locator("#sar-sitrep-form h5").text_content() == "SITREP no. 1"
        page.locator("#sar-form select").select_option("jcg")
        page.locator("#sar-form input[name='text']").fill("Patrol vessel and helicopter, please")
        page.locator("#sar-form button").click()
        page.wait_for_selector("#actions-message[data-ok='true']")
        wait_for_entry(at_kcg, r"^assistance requested \(kcg\) → jcg")
        wait_for(
            lambda: any(s[0] == "assistance-requested" for s in steps(jcg, case)),
            LINK_S,
            "the request at JCG",
        )

        # JCG, asked: its map offers what an assisting node does.
        at_jcg = open_map(browser, jcg)
        open_incident(at_jcg, case)
        page = at_jcg.page
        wait_for_entry(at_jcg, r"^assistance requested \(kcg\) → jcg Patrol vessel")
        page.locator("#sar-coordination").wait_for(state="visible")
        assert page.locator("#sar-coordination p.note").text_content() == (
            "Assistance requested by kcg from this node (jcg)."
        )
        assert page.locator("#details-actions p").first.text_content() == (
            "Only the origin node (kcg) can change this incident."
        )
        assert page.locator("#status-form").count() == 0
        ack = page.locator("#sar-ack-form button")
        assert ack.text_content() == "Acknowledge" and ack.is_enabled()
        ack.click()
        page.wait_for_selector("#sar-ack-form-message[data-ok='true']")
        wait_for_entry(at_jcg, r"^acknowledged \(jcg\)")
        assert ack.text_content() == "Acknowledged" and ack.is_disabled()

        form = page.locator("#sar-asset-form")
        form.locator("input[name='name']").fill("PLH-32 Akitsushima")
        form.locator("select[name='type']").select_option("vessel")
        form.locator("input[name='call_sign']").fill("JPAK")
        form.locator("button").click()
        page.wait_for_selector("#sar-asset-form-message[data-ok='true']")
        wait_for_entry(at_jcg, r"^asset assigned \(jcg\) PLH-32 Akitsushima")

        # A SITREP without its situation: the server's reason, under that field.
        form = page.locator("#sar-sitrep-form")
        assert form.locator("h5").text_content() == "SITREP no. 1"
        assert form.locator("input[name='at_incident']").is_checked()
        form.locator("input[name='identity']").fill("FV Haeyang 7, 9 crew")
        form.locator("input[name='persons_at_risk']").fill("9")
        form.locator("input[name='coordinating_centre']").fill("Busan RCC")
        form.locator("button").click()
        page.wait_for_selector("#sar-sitrep-form-message[data-ok='false']")
        refused = httpx.post(
            f"{jcg.api}/api/v1/incidents/{case}/sar",
            headers=SIGNED_IN[jcg.api],
            json={"kind": "sitrep", "sitrep": {"identity": "FV Haeyang 7", "situation": ""}},
        )
        assert refused.status_code == 422
        [expected] = [e["message"] for e in refused.json()["errors"]]
        slot = form.locator("[data-error-for='/sitrep/situation']")
        assert slot.text_content() == expected
        assert form.locator("textarea[name='situation']").get_attribute("aria-invalid") == "true"
        others = form.locator(".field-error:not([data-error-for='/sitrep/situation'])")
        assert [e for e in others.all_text_contents() if e] == []
        assert form.locator("#sar-sitrep-form-message").text_content() == refused.json()["detail"]
        at_jcg.screenshot("sar-jcg-sitrep-error")

        form.locator("textarea[name='situation']").fill(
            "Hull inverted; 6 crew on the keel, 3 in the water. PLH-32 on scene 0930."
        )
        form.locator("button").click()
        page.wait_for_selector("#sar-sitrep-form-message[data-ok='true']")
        assert form.locator("#sar-sitrep-form-message").text_content() == "SITREP no. 1 filed."
        assert form.locator(".field-error:not(:empty)").count() == 0
        wait_for_entry(at_jcg, r"^SITREP \(jcg\) #1")
        assert form.locator("h5").text_content() == "SITREP no. 2"
        at_jcg.screenshot("sar-jcg-assisting")

        expected_entries = Counter(
            {
                ("version", "kcg"): 1,
                ("assistance requested", "kcg"): 1,
                ("acknowledged", "jcg"): 1,
                ("asset assigned", "jcg"): 1,
                ("SITREP", "jcg"): 1,
            }
        )
        assert kinds(at_jcg) == expected_entries

        # In Japanese and Korean, the operators' own terms.
        page.locator("#lang").select_option("ja")
        page.wait_for_selector(f"#sar-sitrep-form h5:text-is('{SITREP_2_JA}')")
        assert ack.text_content() == "受領確認済み" and ack.is_disabled()
        at_jcg.screenshot("sar-jcg-assisting-ja")
        page.locator("#lang").select_option("ko")
        page.wait_for_selector("#sar-sitrep-form h5:text-is('상황 보고(SITREP) 제2보')")
        assert ack.text_content() == "접수 확인됨"
        page.locator("#lang").select_option("en")

        # USCG sees the case but was not asked: nothing to acknowledge there.
        at_uscg = open_map(browser, uscg)
        open_incident(at_uscg, case)
        at_uscg.page.wait_for_selector("#sar-coordination", state="attached")
        assert at_uscg.page.locator("#sar-coordination").is_hidden()

        # KCG's map, open all along, shows JCG's steps once they have crossed the link.
        wait_for_entry(at_kcg, r"^SITREP \(jcg\) #1", timeout=LINK_S * 1000)
        wait_for_entry(at_kcg, r"^acknowledged \(jcg\)", timeout=LINK_S * 1000)
        wait_for_entry(at_kcg, r"^asset assigned \(jcg\)", timeout=LINK_S * 1000)
        at_kcg.screenshot("sar-kcg-follows")
        assert kinds(at_kcg) == expected_entries
        in_order = [
            ("version", "kcg", 1),
            ("assistance-requested", "kcg", None),
            ("acknowledged", "jcg", None),
            ("asset-assigned", "jcg", None),
            ("sitrep", "jcg", 1),
        ]
        assert steps(kcg, case) == in_order
        assert steps(jcg, case) == in_order

        # The only console error: Chromium's note of the one refused SITREP (422).
        assert at_kcg.console_errors == []
        assert at_jcg.console_errors == [
            "Failed to load resource: the server responded with a status of 422 "
            "(Unprocessable Entity)"
        ]
        assert at_uscg.console_errors == []
        for w in (at_kcg, at_jcg, at_uscg):
            assert w.foreign_requests() == []
    finally:
        for w in (at_kcg, at_jcg, at_uscg):
            if w is not None:
                w.page.context.close()
