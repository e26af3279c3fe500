"""`mdx bench ingest` (being built: issue 8)."""

from __future__ import annotations

import typer


def command() -> None:
    """Not built yet."""
    raise typer.Exit(2)
