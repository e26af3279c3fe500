"""The detection service (`mdx detect run`): the node's rules over what it holds, raised as
incidents through MQTT like any producer's (producer `detect`), so that they are validated,
stored, marked and shared like every other incident.

Two loops:
- every `interval_s`, the track rules (going dark, encounter, foreign fishing, loitering) over
  the positions of the last `window_h` (the node's own and its partners'), with the registry's
  flag, category and name of each vessel and the zones of the zones table;
- every `distress_interval_s`, the positions of AIS-SART, MOB and EPIRB-AIS devices (MMSI
  970/972/974) stored since the last look, each through `distress.from_message`.

One incident per episode: its id is uuid5(namespace(node), key). The service publishes a new
version only when the detection changed in substance (publish.change), numbered after both the
stored version and the last one it published itself (which may not be stored yet). An update
keeps the stored status (an operator may have acknowledged it) and never touches an incident
an operator resolved or closed. Detections whose episodes the rules see drifting (a window
sliding past a long episode's start, a short break) are given the key of the open incident
they continue (episodes.carry_over). A going-dark incident whose vessel reports again gets a
last version with urgency Past.
"""

from __future__ import annotations

import bisect
import dataclasses
import logging
import re
import threading
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from operator import attrgetter
from typing import Any, Final, Protocol

import psycopg

from mdx.core import mqtt
from mdx.core.lifecycle import run_until_signalled
from mdx.core.producer import Producer
from mdx.core.settings import NodeSettings
from mdx.detect import RULES, distress, encounter, going_dark, haversine_m, run_all
from mdx.detect._common import fmt_duration, minutes_between
from mdx.detect.distress import is_device
from mdx.detect.episodes import carry_over
from mdx.detect.model import Detection, Fix, Vessel
from mdx.detect.publish import change, detection_of, incident_data, iso, namespace, purpose_for
from mdx.detect.reader import (
    LAG_S,
    Broadcast,
    ReadStats,
    Stored,
    Tracks,
    ZoneCache,
    connect,
    database_now,
    heard_until,
    last_known,
    read_broadcasts,
    read_distress,
    read_incidents,
    read_vessels,
)
from mdx.detect.settings import DetectSettings

log = logging.getLogger("mdx.detect")

PRODUCER: Final = "detect"
# Rules whose keys can drift from run to run for one behaviour (see episodes).
DRIFTING: Final = frozenset({"foreign_fishing", "loitering", "encounter"})
# A fact of a candidate found to be no behaviour at all (its incident is closed).
WITHDRAWN: Final = "withdrawn"
DISTRESS_KINDS: Final = {"970": "ais-sart", "972": "mob", "974": "epirb"}
# ITU-R M.1371 navigational status 15 from an AIS-SART, MOB or EPIRB-AIS: the device is under
# test (an active one sends 14).
NAV_STATUS_TEST: Final = 15
_AT = attrgetter("at")


# A type 14 broadcast calls for help when it says so; other safety texts (navigational
# warnings, tests) raise nothing.
DISTRESS_TEXT = re.compile(
    r"\b(MOB|MAN OVERBOARD|MAYDAY|SOS|SART|EPIRB|DISTRESS|SINKING|ABANDON(ING)? SHIP|FIRE)\b",
    re.IGNORECASE,
)


class Publisher(Protocol):
    """What the service publishes through (mdx.core.producer.Producer)."""

    def publish(self, kind: str, data: dict[str, Any], **markings: Any) -> dict[str, Any]: ...


@dataclass(slots=True)
class _Sent:
    """What this service last published for an incident."""

    version: int
    detection: Detection
    status: str


@dataclass(slots=True)
class CycleReport:
    """One run of the track rules: what was read, found and published, and how long it took."""

    now: datetime
    read: ReadStats
    vessels: int
    detections: list[Detection]
    published: int
    rules_s: float
    seconds: float


