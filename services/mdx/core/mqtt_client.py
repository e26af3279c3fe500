"""paho's client with less work per message: the same protocol, fewer syscalls and objects.

paho reads every packet with at least three `recv()` calls (one byte of command, one per byte
of length, then the body), writes every packet (a 4-byte PUBACK too) with its own `send()`,
and builds several objects for each message it receives or has acknowledged. In an ingest
worker, whose writer thread holds the GIL while it judges and stores a batch, that was over
half of the process's time (py-spy). No maintained Python MQTT client does better (aiomqtt
wraps paho; gmqtt and amqtt are asyncio and would move the services off paho's threads), so
this keeps paho and changes only that:

- reads come from a buffer filled 64 KiB at a time; `pending()` tells paho's loop that bytes
  are waiting there, as it already asks of a TLS socket, so it does not sleep in `select()`;
- queued packets that paho does nothing with once sent (acknowledgements, QoS 1/2
  publishes) go out in one `send()`;
- `ack_all()` acknowledges a committed batch as one queued packet: one wake-up of the
  network thread, one `send()`;
- a publish without properties (all of mdx's) skips paho's per-message Properties object,
  topic matcher and debug formatting; a plain PUBACK, its two decoded objects.

Measured draining a backlog: ingest's own CPU per message ~100 us -> ~60-85 us.
It relies on private methods of paho 2.x (`_create_socket`, `_handle_publish`,
`_handle_pubackcomp`, `_packet_write`, `_packet_queue`); tests/integration/test_mqtt_client.py
pins their behaviour against a live broker.
"""

from __future__ import annotations

import struct
import time
from typing import Any, Literal

import paho.mqtt.client as paho
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

READ_CHUNK = 64 * 1024
# One send() of merged packets stays under this, like one socket buffer.
WRITE_CHUNK = 64 * 1024
_ACKS = frozenset({paho.PUBACK, paho.PUBREC, paho.PUBREL, paho.PUBCOMP})
_PUBACK_SUCCESS = ReasonCode(PacketTypes.PUBACK)
_NO_PROPERTIES = Properties(PacketTypes.PUBACK)  # type: ignore[no-untyped-call]


class BufferedSocket:
    """A socket (plain or TLS) read through a buffer; everything else is the socket's."""

    def __init__(self, sock: Any) -> None:
        self._sock = sock
        self._buf = b""
        self._pos = 0

    def recv(self, bufsize: int) -> bytes:
        if self._pos == len(self._buf):
            data: bytes = self._sock.recv(max(bufsize, READ_CHUNK))
            if len(data) <= bufsize:  # all of it wanted (or b"": closed)
                return data
            self._buf, self._pos = data, 0
        end = self._pos + bufsize
        chunk = self._buf[self._pos : end]
        self._pos = min(end, len(self._buf))
        return chunk

    def pending(self) -> int:
        """Bytes already read and not yet handed out (plus what TLS holds decrypted)."""
        inner = getattr(self._sock, "pending", None)
        return len(self._buf) - self._pos + (inner() if inner else 0)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class Client(paho.Client):
    _filtered_callbacks = False  # whether message_callback_add was used

    def _create_socket(self) -> Any:
        return BufferedSocket(super()._create_socket())

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        # paho reads one packet per call when nothing of ours is in flight: go on while the
        # buffer holds more, so a burst costs one select() and one recv().
        rc = super().loop_read(max_packets)
        for _ in range(1000):
            sock = self._sock
            if rc != MQTTErrorCode.MQTT_ERR_SUCCESS or not isinstance(sock, BufferedSocket):
                break
            if not sock.pending():
                break
            rc = super().loop_read(max_packets)
        return rc

    def message_callback_add(self, sub: str, callback: Any) -> None:
        self._filtered_callbacks = True
        super().message_callback_add(sub, callback)

    def _handle_publish(self) -> MQTTErrorCode:
        """paho's, minus its per-message costs for what mdx's messages never carry: a QoS 0 or
        1 MQTT v5 publish without properties, for a client without per-topic callbacks, is
        handed to `on_message` directly. Anything else goes paho's way."""
        header: int = self._in_packet["command"]
        packet: bytes | bytearray = self._in_packet["packet"]
        qos = (header & 0x06) >> 1
        if self._protocol != paho.MQTTv5 or qos == 2 or self._filtered_callbacks:
            return super()._handle_publish()
        at = 2 + int.from_bytes(packet[:2], "big")
        if at > len(packet):
            return super()._handle_publish()  # malformed: paho says so
        topic = bytes(packet[2:at])
        mid = 0
        if qos:
            mid = int.from_bytes(packet[at : at + 2], "big")
            at += 2
        if at >= len(packet) or packet[at] != 0:  # properties follow (or malformed)
            return super()._handle_publish()
        message = _received(mid, topic, qos, header, packet[at + 1 :])
        on_message = self.on_message
        if on_message is not None:
            with self._in_callback_mutex:
                on_message(self, self._userdata, message)
        if qos and not self._manual_ack:
            return self._send_puback(message.mid)
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    def _handle_pubackcomp(self, cmd: Literal["PUBACK", "PUBCOMP"]) -> MQTTErrorCode:
        """A PUBACK of two bytes (success, no properties: the broker's usual answer) goes to
        `on_publish` with shared success objects instead of two new ones per message."""
        packet = self._in_packet["packet"]
        if cmd != "PUBACK" or len(packet) != 2:
            return super()._handle_pubackcomp(cmd)
        mid = int.from_bytes(packet, "big")
        with self._out_message_mutex:
            if mid in self._out_messages:
                return self._do_on_publish(mid, _PUBACK_SUCCESS, _NO_PROPERTIES)
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    def _packet_write(self) -> MQTTErrorCode:
        _merge_plain_packets(self._out_packet)
        return super()._packet_write()

    def ack_all(self, mids: list[int]) -> None:
        """PUBACK every QoS 1 message in `mids` (manual_ack), as one write."""
        if mids:
            acks = b"".join(struct.pack("!BBH", paho.PUBACK, 2, mid) for mid in mids)
            self._packet_queue(paho.PUBACK, acks, 0, 1)


def _received(
    mid: int, topic: bytes, qos: int, header: int, payload: bytes | bytearray
) -> paho.MQTTMessage:
    """An MQTTMessage as paho makes one, without the MQTTMessageInfo (and its Condition)
    that only a message being sent uses."""
    message: paho.MQTTMessage = object.__new__(paho.MQTTMessage)
    message.mid, message._topic, message.payload = mid, topic, payload
    message.qos, message.retain, message.dup = qos, bool(header & 0x01), bool(header & 0x08)
    message.timestamp, message.state = time.monotonic(), paho.mqtt_ms_invalid
    message.properties = None
    message.info = None  # type: ignore[assignment]
    return message


def _plain(packet: dict[str, Any]) -> bool:
    """Whether paho does nothing with this packet once it is written (so it can be merged)."""
    command = packet["command"] & 0xF0
    return command in _ACKS or (command == paho.PUBLISH and packet["qos"] > 0)


def _merge_plain_packets(out: Any) -> None:
    """Turn the run of plain packets at the head of paho's queue into one packet."""
    if len(out) < 2 or out[0]["pos"] or not _plain(out[0]) or not _plain(out[1]):
        return
    first = out.popleft()
    parts, size = [first["packet"]], first["to_process"]
    while out and size < WRITE_CHUNK and _plain(out[0]):
        packet = out.popleft()
        parts.append(packet["packet"])
        size += packet["to_process"]
    out.appendleft({**first, "packet": b"".join(parts), "to_process": size})
