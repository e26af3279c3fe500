"""MQTT security of a node's broker, asserted by what is delivered: Mosquitto answers a forbidden
subscribe with "granted", so every denial is checked by a subscriber that may read the topic
getting nothing, next to an allowed message that does arrive.

The broker is node JCG's, started as `mdx node run` starts it (mdx.node.security.prepare), with
partners KCG and USCG and producers alpha and bravo; KCG's bridge certificate is signed by
JCG's CA from a CSR made with KCG's own key, as `mdx pki csr` / `mdx pki sign` do.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.reasoncodes import ReasonCode

from mdx.core import mqtt, topics
from mdx.core.mqtt import Credentials
from mdx.core.settings import NodeSettings
from mdx.node import broker, pki, security
from tests.conftest import free_port

NOT_AUTHORIZED = 135  # MQTT v5 reason code
TIMEOUT = 5.0


@dataclass
class Jcg:
    settings: NodeSettings
    proc: Any
    ca: pki.Pki
    kcg_bridge: Credentials
    work: Path

    def creds(self, identity: str) -> Credentials:
        return mqtt.credentials(self.settings, identity)

    def tls(self, cert: Path, key: Path, ca: Path | None = None) -> Credentials:
        return Credentials("", None, ca or self.ca.ca_cert, cert, key)

    def restart_broker(self) -> None:
        """What `mdx node run` does when the CRL changes."""
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.proc = _start(self.settings)


def _start(settings: NodeSettings) -> Any:
    auth = security.prepare(settings)
    return broker.start(settings.broker.port, settings.broker.data_dir, auth, settings.broker.host)


@pytest.fixture
def jcg() -> Iterator[Jcg]:
    work = Path(tempfile.mkdtemp(prefix="mdx-mqtt-security-"))
    work.chmod(0o755)  # the broker's own user must reach its folder
    partner = {"broker_tls_port": 1, "api_url": "http://127.0.0.1:1", "public_key": "x.pub"}
    settings = NodeSettings(
        node={"id": "jcg", "demo": True},
        broker={
            "port": free_port(),
            "tls_port": free_port(),
            "data_dir": work / "mosquitto",
            "security_dir": work / "security",
        },
        partners=[
            {"id": "kcg", "broker_port": 1, **partner},
            {"id": "uscg", "broker_port": 1, **partner},
        ],
        producers=[{"id": "alpha"}, {"id": "bravo"}],
    )
    ca = pki.Pki.of(settings.broker.security_dir)
    pki.init(ca, "jcg", security.server_names(settings))
    # KCG's side: its own key and CSR; JCG's CA signs it as bridge-kcg.
    kcg = pki.Pki(work / "kcg-pki")
    csr = pki.make_csr(kcg, "kcg", "jcg")
    cert = work / "kcg-bridge.crt"
    cert.write_bytes(pki.sign_partner(ca, csr.read_bytes(), "kcg"))
    kcg_key = kcg.partner_files("jcg")[1]
    node = Jcg(
        settings, _start(settings), ca, Credentials("", None, ca.ca_cert, cert, kcg_key), work
    )
    try:
        yield node
    finally:
        node.proc.terminate()
        node.proc.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


class Session:
    """One MQTT v5 client: what CONNACK said, what each PUBACK said, what was delivered."""

    def __init__(self, settings: NodeSettings, creds: Credentials, name: str) -> None:
        self.connack: ReasonCode | None = None
        self.pubacks: dict[int, int] = {}
        self.got: list[tuple[str, bytes]] = []
        self.subscribed = threading.Event()
        self.lock = threading.Lock()
        self.client = mqtt.client(creds, f"test-{name}")
        self.client.on_connect = self._on_connect
        self.client.on_publish = self._on_publish
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *_a: self.subscribed.set()
        b = settings.broker
        port = b.tls_port if creds.certfile else b.port
        try:
            self.client.connect(b.host, port, keepalive=10)
        except OSError:  # a TLS handshake the broker refused
            return
        self.client.loop_start()
        deadline = time.monotonic() + TIMEOUT
        while self.connack is None and time.monotonic() < deadline:
            time.sleep(0.02)

    @property
    def accepted(self) -> bool:
        return self.connack is not None and not self.connack.is_failure

    def _on_connect(self, _c: Any, _u: Any, _f: Any, rc: ReasonCode, _p: Any) -> None:
        self.connack = rc

    def _on_publish(self, _c: Any, _u: Any, mid: int, rc: ReasonCode, _p: Any) -> None:
        with self.lock:
            self.pubacks[mid] = rc.value

    def _on_message(self, _c: Any, _u: Any, msg: paho.MQTTMessage) -> None:
        with self.lock:
            self.got.append((msg.topic, msg.payload))

    def subscribe(self, topic_filter: str) -> None:
        self.subscribed.clear()
        self.client.subscribe(topic_filter, qos=1)
        assert self.subscribed.wait(TIMEOUT)

    def publish(self, topic: str, payload: bytes = b"x") -> int:
        """Publish at QoS 1 and return the PUBACK's reason code."""
        mid = self.client.publish(topic, payload, qos=1).mid
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            with self.lock:
                if mid in self.pubacks:
                    return self.pubacks[mid]
            time.sleep(0.01)
        raise AssertionError(f"no PUBACK for {topic}")

    def wait_for(self, payload: bytes) -> list[tuple[str, bytes]]:
        """Everything delivered up to and including `payload` (published last, by the same
        client as the rest: what was not delivered before it never will be)."""
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            with self.lock:
                if any(p == payload for _t, p in self.got):
                    return list(self.got)
            time.sleep(0.01)
        raise AssertionError(f"{payload!r} never arrived; got {self.got}")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def sessions() -> Iterator[list[Session]]:
    made: list[Session] = []
    yield made
    for s in made:
        s.close()


