"""How a partner node authenticates an HTTP request to this node: a signature with its node key.

Our own small scheme, modelled on HTTP Message Signatures (RFC 9421) but covering only what a
read needs. The request carries

    Authorization: MDX-Ed25519 node=<id>, ts=<unix seconds>, sig=<base64url, no padding>

where `sig` is the Ed25519 signature, by the key of node `<id>`, over the UTF-8 bytes of

    "{METHOD}\\n{path with query, as sent}\\n{ts}\\n{recipient node id}"

- The recipient's id is signed, so a request signed for one node is refused by every other.
- `ts` must be within `max_skew_s` of the verifier's clock, so a captured header is useless
  after a few minutes. Inside that window it can be replayed for the same method and URL;
  that is acceptable for reads, which change nothing (there is no nonce store to keep).
- The signer's key is looked up in the trust store (partners' public keys from settings); the
  node id in the header is only a claim until the signature checks out under that key.
- Headers and body are not signed: the partner API is read-only GETs; anything that writes
  must sign more than this.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
from collections.abc import Mapping

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from mdx.core import ed25519, keys
from mdx.core.settings import NodeSettings

log = logging.getLogger("mdx.fedauth")

SCHEME = "MDX-Ed25519"
DEFAULT_MAX_SKEW_S = 300
# Strict on purpose: one spelling, so what was signed and what is checked cannot differ.
_HEADER = re.compile(
    r"^(?P<scheme>\S+) node=(?P<node>[a-z][a-z0-9-]{1,31}), ts=(?P<ts>[0-9]{1,12}), "
    r"sig=(?P<sig>[A-Za-z0-9_-]{86})$"
)


class AuthRejected(Exception):
    """A request's credentials were refused; `reason` is one of the codes below."""

    MALFORMED = "malformed"
    UNKNOWN_NODE = "unknown-node"
    BAD_SIGNATURE = "bad-signature"
    STALE = "stale"
    FUTURE = "future"

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def signed_bytes(method: str, path_qs: str, ts: int, recipient: str) -> bytes:
    return f"{method.upper()}\n{path_qs}\n{ts}\n{recipient}".encode()


def sign_request(
    method: str, path_qs: str, node_id: str, recipient: str, key: Ed25519PrivateKey, now: float
) -> str:
    """The Authorization header value for a request from `node_id` to node `recipient`."""
    ts = int(now)
    sig = key.sign(signed_bytes(method, path_qs, ts, recipient))
    encoded = base64.urlsafe_b64encode(sig).rstrip(b"=").decode()
    return f"{SCHEME} node={node_id}, ts={ts}, sig={encoded}"


def verify_request(
    header: str,
    method: str,
    path_qs: str,
    me: str,
    trusted: Mapping[str, Ed25519PublicKey],
    now: float,
    max_skew_s: int = DEFAULT_MAX_SKEW_S,
) -> str:
    """The node that signed this request to node `me`; raises `AuthRejected` otherwise."""
    m = _HEADER.match(header)
    if m is None or m["scheme"].lower() != SCHEME.lower():  # schemes are case-insensitive
        raise AuthRejected(
            AuthRejected.MALFORMED, f"expected '{SCHEME} node=<id>, ts=<unix s>, sig=<b64url>'"
        )
    node, ts = m["node"], int(m["ts"])
    key = trusted.get(node)
    if key is None:
        raise AuthRejected(AuthRejected.UNKNOWN_NODE, f"node {node!r} is not a trusted partner")
    # Freshness before the signature: cheap checks first.
    if ts < now - max_skew_s:
        raise AuthRejected(AuthRejected.STALE, f"ts {ts} is more than {max_skew_s} s old")
    if ts > now + max_skew_s:
        raise AuthRejected(AuthRejected.FUTURE, f"ts {ts} is more than {max_skew_s} s ahead")
    try:
        sig = base64.urlsafe_b64decode(m["sig"] + "==")
        ed25519.verify(key, sig, signed_bytes(method, path_qs, ts, me))
    except (binascii.Error, ValueError, InvalidSignature):
        raise AuthRejected(
            AuthRejected.BAD_SIGNATURE, f"signature does not verify under {node}'s key"
        ) from None
    return node


def trust_store(settings: NodeSettings) -> dict[str, Ed25519PublicKey]:
    """Partners' public keys from settings. A partner whose key file is missing or unreadable is
    left out with a warning (its requests are refused) rather than stopping the node."""
    trusted: dict[str, Ed25519PublicKey] = {}
    for partner in settings.partners:
        try:
            trusted[partner.id] = keys.load_public(partner.public_key)
        except keys.KeyError_ as e:
            log.warning("partner %s cannot authenticate: %s", partner.id, e)
    return trusted
