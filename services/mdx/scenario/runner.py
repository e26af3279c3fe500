"""Runs a scenario against a network: every step in its own thread at its time, every
expectation looked at twice a second until it holds (or, for an absence, until its deadline
passes with the item never seen).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from mdx.scenario import actions, checks
from mdx.scenario.model import AnyExpect, AnyStep, Scenario
from mdx.scenario.network import NetworkError, NodeAccess
from mdx.scenario.template import Template

POLL_S = 0.5
# After the last deadline: how long producers may still wait for their receipts.
FLUSH_S = 10.0


@dataclass
class Result:
    name: str
    passed: bool
    detail: str
    seconds: float  # from the start to when it was decided


@dataclass
class Outcome:
    scenario: str
    results: list[Result] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)


def run(
    scenario: Scenario,
    network: dict[str, NodeAccess],
    on_result: Callable[[Result], None] = lambda _r: None,
) -> Outcome:
    missing = sorted(scenario.nodes - network.keys())
    if missing:
        raise NetworkError(f"the network has no node {', '.join(missing)}")
    outcome = Outcome(scenario.name)

    def decided(result: Result) -> None:
        outcome.results.append(result)
        on_result(result)

    template = Template()
    listened = {where for e in scenario.expect if (where := checks.watched(e)) is not None}
    watches: dict[tuple[str, str, str], checks.TopicWatch] = {}
    try:
        for node, identity, topic in sorted(listened):
            watches[(node, identity, topic)] = checks.TopicWatch(network[node], identity, topic)
    except NetworkError:
        for watch in watches.values():
            watch.close()
        raise
    producers = actions.Producers(network)
    stopping = threading.Event()
    start = time.monotonic()
    threads = [
        threading.Thread(
            target=_step, args=(i, s, producers, template, start, stopping, decided), daemon=True
        )
        for i, s in enumerate(scenario.steps, 1)
    ]
    try:
        for t in threads:
            t.start()
        _watch(scenario.expect, network, template, watches, start, decided)
    finally:
        stopping.set()
        for t in threads:
            t.join(timeout=30)
        for problem in producers.close(FLUSH_S):
            decided(Result("producers' receipts", False, problem, time.monotonic() - start))
        for watch in watches.values():
            watch.close()
    outcome.seconds = time.monotonic() - start
    return outcome


def _step(
    index: int,
    step: AnyStep,
    producers: actions.Producers,
    template: Template,
    start: float,
    stopping: threading.Event,
    decided: Callable[[Result], None],
) -> None:
    name = f"step {index} at {step.at:g} s"
    try:
        done = actions.perform(step, producers, template, start, stopping)
    except InterruptedError:
        decided(Result(name, False, "not done: the run ended first", time.monotonic() - start))
    except Exception as e:  # a step that fails is a finding, reported like an expectation
        decided(Result(name, False, f"{type(e).__name__}: {e}", time.monotonic() - start))
    else:
        decided(Result(name, True, done, time.monotonic() - start))


def _watch(
    expectations: list[AnyExpect],
    network: dict[str, NodeAccess],
    template: Template,
    watches: dict[tuple[str, str, str], checks.TopicWatch],
    start: float,
    decided: Callable[[Result], None],
) -> None:
    pending = list(expectations)
    last: dict[int, str] = {}
    while pending:
        now = time.monotonic() - start
        for e in list(pending):
            try:
                seen, detail = checks.look(e, network[e.node], template, watches)
            except (httpx.HTTPError, NetworkError) as err:
                seen, detail = False, f"{e.node} did not answer: {err}"
            last[id(e)] = detail
            if e.absent and seen:
                decided(Result(e.name, False, f"present at {e.node}: {detail}", now))
            elif e.absent and now >= e.within:
                decided(Result(e.name, True, f"never seen at {e.node} ({detail})", now))
            elif not e.absent and seen:
                decided(Result(e.name, True, detail, now))
            elif not e.absent and now >= e.within:
                decided(Result(e.name, False, f"not within {e.within:g} s: {detail}", now))
            else:
                continue
            pending.remove(e)
        time.sleep(POLL_S)
