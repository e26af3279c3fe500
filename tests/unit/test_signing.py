"""Origin signatures on envelopes and the signed share messages between nodes (mdx.core.signing)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from mdx.core.envelope import make_envelope
from mdx.core.schemas import SCHEMA_DIR, SchemaSet
from mdx.core.signing import (
    SHARE_SCHEMA_ID,
    Opened,
    ShareRejected,
    SignatureRejected,
    add_custody,
    canonical,
    open_message,
    seal,
    sign_envelope,
    verify_envelope,
)

NODES = ("jcg", "kcg", "uscg")
NOW = datetime(2025, 3, 14, 2, 0, tzinfo=UTC)
VALIDITY_S = 60
ALTERED = "signature does not match the envelope: altered after signing"
MESSAGE_ALTERED = "transport signature: signature does not match the message: altered after signing"

Keys = dict[str, Ed25519PrivateKey]
Trusted = dict[str, Ed25519PublicKey]


@pytest.fixture(scope="module")
def keys() -> Keys:
    # "pcg" has a key but no partner trusts it.
    return {node: Ed25519PrivateKey.generate() for node in (*NODES, "pcg")}


@pytest.fixture(scope="module")
def trusted(keys: Keys) -> Trusted:
    return {node: keys[node].public_key() for node in NODES}


@pytest.fixture(scope="module")
def schemas() -> SchemaSet:
    return SchemaSet()


@pytest.fixture
def envelope() -> dict[str, Any]:
    """An unsigned JCG position, AMBER, releasable to KCG and USCG."""
    data = json.loads(
        (SCHEMA_DIR / "position/v1/examples/valid/korea-strait-container-ship.json").read_text()
    )
    return make_envelope(
        "jcg", "ais-naha-1", "mdx.position.v1", data, tlp="AMBER", relto=["kcg", "uscg"], seq=3
    )


@pytest.fixture
def signed(envelope: dict[str, Any], keys: Keys) -> dict[str, Any]:
    return sign_envelope(envelope, keys["jcg"], "jcg")


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _jws(payload: bytes, key: Ed25519PrivateKey, header: dict[str, Any]) -> str:
    """A detached JWS made by hand, independently of the module under test."""
    protected = _b64(json.dumps(header).encode())
    signature = key.sign(f"{protected}.{_b64(payload)}".encode())
    return f"{protected}..{_b64(signature)}"


def _rejected(envelope: dict[str, Any], trusted: Trusted) -> str:
    with pytest.raises(SignatureRejected) as caught:
        verify_envelope(envelope, trusted)
    return caught.value.reason


# -- origin signatures --------------------------------------------------------------------


def test_sign_and_verify(
    envelope: dict[str, Any], signed: dict[str, Any], trusted: Trusted, schemas: SchemaSet
) -> None:
    assert "sig" not in envelope  # a copy is signed
    assert {k: v for k, v in signed.items() if k != "sig"} == envelope
    assert verify_envelope(signed, trusted) == "jcg"
    # `sig` is a CloudEvents extension attribute the envelope schema accepts.
    assert schemas.validate_envelope(signed) == []


def test_the_jws_is_standard(signed: dict[str, Any], trusted: Trusted) -> None:
    """Rebuild RFC 7515 appendix F's signing input by hand and verify with `cryptography`."""
    header_b64, detached, signature_b64 = signed["sig"].split(".")
    assert detached == ""
    assert "=" not in header_b64 + signature_b64
    header = json.loads(_unb64(header_b64))
    assert header == {"alg": "EdDSA", "kid": "jcg"}
    jcs = rfc8785.dumps({k: v for k, v in signed.items() if k != "sig"})
    signing_input = f"{header_b64}.{_b64(jcs)}".encode()
    trusted["jcg"].verify(_unb64(signature_b64), signing_input)  # raises if it does not


def test_canonical_form_is_jcs_without_sig() -> None:
    assert canonical({"sig": "x..y", "b": [1, 2.50, "é"], "a": {"d": True, "c": None}}) == (
        '{"a":{"c":null,"d":true},"b":[1,2.5,"é"]}'.encode()
    )


