"""The query benchmark's results: the JSON document (every figure), its Markdown summary, and two
plots (latency per query kind and caller; OGC API items throughput, ours beside pygeoapi's).
Shared writing helpers are mdx.bench.report's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mdx.bench import datagen, report
from mdx.bench.datagen import Sizes
from mdx.bench.query_load import Phase

NAME = "queries"
PEER_TARGET = 3.0  # ours at least 3x pygeoapi's OGC API items throughput (issue 8)


def result(
    *,
    quick: bool,
    sizes: Sizes,
    counts: dict[str, int],
    load_s: float,
    concurrency: int,
    per_phase: int,
    phases: list[Phase],
    timed: list[Phase],
    peer_result: dict[str, Any],
) -> dict[str, Any]:
    """Each kind and caller: its closed-loop throughput phase, with the open-loop phase at a
    fixed offered rate as `at_rate`, whose p99 is what the target is judged on."""
    paced = {(p.kind, p.caller): p.summary() for p in timed}
    queries = []
    for phase in phases:
        summary = phase.summary()
        at_rate = paced[(phase.kind, phase.caller)]
        target = datagen.TARGETS_MS.get(phase.kind)
        summary["at_rate"] = at_rate
        summary["target_p99_ms"] = target
        summary["met"] = None if target is None else bool((at_rate["p99_ms"] or 0) <= target)
        queries.append(summary)
    peer: dict[str, Any] = {k: v for k, v in peer_result.items() if k != "phases"}
    if "phases" in peer_result:
        ours = {(q["kind"]): q for q in queries if q["caller"] == "operator"}
        rows = []
        for phase in peer_result["phases"]:
            theirs = phase.summary()
            mine = ours[phase.kind]
            ratio = (
                mine["throughput_rps"] / theirs["throughput_rps"]
                if theirs["throughput_rps"]
                else None
            )
            rows.append(
                {
                    "collection": datagen.OGC_COLLECTIONS[phase.kind],
                    "kind": phase.kind,
                    "ours_rps": mine["throughput_rps"],
                    "pygeoapi_rps": theirs["throughput_rps"],
                    "ratio": round(ratio, 2) if ratio is not None else None,
                    "met": ratio is not None and ratio >= PEER_TARGET,
                    "ours_p99_ms": mine["p99_ms"],
                    "pygeoapi": theirs,
                }
            )
        peer["collections"] = rows
        peer["target_ratio"] = PEER_TARGET
    return {
        "benchmark": NAME,
        "mode": "quick" if quick else "full",
        "machine": report.machine(),
        "data": {
            "vessels": sizes.vessels,
            "positions": counts.get("positions"),
            "vessel_latest": counts.get("vessel_latest"),
            "registry": counts.get("vessels"),
            "incidents": counts.get("incidents"),
            "load_s": round(load_s, 1),
        },
        "load": {
            "model": "closed loop",
            "concurrency": concurrency,
            "requests_per_phase": per_phase,
            "offered_rps": timed[0].offered_rps if timed else None,
            "requests_at_rate": per_phase // 2,
            "server": "mdx api run (uvicorn, 1 worker)",
        },
        "queries": queries,
        "peer": peer,
    }


def markdown(r: dict[str, Any]) -> str:
    d, load = r["data"], r["load"]
    rate = load["offered_rps"]
    lines = [
        f"# Queries ({r['mode']} run, {r['machine']['when']})",
        "",
        f"{d['positions']:,} positions of {d['vessels']:,} vessels, {d['incidents']:,} incidents "
        f"(loaded with COPY in {d['load_s']} s). {load['server']}; {load['model']}, "
        f"{load['concurrency']} concurrent clients, {load['requests_per_phase']:,} requests per "
        "row; every answer checked for status 200 and the exact rows placed." + _busy(load),
        "",
        f"Latency at a fixed offered rate ({rate:g} requests/s, open loop, counted from when "
        "each request was due; the targets are judged on its p99), and the most a closed loop "
        f"of {load['concurrency']} clients got through (with the latency those clients saw).",
        "",
        report.markdown_table(
            (
                "query",
                "caller",
                f"p50 ms @{rate:g}/s",
                "p99 ms",
                "p999 ms",
                "target p99",
                "met",
                "max req/s",
                f"p50 / p99 ms @{load['concurrency']} clients",
                "ok/requests",
                "rows",
            ),
            [
                (
                    q["kind"],
                    q["caller"],
                    q["at_rate"]["p50_ms"],
                    q["at_rate"]["p99_ms"],
                    q["at_rate"]["p999_ms"],
                    q["target_p99_ms"],
                    _yes(q["met"]),
                    q["throughput_rps"],
                    f"{q['p50_ms']} / {q['p99_ms']}",
                    f"{q['ok'] + q['at_rate']['ok']}/{q['requests'] + q['at_rate']['requests']}",
                    q["rows"] + q["at_rate"]["rows"],
                )
                for q in r["queries"]
            ],
        ),
        "",
        "## Peer (pygeoapi)",
        "",
    ]
    peer = r["peer"]
    if "skipped" in peer:
        lines.append(f"pygeoapi skipped: {peer['skipped']}.")
    else:
        lines += [
            f"pygeoapi {peer['version']} ({peer['server']}, its PostgreSQL provider) on the same "
            "tables, the same requests (bbox, limit), the same concurrency; ours as the operator.",
            "",
            report.markdown_table(
                (
                    "collection",
                    "ours req/s",
                    "pygeoapi req/s",
                    "ratio",
                    f"≥ {PEER_TARGET:g}x",
                    "ours p99 ms",
                    "pygeoapi p99 ms",
                    "pygeoapi ok/requests",
                ),
                [
                    (
                        c["collection"],
                        c["ours_rps"],
                        c["pygeoapi_rps"],
                        c["ratio"],
                        _yes(c["met"]),
                        c["ours_p99_ms"],
                        c["pygeoapi"]["p99_ms"],
                        f"{c['pygeoapi']['ok']}/{c['pygeoapi']['requests']}",
                    )
                    for c in peer["collections"]
                ],
            ),
        ]
    lines += ["", "## Machine", "", report.machine_markdown(r["machine"])]
    return "\n".join(lines)


def _busy(load: dict[str, Any]) -> str:
    busy = load.get("load_average_1min")
    if not busy:
        return ""
    return (
        f" Load average (1 min) {busy['before']:.1f} before the run, {busy['after_ours']:.1f} "
        "after our phases (2 cores: above 2, other work shared them)."
    )


def _yes(met: bool | None) -> str:
    return "—" if met is None else ("yes" if met else "**no**")


def _latency_plot(r: dict[str, Any], path: Path) -> Path:
    fig, ax = report.figure()
    queries = r["queries"]
    labels = [f"{q['kind']}\n{q['caller']}" for q in queries]
    xs = range(len(queries))
    for offset, key in ((-0.27, "p50_ms"), (0, "p99_ms"), (0.27, "p999_ms")):
        values = [q["at_rate"][key] or 0 for q in queries]
        ax.bar([x + offset for x in xs], values, 0.27, label=key[:-3])
    for x, q in zip(xs, queries, strict=True):
        if q["target_p99_ms"]:
            ax.hlines(q["target_p99_ms"], x - 0.4, x + 0.4, colors="red", linestyles="dashed")
    ax.set_xticks(list(xs), labels, rotation=60, ha="right", fontsize=6)
    ax.set_ylabel("latency (ms)")
    ax.set_title(f"Query latency at {r['load']['offered_rps']:g} requests/s (red: p99 target)")
    ax.legend()
    return report.save(fig, path)


def _peer_plot(r: dict[str, Any], path: Path) -> Path:
    fig, ax = report.figure()
    rows = r["peer"]["collections"]
    xs = range(len(rows))
    ax.bar([x - 0.2 for x in xs], [c["ours_rps"] for c in rows], 0.4, label="mdx")
    ax.bar([x + 0.2 for x in xs], [c["pygeoapi_rps"] for c in rows], 0.4, label="pygeoapi")
    for x, c in zip(xs, rows, strict=True):
        ax.annotate(f"{c['ratio']}x", (x, c["ours_rps"]), ha="center", va="bottom")
    ax.set_xticks(list(xs), [c["collection"] for c in rows])
    ax.set_ylabel("requests/s")
    ax.set_title("OGC API items (limit 100, bbox): throughput")
    ax.legend()
    return report.save(fig, path)


def write(out: Path, r: dict[str, Any]) -> list[Path]:
    paths = report.write(out, NAME, r, markdown(r))
    paths.append(_latency_plot(r, out / f"{NAME}-latency.png"))
    if r["peer"].get("collections"):
        paths.append(_peer_plot(r, out / f"{NAME}-peer.png"))
    return paths