def _session(jcg: Jcg, made: list[Session], creds: Credentials, name: str) -> Session:
    s = Session(jcg.settings, creds, name)
    made.append(s)
    return s


def test_anonymous_and_wrong_password_are_refused(jcg: Jcg, sessions: list[Session]) -> None:
    anonymous = _session(jcg, sessions, Credentials(""), "anon")
    wrong = _session(jcg, sessions, Credentials("alpha", "not-its-password"), "wrong")
    unknown = _session(jcg, sessions, Credentials("mallory", "whatever"), "unknown")
    right = _session(jcg, sessions, jcg.creds("alpha"), "alpha")
    for refused in (anonymous, wrong, unknown):
        assert refused.connack is not None and refused.connack.value == NOT_AUTHORIZED
    assert right.accepted


def test_a_producer_cannot_publish_as_another(jcg: Jcg, sessions: list[Session]) -> None:
    ingest = _session(jcg, sessions, jcg.creds("ingest"), "ingest")
    ingest.subscribe(topics.INBOUND_FILTER)
    alpha = _session(jcg, sessions, jcg.creds("alpha"), "alpha")
    assert alpha.publish(topics.inbound("bravo", "position"), b"forged") == NOT_AUTHORIZED
    assert alpha.publish(topics.inbound("ingest", "position"), b"forged2") == NOT_AUTHORIZED
    assert alpha.publish(topics.inbound("alpha", "position"), b"own") == 0
    assert ingest.wait_for(b"own") == [(topics.inbound("alpha", "position"), b"own")]


def test_a_producer_cannot_read_the_inbound_topics(jcg: Jcg, sessions: list[Session]) -> None:
    alpha = _session(jcg, sessions, jcg.creds("alpha"), "alpha")
    alpha.subscribe(f"{topics.PREFIX}/in/#")
    alpha.subscribe(topics.receipt("bravo"))
    alpha.subscribe(topics.receipt("alpha"))  # its own: allowed
    ingest = _session(jcg, sessions, jcg.creds("ingest"), "ingest")
    ingest.subscribe(f"{topics.PREFIX}/in/#")
    bravo = _session(jcg, sessions, jcg.creds("bravo"), "bravo")
    assert bravo.publish(topics.inbound("bravo", "position"), b"bravo's") == 0
    assert ingest.wait_for(b"bravo's") == [(topics.inbound("bravo", "position"), b"bravo's")]
    assert ingest.publish(topics.receipt("bravo"), b"bravo's receipt") == 0
    assert ingest.publish(topics.receipt("alpha"), b"alpha's receipt") == 0
    assert alpha.wait_for(b"alpha's receipt") == [(topics.receipt("alpha"), b"alpha's receipt")]


