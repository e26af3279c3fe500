"""The node under test as the kit reaches it: signed HTTP reads as the checking identity, and
MQTT sessions as a producer (password listener) or as the checking identity's bridge (TLS
listener, a client certificate the target's CA issued). Nothing here knows how the target is
built: only the contract (schemas/asyncapi.yaml, the federation API, OGC API - Features)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx
import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from mdx.core import fedauth
from mdx.core import mqtt as mdx_mqtt
from mdx.core.mqtt import Credentials


class KitError(RuntimeError):
    """The kit cannot go on (e.g. a broker refused the credentials it was given)."""


@dataclass(frozen=True, slots=True)
class MqttEndpoint:
    host: str
    port: int
    credentials: Credentials

    @classmethod
    def parse(cls, url: str, tls: Credentials | None = None) -> MqttEndpoint:
        """mqtt://user:password@host:port, or mqtts://host:port with `tls` (a certificate)."""
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ValueError(f"{url!r} is not mqtt://user:password@host:port or mqtts://host:port")
        if parts.scheme == "mqtts":
            if tls is None:
                raise ValueError(f"{url!r}: an mqtts broker needs --cert, --cert-key and --ca")
            return cls(parts.hostname, parts.port or 8883, tls)
        if not parts.username or not parts.password:
            raise ValueError(f"{url!r}: give the producer's name and password in the URL")
        creds = Credentials(unquote(parts.username), unquote(parts.password))
        return cls(parts.hostname, parts.port or 1883, creds)


@dataclass
class Session:
    """One MQTT v5 connection that keeps every message of its subscriptions."""

    endpoint: MqttEndpoint
    subscriptions: tuple[str, ...]
    received: list[tuple[str, bytes]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _subscribed: threading.Event = field(default_factory=threading.Event)
    _acked: set[int] = field(default_factory=set)
    _refused: dict[int, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.client = mdx_mqtt.client(self.endpoint.credentials, f"mdx-kit-{uuid.uuid4().hex[:8]}")
        self.client.on_message = lambda _c, _u, m: self._keep(m.topic, bytes(m.payload))
        self.client.on_subscribe = lambda *_a: self._subscribed.set()
        self.client.on_publish = self._on_publish
        self._connected = threading.Event()
        self._connect_rc = ""
        self.client.on_connect = self._on_connect

    def _on_connect(self, client: Any, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        self._connect_rc = str(rc)
        if not rc.is_failure:
            if self.subscriptions:
                client.subscribe([(t, 1) for t in self.subscriptions])
            else:
                self._subscribed.set()
        self._connected.set()

    def _keep(self, topic: str, payload: bytes) -> None:
        with self._lock:
            self.received.append((topic, payload))

    def _on_publish(self, _c: Any, _u: Any, mid: int, rc: Any, _p: Any) -> None:
        with self._lock:
            self._acked.add(mid)
            if rc.is_failure:
                self._refused[mid] = str(rc)

    def __enter__(self) -> Session:
        e = self.endpoint
        try:
            self.client.connect(e.host, e.port)
        except OSError as err:
            raise KitError(f"cannot reach the broker at {e.host}:{e.port}: {err}") from None
        self.client.loop_start()
        if not self._connected.wait(10) or self._connect_rc.lower() != "success":
            self.close()
            raise KitError(
                f"broker {e.host}:{e.port} refused {e.credentials.username!r}: "
                f"{self._connect_rc or 'no answer'}"
            )
        if not self._subscribed.wait(10):
            self.close()
            raise KitError(f"broker {e.host}:{e.port} did not acknowledge the subscriptions")
        time.sleep(0.3)  # retained messages (receipts) arrive right after the SUBACK
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def publish(self, topic: str, payload: bytes, timeout: float = 10) -> None:
        """Publish at QoS 1 and wait for the PUBACK; KitError if the broker refused it."""
        info = self.client.publish(topic, payload, qos=1)
        if not wait(lambda: info.mid in self._acked, timeout):
            raise KitError(f"no PUBACK for a message on {topic} within {timeout} s")
        if info.mid in self._refused:
            raise KitError(f"the broker refused a publish on {topic}: {self._refused[info.mid]}")

    def messages(self, topic: str) -> list[bytes]:
        with self._lock:
            return [p for t, p in self.received if t == topic]

    def last_seq(self, topic: str) -> int:
        """The highest `seq` of the receipts seen on `topic` (0 if none)."""
        seqs = [0]
        for payload in self.messages(topic):
            try:
                seqs.append(int(orjson.loads(payload)["seq"]))
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                continue
        return max(seqs)


def wait(condition: Callable[[], bool], timeout: float, step: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(step)


@dataclass
class Target:
    """The node under test and the checking identity's credentials for it."""

    node: str  # the target's node id
    me: str  # the checking identity (a partner registered at the target)
    api: str  # base URL, e.g. http://127.0.0.1:8101
    key: Ed25519PrivateKey | None = None  # the checking identity's signing key
    target_key: Ed25519PublicKey | None = None
    producer: MqttEndpoint | None = None  # a producer account on the target's broker
    partner: MqttEndpoint | None = None  # the checking identity's bridge certificate (TLS)
    purposes: list[str] | None = None  # what `me` is registered for at the target, if known
    viewer_token: str | None = None  # a bearer token of one of the target's own viewers
    timeout: float = 30.0
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=15))

    def url(self, path: str) -> str:
        return self.api.rstrip("/") + path

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> httpx.Response:
        """GET as the checking identity: an MDX-Ed25519 signature over the exact path and query."""
        if self.key is None:
            raise KitError("no signing key (--key): cannot read the API as a partner")
        request = self.http.build_request("GET", self.url(path), params=params)
        path_qs = request.url.raw_path.decode()
        request.headers["Authorization"] = fedauth.sign_request(
            "GET", path_qs, self.me, self.node, self.key, time.time()
        )
        return self.http.send(request)

    def get_as_viewer(self, path: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """A JSON document read as the target's own viewer (what the node holds, unfiltered)."""
        if self.viewer_token is None:
            raise KitError("no viewer token (--viewer-token)")
        headers = {"Authorization": f"Bearer {self.viewer_token}"}
        r = self.http.get(self.url(path), params=params, headers=headers)
        if r.status_code != 200:
            raise KitError(f"GET {path} as the target's viewer: {r.status_code} {r.text[:200]}")
        body: dict[str, Any] = r.json()
        return body

    def get_url(self, url: str) -> httpx.Response:
        """GET an absolute URL the target gave (a `next` link), signed the same way."""
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        return self.get(path)

    def feed(self, since: int, limit: int = 2000) -> dict[str, Any]:
        r = self.get("/federation/v1/feed", {"since": since, "limit": limit})
        r.raise_for_status()
        body: dict[str, Any] = orjson.loads(r.content)
        return body

    def feed_after(self, since: int, pages: int = 50) -> list[dict[str, Any]]:
        """Every share message of the target's stream to us after `since` (at most `pages`)."""
        out: list[dict[str, Any]] = []
        for _ in range(pages):
            messages = self.feed(since)["messages"]
            if not messages:
                break
            out += messages
            since = int(messages[-1]["seq"])
        return out
