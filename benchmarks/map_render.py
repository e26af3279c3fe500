"""The operator's map with a heavy picture, against the machine's raw limit in the same run.

    .venv/bin/python benchmarks/map_render.py   (writes var/bench/map.json)

A node (`mdx node run`, as the browser tests start it) over a fresh database holding 10,000
incidents and 5,000 vessels spread over the seas around Japan and Korea; headless Debian
Chromium opens /map/ in a fresh context per run and the figures are the median of the runs:

1. first render: navigation start until map.js sets `window.mdxReady` (every incident read,
   clustered and painted, every vessel drawn);
2. interaction: zoom in twice and out twice with the zoom buttons, each step timed until the
   map's DOM has been quiet for 300 ms (the time of the last change counts);
3. baseline: the same Chromium loading a page with Leaflet alone and a 10,000-feature GeoJSON
   layer of plain circle markers at the same points, the denominator of the ratio.

The machine is shared and noisy: the ratio is the figure to compare between runs.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, sign_in  # noqa: E402
from tests.integration.harness import running_node  # noqa: E402

from mdx.core import intake, migrate, store  # noqa: E402
from mdx.core.envelope import make_envelope  # noqa: E402
from mdx.core.intake import Accepted, IntakePolicy  # noqa: E402
from mdx.core.schemas import SchemaSet  # noqa: E402

PG = os.environ.get("MDX_BENCH_PG", "postgresql+psycopg://mdx:mdx@127.0.0.1:5432")
INCIDENTS = 10_000
VESSELS = 5_000
RUNS = 3
# Sea boxes (minlon, minlat, maxlon, maxlat): East China Sea, Sea of Japan, the Pacific off
# Honshu, the Yellow Sea. Points fall on land now and then; the map does not care.
SEAS = [(122.0, 25.0, 130.0, 32.0), (129.0, 35.0, 139.0, 43.0), (139.0, 30.0, 147.0, 38.0),
        (119.5, 33.0, 126.0, 38.5)]  # fmt: skip
CATEGORIES = ["iuu_fishing", "sar", "piracy_robbery", "pollution", "smuggling",
              "irregular_migration", "maritime_safety", "other"]  # fmt: skip
QUIET_MS = 300

# Time each zoom step until the map's DOM stops changing; returns milliseconds per step.
ZOOM_STEPS_JS = """async () => {
  const pane = document.querySelector(".leaflet-map-pane");
  const steps = [".leaflet-control-zoom-in", ".leaflet-control-zoom-in",
                 ".leaflet-control-zoom-out", ".leaflet-control-zoom-out"];
  const times = [];
  for (const sel of steps) {
    const result = await new Promise((resolve) => {
      const start = performance.now();
      let last = start;
      let timer = null;
      const settle = () => { obs.disconnect(); resolve(last - start); };
      const obs = new MutationObserver(() => {
        last = performance.now();
        clearTimeout(timer);
        timer = setTimeout(settle, QUIET_MS);
      });
      obs.observe(pane, { subtree: true, childList: true, attributes: true });
      timer = setTimeout(settle, QUIET_MS);
      document.querySelector(sel).click();
    });
    times.push(result);
  }
  return times;
}""".replace("QUIET_MS", str(QUIET_MS))

BASELINE_HTML = """<!doctype html><html><head><meta charset="utf-8">
<link rel="stylesheet" href="/map/vendor/leaflet/leaflet.css">
<style>html, body, #map { margin: 0; height: 100%; }</style></head>
<body><div id="map"></div>
<script src="/map/vendor/leaflet/leaflet.js"></script>
<script>
  const points = POINTS;
  const map = L.map("map").setView([36.5, 131.5], 5);
  const fc = { type: "FeatureCollection", features: points.map((c, i) => ({
    type: "Feature", id: i, properties: {}, geometry: { type: "Point", coordinates: c } })) };
  L.geoJSON(fc, { pointToLayer: (f, at) => L.circleMarker(at, { radius: 4 }) }).addTo(map);
  requestAnimationFrame(() => requestAnimationFrame(() => {
    window.baselineReady = performance.now();
  }));
