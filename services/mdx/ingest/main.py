"""Entrypoint of the ingest service."""

from __future__ import annotations

from mdx.core.lifecycle import run_until_signalled
from mdx.core.settings import NodeSettings
from mdx.ingest.service import IngestService


def serve(settings: NodeSettings) -> None:
    run_until_signalled(IngestService(settings))
