"""Entrypoint of the ingest service."""

from __future__ import annotations

import signal
from types import FrameType

from mdx.core.settings import NodeSettings
from mdx.ingest.service import IngestService


def serve(settings: NodeSettings) -> None:
    service = IngestService(settings)

    def _stop(_sig: int, _frame: FrameType | None) -> None:
        service.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    service.run()
