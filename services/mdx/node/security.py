"""Everything a node's broker needs to authenticate and authorise, put where it can read it.

`prepare` runs before the broker starts (and again when the CRL changes):

1. a demo node gets its CA and server certificate (`mdx pki init`) and a random password per
   identity in `{security_dir}/secrets/` (0600) if missing; a real node must have run
   `mdx pki init` and takes each password from the environment (mdx.core.mqtt);
2. the password file is hashed by the real `mosquitto_passwd -U` (PBKDF2-SHA512);
3. the ACL is generated from the config (mdx.node.acl);
4. the broker's copies go to `{data_dir}/auth/`, owned by the broker's user: the password
   file, the ACL, the CA certificate, the CRL, the server key and certificate, and the
   bridges' certificates. The CA key and the plain passwords never reach the broker.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from mdx.core import mqtt
from mdx.core.settings import NodeSettings
from mdx.node import acl, pki

BROKER_USER = "mosquitto"


class SecurityError(RuntimeError):
    pass


@dataclass(frozen=True)
class BrokerAuth:
    """Paths of the broker's copies (under `{data_dir}/auth/`)."""

    dir: Path
    tls_port: int

    @property
    def password_file(self) -> Path:
        return self.dir / "passwd"

    @property
    def acl_file(self) -> Path:
        return self.dir / "acl"

    @property
    def cafile(self) -> Path:
        return self.dir / "ca.crt"

    @property
    def certfile(self) -> Path:
        return self.dir / "server.crt"

    @property
    def keyfile(self) -> Path:
        return self.dir / "server.key"

    @property
    def crlfile(self) -> Path:
        return self.dir / "crl.pem"

    @property
    def bridges(self) -> Path:
        return self.dir / "partners"


def server_names(settings: NodeSettings) -> list[str]:
    return [settings.broker.host, *settings.broker.tls_names]


def ensure_demo_secrets(settings: NodeSettings) -> None:
    """A random password for each password identity that has none yet (demo nodes only)."""
    for identity in acl.identities(settings):
        path = mqtt.secret_path(settings.broker.security_dir, identity.name)
        if identity.password and not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.parent.chmod(0o700)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(24) + "\n")


def write_password_file(settings: NodeSettings, target: Path) -> None:
    """Hash every password identity's secret into `target` with `mosquitto_passwd -U`."""
    lines = [
        f"{i.name}:{mqtt.password(settings, i.name)}"
        for i in acl.identities(settings)
        if i.password
    ]
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("\n".join(lines) + "\n")
    tool = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
    done = subprocess.run([tool, "-U", str(target)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        target.unlink(missing_ok=True)
        raise SecurityError(f"mosquitto_passwd -U failed: {done.stderr.strip()}")


def prepare(
    settings: NodeSettings, extra_acl: str = "", out: Path | None = None, shared: bool = False
) -> BrokerAuth:
    """Write the broker's authentication files (see the module docstring) into `out` (default
    `{data_dir}/auth`). `shared`: readable by every user (0644), for a broker that runs as
    another user in another container (compose), where the volume is the boundary; otherwise
    they are given to the broker's user, 0600 (Mosquitto 2.0.11 reads them after dropping
    root: measured, a root-only password file stops it with "Unable to open pwfile")."""
    b = settings.broker
    ca = pki.Pki.of(b.security_dir)
    if settings.node.demo:
        pki.init(ca, settings.node.id, server_names(settings))
        ensure_demo_secrets(settings)
    elif b.tls_port and not ca.exists():
        raise SecurityError(f"no CA in {ca.dir} for the TLS listener: run `mdx pki init`")
    auth = BrokerAuth((out or b.data_dir / "auth").resolve(), b.tls_port)
    auth.dir.mkdir(parents=True, exist_ok=True)
    auth.dir.chmod(0o700)
    write_password_file(settings, auth.password_file)
    auth.acl_file.write_text(acl.render(settings, extra_acl))
    if b.tls_port:
        for src, dst in (
            (ca.ca_cert, auth.cafile),
            (ca.server_cert, auth.certfile),
            (ca.server_key, auth.keyfile),
            (ca.crl, auth.crlfile),
        ):
            shutil.copyfile(src, dst)
    auth.bridges.mkdir(exist_ok=True)
    for partner in settings.partners:
        for src in ca.partner_files(partner.id):
            if src.exists():
                shutil.copyfile(src, auth.bridges / src.name)
    if shared:
        for path in (auth.dir, *auth.dir.rglob("*")):
            path.chmod(0o755 if path.is_dir() else 0o644)
    else:
        _hand_over(auth.dir)
    return auth


def _hand_over(folder: Path) -> None:
    """The broker drops root for its own user before it reads these files: give them to it."""
    if os.geteuid() != 0:
        return
    try:
        user = pwd.getpwnam(BROKER_USER)
    except KeyError:
        return
    for path in (folder, *folder.rglob("*")):
        os.chown(path, user.pw_uid, user.pw_gid)
        path.chmod(0o700 if path.is_dir() else 0o600)
