"""What refusing duplicate keys costs: orjson alone against mdx.core.strict_json, in one run.

    .venv/bin/python benchmarks/strict_json_parse.py [N]

N envelopes (9 positions to 1 incident, as a node sees them) are parsed with orjson.loads,
then with strict_json.loads; best of 5 rounds each, microseconds per envelope. For scale: the
slow path alone (every payload through the stdlib parser) and the whole intake judgement
(`intake.accept`: parse, schema, rules), which includes strict_json.loads.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "services"))

from mdx.core import strict_json  # noqa: E402
from mdx.core.envelope import make_envelope  # noqa: E402
from mdx.core.intake import IntakePolicy, accept  # noqa: E402
from mdx.core.schemas import SchemaSet  # noqa: E402


def payloads(n: int) -> list[tuple[str, bytes]]:
    out = []
    for i in range(n):
        if i % 10 == 9:
            data: dict[str, Any] = {
                "incident_id": str(uuid.UUID(int=i, version=4)),
                "version": 1,
                "category": "sar",
                "status": "reported",
                "title": f"Fishing vessel taking on water #{i}",
                "description": "Crew of 6, pumps failing; requests assistance: ETA 40 min.",
                "location": {"type": "Point", "coordinates": [129.3, 34.2]},
                "observed_at": "2026-11-25T08:00:00Z",
            }
            topic = "mdx/v1/in/ops1/incident"
            envelope = make_envelope("jcg", "ops1", "mdx.incident.v1", data, tlp="AMBER")
        else:
            data = {
                "mmsi": f"431{i:06d}",
                "lat": 33.0 + i / 1e5,
                "lon": 129.0 + i / 1e5,
                "sog": 12.3,
                "cog": 45.0,
                "observed_at": "2026-11-25T08:00:00Z",
                "source_type": "ais-terrestrial",
            }
            topic = "mdx/v1/in/ais1/position"
            envelope = make_envelope("jcg", "ais1", "mdx.position.v1", data, seq=i + 1)
        out.append((topic, orjson.dumps(envelope)))
    return out


def best_us(parse: Callable[[bytes], Any], batch: list[bytes], rounds: int = 5) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for payload in batch:
            parse(payload)
        best = min(best, time.perf_counter() - start)
    return best / len(batch) * 1e6


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    messages = payloads(n)
    batch = [payload for _, payload in messages]
    before = best_us(orjson.loads, batch)
    after = best_us(strict_json.loads, batch)
    stdlib = best_us(lambda p: json.loads(p, object_pairs_hook=dict), batch)
    policy = IntakePolicy(node_id="jcg", default_tlp="GREEN", schemas=SchemaSet())
    topics = {payload: topic for topic, payload in messages}
    judged = best_us(lambda p: accept(topics[p], p, policy), batch, rounds=3)
    print(f"{n} envelopes, mean {sum(map(len, batch)) / n:.0f} B")
    print(f"orjson.loads        {before:6.2f} us/envelope")
    print(f"strict_json.loads   {after:6.2f} us/envelope  (+{after - before:.2f} us)")
    print(f"stdlib + pairs hook {stdlib:6.2f} us/envelope  (the slow path, for scale)")
    print(f"intake.accept       {judged:6.2f} us/envelope  (the whole judgement, for scale)")


if __name__ == "__main__":
    main()
