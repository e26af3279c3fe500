"""Entrypoint: serve a node's API with uvicorn on the configured host and port."""

from __future__ import annotations

import gc

import uvicorn

from mdx.api.app import create_app
from mdx.api.token_key import InsecureSecret
from mdx.core.settings import NodeSettings


def serve(settings: NodeSettings) -> None:
    try:
        app = create_app(settings)
    except InsecureSecret as e:
        # Exit status 1 with the reason on stderr: nothing is served with a guessable key.
        raise SystemExit(f"mdx api refuses to start: {e}") from None
    # What is built by now (modules, routes, schemas, SQL) lives as long as the process: kept
    # out of the cyclic collector's full scans, which otherwise walk it all, mid-request.
    gc.collect()
    gc.freeze()
    uvicorn.run(app, host=settings.api.host, port=settings.api.port)
