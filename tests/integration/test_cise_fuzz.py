"""Schemathesis over the CISE routes of a running API process (`mdx api run`), signed in as an
admin, every check enabled: each answer is what the OpenAPI document declares."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mdx.core.settings import NodeSettings
from tests.conftest import login
from tests.integration.harness import ServiceProcess, wait_for
from tests.security.test_api_fuzz import EXAMPLES, SCHEMATHESIS


@pytest.fixture
def api(node_settings: NodeSettings, tmp_path: Path) -> Iterator[str]:
    proc = ServiceProcess("api", node_settings, tmp_path)
    proc.start()
    base = f"http://{node_settings.api.host}:{node_settings.api.port}"

    def up() -> bool:
        try:
            return httpx.get(f"{base}/healthz", timeout=1).status_code < 500
        except httpx.HTTPError:
            return False

    try:
        wait_for(up, 60, lambda: proc.log_path.read_text())
        yield base
    finally:
        proc.stop()


def test_the_cise_routes_hold_under_schemathesis(
    api: str, node_settings: NodeSettings, tmp_path: Path
) -> None:
    header = login(api, node_settings.database.url, role="admin")
    run = subprocess.run(
        [
            str(SCHEMATHESIS),
            "run",
            f"{api}/openapi.json",
            "--include-path-regex",
            "^/api/v1/cise/",
            "--checks",
            "all",
            "--header",
            f"Authorization:{header['Authorization']}",
            "--max-examples",
            str(EXAMPLES),
            "--seed",
            "1",
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-20_000:] + run.stderr[-5_000:]
    # Every CISE route was exercised, not skipped: incidents and vessels, lists and items.
    assert re.search(r"^\s*Tested: 4$", run.stdout, re.MULTILINE), run.stdout[-3_000:]
