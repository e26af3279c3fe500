"""Typed settings of one node, read from its TOML file with environment overrides.

Settings are built by entrypoints (the CLI, the app factory) and passed in; nothing reads
them at import time.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

Tlp = Literal["CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED"]


class NodeSection(BaseModel):
    id: str = Field(pattern=r"^[a-z][a-z0-9-]{1,31}$")
    name: str = ""
    default_tlp: Tlp = "GREEN"


class BrokerSection(BaseModel):
    host: str = "127.0.0.1"
    port: int = 18831
    data_dir: Path = Path("var/mosquitto")


class DatabaseSection(BaseModel):
    url: str = "postgresql+psycopg://mdx:mdx@127.0.0.1:5432/mdx"


class ApiSection(BaseModel):
    host: str = "127.0.0.1"
    port: int = 8101


class IngestSection(BaseModel):
    batch_size: int = Field(default=1000, ge=1)
    batch_max_wait_ms: int = Field(default=50, ge=1)
    # Bounded so that a slow database slows intake (the broker holds the rest).
    queue_size: int = Field(default=5000, ge=1)
    max_payload_bytes: int = 256 * 1024


class NodeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MDX_", env_nested_delimiter="__")

    node: NodeSection
    broker: BrokerSection = BrokerSection()
    database: DatabaseSection = DatabaseSection()
    api: ApiSection = ApiSection()
    ingest: IngestSection = IngestSection()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment wins over the file, so one file serves many deployments.
        return (env_settings, init_settings)


def load_settings(path: Path | str) -> NodeSettings:
    """Read a node's TOML file (relative paths in it are taken from the working directory)."""
    with Path(path).open("rb") as f:
        raw: dict[str, Any] = tomllib.load(f)
    return NodeSettings(**raw)
