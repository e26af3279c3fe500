"""Building and reading CloudEvents envelopes (the shape is defined by schemas/envelope)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

from mdx.core.schemas import envelope_data_schemas

_SOURCE = re.compile(r"^urn:mdx:([a-z][a-z0-9-]{1,31}):([A-Za-z0-9][A-Za-z0-9._-]{0,63})$")


def source_urn(node: str, producer: str) -> str:
    return f"urn:mdx:{node}:{producer}"


def parse_source(source: str) -> tuple[str, str] | None:
    """(node, producer) named by an envelope's `source`, or None if it is not an mdx URN."""
    m = _SOURCE.match(source)
    return (m.group(1), m.group(2)) if m else None


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def make_envelope(
    node: str,
    producer: str,
    type_: str,
    data: dict[str, Any],
    *,
    tlp: str | None = None,
    relto: list[str] | None = None,
    purpose: str | None = None,
    seq: int | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    """A structured-mode CloudEvent carrying `data`, with optional handling markings."""
    envelope: dict[str, Any] = {
        "specversion": "1.0",
        "id": event_id or str(uuid.uuid4()),
        "source": source_urn(node, producer),
        "type": type_,
        "time": utc_now_iso(),
        "datacontenttype": "application/json",
        "dataschema": envelope_data_schemas()[type_],
        "data": data,
    }
    if tlp is not None:
        envelope["tlp"] = tlp
    if relto:
        envelope["relto"] = " ".join(relto)
    if purpose is not None:
        envelope["purpose"] = purpose
    if seq is not None:
        envelope["seq"] = seq
    return envelope
