"""`mdx cot serve`: the node's picture streamed to TAK clients, as TAK servers stream it.

A client connects (plain TCP on the node's own network, or TLS with a client certificate from
the node's CA, mdx.cot.peers), gets the current picture (every fresh vessel and every current
incident it may see) as CoT events written one after another on the stream, each a complete
XML document without declaration, then every change as it is stored: its connection polls
the database by watermark (mdx.cot.picture) every `[cot] poll_s`. Open incidents are sent again
before their events go stale. Whatever the client sends (its own position, pings) is read and
dropped: this server only serves the node's picture.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, create_engine

from mdx.api.visibility import Caller
from mdx.core.settings import NodeSettings
from mdx.cot import mapping, peers, picture
from mdx.cot.mapping import IncidentItem, VesselFix
from mdx.node import pki

log = logging.getLogger("mdx.cot")

READ_CHUNK = 64 * 1024


@dataclass(frozen=True, slots=True)
class Timing:
    poll_s: float
    vessel_stale: timedelta
    incident_stale: timedelta

    @classmethod
    def of(cls, settings: NodeSettings) -> Timing:
        cot = settings.cot
        return cls(
            cot.poll_s,
            timedelta(minutes=cot.vessel_stale_minutes),
            timedelta(minutes=cot.incident_stale_minutes),
        )

    @property
    def refresh(self) -> timedelta:
        """How often open incidents are sent again: well before their events go stale."""
        return self.incident_stale / 2


def tls_context(settings: NodeSettings) -> ssl.SSLContext:
    """The node's server certificate (its CA issued it for the broker's names) and client
    certificates required from the node's CA."""
    ca = pki.Pki.of(settings.broker.security_dir)
    if not (ca.exists() and ca.server_cert.exists()):
        raise pki.PkiError(f"no CA in {ca.dir}: run `mdx pki init` first")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(ca.ca_cert))
    context.load_cert_chain(str(ca.server_cert), str(ca.server_key))
    context.verify_mode = ssl.CERT_REQUIRED
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


@dataclass
class Session:
    """One client: what it may see, and what it has been sent."""

    who: Caller
    peer: str
    writer: asyncio.StreamWriter
    # The newest observation of each vessel it was sent: a late, older fix never moves it back.
    sent: dict[str, datetime] = field(default_factory=dict)


