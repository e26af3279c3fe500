"""Typed settings of one node, read from its TOML file with environment overrides.

Settings are built by entrypoints (the CLI, the app factory) and passed in; nothing reads
them at import time.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from mdx.core.auth_settings import AuthSettings
from mdx.cot.settings import CotSection
from mdx.detect.settings import DetectSettings
from mdx.feed.config import FeedConfig, unique_producers

Tlp = Literal["CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED"]


NODE_ID = r"^[a-z][a-z0-9-]{1,31}$"


class NodeSection(BaseModel):
    id: str = Field(pattern=NODE_ID)
    name: str = ""
    default_tlp: Tlp = "GREEN"
    # This node's Ed25519 private key (PEM); `mdx keys init` creates it.
    signing_key: Path = Path("var/keys/node.key")
    # A demo or test node: generated secrets (MQTT passwords, the API's token key) are kept in
    # var/ and defaults are allowed. A real node (false) refuses to start with a default secret.
    demo: bool = False


class PartnerSection(BaseModel):
    """A partner node: how to reach it, how to check what it signs, what it may receive."""

    id: str = Field(pattern=NODE_ID)
    name: str = ""
    broker_host: str = "127.0.0.1"
    broker_port: int
    # The partner broker's TLS listener, which our bridge dials with the certificate the
    # partner's CA issued to us (`mdx pki csr` / `mdx pki accept`).
    broker_tls_port: int = 0
    api_url: str
    # The partner's Ed25519 public key (PEM file): its entry in this node's trust store.
    public_key: Path
    # CISE purposes the partner is registered for; an item with a purpose goes only to them.
    purposes: list[str] = Field(default_factory=list)
    # Whether personal data (names of persons) may be released to it unredacted.
    personal_data: bool = False


class ProducerSection(BaseModel):
    """A producer (or operator console) allowed on this node's broker: it publishes only under
    mdx/v1/in/{id}/ and reads only its own receipts and dead letters."""

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    role: Literal["producer", "console"] = "producer"


class TrustedNode(BaseModel):
    """A node whose signature this node accepts on items that reach it through a partner,
    without a link of its own (its public key, exchanged out of band)."""

    id: str = Field(pattern=NODE_ID)
    public_key: Path


class SharingSection(BaseModel):
    # An outbox row not receipted by its recipient after this long is published again.
    republish_after_s: float = Field(default=10.0, gt=0)
    # How long a signed share message stays valid; a later arrival is refused as a replay
    # (what it carried comes again by backfill from the feed).
    message_validity_s: int = Field(default=3600, gt=0)
    batch_size: int = Field(default=500, ge=1)
    # Pass partners' items on to our other partners (as far as their markings allow). Off by
    # default: in a full mesh every partner already has what the origin released to it, and
    # forwarding everything would multiply the traffic by the number of partners.
    reshare: bool = False
    # How often each partner's feed is asked for what its stream may have lost, and how long a
    # gap in a stream may stand before that is done at once.
    backfill_interval_s: float = Field(default=15.0, gt=0)
    gap_grace_s: float = Field(default=3.0, gt=0)


class BrokerSection(BaseModel):
    host: str = "127.0.0.1"
    # The password listener, for the node's own services and its local producers.
    port: int = 18831
    data_dir: Path = Path("var/mosquitto")
    # The TLS listener (client certificates from this node's CA) for partners' bridges and
    # remote producers and consoles; 0: none (a node without partners may do without).
    tls_port: int = 0
    # Names (besides 127.0.0.1, localhost and `host`) in the broker's server certificate: the
    # names partners dial, e.g. a compose service name.
    tls_names: list[str] = Field(default_factory=list)
    # The node's MQTT security material: its CA, issued certificates, the partners' bridge
    # certificates, and (demo only) the generated passwords; see mdx.node.pki.
    security_dir: Path = Path("var/security")


class DatabaseSection(BaseModel):
    url: str = "postgresql+psycopg://mdx:mdx@127.0.0.1:5432/mdx"


class ApiSection(BaseModel):
    host: str = "127.0.0.1"
    port: int = 8101
    # A live stream ends after this long and the client reconnects with Last-Event-ID, so
    # every connection is authenticated again at least this often (it also ends when the
    # caller's access token expires, and within seconds of its account being disabled).
    stream_max_s: float = Field(default=900, gt=0)


class IngestSection(BaseModel):
    batch_size: int = Field(default=1000, ge=1)
    batch_max_wait_ms: int = Field(default=50, ge=1)
    # Bounded so that a slow database slows intake (the broker holds the rest).
    queue_size: int = Field(default=5000, ge=1)
    max_payload_bytes: int = 256 * 1024
    # Ingest processes sharing one MQTT v5 shared subscription ($share/ingest/...), each with
    # its own database connection; `mdx node run` starts this many.
    workers: int = Field(default=1, ge=1, le=64)
    # Which of them this process is (1..workers), set by whoever starts it
    # (MDX_INGEST__WORKER); worker 1 keeps the client id a single ingest always had.
    worker: int = Field(default=1, ge=1)


class ZonesSection(BaseModel):
    # The zone files (*.geojson) the node loads at start (`mdx zones load` reloads them); a
    # relative path is taken from the working directory, like every path here. Missing: no zones.
    dir: Path = Path("infra/zones")


class NodeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MDX_", env_nested_delimiter="__")

    node: NodeSection
    broker: BrokerSection = BrokerSection()
    database: DatabaseSection = DatabaseSection()
    api: ApiSection = ApiSection()
    ingest: IngestSection = IngestSection()
    sharing: SharingSection = SharingSection()
    zones: ZonesSection = ZonesSection()
    auth: AuthSettings = AuthSettings()  # the API's login tokens and rate limit
    partners: list[PartnerSection] = Field(default_factory=list)
    trusted: list[TrustedNode] = Field(default_factory=list)
    # MQTT producers and consoles (TOML `[[producers]]`); detect and each feed are added.
    producers: list[ProducerSection] = Field(default_factory=list)
    # Behaviour detection over the positions the node holds (TOML `[detect]`).
    detect: DetectSettings = DetectSettings()
    # AIS TCP feeds (TOML `[[feeds]]`): `mdx node run` runs `mdx feed run` for each.
    feeds: list[FeedConfig] = Field(default_factory=list)
    # Cursor-on-Target for TAK clients (TOML `[cot]`, `mdx cot serve`).
    cot: CotSection = CotSection()

    @field_validator("feeds")
    @classmethod
    def _one_feed_per_producer(cls, feeds: list[FeedConfig]) -> list[FeedConfig]:
        unique_producers(feeds)
        return feeds

    def partner(self, node_id: str) -> PartnerSection | None:
        return next((p for p in self.partners if p.id == node_id), None)

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
