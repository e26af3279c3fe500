"""One feed's AIS text -> decoded reports and errors: nmea -> assembler -> decode, in order.

A convenience for ingest: MQTT messages and TCP reads carry one or more lines; keep one
`AisFeed` per feed so that multi-sentence messages reassemble within that feed.
"""

from __future__ import annotations

from datetime import datetime

from mdx.ais.assembler import Assembler
from mdx.ais.decode import Decoded, decode
from mdx.ais.nmea import LineError, parse_line


class AisFeed:
    def __init__(self, max_age_s: float = 10.0, max_pending: int = 10_000) -> None:
        self.assembler = Assembler(max_age_s=max_age_s, max_pending=max_pending)

    def feed(self, text: str | bytes, received_at: datetime) -> list[Decoded]:
        """Decode every line of `text` (received at `received_at`). Never raises."""
        if isinstance(text, bytes):
            text = text.decode("utf-8", errors="replace")
        out: list[Decoded] = []
        # split on \r and \n only: str.splitlines would also split inside garbage at \x0b etc.
        for line in text.replace("\r", "\n").split("\n"):
            parsed = parse_line(line)
            if parsed is None:
                continue
            if isinstance(parsed, LineError):
                out.append(parsed)
                continue
            for item in self.assembler.push(parsed, received_at):
                out.append(item if isinstance(item, LineError) else decode(item))
        return out

    def expire(self, now: datetime) -> list[LineError]:
        """Report multi-sentence messages that stayed incomplete; call it now and then."""
        return self.assembler.expire(now)
