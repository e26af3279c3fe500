"""/healthz: can this node reach its database (with PostGIS) and its broker right now?"""

from __future__ import annotations

import time
import uuid
from typing import Any

from fastapi import APIRouter
from paho.mqtt.reasoncodes import ReasonCode
from pydantic import BaseModel
from sqlalchemy import Engine, func, literal, select
from sqlalchemy.exc import SQLAlchemyError

from mdx.api.deps import Res
from mdx.api.problems import Unavailable, responses
from mdx.core import mqtt as node_mqtt

BROKER_TIMEOUT_S = 2.0

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str
    checks: dict[str, dict[str, Any]]


@router.get("/healthz", summary="Database and broker reachability", responses=responses(503))
def healthz(res: Res) -> Health:
    broker = res.settings.broker
    try:
        creds = node_mqtt.credentials(res.settings, "api")
    except node_mqtt.CredentialsError as e:
        broker_check: dict[str, Any] = {"status": "failed", "error": str(e)}
    else:
        broker_check = check_broker(broker.host, broker.port, res.settings.node.id, creds)
    checks = {
        "database": check_database(res.engine),
        "broker": broker_check,
    }
    failed = [name for name, c in checks.items() if c["status"] != "ok"]
    if failed:
        detail = "; ".join(f"{name}: {checks[name]['error']}" for name in failed)
        raise Unavailable(detail, checks=checks)
    return Health(status="ok", checks=checks)


def check_database(engine: Engine) -> dict[str, Any]:
    try:
        with engine.connect() as conn:
            row = conn.execute(select(literal(1), func.postgis_version())).one()
    except SQLAlchemyError as e:
        first_line = str(getattr(e, "orig", None) or e).splitlines()[0]
        return {"status": "failed", "error": first_line}
    return {"status": "ok", "postgis": row[1]}


def check_broker(
    host: str, port: int, node_id: str, creds: node_mqtt.Credentials
) -> dict[str, Any]:
    """An MQTT v5 CONNECT as the api's identity and its CONNACK: a listening port alone does
    not prove a broker (nor that the api's credentials work)."""
    where = {"host": host, "port": port}
    answer: list[ReasonCode] = []
    # Unique, so a health check never takes over another client's session.
    client = node_mqtt.client(creds, f"mdx-{node_id}-api-health-{uuid.uuid4().hex[:8]}")
    client.on_connect = lambda _c, _u, _f, reason, _p: answer.append(reason)
    client.connect_timeout = BROKER_TIMEOUT_S
    deadline = time.monotonic() + BROKER_TIMEOUT_S
    try:
        client.connect(host, port, keepalive=10)
        while not answer and time.monotonic() < deadline:
            client.loop(timeout=0.05)
    except OSError as e:
        return {"status": "failed", "error": f"cannot connect to {host}:{port}: {e}", **where}
    finally:
        client.disconnect()
        client.loop(timeout=0.05)  # sends DISCONNECT and closes the socket
    if not answer:
        return {"status": "failed", "error": f"no CONNACK within {BROKER_TIMEOUT_S} s", **where}
    if answer[0].is_failure:
        return {"status": "failed", "error": f"CONNECT refused: {answer[0]}", **where}
    return {"status": "ok", **where}