def test_key_order_and_whitespace_do_not_matter(
    envelope: dict[str, Any], signed: dict[str, Any], keys: Keys, trusted: Trusted
) -> None:
    reordered = json.loads(json.dumps(dict(reversed(list(signed.items()))), indent=3))
    assert list(reordered) != list(signed)
    assert canonical(reordered) == canonical(envelope)
    assert verify_envelope(reordered, trusted) == "jcg"
    # Ed25519 is deterministic: the same content gives the same signature.
    assert sign_envelope(reordered, keys["jcg"], "jcg")["sig"] == signed["sig"]


def _set_tlp_clear(e: dict[str, Any]) -> None:
    e["tlp"] = "CLEAR"


def _move_lat(e: dict[str, Any]) -> None:
    e["data"]["lat"] = round(e["data"]["lat"] + 0.001, 6)


def _drop_relto(e: dict[str, Any]) -> None:
    del e["relto"]


def _add_attribute(e: dict[str, Any]) -> None:
    e["note"] = "releasable to all"


def _swap_id(e: dict[str, Any]) -> None:
    e["id"] = "00000000-0000-4000-8000-000000000000"


@pytest.mark.parametrize(
    "tamper", [_set_tlp_clear, _move_lat, _drop_relto, _add_attribute, _swap_id]
)
def test_any_change_after_signing_is_caught(
    signed: dict[str, Any], trusted: Trusted, tamper: Callable[[dict[str, Any]], None]
) -> None:
    assert signed["tlp"] == "AMBER" and "relto" in signed
    tamper(signed)
    assert _rejected(signed, trusted) == ALTERED


def test_unsigned(envelope: dict[str, Any], trusted: Trusted) -> None:
    assert _rejected(envelope, trusted) == "unsigned envelope"


def test_unknown_signer(envelope: dict[str, Any], keys: Keys, trusted: Trusted) -> None:
    assert _rejected(sign_envelope(envelope, keys["pcg"], "pcg"), trusted) == (
        "signed by unknown node 'pcg'"
    )
    # A stranger's key under a known kid is just a wrong signature.
    assert _rejected(sign_envelope(envelope, keys["pcg"], "jcg"), trusted) == ALTERED


def test_a_node_cannot_speak_for_another(
    envelope: dict[str, Any], keys: Keys, trusted: Trusted
) -> None:
    forged = sign_envelope(envelope, keys["kcg"], "kcg")
    assert _rejected(forged, trusted) == "signed by 'kcg' but its source names node 'jcg'"


def test_source_that_names_no_node(envelope: dict[str, Any], keys: Keys, trusted: Trusted) -> None:
    envelope["source"] = "jcg"
    signed = sign_envelope(envelope, keys["jcg"], "jcg")
    assert _rejected(signed, trusted) == "its source 'jcg' names no mdx node"


def _header(value: object) -> str:
    return _b64(json.dumps(value).encode())


GOOD_HEADER = _header({"alg": "EdDSA", "kid": "jcg"})
SIG_64 = _b64(bytes(64))
NOT_DETACHED = "malformed signature: not a detached JWS (header..signature)"


@pytest.mark.parametrize(
    ("sig", "reason"),
    [
        ("", NOT_DETACHED),
        ("eyJhbGciOiJFZERTQSJ9", NOT_DETACHED),
        (f"{GOOD_HEADER}.{_b64(b'{}')}.{SIG_64}", NOT_DETACHED),  # attached payload
        (f"{GOOD_HEADER}..{SIG_64}..{SIG_64}", NOT_DETACHED),
        (f"..{SIG_64}", NOT_DETACHED),
        (f"{GOOD_HEADER}..", NOT_DETACHED),
        (f"{GOOD_HEADER}+..{SIG_64}", "malformed signature: header is not base64url"),
        (f"{GOOD_HEADER}\n..{SIG_64}", "malformed signature: header is not base64url"),
        (f"{GOOD_HEADER}..{SIG_64}==", "malformed signature: signature is not base64url"),
        (f"{GOOD_HEADER}..{SIG_64[:-1]}", "malformed signature: signature is not base64url"),
        (f"{_b64(b'alg=EdDSA')}..{SIG_64}", "malformed signature: header is not JSON"),
        (f"{_header(['EdDSA'])}..{SIG_64}", "malformed signature: header is not a JSON object"),
        (
            f"{_header({'alg': 'HS256', 'kid': 'jcg'})}..{SIG_64}",
            "unsupported signature algorithm 'HS256'",
        ),
        (f"{_header({'alg': 'none'})}..", NOT_DETACHED),
        (f"{_header({'alg': 'none', 'kid': 'jcg'})}..AA", "unsupported signature algorithm 'none'"),
        (f"{_header({'kid': 'jcg'})}..{SIG_64}", "unsupported signature algorithm None"),
        (f"{_header({'alg': 'EdDSA'})}..{SIG_64}", "malformed signature: header has no kid"),
        (
            f"{_header({'alg': 'EdDSA', 'kid': 7})}..{SIG_64}",
            "malformed signature: header has no kid",
        ),
        (
            f"{_header({'alg': 'EdDSA', 'kid': 'jcg', 'crit': ['b64'], 'b64': False})}..{SIG_64}",
            "malformed signature: critical header extensions unsupported",
        ),
        (
            f"{GOOD_HEADER}..{_b64(bytes(63))}",
            "malformed signature: an Ed25519 signature is 64 bytes",
        ),
        (f"{GOOD_HEADER}..{SIG_64}", ALTERED),  # well formed, but not jcg's signature
        (42, "malformed signature: not a string of at most 2048 characters"),
        ("A" * 2049, "malformed signature: not a string of at most 2048 characters"),
    ],
)
def test_malformed_signatures(
    envelope: dict[str, Any], trusted: Trusted, sig: object, reason: str
) -> None:
    envelope["sig"] = sig
    assert _rejected(envelope, trusted) == reason


