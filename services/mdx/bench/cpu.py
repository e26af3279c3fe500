"""Where a step's CPU went: the time each part of the pipeline spent (from /proc), per message.

On a machine whose cores the load generator, the broker, the node and PostgreSQL all share,
the sum of these per-message costs is what caps the rate: two cores give 2,000,000 us of CPU
per second. PostgreSQL is counted as the backends connected to the step's database
(`pg_stat_activity`), so other databases on the same server do not count; its background
writers, shared by all databases, are left out, and so is the benchmark's own watcher, whose
polls (100 a second) would otherwise weigh on the slow steps.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from mdx.bench import observe
from mdx.bench.rig import Node

_TICKS = os.sysconf("SC_CLK_TCK")


def process_seconds(pid: int) -> float:
    """User + system CPU seconds of one process so far (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS


def sample(nodes: Iterable[Node], loader_pid: int) -> dict[str, float]:
    """CPU seconds so far of each part: load generator, and per node its broker, services
    (ingest workers together) and database backends."""
    out = {"load generator": process_seconds(loader_pid)}
    for node in nodes:
        prefix = f"{node.id} " if node.partners_toml else ""
        for name, proc in node.procs.items():
            part = prefix + name.split("-")[0]  # ingest-2 counts as ingest
            out[part] = out.get(part, 0.0) + process_seconds(proc.pid)
        backends = node.scalar(
            "SELECT array_agg(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND application_name <> %s",
            observe.APPLICATION_NAME,
        )
        out[prefix + "postgresql"] = sum(process_seconds(p) for p in backends or [])
    return out


def per_message_us(
    before: dict[str, float], after: dict[str, float], messages: int
) -> dict[str, Any]:
    """Each part's CPU per message (us), their total, and the rate that total allows on the
    machine's cores."""
    parts = {
        k: round((after[k] - before.get(k, 0.0)) * 1e6 / messages, 1)
        for k in after
        if k in before  # a process started during the step has no baseline
    }
    total = round(sum(parts.values()), 1)
    cores = os.cpu_count() or 1
    return {
        "parts": parts,
        "total": total,
        "cores": cores,
        "rate_the_total_allows": round(cores * 1e6 / total) if total > 0 else None,
    }
