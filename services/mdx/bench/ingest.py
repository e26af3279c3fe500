"""`mdx bench ingest`: how fast a real node takes reports in, beside the machine's raw limits
measured in the same run.

It starts its own node pieces (Mosquitto with the project's config, a fresh PostGIS database,
`mdx ingest run` workers, and for the bridge a second node with both share services), then:

1. raw limits: MQTT pass-through and COPY (mdx.bench.raw);
2. ingest: steps of offered load (open loop, mdx.bench.load) up the ladder until one is not
   sustained (mdx.bench.steps); the highest sustained rate, and its ratio to each raw limit;
3. latency: publish -> committed p50/p99/p999 at the fixed rates (steps of the same ladder);
4. scale out: the ladder again with 2 ingest workers on one shared subscription;
5. bridge: publish at the origin -> committed in a partner's database at 1,000/s.

Writes `ingest.json`, `ingest.md` and PNGs to `--out` (bench/results/).
"""

from __future__ import annotations

import dataclasses
import functools
import time
import uuid
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from mdx.bench import pair, plots, raw, report, rig, steps
from mdx.bench.load import Loader
from mdx.bench.observe import CommitObserver

FIXED_RATES = (500, 1_000, 2_000, 5_000, 10_000)
LADDER = (4_000, 6_000, 7_000, 8_000, 9_000, 11_000, 12_000, 13_000, 14_000, 15_000, 16_000, 18_000)
BRIDGE_RATE = 1_000

TARGETS = {
    "sustained_msgs_per_s": 10_000,
    "vs_raw_mqtt": 0.8,
    "p99_ms_at_2000": 250,
    "p99_ms_origin_to_partner_at_1000": 500,
}


class Plan:
    def __init__(self, quick: bool) -> None:
        self.quick = quick
        self.raw_messages = 3_000 if quick else 100_000
        self.copy_rows = 3_000 if quick else 200_000
        self.step_s = 1.5 if quick else 10.0
        self.ladder = (300, 600) if quick else tuple(sorted({*FIXED_RATES, *LADDER}))
        self.fixed = (300, 600) if quick else FIXED_RATES
        self.scale_quick = (600,)
        self.bridge_rate = 300 if quick else BRIDGE_RATE
        self.bridge_s = 1.5 if quick else 20.0


def command(
    quick: Annotated[
        bool, typer.Option("--quick", help="Small counts (seconds, not minutes): proves it works.")
    ] = False,
    out: Annotated[Path, typer.Option(help="Where the JSON, Markdown and PNGs go.")] = (
        report.RESULTS_DIR
    ),
    bridge: Annotated[
        bool, typer.Option(help="Also measure origin -> partner across a bridge.")
    ] = True,
) -> None:
    """Ingest throughput, latency and scale-out of a real node, against the raw limits."""
    console = Console()
    plan = Plan(quick)
    result: dict[str, Any] = {"mode": "quick" if quick else "full", "machine": report.machine()}
    work = rig.work_dir()
    dbs = rig.fresh_databases("jcg", "pair_jcg", "pair_kcg")
    node = rig.Node("jcg", work / "jcg", dbs[0])
    node.dir.mkdir()
    node.dir.chmod(0o755)
    loader = Loader()
    try:
        node.write_config()
        node.start_broker()
        tag = uuid.uuid4().hex[:8]
        console.print("[bold]raw limits[/]")
        result["raw"] = {
            "mqtt": raw.mqtt_pass_through(node, loader, plan.raw_messages, tag),
            "mqtt_stock_paho": raw.mqtt_pass_through(
                node, loader, plan.raw_messages, tag, stock_paho=True
            ),
            "copy": raw.copy_rows(node, plan.copy_rows, tag),
        }
        console.print(
            f"  MQTT pass-through {result['raw']['mqtt']['msgs_per_s']:,} msg/s "
            f"(stock paho {result['raw']['mqtt_stock_paho']['msgs_per_s']:,}), "
            f"COPY {result['raw']['copy']['rows_per_s']:,} rows/s"
        )
        result["ingest"] = {"workers": {}}
        runs = result["ingest"]["workers"]
        runs["1"] = _ladder(console, loader, node, 1, plan.ladder, plan.step_s)
        # 2 workers start where 1 worker stopped being sustained, one rung below.
        start = max(
            [plan.ladder[0], *(r for r in plan.ladder if r < runs["1"]["sustained_msgs_per_s"])]
        )
        scale = plan.scale_quick if quick else tuple(r for r in plan.ladder if r >= start)
        runs["2"] = _ladder(console, loader, node, 2, scale, plan.step_s)
        _summarise(result, plan)
        node.stop_all()
        if bridge:
            console.print("[bold]origin -> partner across a bridge[/]")
            result["bridge"] = pair.measure(
                work, loader, dbs[1:], plan.bridge_rate, plan.bridge_s, _progress_bar(console)
            )
    finally:
        loader.close()
        node.stop_all()
        rig.drop_databases(dbs)
        rig.remove(work)
    result["targets"] = _targets(result)
    files = report.write(out, "ingest", result, _markdown(result))
    files += plots.ingest(out, result)
    for f in files:
        console.print(f"wrote {f}")


