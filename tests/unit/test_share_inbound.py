"""Inbound share streams: a message whose transport checks pass but whose item is refused is
dead-lettered, and still takes its place in the stream, so everything after it is stored."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mdx.core import signing
from mdx.core.envelope import make_envelope
from mdx.core.intake import IntakePolicy
from mdx.core.keys import NodeKeys
from mdx.core.schemas import SchemaSet
from mdx.share.inbound import Reorder, judge

JCG, KCG = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
AT_KCG = NodeKeys("kcg", KCG, {"jcg": JCG.public_key(), "kcg": KCG.public_key()})
TOPIC = "mdx/v1/share/jcg/kcg"


def position(i: int) -> dict[str, Any]:
    data = {
        "mmsi": f"431{i:06d}",
        "lat": 34.0,
        "lon": 129.5,
        "observed_at": "2026-11-25T08:00:00Z",
        "source_type": "ais-terrestrial",
    }
    return signing.sign_envelope(
        make_envelope("jcg", "ais1", "mdx.position.v1", data, tlp="GREEN"), JCG, "jcg"
    )


def sealed(envelope: dict[str, Any], seq: int) -> bytes:
    return signing.seal(
        envelope,
        sender="jcg",
        recipient="kcg",
        seq=seq,
        custody=[],
        key=JCG,
        # Sealed as the test runs: a time taken at import would expire in a long test session.
        now=datetime.now(UTC),
        validity_s=600,
    )


def test_a_refused_item_keeps_its_place_and_the_stream_goes_on() -> None:
    policy = IntakePolicy(node_id="kcg", default_tlp="GREEN", schemas=SchemaSet())
    altered = {**position(2), "tlp": "CLEAR"}  # the origin signed GREEN: refused at KCG
    untrusted = signing.sign_envelope(
        position(4) | {"source": "urn:mdx:pcg:ais1"}, Ed25519PrivateKey.generate(), "pcg"
    )
    messages = [
        (TOPIC, sealed(position(1), 1)),
        (TOPIC, sealed(altered, 2)),
        (TOPIC, sealed(position(3), 3)),
        (TOPIC, sealed(untrusted, 4)),
        (TOPIC, sealed(position(5), 5)),
        (TOPIC, orjson.dumps({"not": "a share message", "seq": 6})),  # holds no place
    ]
    judged = judge(messages, AT_KCG, policy)
    assert [seq for _, seq, _ in judged.opened] == [1, 3, 5]
    assert judged.placed == [("jcg", 2), ("jcg", 4)]
    assert [b.rejected.reason.split(":")[1].strip() for b in judged.refused] == [
        "origin signature",
        "origin signature",
        "schema violation",
    ]

    reorder = Reorder()
    for sender, seq, item in judged.opened:
        reorder.add(sender, seq, item, 0)
    for sender, seq in judged.placed:
        reorder.add(sender, seq, None, 0)
    ready = reorder.release({})
    assert [(seq, item is None) for _, seq, item in ready] == [
        (1, False),
        (2, True),
        (3, False),
        (4, True),
        (5, False),
    ]
    assert reorder.gapped() == set()
