"""Origin signatures on envelopes, and the signed share messages that carry them between nodes.

Every signature is a JWS (RFC 7515) compact serialization with a detached payload (appendix F):
`BASE64URL(header) + ".." + BASE64URL(Ed25519 signature)`, header `{"alg":"EdDSA","kid":node}`
(RFC 8037). The payload is the RFC 8785 (JCS) form of the signed object without its `sig`, so
a signature survives any re-serialisation (key order, whitespace) but no change of content.

Three signatures protect one shared item:
- the origin's over the envelope (its `sig` attribute): who said what; it is never re-made,
  so a re-shared item carries its origin's envelope and signature byte for byte;
- one per custodian in `custody`: node X got the item from `from` and passed it to `to`;
- the sender's over the whole share message: this hop, stream (sender, recipient) and seq.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import orjson
import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from mdx.core import ed25519, jcs, strict_json
from mdx.core.envelope import parse_source
from mdx.core.schemas import ID_BASE, SchemaSet

SHARE_SCHEMA_ID: Final = ID_BASE + "share/v1/share.schema.json"

ALG: Final = "EdDSA"
# CloudEvents extension strings are bounded by the envelope schema; ours are ~130 characters.
_MAX_JWS: Final = 2048
_B64URL: Final = re.compile(r"[A-Za-z0-9_-]*")
_EXPIRED_HINT: Final = "a replay, or held too long; the feed will backfill it"


class SignatureRejected(Exception):
    """A signature is missing, malformed, unknown or wrong; `reason` says which."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ShareRejected(Exception):
    """A share message this node must not accept; `reason` says why. `place` is the (sender,
    seq) it verifiably holds in its stream when only the item inside it is refused: the stream
    goes on past it (a refused item must not stall everything after it)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.place: tuple[str, int] | None = None


# -- JWS with detached payload ------------------------------------------------------------


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str, what: str) -> bytes:
    # b64decode silently skips characters outside the alphabet: check the alphabet first.
    if not _B64URL.fullmatch(text) or len(text) % 4 == 1:
        raise SignatureRejected(f"malformed signature: {what} is not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise SignatureRejected(f"malformed signature: {what} is not base64url") from None


def _jcs(value: Mapping[str, Any]) -> bytes:
    try:
        return jcs.dumps(value)
    except rfc8785.CanonicalizationError as e:
        # e.g. an integer beyond 2**53 - 1, which JCS (I-JSON) cannot represent exactly.
        raise ValueError(f"cannot canonicalise for signing: {e}") from e


def _sign(payload: bytes, key: Ed25519PrivateKey, kid: str) -> str:
    header = _b64(_jcs({"alg": ALG, "kid": kid}))
    signature = key.sign(f"{header}.{_b64(payload)}".encode("ascii"))
    return f"{header}..{_b64(signature)}"


def _verify(jws: object, payload: bytes, trusted: Mapping[str, Ed25519PublicKey], what: str) -> str:
    """The kid whose key made `jws` over `payload` (the `what`), or SignatureRejected."""
    if not isinstance(jws, str) or len(jws) > _MAX_JWS:
        raise SignatureRejected("malformed signature: not a string of at most 2048 characters")
    parts = jws.split(".")
    if len(parts) != 3 or parts[1] != "" or not parts[0] or not parts[2]:
        raise SignatureRejected("malformed signature: not a detached JWS (header..signature)")
    header_b64, _, signature_b64 = parts
    try:
        header = orjson.loads(_unb64(header_b64, "header"))
    except orjson.JSONDecodeError:
        raise SignatureRejected("malformed signature: header is not JSON") from None
    if not isinstance(header, dict):
        raise SignatureRejected("malformed signature: header is not a JSON object")
    if header.get("alg") != ALG:
        raise SignatureRejected(f"unsupported signature algorithm {header.get('alg')!r}")
    if "crit" in header:  # RFC 7515 4.1.11: extensions we do not understand must fail
        raise SignatureRejected("malformed signature: critical header extensions unsupported")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise SignatureRejected("malformed signature: header has no kid")
    signature = _unb64(signature_b64, "signature")
    if len(signature) != 64:
        raise SignatureRejected("malformed signature: an Ed25519 signature is 64 bytes")
    key = trusted.get(kid)
    if key is None:
        raise SignatureRejected(f"signed by unknown node {kid!r}")
    try:
        ed25519.verify(key, signature, f"{header_b64}.{_b64(payload)}".encode("ascii"))
    except InvalidSignature:
        raise SignatureRejected(
            f"signature does not match the {what}: altered after signing"
        ) from None
    return kid


# -- origin signatures on envelopes -------------------------------------------------------


def canonical(envelope: Mapping[str, Any]) -> bytes:
    """RFC 8785 bytes of the envelope without its `sig`: what the origin signs."""
    return _jcs({k: v for k, v in envelope.items() if k != "sig"})


def sign_envelope(envelope: Mapping[str, Any], key: Ed25519PrivateKey, kid: str) -> dict[str, Any]:
    """A copy of `envelope` with its origin signature in the extension attribute `sig`."""
    return {**envelope, "sig": _sign(canonical(envelope), key, kid)}


def verify_envelope(envelope: Mapping[str, Any], trusted: Mapping[str, Ed25519PublicKey]) -> str:
    """The node that signed `envelope` (the one its `source` names), or SignatureRejected."""
    if "sig" not in envelope:
        raise SignatureRejected("unsigned envelope")
    try:
        payload = canonical(envelope)
    except ValueError as e:
        raise SignatureRejected(str(e)) from None
    signer = _verify(envelope["sig"], payload, trusted, "envelope")
    source = envelope.get("source")
    parsed = parse_source(source) if isinstance(source, str) else None
    if parsed is None:
        raise SignatureRejected(f"its source {source!r} names no mdx node")
    if parsed[0] != signer:
        # A node may only speak for itself: a valid signature of another node is a forgery.
        raise SignatureRejected(f"signed by {signer!r} but its source names node {parsed[0]!r}")
    return signer


# -- share messages -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Opened:
    """A share message that passed every check."""

    envelope: dict[str, Any]
    sender: str
    recipient: str
    seq: int
    sent_at: datetime
    custody: list[dict[str, Any]]
    origin: str  # the node that signed the envelope


def _timestamp(at: datetime) -> str:
    if at.tzinfo is None:
        raise ValueError("a naive datetime: pass an aware one (e.g. datetime.now(UTC))")
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _custody_payload(entry: Mapping[str, Any], envelope: Mapping[str, Any]) -> bytes:
    # Bound to the item, so an entry cannot be lifted onto another item's chain.
    return _jcs(
        {
            "envelope_id": envelope.get("id"),
            "envelope_source": envelope.get("source"),
            **{k: entry.get(k) for k in ("node", "from", "to", "at")},
        }
    )


def add_custody(
    custody: Sequence[Mapping[str, Any]],
    *,
    envelope: Mapping[str, Any],
    node: str,
    from_: str,
    to: str,
    key: Ed25519PrivateKey,
    now: datetime,
) -> list[dict[str, Any]]:
    """`custody` plus `node`'s signed entry: it got the item from `from_`, passes it to `to`."""
    entry: dict[str, Any] = {"node": node, "from": from_, "to": to, "at": _timestamp(now)}
    entry["sig"] = _sign(_custody_payload(entry, envelope), key, node)
    return [*(dict(c) for c in custody), entry]


