"""What leaves this node, for whom: the outbox router every writer passes to the store.

The releasability policy (mdx.core.policy) decides per partner; this module turns its verdicts
into outbox rows. Our own items are released with their markings made explicit (the origin
signs what it sends); a partner's item is passed on exactly as its origin signed it, so an item
the policy would have to redact is not passed on at all.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from mdx.core import audit, policy, signing
from mdx.core.intake import Accepted
from mdx.core.keys import NodeKeys
from mdx.core.settings import NodeSettings
from mdx.core.store import Share


def marked(a: Accepted) -> policy.Marked:
    return policy.Marked(
        origin=a.origin,
        tlp=a.tlp,
        relto=tuple(a.relto),
        purpose=a.envelope.get("purpose"),
        personal_data=a.kind == "incident" and policy.personal_data_of(a.data),
    )


# Non-position items withheld are named in the audit row, up to this many per partner.
MAX_LISTED = 50


class OutboxRouter:
    """Routes accepted items to partners by the policy, and tallies what the policy withheld
    (per partner and rule) for the audit trail: per-item audit rows would cost as much as the
    items themselves at position rates, so the writer records the tally once per transaction."""

    def __init__(self, settings: NodeSettings) -> None:
        self.settings = settings
        self.withheld: Counter[tuple[str, str]] = Counter()  # (partner, rule) -> items
        self.withheld_items: dict[str, list[dict[str, Any]]] = {}  # partner -> a few non-positions

    def __call__(self, a: Accepted) -> list[Share]:
        me = self.settings.node.id
        item = marked(a)
        # Nodes that already hold the item: whoever passed it to us, and its custodians.
        holders = {a.received_via, *(c.get("node") for c in a.custody or [])}
        shares = []
        for partner in self.settings.partners:
            if partner.id in holders:
                continue
            if a.origin != me and not self.settings.sharing.reshare:
                self._withhold(partner.id, "reshare-disabled", a)
                continue
            verdict = policy.decide(item, partner.id, self.settings)
            if verdict.decision is policy.Decision.RELEASE:
                envelope = a.envelope if a.origin != me else {**a.envelope, "tlp": a.tlp}
                shares.append(Share(partner.id, envelope))
            elif verdict.decision is policy.Decision.REDACT and a.origin == me:
                data = policy.redact(a.data)
                shares.append(Share(partner.id, {**a.envelope, "tlp": a.tlp, "data": data}, True))
            elif verdict.decision is policy.Decision.REDACT:
                # The origin signed it whole: not ours to redact, so not passed on at all.
                self._withhold(partner.id, "reshare-needs-redaction", a)
            else:
                self._withhold(partner.id, verdict.rule, a)
        return shares

    def _withhold(self, partner: str, rule: str, a: Accepted) -> None:
        self.withheld[partner, rule] += 1
        listed = self.withheld_items.setdefault(partner, [])
        if a.kind != "position" and len(listed) < MAX_LISTED:
            listed.append(
                {
                    "kind": a.kind,
                    "source": a.envelope["source"],
                    "id": a.envelope["id"],
                    "rule": rule,
                }
            )

    def forget(self) -> None:
        """Drop the tally (the transaction it was for rolled back; its batch is routed again)."""
        self.withheld.clear()
        self.withheld_items.clear()

    def record_withheld(self, conn: audit.Conn, *, actor: str) -> None:
        """One policy.withheld row per partner for what was withheld since the last call, in
        the caller's transaction (the one storing those items); then forget the tally."""
        by_partner: dict[str, dict[str, int]] = {}
        for (partner, rule), n in sorted(self.withheld.items()):
            by_partner.setdefault(partner, {})[rule] = n
        for partner, rules in by_partner.items():
            detail = {
                "items": sum(rules.values()),
                "by_rule": rules,
                "listed": self.withheld_items.get(partner, []),
            }
            audit.record(conn, audit.POLICY_WITHHELD, actor=actor, peer=partner, detail=detail)
        self.forget()


def router(settings: NodeSettings) -> OutboxRouter:
    return OutboxRouter(settings)


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
