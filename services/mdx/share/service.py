"""The share service: this node's side of every partner link.

Outbound, it numbers, seals and publishes the outbox (mdx.share.outbound) and applies the
partners' receipts. Inbound, it takes partners' share messages, verifies and stores them with
their provenance (mdx.share.inbound), acknowledging each only after its row or dead letter is
committed, and receipts each partner's stream cumulatively. Both sides go through the node's
own broker; the Mosquitto bridges carry the streams between nodes.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Any

import orjson
import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from mdx.core import batches, sharing, store, topics
from mdx.core import mqtt as node_mqtt
from mdx.core.intake import IntakePolicy
from mdx.core.keys import NodeKeys, load_node_keys
from mdx.core.receipts import ReceiptTracker
from mdx.core.schemas import SchemaSet
from mdx.core.settings import NodeSettings
from mdx.share import backfill, inbound, outbound

log = logging.getLogger("mdx.share")

SESSION_EXPIRY_S = 7 * 24 * 3600
RECEIVE_MAXIMUM = 2000
# Receipts of inbound streams are kept in producer_receipts under this prefix.
NODE_PREFIX = "node:"
# One backfill round pulls at most this many pages (of backfill.PAGE) per partner.
MAX_BACKFILL_PAGES = 40


class ShareService:
    def __init__(
        self,
        settings: NodeSettings,
        schemas: SchemaSet | None = None,
        keys: NodeKeys | None = None,
    ) -> None:
        self.settings = settings
        self.me = settings.node.id
        self.keys = keys or load_node_keys(settings)
        self.policy = IntakePolicy(
            node_id=self.me,
            default_tlp=settings.node.default_tlp,
            schemas=schemas or SchemaSet(),
            max_payload_bytes=settings.ingest.max_payload_bytes,
        )
        self.route = sharing.router(settings)
        self.tracker = ReceiptTracker()
        self.reorder = inbound.Reorder()
        # (mid or None for a backfilled message, connection epoch, topic, payload)
        self.inbox: queue.Queue[tuple[int | None, int, str, bytes]] = queue.Queue()
        self.receipts: queue.Queue[tuple[str, int]] = queue.Queue()
        self.links: queue.Queue[tuple[str, bool]] = queue.Queue()
        self.heads: queue.Queue[tuple[str, int]] = queue.Queue()
        # sender -> when a gap in its stream was first seen (cleared when it fills)
        self.gaps: dict[str, float] = {}
        self.stopping = threading.Event()
        self.wake = threading.Event()
        self.epoch = 0
        self.client = node_mqtt.node_client(
            settings, "share", f"mdx-{self.me}-share", manual_ack=True
        )
        self.client.max_queued_messages_set(0)
        self.client.max_inflight_messages_set(1000)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message

    # -- MQTT ------------------------------------------------------------------------
    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        if rc.is_failure:
            log.error("broker refused the connection: %s", rc)
            return
        self.epoch += 1
        client.subscribe(
            [
                (topics.share("+", self.me), 1),
                (topics.share_receipt(self.me, "+"), 1),
                (topics.link("+"), 1),
            ]
        )
        log.info("connected; receiving streams to %s and their receipts", self.me)

    def _on_message(self, client: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        parts = msg.topic.split("/")
        if parts[2] == "link":  # the bridge's own notice: "1" connected, "0" not
            self.links.put((parts[3], msg.payload == b"1"))
            client.ack(msg.mid, msg.qos)
            return
        if parts[2] == "share-receipt":
            try:
                seq = int(orjson.loads(msg.payload)["seq"])
            except Exception:  # a malformed receipt changes nothing: log it and move on
                log.warning("ignoring a malformed receipt on %s", msg.topic)
            else:
                self.receipts.put((parts[4], seq))
                self.wake.set()
            client.ack(msg.mid, msg.qos)
            return
        self.inbox.put((msg.mid, self.epoch, msg.topic, bytes(msg.payload)))

    # -- lifecycle ---------------------------------------------------------------------
    def run(self) -> None:
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = SESSION_EXPIRY_S
        props.ReceiveMaximum = RECEIVE_MAXIMUM
        broker = self.settings.broker
        self.client.reconnect_delay_set(min_delay=1, max_delay=5)
        self.client.connect_async(
            broker.host, broker.port, keepalive=30, clean_start=False, properties=props
        )
        self.client.loop_start()
        sender = threading.Thread(target=self._outbound_loop, name="outbound", daemon=True)
        sender.start()
        threading.Thread(target=self._outbox_listener, name="outbox-listener", daemon=True).start()
        threading.Thread(target=self._backfill_loop, name="backfill", daemon=True).start()
        try:
            self._inbound_loop()
        finally:
            self.stopping.set()
            self.wake.set()
            sender.join(timeout=10)
            self.client.disconnect()
            self.client.loop_stop()

    def stop(self) -> None:
        self.stopping.set()
        self.wake.set()

    # -- outbound ----------------------------------------------------------------------
    def _outbound_loop(self) -> None:
        cfg = self.settings.sharing
        conn = batches.connect(self.settings.database.url, self.stopping)
        while not self.stopping.is_set():
            try:
                while not self.receipts.empty():
                    peer, seq = self.receipts.get_nowait()
                    outbound.mark_delivered(conn, peer, seq)
                while not self.links.empty():
                    inbound.record_link(conn, *self.links.get_nowait())
                while not self.heads.empty():
                    inbound.record_head(conn, *self.heads.get_nowait())
                outbound.number(conn)
                sealed = outbound.due(
                    conn,
                    self.keys,
                    republish_after_s=cfg.republish_after_s,
                    validity_s=cfg.message_validity_s,
                    limit=cfg.batch_size,
                )
                for s in sealed:
                    self.client.publish(topics.share(self.me, s.recipient), s.payload, qos=1)
                if sealed:
                    outbound.mark_published(conn, [s.outbox_id for s in sealed])
                else:
                    self.wake.wait(0.2)
                    self.wake.clear()
            except psycopg.OperationalError as e:
                log.error("database unavailable (%s); retrying", e)
                conn.close()
                conn = batches.connect(self.settings.database.url, self.stopping)
        conn.close()

    def _outbox_listener(self) -> None:
        """Wake the outbound loop as soon as a commit adds to the outbox (the NOTIFY of
        store.write_batch) rather than at its next poll, which waits up to 0.2 s."""
        while not self.stopping.is_set():
            try:
                dsn = store.libpq_dsn(self.settings.database.url)
                with psycopg.connect(dsn, autocommit=True) as conn:
                    conn.execute(f"LISTEN {store.OUTBOX_CHANNEL}")
                    while not self.stopping.is_set():
                        for _ in conn.notifies(timeout=1.0):
                            self.wake.set()
            except psycopg.OperationalError as e:
                log.warning("not listening for outbox rows (%s); polling until it works", e)
                self.stopping.wait(1.0)

    # -- inbound -----------------------------------------------------------------------
    def _inbound_loop(self) -> None:
        def load_receipts(conn: psycopg.Connection[Any]) -> None:
            self.tracker.watermark = {
                p.removeprefix(NODE_PREFIX): s
                for p, s in store.load_receipts(conn).items()
                if p.startswith(NODE_PREFIX)
            }

        batches.drain(
            self.settings.database.url,
            self.inbox,
            self._process,
            self.stopping,
            size=500,
            max_wait_s=0.05,
            on_connect=load_receipts,
        )

    # -- backfill ----------------------------------------------------------------------
    def _backfill_loop(self) -> None:
        cfg = self.settings.sharing
        last = 0.0
        while not self.stopping.wait(0.5):
            now = time.monotonic()
            gapped = {s for s, t in self.gaps.items() if now - t > cfg.gap_grace_s}
            if now - last < cfg.backfill_interval_s and not gapped:
                continue
            last = now
            for partner in self.settings.partners:
                if partner.id in gapped or not gapped:
                    self._backfill(partner)
                    self.gaps.pop(partner.id, None)

    def _backfill(self, partner: Any) -> None:
        since = self.tracker.watermark.get(partner.id, 0)
        try:
            page = backfill.fetch(partner, self.keys, since)
        except Exception as e:  # a partner that cannot be reached now is asked again later
            log.debug("backfill from %s failed: %s", partner.id, e)
            return
        self.heads.put((partner.id, page.head))
        if page.messages:
            log.info(
                "backfilling %d messages from %s after seq %d",
                len(page.messages),
                partner.id,
                since,
            )
        topic = topics.share(partner.id, self.me)
        for payload in page.messages:
            self.inbox.put((None, self.epoch, topic, payload))

    def _process(
        self, conn: psycopg.Connection[Any], batch: list[tuple[int | None, int, str, bytes]]
    ) -> None:
        judged = inbound.judge(
            [(t, p) for _, _, t, p in batch], self.keys, self.policy, self.tracker.watermark
        )
        after = self.tracker.watermark
        for sender, seq, item in judged.opened:
            self.reorder.add(sender, seq, item, after.get(sender, 0))
        for sender, seq in judged.placed:
            self.reorder.add(sender, seq, None, after.get(sender, 0))
        ready = self.reorder.release(after)
        seqs = [(sender, seq) for sender, seq, _ in ready]
        moved = self.tracker.preview(seqs)
        accepted = [i for _, _, i in ready if i is not None]
        bounced = judged.refused
        self.route.forget()  # a tally from a batch that rolled back: that batch is routed again
        # The batch, its audit trail and its stream marks commit together (write_batch nests).
        with conn.transaction():
            dead = store.write_batch(
                conn,
                accepted,
                bounced,
                {NODE_PREFIX + s: n for s, n in moved.items()},
                route=self.route,
            )
            inbound.audit_received(conn, ready)
            inbound.audit_refusals(conn, dead)
            self.route.record_withheld(conn, actor="share")
            if moved:
                inbound.record_seen(conn, moved)
        self.client.ack_all(
            [mid for mid, epoch, _, _ in batch if mid is not None and epoch == self.epoch]
        )
        self.tracker.apply(seqs)
        gapped = self.reorder.gapped()
        for sender in gapped - set(self.gaps):
            self.gaps[sender] = time.monotonic()
        for sender in set(self.gaps) - gapped:
            self.gaps.pop(sender, None)
        for sender, seq in moved.items():
            self.client.publish(
                inbound.receipt_topic(sender, self.me),
                inbound.receipt_body(sender, seq),
                qos=1,
                retain=True,
            )
        if accepted:
            self.wake.set()  # re-shared items may be waiting in the outbox
