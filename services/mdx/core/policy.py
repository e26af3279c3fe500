"""The releasability policy: may this node give this item to that recipient, and how much of it?

One function, `decide`, answers for sharing and for the API alike, so what a partner can read
over HTTP is exactly what the node would send it. The holder is this node (`settings.node.id`);
the item is its own or one a partner shared with it, and re-sharing is judged by the same rules
with the origin's markings (an item never gains reach by passing through another node).

Rules, first match wins:

1. The holder's own operators see everything it holds ("local").
2. An item never goes back to its origin ("origin").
3. TLP 2.0: RED never leaves the origin; AMBER+STRICT stays in the origin's organisation; AMBER
   goes only to the partners named in `relto`; GREEN only to the holder's configured partners;
   CLEAR to anyone. So a stricter label never releases more.
4. An item with a purpose goes only to partners registered for that purpose. CLEAR items are
   exempt: CLEAR means "may be published", and a purpose cannot hold back what anyone may read.
5. Re-sharing a partner's item (the holder is not its origin) is refused where the holder cannot
   see the origin's own judgement: when it names people (the origin's personal-data
   registrations are not the holder's, and the origin's signature forbids redacting it), and
   when a purpose limits it, unless it is CLEAR (purpose registrations are the origin's too).
6. An item with personal data released to a recipient not registered for personal data is
   released redacted (the personal data removed).

Anything unrecognised (an unknown TLP label) is withheld: the policy fails closed.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from mdx.core.settings import NodeSettings

PERSONAL_FIELDS = ("persons",)


class Decision(StrEnum):
    RELEASE = "release"
    WITHHOLD = "withhold"
    REDACT = "redact"  # release with personal data removed


@dataclass(frozen=True, slots=True)
class Verdict:
    decision: Decision
    rule: str  # what decided, for audit logs and problem details


@dataclass(frozen=True, slots=True)
class Marked:
    """What the policy looks at: an item's handling markings and whether it names people."""

    origin: str
    tlp: str
    relto: tuple[str, ...]
    purpose: str | None
    personal_data: bool


def decide(item: Marked, recipient: str, settings: NodeSettings) -> Verdict:
    if recipient == settings.node.id:
        return Verdict(Decision.RELEASE, "local")
    if recipient == item.origin:
        return Verdict(Decision.WITHHOLD, "origin")
    partner = settings.partner(recipient)
    withheld = _tlp_withholds(item, recipient, partner is not None)
    if withheld:
        return Verdict(Decision.WITHHOLD, withheld)
    registered = partner.purposes if partner is not None else []
    if item.tlp != "CLEAR" and item.purpose is not None and item.purpose not in registered:
        return Verdict(Decision.WITHHOLD, "purpose-not-registered")
    if item.origin != settings.node.id:
        if item.personal_data:
            return Verdict(Decision.WITHHOLD, "reshare-personal-data")
        if item.purpose is not None and item.tlp != "CLEAR":
            return Verdict(Decision.WITHHOLD, "reshare-purpose")
    if item.personal_data and not (partner is not None and partner.personal_data):
        return Verdict(Decision.REDACT, "personal-data-redacted")
    return Verdict(Decision.RELEASE, f"tlp-{item.tlp.lower()}")


def _tlp_withholds(item: Marked, recipient: str, is_partner: bool) -> str | None:
    """The rule that keeps the item from `recipient` on its TLP alone, or None."""
    match item.tlp:
        case "CLEAR":
            return None
        case "GREEN":
            return None if is_partner else "tlp-green-partners"
        case "AMBER":
            # Named in relto and a partner: AMBER is narrower than GREEN, never wider.
            return None if is_partner and recipient in item.relto else "tlp-amber-relto"
        case "AMBER+STRICT":
            return "tlp-amber-strict"
        case "RED":
            return "tlp-red"
    return "tlp-unknown"


def personal_data_of(data: dict[str, Any]) -> bool:
    """Whether an item's data names people (an incident with a non-empty `persons`)."""
    return any(data.get(name) for name in PERSONAL_FIELDS)


def redact(data: dict[str, Any]) -> dict[str, Any]:
    """A copy of `data` without its personal data; `data` itself is left alone."""
    return {k: v for k, v in data.items() if k not in PERSONAL_FIELDS}


def marked_from_row(row: Any) -> Marked:
    """The markings of a stored row or object (incident, position, ...): its origin, tlp, relto,
    purpose and, when it has one, its `data`."""
    data = getattr(row, "data", None)
    return Marked(
        origin=row.origin,
        tlp=row.tlp,
        relto=tuple(row.relto or ()),
        purpose=row.purpose,
        personal_data=personal_data_of(data) if isinstance(data, dict) else False,
    )
