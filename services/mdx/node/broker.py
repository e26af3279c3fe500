"""Runs a node's own Mosquitto with the project's policy (infra/mosquitto/conf.d/mdx.conf)."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import time
from pathlib import Path

INFRA = Path(__file__).resolve().parents[3] / "infra"
POLICY_DIR = INFRA / "mosquitto" / "conf.d"
BROKER_USER = "mosquitto"


class BrokerError(RuntimeError):
    pass


def render_config(port: int, data_dir: Path, host: str = "127.0.0.1") -> Path:
    """Write `data_dir/mosquitto.conf`: a listener and a persistence folder the broker can write,
    plus the shared policy. Returns the config file's path."""
    data_dir = data_dir.resolve()
    store = data_dir / "data"
    store.mkdir(parents=True, exist_ok=True)
    lines = [
        "# Written by `mdx broker`; the policy lives in infra/mosquitto/conf.d/.",
        f"listener {port} {host}",
        # Authentication arrives with per-node identities; until then the listener is loopback.
        "allow_anonymous true",
        f"persistence_location {store}/",
        f"log_dest file {data_dir}/mosquitto.log",
        f"include_dir {POLICY_DIR}",
    ]
    if os.geteuid() == 0:
        # Run as root, Mosquitto drops to its own user; a folder that user cannot write
        # loses every persisted message silently, so hand the folder over.
        try:
            user = pwd.getpwnam(BROKER_USER)
            for path in (data_dir, store):
                os.chown(path, user.pw_uid, user.pw_gid)
            log = data_dir / "mosquitto.log"
            log.touch()
            os.chown(log, user.pw_uid, user.pw_gid)
        except KeyError:
            lines.insert(1, "user root")
    conf = data_dir / "mosquitto.conf"
    conf.write_text("\n".join(lines) + "\n")
    check_writable(store)
    return conf


def check_writable(store: Path) -> None:
    """Refuse to start a broker that would lose its persistence silently: the folder (and every
    folder above it) must let the broker's user in and write."""
    if os.geteuid() == 0 and _has_user(BROKER_USER):
        probe = [
            "runuser",
            "-u",
            BROKER_USER,
            "--",
            "test",
            "-w",
            str(store),
            "-a",
            "-x",
            str(store),
        ]
        if subprocess.run(probe, check=False).returncode != 0:
            raise BrokerError(
                f"{store} is not writable by the {BROKER_USER!r} user (check the permissions "
                "of every folder above it); Mosquitto would lose its persistence silently"
            )
    elif not os.access(store, os.W_OK | os.X_OK):
        raise BrokerError(f"{store} is not writable by this user")


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def mosquitto_binary() -> str:
    found = shutil.which("mosquitto") or (
        "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None
    )
    if not found:
        raise BrokerError("mosquitto is not installed (Debian/Ubuntu: apt-get install mosquitto)")
    return found


def start(port: int, data_dir: Path, host: str = "127.0.0.1") -> subprocess.Popen[bytes]:
    """Start Mosquitto and wait until it accepts connections."""
    conf = render_config(port, data_dir, host)
    proc = subprocess.Popen([mosquitto_binary(), "-c", str(conf)])
    wait_for_port(host, port, proc)
    return proc


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
