"""Two bridged nodes for the origin -> partner latency: JCG (origin) and KCG (partner), each
with its own Mosquitto, database, signing key and CA, linked by the real Mosquitto bridge over
TLS with the certificates each CA issued to the other's bridge, running ingest and share.

Positions published at JCG are committed there, put in JCG's outbox, signed and published to
KCG's stream by JCG's share service, carried by the bridge, verified and committed by KCG's
share service: the latency is from the scheduled send at JCG to visibility in KCG's database.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from rich.progress import Progress

from mdx.bench import rig, steps
from mdx.bench.load import Loader
from mdx.bench.observe import CommitObserver
from mdx.core import keys
from mdx.node import pki, security


def _partner_toml(other: rig.Node) -> str:
    return f"""[[partners]]
id = "{other.id}"
broker_port = {other.broker_port}
broker_tls_port = {other.tls_port}
api_url = "http://127.0.0.1:{rig.free_port()}"
public_key = "{other.dir / "keys" / (other.id + ".pub")}"
"""


def _link(a: rig.Node, b: rig.Node) -> None:
    """What partners do out of band: `a` sends `b` a CSR for its bridge, `b` signs it."""
    own, theirs = pki.Pki.of(a.dir / "security"), pki.Pki.of(b.dir / "security")
    csr = pki.make_csr(own, a.id, b.id)
    cert = pki.sign_partner(theirs, csr.read_bytes(), a.id)
    pki.accept(own, b.id, cert, theirs.ca_cert.read_bytes())


def _link_up(node: rig.Node, partner: str) -> bool:
    """The bridge's retained notice on `node`'s broker says it is connected."""
    return node.retained(f"mdx/v1/link/{partner}", lambda payload: payload == b"1")


def measure(
    work: Path, loader: Loader, dbs: list[str], rate: float, seconds: float, bar: Progress
) -> dict[str, Any]:
    nodes = [
        rig.Node(nid, work / f"pair-{nid}", db, tls_port=rig.free_port())
        for nid, db in zip(("jcg", "kcg"), dbs, strict=True)
    ]
    jcg, kcg = nodes
    try:
        for n in nodes:
            n.dir.mkdir()
            n.dir.chmod(0o755)
            keys.generate(n.dir / "keys" / f"{n.id}.key")
        jcg.partners_toml, kcg.partners_toml = _partner_toml(kcg), _partner_toml(jcg)
        for n in nodes:
            n.write_config()
            pki.init(pki.Pki.of(n.dir / "security"), n.id, security.server_names(n.settings))
        _link(jcg, kcg)
        _link(kcg, jcg)
        for n in nodes:
            n.start_broker()
        for n in nodes:
            n.start("share")
            n.start_ingest()
        rig.wait_for(lambda: _link_up(jcg, "kcg") and _link_up(kcg, "jcg"), 60, "bridges up")
        observer = CommitObserver(kcg.db, "origin = 'jcg'")
        observer.start()
        try:
            producer = f"bridge-r{int(rate)}"
            step = steps.Step(
                loader, jcg, kcg, observer, rate, seconds, producer, uuid.uuid4().hex[:8]
            )
            with bar:
                task = bar.add_task(f"{int(rate):>6,}/s jcg → kcg", total=int(rate * seconds))
                outcome = steps.run(step, lambda c, _t: bar.update(task, completed=c))
        finally:
            observer.stop()
        return outcome
    finally:
        for n in nodes:
            n.stop_all()