def test_numbers_jcs_cannot_represent_are_refused(
    envelope: dict[str, Any], keys: Keys, trusted: Trusted
) -> None:
    envelope["seq"] = 2**53  # the envelope schema allows it; RFC 8785 does not
    with pytest.raises(ValueError, match="cannot canonicalise"):
        sign_envelope(envelope, keys["jcg"], "jcg")
    envelope["sig"] = f"{GOOD_HEADER}..{SIG_64}"
    assert _rejected(envelope, trusted).startswith("cannot canonicalise for signing: ")


# -- share messages -----------------------------------------------------------------------


def _seal(
    envelope: dict[str, Any],
    keys: Keys,
    sender: str = "jcg",
    recipient: str = "kcg",
    *,
    seq: int = 5,
    custody: list[dict[str, Any]] | None = None,
) -> bytes:
    return seal(
        envelope,
        sender=sender,
        recipient=recipient,
        seq=seq,
        custody=custody or [],
        key=keys[sender],
        now=NOW,
        validity_s=VALIDITY_S,
    )


def _open(
    payload: bytes, trusted: Trusted, schemas: SchemaSet, me: str = "kcg", now: datetime = NOW
) -> Opened:
    return open_message(payload, me=me, trusted=trusted, now=now, schemas=schemas)


def _refused(
    payload: bytes, trusted: Trusted, schemas: SchemaSet, me: str = "kcg", now: datetime = NOW
) -> str:
    with pytest.raises(ShareRejected) as caught:
        _open(payload, trusted, schemas, me, now)
    return caught.value.reason


def _edit(payload: bytes, change: Callable[[dict[str, Any]], object]) -> bytes:
    message = orjson.loads(payload)
    change(message)
    return orjson.dumps(message)


def _resign(message: dict[str, Any], key: Ed25519PrivateKey, kid: str) -> None:
    """Transport-sign an edited message correctly, as a sender (or a forger with a key) would."""
    body = {k: v for k, v in message.items() if k != "sig"}
    message["sig"] = _jws(rfc8785.dumps(body), key, {"alg": "EdDSA", "kid": kid})


def test_seal_and_open(
    signed: dict[str, Any], keys: Keys, trusted: Trusted, schemas: SchemaSet
) -> None:
    payload = _seal(signed, keys)
    message = orjson.loads(payload)
    assert message["sent_at"] == "2025-03-14T02:00:00.000Z"
    assert message["expires_at"] == "2025-03-14T02:01:00.000Z"
    assert schemas.validate(SHARE_SCHEMA_ID, message) == []
    assert _open(payload, trusted, schemas) == Opened(
        envelope=signed,
        sender="jcg",
        recipient="kcg",
        seq=5,
        sent_at=NOW,
        custody=[],
        origin="jcg",
    )
    # Valid up to and including expires_at.
    assert _open(payload, trusted, schemas, now=NOW + timedelta(seconds=VALIDITY_S)).seq == 5


