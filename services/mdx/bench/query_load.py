"""Concurrent HTTP load for the query benchmark, every answer checked for its status and for the
exact number of rows the data generator placed where it asked.

Two shapes: closed loop (each of N clients sends its next request when the last is answered:
the throughput the server sustains at that concurrency) and open loop at a fixed offered rate
(request i is due at start + i / rate and its latency is counted from then, so a slow answer
delays the ones behind it in the figures too: no coordinated omission).

The clients are aiohttp's: on the same two cores as the server under test, httpx took 1.8 ms of
CPU per request to aiohttp's 0.5 (measured on OGC API pages), time the server did not get.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
from yarl import URL

from mdx.bench import report
from mdx.bench.datagen import Probe

# path and query -> the headers that authenticate it (a bearer token, a fresh signature, none).
Signer = Callable[[str], dict[str, str]]


@dataclass(frozen=True, slots=True)
class Expect:
    """What one answer must hold: its rows (features or track points) and numberMatched."""

    rows: int
    matched: int | None = None


@dataclass(slots=True)
class Phase:
    """One kind of request, as one caller, at one concurrency."""

    kind: str
    caller: str
    server: str
    concurrency: int
    offered_rps: float | None = None  # open loop at this rate; None: closed loop
    requests: int = 0
    ok: int = 0  # answered 200 with exactly the expected rows
    not_200: int = 0
    mismatched: int = 0  # 200 but another number of rows than placed
    rows: int = 0
    expected_rows: int = 0
    elapsed_s: float = 0.0
    latencies_s: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        latency = report.percentiles_ms(self.latencies_s)
        return {
            "kind": self.kind,
            "caller": self.caller,
            "server": self.server,
            "concurrency": self.concurrency,
            "offered_rps": self.offered_rps,
            "requests": self.requests,
            "ok": self.ok,
            "not_200": self.not_200,
            "mismatched": self.mismatched,
            "rows": self.rows,
            "expected_rows": self.expected_rows,
            "elapsed_s": round(self.elapsed_s, 3),
            "throughput_rps": round(self.requests / self.elapsed_s, 1) if self.elapsed_s else 0,
            **{f"{name}_ms": value for name, value in latency.items()},
            "errors": self.errors[:5],
        }


def count_rows(body: dict[str, Any]) -> int:
    """Features of a collection, or points of a track (a Feature with `times`)."""
    if body.get("type") == "FeatureCollection":
        return len(body["features"])
    return len(body["properties"]["times"])


async def run(
    base: str,
    work: Sequence[tuple[str, Expect]],
    sign: Signer,
    phase: Phase,
    requests: int,
    advance: Callable[[int], None] | None = None,
    warmup: int = 0,
) -> Phase:
    """Send `requests` requests cycling over `work` from `phase.concurrency` clients, each as
    soon as the client is free (closed loop) or when due at `phase.offered_rps` (open loop)."""
    # What this process holds by now (the generated data set: some 180,000 objects) is kept out
    # of the cyclic collector's full scans: each took ~60 ms, mid-request, counted as the
    # server's latency.
    gc.collect()
    gc.freeze()
    connector = aiohttp.TCPConnector(limit=phase.concurrency)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as client:

        async def get(path: str) -> tuple[int, bytes]:
            # Sent exactly as written: a partner's signature covers the path and query.
            async with client.get(URL(base + path, encoded=True), headers=sign(path)) as r:
                return r.status, await r.read()

        for path, _ in list(work)[:warmup]:
            await get(path)
        next_index = 0
        rate = phase.offered_rps
        begin = time.perf_counter()

        async def one_client() -> None:
            nonlocal next_index
            while next_index < requests:
                index = next_index
                path, expect = work[index % len(work)]
                next_index += 1
                started = time.perf_counter()
                if rate is not None:
                    due = begin + index / rate
                    if due > started:
                        await asyncio.sleep(due - started)
                    started = due  # latency from when it was due, however late it was sent
                status, content = await get(path)
                phase.latencies_s.append(time.perf_counter() - started)
                phase.requests += 1
                phase.expected_rows += expect.rows
                if status != 200:
                    phase.not_200 += 1
                    phase.errors.append(f"{path}: {status} {content[:200]!r}")
                else:
                    body = orjson.loads(content)
                    got = count_rows(body)
                    phase.rows += got
                    matched = body.get("numberMatched")
                    if got != expect.rows or (
                        expect.matched is not None and matched != expect.matched
                    ):
                        phase.mismatched += 1
                        phase.errors.append(
                            f"{path}: {got} rows (matched {matched}), expected {expect.rows} "
                            f"(matched {expect.matched})"
                        )
                    else:
                        phase.ok += 1
                if advance is not None:
                    advance(1)

        begin = time.perf_counter()
        await asyncio.gather(*(one_client() for _ in range(phase.concurrency)))
        phase.elapsed_s = time.perf_counter() - begin
    return phase


def operator_work(probes: Sequence[Probe]) -> list[tuple[str, Expect]]:
    return [(p.path, Expect(p.rows, p.matched)) for p in probes]


def partner_work(probes: Sequence[Probe]) -> list[tuple[str, Expect]]:
    return [
        (p.path, Expect(p.partner_rows, p.partner_matched))
        for p in probes
        if p.partner_rows is not None
    ]
