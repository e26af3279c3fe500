"""Entrypoint: serve a node's API with uvicorn on the configured host and port."""

from __future__ import annotations

import uvicorn

from mdx.api.app import create_app
from mdx.core.settings import NodeSettings


def serve(settings: NodeSettings) -> None:
    uvicorn.run(create_app(settings), host=settings.api.host, port=settings.api.port)