def test_misuse_by_the_caller_is_a_value_error(
    envelope: dict[str, Any], signed: dict[str, Any], keys: Keys
) -> None:
    with pytest.raises(ValueError, match="not origin-signed"):
        _seal(envelope, keys)
    with pytest.raises(ValueError, match="does not share with itself"):
        _seal(signed, keys, "jcg", "jcg")
    with pytest.raises(ValueError, match="naive datetime"):
        seal(signed, sender="jcg", recipient="kcg", seq=1, custody=[], key=keys["jcg"],
             now=datetime(2025, 3, 14), validity_s=60)  # fmt: skip
    with pytest.raises(ValueError, match="naive datetime"):
        _open(_seal(signed, keys), {}, SchemaSet(), now=datetime(2025, 3, 14))


def test_wrong_recipient(
    signed: dict[str, Any], keys: Keys, trusted: Trusted, schemas: SchemaSet
) -> None:
    payload = _seal(signed, keys, "jcg", "uscg")
    assert _refused(payload, trusted, schemas, me="kcg") == (
        "addressed to 'uscg', not to this node 'kcg'"
    )


def test_expired(signed: dict[str, Any], keys: Keys, trusted: Trusted, schemas: SchemaSet) -> None:
    late = NOW + timedelta(seconds=VALIDITY_S, milliseconds=1)
    assert _refused(_seal(signed, keys), trusted, schemas, now=late) == (
        "expired at 2025-03-14T02:01:00.000Z "
        "(a replay, or held too long; the feed will backfill it)"
    )


def test_unknown_sender(
    envelope: dict[str, Any], keys: Keys, trusted: Trusted, schemas: SchemaSet
) -> None:
    own = sign_envelope(
        make_envelope("pcg", "p", "mdx.position.v1", envelope["data"]), keys["pcg"], "pcg"
    )
    assert _refused(_seal(own, keys, "pcg", "kcg"), trusted, schemas) == "unknown sender 'pcg'"


def _bump_seq(m: dict[str, Any]) -> None:
    m["seq"] += 1


def _readdress(m: dict[str, Any]) -> None:
    m["recipient"] = "kcg"  # sealed for uscg


def _extend_validity(m: dict[str, Any]) -> None:
    m["expires_at"] = "2025-03-15T02:01:00.000Z"


@pytest.mark.parametrize("tamper", [_bump_seq, _readdress, _extend_validity])
def test_transport_tampering(
    signed: dict[str, Any],
    keys: Keys,
    trusted: Trusted,
    schemas: SchemaSet,
    tamper: Callable[[dict[str, Any]], None],
) -> None:
    payload = _seal(signed, keys, "jcg", "uscg" if tamper is _readdress else "kcg")
    assert _refused(_edit(payload, tamper), trusted, schemas) == MESSAGE_ALTERED


def test_transport_signed_by_another_node(
    signed: dict[str, Any], keys: Keys, trusted: Trusted, schemas: SchemaSet
) -> None:
    # USCG, a trusted partner, forges a message on JCG's stream to KCG.
    forged = _edit(_seal(signed, keys), lambda m: _resign(m, keys["uscg"], "uscg"))
    assert _refused(forged, trusted, schemas) == (
        "transport signature: signed by 'uscg', not the sender 'jcg'"
    )
    forged = _edit(_seal(signed, keys), lambda m: _resign(m, keys["uscg"], "jcg"))
    assert _refused(forged, trusted, schemas) == MESSAGE_ALTERED


def test_a_sender_cannot_alter_what_it_passes_on(
    signed: dict[str, Any], keys: Keys, trusted: Trusted, schemas: SchemaSet
) -> None:
    # The transport signature is KCG's and valid; the envelope is no longer what JCG signed.
    altered = {**signed, "tlp": "CLEAR"}
    custody = add_custody(
        [], envelope=altered, node="kcg", from_="jcg", to="uscg", key=keys["kcg"], now=NOW
    )
    payload = _seal(altered, keys, "kcg", "uscg", custody=custody)
    assert _refused(payload, trusted, schemas, me="uscg") == f"origin signature: {ALTERED}"
    # The origin itself cannot change its envelope without signing it again either.
    assert _refused(_seal(altered, keys), trusted, schemas) == f"origin signature: {ALTERED}"


