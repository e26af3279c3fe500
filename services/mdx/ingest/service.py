"""The ingest service: MQTT in, PostGIS out, acknowledged only after commit.

The paho callback only queues the message (a C-level SimpleQueue: the callback runs once per
message on paho's thread, which shares the GIL with the writer). One writer thread drains the
queue in batches, judges each message (mdx.core.intake), stores the batch in one transaction
(mdx.core.store), then acknowledges every message of the batch, publishes the producers'
receipts and republishes the dead letters. The broker never sends more than
`receive_maximum` unacknowledged messages, so the queue is bounded by it and a slow database
slows intake instead of growing memory.

`[ingest] workers = N` runs N such processes on one MQTT v5 shared subscription; their
receipts are then computed in the database (mdx.core.receipts).
"""

from __future__ import annotations

import base64
import logging
import queue
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import orjson
import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from mdx.core import batches, mqtt_client, sharing, store, topics
from mdx.core import mqtt as node_mqtt
from mdx.core.envelope import utc_now_iso
from mdx.core.intake import Accepted, IntakePolicy, Rejected, accept, parse_topic
from mdx.core.receipts import ReceiptTracker
from mdx.core.schemas import SchemaSet
from mdx.core.settings import NodeSettings
from mdx.ingest.ais import AisIntake, Judged

log = logging.getLogger("mdx.ingest")

# Errors about the data, not the connection: retrying the same rows would fail again.
_REFUSED = (psycopg.DataError, psycopg.IntegrityError, psycopg.errors.InternalError_)

# Of a dead letter's payload, what its announcement carries: base64 of 512 KiB stays well
# inside Mosquitto's max_packet_size of 1 MiB (infra/mosquitto/conf.d/mdx.conf).
ANNOUNCED_PAYLOAD_BYTES = 512 * 1024

# N workers share the inbound topics: the broker hands each message to one of them (MQTT v5
# shared subscription, the same on any broker that speaks v5, clustered or not).
SHARED_INBOUND_FILTER = f"$share/ingest/{topics.INBOUND_FILTER}"

# Keep the session (and its backlog at the broker) across restarts for a week.
SESSION_EXPIRY_S = 7 * 24 * 3600


@dataclass(slots=True)
class Inbound:
    mid: int
    qos: int
    # Packet ids are per connection: an ack is only sent on the connection that delivered.
    epoch: int
    topic: str
    payload: bytes


