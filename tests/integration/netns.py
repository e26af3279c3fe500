"""Linux network namespaces as test hosts: each host its own namespace and address on a private
test LAN, wired to one "switch" namespace, so a host's link can be cut and restored with
`ip link set ... down/up` while everything else keeps running.

    root namespace                 switch namespace            host namespaces
    mx<tag>h 10.231.N.254 ──veth── to-root ─┐
                                            br0 ─ p-jcg ──veth── eth0 10.231.N.1 (mdx-<tag>-jcg)
                                               └─ p-kcg ──veth── eth0 10.231.N.2 (mdx-<tag>-kcg)
                                                  ...

The bridge lives in a namespace of its own (empty firewall), not in the root namespace, whose
bridge netfilter may drop forwarded frames on CI hosts. The root namespace (the test itself)
reaches every host through its own port on the switch.

A host's services reach PostgreSQL, which listens on loopback in the root namespace only,
through `LoopbackRelay`: a socket listening on 127.0.0.1 *inside* each host namespace, relayed
from the root namespace. That path does not cross the switch, so cutting a host's link cuts it
off the other hosts but not off its own database (as if the database ran on the host).

Needs root and iproute2; `unavailable()` says why not, for a skip.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import random
import shutil
import socket
import subprocess
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

CLONE_NEWNET = 0x40000000
SUBNET_BASE = "10.231"
ROOT_HOST = 254  # the root namespace's address on the LAN is <subnet>.254


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run `ip ARGS`; on failure raise with what `ip` said."""
    done = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip() or done.returncode}")
    return done


def unavailable() -> str | None:
    """Why network namespaces cannot be used here, or None when they can."""
    if os.geteuid() != 0:
        return "network namespaces need root (run as root, as CI does)"
    if shutil.which("ip") is None:
        return (
            "iproute2 is not installed (no `ip` command; Debian/Ubuntu: apt-get install iproute2)"
        )
    probe = f"mdx-probe-{uuid.uuid4().hex[:6]}"
    done = ip("netns", "add", probe, check=False)
    if done.returncode != 0:
        return f"`ip netns add` failed: {done.stderr.strip() or done.returncode}"
    try:
        for what in (("br0", "type", "bridge"), ("v0", "type", "veth", "peer", "name", "v1")):
            done = ip("-n", probe, "link", "add", *what, check=False)
            if done.returncode != 0:
                return f"`ip link add {' '.join(what)}` failed: {done.stderr.strip()}"
    finally:
        ip("netns", "del", probe, check=False)
    return None


def exec_in(netns: str, *argv: str) -> list[str]:
    """The command line that runs `argv` inside `netns` (`ip netns exec` execs, no extra fork)."""
    return ["ip", "netns", "exec", netns, *argv]


@dataclass(frozen=True)
class Host:
    name: str
    netns: str
    address: str
    port: str  # its port on the switch: the link that `Lan.cut` takes down


@dataclass
class Lan:
    """A private /24 with one namespace per host; `destroy()` removes every trace of it."""

    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:6])
    subnet: str = field(default_factory=lambda: _free_subnet())
    hosts: dict[str, Host] = field(default_factory=dict)

    @property
    def switch(self) -> str:
        return f"mdx-{self.tag}-sw"

    @property
    def uplink(self) -> str:
        """The root namespace's end of its veth to the switch."""
        return f"mx{self.tag}h"

    @property
    def root_address(self) -> str:
        return f"{self.subnet}.{ROOT_HOST}"

    def create(self) -> None:
        ip("netns", "add", self.switch)
        ip("-n", self.switch, "link", "add", "br0", "type", "bridge")
        ip("-n", self.switch, "link", "set", "dev", "br0", "up")
        ip("-n", self.switch, "link", "set", "dev", "lo", "up")
        _veth(None, self.uplink, self.switch, "to-root")
        ip("-n", self.switch, "link", "set", "dev", "to-root", "master", "br0", "up")
        ip("addr", "add", f"{self.root_address}/24", "dev", self.uplink)
        ip("link", "set", "dev", self.uplink, "up")

    def add_host(self, name: str) -> Host:
        """A namespace `mdx-<tag>-<name>` with `lo` and `eth0` (its next address) up."""
        host = Host(
            name, f"mdx-{self.tag}-{name}", f"{self.subnet}.{len(self.hosts) + 1}", f"p-{name}"[:15]
        )
        self.hosts[name] = host
        ip("netns", "add", host.netns)
        ip("-n", host.netns, "link", "set", "dev", "lo", "up")
        _veth(self.switch, host.port, host.netns, "eth0")
        ip("-n", self.switch, "link", "set", "dev", host.port, "master", "br0", "up")
        ip("-n", host.netns, "addr", "add", f"{host.address}/24", "dev", "eth0")
        ip("-n", host.netns, "link", "set", "dev", "eth0", "up")
        return host

    def cut(self, name: str) -> None:
        """Take the host's link down at the switch: no frame reaches it or leaves it."""
        ip("-n", self.switch, "link", "set", "dev", self.hosts[name].port, "down")

    def restore(self, name: str) -> None:
        ip("-n", self.switch, "link", "set", "dev", self.hosts[name].port, "up")

    def destroy(self) -> None:
        """Delete every namespace and link this LAN made (the veths go with their namespaces).
        Run the hosts' processes down first: a namespace lives on while a process is in it."""
        errors = []
        steps = [("netns", "del", h.netns) for h in self.hosts.values()]
        steps += [("link", "del", self.uplink), ("netns", "del", self.switch)]
        for args in steps:
            done = ip(*args, check=False)
            gone = "Cannot find" in done.stderr or "No such file" in done.stderr
            if done.returncode != 0 and not gone:
                errors.append(done.stderr.strip())
        if errors:
            raise RuntimeError(f"LAN {self.tag} not fully removed: {errors}")


