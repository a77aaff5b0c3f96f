"""Scheduling on SimPy's public API: one way to run a callback later, and a callback list.

Use a **process** (a generator) for a component with a life of its own that waits in a loop
(a load generator, a periodic prober, a watchdog); use ``call_at`` for a single reaction at a
known time (a reply arriving, a timer firing, the next step of a worker whose timing the model
computes): it costs one event and no generator frame.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import simpy


def _fire(ev: simpy.Event) -> None:
    pair: tuple[Callable[..., Any], tuple[Any, ...]] = ev.value  # type: ignore[assignment]
    pair[0](*pair[1])


def call_after(env: simpy.Environment, delay: float, fn: Callable[..., Any], *args: Any) -> None:
    """Run ``fn(*args)`` ``delay`` seconds from now (one SimPy event)."""
    ev = simpy.Timeout(env, delay, (fn, args))
    callbacks: list[Callable[[simpy.Event], None]] = ev.callbacks
    callbacks.append(_fire)  # a new event: its callbacks are a list, not None


def call_at(env: simpy.Environment, t: float, fn: Callable[..., Any], *args: Any) -> None:
    """Run ``fn(*args)`` at simulated time ``t`` (now if ``t`` has passed)."""
    now = env.now
    ev = simpy.Timeout(env, t - now if t > now else 0.0, (fn, args))  # call_after, inlined
    callbacks: list[Callable[[simpy.Event], None]] = ev.callbacks
    callbacks.append(_fire)


def wait_until(env: simpy.Environment, t: float) -> simpy.events.ProcessGenerator:
    """Yield timeouts that end at exactly ``t`` (``yield from`` it inside a process).

    ``env.timeout(t - env.now)`` lands on ``env.now + (t - env.now)``, which can miss ``t`` by
    an ulp. The difference is exact when ``env.now >= t / 2`` (Sterbenz's lemma), so the wait
    hops through ``t / 2**k`` (exact halvings) until that holds: one hop in practice.
    """
    targets = [t]
    now = env.now
    while now > 0.0 and targets[-1] > 2.0 * now and targets[-1] * 0.5 > now:
        targets.append(targets[-1] * 0.5)
    for x in reversed(targets):
        yield env.timeout(x - env.now)


class Signal:
    """A callback list: parts subscribe when they are built, the owner fires it once or often.

    Used for what several parts must react to without knowing each other (the kernel halting,
    the observation tick).
    """

    __slots__ = ("_subscribers",)

    def __init__(self) -> None:
        self._subscribers: list[Callable[..., None]] = []

    def subscribe(self, fn: Callable[..., None]) -> None:
        self._subscribers.append(fn)

    def fire(self, *args: Any) -> None:
        for fn in self._subscribers:
            fn(*args)
