"""What a route demands of its caller, as FastAPI dependencies, and the answers when it fails.

- `Who` (mdx.api.deps): anyone authenticated, operator or partner; what they read is then
  filtered by `visible`. The app factory puts it on every router but the public ones.
- `Writer`: an operator or admin of this node, within the write rate limit.
- `AdminOnly`: an admin of this node.

401 (with WWW-Authenticate) when nobody is authenticated, 403 when the role may not, 429 (with
Retry-After) when a caller writes faster than `[auth] write_burst` / `writes_per_minute`.
"""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.responses import Response

from mdx.api import problems, ratelimit, roles
from mdx.api.deps import Res, Who
from mdx.api.identity import BEARER, CrossOriginWrite, NotAuthenticated
from mdx.api.restricted_reads import actor
from mdx.api.visibility import Caller


class RateLimited(Exception):
    def __init__(self, subject: str, wait_s: float) -> None:
        super().__init__(f"{subject} must wait {wait_s:.1f} s")
        self.wait_s = wait_s


def writer(who: Who, res: Res) -> Caller:
    if not roles.may_write(who.role):
        raise problems.Forbidden(
            f"role {who.role} may not write: reporting and changing incidents needs an operator"
        )
    wait_s = res.write_limiter.take(actor(who), time.time())  # user:<name> or node:<id>
    if wait_s > 0:
        raise RateLimited(who.subject, wait_s)
    return who


def admin(who: Who) -> Caller:
    if not roles.may_administer(who.role):
        raise problems.Forbidden(f"role {who.role} may not do this: it needs an admin")
    return who


Writer = Annotated[Caller, Depends(writer)]
AdminOnly = Annotated[Caller, Depends(admin)]


def unauthenticated(request: Request, reason: str, detail: str) -> Response:
    response = problems.problem(
        request, 401, f"authentication failed: {reason}: {detail}", slug="unauthorized",
        reason=reason,
    )  # fmt: skip
    error = "" if reason == "no-credentials" else ', error="invalid_token"'
    response.headers["WWW-Authenticate"] = f'{BEARER} realm="mdx"{error}'
    return response


def too_many(request: Request, wait_s: float, detail: str) -> Response:
    response = problems.problem(request, 429, detail, slug="too-many-requests")
    response.headers["Retry-After"] = ratelimit.retry_after(wait_s)
    return response


async def _on_not_authenticated(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, NotAuthenticated)
    return unauthenticated(request, exc.reason, exc.detail)


async def _on_cross_origin(request: Request, exc: Exception) -> Response:
    return problems.problem(request, 403, str(exc), slug="cross-origin")


async def _on_rate_limited(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RateLimited)
    return too_many(request, exc.wait_s, f"too many writes: {exc}")


def install(app: FastAPI) -> None:
    app.add_exception_handler(NotAuthenticated, _on_not_authenticated)
    app.add_exception_handler(CrossOriginWrite, _on_cross_origin)
    app.add_exception_handler(RateLimited, _on_rate_limited)
