"""A feed's configuration: one of connect/listen, producer ids, and `mdx feed run` overrides."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from mdx.feed.config import FeedConfig, parse_address, select_feed, unique_producers


def test_defaults() -> None:
    feed = FeedConfig(producer="ais-busan-1", connect="data.aishub.net:4711")
    assert (feed.batch_lines, feed.batch_ms, feed.queue_lines) == (100, 100, 100_000)
    assert feed.reconnect_max_s == 30
    assert feed.mode == "connect"
    assert feed.address == ("data.aishub.net", 4711)


@pytest.mark.parametrize("producer", ["ais-busan-1", "ops-naha.desk2", "A", "nais_1"])
def test_producer_ids_as_the_schemas_have_them(producer: str) -> None:
    assert FeedConfig(producer=producer, listen="0.0.0.0:10110").producer == producer


@pytest.mark.parametrize("producer", ["", "-x", "a/b", "a+", "a#", "a b", "x" * 65, "é"])
def test_bad_producer_ids(producer: str) -> None:
    with pytest.raises(ValidationError):
        FeedConfig(producer=producer, listen="0.0.0.0:10110")


def test_exactly_one_of_connect_and_listen() -> None:
    with pytest.raises(ValidationError, match="exactly one"):
        FeedConfig(producer="p")
    with pytest.raises(ValidationError, match="exactly one"):
        FeedConfig(producer="p", connect="a:1", listen="b:2")


def test_unknown_keys_are_refused() -> None:
    with pytest.raises(ValidationError):
        FeedConfig.model_validate({"producer": "p", "listen": "a:1", "batch_line": 5})


@pytest.mark.parametrize(
    ("address", "expected"),
    [("127.0.0.1:10110", ("127.0.0.1", 10110)), ("[::1]:5631", ("::1", 5631))],
)
def test_addresses(address: str, expected: tuple[str, int]) -> None:
    assert parse_address(address) == expected


@pytest.mark.parametrize("address", ["nohost", ":1", "h:", "h:0", "h:70000", "h:x1", "h:\u0661"])
def test_bad_addresses(address: str) -> None:
    with pytest.raises(ValueError):
        parse_address(address)
    with pytest.raises(ValidationError):
        FeedConfig(producer="p", connect=address)


def test_select_feed() -> None:
    feeds = [
        FeedConfig(producer="a", connect="h:1", batch_lines=7),
        FeedConfig(producer="b", listen="0.0.0.0:2"),
    ]
    assert select_feed(feeds, "a") is feeds[0]
    # An override keeps the entry's other settings.
    moved = select_feed(feeds, "a", listen="127.0.0.1:9")
    assert (moved.connect, moved.listen, moved.batch_lines) == (None, "127.0.0.1:9", 7)
    # Stand-alone, without an entry.
    alone = select_feed([], "c", connect="h:3")
    assert (alone.producer, alone.connect) == ("c", "h:3")
    with pytest.raises(ValueError, match="no \\[\\[feeds\\]\\] entry"):
        select_feed(feeds, "c")
    with pytest.raises(ValueError, match="not both"):
        select_feed(feeds, "a", connect="h:1", listen="h:2")
    with pytest.raises(ValueError):
        select_feed([], "bad/id", connect="h:1")


def test_unique_producers() -> None:
    unique_producers([FeedConfig(producer="a", connect="h:1")])
    with pytest.raises(ValueError, match="'a'"):
        unique_producers([FeedConfig(producer="a", connect="h:1")] * 2)
