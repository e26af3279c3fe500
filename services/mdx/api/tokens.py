"""Access tokens: JWTs this node issues at login and checks on every request.

HS256 (HMAC-SHA256), not EdDSA: the node that issues a token is the only one that ever checks
it (a partner never sees our operators' tokens; partners authenticate with their own node key),
so a public key to hand out would buy nothing, while a symmetric key is one environment
variable and one operation. `algorithms` is pinned on verification, so a token claiming
`alg: none` or another algorithm is refused.

Claims: `sub` (account name), `role`, `node` (the issuing node: a token of one node is refused
by every other even if they shared a key), `iat`, `exp` (short: `[auth] token_ttl_s`), `jti`
(a unique id, for the audit trail).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import jwt

ALGORITHM = "HS256"
_REQUIRED = ["sub", "role", "node", "iat", "exp", "jti"]


class InvalidToken(Exception):
    """A token that does not authenticate anyone; `reason` is a short code for the caller."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Claims:
    sub: str
    role: str
    node: str
    iat: int
    exp: int
    jti: str


def issue(*, sub: str, role: str, node: str, ttl_s: int, now: float) -> Claims:
    """The claims of a new token; `encode` turns them into its text."""
    iat = int(now)
    return Claims(sub=sub, role=role, node=node, iat=iat, exp=iat + ttl_s, jti=uuid.uuid4().hex)


def encode(key: bytes, claims: Claims) -> str:
    payload = {name: getattr(claims, name) for name in _REQUIRED}
    return jwt.encode(payload, key, algorithm=ALGORITHM)


def verify(key: bytes, token: str, node: str) -> Claims:
    """The claims of a token this node issued and that has not expired; else InvalidToken."""
    try:
        payload = jwt.decode(
            token, key, algorithms=[ALGORITHM], options={"require": _REQUIRED}, leeway=0
        )
    except jwt.ExpiredSignatureError:
        raise InvalidToken("expired", "the token has expired: log in again") from None
    except jwt.InvalidSignatureError:
        raise InvalidToken("bad-signature", "the token is not signed by this node") from None
    except jwt.InvalidTokenError as e:
        raise InvalidToken("malformed", f"not a token of this node ({e})") from None
    if not all(isinstance(payload[n], str) for n in ("sub", "role", "node", "jti")):
        raise InvalidToken("malformed", "sub, role, node and jti must be strings")
    if payload["node"] != node:
        raise InvalidToken("other-node", f"the token was issued by {payload['node']!r}")
    return Claims(**{name: payload[name] for name in _REQUIRED})
