"""Who is calling: an operator with an access token, or a partner node with its signature.

- `Authorization: Bearer <token>`: an account of this node (tokens from POST /auth/token).
- `Authorization: MDX-Ed25519 ...`: a partner node, by its node key (mdx.core.fedauth).
- The session cookie set at login (`mdx_session_<node>`, HttpOnly, SameSite=Strict): the same
  token, for the map, whose EventSource cannot send headers. For a write with the cookie the
  request's Origin must be this node's own: browsers send the cookie along with requests
  that other pages make, and SameSite does not help between ports of one host (the demo's
  three nodes are one "site"), while the Origin header is set by the browser and cannot be
  forged by a page. A write with the Authorization header needs no such check, since no page
  can make a browser add that header for it. The map's JavaScript never sees the token.
- Nothing: 401, except on the few routes that need no one (/healthz, login, the map's files,
  the OpenAPI document).

An account's role is read from the database on every request, so a disabled account or a
changed role takes effect at once, not when its token expires.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from fastapi import Request
from sqlalchemy import Connection

from mdx.api import accounts, tokens
from mdx.api.roles import Role
from mdx.api.visibility import Caller
from mdx.core import fedauth

if TYPE_CHECKING:
    from mdx.api.deps import Resources

BEARER = "Bearer"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class NotAuthenticated(Exception):
    """No usable credentials: a 401 with the reason and the scheme to use."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class CrossOriginWrite(Exception):
    """A write carried only the session cookie and came from another origin (403)."""


def cookie_name(node_id: str) -> str:
    # Cookies are not kept apart by port: one name per node, or logging in to one node's map
    # would log out of another's on the same host.
    return f"mdx_session_{node_id}"


def identify(request: Request, res: Resources, conn: Connection) -> Caller:
    """`conn`: where an account is looked up (the request's own connection)."""
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() == BEARER.lower():
            return _account(res, conn, credentials.strip())
        node = fedauth.verify_request(
            header, request.method, path_qs(request), res.settings.node.id, res.trusted, time.time()
        )
        return Caller(node=node, settings=res.settings, subject=node, role=Role.PARTNER)
    token = request.cookies.get(cookie_name(res.settings.node.id))
    if token:
        if request.method not in _SAFE_METHODS and not same_origin(request):
            raise CrossOriginWrite(
                "a write with the session cookie must come from this node's own pages "
                "(Origin header); other clients send Authorization: Bearer"
            )
        return _account(res, conn, token)
    raise NotAuthenticated(
        "no-credentials",
        "log in (POST /auth/token) and send Authorization: Bearer <token>; "
        "partner nodes sign their requests (MDX-Ed25519)",
    )


def _account(res: Resources, conn: Connection, token: str) -> Caller:
    try:
        claims = tokens.verify(res.token_key, token, res.settings.node.id)
    except tokens.InvalidToken as e:
        raise NotAuthenticated(e.reason, e.detail) from None
    account = accounts.active(conn, claims.sub)
    if account is None:
        raise NotAuthenticated("account-disabled", f"account {claims.sub!r} is disabled or gone")
    return Caller(
        subject=account.name, role=account.role, token_id=claims.jti, expires_at=claims.exp
    )


def same_origin(request: Request) -> bool:
    """Whether the browser says this request comes from a page of this very origin."""
    origin = request.headers.get("origin")
    host = request.headers.get("host")
    return origin is not None and host is not None and origin == f"{request.url.scheme}://{host}"


def path_qs(request: Request) -> str:
    # The path and query exactly as sent (still percent-encoded): what the partner signed.
    path: bytes = request.scope.get("raw_path") or request.url.path.encode()
    query: bytes = request.scope.get("query_string", b"")
    return (path + b"?" + query if query else path).decode("latin-1")
