"""Operators' incident reports and status changes: the same intake and store as MQTT ingest.

A report is wrapped into an envelope from producer `api`, judged by `intake.accept_envelope`
and stored by `store.write_batch`, inside one transaction that first locks the current row, so
two writers of the same incident cannot both win.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any, cast

import psycopg
from sqlalchemy import Connection, select

from mdx.api import problems
from mdx.api.deps import Resources
from mdx.core import intake, sharing, store
from mdx.core.db import Incident
from mdx.core.envelope import make_envelope
from mdx.core.schemas import Violation

PRODUCER = "api"
INCIDENT_TYPE = "mdx.incident.v1"
# Envelope attributes that the caller sets through query parameters.
_MARKING_PARAMS = {"/tlp": "tlp", "/relto": "relto", "/purpose": "purpose"}
_DATA_REF = "/properties/data/$ref"
_POINTER_REASON = re.compile(r"^/data((?:/\S*)?): (.*)$")


@dataclass(frozen=True, slots=True)
class Markings:
    tlp: str | None = None
    relto: list[str] = field(default_factory=list)
    purpose: str | None = None


def submit(res: Resources, data: dict[str, Any], markings: Markings) -> uuid.UUID:
    """Store a new incident or a newer version of one; returns its id."""
    data = {"incident_id": str(uuid.uuid4()), "version": 1, **data}
    accepted = judge(res, build_envelope(res, data, markings))
    incident_id = uuid.UUID(data["incident_id"])  # the schema has checked it
    with res.engine.begin() as conn:
        found = conn.execute(
            select(Incident.version, Incident.origin)
            .where(Incident.incident_id == incident_id)
            .with_for_update()
        ).first()
        if found is not None and found.origin != res.settings.node.id:
            raise problems.VersionConflict(
                f"incident {incident_id} belongs to {found.origin}: only its origin changes it"
            )
        stored = found.version if found is not None else None
        if stored is not None and data["version"] <= stored:
            raise problems.VersionConflict(
                f"incident {incident_id} is at version {stored}; "
                f"version {data['version']} is not newer",
                stored_version=stored,
            )
        _store(res, conn, accepted, incident_id)
    return incident_id


MAX_VERSION = 2**31 - 1  # the incident schema's maximum (a PostgreSQL integer)


def change_status(res: Resources, incident_id: uuid.UUID, status: str, note: str | None) -> None:
    """Store the next version of an incident with a new status and the same markings."""
    with res.engine.begin() as conn:
        row = conn.execute(
            select(
                Incident.data,
                Incident.version,
                Incident.origin,
                Incident.tlp,
                Incident.relto,
                Incident.purpose,
            )
            .where(Incident.incident_id == incident_id)
            .with_for_update()
        ).first()
        if row is None:
            raise problems.NotFound(f"no incident {incident_id}")
        if row.origin != res.settings.node.id:
            raise problems.VersionConflict(
                f"incident {incident_id} belongs to {row.origin}: only its origin changes it; "
                f"report with POST {incident_id}/sar (status or sitrep) instead"
            )
        if row.version >= MAX_VERSION:
            raise problems.VersionConflict(
                f"incident {incident_id} is at version {row.version}, the last there can be; "
                "report a new incident instead"
            )
        data = {k: v for k, v in row.data.items() if k != "note"}  # a note belongs to one version
        data.update(status=status, version=row.version + 1)
        if note is not None:
            # Handed to the schema like every other field: it decides whether notes exist.
            data["note"] = note
        markings = Markings(row.tlp, list(row.relto or []), row.purpose)
        accepted = judge(res, build_envelope(res, data, markings))
        _store(res, conn, accepted, incident_id)


def build_envelope(
    res: Resources, data: dict[str, Any], m: Markings, type_: str = INCIDENT_TYPE
) -> dict[str, Any]:
    return make_envelope(
        res.settings.node.id,
        PRODUCER,
        type_,
        data,
        tlp=m.tlp,
        relto=m.relto,
        purpose=m.purpose,
    )


def judge(res: Resources, envelope: dict[str, Any], kind: str = "incident") -> intake.Accepted:
    result = intake.accept_envelope(envelope, PRODUCER, kind, res.policy)
    if isinstance(result, intake.Rejected):
        # The handler gives one line; ask the same schemas again for each rule, by path.
        violations = res.policy.schemas.validate_envelope(envelope)
        errors = [_error(v, envelope) for v in violations] or _rule_error(result.reason)
        raise problems.Rejected(result.reason, errors=errors)
    return result


def _store(
    res: Resources, conn: Connection, accepted: intake.Accepted, incident_id: uuid.UUID
) -> None:
    # store.write_batch nests in this transaction (psycopg makes its block a savepoint).
    store_shared(res, conn, accepted)
    winner = conn.execute(
        select(Incident.event_id).where(Incident.incident_id == incident_id)
    ).scalar()
    if str(winner) != accepted.envelope["id"]:
        # Another writer stored this very version first (both saw the same old state).
        raise problems.VersionConflict(
            f"incident {incident_id} version {accepted.data['version']} was stored meanwhile"
        )


def store_shared(res: Resources, conn: Connection, accepted: intake.Accepted) -> None:
    """Store an item written through the API, in `conn`'s transaction, as ingest stores a
    report: with its outbox rows for the partners the policy releases it to, and an audit row
    for each partner it withholds it from."""
    # store.write_batch nests in this transaction (psycopg makes its block a savepoint).
    raw = cast(psycopg.Connection[Any], conn.connection.driver_connection)
    store.prepare(raw)
    route = sharing.router(res.settings)
    store.write_batch(raw, [accepted], [], route=route)
    route.record_withheld(raw, actor="api")


def _error(v: Violation, envelope: dict[str, Any]) -> dict[str, Any]:
    if v.path in _MARKING_PARAMS:
        name = _MARKING_PARAMS[v.path]
        entry = problems.param_error(name, envelope.get(name), v.message)
        entry["keyword"] = v.keyword
        return entry
    path = v.path
    schema_path = v.schema_path
    if path == "/data" or path.startswith("/data/"):
        # Pointers relative to the incident the caller sent, not to our envelope.
        path = path.removeprefix("/data")
        schema_path = schema_path.partition(_DATA_REF)[2] or schema_path
    return {"path": path, "keyword": v.keyword, "message": v.message, "schema_path": schema_path}


def _rule_error(reason: str) -> list[dict[str, Any]]:
    """A node rule (not a schema rule) failed; its reason starts with the pointer if it has one."""
    m = _POINTER_REASON.match(reason)
    if m is None:
        return []
    return [{"path": m.group(1), "keyword": None, "message": m.group(2)}]