class DetectService:
    def __init__(
        self,
        settings: NodeSettings,
        config: DetectSettings | None = None,
        *,
        publisher: Publisher | None = None,
    ) -> None:
        self.settings = settings
        self.config = config or settings.detect
        self.node = settings.node.id
        self.namespace = namespace(self.node)
        self.window = timedelta(hours=self.config.window_h)
        self.thresholds = self.config.thresholds
        self.tracks = Tracks(self.window)
        self.zones = ZoneCache(node=self.node)
        self.publisher = publisher
        self._producer: Producer | None = None
        self._lock = threading.RLock()
        self._sent: dict[uuid.UUID, _Sent] = {}
        # Stored incidents read back into detections, by id: (version, detection).
        self._parsed: dict[uuid.UUID, tuple[int, Detection | None]] = {}
        # The latest distress detection of each device, as accumulated message by message.
        self._distress: dict[str, Detection] = {}
        # Distress rows already handled (id -> received_at) and the database time of the read.
        self._distress_seen: dict[int, datetime] = {}
        self._distress_read_at: datetime | None = None
        self._broadcast_after = 0  # id of the last safety broadcast handled
        self._unplaced: list[Broadcast] = []  # calls for help waiting for a sender's position
        self._conn: psycopg.Connection[Any] | None = None
        self._distress_conn: psycopg.Connection[Any] | None = None
        self.stopping = threading.Event()

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        """Connect the producer (unless a publisher was given)."""
        if self.publisher is None:
            broker = self.settings.broker
            self._producer = Producer(
                self.node,
                PRODUCER,
                broker.host,
                broker.port,
                credentials=mqtt.credentials(self.settings, PRODUCER),
            )
            self._producer.start()
            self.publisher = self._producer

    def flush(self, timeout: float) -> bool:
        """Wait until ingest has receipted (stored or dead-lettered) everything published."""
        return self._producer.flush(timeout) if self._producer is not None else True

    def close(self, flush_s: float = 5.0) -> None:
        if self._producer is not None:
            if not self._producer.flush(flush_s):
                log.warning("%d incidents not yet receipted by ingest", self._producer.outstanding)
            self._producer.close()
            self._producer = None
            self.publisher = None
        for conn in (self._conn, self._distress_conn):
            if conn is not None:
                conn.close()
        self._conn = self._distress_conn = None

    def run(self) -> None:
        if not self.config.enabled:
            log.info("detection is off ([detect] enabled = false); idle until stopped")
            self.stopping.wait()
            return
        self.start()
        log.info(
            "detecting every %g s over %g h (distress every %g s)",
            self.config.interval_s,
            self.config.window_h,
            self.config.distress_interval_s,
        )
        worker = threading.Thread(target=self._distress_loop, name="distress", daemon=True)
        worker.start()
        try:
            self._loop(self.run_once, self.config.interval_s, "track")
        finally:
            self.stopping.set()
            worker.join(timeout=10)
            self.close()

    def stop(self) -> None:
        self.stopping.set()

    def _distress_loop(self) -> None:
        self._loop(self.run_distress_once, self.config.distress_interval_s, "distress")

    def _loop(self, step: Any, interval_s: float, what: str) -> None:
        while not self.stopping.is_set():
            started = time.monotonic()
            try:
                step()
            except psycopg.OperationalError as e:
                log.error("%s cycle: database unavailable (%s); retrying", what, e)
                self._drop_connections(what)
            except Exception:
                # A bug in one cycle must not stop detection; the next cycle starts afresh.
                log.exception("%s cycle failed", what)
                self._drop_connections(what)
                if what == "track":
                    self.tracks.reset()
            self.stopping.wait(max(0.0, interval_s - (time.monotonic() - started)))

    def _drop_connections(self, what: str) -> None:
        conn = self._conn if what == "track" else self._distress_conn
        if conn is not None:
            conn.close()
        if what == "track":
            self._conn = None
        else:
            self._distress_conn = None

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            self._conn = connect(self.settings.database.url)
        return self._conn

    def _distress_connection(self) -> psycopg.Connection[Any]:
        if self._distress_conn is None or self._distress_conn.closed:
            self._distress_conn = connect(self.settings.database.url)
        return self._distress_conn

    # -- the track rules ---------------------------------------------------------------------
    def run_once(self, now: datetime | None = None) -> CycleReport:
        """One cycle of the track rules at `now` (default: the current time); `now` should not
        go back from one cycle to the next (if it does, the tracks are read afresh)."""
        now = now or datetime.now(UTC)
        started = time.perf_counter()
        t = self.thresholds
        gap = timedelta(minutes=t.episode_gap_min)
        conn = self._connection()
        with self._lock:
            self.zones.refresh(conn)
        read = self.tracks.refresh(conn, now)
        fixes = self.tracks.upto(now)
        vessels = read_vessels(conn, fixes.keys(), self.config.carriers)
        heard = heard_until(conn)
        horizon = now - self.window - gap
        stored = read_incidents(conn, self.node, horizon)
        previous = self._previous(stored)

        rules_started = time.perf_counter()
        # The rules judge by the data's own clock: while a backlog or a feed's history is being
        # stored (positions arriving late, in time order), or when every feed has stopped, no
        # vessel looks dark just because nothing newer is stored yet.
        # Going dark goes further: each vessel by the clock of the source that heard it last.
        clock = min(now, max((track[-1].at for track in fixes.values()), default=now))
        others = [r for r in RULES if r != going_dark.RULE]
        found = run_all(fixes, vessels, self.zones.index, clock, t, others)
        found += going_dark.detect(fixes, vessels, self.zones.index, clock, t, heard)
        found = [d for d in found if not self._someone_elses(d)]
        rules_s = time.perf_counter() - rules_started
        # A vessel dark for nearly the whole window has lost reports of its prior hour to the
        # window's edge: its figures only shrink; an open incident stands as last published.
        cut = now - self.window + timedelta(minutes=t.dark_prior_window_min)
        found = [
            d
            for d in found
            if not (
                d.rule == "going_dark"
                and d.last_seen_at < cut
                and d.incident_id(self.namespace) in previous
            )
        ]

        steady = [d for d in found if d.rule not in DRIFTING]
        carried = carry_over(
            [d for d in found if d.rule in DRIFTING],
            [p for p in previous.values() if p.rule in DRIFTING],
            gap,
            t.max_evidence,
        )
        found = _one_per_key([*steady, *map(_whole_duration, carried)])
        ids = {d.incident_id(self.namespace) for d in found}
        found += _resumed(previous, fixes, ids, t.dark_after_min)

        wanted = [i for d in found if (i := d.incident_id(self.namespace)) not in stored]
        if wanted:
            stored.update(read_incidents(conn, self.node, None, wanted))
        zones = self.zones.by_id()
        published = sum(
            self._consider(d, stored.get(d.incident_id(self.namespace)), vessels, zones)
            for d in found
        )
        self._forget(horizon)
        report = CycleReport(
            now=now,
            read=read,
            vessels=len(fixes),
            detections=found,
            published=published,
            rules_s=rules_s,
            seconds=time.perf_counter() - started,
        )
        log.info(
            "cycle at %s: %d vessels, %d fixes (%s read of %d rows in %.2f s), rules %.2f s, "
            "%d detections, %d published; %.2f s in all",
            iso(now),
            report.vessels,
            read.fixes,
            "full" if read.full else "new-rows",
            read.rows,
            read.seconds,
            rules_s,
            len(found),
            published,
            report.seconds,
        )
        return report

    def _someone_elses(self, d: Detection) -> bool:
        """An encounter outside this node's zones but inside another zone (a partner's area,
        or one of ours that does not watch encounters): partners receive each other's
        positions, so without this every node would raise the same encounter. Only the open
        sea, outside every zone, is everyone's."""
        if d.rule != encounter.RULE or d.zone_id is not None:
            return False
        first = d.evidence[0] if d.evidence else None
        lon, lat = (first.lon, first.lat) if first is not None else (d.lon, d.lat)
        return bool(self.zones.everywhere.at(lon, lat))

    def _previous(self, stored: Mapping[uuid.UUID, Stored]) -> dict[uuid.UUID, Detection]:
        """The open detections as last published: ours if newer than the stored version."""
        out: dict[uuid.UUID, Detection] = {}
        with self._lock:
            for incident_id, s in stored.items():
                d = self._detection_of(s)
                if d is not None:
                    out[incident_id] = d
            self._parsed = {i: p for i, p in self._parsed.items() if i in stored}
            for incident_id, sent in self._sent.items():
                held = stored.get(incident_id)
                if held is None or sent.version > held.version:
                    out[incident_id] = sent.detection
        return {i: d for i, d in out.items() if d.rule != distress.RULE}

    def _detection_of(self, stored: Stored) -> Detection | None:
        """The detection a stored incident carries, parsed once per version."""
        hit = self._parsed.get(stored.incident_id)
        if hit is not None and hit[0] == stored.version:
            return hit[1]
        d = detection_of(stored.data)
        self._parsed[stored.incident_id] = (stored.version, d)
        return d

    def _forget(self, horizon: datetime) -> None:
        with self._lock:
            for incident_id in [
                i for i, s in self._sent.items() if s.detection.last_seen_at < horizon
            ]:
                del self._sent[incident_id]
            for mmsi in [m for m, d in self._distress.items() if d.last_seen_at < horizon]:
                del self._distress[mmsi]

    # -- publishing --------------------------------------------------------------------------
    def _consider(
        self,
        d: Detection,
        stored: Stored | None,
        vessels: Mapping[str, Vessel],
        zones: Mapping[str, Any],
    ) -> bool:
        """Publish the next version of the incident `d` raises if it changed in substance;
        True if it did. `stored`: that incident as the node holds it (None: not held)."""
        incident_id = d.incident_id(self.namespace)
        if stored is not None and stored.closed:
            log.debug("incident %s is %s: left alone", incident_id, stored.status)
            return False
        with self._lock:
            sent = self._sent.get(incident_id)
            # What we published is the exact baseline while it is the latest version: the
            # stored one, read back, knows only the vessels its key names.
            if sent is not None and (stored is None or sent.version >= stored.version):
                baseline: Detection | None = sent.detection
            else:
                baseline = self._detection_of(stored) if stored is not None else None
            why = change(d, baseline)
            if why is None:
                return False
            version = max(stored.version if stored else 0, sent.version if sent else 0) + 1
            status = stored.status if stored else sent.status if sent else "reported"
            if d.facts.get(WITHDRAWN) is True:
                status = "closed"
            data = incident_data(
                d,
                incident_id,
                version,
                status,
                vessels=vessels,
                zones=zones,
                thresholds=self.thresholds,
                stored=stored.data if stored else None,
            )
            if self.publisher is None:
                raise RuntimeError("DetectService.start() was not called")
            self.publisher.publish(
                "incident",
                data,
                tlp=self.settings.node.default_tlp,
                purpose=purpose_for(d.category, d.rule),
            )
            self._sent[incident_id] = _Sent(version, d, status)
        log.info("incident %s v%d (%s, %s): %s", incident_id, version, d.rule, why, d.title)
        return True

    # -- distress ----------------------------------------------------------------------------
    def run_distress_once(self, now: datetime | None = None) -> int:
        """Handle the distress devices' positions stored since the last call; returns how many
        incident versions were published."""
        now = now or datetime.now(UTC)
        conn = self._distress_connection()
        if self._distress_read_at is None:
            received_after = datetime(1970, 1, 1, tzinfo=UTC)
        else:
            received_after = self._distress_read_at - timedelta(seconds=LAG_S)
        with conn.transaction():
            read_at = database_now(conn)
            rows = read_distress(conn, self.node, now - self.window, received_after)
        new = [r for r in rows if r.id not in self._distress_seen]
        published = 0
        if new:
            with self._lock:
                self.zones.refresh(conn)
        for r in new:
            if r.nav_status == NAV_STATUS_TEST:
                log.info("distress device %s under test at %s: no incident", r.mmsi, iso(r.at))
            else:
                kind = DISTRESS_KINDS[r.mmsi[:3]]
                published += self._handle(conn, r.mmsi, kind, r.at, r.lon, r.lat, None)[1]
            self._distress_seen[r.id] = r.received_at
        published += self._broadcasts(conn, now)
        # Only now, all handled: a failure above reads the same rows again next time.
        self._distress_read_at = read_at
        horizon = read_at - timedelta(seconds=LAG_S)
        for row_id in [i for i, at in self._distress_seen.items() if at <= horizon]:
            del self._distress_seen[row_id]
        return published

    def _broadcasts(self, conn: psycopg.Connection[Any], now: datetime) -> int:
        """Type 14 broadcasts that call for help (MOB, MAYDAY, SART ...), each through the
        same distress rule, placed at the sender's last known position. A call from a vessel
        with no position yet (its first report may follow the call) waits for one, for up to
        `distress_quiet_minutes` after it was sent."""
        with conn.transaction():
            found = read_broadcasts(conn, now - self.window, self._broadcast_after)
        waited = self._unplaced
        self._unplaced = []
        published = 0
        for b in [*waited, *found]:
            if b in waited or DISTRESS_TEXT.search(b.text):
                d, sent = self._handle(conn, b.mmsi, "safety-broadcast", b.at, None, None, b.text)
                published += sent
                if d is None and not distress.is_test(b.text):
                    self._wait_for_position(b, now)
            else:
                log.info("safety broadcast from %s is not a call for help: %r", b.mmsi, b.text)
            self._broadcast_after = max(self._broadcast_after, b.id)
        return published

    def _wait_for_position(self, b: Broadcast, now: datetime) -> None:
        limit = b.at + timedelta(minutes=self.thresholds.distress_quiet_minutes)
        if now < limit:
            self._unplaced.append(b)
        else:
            log.warning(
                "call for help from %s at %s: no position of the sender by %s, no incident: %r",
                b.mmsi,
                iso(b.at),
                iso(limit),
                b.text,
            )

    def _nearby_distress(
        self, here: tuple[float, float], at: datetime, stored: Iterable[Stored]
    ) -> Detection | None:
        """The open distress episode nearest to `here` within `distress_join_m`, active within
        `distress_quiet_minutes` of `at`: a message there is part of the same case."""
        t = self.thresholds
        quiet = timedelta(minutes=t.distress_quiet_minutes)
        with self._lock:
            known = list(self._distress.values())
        known += [d for s in stored if not s.closed and (d := detection_of(s.data)) is not None]
        near = [
            (metres, d)
            for d in known
            if d.rule == distress.RULE
            and d.started_at - quiet <= at <= d.last_seen_at + quiet
            and (metres := haversine_m(here[0], here[1], d.lon, d.lat)) <= t.distress_join_m
        ]
        return min(near, key=lambda pair: pair[0])[1] if near else None

    def handle_distress(
        self,
        mmsi: str,
        kind: str,
        at: datetime,
        lon: float | None,
        lat: float | None,
        text: str | None = None,
    ) -> Detection | None:
        """Raise or update the distress incident of one message: an AIS-SART/MOB/EPIRB-AIS
        position, or a safety broadcast (kind "safety-broadcast", no position: the vessel's last
        known one is used). Returns the detection, None when the message raises nothing (a
        test, or nothing to place it by)."""
        return self._handle(self._distress_connection(), mmsi, kind, at, lon, lat, text)[0]

    def _handle(
        self,
        conn: psycopg.Connection[Any],
        mmsi: str,
        kind: str,
        at: datetime,
        lon: float | None,
        lat: float | None,
        text: str | None,
    ) -> tuple[Detection | None, bool]:
        """The detection of one distress message, and whether a version was published."""
        t = self.thresholds
        quiet = timedelta(minutes=t.distress_quiet_minutes)
        with self._lock:
            previous = self._distress.get(mmsi)
        ids = [previous.incident_id(self.namespace)] if previous is not None else []
        stored = read_incidents(conn, self.node, at - quiet, ids, rule=distress.RULE)
        if previous is not None:
            mine = stored.get(ids[0])
            if mine is not None and mine.closed:
                previous = None  # closed by an operator: a new alert is a new incident
        else:
            previous = _latest_of(mmsi, (s for s in stored.values() if not s.closed))
        where = last_known(conn, mmsi) if lon is None or lat is None else None
        joining = False
        if previous is None:
            if lon is not None and lat is not None:
                here: tuple[float, float] | None = (lon, lat)
            else:
                here = (where.lon, where.lat) if where is not None else None
            if here is not None:
                previous = self._nearby_distress(here, at, stored.values())
                joining = previous is not None
        # The title names the vessel of the case, not its device, once one is known.
        named = [m for m in (*(previous.mmsis if previous else ()), mmsi) if not is_device(m)]
        vessels = read_vessels(conn, {mmsi, *named}, self.config.carriers)
        d = distress.from_message(
            mmsi,
            kind,
            at,
            lon,
            lat,
            text,
            previous,
            t,
            joining=joining,
            last_known=where,
            vessel=vessels.get(named[0] if named else mmsi),
            zones=self.zones.index,
        )
        if d is None:
            log.info("distress message of %s at %s raises nothing", mmsi, iso(at))
            return None, False
        with self._lock:
            for m in d.mmsis:
                self._distress[m] = d
        incident_id = d.incident_id(self.namespace)
        if incident_id not in stored:
            stored.update(read_incidents(conn, self.node, None, [incident_id]))
        return d, self._consider(d, stored.get(incident_id), vessels, self.zones.by_id())


