"""The key that signs operators' access tokens, and whether a node may start with it.

A real node (`[node] demo = false`) takes it from the environment (`MDX_AUTH__TOKEN_SECRET`) and
refuses to start when it is missing, shorter than 32 bytes or a value published somewhere (the
README's placeholder, an example): anyone who knows the key can mint an admin token. A demo
node without one generates a random key once into `var/{node}/api-token.secret` (mode 0600), so
tokens survive a restart of the api.
"""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from mdx.core.settings import NodeSettings

log = logging.getLogger("mdx.api")

MIN_SECRET_BYTES = 32
ENV_VAR = "MDX_AUTH__TOKEN_SECRET"
# Values that are public: whoever read them could sign tokens.
KNOWN_DEFAULTS = frozenset(
    {
        "changeme",
        "change-me",
        "secret",
        "mdx",
        "replace-me-with-at-least-32-random-bytes",  # the README's placeholder
        "0" * MIN_SECRET_BYTES,
    }
)


class InsecureSecret(RuntimeError):
    """The node would start with a token key an attacker may know; the message says how to fix."""


def token_key(settings: NodeSettings) -> bytes:
    """The HMAC key for access tokens; raises InsecureSecret when a real node has no safe one."""
    given = settings.auth.token_secret
    if given is not None:
        value = given.get_secret_value()
        if not settings.node.demo:
            _refuse_weak(value)
        return value.encode()
    if not settings.node.demo:
        raise InsecureSecret(
            f"no API token secret: set {ENV_VAR} to at least {MIN_SECRET_BYTES} random bytes "
            "(e.g. `openssl rand -base64 48`); only a demo node ([node] demo = true) makes its own"
        )
    return _demo_key(
        settings.auth.token_secret_file or Path("var") / settings.node.id / "api-token.secret"
    )


def _refuse_weak(value: str) -> None:
    if value.strip().lower() in KNOWN_DEFAULTS:
        raise InsecureSecret(
            f"{ENV_VAR} is a published default value: anyone could sign tokens with it; "
            "generate one (e.g. `openssl rand -base64 48`)"
        )
    if len(value.encode()) < MIN_SECRET_BYTES:
        raise InsecureSecret(
            f"{ENV_VAR} has {len(value.encode())} bytes; it needs at least {MIN_SECRET_BYTES} "
            "(e.g. `openssl rand -base64 48`)"
        )


def _demo_key(path: Path) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: of two api processes starting at once, one writes and the other reads.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_bytes().strip()
        if len(key) >= MIN_SECRET_BYTES:
            return key
        raise InsecureSecret(f"{path} holds {len(key)} bytes; delete it to get a new key") from None
    key = secrets.token_urlsafe(48).encode()
    with os.fdopen(fd, "wb") as f:
        f.write(key + b"\n")
    log.warning("demo node: generated the API token key %s", path)
    return key
