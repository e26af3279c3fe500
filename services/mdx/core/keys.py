"""Ed25519 signing keys of nodes: create, load, and the trust store of partners' public keys.

Uses `cryptography` (the maintained binding to OpenSSL); keys are PEM files (PKCS#8 private,
SubjectPublicKeyInfo public) so operators can inspect them with `openssl pkey`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from mdx.core.settings import NodeSettings


class KeyError_(Exception):
    """A key file is missing or is not an Ed25519 key."""


def generate(private_path: Path) -> Ed25519PrivateKey:
    """Create a new private key at `private_path` (mode 0600) and its `.pub` beside it."""
    key = Ed25519PrivateKey.generate()
    private_path.parent.mkdir(parents=True, exist_ok=True)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    public_path(private_path).write_bytes(public_pem(key.public_key()))
    return key


def public_path(private_path: Path) -> Path:
    return private_path.with_suffix(".pub")


def public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def load_private(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError) as e:
        raise KeyError_(f"cannot read the signing key {path}: {e}") from e
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyError_(f"{path} is not an Ed25519 private key")
    return key


def load_public(path: Path) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except (OSError, ValueError) as e:
        raise KeyError_(f"cannot read the public key {path}: {e}") from e
    if not isinstance(key, Ed25519PublicKey):
        raise KeyError_(f"{path} is not an Ed25519 public key")
    return key


@dataclass(frozen=True)
class NodeKeys:
    """What a node signs with, and whose signatures it accepts (node id -> public key)."""

    node_id: str
    private: Ed25519PrivateKey
    trusted: dict[str, Ed25519PublicKey]


def load_node_keys(settings: NodeSettings) -> NodeKeys:
    private = load_private(settings.node.signing_key)
    trusted = {p.id: load_public(p.public_key) for p in settings.partners}
    trusted |= {n.id: load_public(n.public_key) for n in settings.trusted}
    # A node trusts itself too: its own items come back to it in re-shared custody chains.
    trusted[settings.node.id] = private.public_key()
    return NodeKeys(settings.node.id, private, trusted)