def _latest_of(mmsi: str, stored: Iterable[Stored]) -> Detection | None:
    found = [d for s in stored if (d := detection_of(s.data)) is not None and mmsi in d.mmsis]
    return max(found, key=lambda d: d.last_seen_at, default=None)


_DURATION = re.compile(r"\bfor (?:\d+ h \d+ min|\d+ h|\d+ min)\b")


def _whole_duration(d: Detection) -> Detection:
    """A detection carried over to an earlier start, with the duration in its title and facts
    counted from that start (the rule counted from the start it could see)."""
    minutes = d.duration_minutes
    if "minutes" not in d.facts or abs(float(d.facts["minutes"]) - minutes) < 0.5:
        return d
    return dataclasses.replace(
        d,
        title=_DURATION.sub(f"for {fmt_duration(minutes)}", d.title, count=1),
        facts={**d.facts, "minutes": round(minutes, 1)},
    )


def _one_per_key(found: Sequence[Detection]) -> list[Detection]:
    """One detection per key: after carry_over two episodes may continue the same incident;
    the latest stands for it."""
    by_key: dict[str, Detection] = {}
    for d in found:
        other = by_key.get(d.key)
        if other is None or d.last_seen_at > other.last_seen_at:
            by_key[d.key] = d
    return list(by_key.values())


