"""Token buckets per caller: how many writes (or failed logins) each may make, and when again.

In the memory of one api process: a node that runs several api processes behind a balancer
allows each caller that many times the rate. `mdx node run` runs one.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float  # when `tokens` was last brought up to date


# Beyond this many buckets, full ones are dropped (a full bucket is the same as none): failed
# logins are keyed by the name tried, which anyone can vary.
MAX_BUCKETS = 10_000


class RateLimiter:
    """`burst` tokens per key, refilled at `per_second`; each allowed request takes one."""

    def __init__(self, burst: int, per_second: float) -> None:
        self.burst = burst
        self.per_second = per_second
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()  # sync endpoints run in a thread pool

    def take(self, key: str, now: float) -> float:
        """Take a token for `key`: 0 if there was one, else the seconds until there is."""
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                if len(self._buckets) >= MAX_BUCKETS:
                    self._drop_full(now)
                bucket = self._buckets[key] = _Bucket(float(self.burst), now)
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.at) * self.per_second)
            bucket.at = now
            if bucket.tokens >= 1:
                bucket.tokens -= 1
                return 0.0
            return (1 - bucket.tokens) / self.per_second

    def _drop_full(self, now: float) -> None:
        full = [
            k
            for k, b in self._buckets.items()
            if b.tokens + (now - b.at) * self.per_second >= self.burst
        ]
        for k in full:
            del self._buckets[k]

    def give_back(self, key: str) -> None:
        """Return the token a request took (a login that succeeded: only failures count)."""
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is not None:
                bucket.tokens = min(self.burst, bucket.tokens + 1)


def retry_after(seconds: float) -> str:
    """The Retry-After header value: whole seconds, rounded up, at least 1."""
    return str(max(1, math.ceil(seconds)))
