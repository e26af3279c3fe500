"""The operator's map in a real Chromium against a real node (`mdx node run`).

Needs Debian's Chromium at /usr/bin/chromium, Playwright for Python (never `playwright
install`: no browser is downloaded) and the built web assets (infra/scripts/build-web.sh).
`make test` provisions all three; elsewhere the module is skipped, saying what is missing.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest

from mdx.api.identity import cookie_name
from mdx.core import store
from tests.conftest import TABLES, login
from tests.integration.harness import RunningNode, running_node

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
VENDOR = ROOT / "services" / "mdx" / "api" / "static" / "map" / "vendor"
ARTEFACTS = ROOT / "var" / "test-artefacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _missing() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (apt-get install -y chromium)"
    for built in (
        "leaflet/leaflet.js",
        "markercluster/leaflet.markercluster.js",
        "countries.geojson",
    ):
        if not (VENDOR / built).exists():
            return f"web assets not built ({VENDOR / built}): run infra/scripts/build-web.sh"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright (Python) is not installed in the venv"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = _missing()
    if reason is None:
        return
    skip = pytest.mark.skip(reason=f"browser tests need: {reason}")
    for item in items:
        if Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
            item.add_marker(skip)


Node = RunningNode


@pytest.fixture(scope="module")
def node(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    """One node for the module: its own broker, the session database emptied first."""
    with psycopg.connect(store.libpq_dsn(database_url), autocommit=True) as conn:
        conn.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY")
    tmp = tmp_path_factory.mktemp("map-node")
    broker_dir = Path(tempfile.mkdtemp(prefix="mdx-broker-"))
    broker_dir.chmod(0o755)  # the broker's own user must reach it
    try:
        with running_node(database_url, broker_dir, tmp) as n:
            yield n
    finally:
        shutil.rmtree(broker_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@dataclass
class Watched:
    """A page and what it did: every request URL and every console error."""

    page: Any
    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    def foreign_requests(self) -> list[str]:
        local = {"127.0.0.1", "localhost"}
        return [
            u
            for u in self.requests
            if urlsplit(u).scheme != "data" and urlsplit(u).hostname not in local
        ]

    def screenshot(self, name: str) -> Path:
        ARTEFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTEFACTS / f"map-{name}.png"
        self.page.screenshot(path=str(path))
        return path


# API base URL -> the Authorization header of its operator, once a context signed in there.
SIGNED_IN: dict[str, dict[str, str]] = {}


def sign_in(context: Any, base: str, database_url: str, node_id: str = "jcg") -> dict[str, str]:
    """Log a browser context in to a node as its operator, as its login form would (the session
    cookie); returns (and keeps in SIGNED_IN) the header for the test's own API calls."""
    header = SIGNED_IN[base] = login(base, database_url)
    token = header["Authorization"].removeprefix("Bearer ")
    cookie = {"name": cookie_name(node_id), "value": token, "url": base, "httpOnly": True}
    context.add_cookies([{**cookie, "sameSite": "Strict"}])
    return header


@pytest.fixture
def watched(browser: Any, node: Node, database_url: str) -> Iterator[Watched]:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-GB")
    sign_in(context, node.base, database_url)
    page = context.new_page()
    w = Watched(page)
    page.on("request", lambda r: w.requests.append(r.url))
    page.on("console", lambda m: w.console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: w.console_errors.append(f"uncaught: {e}"))
    page.set_default_timeout(10_000)
    yield w
    context.close()
