"""What every `mdx` command takes: the node's config file, and the settings read from it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mdx.core.settings import NodeSettings, load_settings

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        exists=True,
        dir_okay=False,
        help="Node config file (e.g. infra/nodes/jcg.toml). Without it, settings come from "
        "MDX_* environment variables only.",
    ),
]


def settings_of(config: Path | None) -> NodeSettings:
    """The node's settings: the config file (with MDX_* overrides), or the environment only."""
    return load_settings(config) if config else NodeSettings()
