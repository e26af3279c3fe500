"""ReceiptTracker: the cumulative per-producer watermark behind end-to-end receipts."""

from __future__ import annotations

import copy
import random

import pytest

from mdx.core.receipts import ReceiptTracker


def seqs(producer: str, *numbers: int) -> list[tuple[str, int]]:
    return [(producer, n) for n in numbers]


def test_a_new_tracker_is_empty() -> None:
    tracker = ReceiptTracker()
    assert (tracker.watermark, tracker.pending) == ({}, {})
    assert tracker.apply([]) == {}
    assert (tracker.watermark, tracker.pending) == ({}, {})


def test_in_order_batches_move_the_watermark_each_time() -> None:
    tracker = ReceiptTracker()
    assert tracker.apply(seqs("ais", 1, 2, 3)) == {"ais": 3}
    assert tracker.apply(seqs("ais", 4)) == {"ais": 4}
    assert tracker.apply(seqs("ais", 5, 6)) == {"ais": 6}
    assert tracker.watermark == {"ais": 6}
    assert tracker.pending.get("ais", set()) == set()


def test_order_inside_a_batch_does_not_matter() -> None:
    tracker = ReceiptTracker()
    assert tracker.apply(seqs("ais", 3, 1, 2)) == {"ais": 3}


def test_a_gap_holds_the_watermark_until_it_fills() -> None:
    tracker = ReceiptTracker()
    assert tracker.apply(seqs("ais", 1, 2, 4, 5)) == {"ais": 2}
    assert tracker.watermark == {"ais": 2}
    assert tracker.pending["ais"] == {4, 5}
    assert tracker.apply(seqs("ais", 7)) == {}
    assert tracker.watermark == {"ais": 2}
    assert tracker.pending["ais"] == {4, 5, 7}
    assert tracker.apply(seqs("ais", 3)) == {"ais": 5}  # 3 fills the gap; 6 is still missing
    assert tracker.pending["ais"] == {7}
    assert tracker.apply(seqs("ais", 6)) == {"ais": 7}
    assert tracker.watermark == {"ais": 7}
    assert tracker.pending["ais"] == set()


def test_nothing_moves_while_seq_one_is_missing() -> None:
    tracker = ReceiptTracker()
    assert tracker.apply(seqs("ais", 2, 3, 4)) == {}
    assert tracker.watermark == {}
    assert tracker.pending == {"ais": {2, 3, 4}}
    assert tracker.apply(seqs("ais", 1)) == {"ais": 4}
    assert tracker.pending == {"ais": set()}


def test_duplicates_count_once() -> None:
    tracker = ReceiptTracker()
    assert tracker.apply(seqs("ais", 1, 1, 3, 3, 3)) == {"ais": 1}
    assert tracker.pending["ais"] == {3}
    assert tracker.apply(seqs("ais", 3, 3)) == {}
    assert tracker.pending["ais"] == {3}
    assert tracker.apply(seqs("ais", 2, 2)) == {"ais": 3}


@pytest.mark.parametrize("old", [[1], [5], [0], [-4], [1, 2, 3, 4, 5]])
def test_seqs_at_or_below_the_watermark_are_ignored(old: list[int]) -> None:
    tracker = ReceiptTracker(watermark={"ais": 5})
    assert tracker.apply(seqs("ais", *old)) == {}
    assert tracker.watermark == {"ais": 5}
    assert tracker.pending.get("ais", set()) == set()


def test_a_redelivered_old_seq_does_not_hide_a_new_one() -> None:
    tracker = ReceiptTracker(watermark={"ais": 5})
    assert tracker.apply(seqs("ais", 3, 6, 8)) == {"ais": 6}
    assert tracker.pending["ais"] == {8}


def test_producers_are_independent() -> None:
    tracker = ReceiptTracker()
    moved = tracker.apply(seqs("ais", 1, 2) + seqs("radar", 2) + seqs("vms", 1))
    assert moved == {"ais": 2, "vms": 1}
    assert tracker.watermark == {"ais": 2, "vms": 1}
    assert tracker.pending["radar"] == {2}
    # radar's gap fills; ais gets a gap of its own; vms moves on.
    moved = tracker.apply(seqs("radar", 1) + seqs("ais", 4) + seqs("vms", 2, 3))
    assert moved == {"radar": 2, "vms": 3}
    assert tracker.watermark == {"ais": 2, "radar": 2, "vms": 3}
    assert tracker.pending["ais"] == {4}


