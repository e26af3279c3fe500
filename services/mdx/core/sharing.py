"""What leaves this node, for whom: the outbox router every writer passes to the store.

The releasability policy (mdx.core.policy) decides per partner; this module turns its verdicts
into outbox rows. Our own items are released with their markings made explicit (the origin
signs what it sends); a partner's item is passed on exactly as its origin signed it, so an item
the policy would have to redact is not passed on at all.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from mdx.core import policy, signing
from mdx.core.intake import Accepted
from mdx.core.keys import NodeKeys
from mdx.core.settings import NodeSettings
from mdx.core.store import Router, Share


def marked(a: Accepted) -> policy.Marked:
    return policy.Marked(
        origin=a.origin,
        tlp=a.tlp,
        relto=tuple(a.relto),
        purpose=a.envelope.get("purpose"),
        personal_data=a.kind == "incident" and policy.personal_data_of(a.data),
    )


def router(settings: NodeSettings) -> Router:
    me = settings.node.id

    def route(a: Accepted) -> list[Share]:
        if a.origin != me and not settings.sharing.reshare:
            return []
        item = marked(a)
        # Nodes that already hold the item: whoever passed it to us, and its custodians.
        holders = {a.received_via, *(c.get("node") for c in a.custody or [])}
        shares = []
        for partner in settings.partners:
            if partner.id in holders:
                continue
            verdict = policy.decide(item, partner.id, settings)
            if verdict.decision is policy.Decision.RELEASE:
                envelope = a.envelope if a.origin != me else {**a.envelope, "tlp": a.tlp}
                shares.append(Share(partner.id, envelope))
            elif verdict.decision is policy.Decision.REDACT and a.origin == me:
                data = policy.redact(a.data)
                shares.append(Share(partner.id, {**a.envelope, "tlp": a.tlp, "data": data}, True))
        return shares

    return route


def seal_row(
    keys: NodeKeys,
    recipient: str,
    seq: int,
    envelope: dict[str, Any],
    custody: list[dict[str, Any]],
    now: datetime,
    validity_s: float,
) -> bytes:
    """The share message for one outbox row: our own item signed by us as its origin; a
    partner's item as its origin signed it, with our link added to its chain of custody."""
    origin = envelope["source"].split(":")[2]
    if origin == keys.node_id:
        envelope = signing.sign_envelope(envelope, keys.private, keys.node_id)
    else:
        from_ = custody[-1]["node"] if custody else origin
        custody = signing.add_custody(
            custody,
            envelope=envelope,
            node=keys.node_id,
            from_=from_,
            to=recipient,
            key=keys.private,
            now=now,
        )
    return signing.seal(
        envelope,
        sender=keys.node_id,
        recipient=recipient,
        seq=seq,
        custody=custody,
        key=keys.private,
        now=now,
        validity_s=validity_s,
    )
