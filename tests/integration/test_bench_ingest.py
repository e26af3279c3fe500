"""`mdx bench ingest --quick` runs end to end against its own real node pieces and its zero-loss
accounting is exact: every step's envelopes sent, acknowledged and stored are the same count.
The speed targets are read from a full run's output, not asserted here."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path


def test_quick_ingest_bench_counts_every_envelope(tmp_path: Path) -> None:
    out = tmp_path / "results"
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "mdx.cli.main", "bench", "ingest", "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads((out / "ingest.json").read_text())
    assert result["mode"] == "quick"
    assert set(result) >= {"machine", "raw", "ingest", "latency", "bridge", "targets"}
    assert result["machine"]["cpus"] >= 1

    mqtt, copy = result["raw"]["mqtt"], result["raw"]["copy"]
    assert mqtt["delivered"] == mqtt["messages"] == 3000
    assert mqtt["msgs_per_s"] > 0
    stock = result["raw"]["mqtt_stock_paho"]  # paho as released, at both ends
    assert stock["delivered"] == stock["messages"] == 3000
    assert result["ingest"]["vs_raw_mqtt_stock_paho"] == round(
        result["ingest"]["sustained_msgs_per_s"] / stock["msgs_per_s"], 3
    )
    assert copy["rows"] == 3000 and copy["rows_per_s"] > 0

    runs = result["ingest"]["workers"]
    assert set(runs) == {"1", "2"}
    for workers, run in runs.items():
        offered = [s["offered_per_s"] for s in run["steps"]]
        assert offered == ([300, 600] if workers == "1" else [600]), (workers, offered)
        for s in run["steps"]:
            expected = int(s["offered_per_s"] * s["seconds"])
            # Exact: what was published is what the broker acknowledged is what is stored.
            assert s["sent"] == s["acked"] == s["stored"] == expected, (workers, s)
            assert s["lost"] == 0 and s["dead_lettered"] == 0, (workers, s)
            # The observer saw each stored row commit exactly once.
            assert s["observed"] == expected, (workers, s)
            assert set(s["latency_ms"]) == {"p50", "p99", "p999", "max"}
            # Every part of the pipeline is accounted for, and together they used the CPU.
            cpu = s["cpu_us_per_msg"]
            assert set(cpu["parts"]) == {"load generator", "broker", "ingest", "postgresql"}
            assert min(cpu["parts"].values()) >= 0 and cpu["total"] > 0, (workers, cpu)
        assert run["sustained_msgs_per_s"] in (0, 300, 600)
    assert [x["offered_per_s"] for x in result["latency"]] == [300, 600]

    bridge = result["bridge"]
    expected = int(bridge["offered_per_s"] * bridge["seconds"])
    assert bridge["sent"] == bridge["acked"] == bridge["stored"] == expected == 450
    assert bridge["lost"] == 0 and bridge["observed"] == expected
    assert set(bridge["cpu_us_per_msg"]["parts"]) == {
        "load generator",
        *(f"{n} {p}" for n in ("jcg", "kcg") for p in ("broker", "ingest", "share", "postgresql")),
    }

    assert set(result["targets"]["met"]) == set(result["targets"]["target"])
    markdown = (out / "ingest.md").read_text()
    assert "## Latency" in markdown and "## Raw limits" in markdown
    assert "## Where the CPU went" in markdown
    for png in ("ingest-latency.png", "ingest-throughput.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert elapsed < 90, f"the quick bench took {elapsed:.0f} s"
