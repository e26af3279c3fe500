"""Running a long-lived service in the foreground until SIGTERM or SIGINT asks it to stop."""

from __future__ import annotations

import signal
from types import FrameType
from typing import Protocol


class Service(Protocol):
    def run(self) -> None: ...
    def stop(self) -> None: ...


def run_until_signalled(service: Service) -> None:
    def _stop(_sig: int, _frame: FrameType | None) -> None:
        service.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    service.run()