def test_origin_signature_of_another_node(
    envelope: dict[str, Any], keys: Keys, trusted: Trusted, schemas: SchemaSet
) -> None:
    forged = sign_envelope(envelope, keys["kcg"], "kcg")  # KCG claims JCG said it
    custody = add_custody(
        [], envelope=forged, node="kcg", from_="jcg", to="uscg", key=keys["kcg"], now=NOW
    )
    payload = _seal(forged, keys, "kcg", "uscg", custody=custody)
    assert _refused(payload, trusted, schemas, me="uscg") == (
        "origin signature: signed by 'kcg' but its source names node 'jcg'"
    )


def test_reshare_through_kcg_to_uscg(
    signed: dict[str, Any], keys: Keys, trusted: Trusted, schemas: SchemaSet
) -> None:
    at_kcg = _open(_seal(signed, keys, "jcg", "kcg", seq=5), trusted, schemas, me="kcg")
    custody = add_custody(
        at_kcg.custody,
        envelope=at_kcg.envelope,
        node="kcg",
        from_=at_kcg.sender,
        to="uscg",
        key=keys["kcg"],
        now=NOW + timedelta(seconds=1),
    )
    assert at_kcg.custody == []  # not mutated
    payload = _seal(at_kcg.envelope, keys, "kcg", "uscg", seq=901, custody=custody)
    at_uscg = _open(payload, trusted, schemas, me="uscg")
    assert (at_uscg.origin, at_uscg.sender, at_uscg.recipient, at_uscg.seq) == (
        "jcg",
        "kcg",
        "uscg",
        901,
    )
    assert orjson.dumps(at_uscg.envelope) == orjson.dumps(signed)  # the origin's, unchanged
    [entry] = at_uscg.custody
    assert {k: entry[k] for k in ("node", "from", "to", "at")} == {
        "node": "kcg",
        "from": "jcg",
        "to": "uscg",
        "at": "2025-03-14T02:00:01.000Z",
    }
    assert json.loads(_unb64(entry["sig"].split(".")[0])) == {"alg": "EdDSA", "kid": "kcg"}


def _entry(
    signed: dict[str, Any],
    key: Ed25519PrivateKey,
    node: str,
    from_: str,
    to: str,
    kid: str | None = None,
) -> dict[str, Any]:
    """A custody entry signed by hand with any key and kid (for forgeries)."""
    entry = {"node": node, "from": from_, "to": to, "at": "2025-03-14T01:59:00.000Z"}
    payload = rfc8785.dumps(
        {"envelope_id": signed["id"], "envelope_source": signed["source"], **entry}
    )
    return {**entry, "sig": _jws(payload, key, {"alg": "EdDSA", "kid": kid or node})}


@pytest.mark.parametrize(
    ("chain", "reason"),
    [
        (  # honest, made by hand: proves _entry matches add_custody's signed form
            [("kcg", "kcg", "jcg", "uscg", None)],
            None,
        ),
        (
            [("uscg", "kcg", "jcg", "uscg", None)],
            "custody entry 0: signature does not match the custody entry: altered after signing",
        ),
        (
            [("uscg", "kcg", "jcg", "uscg", "uscg")],
            "custody entry 0: signed by 'uscg', not by its node 'kcg'",
        ),
        ([], "custody chain: empty, but the sender 'kcg' is not the origin 'jcg'"),
        (
            [("kcg", "kcg", "uscg", "uscg", None)],
            "custody chain: entry 0 has the item from 'uscg', not 'jcg'",
        ),
        (
            [("kcg", "kcg", "jcg", "jcg", None)],
            "custody chain: ends 'kcg' -> 'jcg', not at this hop 'kcg' -> 'uscg'",
        ),
        (
            [("uscg", "uscg", "jcg", "kcg", None)],  # a chain that ends at someone else
            "custody chain: ends 'uscg' -> 'kcg', not at this hop 'kcg' -> 'uscg'",
        ),
        (
            [("pcg", "pcg", "jcg", "kcg", None), ("kcg", "kcg", "pcg", "uscg", None)],
            "custody entry 0: signed by unknown node 'pcg'",
        ),
        (
            [("kcg", "kcg", "jcg", "uscg", None), ("kcg", "kcg", "kcg", "uscg", None)],
            "custody chain: entry 0 passes the item to 'uscg', but entry 1 is 'kcg'",
        ),
        (
            [
                ("kcg", "kcg", "jcg", "uscg", None),
                ("uscg", "uscg", "kcg", "kcg", None),
                ("kcg", "kcg", "uscg", "uscg", None),
            ],
            "custody chain: passes through a node twice (jcg -> kcg -> uscg -> kcg)",
        ),
    ],
)
def test_custody_chains(
    signed: dict[str, Any],
    keys: Keys,
    trusted: Trusted,
    schemas: SchemaSet,
    chain: list[tuple[str, str, str, str, str | None]],
    reason: str | None,
) -> None:
    custody = [_entry(signed, keys[k], n, f, t, kid) for k, n, f, t, kid in chain]
    payload = _seal(signed, keys, "kcg", "uscg", custody=custody)
    if reason is None:
        assert _open(payload, trusted, schemas, me="uscg").custody == custody
    else:
        assert _refused(payload, trusted, schemas, me="uscg") == reason


