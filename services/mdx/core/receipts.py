"""Cumulative end-to-end receipts per producer.

A producer's receipt is the highest `seq` up to which every envelope it numbered has been
committed or dead-lettered. Envelopes may arrive out of order (republished after a timeout),
so seqs above a gap wait in `pending` until the gap fills.

One ingest process keeps that state here, in memory. Several workers on a shared subscription
each see only part of a producer's sequence, so none could ever close the gaps: they record
their committed seqs in the database instead and move the receipt there, under a lock per
producer (mdx.core.store.advance_receipts), in the transaction that commits the messages.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass
class ReceiptTracker:
    watermark: dict[str, int] = field(default_factory=dict)
    pending: dict[str, set[int]] = field(default_factory=dict)

    def preview(self, seqs: Iterable[tuple[str, int]]) -> dict[str, int]:
        """The watermarks that would result from committing `seqs`: only those that move."""
        moved: dict[str, int] = {}
        grouped: dict[str, set[int]] = {}
        for producer, seq in seqs:
            grouped.setdefault(producer, set()).add(seq)
        for producer, new in grouped.items():
            mark = self.watermark.get(producer, 0)
            waiting = self.pending.get(producer, set()) | new
            while mark + 1 in waiting:
                mark += 1
            if mark > self.watermark.get(producer, 0):
                moved[producer] = mark
        return moved

    def apply(self, seqs: Iterable[tuple[str, int]]) -> dict[str, int]:
        """Record committed `seqs`; returns the watermarks that moved."""
        seqs = list(seqs)
        moved = self.preview(seqs)
        for producer, seq in seqs:
            if seq > self.watermark.get(producer, 0):
                self.pending.setdefault(producer, set()).add(seq)
        for producer, mark in moved.items():
            self.watermark[producer] = mark
            self.pending[producer] = {s for s in self.pending[producer] if s > mark}
        return moved
