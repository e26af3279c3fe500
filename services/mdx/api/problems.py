"""RFC 9457 problem details: every error the API returns is `application/problem+json`.

Handlers raise a `ProblemError` subclass; its class decides the status, type and title, so the
exception -> HTTP status map lives here and nowhere else.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any, ClassVar

import orjson
import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import OperationalError as SAOperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

log = logging.getLogger("mdx.api")

MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "https://mdx.example/problems/"


class Problem(BaseModel):
    """The problem+json body, for the OpenAPI document (members beyond these may follow)."""

    model_config = ConfigDict(extra="allow")
    type: str
    title: str
    status: int
    detail: str
    instance: str
    errors: list[dict[str, Any]] | None = None


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for problems with these statuses."""
    return {
        s: {"model": Problem, "content": {MEDIA_TYPE: {}}, "description": HTTPStatus(s).phrase}
        for s in statuses
    }


class ProblemError(Exception):
    """An error the caller can act on; `detail` says what was wrong."""

    status: ClassVar[int] = 500
    slug: ClassVar[str] = "internal"

    def __init__(
        self, detail: str, *, errors: list[dict[str, Any]] | None = None, **extra: Any
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.extra = extra


class InvalidParameter(ProblemError):
    status = 400
    slug = "invalid-parameter"


class InvalidBody(ProblemError):
    """The body is not JSON, or JSON that mdx refuses (duplicate keys, NUL, too deep)."""

    status = 400
    slug = "invalid-body"


class UnsupportedMediaType(ProblemError):
    status = 415
    slug = "unsupported-media-type"


class Forbidden(ProblemError):
    status = 403
    slug = "forbidden"


class NotFound(ProblemError):
    status = 404
    slug = "not-found"


class VersionConflict(ProblemError):
    status = 409
    slug = "version-conflict"


class PayloadTooLarge(ProblemError):
    status = 413
    slug = "payload-too-large"


class Rejected(ProblemError):
    """The body broke a schema rule or a node rule (same handler as MQTT ingest)."""

    status = 422
    slug = "rejected"


class Unavailable(ProblemError):
    status = 503
    slug = "unavailable"


def param_error(name: str, value: object, message: str, where: str = "query") -> dict[str, Any]:
    """One entry of `errors` for a bad request parameter."""
    return {"in": where, "parameter": name, "value": value, "message": message}


def problem(
    request: Request,
    status: int,
    detail: str,
    *,
    slug: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> Response:
    body: dict[str, Any] = {
        "type": TYPE_BASE + slug if slug else "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    if errors is not None:
        body["errors"] = errors
    body.update(extra)
    return Response(orjson.dumps(body), status_code=status, media_type=MEDIA_TYPE)


async def _on_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ProblemError)
    return problem(request, exc.status, exc.detail, slug=exc.slug, errors=exc.errors, **exc.extra)


async def _on_request_validation(request: Request, exc: Exception) -> Response:
    # FastAPI says 422 here; we keep 422 for bodies that break the data schemas and call a
    # malformed request (bad UUID in the path, limit out of range, body not an object) a 400.
    assert isinstance(exc, RequestValidationError)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if any(e.get("loc") == ("body",) for e in exc.errors()) and content_type != "application/json":
        # FastAPI hands a body of another media type over as raw bytes, which then fail as
        # "not an object": the real fault is the media type.
        return problem(
            request,
            415,
            "the body must be application/json",
            slug=UnsupportedMediaType.slug,
        )
    errors = []
    for e in exc.errors():
        loc = [str(p) for p in e.get("loc", ())]
        where, name = (loc[0], ".".join(loc[1:])) if loc else ("request", "")
        if where != "body":
            name = loc[1] if len(loc) > 1 else name  # `kind`, not `kind.0`, for a list item
        given = e.get("input")
        shown = given.decode("utf-8", "replace") if isinstance(given, bytes) else given
        entry = param_error(name, shown, str(e.get("msg", "")), where)
        entry["keyword"] = e.get("type")
        errors.append(entry)
    names = ", ".join(f"{x['in']} {x['parameter']}".strip() for x in errors)
    return problem(
        request, 400, f"invalid request: {names}", slug="invalid-parameter", errors=errors
    )


async def _on_http(request: Request, exc: Exception) -> Response:
    # Unknown routes and wrong methods get problem+json too.
    assert isinstance(exc, StarletteHTTPException)
    response = problem(request, exc.status_code, str(exc.detail))
    for key, value in (exc.headers or {}).items():
        response.headers[key] = value
    if exc.status_code == 405 and (allowed := _allowed(request)):
        response.headers["Allow"] = ", ".join(allowed)
    return response


def _allowed(request: Request) -> list[str]:
    """The methods the OpenAPI document lists for this path. Starlette's own 405 names only
    the methods of the first route that matched, where a path served by GET and PATCH is two
    routes."""
    paths: dict[str, dict[str, Any]] = request.app.openapi().get("paths", {})
    for template, operations in paths.items():
        if compile_path(template)[0].match(request.url.path):
            return sorted(m.upper() for m in operations if m.upper() in _METHODS)
    return []


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"})


async def _on_database_down(request: Request, exc: Exception) -> Response:
    log.warning("database unavailable: %s", exc)
    return problem(request, 503, "the database is unavailable", slug="unavailable")


async def _on_unexpected(request: Request, exc: Exception) -> Response:
    # Internals stay in the log; the caller gets an id-free, generic problem.
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem(request, 500, "internal error", slug="internal")


def _openapi_without_fastapi_422(app: FastAPI) -> dict[str, Any]:
    """FastAPI documents a 422 for every route with parameters; ours answer those with a 400."""
    if app.openapi_schema is None:
        schema = FastAPI.openapi(app)
        for operations in schema["paths"].values():
            for op in operations.values():
                found = op["responses"].get("422", {})
                if "HTTPValidationError" in str(found.get("content", {})):
                    del op["responses"]["422"]
        for name in ("HTTPValidationError", "ValidationError"):
            schema.get("components", {}).get("schemas", {}).pop(name, None)
    return app.openapi_schema or {}


def install(app: FastAPI) -> None:
    app.openapi = lambda: _openapi_without_fastapi_422(app)  # type: ignore[method-assign]
    app.add_exception_handler(ProblemError, _on_problem)
    app.add_exception_handler(RequestValidationError, _on_request_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(SAOperationalError, _on_database_down)
    app.add_exception_handler(psycopg.OperationalError, _on_database_down)
    app.add_exception_handler(Exception, _on_unexpected)