def _veth(netns: str | None, name: str, peer_netns: str, peer: str) -> None:
    """A veth pair: `name` in `netns` (None: the root namespace), `peer` in `peer_netns`."""
    where = ("-n", netns) if netns else ()
    ip(*where, "link", "add", name, "type", "veth", "peer", "name", peer, "netns", peer_netns)


def _free_subnet() -> str:
    """10.231.N with N random and not already routed here."""
    routes = ip("-4", "route", "show", "table", "all").stdout
    free = [n for n in range(1, 255) if f"{SUBNET_BASE}.{n}." not in routes]
    return f"{SUBNET_BASE}.{random.choice(free)}"


def listen_in(netns: str, host: str, port: int) -> socket.socket:
    """A TCP socket listening on host:port inside `netns`. A socket belongs to the namespace it
    was made in, so a throwaway thread enters the namespace (setns affects only the calling
    thread), makes it, and ends; the socket is then usable from anywhere in this process."""
    made: list[socket.socket] = []
    failed: list[BaseException] = []

    def make() -> None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            fd = os.open(f"/run/netns/{netns}", os.O_RDONLY)
            try:
                if libc.setns(fd, CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, f"setns into {netns}: {os.strerror(err)}")
            finally:
                os.close(fd)
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
            sock.listen(128)
            sock.setblocking(False)
            made.append(sock)
        except BaseException as e:  # handed to the caller's thread
            failed.append(e)

    worker = threading.Thread(target=make, name=f"enter-{netns}")
    worker.start()
    worker.join()
    if failed:
        raise failed[0]
    return made[0]


class LoopbackRelay:
    """Relays TCP from 127.0.0.1:port inside host namespaces to `target` in the root namespace
    (for PostgreSQL, whose trust rule for 127.0.0.1 then applies: the relay connects from there).
    One asyncio loop in a daemon thread serves every namespace."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="relay", daemon=True)
        self.thread.start()
        self.servers: list[asyncio.AbstractServer] = []
        self.tasks: set[asyncio.Task[Any]] = set()

    def serve_in(self, netns: str, port: int) -> None:
        sock = listen_in(netns, "127.0.0.1", port)

        async def start() -> asyncio.AbstractServer:
            return await asyncio.start_server(self._connection, sock=sock)

        self.servers.append(asyncio.run_coroutine_threadsafe(start(), self.loop).result(10))

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)
        try:
            try:
                up_reader, up_writer = await asyncio.open_connection(*self.target)
            except OSError:
                writer.close()
                return
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            self.tasks.discard(task)

    def close(self) -> None:
        async def shut() -> None:
            for server in self.servers:
                server.close()
            for task in list(self.tasks):
                task.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)

        if self.loop.is_running():
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(shut(), self.loop).result(10)
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
        self.loop.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy until either end closes, then close this direction's writer (PostgreSQL's protocol
    has no half-close, so the other direction then ends too)."""
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()
