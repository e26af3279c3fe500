"""Entrypoint of the share service."""

from __future__ import annotations

from mdx.core.lifecycle import run_until_signalled
from mdx.core.settings import NodeSettings
from mdx.share.service import ShareService


def serve(settings: NodeSettings) -> None:
    run_until_signalled(ShareService(settings))
