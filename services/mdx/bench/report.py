"""Writing a benchmark's results: the JSON (every figure), a Markdown summary (tables), PNG plots,
and the facts about the machine a figure is meaningless without. Shared by `mdx bench ingest` and
`mdx bench queries`.

Percentiles are computed here with numpy's nearest-rank ("inverted_cdf"): a p999 is a latency
that really happened, not an interpolation between two.
"""

from __future__ import annotations

import os
import platform
import subprocess
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import orjson

RESULTS_DIR = Path("bench/results")
PERCENTILES = {"p50": 50.0, "p99": 99.0, "p999": 99.9}


def percentiles_ms(latencies_s: Sequence[float] | np.ndarray[Any, Any]) -> dict[str, float | None]:
    """p50/p99/p999 and max of latencies given in seconds, in milliseconds (None if empty)."""
    values = np.asarray(latencies_s, dtype=float)
    if values.size == 0:
        return {name: None for name in (*PERCENTILES, "max")}
    out: dict[str, float | None] = {
        name: round(float(np.percentile(values, q, method="inverted_cdf")) * 1000, 1)
        for name, q in PERCENTILES.items()
    }
    out["max"] = round(float(values.max()) * 1000, 1)
    return out


def _first_line(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    text = (done.stdout or done.stderr).strip()
    return text.splitlines()[0] if text else "unknown"


def machine() -> dict[str, Any]:
    """CPU, memory and the versions of what the figures depend on."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kib = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    except OSError:
        pass
    import paho.mqtt
    import psycopg

    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu,
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "postgresql": _first_line(["psql", "--version"]),
        "mosquitto": _first_line(["mosquitto", "-h"]),
        "paho_mqtt": paho.mqtt.__version__,
        "psycopg": psycopg.__version__,
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A GitHub Markdown table; None shows as an em dash, floats without noise."""

    def cell(v: Any) -> str:
        if v is None:
            return "—"
        if isinstance(v, float):
            return f"{v:,.2f}" if abs(v) < 10 else f"{v:,.0f}"
        if isinstance(v, int) and not isinstance(v, bool):
            return f"{v:,}"
        return str(v)

    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def machine_markdown(m: dict[str, Any]) -> str:
    return markdown_table(
        ("what", "value"),
        [
            ("CPUs (nproc)", m["cpus"]),
            ("CPU", m["cpu_model"]),
            ("memory", f"{m['memory_gib']} GiB"),
            ("kernel", m["kernel"]),
            ("Python", m["python"]),
            ("PostgreSQL", m["postgresql"]),
            ("Mosquitto", m["mosquitto"]),
            ("paho-mqtt / psycopg", f"{m['paho_mqtt']} / {m['psycopg']}"),
            ("measured", m["when"]),
        ],
    )


def write(out_dir: Path, name: str, result: dict[str, Any], markdown: str) -> list[Path]:
    """`<name>.json` and `<name>.md` in `out_dir`; returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / f"{name}.json", out_dir / f"{name}.md"
    json_path.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2) + b"\n")
    md_path.write_text(markdown.rstrip() + "\n")
    return [json_path, md_path]


def figure() -> Any:
    """A matplotlib figure on the file-only backend (no display on a server)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    ax.grid(True, alpha=0.3)
    return fig, ax


def save(fig: Any, path: Path) -> Path:
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