def test_kcg_cannot_read_or_forge_other_share_topics_at_jcg(
    jcg: Jcg, sessions: list[Session]
) -> None:
    kcg = _session(jcg, sessions, jcg.kcg_bridge, "kcg-bridge")
    assert kcg.accepted
    kcg.subscribe(topics.share("jcg", "uscg"))
    kcg.subscribe(topics.share("+", "+"))
    kcg.subscribe(topics.share_receipt("uscg", "jcg"))
    kcg.subscribe(topics.share_receipt("kcg", "jcg"))
    share = _session(jcg, sessions, jcg.creds("share"), "share")
    share.subscribe(topics.share("+", "jcg"))
    assert share.publish(topics.share("jcg", "uscg"), b"for uscg") == 0
    assert share.publish(topics.share("jcg", "kcg"), b"for kcg via jcg's bridge") == 0
    assert share.publish(topics.share_receipt("uscg", "jcg"), b"uscg receipt") == 0
    assert share.publish(topics.share_receipt("kcg", "jcg"), b"kcg receipt") == 0
    # The one topic it may read at JCG: JCG's receipts of KCG's stream.
    assert kcg.wait_for(b"kcg receipt") == [(topics.share_receipt("kcg", "jcg"), b"kcg receipt")]
    # It may carry KCG's stream to JCG, and nothing else: not as USCG, not into the inbound.
    assert kcg.publish(topics.share("uscg", "jcg"), b"forged uscg") == NOT_AUTHORIZED
    assert kcg.publish(topics.share("kcg", "uscg"), b"kcg to uscg") == NOT_AUTHORIZED
    assert kcg.publish(topics.inbound("alpha", "incident"), b"forged in") == NOT_AUTHORIZED
    assert kcg.publish(topics.share("kcg", "jcg"), b"kcg stream") == 0
    assert share.wait_for(b"kcg stream") == [(topics.share("kcg", "jcg"), b"kcg stream")]


def test_a_revoked_certificate_is_refused(jcg: Jcg, sessions: list[Session]) -> None:
    ops = jcg.tls(*pki.issue(jcg.ca, "ops2", "console"))
    spare = jcg.tls(*pki.issue(jcg.ca, "ops3", "console"))
    before = _session(jcg, sessions, ops, "ops2-before")
    assert before.accepted
    before.close()
    assert pki.revoke(jcg.ca, "ops2") == 1
    jcg.restart_broker()
    assert not _session(jcg, sessions, ops, "ops2-after").accepted
    assert _session(jcg, sessions, spare, "ops3").accepted


def test_a_renewed_certificate_replaces_the_old_one(jcg: Jcg, sessions: list[Session]) -> None:
    cert, key = pki.issue(jcg.ca, "ops4", "console")
    kept = jcg.work / "ops4-old"
    kept.mkdir()
    old = jcg.tls(Path(shutil.copy(cert, kept)), Path(shutil.copy(key, kept)))
    assert _session(jcg, sessions, old, "ops4-old").accepted
    new_cert, new_key, revoked = pki.renew(jcg.ca, "ops4")
    assert revoked == 1
    assert pki.issued_identities(jcg.ca)["ops4"] == "console"  # the same role, once
    jcg.restart_broker()
    assert not _session(jcg, sessions, old, "ops4-old-again").accepted
    assert _session(jcg, sessions, jcg.tls(new_cert, new_key), "ops4-new").accepted
    with pytest.raises(pki.PkiError):
        pki.renew(jcg.ca, "nobody")


def test_tls_needs_a_certificate_from_our_ca(jcg: Jcg, sessions: list[Session]) -> None:
    other = pki.Pki(jcg.work / "other-ca")
    pki.init(other, "other", [])
    foreign = jcg.tls(*pki.issue(other, "alpha", "producer"))
    no_cert = Credentials("alpha", mqtt.password(jcg.settings, "alpha"), jcg.ca.ca_cert)
    ours = jcg.tls(*pki.issue(jcg.ca, "alpha", "producer"))
    assert not _session(jcg, sessions, foreign, "foreign").accepted
    assert not _tls_without_certificate(jcg, no_cert)
    assert _session(jcg, sessions, ours, "alpha-tls").accepted


def _tls_without_certificate(jcg: Jcg, creds: Credentials) -> bool:
    """Connect to the TLS listener with a password but no client certificate."""
    client = mqtt.client(creds, "test-no-cert")
    client.tls_set(ca_certs=str(creds.cafile))
    answer: list[ReasonCode] = []
    client.on_connect = lambda _c, _u, _f, rc, _p: answer.append(rc)
    try:
        client.connect(jcg.settings.broker.host, jcg.settings.broker.tls_port)
    except OSError:
        return False
    deadline = time.monotonic() + TIMEOUT
    while not answer and time.monotonic() < deadline:
        try:
            client.loop(timeout=0.05)
        except OSError:
            return False
    client.disconnect()
    return bool(answer) and not answer[0].is_failure
