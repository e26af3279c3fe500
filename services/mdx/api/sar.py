"""SAR coordination across nodes on one incident, and the incident's timeline.

`POST /api/v1/incidents/{id}/sar` records one coordination step as its own signed event
(mdx.sar.v1): the incident's origin asks a partner for assistance; the assisting node
acknowledges, assigns an asset, reports status and numbered SITREPs. The event is judged by the
same intake handler as everything else and shared through the outbox like any item, with the
incident's markings widened to the nodes taking part (the origin, the node asked), so the
steps reach every node that may see the incident. The incident itself changes only at its
origin. `GET .../timeline` puts versions and steps in order.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from sqlalchemy import Connection, func, select

from mdx.api import bodies, incident_write, problems, restricted_reads
from mdx.api.access import Writer
from mdx.api.deps import Db, Res, Who
from mdx.api.visibility import visible
from mdx.api.vocabulary import SAR_SCHEMA
from mdx.core.db import Incident, IncidentEvent, IncidentVersion

router = APIRouter(prefix="/api/v1/incidents", tags=["sar"])
SAR_TYPE = "mdx.sar.v1"


# What the node writes into every step itself; a body may not carry them.
SERVER_FIELDS = ("incident_id", "incident_origin", "observed_at", "number")
SarStep = Annotated[dict[str, Any], Depends(bodies.json_object)]


@router.post(
    "/{incident_id}/sar",
    status_code=201,
    responses=problems.responses(403, 404, 409, 415, 422, 429),
    summary="Record a SAR coordination step (request, acknowledgement, asset, status, SITREP)",
    openapi_extra=bodies.body(
        SAR_SCHEMA,
        server_fields=SERVER_FIELDS,
        description="one step of the SAR event schema; the node fills in "
        + ", ".join(SERVER_FIELDS),
    ),
)
def post_step(
    incident_id: Annotated[uuid.UUID, Path()], step: SarStep, res: Res, who: Writer
) -> dict[str, Any]:
    # Writer: an operator of this node; partners coordinate through their own node.
    me = res.settings.node.id
    filled = sorted(step.keys() & set(SERVER_FIELDS))
    if filled:
        raise problems.Rejected(
            f"{', '.join(filled)}: written by the node, not by the request",
            errors=[
                {"path": f"/{k}", "keyword": "not", "message": "written by the node"}
                for k in filled
            ],
        )
    kind, to = step.get("kind"), step.get("to")
    with res.engine.begin() as conn:
        # The row lock makes one node's steps on one incident take turns, so two SITREPs sent
        # at once cannot both read the same last number.
        incident = conn.execute(
            select(
                Incident.origin, Incident.category, Incident.tlp, Incident.relto, Incident.purpose
            )
            .where(Incident.incident_id == incident_id)
            .with_for_update()
        ).first()
        if incident is None:
            raise problems.NotFound(f"no incident {incident_id}")
        if incident.category != "sar":
            raise problems.VersionConflict(
                f"incident {incident_id} is {incident.category}: SAR coordination is for sar"
            )
        if kind == "assistance-requested":
            if incident.origin != me:
                raise problems.VersionConflict(
                    f"only the incident's origin ({incident.origin}) asks for assistance"
                )
            if not isinstance(to, str) or res.settings.partner(to) is None:
                raise problems.Rejected(
                    f"'to' must name a partner of {me}",
                    errors=[{"path": "/to", "keyword": "enum", "message": "not a partner"}],
                )
        elif to is not None:
            # `to` widens the step's markings to the node asked: only a request names one.
            raise problems.Rejected(
                f"'to' belongs to an assistance request, not to {kind}",
                errors=[
                    {"path": "/to", "keyword": "not", "message": "only a request names a node"}
                ],
            )
        # The SAR schema judges the rest (kind, and what each kind needs) in `judge` below.
        data: dict[str, Any] = {
            **step,
            "incident_id": str(incident_id),
            "incident_origin": incident.origin,
            "observed_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        }
        if kind == "sitrep":
            data["number"] = 1 + (_last_sitrep(conn, incident_id, me) or 0)
        # The steps go where the incident may go, and always to the nodes taking part.
        taking_part = {incident.origin, *([to] if isinstance(to, str) else [])} - {me}
        markings = incident_write.Markings(
            incident.tlp, sorted({*(incident.relto or []), *taking_part}), incident.purpose
        )
        envelope = incident_write.build_envelope(res, data, markings, SAR_TYPE)
        accepted = incident_write.judge(res, envelope, "sar")
        incident_write.store_shared(res, conn, accepted)
    return {"id": envelope["id"], "source": envelope["source"], **data}


def _last_sitrep(conn: Connection, incident_id: uuid.UUID, me: str) -> int | None:
    return conn.execute(
        select(func.max(IncidentEvent.number)).where(
            IncidentEvent.incident_id == incident_id,
            IncidentEvent.origin == me,
            IncidentEvent.kind == "sitrep",
        )
    ).scalar()


@router.get(
    "/{incident_id}/timeline",
    responses=problems.responses(404),
    summary="Versions and SAR coordination steps of an incident, in order",
)
def timeline(
    request: Request, incident_id: Annotated[uuid.UUID, Path()], db: Db, who: Who
) -> dict[str, Any]:
    versions = db.execute(
        visible(
            select(
                IncidentVersion.version,
                IncidentVersion.origin,
                IncidentVersion.data,
                IncidentVersion.envelope,
                IncidentVersion.received_at,
                IncidentVersion.tlp,
            ).where(IncidentVersion.incident_id == incident_id),
            IncidentVersion.__table__,
            who,
        )
    ).all()
    if not versions:
        raise problems.NotFound(f"no incident {incident_id}")
    marked = [(str(incident_id), v.tlp) for v in versions]
    restricted_reads.record(db, request, who, "incident", marked)
    events = db.execute(
        visible(
            select(
                IncidentEvent.kind,
                IncidentEvent.origin,
                IncidentEvent.number,
                IncidentEvent.observed_at,
                IncidentEvent.data,
                IncidentEvent.received_at,
            ).where(IncidentEvent.incident_id == incident_id),
            IncidentEvent.__table__,
            who,
        )
    ).all()
    entries = [
        {
            # A version is dated by when its origin made it (its envelope's time).
            "at": datetime.fromisoformat(v.envelope["time"]) if v.envelope else v.received_at,
            "type": "version",
            "version": v.version,
            "status": v.data["status"],
            "by": v.origin,
            "received_at": v.received_at,
        }
        for v in versions
    ] + [
        {
            "at": e.observed_at,
            "type": e.kind,
            "by": e.origin,
            "number": e.number,
            "received_at": e.received_at,
            **{k: v for k, v in e.data.items() if k in ("to", "asset", "status", "sitrep", "text")},
        }
        for e in events
    ]
    entries.sort(key=lambda x: (x["at"], x["received_at"]))
    return {"incident_id": str(incident_id), "timeline": entries}
