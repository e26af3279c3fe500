"""The `mdx record` and `mdx replay` commands (registered in mdx.cli.main)."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from mdx.cli.options import ConfigOption, settings_of

console = Console(stderr=True)
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
PROGRESS_EVERY_S = 0.1  # between updates of the replay's progress bar


def record(
    out: Annotated[
        Path,
        typer.Option("--out", "-o", dir_okay=False, help="The recording to write (must be new)."),
    ],
    config: ConfigOption = None,
    duration: Annotated[
        float, typer.Option(help="Seconds to record; 0 = until Ctrl-C or SIGTERM.")
    ] = 0.0,
    topic: Annotated[
        list[str] | None,
        typer.Option(
            help="Topic filter to record (repeatable); default: the producers' inbound topics "
            "and the partners' streams to this node."
        ),
    ] = None,
) -> None:
    """Record what the node's broker receives (byte for byte, with arrival times) to a file."""
    from mdx.record.recorder import Recorder, RecorderError

    if out.exists():
        raise typer.BadParameter(
            f"{out} exists: a recording is never overwritten", param_hint="--out"
        )
    recorder = Recorder(settings_of(config), out, topic or None)
    try:
        recorder.start()
    except RecorderError as e:
        console.print(f"not recording: {e}", markup=False, soft_wrap=True, style="red")
        raise typer.Exit(1) from None
    console.print(f"recording {', '.join(recorder.filters)} to {out}", markup=False, soft_wrap=True)
    signals: list[int] = []  # a handler only notes the signal: the loop below acts on it
    previous = {s: signal.signal(s, lambda n, _f: signals.append(n)) for s in STOP_SIGNALS}
    started = time.monotonic()
    flushed = started
    try:
        while not signals and not (duration and time.monotonic() - started >= duration):
            time.sleep(0.1)
            if time.monotonic() - flushed >= 1.0:
                recorder.flush()  # what a kill -9 would lose: at most the last second
                flushed = time.monotonic()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    count = recorder.stop()
    elapsed = time.monotonic() - started
    console.print(
        f"recorded {count} messages in {elapsed:.1f} s to {out}", markup=False, soft_wrap=True
    )


def replay(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="A recording (`mdx record`).")
    ],
    config: ConfigOption = None,
    speed: Annotated[
        float, typer.Option(min=0.001, help="Times the recorded pace (2 = twice as fast).")
    ] = 1.0,
    as_fast_as_possible: Annotated[
        bool,
        typer.Option(
            "--as-fast-as-possible", help="Ignore the recorded times: as fast as the broker acks."
        ),
    ] = False,
    only_inbound: Annotated[
        bool,
        typer.Option(
            "--only-inbound/--all-topics",
            help="Replay only producers' inbound topics (partners' share messages are signed "
            "for one recipient, once, and refused as replays).",
        ),
    ] = True,
    identity: Annotated[
        str, typer.Option(help="The MQTT identity to publish as (`replay`: inbound topics only).")
    ] = "replay",
) -> None:
    """Publish a recording's messages to the node's broker again, at the recorded pace times
    --speed (or as fast as possible), at QoS 1, waiting for every PUBACK."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from mdx.core import mqtt
    from mdx.record.recording import RecordingError, read_recording
    from mdx.record.replayer import Replayer, ReplayError, select

    settings = settings_of(config)
    try:
        recording = read_recording(file)
    except RecordingError as e:
        console.print(f"not replayed: {e}", markup=False, soft_wrap=True, style="red")
        raise typer.Exit(1) from None
    if recording.header.node != settings.node.id:
        console.print(
            f"warning: recorded at node {recording.header.node!r}; node {settings.node.id!r} "
            "dead-letters envelopes whose source names another node",
            markup=False,
            soft_wrap=True,
            style="yellow",
        )
    chosen = select(recording.messages, only_inbound)
    pace = None if as_fast_as_possible else speed
    columns: list[Any] = ["{task.description}", BarColumn(), MofNCompleteColumn()]
    try:
        with (
            Replayer(settings, mqtt.credentials(settings, identity)) as replayer,
            Progress(*columns, TimeElapsedColumn(), console=console) as progress,
        ):
            task = progress.add_task("replaying", total=len(chosen))

            shown = [0.0]

            def sent(n: int) -> None:  # a redraw per message would cost more than the send
                now = time.monotonic()
                if now - shown[0] >= PROGRESS_EVERY_S or n == len(chosen):
                    progress.update(task, completed=n)
                    shown[0] = now

            report = replayer.replay(chosen, pace, sent)
    except (ReplayError, mqtt.CredentialsError) as e:
        console.print(f"replay failed: {e}", markup=False, soft_wrap=True, style="red")
        raise typer.Exit(1) from None
    how = (
        "as fast as possible"
        if pace is None
        else f"schedule {report.schedule_s:.2f} s, latest {report.max_late_s:.3f} s late"
    )
    console.print(
        f"replayed {report.sent} messages in {report.elapsed_s:.2f} s ({how}); "
        f"{len(recording.messages) - len(chosen)} skipped "
        f"(not inbound topics); {report.refused} refused by the broker",
        markup=False,
        soft_wrap=True,
    )
    for refusal in report.refusals:
        console.print(f"refused: {refusal}", markup=False, soft_wrap=True, style="red")
    raise typer.Exit(1 if report.refused else 0)
