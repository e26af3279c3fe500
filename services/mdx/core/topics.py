"""MQTT topic names of a node's broker (see schemas/asyncapi.yaml)."""

from __future__ import annotations

from typing import Final

PREFIX: Final = "mdx/v1"
INBOUND_FILTER: Final = f"{PREFIX}/in/+/+"

# Inbound topic kind -> the envelope `type` it carries.
KIND_TO_TYPE: Final = {
    "position": "mdx.position.v1",
    "incident": "mdx.incident.v1",
    "sar": "mdx.sar.v1",
    "vessel": "mdx.vessel.v1",
}
# Inbound topic kinds that carry raw sensor text, not envelopes: NMEA 0183 AIS sentences.
AIS_KIND: Final = "ais"
TYPE_TO_KIND: Final = {v: k for k, v in KIND_TO_TYPE.items()}


def inbound(producer: str, kind: str) -> str:
    return f"{PREFIX}/in/{producer}/{kind}"


def receipt(producer: str) -> str:
    return f"{PREFIX}/receipt/{producer}"


def deadletter(producer: str) -> str:
    return f"{PREFIX}/deadletter/{producer}"


def share(sender: str, recipient: str) -> str:
    """The stream of share messages from node `sender` to node `recipient` (bridged)."""
    return f"{PREFIX}/share/{sender}/{recipient}"


def share_receipt(sender: str, recipient: str) -> str:
    """`recipient`'s cumulative receipt of the `sender` -> `recipient` stream (bridged back)."""
    return f"{PREFIX}/share-receipt/{sender}/{recipient}"


def link(partner: str) -> str:
    """Retained state of the bridge to `partner` ("1" up, "0" down), published by Mosquitto."""
    return f"{PREFIX}/link/{partner}"


def status(service: str) -> str:
    """Retained `online`/`offline` of a node service (offline is its MQTT will)."""
    return f"{PREFIX}/status/{service}"


def parse_inbound(topic: str) -> tuple[str, str] | None:
    """(producer, kind) of an inbound topic, or None if the topic is not one."""
    parts = topic.split("/")
    if len(parts) != 5 or parts[0] != "mdx" or parts[1] != "v1" or parts[2] != "in":
        return None
    return parts[3], parts[4]
