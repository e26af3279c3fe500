"""Schemathesis against the live OpenAPI of a running API process (`mdx api run`), signed in as
an admin, every check enabled: no server error, every response as the document says."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mdx.core.settings import NodeSettings
from tests.conftest import login
from tests.integration.harness import ServiceProcess, wait_for

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
# Enough to reach every operation's branches in a few minutes on two cores.
# The rejections no OpenAPI document can state, allowed per operation with the reason.
CONFIG = Path(__file__).with_name("schemathesis.toml")
EXAMPLES = int(os.environ.get("MDX_FUZZ_EXAMPLES", "25"))


@pytest.fixture
def api(node_settings: NodeSettings, tmp_path: Path) -> Iterator[str]:
    # The write limit would answer 429 to most of the fuzzer's writes: out of its way here
    # (tests/integration/test_api_auth.py holds the limit to account).
    auth = node_settings.auth.model_copy(update={"write_burst": 1_000_000})
    # Schemathesis reads each answer to its end: a live stream ends at once here.
    short_streams = node_settings.api.model_copy(update={"stream_max_s": 0.01})
    settings = node_settings.model_copy(update={"auth": auth, "api": short_streams})
    proc = ServiceProcess("api", settings, tmp_path)
    proc.start()
    base = f"http://{settings.api.host}:{settings.api.port}"

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


def test_the_live_openapi_holds_under_schemathesis(
    api: str, node_settings: NodeSettings, tmp_path: Path
) -> None:
    header = login(api, node_settings.database.url, role="admin")
    run = subprocess.run(
        [
            str(SCHEMATHESIS),
            "--config-file",
            str(CONFIG),
            "run",
            f"{api}/openapi.json",
            "--checks",
            "all",
            "--header",
            f"Authorization:{header['Authorization']}",
            "--max-examples",
            str(EXAMPLES),
            "--seed",
            "1",
            "--no-color",
            "--report",
            "junit",
            "--report-dir",
            str(tmp_path / "report"),
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-20_000:] + run.stderr[-5_000:]
