"""Stopping a child process the polite way first."""

from __future__ import annotations

import subprocess
from typing import Any

STOP_TIMEOUT_S = 15.0


def stop(proc: subprocess.Popen[Any] | None, timeout: float = STOP_TIMEOUT_S) -> None:
    """SIGTERM a running `proc`, wait up to `timeout` s for it to finish, then SIGKILL it."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
