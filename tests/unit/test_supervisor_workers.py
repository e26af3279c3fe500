"""`[ingest] workers = N`: the supervisor runs N ingest processes, each told which one it is."""

from __future__ import annotations

from pathlib import Path

from mdx.core.settings import NodeSettings
from mdx.node import supervisor


def test_one_ingest_process_per_worker_each_running_mdx_ingest_run() -> None:
    one = NodeSettings(node={"id": "jcg"})
    three = NodeSettings(node={"id": "jcg"}, ingest={"workers": 3})
    assert supervisor.ingest_workers(one) == ["ingest"]
    assert supervisor.ingest_workers(three) == ["ingest", "ingest-2", "ingest-3"]
    argv = supervisor._argv("ingest-3", Path("jcg.toml"))
    assert argv[-4:] == ["ingest", "run", "--config", "jcg.toml"]
