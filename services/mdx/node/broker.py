"""Runs a node's own Mosquitto with the project's policy (infra/mosquitto/conf.d/mdx.conf).

Never anonymous: a password listener and a TLS listener with client certificates, both
authorised by one generated ACL (the files come from mdx.node.security; see `listeners`)."""

from __future__ import annotations

import logging
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mdx.node.security import BrokerAuth

log = logging.getLogger("mdx.broker")

INFRA = Path(__file__).resolve().parents[3] / "infra"
POLICY_DIR = INFRA / "mosquitto" / "conf.d"
BROKER_USER = "mosquitto"


class BrokerError(RuntimeError):
    pass


def render_config(
    port: int, data_dir: Path, auth: BrokerAuth, host: str = "127.0.0.1", extra: str = ""
) -> Path:
    """Write `data_dir/mosquitto.conf`: the listeners with their authentication (`auth`, from
    mdx.node.security.prepare) and a persistence folder the broker can write, plus the shared
    policy. Returns the config file's path."""
    data_dir = data_dir.resolve()
    store = data_dir / "data"
    store.mkdir(parents=True, exist_ok=True)
    lines = [
        "# Written by `mdx broker`; the policy lives in infra/mosquitto/conf.d/.",
        *listeners(port, auth, host),
        f"persistence_location {store}/",
        f"log_dest file {data_dir}/mosquitto.log",
        f"include_dir {POLICY_DIR}",
    ]
    if os.geteuid() == 0 and not _hand_over(data_dir, store):
        # Started as root, Mosquitto drops to its own user, and a folder that user cannot
        # write loses every persisted message silently. This one it cannot reach (a private
        # parent folder, or no such user): keep root rather than lose data.
        log.warning(
            "%s is out of reach of the %r user; the broker keeps running as root",
            store,
            BROKER_USER,
        )
        lines.insert(1, "user root")
    conf = data_dir / "mosquitto.conf"
    # `extra` (the bridges) comes last: each `connection` section runs to the end of the file.
    conf.write_text("\n".join(lines) + "\n" + extra)
    check_writable(store, "root" if "user root" in lines else BROKER_USER)
    return conf


def listeners(port: int, auth: BrokerAuth, host: str) -> list[str]:
    """No anonymous client on any listener. The password listener serves the node's services
    and local producers; the TLS listener takes client certificates from the node's CA only
    (revoked ones refused: `crlfile`), the certificate's CN being the identity. One password
    file and one ACL for both (`per_listener_settings false`)."""
    lines = [
        "per_listener_settings false",
        "allow_anonymous false",
        f"password_file {auth.password_file}",
        f"acl_file {auth.acl_file}",
        f"listener {port} {host}",
    ]
    if auth.tls_port:
        lines += [
            f"listener {auth.tls_port} {host}",
            f"cafile {auth.cafile}",
            f"certfile {auth.certfile}",
            f"keyfile {auth.keyfile}",
            f"crlfile {auth.crlfile}",
            "require_certificate true",
            "use_identity_as_username true",
            "tls_version tlsv1.2",
        ]
    return lines


def _hand_over(data_dir: Path, store: Path) -> bool:
    """Give the broker's user its folder and log; True if it can then write there."""
    try:
        user = pwd.getpwnam(BROKER_USER)
    except KeyError:
        return False
    logfile = data_dir / "mosquitto.log"
    logfile.touch()
    for path in (data_dir, store, logfile):
        os.chown(path, user.pw_uid, user.pw_gid)
    return _can_write(BROKER_USER, store)


def _can_write(user: str, folder: Path) -> bool:
    probe = ["runuser", "-u", user, "--", "test", "-w", str(folder), "-a", "-x", str(folder)]
    return subprocess.run(probe, check=False).returncode == 0


def check_writable(store: Path, user: str) -> None:
    """Refuse to start a broker that would lose its persistence silently."""
    ok = _can_write(user, store) if os.geteuid() == 0 else os.access(store, os.W_OK | os.X_OK)
    if not ok:
        raise BrokerError(
            f"{store} is not writable by the broker's user {user!r} (check the permissions of "
            "every folder above it); Mosquitto would lose its persistence silently"
        )


def mosquitto_binary() -> str:
    found = shutil.which("mosquitto") or (
        "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None
    )
    if not found:
        raise BrokerError("mosquitto is not installed (Debian/Ubuntu: apt-get install mosquitto)")
    return found


def start(
    port: int, data_dir: Path, auth: BrokerAuth, host: str = "127.0.0.1", extra: str = ""
) -> subprocess.Popen[bytes]:
    """Start Mosquitto and wait until it accepts connections."""
    conf = render_config(port, data_dir, auth, host, extra)
    proc = subprocess.Popen([mosquitto_binary(), "-c", str(conf)])
    wait_for_port(host, port, proc)
    if auth.tls_port:
        wait_for_port(host, auth.tls_port, proc)
    return proc


def reload(proc: subprocess.Popen[bytes]) -> None:
    """SIGHUP: Mosquitto 2.0.11 re-reads the password file, the ACL and the CRL (measured: a
    certificate revoked before the signal is refused after it; connected clients stay)."""
    proc.send_signal(signal.SIGHUP)


def wait_for_port(
    host: str, port: int, proc: subprocess.Popen[bytes] | None = None, timeout: float = 10.0
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise BrokerError(f"mosquitto exited with {proc.returncode} (port {port} in use?)")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise BrokerError(f"nothing listens on {host}:{port} after {timeout} s")
