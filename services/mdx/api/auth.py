"""/auth: operators log in (OAuth2 password flow) and out.

`POST /auth/token` takes the form fields `username` and `password` and answers with a bearer
token (for scripts and /docs) and, for the map, the same token in an HttpOnly cookie
(mdx.api.identity). Every refusal is the same 401, whether the name is unknown, the account
disabled or the password wrong; too many refusals for one name within a while are a 429 for
that name, whatever the password (the write rate limit's bucket, per name tried).
"""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel

from mdx.api import accounts, problems, tokens
from mdx.api.access import too_many, unauthenticated
from mdx.api.deps import Res, Resources, Who
from mdx.api.identity import cookie_name
from mdx.core import audit

router = APIRouter(prefix="/auth", tags=["auth"])

REFUSED = "invalid username or password"


class TokenAnswer(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int
    role: str


class Me(BaseModel):
    name: str
    role: str
    node: str


@router.post(
    "/token",
    summary="Log in: a bearer token (and the map's session cookie) for an account",
    response_model=TokenAnswer,
    responses=problems.responses(401, 429),
)
def login(
    request: Request,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    res: Res,
) -> Response:
    now = time.time()
    attempt_key = form.username.lower()
    actor = f"user:{form.username}"[:128]
    # Taken before the password is checked, so parallel guesses cannot pass the limit together.
    wait_s = res.login_limiter.take(attempt_key, now)
    if wait_s > 0:
        _audit(res, audit.AUTH_REFUSED, actor, {"reason": "too many failed logins"})
        return too_many(request, wait_s, f"too many failed logins for {form.username!r}")
    with res.engine.connect() as conn:
        account = accounts.check_login(conn, form.username, form.password)
    if account is None:
        _audit(res, audit.AUTH_REFUSED, actor, {"reason": REFUSED})
        return unauthenticated(request, "refused", REFUSED)
    res.login_limiter.give_back(attempt_key)  # only failures count towards the limit
    ttl_s = res.settings.auth.token_ttl_s
    claims = tokens.issue(
        sub=account.name, role=account.role, node=res.settings.node.id, ttl_s=ttl_s, now=now
    )
    _audit(res, audit.AUTH_LOGIN, actor, {"role": account.role, "token": claims.jti})
    token = tokens.encode(res.token_key, claims)
    answer = TokenAnswer(access_token=token, expires_in=ttl_s, role=account.role)
    response = Response(answer.model_dump_json(), media_type="application/json")
    response.set_cookie(
        cookie_name(res.settings.node.id),
        token,
        max_age=ttl_s,
        path="/",
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )
    response.headers["Cache-Control"] = "no-store"  # RFC 6749 5.1: tokens are not cached
    return response


def _audit(res: Resources, event: str, actor: str, detail: dict[str, str]) -> None:
    with res.engine.begin() as conn:
        audit.record(conn, event, actor=actor, detail=detail)


@router.post("/logout", status_code=204, summary="Log out: forget the map's session cookie")
def logout(res: Res) -> Response:
    response = Response(status_code=204)
    response.delete_cookie(cookie_name(res.settings.node.id), path="/", httponly=True,
                           samesite="strict")  # fmt: skip
    return response


@router.get("/me", summary="The account behind this request", responses=problems.responses(401))
def me(who: Who, res: Res) -> Me:
    if who.node is not None:
        return Me(name=who.node, role=who.role, node=who.node)
    return Me(name=who.subject, role=who.role, node=res.settings.node.id)
