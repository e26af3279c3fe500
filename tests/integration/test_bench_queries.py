"""`mdx bench queries --quick`: the query benchmark runs end to end against a real API process and
its accounting is exact: every request of every kind, as the operator and as the partner,
answered 200 with the very rows the data generator placed in the box, circle or time window.
The speed targets are read from the full run's output, not asserted here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson

from mdx.bench import datagen, peer

QUICK_REQUESTS = 40  # per kind and caller in quick mode


def test_quick_run_answers_every_request_with_the_rows_placed(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mdx.cli.main",
            "bench",
            "queries",
            "--quick",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = orjson.loads((tmp_path / "queries.json").read_bytes())
    sizes = datagen.Sizes.of(quick=True)
    assert result["mode"] == "quick"
    assert result["data"]["positions"] == sizes.positions
    assert result["data"]["incidents"] == sizes.incidents
    assert result["data"]["vessel_latest"] == sizes.vessels
    assert result["data"]["registry"] == sizes.vessels

    by = {(q["kind"], q["caller"]): q for q in result["queries"]}
    assert sorted(by) == sorted((k, c) for k in datagen.KINDS for c in ("operator", "partner"))
    for (kind, caller), q in by.items():
        assert q["requests"] == QUICK_REQUESTS, (kind, caller)
        assert (q["ok"], q["not_200"], q["mismatched"]) == (QUICK_REQUESTS, 0, 0), q["errors"]
        assert q["rows"] == q["expected_rows"] > 0, (kind, caller)
        assert q["p50_ms"] is not None and q["p50_ms"] <= q["p999_ms"]
        paced = q["at_rate"]  # the open-loop phase at a fixed offered rate
        assert paced["requests"] == QUICK_REQUESTS // 2, (kind, caller)
        assert (paced["ok"], paced["not_200"], paced["mismatched"]) == (
            QUICK_REQUESTS // 2,
            0,
            0,
        ), paced["errors"]
        assert paced["rows"] == paced["expected_rows"] > 0, (kind, caller)
    # The policy is exercised: the partner is shown fewer incidents in the same boxes.
    for kind in ("incidents_bbox", "incidents_radius"):
        assert by[(kind, "partner")]["rows"] < by[(kind, "operator")]["rows"], kind

    peer_result = result["peer"]
    if peer.available() is None:
        rows = {c["collection"]: c for c in peer_result["collections"]}
        assert sorted(rows) == sorted(datagen.OGC_COLLECTIONS.values())
        for c in rows.values():
            theirs = c["pygeoapi"]
            assert (theirs["requests"], theirs["ok"]) == (QUICK_REQUESTS, QUICK_REQUESTS)
            assert theirs["rows"] == by[(c["kind"], "operator")]["rows"]
        assert (tmp_path / "queries-peer.png").stat().st_size > 0
    else:
        assert peer_result == {"skipped": peer.available()}
    assert (tmp_path / "queries-latency.png").stat().st_size > 0
    assert "## Peer (pygeoapi)" in (tmp_path / "queries.md").read_text()
