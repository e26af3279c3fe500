"""Who may do what on a node's broker: the MQTT identities from the node config (and the
certificates its CA issued), and the Mosquitto ACL file generated from them (`mdx mqtt acl`).

Mosquitto denies whatever no rule allows, so each identity gets only its own topics:

- producer P (`[[producers]]`, each `[[feeds]]` entry, `detect`, certificates issued with
  `--role producer`): write mdx/v1/in/P/#; read its receipts and dead letters.
- console C (`role = "console"`): a producer that also reads link and service status.
- ingest: the only reader of mdx/v1/in/#; writes receipts, dead letters, its status.
- share: writes the node's streams to partners and its receipts of theirs; reads theirs,
  the receipts of ours, and link state.
- api: connects (its health check) and nothing else.
- recorder (`mdx record`): reads mdx/v1/in/+/+ and the partners' streams to us; writes nothing.
- replay (`mdx replay`): writes mdx/v1/in/+/+ (any producer's, as a recording holds them);
  reads nothing. Both exist on a demo node, and on a real node only once its operator sets
  their passwords (MDX_MQTT_PASSWORD_RECORDER, _REPLAY): a tool, not a service it needs.
- bridge-P (partner P's bridge, certificate from our CA): writes share(P, us) and reads
  share_receipt(P, us), nothing else: not another partner's stream, not the inbound topics.

No `pattern` rules: those apply to every user, bridges included. Each rule is per user.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

from mdx.core import mqtt, topics
from mdx.core.settings import NodeSettings
from mdx.node import pki

Kind = Literal["service", "producer", "console", "bridge"]
# `mdx pki issue --role` -> what the holder of that certificate may do.
ROLE_KIND: dict[str, Kind] = {
    "producer": "producer",
    "console": "console",
    "service": "service",
    "bridge": "bridge",
}


# Service identities of the operator's tools (mdx.record), not of the running node.
TOOLS = ("recorder", "replay")


class IdentityError(ValueError):
    pass


@dataclass(frozen=True)
class Identity:
    name: str
    kind: Kind
    # Whether it logs in with a password (the loopback listener); bridges and identities
    # known only from a certificate use the TLS listener.
    password: bool = True


def identities(settings: NodeSettings) -> list[Identity]:
    """Every identity of the node: its services, producers, consoles and partners' bridges,
    plus the holders of unrevoked certificates its CA issued."""
    found: dict[str, Identity] = {}

    def add(identity: Identity) -> None:
        known = found.get(identity.name)
        if known is not None and known.kind != identity.kind and identity.name != "detect":
            raise IdentityError(
                f"MQTT identity {identity.name!r} is both a {known.kind} and a {identity.kind}"
            )
        found.setdefault(identity.name, identity)

    for service in mqtt.SERVICES:
        add(Identity(service, "service"))
    for tool in TOOLS:
        if settings.node.demo or os.environ.get(mqtt.env_name(tool)):
            add(Identity(tool, "service"))
    for producer in settings.producers:
        add(Identity(producer.id, producer.role))
    for feed in settings.feeds:
        add(Identity(feed.producer, "producer"))
    for partner in settings.partners:
        add(Identity(pki.bridge_identity(partner.id), "bridge", password=False))
    issued = pki.issued_identities(pki.Pki.of(settings.broker.security_dir))
    for name, role in sorted(issued.items()):
        if name not in found:  # a certificate for someone the config does not name
            add(Identity(name, ROLE_KIND[role], password=False))
    return list(found.values())


def rules(identity: Identity, settings: NodeSettings) -> list[str]:
    """The ACL lines (after `user NAME`) of one identity."""
    me, name = settings.node.id, identity.name
    feeds = {f.producer for f in settings.feeds}
    if identity.kind in ("producer", "console") or name == "detect":
        lines = [
            f"topic write {topics.PREFIX}/in/{name}/#",
            f"topic read {topics.receipt(name)}",
            f"topic read {topics.deadletter(name)}",
        ]
        if name in feeds:
            lines.append(f"topic write {topics.status('feed-' + name)}")
        if identity.kind == "console":
            lines += [f"topic read {topics.status('#')}", f"topic read {topics.link('#')}"]
        return lines
    if identity.kind == "service":
        return _service_rules(name, me)
    partner = name.removeprefix("bridge-")
    if settings.partner(partner) is None:
        return []  # a bridge certificate for a node that is not (or no longer) a partner
    return [
        f"topic write {topics.share(partner, me)}",
        f"topic read {topics.share_receipt(partner, me)}",
    ]


def _service_rules(name: str, me: str) -> list[str]:
    if name == "ingest":
        return [
            f"topic read {topics.PREFIX}/in/#",
            f"topic write {topics.receipt('+')}",
            f"topic write {topics.deadletter('+')}",
            f"topic write {topics.status('ingest')}",
        ]
    if name == "share":
        return [
            f"topic write {topics.share(me, '+')}",
            f"topic read {topics.share('+', me)}",
            f"topic write {topics.share_receipt('+', me)}",
            f"topic read {topics.share_receipt(me, '+')}",
            f"topic read {topics.link('+')}",
            f"topic write {topics.status('share')}",
        ]
    if name == "recorder":
        return [f"topic read {topics.INBOUND_FILTER}", f"topic read {topics.share('+', me)}"]
    if name == "replay":
        return [f"topic write {topics.INBOUND_FILTER}"]
    return []  # api: a health check connects, nothing more


def render(settings: NodeSettings, extra: str = "") -> str:
    """The Mosquitto ACL file; `extra` is appended (tests add their own observer)."""
    out = [
        f"# MQTT ACL of node {settings.node.id}, generated by mdx from its config "
        "(see mdx.node.acl). Whatever no rule allows is denied."
    ]
    for identity in identities(settings):
        out += ["", f"# {identity.kind}", f"user {identity.name}", *rules(identity, settings)]
    return "\n".join(out) + "\n" + extra
