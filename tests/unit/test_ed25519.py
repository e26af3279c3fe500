"""Verification through libsodium agrees with cryptography's Ed25519 on what is valid."""

from __future__ import annotations

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from mdx.core import ed25519

KEY = Ed25519PrivateKey.generate()
MESSAGE = b"eyJhbGciOiJFZERTQSJ9.payload"


def test_a_signature_made_by_cryptography_verifies() -> None:
    ed25519.verify(KEY.public_key(), KEY.sign(MESSAGE), MESSAGE)


@pytest.mark.parametrize(
    ("key", "signature", "message"),
    [
        (KEY.public_key(), KEY.sign(MESSAGE), MESSAGE + b"!"),  # altered message
        (Ed25519PrivateKey.generate().public_key(), KEY.sign(MESSAGE), MESSAGE),  # other key
        (KEY.public_key(), KEY.sign(MESSAGE)[:63], MESSAGE),  # truncated
        (KEY.public_key(), bytes(64), MESSAGE),  # zeros
    ],
    ids=["altered", "other-key", "truncated", "zeros"],
)
def test_anything_else_is_refused_as_cryptography_refuses_it(
    key: Ed25519PublicKey, signature: bytes, message: bytes
) -> None:
    with pytest.raises(InvalidSignature):
        key.verify(signature, message)
    with pytest.raises(InvalidSignature):
        ed25519.verify(key, signature, message)
