"""The `[cot]` section of a node's config: the Cursor-on-Target streaming server (mdx.cot)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class CotSection(BaseModel):
    """Where `mdx cot serve` listens and how it judges freshness. `mdx node run` starts it
    only when `enabled`."""

    enabled: bool = False
    # Both listeners bind this address. The plain TCP one serves the node's own network (its
    # clients are the node's own viewers): bind it to an interface only that network reaches.
    host: str = "127.0.0.1"
    # 0: no such listener. TLS asks for a client certificate from the node's CA (mdx.node.pki).
    tcp_port: int = Field(default=0, ge=0, le=65535)
    tls_port: int = Field(default=0, ge=0, le=65535)
    # How often each connection looks for new incident versions and positions.
    poll_s: float = Field(default=1.0, gt=0)
    # A vessel's event goes stale this long after its position was observed; an open
    # incident's this long after it was sent (it is sent again before then).
    vessel_stale_minutes: float = Field(default=10.0, gt=0)
    incident_stale_minutes: float = Field(default=24 * 60.0, gt=0)
