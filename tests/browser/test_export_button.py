"""The map's download links (export.js) in Chromium against a running node: each file holds what
the map's filters show (categories, statuses, time window), opens in its reader (orjson, the csv
module, GDAL's KML driver), and the panel speaks the page's language."""

from __future__ import annotations

import csv
import io
import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.browser.conftest import SIGNED_IN, Node, Watched
from tests.browser.test_map import open_map, publish_position
from tests.integration.harness import wait_for

NOW = datetime.now(UTC)
# (category, status, minutes ago) of each incident the node holds.
SEEDED = [
    ("sar", "reported", 10),
    ("sar", "reported", 12),
    ("sar", "responding", 14),
    ("sar", "resolved", 16),
    ("pollution", "reported", 18),
    ("pollution", "reported", 20),
    ("sar", "reported", 180),  # outside "last hour"
    ("iuu_fishing", "reported", 200),
]
VESSELS = {"431000101": 131.0, "431000102": 131.5}


def iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


@pytest.fixture(scope="module")
def seeded(node: Node, database_url: str) -> Iterator[dict[str, tuple[str, str, int]]]:
    """The incidents above, reported through the API by the node's operator; id -> its row."""
    from tests.conftest import login

    header = login(node.base, database_url)
    ids = {}
    with httpx.Client(base_url=node.base, headers=header) as api:
        for i, (category, status, ago) in enumerate(SEEDED):
            data = {
                "incident_id": str(uuid.uuid4()),
                "version": 1,
                "category": category,
                "status": status,
                "title": f"seeded {i}",
                "location": {"type": "Point", "coordinates": [130.0 + i / 10, 34.0]},
                "observed_at": iso(NOW - timedelta(minutes=ago)),
            }
            r = api.post("/api/v1/incidents", json=data)
            assert r.status_code == 201, r.text
            ids[data["incident_id"]] = (category, status, ago)
    for mmsi, lon in VESSELS.items():
        publish_position(node, mmsi, lon, 34.5, 45)

    def vessels_stored() -> bool:
        r = httpx.get(f"{node.base}/api/v1/vessels", headers=header)
        return len(r.json()["features"]) == len(VESSELS)

    wait_for(vessels_stored, 20, "the seeded vessels stored")
    yield ids


def download(w: Watched, kind: str, fmt: str, tmp: Path) -> tuple[str, bytes]:
    """Click a download link; the file's suggested name and its bytes."""
    link = w.page.locator(f"#download a[data-export='{kind}'][data-format='{fmt}']")
    with w.page.expect_download() as info:
        link.click()
    got = info.value
    path = tmp / got.suggested_filename
    got.save_as(str(path))
    return got.suggested_filename, path.read_bytes()


def kml_count(body: bytes, tmp: Path) -> int:
    path = tmp / "download.kml"
    path.write_bytes(body)
    run = subprocess.run(
        ["ogrinfo", "--config", "GDAL_SKIP", "LIBKML", "-ro", "-al", "-so", str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    [line] = [x for x in run.stdout.splitlines() if x.startswith("Feature Count:")]
    return int(line.split(":")[1])


def shown(
    seeded: dict[str, Any], categories: set[str], statuses: set[str], within_min: int | None
) -> set[str]:
    return {
        i
        for i, (c, s, ago) in seeded.items()
        if c in categories and s in statuses and (within_min is None or ago < within_min)
    }


def test_downloads_hold_what_the_filters_show(
    watched: Watched, node: Node, seeded: dict[str, Any], tmp_path: Path
) -> None:
    open_map(watched, node)
    page = watched.page
    page.wait_for_function(
        f"document.getElementById('incident-count').textContent === '{len(SEEDED)}'"
    )

    # No filter: everything the node holds.
    name, body = download(watched, "incidents", "geojson", tmp_path)
    assert name.startswith("mdx-jcg-incidents-") and name.endswith("Z.geojson")
    assert {f["id"] for f in orjson.loads(body)["features"]} == set(seeded)

    # Pollution hidden, resolved hidden, the last hour only.
    page.locator("#filter-category input[value='pollution']").uncheck()
    page.locator("#filter-status input[value='resolved']").uncheck()
    page.select_option("#filter-window", "3600000")
    expected = shown(
        seeded,
        {"sar", "iuu_fishing", "piracy_robbery", "smuggling", "irregular_migration"}
        | {"maritime_safety", "other"},
        {"reported", "acknowledged", "responding", "closed"},
        60,
    )
    assert len(expected) == 3
    # What the map draws: the markers outside clusters plus those inside them.
    drawn = page.evaluate(
        """() => [...document.querySelectorAll('.leaflet-marker-pane .marker-cluster span')]
              .reduce((n, e) => n + Number(e.textContent), 0)
            + document.querySelectorAll('.leaflet-marker-pane [data-incident-id]').length"""
    )
    assert drawn == len(expected)

    watched.screenshot("download-filtered")
    name, body = download(watched, "incidents", "geojson", tmp_path)
    doc = orjson.loads(body)
    assert {f["id"] for f in doc["features"]} == expected
    assert doc["truncated"] is False

    name, body = download(watched, "incidents", "csv", tmp_path)
    assert name.endswith("Z.csv")
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8"), newline="")))
    assert {r["id"] for r in rows} == expected

    name, body = download(watched, "incidents", "kml", tmp_path)
    assert name.endswith("Z.kml")
    assert kml_count(body, tmp_path) == len(expected)

    # Vessels: every vessel the map shows.
    name, body = download(watched, "vessels", "csv", tmp_path)
    assert name.startswith("mdx-jcg-vessels-")
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8"), newline="")))
    assert sorted(r["id"] for r in rows) == sorted(VESSELS)

    assert watched.console_errors == []
    assert watched.foreign_requests() == []


def test_nothing_shown_means_nothing_to_download(
    watched: Watched, node: Node, seeded: dict[str, Any]
) -> None:
    open_map(watched, node)
    page = watched.page
    link = page.locator("#download a[data-export='incidents'][data-format='csv']")
    assert link.get_attribute("href") == "/api/v1/exports/incidents.csv"
    for box in page.locator("#filter-status input").all():
        box.uncheck()
    assert link.get_attribute("aria-disabled") == "true"
    assert link.get_attribute("href") is None
    assert link.get_attribute("title") == "The filters show nothing to download."
    page.locator("#filter-status input[value='closed']").check()
    assert link.get_attribute("href") == "/api/v1/exports/incidents.csv?status=closed"


@pytest.mark.parametrize(
    ("lang", "heading"), [("en", "Download"), ("ja", "ダウンロード"), ("ko", "다운로드")]
)
def test_the_download_panel_speaks_the_page_language(
    watched: Watched, node: Node, lang: str, heading: str
) -> None:
    open_map(watched, node)
    page = watched.page
    page.select_option("#lang", lang)
    assert page.locator("#download h2").text_content() == heading
    note = page.locator("#download .note").text_content() or ""
    assert note == page.evaluate(f"window.MDX_I18N['{lang}']['download.note']")
    assert SIGNED_IN[node.base]  # the page's session: the links need no other credentials
