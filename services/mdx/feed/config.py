"""One AIS TCP feed of a node: a `[[feeds]]` entry of its TOML file."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# The producer part of an envelope source urn:mdx:{node}:{producer} (schemas/asyncapi.yaml,
# mdx.core.envelope); it is also a topic level, which this pattern keeps free of / + #.
PRODUCER_ID = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


def parse_address(address: str) -> tuple[str, int]:
    """`host:port` (IPv6 as `[::1]:port`) -> (host, port); ValueError if it is not one."""
    host, sep, port_text = address.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not sep or not host or not port_text.isascii() or not port_text.isdigit():
        raise ValueError(f"{address!r} is not host:port")
    port = int(port_text)
    if not 0 < port < 65536:
        raise ValueError(f"{address!r}: port {port} is out of range")
    return host, port


class FeedConfig(BaseModel):
    """Where a feed's lines come from and how they are batched; exactly one of connect/listen."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    producer: str = Field(pattern=PRODUCER_ID)
    # "host:port" of a receiver or aggregator to connect to (reconnecting with back-off)...
    connect: str | None = None
    # ...or "host:port" to listen on for senders (several may connect at once).
    listen: str | None = None
    # A batch (one MQTT message) is sent at this many lines, or this long after its first line.
    batch_lines: int = Field(default=100, ge=1, le=10_000)
    batch_ms: int = Field(default=100, ge=0)
    # Lines held while the broker is away; when full, the oldest are dropped (and counted).
    queue_lines: int = Field(default=100_000, ge=1)
    # Back-off between attempts to reach the feed (connect mode) grows to this.
    reconnect_max_s: float = Field(default=30.0, gt=0)
    # A connection that brings nothing for this long is closed (and, connect mode, redialled).
    idle_timeout_s: float = Field(default=300.0, gt=0)

    @field_validator("connect", "listen")
    @classmethod
    def _is_address(cls, value: str | None) -> str | None:
        if value is not None:
            parse_address(value)
        return value

    @model_validator(mode="after")
    def _one_mode(self) -> Self:
        if (self.connect is None) == (self.listen is None):
            raise ValueError("a feed needs exactly one of connect or listen")
        return self

    @property
    def mode(self) -> str:
        return "connect" if self.connect is not None else "listen"

    @property
    def address(self) -> tuple[str, int]:
        return parse_address(self.connect or self.listen or "")


def select_feed(
    feeds: Sequence[FeedConfig],
    producer: str,
    connect: str | None = None,
    listen: str | None = None,
) -> FeedConfig:
    """The feed `mdx feed run` runs: the `[[feeds]]` entry of `producer`, its address replaced
    by `connect`/`listen` if given; without an entry, a feed made of those (and the defaults).

    ValueError (pydantic's ValidationError is one) says what is wrong.
    """
    if connect is not None and listen is not None:
        raise ValueError("give --connect or --listen, not both")
    entry = next((f for f in feeds if f.producer == producer), None)
    if entry is None:
        if connect is None and listen is None:
            raise ValueError(
                f"no [[feeds]] entry with producer {producer!r}: give --connect or --listen"
            )
        return FeedConfig(producer=producer, connect=connect, listen=listen)
    if connect is None and listen is None:
        return entry
    return FeedConfig.model_validate(entry.model_dump() | {"connect": connect, "listen": listen})


def unique_producers(feeds: Sequence[FeedConfig]) -> None:
    """ValueError if two feeds share a producer id (they would share a topic and a client id,
    and the broker would keep disconnecting one for the other)."""
    seen: set[str] = set()
    for feed in feeds:
        if feed.producer in seen:
            raise ValueError(f"two [[feeds]] entries have producer {feed.producer!r}")
        seen.add(feed.producer)