def seal(
    envelope: Mapping[str, Any],
    *,
    sender: str,
    recipient: str,
    seq: int,
    custody: Sequence[Mapping[str, Any]],
    key: Ed25519PrivateKey,
    now: datetime,
    validity_s: float,
) -> bytes:
    """The share message (JSON bytes) carrying the origin-signed `envelope` on one stream."""
    if "sig" not in envelope:
        raise ValueError("the envelope is not origin-signed: sign_envelope it first")
    if sender == recipient:
        raise ValueError(f"a node does not share with itself ({sender!r})")
    message: dict[str, Any] = {
        "envelope": dict(envelope),
        "sender": sender,
        "recipient": recipient,
        "seq": seq,
        "sent_at": _timestamp(now),
        "expires_at": _timestamp(now + timedelta(seconds=validity_s)),
        "custody": [dict(c) for c in custody],
    }
    message["sig"] = _sign(_jcs(message), key, sender)
    return orjson.dumps(message)


def open_message(
    payload: bytes,
    *,
    me: str,
    trusted: Mapping[str, Ed25519PublicKey],
    now: datetime,
    schemas: SchemaSet,
) -> Opened:
    """Check a share message addressed to node `me`; ShareRejected says what failed."""
    if now.tzinfo is None:  # comparing with the aware expires_at would raise TypeError later
        raise ValueError("a naive datetime: pass an aware one (e.g. datetime.now(UTC))")
    try:
        # Strict: a duplicate key would let this node read a message one way and the origin
        # (or another custodian) sign it meaning the other.
        message = strict_json.loads(payload)
    except orjson.JSONDecodeError as e:
        raise ShareRejected(f"not JSON: {e}") from None
    except strict_json.StrictJsonError as e:
        raise ShareRejected(f"unsafe JSON: {e}") from None
    if not isinstance(message, dict):
        raise ShareRejected("not a JSON object")
    violations = schemas.validate(SHARE_SCHEMA_ID, message)
    if violations:
        raise ShareRejected(f"schema violation: {violations[0]}")
    sender, recipient = message["sender"], message["recipient"]
    if sender == recipient:
        raise ShareRejected(f"sender and recipient are both {sender!r}")
    if sender not in trusted:
        raise ShareRejected(f"unknown sender {sender!r}")
    body = {k: v for k, v in message.items() if k != "sig"}
    try:
        signer = _verify(message["sig"], _jcs(body), trusted, "message")
    except SignatureRejected as e:
        raise ShareRejected(f"transport signature: {e.reason}") from None
    except ValueError as e:
        raise ShareRejected(f"transport signature: {e}") from None
    if signer != sender:
        raise ShareRejected(f"transport signature: signed by {signer!r}, not the sender {sender!r}")
    # Checked only now: a changed recipient is tampering, a signed one is a misdelivery.
    if recipient != me:
        raise ShareRejected(f"addressed to {recipient!r}, not to this node {me!r}")
    expires_at = datetime.fromisoformat(message["expires_at"])
    if now > expires_at:
        raise ShareRejected(f"expired at {message['expires_at']} ({_EXPIRED_HINT})")
    envelope, custody = message["envelope"], message["custody"]
    try:
        origin = _check_item(envelope, custody, trusted, sender, recipient)
    except ShareRejected as e:
        e.place = (sender, message["seq"])
        raise
    return Opened(
        envelope=envelope,
        sender=sender,
        recipient=recipient,
        seq=message["seq"],
        sent_at=datetime.fromisoformat(message["sent_at"]),
        custody=custody,
        origin=origin,
    )