class IngestService:
    def __init__(self, settings: NodeSettings, schemas: SchemaSet | None = None) -> None:
        self.settings = settings
        cfg = settings.ingest
        self.policy = IntakePolicy(
            node_id=settings.node.id,
            default_tlp=settings.node.default_tlp,
            schemas=schemas or SchemaSet(),
            max_payload_bytes=cfg.max_payload_bytes,
        )
        # What leaves the node is decided as each item is stored (the outbox, same transaction).
        self.route = sharing.router(settings)
        self.ais = AisIntake(self.policy)
        self.receive_maximum = min(65535, cfg.queue_size)
        self.inbox: queue.SimpleQueue[Inbound] = queue.SimpleQueue()
        self.tracker = ReceiptTracker()
        self.stopping = threading.Event()
        self.client = self._make_client()
        self.epoch = 0
        self.handled = 0  # messages this process judged and committed, for its closing log line

    def _make_client(self) -> mqtt_client.Client:
        cfg = self.settings.ingest
        client_id = f"mdx-{self.settings.node.id}-ingest"
        if cfg.worker > 1:
            client_id += f"-{cfg.worker}"
        client = node_mqtt.node_client(self.settings, "ingest", client_id, manual_ack=True)
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        if self._speaks_for_ingest:
            client.will_set(topics.status("ingest"), _status(b"offline"), qos=1, retain=True)
        client.on_message = self._on_message
        client.on_disconnect = self._on_disconnect
        return client

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        if rc.is_failure:
            log.error("broker refused the connection: %s", rc)
            return
        self.epoch += 1
        wanted, other = topics.INBOUND_FILTER, SHARED_INBOUND_FILTER
        if self.settings.ingest.workers > 1:
            wanted, other = other, wanted
        # The session outlives a change of `workers`: drop the form no longer used, or every
        # message would come twice (once shared, once not).
        client.unsubscribe(other)
        client.subscribe(wanted, qos=1)
        log.info("connected to the broker, subscribed to %s", wanted)

    @property
    def _speaks_for_ingest(self) -> bool:
        """Worker 1 alone publishes the service's status (one retained topic for all)."""
        return self.settings.ingest.worker == 1

    def _on_subscribe(self, client: mqtt.Client, *_a: Any) -> None:
        # Subscribed: from now on the broker keeps what arrives for us, even while we are away.
        if self._speaks_for_ingest:
            client.publish(topics.status("ingest"), _status(b"online"), qos=1, retain=True)

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        log.warning("disconnected from the broker: %s", rc)

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        self.inbox.put(Inbound(msg.mid, msg.qos, self.epoch, msg.topic, bytes(msg.payload)))

    def run(self) -> None:
        """Serve until `stop()`; reconnects to the broker and the database as needed."""
        broker = self.settings.broker
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = SESSION_EXPIRY_S
        props.ReceiveMaximum = self.receive_maximum
        self.client.reconnect_delay_set(min_delay=1, max_delay=5)
        self.client.connect_async(
            broker.host, broker.port, keepalive=30, clean_start=False, properties=props
        )
        self.client.loop_start()
        try:
            self._write_loop()
        finally:
            if self._speaks_for_ingest:
                self.client.publish(
                    topics.status("ingest"), _status(b"offline"), qos=1, retain=True
                )
            self.client.disconnect()
            self.client.loop_stop()

    def stop(self) -> None:
        self.stopping.set()

    def _write_loop(self) -> None:
        """Batches from the inbox into the database until `stop()`; when the database is
        unavailable, reconnect and retry the same batch (nothing of it was acknowledged)."""
        cfg = self.settings.ingest
        conn = batches.connect(self.settings.database.url, self.stopping)
        try:
            self.tracker.watermark = store.load_receipts(conn)
            self.tracker.pending = store.load_pending(conn)
            while not self.stopping.is_set():
                batch = batches.next_batch(self.inbox, cfg.batch_size, cfg.batch_max_wait_ms / 1000)
                while batch and not self.stopping.is_set():
                    try:
                        self._process(conn, batch)
                        batch = []
                    except psycopg.OperationalError as e:
                        log.error("database unavailable (%s); retrying the batch", e)
                        conn.close()
                        conn = batches.connect(self.settings.database.url, self.stopping)
        finally:
            conn.close()
            log.info("stopping: handled %d messages", self.handled)

    def _process(self, conn: psycopg.Connection[Any], batch: list[Inbound]) -> None:
        judged = [(m, j) for m in batch for j in self._judge_all(m)]
        accepted = [(m, j) for m, j in judged if isinstance(j.verdict, Accepted)]
        bounced = [
            store.Bounced(j.verdict, m.topic, j.payload)
            for m, j in judged
            if isinstance(j.verdict, Rejected)
        ]
        seqs = [
            (j.verdict.producer, j.verdict.seq)
            for _, j in judged
            if j.verdict is not None and j.verdict.seq is not None
        ]
        safety = [j.safety for _, j in judged if j.safety is not None]
        shared = self.settings.ingest.workers > 1
        receipts = {} if shared else self.tracker.preview(seqs)
        self.route.forget()  # a tally from a batch that rolled back: that batch is routed again
        try:
            # The batch and the policy's withholdings in it commit together (write_batch nests).
            with conn.transaction():
                dead = store.write_batch(
                    conn,
                    [cast(Accepted, j.verdict) for _, j in accepted],
                    bounced,
                    receipts,
                    route=self.route,
                    safety=safety,
                )
                self.route.record_withheld(conn, actor="ingest")
        except _REFUSED as e:
            # One message the database refuses must not block the batch around it.
            log.warning("batch refused by the database (%s); storing one by one", e)
            self.route.forget()
            dead = store.write_batch(conn, [], bounced, receipts, safety=safety)
            for m, j in accepted:
                dead += self._store_or_bounce(conn, m, cast(Accepted, j.verdict), j.payload)
        if shared:
            # After the batch committed: a crash in between redelivers it (unacknowledged), and
            # its seqs are recorded then.
            with conn.transaction():
                receipts = store.advance_receipts(conn, seqs)
        # Committed: only now may the broker forget these messages. A message from an earlier
        # connection is redelivered by the broker (and deduped).
        self.client.ack_all([m.mid for m in batch if m.qos == 1 and m.epoch == self.epoch])
        self.handled += len(batch)
        if not shared:
            self.tracker.apply(seqs)
        for producer, seq in receipts.items():
            body = {"producer": producer, "seq": seq, "time": utc_now_iso()}
            self.client.publish(topics.receipt(producer), orjson.dumps(body), qos=1, retain=True)
        for d in dead:
            self.client.publish(topics.deadletter(d.producer), _deadletter_json(d), qos=1)

    def _judge_all(self, m: Inbound) -> list[Judged]:
        """Verdicts of one message: one for an envelope, one per report or bad line of AIS."""
        parsed = parse_topic(m.topic)
        if parsed is not None and parsed[1] == topics.AIS_KIND:
            try:
                return self.ais.judge(parsed[0], m.payload, datetime.now(UTC))
            except Exception as e:  # as below: a bug must not become a crash loop
                log.exception("AIS intake failed on a message from %s", m.topic)
                return [
                    Judged(Rejected(parsed[0], f"internal error while decoding: {e!r}"), m.payload)
                ]
        return [Judged(self._judge(m), m.payload)]

    def _judge(self, m: Inbound) -> Accepted | Rejected:
        try:
            return accept(m.topic, m.payload, self.policy)
        except Exception as e:  # a bug of ours must not turn one message into a crash loop
            log.exception("intake failed on a message from %s", m.topic)
            producer = (parse_topic(m.topic) or ("unknown", ""))[0]
            return Rejected(producer, f"internal error while judging: {e!r}")

    def _store_or_bounce(
        self, conn: psycopg.Connection[Any], m: Inbound, v: Accepted, payload: bytes
    ) -> list[store.DeadLetterRow]:
        try:
            with conn.transaction():
                dead = store.write_batch(conn, [v], [], route=self.route)
                self.route.record_withheld(conn, actor="ingest")
            return dead
        except _REFUSED as e:
            self.route.forget()
            reason = f"refused by the database: {str(e).splitlines()[0]}"
            bounce = store.Bounced(Rejected(v.producer, reason, v.seq), m.topic, payload)
            return store.write_batch(conn, [], [bounce])


def _status(status: bytes) -> bytes:
    return b'{"service":"ingest","status":"' + status + b'"}'


def _deadletter_json(d: store.DeadLetterRow) -> bytes:
    # The announcement must fit the broker's packet limit, or the broker drops our connection
    # and paho resends the same packet on every reconnect: the database row keeps every byte.
    return orjson.dumps(
        {
            "id": d.id,
            "producer": d.producer,
            "topic": d.topic,
            "reason": d.reason,
            "received_at": d.received_at.isoformat(),
            "payload_base64": base64.b64encode(d.payload[:ANNOUNCED_PAYLOAD_BYTES]).decode(),
            "payload_size": len(d.payload),
        }
    )
