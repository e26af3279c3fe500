"""Signature checks on the partner link, and the dedupe of a partner's stream: what the target
signs verifies under its key; a share message the checking identity signs correctly is
accepted (receipted); one with a bad signature, or addressed to another node, is refused.

The kit speaks on the checking identity's stream to the target (mdx/v1/share/{me}/{target}) as
its bridge (the client certificate the target's CA issued it) and numbers its messages after
the target's retained receipt of that stream. A refused message holds no place in the stream,
so the kit sends a valid message after it: the receipt must stop short of the refused seq
until the kit fills that place itself."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import UTC, datetime

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mdx.conformance.report import Result, Status, failed, passed, skipped
from mdx.conformance.target import KitError, Session, Target, wait
from mdx.core import signing, topics
from mdx.core.envelope import make_envelope
from mdx.core.schemas import SchemaSet

VERIFY = "signatures.verify-target"
ACCEPT = "signatures.accept-valid"
FORGED = "signatures.refuse-forged"
MISADDRESSED = "signatures.refuse-misaddressed"
SHARE_DEDUPE = "replay.share-dedupe"
# The producer named in the source of the items the kit originates as the checking identity.
PRODUCER = "conformance"
VALIDITY_S = 600
# At least this long (and three times the measured receipt time) without a receipt is a refusal.
MIN_QUIET_S = 3.0


def run(target: Target) -> list[Result]:
    results = [_verify_target(target)]
    link_checks = (ACCEPT, FORGED, MISADDRESSED, SHARE_DEDUPE)
    if target.partner is None or target.key is None:
        why = "needs the checking identity's key (--key) and its certificate (--tls-broker, --cert)"
        return results + [skipped(c, why) for c in link_checks]
    with Session(target.partner, (topics.share_receipt(target.me, target.node),)) as session:
        stream = Stream(target, session)
        accepted, latency = stream.accept_valid()
        results.append(accepted)
        if accepted.status is not Status.PASS:
            why = f"{ACCEPT} failed: the stream cannot be driven"
            return results + [skipped(c, why) for c in link_checks[1:]]
        quiet = max(MIN_QUIET_S, 3 * latency)
        results.append(
            stream.refused(
                FORGED,
                "a transport signature by another key",
                quiet,
                lambda seq: stream.message(seq, key=Ed25519PrivateKey.generate()),
            )
        )
        results.append(
            stream.refused(
                MISADDRESSED,
                "a message signed for another node",
                quiet,
                lambda seq: stream.message(seq, recipient="other-node"),
            )
        )
        results.append(stream.dedupe())
    return results


def _verify_target(target: Target) -> Result:
    if target.key is None or target.target_key is None:
        return skipped(VERIFY, "needs --key (to read the feed) and the target's key (--target-key)")
    head = int(target.feed(0, 1)["head"])
    messages = target.feed_after(max(0, head - 50))
    own = [
        m
        for m in messages
        if str(m["envelope"].get("source", "")).startswith(f"urn:mdx:{target.node}:")
    ]
    if not own:
        return failed(
            VERIFY, f"the target's feed to {target.me} holds none of its own items to verify"
        )
    schemas, now = SchemaSet(), datetime.now(UTC)
    for m in own:
        try:
            opened = signing.open_message(
                orjson.dumps(m),
                me=target.me,
                trusted={target.node: target.target_key},
                now=now,
                schemas=schemas,
            )
        except signing.ShareRejected as e:
            return failed(VERIFY, f"feed message seq {m.get('seq')}: {e.reason}")
        if opened.sender != target.node:
            return failed(VERIFY, f"feed message seq {m.get('seq')} sent by {opened.sender!r}")
    return passed(VERIFY, f"{len(own)} share messages of its feed verify (transport and origin)")


class Stream:
    """The checking identity's stream to the target."""

    def __init__(self, target: Target, session: Session) -> None:
        self.target, self.session = target, session
        self.topic = topics.share(target.me, target.node)
        self.receipts = topics.share_receipt(target.me, target.node)
        self.schemas = SchemaSet()

    def head(self) -> int:
        """The seq up to which the target receipted the stream."""
        return self.session.last_seq(self.receipts)

    def position(self) -> tuple[dict[str, object], str]:
        """A new position originated by the checking identity, origin-signed; and its MMSI."""
        assert self.target.key is not None
        mmsi = f"4319{random.randrange(10**5):05d}"
        data = {
            "mmsi": mmsi,
            "lat": random.uniform(-40, -20),
            "lon": random.uniform(150, 170),
            "observed_at": "2026-01-01T00:00:00Z",
            "source_type": "ais-terrestrial",
        }
        envelope = make_envelope(self.target.me, PRODUCER, "mdx.position.v1", data, tlp="GREEN")
        return signing.sign_envelope(envelope, self.target.key, self.target.me), mmsi

    def message(
        self,
        seq: int,
        *,
        recipient: str | None = None,
        key: Ed25519PrivateKey | None = None,
        envelope: dict[str, object] | None = None,
    ) -> bytes:
        """A share message at `seq`, sealed as the checking identity (or by `key`, a forgery)."""
        assert self.target.key is not None
        return signing.seal(
            envelope or self.position()[0],
            sender=self.target.me,
            recipient=recipient or self.target.node,
            seq=seq,
            custody=[],
            key=key or self.target.key,
            now=datetime.now(UTC),
            validity_s=VALIDITY_S,
        )

    def send(self, payload: bytes) -> None:
        self.session.publish(self.topic, payload)

    def receipted(self, seq: int, timeout: float | None = None) -> bool:
        return wait(lambda: self.head() >= seq, self.target.timeout if timeout is None else timeout)

    def accept_valid(self) -> tuple[Result, float]:
        w = self.head()
        started = time.monotonic()
        self.send(self.message(w + 1))
        if not self.receipted(w + 1):
            return failed(
                ACCEPT,
                f"a correctly signed message at seq {w + 1} was not receipted within "
                f"{self.target.timeout:.0f} s (receipt {self.head()})",
            ), 0.0
        latency = time.monotonic() - started
        return passed(ACCEPT, f"a correctly signed message receipted in {latency:.1f} s"), latency

    def refused(self, check: str, what: str, quiet: float, bad: Callable[[int], bytes]) -> Result:
        """Send `bad` at the next seq and a valid message after it; the receipt must not pass
        the bad one's place until the kit fills it with a valid message."""
        w = self.head()
        self.send(bad(w + 1))
        self.send(self.message(w + 2))
        took = self.receipted(w + 1, quiet)
        self.send(self.message(w + 1))  # fill the place, so the stream goes on either way
        if took:
            return failed(check, f"{what} at seq {w + 1} was accepted (receipt {self.head()})")
        if not self.receipted(w + 2):
            return failed(
                check,
                f"after refusing {what}, the stream did not go on once seq {w + 1} was filled "
                f"(receipt {self.head()})",
            )
        return passed(check, f"{what} refused: no receipt in {quiet:.0f} s, the stream went on")

    def dedupe(self) -> Result:
        if self.target.viewer_token is None:
            return skipped(
                SHARE_DEDUPE,
                "needs a viewer's token on the target (--viewer-token): a partner never "
                "reads its own items back",
            )
        w = self.head()
        envelope, mmsi = self.position()
        again = self.message(w + 1, envelope=envelope)
        self.send(again)
        self.send(again)
        self.send(self.message(w + 2))
        if not self.receipted(w + 2):
            return failed(SHARE_DEDUPE, f"seq {w + 2} not receipted (receipt {self.head()})")
        try:
            page = self.target.get_as_viewer(
                "/ogcapi/collections/positions/items", {"filter": f"mmsi='{mmsi}'", "limit": 10}
            )
        except KitError as e:
            return failed(SHARE_DEDUPE, str(e))
        stored = len(page.get("features", []))
        if stored != 1:
            return failed(SHARE_DEDUPE, f"a share message sent twice is stored {stored} times")
        return passed(SHARE_DEDUPE, "a share message sent twice is stored once")