def _check_item(
    envelope: dict[str, Any],
    custody: list[dict[str, Any]],
    trusted: Mapping[str, Ed25519PublicKey],
    sender: str,
    recipient: str,
) -> str:
    """The origin's signature and the chain of custody of a delivered item; its origin."""
    try:
        origin = verify_envelope(envelope, trusted)
    except SignatureRejected as e:
        raise ShareRejected(f"origin signature: {e.reason}") from None
    _check_custody(custody, origin=origin, sender=sender, recipient=recipient)
    for i, entry in enumerate(custody):
        try:
            custodian = _verify(
                entry["sig"], _custody_payload(entry, envelope), trusted, "custody entry"
            )
        except SignatureRejected as e:
            raise ShareRejected(f"custody entry {i}: {e.reason}") from None
        if custodian != entry["node"]:
            raise ShareRejected(
                f"custody entry {i}: signed by {custodian!r}, not by its node {entry['node']!r}"
            )
    return origin


def _check_custody(
    custody: list[dict[str, Any]],
    *,
    origin: str,
    sender: str,
    recipient: str,
) -> None:
    """The chain must lead without gaps from the origin through the sender to the recipient."""
    if sender == origin:
        if custody:
            raise ShareRejected(
                f"custody chain: must be empty when the sender is the origin {origin!r}"
            )
        return
    if not custody:
        raise ShareRejected(
            f"custody chain: empty, but the sender {sender!r} is not the origin {origin!r}"
        )
    previous = origin
    for i, entry in enumerate(custody):
        if entry["from"] != previous:
            raise ShareRejected(
                f"custody chain: entry {i} has the item from {entry['from']!r}, not {previous!r}"
            )
        if i + 1 < len(custody) and entry["to"] != custody[i + 1]["node"]:
            raise ShareRejected(
                f"custody chain: entry {i} passes the item to {entry['to']!r}, "
                f"but entry {i + 1} is {custody[i + 1]['node']!r}"
            )
        previous = entry["node"]
    nodes = [origin, *(entry["node"] for entry in custody)]
    if len(set(nodes)) != len(nodes):
        raise ShareRejected(f"custody chain: passes through a node twice ({' -> '.join(nodes)})")
    last = custody[-1]
    if last["node"] != sender or last["to"] != recipient:
        raise ShareRejected(
            f"custody chain: ends {last['node']!r} -> {last['to']!r}, "
            f"not at this hop {sender!r} -> {recipient!r}"
        )
