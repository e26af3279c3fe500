"""The ingest benchmark's PNGs: latency percentiles against offered rate, and committed
throughput against offered rate beside the raw limits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mdx.bench import report


def ingest(out: Path, result: dict[str, Any]) -> list[Path]:
    return [_latency(out, result), _throughput(out, result)]


def _latency(out: Path, result: dict[str, Any]) -> Path:
    fig, ax = report.figure()
    for workers, run in result["ingest"]["workers"].items():
        done = [s for s in run["steps"] if s["latency_ms"]["p50"] is not None]
        rates = [s["offered_per_s"] for s in done]
        for name, style in (("p50", "-o"), ("p99", "-s"), ("p999", "-^")):
            ax.plot(
                rates,
                [s["latency_ms"][name] for s in done],
                style if workers == "1" else style.replace("-", "--"),
                label=f"{name}, {workers} worker{'s' if workers != '1' else ''}",
                markersize=4,
            )
    if "bridge" in result and result["bridge"]["latency_ms"]["p99"] is not None:
        b = result["bridge"]
        ax.plot([b["offered_per_s"]], [b["latency_ms"]["p99"]], "k*", label="p99 origin → partner")
    ax.set_yscale("log")
    ax.set_xlabel("offered rate (positions/s)")
    ax.set_ylabel("publish → committed (ms)")
    ax.set_title("Ingest latency by offered rate (open loop)")
    ax.legend(fontsize=7)
    return report.save(fig, out / "ingest-latency.png")


def _throughput(out: Path, result: dict[str, Any]) -> Path:
    fig, ax = report.figure()
    top = 0.0
    for workers, run in result["ingest"]["workers"].items():
        rates = [s["offered_per_s"] for s in run["steps"]]
        committed = [s["committed_per_s"] or 0 for s in run["steps"]]
        top = max(top, *rates, *committed)
        ax.plot(rates, committed, "-o", markersize=4, label=f"committed, {workers} worker(s)")
        bad = [
            (r, c)
            for r, c, s in zip(rates, committed, run["steps"], strict=True)
            if not s["sustained"]
        ]
        if bad:
            ax.plot(*zip(*bad, strict=True), "rx", markersize=9)
    mqtt = result["raw"]["mqtt"]["msgs_per_s"]
    top = max(top, mqtt)
    ax.axhline(mqtt, color="grey", linestyle="--", label=f"raw MQTT pass-through {mqtt:,}/s")
    ax.axhline(0.8 * mqtt, color="grey", linestyle=":", label="0.8 x raw")
    ax.plot([0, top], [0, top], color="lightgrey", linewidth=0.8)
    ax.set_xlabel("offered rate (positions/s)")
    ax.set_ylabel("committed (positions/s)")
    ax.set_title(
        f"Ingest throughput (COPY limit {result['raw']['copy']['rows_per_s']:,} rows/s; "
        "x not sustained)",
        fontsize=9,
    )
    ax.legend(fontsize=7)
    return report.save(fig, out / "ingest-throughput.png")
