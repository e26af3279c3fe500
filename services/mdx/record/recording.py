"""The recording file: what a node's broker delivered, byte for byte, with arrival times.

JSON Lines (UTF-8), one object a line. The first line is the header, every other line one
message in arrival order (see docs/record-replay.md):

    {"format": "mdx-recording", "version": 1, "node": "jcg",
     "started_at": "2026-11-26T13:50:00.123456Z", "topics": ["mdx/v1/in/+/+", ...]}
    {"t": 0.4172, "topic": "mdx/v1/in/ops1/position", "payload": "eyJzcGVjdmVyc2lvbiI6..."}

`t` is seconds since `started_at` (a monotonic clock, so never decreasing); `payload` is the
message's bytes in base64, so a payload that is not JSON, or not even UTF-8, is kept exactly
as it came: a malformed message is part of what a replay must reproduce.
"""

from __future__ import annotations

import base64
import binascii
import math
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import orjson

FORMAT = "mdx-recording"
VERSION = 1


class RecordingError(ValueError):
    """A file that is not a recording this version can read: where, and what was wrong."""

    def __init__(self, path: Path, line: int, problem: str) -> None:
        super().__init__(f"{path}: line {line}: {problem}")
        self.path, self.line, self.problem = path, line, problem


@dataclass(frozen=True, slots=True)
class Header:
    node: str
    started_at: datetime
    topics: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Message:
    t: float  # seconds since the recording started
    topic: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class Recording:
    header: Header
    messages: list[Message]

    @property
    def duration_s(self) -> float:
        """From the first message to the last."""
        return self.messages[-1].t - self.messages[0].t if self.messages else 0.0


class RecordingWriter:
    """Appends messages to a new recording; thread-safe (paho's thread writes, another
    flushes). `close()` flushes what is buffered."""

    def __init__(self, path: Path, header: Header) -> None:
        self.path = path
        self.count = 0
        self._lock = threading.Lock()
        self._file: IO[bytes] = path.open("xb")  # never overwrite an existing recording
        self._file.write(
            orjson.dumps(
                {
                    "format": FORMAT,
                    "version": VERSION,
                    "node": header.node,
                    "started_at": header.started_at.isoformat().replace("+00:00", "Z"),
                    "topics": list(header.topics),
                }
            )
            + b"\n"
        )

    def write(self, message: Message) -> None:
        line = orjson.dumps(
            {
                "t": round(message.t, 6),
                "topic": message.topic,
                "payload": base64.b64encode(message.payload).decode("ascii"),
            }
        )
        with self._lock:
            self._file.write(line + b"\n")
            self.count += 1

    def flush(self) -> None:
        with self._lock:
            if not self._file.closed:
                self._file.flush()

    def close(self) -> None:
        with self._lock:
            self._file.close()

    def __enter__(self) -> RecordingWriter:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def read_recording(path: Path | str) -> Recording:
    """The whole recording at `path`; RecordingError (with the line) if it is not one."""
    path = Path(path)
    lines = _lines(path)
    header = _header(path, next(lines, None))
    messages: list[Message] = []
    for number, raw in lines:
        message = _message(path, number, raw)
        if messages and message.t < messages[-1].t:
            raise RecordingError(
                path, number, f"time t={message.t} is before the previous message's"
            )
        messages.append(message)
    return Recording(header, messages)


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    with path.open("rb") as f:
        yield from enumerate(f, start=1)


def _object(path: Path, number: int, raw: bytes) -> dict[str, Any]:
    if not raw.endswith(b"\n"):
        # The recorder writes whole lines: a cut one means it was stopped mid-write.
        raise RecordingError(path, number, "the line is cut short (no newline at its end)")
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise RecordingError(path, number, f"not JSON: {e}") from None
    if not isinstance(value, dict):
        raise RecordingError(path, number, f"a JSON {type(value).__name__}, not an object")
    return value


def _header(path: Path, first: tuple[int, bytes] | None) -> Header:
    if first is None:
        raise RecordingError(path, 1, f"empty file: not an {FORMAT} file")
    number, raw = first
    try:
        value = _object(path, number, raw)
    except RecordingError as e:
        raise RecordingError(path, number, f"not an {FORMAT} header: {e.problem}") from None
    if value.get("format") != FORMAT:
        raise RecordingError(
            path, number, f"format is {value.get('format')!r}, not {FORMAT!r}: not a recording"
        )
    if value.get("version") != VERSION:
        raise RecordingError(
            path, number, f"version {value.get('version')!r}: this mdx reads version {VERSION}"
        )
    node, started, topics = value.get("node"), value.get("started_at"), value.get("topics", [])
    if not isinstance(node, str) or not node:
        raise RecordingError(path, number, "the header has no node")
    try:
        started_at = datetime.fromisoformat(str(started))
    except ValueError:
        raise RecordingError(path, number, f"started_at {started!r} is not RFC 3339") from None
    if started_at.tzinfo is None:
        raise RecordingError(path, number, f"started_at {started!r} has no time zone")
    if not isinstance(topics, list) or not all(isinstance(t, str) for t in topics):
        raise RecordingError(path, number, "topics is not a list of strings")
    return Header(node, started_at, tuple(topics))


def _message(path: Path, number: int, raw: bytes) -> Message:
    value = _object(path, number, raw)
    t, topic, payload = value.get("t"), value.get("topic"), value.get("payload")
    if isinstance(t, bool) or not isinstance(t, int | float) or not math.isfinite(t) or t < 0:
        raise RecordingError(path, number, f"t is {t!r}, not seconds (a number >= 0)")
    if not isinstance(topic, str) or not topic:
        raise RecordingError(path, number, f"topic is {topic!r}, not a topic name")
    if not isinstance(payload, str):
        raise RecordingError(path, number, f"payload is {payload!r}, not base64 text")
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as e:
        raise RecordingError(path, number, f"payload is not base64: {e}") from None
    return Message(float(t), topic, data)
