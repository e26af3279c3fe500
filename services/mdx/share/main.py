"""Entrypoint of the share service."""

from __future__ import annotations

import signal
from types import FrameType

from mdx.core.settings import NodeSettings
from mdx.share.service import ShareService


def serve(settings: NodeSettings) -> None:
    service = ShareService(settings)

    def _stop(_sig: int, _frame: FrameType | None) -> None:
        service.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    service.run()