def test_the_same_seq_from_two_producers_is_two_seqs() -> None:
    tracker = ReceiptTracker(watermark={"ais": 1})
    assert tracker.apply([("ais", 2), ("radar", 2)]) == {"ais": 2}
    assert tracker.pending["radar"] == {2}


def test_a_loaded_watermark_is_the_starting_point() -> None:
    """After a restart ingest loads the watermarks from the database, with nothing pending."""
    tracker = ReceiptTracker(watermark={"ais": 100})
    assert tracker.apply(seqs("ais", 102)) == {}
    assert tracker.apply(seqs("ais", 101)) == {"ais": 102}


def test_preview_does_not_mutate() -> None:
    tracker = ReceiptTracker()
    tracker.apply(seqs("ais", 1, 3) + seqs("radar", 2))
    before = copy.deepcopy((tracker.watermark, tracker.pending))
    batch = seqs("ais", 2, 4, 6) + seqs("radar", 1) + seqs("vms", 1)
    assert tracker.preview(batch) == {"ais": 4, "radar": 2, "vms": 1}
    assert tracker.preview(batch) == {"ais": 4, "radar": 2, "vms": 1}  # twice, same answer
    assert (tracker.watermark, tracker.pending) == before
    assert tracker.apply(batch) == {"ais": 4, "radar": 2, "vms": 1}
    assert tracker.watermark == {"ais": 4, "radar": 2, "vms": 1}
    assert tracker.pending["ais"] == {6}


def test_preview_reports_only_moved_watermarks() -> None:
    tracker = ReceiptTracker(watermark={"ais": 3})
    assert tracker.preview(seqs("ais", 2, 3)) == {}
    assert tracker.preview(seqs("ais", 5)) == {}
    assert tracker.preview(seqs("ais", 4)) == {"ais": 4}
    assert tracker.preview(seqs("new", 2)) == {}


def test_preview_accepts_a_one_shot_iterator() -> None:
    tracker = ReceiptTracker()
    assert tracker.preview(iter(seqs("ais", 1, 2))) == {"ais": 2}
    assert tracker.apply(iter(seqs("ais", 1, 2))) == {"ais": 2}
    assert tracker.watermark == {"ais": 2}


def test_apply_returns_only_moved_watermarks() -> None:
    tracker = ReceiptTracker()
    tracker.apply(seqs("ais", 1) + seqs("radar", 1))
    moved = tracker.apply(seqs("ais", 1, 3) + seqs("radar", 2) + seqs("vms", 5))
    assert moved == {"radar": 2}
    assert tracker.watermark == {"ais": 1, "radar": 2}
    assert tracker.pending["ais"] == {3} and tracker.pending["vms"] == {5}


def _prefix(delivered: set[int]) -> int:
    """Length of the longest run 1, 2, ..., k inside `delivered` (written independently)."""
    k = 0
    for n in sorted(delivered):
        if n != k + 1:
            break
        k = n
    return k


@pytest.mark.parametrize("seed", range(50))
def test_random_delivery_ends_at_n_with_nothing_pending(seed: int) -> None:
    rng = random.Random(seed)
    n = rng.randint(1, 300)
    order = list(range(1, n + 1))
    rng.shuffle(order)
    # Each seq once, plus redeliveries of random ones (at least once means duplicates).
    deliveries = order + [rng.randint(1, n) for _ in range(rng.randint(1, n))]
    rng.shuffle(deliveries)
    assert set(deliveries) == set(range(1, n + 1)) and len(deliveries) > n
    tracker = ReceiptTracker()
    delivered: set[int] = set()
    receipted = 0
    i = 0
    while i < len(deliveries):
        size = rng.randint(1, 20)
        batch = deliveries[i : i + size]
        i += size
        producer_batch = [("p", s) for s in batch]
        preview = tracker.preview(producer_batch)
        moved = tracker.apply(producer_batch)
        delivered |= set(batch)
        expected = _prefix(delivered)
        assert preview == moved
        assert tracker.watermark.get("p", 0) == expected
        assert moved.get("p") == (expected if expected > receipted else None)
        assert tracker.pending.get("p", set()) == {s for s in delivered if s > expected}
        receipted = expected
    assert tracker.watermark["p"] == n
    assert tracker.pending["p"] == set()