class CotServer:
    def __init__(self, settings: NodeSettings, engine: Engine) -> None:
        self.settings = settings
        self.engine = engine
        self.timing = Timing.of(settings)
        self.revocations = peers.Revocations(pki.Pki.of(settings.broker.security_dir).crl)
        self.servers: list[asyncio.Server] = []
        self.sessions: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        cot = self.settings.cot
        if cot.tcp_port:
            server = await asyncio.start_server(self._plain, cot.host, cot.tcp_port)
            self.servers.append(server)
            log.info("CoT over TCP on %s:%d (the node's own viewers)", cot.host, cot.tcp_port)
        if cot.tls_port:
            context = tls_context(self.settings)
            server = await asyncio.start_server(self._tls, cot.host, cot.tls_port, ssl=context)
            self.servers.append(server)
            log.info("CoT over TLS on %s:%d (client certificates)", cot.host, cot.tls_port)
        if not self.servers:
            raise ValueError("[cot] has neither tcp_port nor tls_port")

    async def close(self) -> None:
        for server in self.servers:
            server.close()
        for task in list(self.sessions):
            task.cancel()
        await asyncio.gather(*self.sessions, return_exceptions=True)
        for server in self.servers:
            await server.wait_closed()

    async def _plain(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = _peer(writer)
        await self._serve(reader, writer, peers.local_viewer(self.settings, f"cot-tcp:{peer}"))

    async def _tls(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        ssl_object = writer.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        try:
            who = peers.tls_caller(der, self.settings, self.revocations)
        except peers.Refused as e:
            log.warning("CoT client %s refused: %s", _peer(writer), e)
            writer.close()
            return
        await self._serve(reader, writer, who)

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, who: Caller
    ) -> None:
        session = Session(who, _peer(writer), writer)
        task = asyncio.current_task()
        assert task is not None
        self.sessions.add(task)
        log.info("CoT client %s connected as %s", session.peer, who.node or who.subject)
        inbound = asyncio.create_task(_discard(reader))
        try:
            await self._stream(session, inbound)
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError) as e:
            log.info("CoT client %s gone: %s", session.peer, e)
        finally:
            self.sessions.discard(task)
            inbound.cancel()
            writer.close()
            with contextlib.suppress(ConnectionError, ssl.SSLError):
                await writer.wait_closed()
            log.info("CoT client %s disconnected", session.peer)

    async def _stream(self, session: Session, inbound: asyncio.Task[None]) -> None:
        # The watermark first: what is stored while the picture is read comes again as a
        # change (an event sent twice only updates the client's item).
        mark = await asyncio.to_thread(picture.watermark, self.engine)
        refreshed = await self._send_picture(session)
        while not inbound.done():
            full = True
            while full:
                mark, full = await self._send_changes(session, mark)
            if _now() - refreshed >= self.timing.refresh:
                refreshed = await self._send_picture(session, vessels=False)
            await asyncio.wait([inbound], timeout=self.timing.poll_s)

    async def _send_picture(self, session: Session, vessels: bool = True) -> datetime:
        now = _now()
        flags = await asyncio.to_thread(picture.friendly_flags, self.engine, self.settings)
        incidents, fixes = await asyncio.to_thread(self._read_picture, session.who, now, vessels)
        await self._send(session, incidents, fixes, flags, now)
        return now

    def _read_picture(
        self, who: Caller, now: datetime, vessels: bool
    ) -> tuple[list[IncidentItem], list[VesselFix]]:
        with self.engine.connect() as conn:
            incidents = picture.current_incidents(conn, who, now - self.timing.incident_stale)
            fixes = (
                picture.fresh_vessels(conn, who, now - self.timing.vessel_stale) if vessels else []
            )
        return incidents, fixes

    async def _send_changes(
        self, session: Session, mark: picture.Watermark
    ) -> tuple[picture.Watermark, bool]:
        incidents, fixes, new_mark, full = await asyncio.to_thread(
            self._read_changes, session.who, mark
        )
        if incidents or fixes:
            flags = await asyncio.to_thread(picture.friendly_flags, self.engine, self.settings)
            now = _now()
            # A vessel whose event would be stale on arrival (a feed catching up) is no news.
            fresh = [f for f in fixes if f.observed_at + self.timing.vessel_stale > now]
            await self._send(session, incidents, fresh, flags, now)
        return new_mark, full

    def _read_changes(
        self, who: Caller, mark: picture.Watermark
    ) -> tuple[list[IncidentItem], list[VesselFix], picture.Watermark, bool]:
        with self.engine.connect() as conn:
            incidents, iv, full_iv = picture.new_incident_versions(conn, who, mark.iv)
            fixes, p, full_p = picture.new_positions(conn, who, mark.p)
        return incidents, fixes, picture.Watermark(iv, p), full_iv or full_p

    async def _send(
        self,
        session: Session,
        incidents: Sequence[IncidentItem],
        fixes: Sequence[VesselFix],
        flags: frozenset[str],
        now: datetime,
    ) -> None:
        fixes = [f for f in fixes if f.observed_at >= session.sent.get(f.mmsi, f.observed_at)]
        if not incidents and not fixes:
            return
        stale = self.timing
        chunks = [
            mapping.to_bytes(mapping.incident_event(i, now, stale.incident_stale))
            for i in incidents
        ]
        chunks += [
            mapping.to_bytes(mapping.vessel_event(f, flags, stale.vessel_stale)) for f in fixes
        ]
        session.writer.write(b"".join(chunks))
        await session.writer.drain()
        for fix in fixes:
            session.sent[fix.mmsi] = fix.observed_at
        await asyncio.to_thread(self._audit, session, incidents, fixes)

    def _audit(
        self, session: Session, incidents: Sequence[IncidentItem], fixes: Sequence[VesselFix]
    ) -> None:
        picture.record_restricted(
            self.engine, session.who, session.peer, "incident", picture.ids_of(incidents)
        )
        picture.record_restricted(
            self.engine, session.who, session.peer, "vessel", picture.ids_of(fixes)
        )


async def _discard(reader: asyncio.StreamReader) -> None:
    """Read what the client sends until it closes (TAK clients send their own position and
    pings); returning ends the session."""
    try:
        while await reader.read(READ_CHUNK):
            pass
    except (ConnectionError, ssl.SSLError):
        pass


def _peer(writer: asyncio.StreamWriter) -> str:
    address = writer.get_extra_info("peername")
    return f"{address[0]}:{address[1]}" if isinstance(address, tuple) else str(address)


def _now() -> datetime:
    return datetime.now(UTC)


async def _run(settings: NodeSettings) -> None:
    engine = create_engine(settings.database.url, pool_pre_ping=True)
    server = CotServer(settings, engine)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await server.start()
        await stop.wait()
    finally:
        await server.close()
        engine.dispose()


def serve(settings: NodeSettings) -> None:
    """Serve until SIGTERM or SIGINT."""
    asyncio.run(_run(settings))