</script></body></html>"""


def iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def sea_point(rng: random.Random) -> tuple[float, float]:
    minlon, minlat, maxlon, maxlat = rng.choice(SEAS)
    return round(rng.uniform(minlon, maxlon), 5), round(rng.uniform(minlat, maxlat), 5)


def judged(policy: IntakePolicy, producer: str, kind: str, data: dict[str, Any]) -> Accepted:
    envelope = make_envelope("jcg", producer, f"mdx.{kind}.v1", data)
    result = intake.accept_envelope(envelope, producer, kind, policy)
    if not isinstance(result, Accepted):
        raise RuntimeError(f"the node would not take a benchmark {kind}: {result}")
    return result


def fill(url: str) -> list[tuple[float, float]]:
    """Stores the picture; returns the incidents' points (the baseline draws the same)."""
    rng = random.Random(20261125)
    policy = IntakePolicy(node_id="jcg", default_tlp="GREEN", schemas=SchemaSet())
    now = datetime.now(UTC)
    points: list[tuple[float, float]] = []
    items: list[Accepted] = []
    for i in range(INCIDENTS):
        lon, lat = sea_point(rng)
        points.append((lon, lat))
        data = {
            "incident_id": str(uuid.uuid4()),
            "version": 1,
            "category": rng.choice(CATEGORIES),
            "status": "reported",
            "title": f"Benchmark incident {i}",
            "location": {"type": "Point", "coordinates": [lon, lat]},
            "observed_at": iso(now - timedelta(seconds=rng.uniform(60, 86_400))),
        }
        items.append(judged(policy, "ops1", "incident", data))
    for i in range(VESSELS):
        lon, lat = sea_point(rng)
        data = {
            "mmsi": f"{431000000 + i}",
            "lat": lat,
            "lon": lon,
            "sog": round(rng.uniform(0, 20), 1),
            "cog": round(rng.uniform(0, 359), 1),
            "heading": rng.randrange(360),
            "observed_at": iso(now - timedelta(seconds=rng.uniform(60, 3_600))),
            "source_type": "ais-terrestrial",
        }
        items.append(judged(policy, "ais1", "position", data))
    with store.connect(url) as conn:
        for start in range(0, len(items), 1_000):
            store.write_batch(conn, items[start : start + 1_000], [])
    return points


def measure_map(browser: Any, base: str, database_url: str) -> dict[str, Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-GB")
    sign_in(context, base, database_url)  # the map's session cookie, as after its login form
    try:
        page = context.new_page()
        page.set_default_timeout(180_000)
        page.goto(f"{base}/map/")
        page.wait_for_function("window.mdxReady !== undefined", polling=50)
        ready = float(page.evaluate("window.mdxReady"))
        counts = page.evaluate(
            """() => ({
              incidents: Number(document.getElementById("incident-count").textContent),
              vessels: Number(document.getElementById("vessel-count").textContent),
              markers_and_clusters: document.querySelectorAll(
                ".leaflet-marker-pane .inc, .leaflet-marker-pane .marker-cluster").length,
            })"""
        )
        zoom = [float(ms) for ms in page.evaluate(ZOOM_STEPS_JS)]
        return {"first_render_ms": ready, "zoom_steps_ms": zoom, **counts}
    finally:
        context.close()


def measure_baseline(browser: Any, base: str, points: list[tuple[float, float]]) -> float:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        page.set_default_timeout(120_000)
        html = BASELINE_HTML.replace("POINTS", json.dumps([list(p) for p in points]))
        # Served at the node's origin, so Leaflet comes from the node as it does for the map.
        page.route(
            f"{base}/bench-baseline.html",
            lambda route: route.fulfill(body=html, content_type="text/html"),
        )
        page.goto(f"{base}/bench-baseline.html")
        page.wait_for_function("window.baselineReady !== undefined", polling=50)
        return float(page.evaluate("window.baselineReady"))
    finally:
        context.close()


def main() -> None:
    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix="mdx-bench-map-"))
    work.chmod(0o755)
    url = f"{PG}/mdx_bench_map_{uuid.uuid4().hex[:8]}"
    migrate.upgrade(url)
    broker_dir = work / "broker"
    broker_dir.mkdir()
    broker_dir.chmod(0o755)
    try:
        started = time.perf_counter()
        points = fill(url)
        fill_s = time.perf_counter() - started
        with running_node(url, broker_dir, work, timeout=60) as node, sync_playwright() as pw:
            base = node.base
            browser = pw.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
            )
            try:
                measure_baseline(browser, base, points)  # a warm-up: the figures follow
                runs = []
                baselines = []
                for _ in range(RUNS):
                    baselines.append(measure_baseline(browser, base, points))
                    runs.append(measure_map(browser, base, url))
            finally:
                browser.close()
    finally:
        with psycopg.connect(store.libpq_dsn(f"{PG}/postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
        shutil.rmtree(work, ignore_errors=True)

    first = statistics.median(r["first_render_ms"] for r in runs)
    zoom = statistics.median(sum(r["zoom_steps_ms"]) for r in runs)
    baseline = statistics.median(baselines)
    result = {
        "incidents": INCIDENTS,
        "vessels": VESSELS,
        "runs": RUNS,
        "fill_db_s": round(fill_s, 1),
        "first_render_ms": round(first),
        "zoom_in_out_twice_ms": round(zoom),
        "baseline_10k_circles_ms": round(baseline),
        "first_render_vs_baseline": round(first / baseline, 2),
        "zoom_vs_baseline": round(zoom / baseline, 2),
        "per_run": [
            {
                **r,
                "first_render_ms": round(r["first_render_ms"]),
                "zoom_steps_ms": [round(ms) for ms in r["zoom_steps_ms"]],
                "baseline_ms": round(b),
            }
            for r, b in zip(runs, baselines, strict=True)
        ],
        "zoom_idle_after_quiet_ms": QUIET_MS,
        "cpus": os.cpu_count(),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    out = ROOT / "var" / "bench" / "map.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
