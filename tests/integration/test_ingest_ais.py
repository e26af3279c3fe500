"""Raw AIS over MQTT through a real ingest into PostGIS, checked against GPSD's own decode."""

from __future__ import annotations

import json
from pathlib import Path

from mdx.core.settings import NodeSettings
from tests.integration.harness import RawPublisher, ServiceProcess, scalar, wait_for
from tests.integration.test_ingest import ingest, topic  # noqa: F401

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ais"
PRODUCER = "rx1"
LINES_PER_MESSAGE = 7  # so some multi-sentence messages straddle two MQTT messages
GOOD = "!AIVDM,1,1,,A,15M67FC000G?ufbE`FepT@3n00Sa,0*5C"


def golden() -> list[dict[str, object]]:
    text = (FIXTURES / "gpsd-sample.aivdm.json-golden").read_text()
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_gpsd_sample_lands_as_gpsd_decodes_it(
    node_settings: NodeSettings,
    ingest: ServiceProcess,  # noqa: F811
) -> None:
    lines = (FIXTURES / "gpsd-sample.aivdm").read_text().splitlines()
    # Two corrupted copies of a good line: dead-lettered, and nothing else is lost with them.
    lines[40:40] = [GOOD.replace("*5C", "*5D"), GOOD.replace("15M67", "15M68")]
    messages = [
        (topic(PRODUCER, "ais"), "\n".join(lines[i : i + LINES_PER_MESSAGE]).encode())
        for i in range(0, len(lines), LINES_PER_MESSAGE)
    ]
    publisher = RawPublisher(node_settings.broker.host, node_settings.broker.port)
    publisher.publish_all(messages)
    publisher.close()

    url = node_settings.database.url
    expected = [
        g
        for g in golden()
        if g["type"] in (1, 2, 3, 18, 19, 27) and g["lat"] != 91 and g["lon"] != 181
    ]
    wait_for(
        lambda: scalar(url, "SELECT count(*) FROM positions") == len(expected) == 12,
        20,
        lambda: f"12 positions; ingest log:\n{ingest.log()}",
    )
    stored = scalar(
        url,
        "SELECT json_agg(json_build_object('mmsi', mmsi, 'lon', ST_X(geom), 'lat', ST_Y(geom))"
        " ORDER BY id) FROM positions",
    )
    assert [p["mmsi"] for p in stored] == [f"{g['mmsi']:09d}" for g in expected]
    for p, g in zip(stored, expected, strict=True):
        # GPSD prints type 27 (long-range, 1/10 minute resolution) with one decimal.
        tolerance = 0.05 if g["type"] == 27 else 1e-5
        assert abs(p["lon"] - float(str(g["lon"]))) <= tolerance, (p, g)
        assert abs(p["lat"] - float(str(g["lat"]))) <= tolerance, (p, g)
    # Static data (type 5) in the registry, as GPSD reads it; flags from the MIDs.
    for g in (g for g in golden() if g["type"] == 5):
        mmsi = f"{g['mmsi']:09d}"
        row = scalar(
            url,
            "SELECT json_build_object('name', name, 'flag', flag) FROM vessels WHERE mmsi = %s",
            mmsi,
        )
        assert row["name"] == str(g["shipname"]).rstrip("@ "), mmsi
    assert scalar(url, "SELECT flag FROM vessels WHERE mmsi = '271010059'") == "TR"
    assert scalar(url, "SELECT flag FROM vessels WHERE mmsi = '351759000'") == "PA"
    # The sample's own three bad lines and the two corrupted copies, each with its reason.
    wait_for(lambda: scalar(url, "SELECT count(*) FROM dead_letters") == 5, 10, "5 dead letters")
    reasons = scalar(url, "SELECT json_agg(reason ORDER BY id) FROM dead_letters")
    assert sum("checksum mismatch" in r for r in reasons) == 2, reasons
    assert all(r.startswith("ais: ") for r in reasons), reasons
    assert scalar(url, "SELECT count(*) FROM dead_letters WHERE producer <> %s", PRODUCER) == 0
    # Safety texts (types 12 and 14) kept for the detection service, as GPSD reads them.
    texts = [(f"{g['mmsi']:09d}", g["text"]) for g in golden() if g["type"] in (12, 14)]
    wait_for(
        lambda: scalar(url, "SELECT count(*) FROM ais_safety_messages") == len(texts) == 10,
        10,
        "10 safety texts",
    )
    stored_texts = scalar(
        url, "SELECT json_agg(json_build_array(mmsi, text) ORDER BY id) FROM ais_safety_messages"
    )
    assert [tuple(t) for t in stored_texts] == texts
