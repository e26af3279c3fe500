"""`mdx sim`: publish simulated traffic to a node's broker at a steady rate, with receipts."""

from __future__ import annotations

import logging
import random
import time
import uuid
from typing import Any

from mdx.core import mqtt
from mdx.core.producer import Producer
from mdx.core.settings import NodeSettings
from mdx.sim.traffic import make_fleet, make_incident, utc_now

log = logging.getLogger("mdx.sim")

# Roughly one incident per this many position reports.
POSITIONS_PER_INCIDENT = 100


def run(
    settings: NodeSettings,
    *,
    rate: float,
    duration: float,
    vessels: int,
    producer: str,
    seed: int,
) -> dict[str, Any]:
    rng = random.Random(seed)
    fleet = make_fleet(vessels, rng)
    patrol = fleet[-1]
    out = Producer(
        settings.node.id,
        producer,
        settings.broker.host,
        settings.broker.port,
        credentials=mqtt.credentials(settings, producer),
    )
    out.start()
    sent = {"positions": 0, "incidents": 0}
    started = time.monotonic()
    next_at = started
    i = 0
    try:
        while duration <= 0 or time.monotonic() - started < duration:
            now = utc_now()
            vessel = fleet[i % len(fleet)]
            vessel.step(len(fleet) / rate, rng)
            near_patrol = vessel is patrol or abs(vessel.lat - patrol.lat) < 0.2
            source = (
                "patrol-sighting"
                if near_patrol and rng.random() < 0.1
                else ("ais-satellite" if rng.random() < 0.2 else "ais-terrestrial")
            )
            out.publish("position", vessel.position(source, now))
            sent["positions"] += 1
            if rng.randrange(POSITIONS_PER_INCIDENT) == 0:
                data, markings = make_incident(fleet, rng, now)
                # The seed replays the same traffic; each run still reports new incidents.
                data["incident_id"] = str(uuid.uuid4())
                out.publish("incident", data, **markings)
                sent["incidents"] += 1
                log.info("incident %s: %s", data["category"], data["title"])
            i += 1
            next_at += 1 / rate
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        out.flush(timeout=30)
    except KeyboardInterrupt:
        pass
    finally:
        out.close()
    return {
        **sent,
        "receipted": out.receipted,
        "republished": out.republished,
        "unreceipted": out.outstanding,
    }
