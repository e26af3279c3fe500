"""The one way any mdx process connects to a node's broker: MQTT v5, as a named identity.

Nobody connects anonymously. Every identity (a node service, a producer, a console, a
partner's bridge) authenticates in one of two ways (see the README, "MQTT security"):

- on the password listener (loopback): its name and password. A demo node keeps the
  generated passwords in `{broker.security_dir}/secrets/{identity}` (0600); a real node reads
  each from the environment, `MDX_MQTT_PASSWORD_<IDENTITY>` (upper case, `-` and `.` as `_`),
  and refuses a missing, short or well-known one;
- on the TLS listener: a client certificate from the node's CA whose CN is the identity.

MQTT v5 everywhere, because a v5 PUBACK and SUBACK say "not authorized" where MQTT 3.1.1 is
told "success".
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from mdx.core.mqtt_client import Client
from mdx.core.settings import NodeSettings

# The node's own services, each its own identity (least privilege: ingest alone reads the
# inbound topics, share alone the share streams).
SERVICES = ("ingest", "share", "api", "detect")
MIN_PASSWORD_LENGTH = 16
# Passwords a real node refuses: defaults that ship with software or come to mind first.
WELL_KNOWN_PASSWORDS = frozenset({"mdx", "password", "changeme", "secret", "mosquitto", "admin"})


class CredentialsError(RuntimeError):
    """An identity has no usable secret: the process must not start."""


@dataclass(frozen=True, slots=True)
class Credentials:
    username: str
    password: str | None = None
    # A client certificate (TLS listener): the CA that signed the broker's certificate, and
    # ours. With it, the broker takes the username from the certificate's CN.
    cafile: Path | None = None
    certfile: Path | None = None
    keyfile: Path | None = None


def secret_path(security_dir: Path, identity: str) -> Path:
    """Where a demo node keeps `identity`'s generated password."""
    return security_dir / "secrets" / identity


def env_name(identity: str) -> str:
    """The environment variable a real node reads `identity`'s password from."""
    return "MDX_MQTT_PASSWORD_" + re.sub(r"[^A-Z0-9]", "_", identity.upper())


def password(settings: NodeSettings, identity: str) -> str:
    """`identity`'s password on this node's password listener; CredentialsError if none."""
    if settings.node.demo:
        path = secret_path(settings.broker.security_dir, identity)
        try:
            return path.read_text().strip()
        except FileNotFoundError:
            raise CredentialsError(
                f"no password for MQTT identity {identity!r} in {path}: is it one of the "
                "node's identities (`mdx mqtt acl` lists them)? `mdx node run` generates them"
            ) from None
    value = os.environ.get(env_name(identity), "")
    if not value:
        raise CredentialsError(
            f"no password for MQTT identity {identity!r}: set {env_name(identity)}"
        )
    if len(value) < MIN_PASSWORD_LENGTH or value.lower() in WELL_KNOWN_PASSWORDS:
        raise CredentialsError(
            f"{env_name(identity)} is a default or shorter than {MIN_PASSWORD_LENGTH} characters"
        )
    return value


def credentials(settings: NodeSettings, identity: str) -> Credentials:
    return Credentials(identity, password(settings, identity))


def client(creds: Credentials, client_id: str, *, manual_ack: bool = False) -> Client:
    """A paho client (MQTT v5, socket I/O batched: mdx.core.mqtt_client) that will
    authenticate as `creds` when it connects."""
    c = Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=paho.MQTTv5,
        manual_ack=manual_ack,
    )
    c.username_pw_set(creds.username, creds.password)
    if creds.certfile is not None:
        c.tls_set(
            ca_certs=str(creds.cafile) if creds.cafile else None,
            certfile=str(creds.certfile),
            keyfile=str(creds.keyfile) if creds.keyfile else None,
        )
    return c


def node_client(
    settings: NodeSettings, identity: str, client_id: str, *, manual_ack: bool = False
) -> Client:
    """A client of this node's broker as one of its identities (password listener)."""
    return client(credentials(settings, identity), client_id, manual_ack=manual_ack)
