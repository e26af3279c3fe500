"""Recording what a real node receives (`mdx record`) and replaying it into another
(`mdx replay`): byte for byte, the same items stored, on the recorded pace times a speed."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import make_url
from typer.testing import CliRunner

from mdx.cli.main import app
from mdx.core import migrate, mqtt, topics
from mdx.core.mqtt import Credentials
from mdx.record.recorder import Recorder
from mdx.record.recording import (
    FORMAT,
    Header,
    Message,
    RecordingError,
    RecordingWriter,
    read_recording,
)
from mdx.record.replayer import Replayer, replay
from tests.conftest import PG_ADMIN, Broker, mqtt_test_client
from tests.integration.harness import RawPublisher, running_node, scalar, wait_for
from tests.integration.test_ingest import envelope_bytes, incident, position

PRODUCER = "ops1"  # a producer of running_node's config
N_POSITIONS = 12
# Not JSON, not even UTF-8: a replay must reproduce it exactly, and the node must refuse it.
MALFORMED = b'{"lat": 91, "note": "\xff\xfe"'


@dataclass(frozen=True)
class Recorded:
    path: Path
    sent: list[tuple[str, bytes]]  # what the producer published, in order
    database_url: str  # node A's
    recorder_output: str


def _fresh_database_url() -> str:
    name = f"mdx_test_rec_{uuid.uuid4().hex[:8]}"
    return make_url(PG_ADMIN).set(database=name).render_as_string(hide_password=False)


def _private_dirs() -> tuple[Path, Path]:
    """A broker folder its own user can reach, and a work folder."""
    broker_dir, work = Path(tempfile.mkdtemp(prefix="mdx-broker-")), Path(tempfile.mkdtemp())
    broker_dir.chmod(0o755)
    return broker_dir, work


def _producer_credentials(security_dir: Path) -> Credentials:
    return Credentials(PRODUCER, mqtt.secret_path(security_dir, PRODUCER).read_text().strip())


def _mdx(*args: str, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "mdx.cli.main", *args], stdout=out, stderr=subprocess.STDOUT
        )


@pytest.fixture(scope="module")
def recorded() -> Iterator[Recorded]:
    """Node A recorded by `mdx record` while its producer publishes a mix: positions, an
    incident and a malformed message, spread over about a second."""
    broker_dir, work = _private_dirs()
    url = _fresh_database_url()
    out = work / "node-a.mdxrec"
    sent = [
        (topics.inbound(PRODUCER, "position"), envelope_bytes(PRODUCER, "position", position(i)))
        for i in range(N_POSITIONS)
    ]
    sent.insert(
        5, (topics.inbound(PRODUCER, "incident"), envelope_bytes(PRODUCER, "incident", incident(7)))
    )
    sent.insert(9, (topics.inbound(PRODUCER, "position"), MALFORMED))
    recorder: subprocess.Popen[bytes] | None = None
    try:
        with running_node(url, broker_dir, work) as node:
            log = work / "record.log"
            recorder = _mdx(
                "record", "--config", str(work / "jcg.toml"), "--out", str(out), log=log
            )
            wait_for(lambda: "recording mdx/v1/in" in log.read_text(), 20, log.read_text)
            publisher = RawPublisher(
                "127.0.0.1",
                node.broker_port,
                "rec-producer",
                _producer_credentials(node.security_dir),
            )
            try:
                for message in sent:  # about 80 ms apart: the recording has a pace to keep
                    publisher.publish_all([message])
                    time.sleep(0.08)
            finally:
                publisher.close()
            stored = " + ".join(
                f"(SELECT count(*) FROM {t})" for t in ("positions", "incidents", "dead_letters")
            )
            wait_for(
                lambda: scalar(url, f"SELECT {stored}") == len(sent), 20, "node A to store the mix"
            )
            recorder.send_signal(signal.SIGTERM)
            assert recorder.wait(timeout=20) == 0, log.read_text()
        yield Recorded(out, sent, url, log.read_text())
    finally:
        if recorder is not None and recorder.poll() is None:
            recorder.kill()
            recorder.wait()
        migrate.drop_database(url)
        shutil.rmtree(broker_dir, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)


@pytest.mark.slow
def test_the_recording_holds_exactly_what_the_node_received(recorded: Recorded) -> None:
    recording = read_recording(recorded.path)
    assert recording.header.node == "jcg"
    assert recording.header.topics == (topics.INBOUND_FILTER, topics.share("+", "jcg"))
    assert [(m.topic, m.payload) for m in recording.messages] == recorded.sent
    times = [m.t for m in recording.messages]
    assert times == sorted(times) and times[0] >= 0
    # The producer waited ~80 ms between messages; the recorded times show it (give or take
    # how late the first one reached the recorder).
    assert recording.duration_s >= 0.08 * (len(recorded.sent) - 1) - 0.1
    assert f"recorded {len(recorded.sent)} messages" in recorded.recorder_output


@pytest.mark.slow
def test_a_replay_into_a_fresh_node_stores_the_same_items(
    recorded: Recorded, db: str, broker_dir: Path, tmp_path: Path
) -> None:
    with running_node(db, broker_dir, tmp_path):
        log = tmp_path / "replay.log"
        proc = _mdx(
            "replay",
            str(recorded.path),
            "--config",
            str(tmp_path / "jcg.toml"),
            "--speed",
            "20",
            log=log,
        )
        assert proc.wait(timeout=60) == 0, log.read_text()
        n = len(recorded.sent)
        assert f"replayed {n} messages" in log.read_text()
        assert "0 skipped (not inbound topics); 0 refused" in log.read_text()
        wait_for(
            lambda: scalar(db, "SELECT count(*) FROM dead_letters") == 1, 20, "the dead letter"
        )
        wait_for(
            lambda: scalar(db, "SELECT count(*) FROM positions") == N_POSITIONS, 20, "positions"
        )
    for sql in (
        "SELECT array_agg(event_id ORDER BY event_id) FROM positions",
        "SELECT array_agg(incident_id ORDER BY incident_id) FROM incidents",
        "SELECT array_agg(reason ORDER BY id) FROM dead_letters",
    ):
        assert scalar(db, sql) == scalar(recorded.database_url, sql), sql
    assert scalar(db, "SELECT count(*) FROM incidents") == 1
    assert scalar(db, "SELECT payload FROM dead_letters") == MALFORMED


# -- pacing, against a broker alone ---------------------------------------------------------

SPAN_S = 2.0
N_PACED = 21


def _paced() -> list[Message]:
    """N messages evenly over SPAN_S seconds, starting 5 s into the recording (the replay
    starts with the first message, not with the recording's silence before it)."""
    return [
        Message(5.0 + SPAN_S * i / (N_PACED - 1), topics.inbound("sim", "position"), b"%d" % i)
        for i in range(N_PACED)
    ]


@dataclass
class Arrivals:
    times: list[float]
    payloads: list[bytes]


@pytest.fixture
def arrivals(mqtt_broker: Broker) -> Iterator[Arrivals]:
    got = Arrivals([], [])
    subscribed = threading.Event()
    watcher = mqtt_test_client("pace-watcher")
    watcher.on_subscribe = lambda *_a: subscribed.set()
    watcher.on_message = lambda _c, _u, m: (
        got.times.append(time.monotonic()),
        got.payloads.append(m.payload),
    )
    watcher.on_connect = lambda c, *_a: c.subscribe(topics.INBOUND_FILTER, qos=1)
    watcher.connect(mqtt_broker.host, mqtt_broker.port)
    watcher.loop_start()
    assert subscribed.wait(10)
    yield got
    watcher.loop_stop()
    watcher.disconnect()


@pytest.mark.parametrize("speed", [1.0, 4.0])
def test_a_replay_keeps_the_recorded_pace_times_the_speed(
    mqtt_broker: Broker, arrivals: Arrivals, speed: float
) -> None:
    messages = _paced()
    report = replay(mqtt_broker.settings, messages, speed=speed)
    expected = SPAN_S / speed
    assert (report.sent, report.skipped, report.refused) == (N_PACED, 0, 0)
    assert report.schedule_s == pytest.approx(expected)
    # Never ahead of the schedule; behind it by no more than a loaded machine explains.
    assert expected <= report.elapsed_s < expected + 1.5
    wait_for(lambda: len(arrivals.payloads) == N_PACED, 10, "every message at the broker")
    assert arrivals.payloads == [m.payload for m in messages]
    assert arrivals.times[-1] - arrivals.times[0] >= expected - 0.25


def test_as_fast_as_possible_ignores_the_recorded_times(
    mqtt_broker: Broker, arrivals: Arrivals
) -> None:
    report = replay(mqtt_broker.settings, _paced(), speed=None)
    assert (report.sent, report.refused, report.schedule_s) == (N_PACED, 0, 0.0)
    assert report.elapsed_s < SPAN_S / 2
    wait_for(lambda: len(arrivals.payloads) == N_PACED, 10, "every message at the broker")


def test_replay_publishes_only_inbound_topics_and_may_not_publish_others(
    mqtt_broker: Broker, arrivals: Arrivals
) -> None:
    inbound = Message(0.0, topics.inbound("sim", "position"), b"in")
    share = Message(0.1, topics.share("kcg", "jcg"), b"share")
    report = replay(mqtt_broker.settings, [inbound, share], speed=None)
    assert (report.sent, report.skipped, report.refused) == (1, 1, 0)
    # Asked to, the `replay` identity still may not forge a partner's stream.
    everything = replay(mqtt_broker.settings, [inbound, share], speed=None, only_inbound=False)
    assert (everything.sent, everything.skipped, everything.refused) == (2, 0, 1)
    assert everything.refusals == [f"{share.topic}: Not authorized"]
    wait_for(lambda: len(arrivals.payloads) == 2, 10, "the two inbound messages")
    time.sleep(0.3)
    assert arrivals.payloads == [b"in", b"in"]


def test_the_recorder_identity_cannot_publish(
    mqtt_broker: Broker,
) -> None:
    settings = mqtt_broker.settings
    recorder = Replayer(settings, mqtt.credentials(settings, "recorder"))
    with recorder:
        report = recorder.replay([Message(0.0, topics.inbound("sim", "position"), b"x")], None)
    assert report.refused == 1


# -- files that are not recordings ----------------------------------------------------------


def _header_line() -> str:
    header = {"format": FORMAT, "version": 1, "node": "jcg", "started_at": "2026-11-26T10:00:00Z"}
    return json.dumps(header) + "\n"


@pytest.mark.parametrize(
    ("content", "line", "problem"),
    [
        ("", 1, "empty file"),
        ('{"specversion": "1.0"}\n', 1, "format is None, not 'mdx-recording'"),
        ("hello\n", 1, "not an mdx-recording header: not JSON"),
        (_header_line().replace('"version": 1', '"version": 2'), 1, "version 2"),
        (_header_line() + '{"t": 0.5, "topic": "a/b", "payload": "aGk="}\n[1]\n', 3, "a JSON list"),
        (
            _header_line() + '{"t": 0.5, "topic": "a/b", "payload": "not base64!"}\n',
            2,
            "not base64",
        ),
        (_header_line() + '{"t": -1, "topic": "a/b", "payload": ""}\n', 2, "t is -1"),
        (_header_line() + '{"t": 1, "topic": "", "payload": ""}\n', 2, "topic is ''"),
        (
            _header_line()
            + '{"t": 2, "topic": "a", "payload": ""}\n{"t": 1, "topic": "a", "payload": ""}\n',
            3,
            "before the previous",
        ),
        (_header_line() + '{"t": 2, "topic": "a", "payload": ""}', 2, "cut short"),
    ],
)
def test_a_file_that_is_not_a_recording_is_refused_with_its_line(
    tmp_path: Path, content: str, line: int, problem: str
) -> None:
    path = tmp_path / "bad.mdxrec"
    path.write_text(content)
    with pytest.raises(RecordingError) as refused:
        read_recording(path)
    assert refused.value.line == line
    assert problem in refused.value.problem
    assert str(refused.value).startswith(f"{path}: line {line}: ")


def test_replay_of_a_bad_file_exits_1_and_says_where(tmp_path: Path) -> None:
    config = tmp_path / "node.toml"
    config.write_text('[node]\nid = "jcg"\n')
    bad = tmp_path / "bad.mdxrec"
    bad.write_text(_header_line() + '{"t": 0, "topic": "a", "payload": "%%%"}\n')
    result = CliRunner().invoke(app, ["replay", str(bad), "--config", str(config)])
    assert result.exit_code == 1
    assert f"not replayed: {bad}: line 2: payload is not base64" in " ".join(result.stderr.split())


def test_written_recordings_read_back_byte_for_byte(tmp_path: Path) -> None:
    every_byte = bytes(range(256))
    messages = [
        Message(0.0, "a/b", every_byte),
        Message(0.25, "a/c", b""),
        Message(0.25, "x", b"\n"),
    ]
    path = tmp_path / "r.mdxrec"
    header = Header("kcg", datetime(2026, 11, 26, tzinfo=UTC))
    with RecordingWriter(path, header) as writer:
        for m in messages:
            writer.write(m)
    back = read_recording(path)
    assert back.header == Header("kcg", header.started_at, ())
    assert back.messages == messages
    with pytest.raises(FileExistsError):
        RecordingWriter(path, header)


def _config_of(broker: Broker, path: Path) -> Path:
    b = broker.settings.broker
    path.write_text(
        f'[node]\nid = "jcg"\ndemo = true\n[broker]\nhost = "{b.host}"\nport = {b.port}\n'
        f'security_dir = "{b.security_dir}"\n'
    )
    return path


def test_record_stops_after_its_duration(mqtt_broker: Broker, tmp_path: Path) -> None:
    out = tmp_path / "quiet.mdxrec"
    config = _config_of(mqtt_broker, tmp_path / "node.toml")
    started = time.monotonic()
    result = CliRunner().invoke(
        app, ["record", "--config", str(config), "--out", str(out), "--duration", "1"]
    )
    assert result.exit_code == 0, result.output
    assert 1.0 <= time.monotonic() - started < 5.0
    assert "recorded 0 messages" in result.stderr
    recording = read_recording(out)
    assert (recording.header.node, recording.messages) == ("jcg", [])
    again = CliRunner().invoke(app, ["record", "--config", str(config), "--out", str(out)])
    assert again.exit_code == 2  # never overwrites a recording


def test_the_recorder_may_not_read_beyond_what_the_node_receives(
    mqtt_broker: Broker, tmp_path: Path
) -> None:
    out = tmp_path / "r.mdxrec"
    receipts = topics.receipt("+")
    recorder = Recorder(mqtt_broker.settings, out, [receipts, topics.INBOUND_FILTER])
    recorder.start()
    publisher = RawPublisher(mqtt_broker.host, mqtt_broker.port)  # the tests' observer
    try:
        # In this order from one connection: had the receipt been delivered, it came first.
        publisher.publish_all(
            [(topics.receipt("sim"), b"receipt"), (topics.inbound("sim", "position"), b"in")]
        )
        wait_for(lambda: recorder.count >= 1, 10, "the inbound message recorded")
    finally:
        publisher.close()
        recorder.stop()
    recording = read_recording(out)
    assert recording.header.topics == (receipts, topics.INBOUND_FILTER)
    assert [(m.topic, m.payload) for m in recording.messages] == [
        (topics.inbound("sim", "position"), b"in")
    ]
