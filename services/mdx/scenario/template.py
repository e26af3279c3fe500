"""Placeholders in a scenario's strings, so that one file can run again and again against the
same network without meeting what its last run left there:

    {{id:NAME}}        a UUID, new for each run, the same for NAME throughout the run
    {{mmsi:NAME:MID}}  an MMSI of that Maritime Identification Digit (e.g. 431: Japan), new for
                       each run, the same for NAME throughout the run
    {{now}}            the time the step runs, RFC 3339 UTC; {{now-600}}, {{now+30}}: seconds off

A string that is one placeholder only becomes the value itself (still a string).
"""

from __future__ import annotations

import random
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

_PLACEHOLDER = re.compile(r"\{\{\s*(id|mmsi|now)(?::([\w-]+))?(?::(\d{3}))?([+-]\d+)?\s*\}\}")


@dataclass
class Template:
    rng: random.Random = field(default_factory=random.Random)
    ids: dict[str, str] = field(default_factory=dict)
    mmsis: dict[str, str] = field(default_factory=dict)

    def render(self, value: Any, now: datetime | None = None) -> Any:
        """`value` (str, or lists and mappings of them) with its placeholders filled in."""
        if isinstance(value, str):
            return _PLACEHOLDER.sub(lambda m: self._one(m, now), value)
        if isinstance(value, dict):
            return {k: self.render(v, now) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.render(v, now) for v in value]
        return value

    def _one(self, m: re.Match[str], now: datetime | None) -> str:
        what, name, mid, offset = m.groups()
        if what == "now":
            at = (now or datetime.now(UTC)) + timedelta(seconds=int(offset or 0))
            return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        if not name:
            raise ValueError(f"{m.group()}: {what} needs a name, e.g. {{{{{what}:vessel}}}}")
        if what == "id":
            return self.ids.setdefault(
                name, str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
            )
        if name in self.mmsis:
            return self.mmsis[name]
        if mid is None:
            raise ValueError(f"{m.group()}: an MMSI needs its MID, e.g. {{{{mmsi:{name}:431}}}}")
        return self.mmsis.setdefault(name, f"{mid}{self.rng.randrange(10**6):06d}")