def _progress_bar(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


def _ladder(
    console: Console,
    loader: Loader,
    node: rig.Node,
    workers: int,
    ladder: tuple[int, ...],
    seconds: float,
) -> dict[str, Any]:
    """Offered-load steps with `workers` ingest processes, up until one is not sustained."""
    console.print(f"[bold]ingest, {workers} worker{'s' if workers > 1 else ''}[/]")
    node.stop_services()
    node.reset()
    node.workers = workers
    node.write_config()
    node.start_ingest()
    observer = CommitObserver(node.db)
    observer.start()
    done: list[dict[str, Any]] = []
    try:
        with _progress_bar(console) as bar:
            for rate in ladder:
                task = bar.add_task(f"{rate:>6,}/s", total=int(rate * seconds))
                step = steps.Step(
                    loader, node, node, observer, rate, seconds, f"w{workers}-r{rate}", _tag()
                )
                outcome = steps.run(step, functools.partial(_advance, bar, task))
                if not outcome["sustained"]:
                    # The machine is shared: a step that failed once gets one more chance.
                    time.sleep(3)
                    bar.update(task, description=f"{rate:>6,}/s again", completed=0)
                    retry = dataclasses.replace(step, producer=step.producer + "b", tag=_tag())
                    outcome = steps.run(retry, functools.partial(_advance, bar, task))
                    outcome["retried"] = True
                done.append(outcome)
                mark = "sustained" if outcome["sustained"] else "[red]not sustained[/]"
                bar.update(task, description=f"{rate:>6,}/s {mark}")
                if not outcome["sustained"]:
                    break
                time.sleep(0.5)
    finally:
        observer.stop()
        node.stop_services()
    sustained = [s["offered_per_s"] for s in done if s["sustained"]]
    # The highest rate sustained with every rate below it sustained too.
    best = 0
    for s in done:
        if not s["sustained"]:
            break
        best = s["offered_per_s"]
    return {
        "steps": done,
        "sustained_msgs_per_s": best,
        "highest_sustained_any": max(sustained, default=0),
        "peak_committed_per_s": max((s["committed_per_s"] or 0 for s in done), default=0),
    }


def _advance(bar: Progress, task: TaskID, committed: int, _total: int) -> None:
    bar.update(task, completed=committed)


def _tag() -> str:
    return uuid.uuid4().hex[:8]


def _summarise(result: dict[str, Any], plan: Plan) -> None:
    one = result["ingest"]["workers"]["1"]
    best = max(w["sustained_msgs_per_s"] for w in result["ingest"]["workers"].values())
    mqtt, copy = result["raw"]["mqtt"]["msgs_per_s"], result["raw"]["copy"]["rows_per_s"]
    result["ingest"]["sustained_msgs_per_s"] = best
    result["ingest"]["vs_raw_mqtt"] = round(best / mqtt, 3)
    stock = result["raw"]["mqtt_stock_paho"]["msgs_per_s"]
    result["ingest"]["vs_raw_mqtt_stock_paho"] = round(best / stock, 3)
    result["ingest"]["vs_raw_copy"] = round(best / copy, 3)
    by_rate = {s["offered_per_s"]: s for s in one["steps"]}
    result["latency"] = [
        {"offered_per_s": r, "sustained": by_rate[r]["sustained"], **by_rate[r]["latency_ms"]}
        if r in by_rate
        else {"offered_per_s": r, "sustained": False, "p50": None, "p99": None, "p999": None}
        for r in plan.fixed
    ]


def _targets(result: dict[str, Any]) -> dict[str, Any]:
    ingest = result.get("ingest", {})
    at_2000 = next((x for x in result.get("latency", []) if x["offered_per_s"] == 2_000), None)
    bridge = result.get("bridge", {})
    reached = {
        "sustained_msgs_per_s": ingest.get("sustained_msgs_per_s"),
        "vs_raw_mqtt": ingest.get("vs_raw_mqtt"),
        "p99_ms_at_2000": at_2000["p99"] if at_2000 else None,
        "p99_ms_origin_to_partner_at_1000": (
            bridge.get("latency_ms", {}).get("p99") if bridge.get("offered_per_s") == 1000 else None
        ),
    }
    met = {
        "sustained_msgs_per_s": (reached["sustained_msgs_per_s"] or 0)
        >= TARGETS["sustained_msgs_per_s"],
        "vs_raw_mqtt": (reached["vs_raw_mqtt"] or 0) >= TARGETS["vs_raw_mqtt"],
        "p99_ms_at_2000": reached["p99_ms_at_2000"] is not None
        and reached["p99_ms_at_2000"] <= TARGETS["p99_ms_at_2000"],
        "p99_ms_origin_to_partner_at_1000": reached["p99_ms_origin_to_partner_at_1000"] is not None
        and reached["p99_ms_origin_to_partner_at_1000"]
        <= TARGETS["p99_ms_origin_to_partner_at_1000"],
    }
    return {"target": TARGETS, "reached": reached, "met": met}


def _markdown(result: dict[str, Any]) -> str:
    raw_ = result["raw"]
    ingest = result["ingest"]
    lines = [
        f"# Ingest benchmark ({result['mode']} run, {result['machine']['when']})",
        "",
        "## Machine",
        "",
        report.machine_markdown(result["machine"]),
        "",
        "## Raw limits (same run)",
        "",
        report.markdown_table(
            ("what", "count", "seconds", "per second"),
            [
                (
                    "paho → Mosquitto → paho, QoS 1 (msg/s)",
                    raw_["mqtt"]["messages"],
                    raw_["mqtt"]["seconds"],
                    raw_["mqtt"]["msgs_per_s"],
                ),
                (
                    "stock paho → Mosquitto → stock paho, QoS 1 (msg/s)",
                    raw_["mqtt_stock_paho"]["messages"],
                    raw_["mqtt_stock_paho"]["seconds"],
                    raw_["mqtt_stock_paho"]["msgs_per_s"],
                ),
                (
                    f"psycopg COPY into positions, batches of {raw_['copy']['batch']} (rows/s)",
                    raw_["copy"]["rows"],
                    raw_["copy"]["seconds"],
                    raw_["copy"]["rows_per_s"],
                ),
            ],
        ),
        "",
        f"Envelope size: {raw_['copy']['envelope_bytes']} bytes.",
        "",
        "## Ingest (publish → committed, open loop, zero loss counted in the database)",
        "",
        f"Highest sustained offered rate: **{ingest['sustained_msgs_per_s']:,}/s**, "
        f"{ingest['vs_raw_mqtt']:.2f}x the raw MQTT pass-through "
        f"({ingest['vs_raw_mqtt_stock_paho']:.2f}x with stock paho at both ends), "
        f"{ingest['vs_raw_copy']:.2f}x the raw COPY rate.",
        "",
    ]
    for workers, run in ingest["workers"].items():
        lines += [
            f"### {workers} worker{'s' if workers != '1' else ''}: "
            f"sustained {run['sustained_msgs_per_s']:,}/s",
            "",
            _steps_table(run["steps"]),
            "",
        ]
    lines += _cpu_section(ingest["workers"]["1"]["steps"], result.get("bridge"))
    lines += [
        "## Latency (publish → committed, 1 worker)",
        "",
        report.markdown_table(
            ("offered/s", "p50 ms", "p99 ms", "p999 ms", "sustained"),
            [
                (x["offered_per_s"], x["p50"], x["p99"], x["p999"], _yes(x["sustained"]))
                for x in result["latency"]
            ],
        ),
        "",
    ]
    if "bridge" in result:
        b = result["bridge"]
        lat = b["latency_ms"]
        lines += [
            "## Origin → partner's database, across a Mosquitto bridge",
            "",
            report.markdown_table(
                ("offered/s", "sent", "stored at partner", "lost", "p50 ms", "p99 ms", "p999 ms"),
                [
                    (
                        b["offered_per_s"],
                        b["sent"],
                        b["stored"],
                        b["lost"],
                        lat["p50"],
                        lat["p99"],
                        lat["p999"],
                    )
                ],
            ),
            "",
        ]
    t = result["targets"]
    lines += [
        "## Targets",
        "",
        report.markdown_table(
            ("target", "wanted", "reached", "met"),
            [(k, t["target"][k], t["reached"][k], _yes(t["met"][k])) for k in t["target"]],
        ),
    ]
    return "\n".join(lines)


def _cpu_section(steps_1: list[dict[str, Any]], bridge: dict[str, Any] | None) -> list[str]:
    """CPU per message of each part, for the highest sustained step, the first one not
    sustained, and the bridge."""
    sustained = [s for s in steps_1 if s["sustained"]]
    chosen = [(f"{s['offered_per_s']:,}/s", s) for s in sustained[-1:]]
    chosen += [
        (f"{s['offered_per_s']:,}/s (not sustained)", s) for s in steps_1 if not s["sustained"]
    ][:1]
    if bridge:
        chosen.append((f"bridge {bridge['offered_per_s']:,}/s", bridge))
    cpus = [(label, s["cpu_us_per_msg"]) for label, s in chosen if "cpu_us_per_msg" in s]
    if not cpus:
        return []
    parts = sorted({p for _, c in cpus for p in c["parts"]})
    rows = [(p, *(c["parts"].get(p, "—") for _, c in cpus)) for p in parts]
    rows.append(("**total**", *(c["total"] for _, c in cpus)))
    rows.append(
        ("rate the total allows on all cores", *(c["rate_the_total_allows"] for _, c in cpus))
    )
    return [
        "## Where the CPU went (us of CPU per message stored, 1 worker)",
        "",
        report.markdown_table(("part", *(label for label, _ in cpus)), rows),
        "",
    ]


def _steps_table(done: list[dict[str, Any]]) -> str:
    return report.markdown_table(
        (
            "offered/s",
            "sent",
            "stored",
            "lost",
            "committed/s",
            "max backlog",
            "drain s",
            "p50 ms",
            "p99 ms",
            "p999 ms",
            "sustained",
        ),
        [
            (
                s["offered_per_s"],
                s["sent"],
                s["stored"],
                s["lost"],
                s["committed_per_s"],
                s["backlog_max"],
                s["drain_s"],
                s["latency_ms"]["p50"],
                s["latency_ms"]["p99"],
                s["latency_ms"]["p999"],
                _yes(s["sustained"]),
            )
            for s in done
        ],
    )


def _yes(v: bool) -> str:
    return "yes" if v else "no"