def test_custody_entry_of_another_item_does_not_fit(
    envelope: dict[str, Any],
    signed: dict[str, Any],
    keys: Keys,
    trusted: Trusted,
    schemas: SchemaSet,
) -> None:
    other = sign_envelope(
        {**envelope, "id": "00000000-0000-4000-8000-000000000001"}, keys["jcg"], "jcg"
    )
    custody = add_custody(
        [], envelope=other, node="kcg", from_="jcg", to="uscg", key=keys["kcg"], now=NOW
    )
    payload = _seal(signed, keys, "kcg", "uscg", custody=custody)
    assert _refused(payload, trusted, schemas, me="uscg") == (
        "custody entry 0: signature does not match the custody entry: altered after signing"
    )


def test_origin_as_sender_has_no_custody(
    signed: dict[str, Any], keys: Keys, trusted: Trusted, schemas: SchemaSet
) -> None:
    custody = add_custody(
        [], envelope=signed, node="kcg", from_="jcg", to="jcg", key=keys["kcg"], now=NOW
    )
    assert _refused(_seal(signed, keys, custody=custody), trusted, schemas) == (
        "custody chain: must be empty when the sender is the origin 'jcg'"
    )


def test_sender_equal_to_recipient(
    signed: dict[str, Any], keys: Keys, trusted: Trusted, schemas: SchemaSet
) -> None:
    def loop(m: dict[str, Any]) -> None:
        m["sender"] = "kcg"
        _resign(m, keys["kcg"], "kcg")

    assert _refused(_edit(_seal(signed, keys), loop), trusted, schemas) == (
        "sender and recipient are both 'kcg'"
    )


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (
            lambda m: m.pop("seq"),
            'schema violation: /: "seq" is a required property (rule required at /required)',
        ),
        (
            lambda m: m["envelope"].pop("sig"),
            'schema violation: /envelope: "sig" is a required property '
            "(rule required at /properties/envelope/allOf/1/required)",
        ),
        (
            lambda m: m.update(seq=0),
            "schema violation: /seq: 0 is less than the minimum of 1 "
            "(rule minimum at /properties/seq/minimum)",
        ),
    ],
)
def test_schema_violations(
    signed: dict[str, Any],
    keys: Keys,
    trusted: Trusted,
    schemas: SchemaSet,
    change: Callable[[dict[str, Any]], object],
    reason: str,
) -> None:
    assert _refused(_edit(_seal(signed, keys), change), trusted, schemas) == reason


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"[]", "not a JSON object"),
        (b'"share"', "not a JSON object"),
        (b"null", "not a JSON object"),
    ],
)
def test_not_an_object(payload: bytes, reason: str, trusted: Trusted, schemas: SchemaSet) -> None:
    assert _refused(payload, trusted, schemas) == reason


@pytest.mark.parametrize("payload", [b"", b"{", b"\xff", b'{"seq": 1,}'])
def test_not_json(payload: bytes, trusted: Trusted, schemas: SchemaSet) -> None:
    assert _refused(payload, trusted, schemas).startswith("not JSON: ")


def test_a_duplicate_key_is_refused_even_in_a_well_sealed_message(
    signed: dict[str, Any], keys: Keys, trusted: Trusted, schemas: SchemaSet
) -> None:
    sealed = _seal(signed, keys)
    # The same message with its recipient written twice: orjson would read the last one.
    doubled = sealed.replace(b'"recipient":', b'"recipient":"uscg","recipient":', 1)
    assert doubled != sealed
    assert _refused(doubled, trusted, schemas) == (
        "unsafe JSON: duplicate key 'recipient' (parsers differ on which counts)"
    )
