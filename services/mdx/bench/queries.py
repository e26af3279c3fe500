"""`mdx bench queries`: the API's reads under concurrent load on a million positions and a hundred
thousand incidents, as a local operator and as a signing partner, beside pygeoapi serving the
same tables.

A fresh database is migrated (mdx.core.migrate) and filled (mdx.bench.datagen); `mdx api run`
serves it in its own process (uvicorn, one worker) and aiohttp clients measure it over HTTP
(mdx.bench.query_load). Every answer is checked: status 200 and exactly the rows the generator
placed in the box, circle or time window asked for (for the partner, those its policy releases).
Results: bench/results/queries.json, queries.md and PNG plots (mdx.bench.query_report).
"""

from __future__ import annotations

import asyncio
import functools
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import create_engine

from mdx.api import accounts
from mdx.bench import datagen, peer, query_report, report, rig
from mdx.bench.query_load import Phase, Signer, operator_work, partner_work, run
from mdx.core import keys, migrate, store
from mdx.core.fedauth import sign_request
from mdx.node import processes

console = Console(stderr=True)
OPERATOR = "bench-operator"


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description:<34}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


class Api:
    """`mdx api run` for the benchmark's node jcg, with partners kcg and uscg it trusts."""

    def __init__(self, database_url: str, work: Path) -> None:
        self.port = rig.free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = work / "api.log"
        self.partner_keys = {p: keys.generate(work / f"{p}.key") for p in datagen.PARTNERS}
        partners = "".join(
            f"""
[[partners]]
id = "{p}"
broker_port = 1
api_url = "http://127.0.0.1:1"
public_key = "{work / f"{p}.pub"}"
purposes = {purposes!r}
"""
            for p, purposes in datagen.PARTNERS.items()
        )
        self.config = work / "api.toml"
        self.config.write_text(
            f"""
[node]
id = "{datagen.NODE}"
[database]
url = "{database_url}"
[api]
host = "127.0.0.1"
port = {self.port}
[auth]
token_secret = "{secrets.token_urlsafe(48)}"
token_ttl_s = 86400
{partners}"""
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [sys.executable, "-m", "mdx.cli.main", "api", "run", "--config", str(self.config)]
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)

        def up() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"mdx api exited: {self.log.read_text()[-2000:]}")
            try:
                return httpx.get(f"{self.base}/openapi.json", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        rig.wait_for(up, 60, "mdx api run to answer")

    def operator(self, database_url: str) -> Signer:
        """Log in as an operator account made for the run; its bearer header for every call."""
        password = secrets.token_urlsafe(16)
        engine = create_engine(database_url)
        with engine.begin() as conn:
            accounts.add(conn, OPERATOR, "operator", password, replace=True)
        engine.dispose()
        r = httpx.post(f"{self.base}/auth/token", data={"username": OPERATOR, "password": password})
        r.raise_for_status()
        header = {"Authorization": f"Bearer {r.json()['access_token']}"}
        return lambda _path: header

    def partner(self, node: str = datagen.PARTNER) -> Signer:
        """A fresh MDX-Ed25519 signature of each request, as a partner node makes them."""
        key: Ed25519PrivateKey = self.partner_keys[node]
        return lambda path: {
            "Authorization": sign_request("GET", path, node, datagen.NODE, key, time.time())
        }

    def stop(self) -> None:
        processes.stop(self.proc)


def _peer_path(path: str) -> str:
    """Our OGC API items request as pygeoapi takes it (same collection, bbox and limit)."""
    return path.removeprefix("/ogcapi") + "&f=json"


def command(
    quick: Annotated[
        bool, typer.Option(help="Small data (20,000 positions, 2,000 incidents): seconds.")
    ] = False,
    concurrency: Annotated[int, typer.Option(help="Concurrent HTTP clients.")] = 8,
    requests: Annotated[
        int | None, typer.Option(help="Requests per kind and caller (default 1,000; quick 40).")
    ] = None,
    rate: Annotated[
        float | None,
        typer.Option(help="Offered rate of the open-loop latency phases (default 20/s; quick 80)."),
    ] = None,
    with_peer: Annotated[
        bool, typer.Option("--peer/--no-peer", help="Measure pygeoapi on the same data.")
    ] = True,
    out: Annotated[Path, typer.Option(help="Where the results go.")] = report.RESULTS_DIR,
    keep: Annotated[bool, typer.Option(help="Keep the database and work folder.")] = False,
) -> None:
    """Bbox, radius, 24-hour track and OGC API items through the HTTP API, as an operator and as
    a partner, with pygeoapi's OGC API items beside ours."""
    # A SIGTERM ends the run through `finally`: the API stopped, the database dropped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sizes = datagen.Sizes.of(quick)
    per_phase = requests or (40 if quick else 1_000)
    rate = rate or (80.0 if quick else 20.0)
    work = rig.work_dir("mdx-bench-queries-")
    database_url = rig.fresh_database("queries")
    api: Api | None = None
    try:
        with _progress() as progress:
            busy_before = os.getloadavg()[0]
            data = datagen.generate(sizes)
            task = progress.add_task("load positions (COPY)", total=len(data.pos_t))
            started = time.perf_counter()
            counts = datagen.load(
                store.libpq_dsn(database_url), data, lambda n: progress.advance(task, n)
            )
            load_s = time.perf_counter() - started
            probes = datagen.probes(data, 20 if quick else 200)
            api = Api(database_url, work)
            api.start()
            callers = {"operator": api.operator(database_url), "partner": api.partner()}
            phases: list[Phase] = []
            timed: list[Phase] = []
            work_lists = {
                (kind, caller): (operator_work if caller == "operator" else partner_work)(
                    probes[kind]
                )
                for kind in datagen.KINDS
                for caller in callers
            }
            # Latency at a steady rate first, on a quiet database, then throughput: a closed
            # loop leaves work behind (audit rows, dirty pages) that would land in the next
            # phase's tail.
            for (kind, caller), work_list in work_lists.items():
                paced = Phase(kind, caller, "mdx", concurrency, offered_rps=rate)
                task = progress.add_task(f"{kind} as {caller} at {rate:g}/s", total=per_phase // 2)
                asyncio.run(
                    run(api.base, work_list, callers[caller], paced, per_phase // 2,
                        functools.partial(progress.advance, task), warmup=concurrency)
                )  # fmt: skip
                timed.append(paced)
            for (kind, caller), work_list in work_lists.items():
                phase = Phase(kind, caller, "mdx", concurrency)
                task = progress.add_task(f"{kind} as {caller}", total=per_phase)
                asyncio.run(
                    run(api.base, work_list, callers[caller], phase, per_phase,
                        functools.partial(progress.advance, task), warmup=concurrency)
                )  # fmt: skip
                phases.append(phase)
            busy = os.getloadavg()[0]  # others' work on the same cores skews the figures
            peer_result = _peer(
                with_peer, database_url, work, probes, concurrency, per_phase, progress, api
            )
        result = query_report.result(
            quick=quick,
            sizes=sizes,
            counts=counts,
            load_s=load_s,
            concurrency=concurrency,
            per_phase=per_phase,
            phases=phases,
            timed=timed,
            peer_result=peer_result,
        )
        result["load"]["load_average_1min"] = {"before": busy_before, "after_ours": busy}
        paths = query_report.write(out, result)
        console.print(query_report.markdown(result))
        for path in paths:
            console.print(f"wrote {path}")
        failed = sum(p.not_200 + p.mismatched for p in [*phases, *timed])
        if failed:
            console.print(f"[red]{failed} answers were not 200 or had the wrong rows[/red]")
            raise typer.Exit(1)
    finally:
        if api is not None:
            api.stop()
        if not keep:
            migrate.drop_database(database_url)
            shutil.rmtree(work, ignore_errors=True)
        else:
            console.print(f"kept {database_url} and {work}")


def _peer(
    with_peer: bool,
    database_url: str,
    work: Path,
    probes: dict[str, list[datagen.Probe]],
    concurrency: int,
    per_phase: int,
    progress: Progress,
    api: Api,
) -> dict[str, Any]:
    """pygeoapi's OGC API items on the same requests, or why it was skipped."""
    if not with_peer:
        return {"skipped": "--no-peer"}
    missing = peer.available()
    if missing is not None:
        return {"skipped": missing}
    api.stop()  # the two servers never share the two cores while one is measured
    server = peer.Pygeoapi(database_url, rig.free_port(), work)
    server.start()
    phases = []
    try:
        for kind in datagen.OGC_COLLECTIONS:
            work_list = [(_peer_path(path), e) for path, e in operator_work(probes[kind])]
            # pygeoapi's numberMatched is its own business: rows are what is compared.
            work_list = [(path, type(e)(e.rows)) for path, e in work_list]
            phase = Phase(kind, "anonymous", "pygeoapi", concurrency)
            task = progress.add_task(f"{kind} on pygeoapi", total=per_phase)
            asyncio.run(
                run(server.base, work_list, lambda _p: {}, phase, per_phase,
                    functools.partial(progress.advance, task), warmup=concurrency)
            )  # fmt: skip
            phases.append(phase)
    finally:
        server.stop()
    return {"version": peer.version(), "server": "uvicorn, 1 worker", "phases": phases}
