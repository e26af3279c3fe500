"""The peer of the OGC API benchmark: pygeoapi (PyPI, the `bench` extra) serving the same
PostGIS tables through its PostgreSQL provider, under uvicorn with one worker like our API.

Its YAML configuration and OpenAPI document are written to the run's temporary folder; the
process is started and stopped here. Not installed: `available()` says why, and the benchmark
reports the peer as skipped.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import yaml
from sqlalchemy import make_url

from mdx.bench import datagen
from mdx.node import processes

# Our collection -> the table pygeoapi serves under the same name, and its id column.
TABLES = {
    "incidents": ("incidents", "incident_id"),
    "vessels": ("vessel_latest", "mmsi"),
    "positions": ("positions", "id"),
}


def available() -> str | None:
    """None when pygeoapi and its PostgreSQL driver are installed, else what is missing."""
    for module, package in (("pygeoapi", "pygeoapi"), ("psycopg2", "psycopg2-binary")):
        if importlib.util.find_spec(module) is None:
            return f"{package} is not installed (pip install -e '.[bench]')"
    return None


def version() -> str:
    from importlib.metadata import version as of

    return of("pygeoapi")


def _config(database_url: str, port: int) -> dict[str, object]:
    url = make_url(database_url)
    data = {
        "host": url.host or "127.0.0.1",
        "port": url.port or 5432,
        "dbname": url.database,
        "user": url.username or "postgres",
        "password": url.password or "",
        "search_path": ["public"],
    }
    region = list(datagen.REGION)
    resources = {
        name: {
            "type": "collection",
            "title": name,
            "description": f"mdx table {table}",
            "keywords": [name],
            "extents": {
                "spatial": {
                    "bbox": region,
                    "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
                }
            },
            "providers": [
                {
                    "type": "feature",
                    "name": "PostgreSQL",
                    "data": data,
                    "id_field": id_field,
                    "table": table,
                    "geom_field": "geom",
                }
            ],
        }
        for name, (table, id_field) in TABLES.items()
    }
    return {
        "server": {
            "bind": {"host": "127.0.0.1", "port": port},
            "url": f"http://127.0.0.1:{port}",
            "mimetype": "application/json; charset=UTF-8",
            "encoding": "utf-8",
            "languages": ["en-US"],
            "limits": {"default_items": 10, "max_items": 10_000},
            "map": {"url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png", "attribution": ""},
        },
        "logging": {"level": "ERROR"},
        "metadata": {
            "identification": {
                "title": "pygeoapi peer",
                "description": "the mdx query benchmark's peer",
                "keywords": ["benchmark"],
                "keywords_type": "theme",
                "terms_of_service": "https://creativecommons.org/licenses/by/4.0/",
                "url": "https://example.org",
            },
            "license": {"name": "CC-BY 4.0", "url": "https://creativecommons.org/licenses/by/4.0/"},
            "provider": {"name": "mdx", "url": "https://example.org"},
            "contact": {"name": "mdx", "position": "bench", "email": "bench@example.org"},
        },
        "resources": resources,
    }


class Pygeoapi:
    """pygeoapi's Starlette app under uvicorn (one worker), until `stop`."""

    def __init__(self, database_url: str, port: int, work: Path) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.config = work / "pygeoapi.yml"
        self.openapi = work / "pygeoapi-openapi.yml"
        self.log = work / "pygeoapi.log"
        self.config.write_text(yaml.safe_dump(_config(database_url, port), sort_keys=False))
        self.env = {
            **os.environ,
            "PYGEOAPI_CONFIG": str(self.config),
            "PYGEOAPI_OPENAPI": str(self.openapi),
        }
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = port

    def start(self, timeout: float = 60) -> None:
        # pygeoapi's own command (a console script beside this interpreter; no `-m` entry).
        script = str(Path(sys.executable).with_name("pygeoapi"))
        generate = [script, "openapi", "generate", str(self.config)]
        with self.log.open("ab") as log:
            subprocess.run([*generate, "--output-file", str(self.openapi)], env=self.env,
                           stdout=log, stderr=log, check=True)  # fmt: skip
        server = [
            sys.executable, "-m", "uvicorn", "pygeoapi.starlette_app:APP",
            "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1",
            "--log-level", "warning", "--no-access-log",
        ]  # fmt: skip
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(server, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"pygeoapi exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.base}/collections", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(
            f"pygeoapi did not answer in {timeout} s: {self.log.read_text()[-2000:]}"
        )

    def stop(self) -> None:
        processes.stop(self.proc)