def _resumed(
    previous: Mapping[uuid.UUID, Detection],
    fixes: Mapping[str, Sequence[Fix]],
    current: set[uuid.UUID],
    dark_after_min: float,
) -> list[Detection]:
    """The open going-dark detections whose vessel has reported again: over (urgency Past),
    with the length of the silence and when it ended. A silence shorter than `dark_after_min`
    never was one (its positions were stored late): that candidate is withdrawn."""
    out: list[Detection] = []
    for incident_id, p in previous.items():
        if p.rule != "going_dark" or p.urgency == "Past" or incident_id in current:
            continue
        track = fixes.get(p.mmsis[0])
        if not track:
            continue
        i = bisect.bisect_right(track, p.last_seen_at, key=_AT)
        if i == len(track):
            continue
        back = track[i]
        silent = minutes_between(p.last_seen_at, back.at)
        facts = {**p.facts, "gap_minutes": round(silent, 1), "resumed": True}
        if silent < dark_after_min:
            facts[WITHDRAWN] = True
        out.append(
            dataclasses.replace(
                p,
                urgency="Past",
                title=re.sub(r"^AIS gap of [^:]*:", f"AIS gap of {fmt_duration(silent)}:", p.title),
                facts=facts,
            )
        )
    return out


def serve(settings: NodeSettings) -> None:
    run_until_signalled(DetectService(settings))
