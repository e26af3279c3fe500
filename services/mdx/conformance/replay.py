"""Replays at intake: the same envelope published twice by a producer (a redelivery, or a
republish after a lost receipt) is stored once."""

from __future__ import annotations

import random

import orjson

from mdx.conformance.report import Result, failed, passed, skipped
from mdx.conformance.target import Session, Target, wait
from mdx.core import topics
from mdx.core.envelope import make_envelope

INTAKE_DEDUPE = "replay.intake-dedupe"


def run(target: Target) -> list[Result]:
    if target.producer is None or target.key is None:
        return [skipped(INTAKE_DEDUPE, "needs a producer account (--broker) and --key")]
    producer = target.producer.credentials.username
    receipt = topics.receipt(producer)
    mmsi = f"4319{random.randrange(10**5):05d}"
    lat, lon = random.uniform(-40, -20), random.uniform(150, 170)

    def position(seq: int, minute: int) -> bytes:
        data = {
            "mmsi": mmsi,
            "lat": lat,
            "lon": lon,
            "source_type": "ais-terrestrial",
            "observed_at": f"2026-01-01T00:{minute:02d}:00Z",
        }
        return orjson.dumps(
            make_envelope(target.node, producer, "mdx.position.v1", data, tlp="CLEAR", seq=seq)
        )

    with Session(target.producer, (receipt,)) as session:
        seq = session.last_seq(receipt) + 1
        twice = position(seq, 0)
        for payload in (twice, twice, position(seq + 1, 1)):  # the last one shows both were handled
            session.publish(topics.inbound(producer, "position"), payload)
        if not wait(lambda: session.last_seq(receipt) >= seq + 1, target.timeout):
            return [
                failed(INTAKE_DEDUPE, f"seq {seq + 1} not receipted within {target.timeout:.0f} s")
            ]
    page = target.get(
        "/ogcapi/collections/positions/items", {"filter": f"mmsi='{mmsi}'", "limit": 10}
    )
    stored = len(page.json().get("features", [])) if page.status_code == 200 else -1
    if stored != 2:
        return [
            failed(
                INTAKE_DEDUPE,
                f"an envelope published twice and one more: {stored} stored, expected 2",
            )
        ]
    return [passed(INTAKE_DEDUPE, "an envelope published twice is stored once")]
