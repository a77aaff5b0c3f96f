"""Outage detector: an observer that records RX blackouts without changing the dynamics.

It looks once per ping interval, at what an operator could see plus what only the model knows:

* **Onset**: no inbound frame delivered to the stack for longer than ``silence_s`` while frames
  keep arriving, and the last ping unanswered. The onset time is the last delivery before the
  silence, so ``duration_s`` does not include the detection delay.
* **End**: the first delivery after the silence (the driver records delivery gaps longer than the
  threshold as they happen).
* **Cause**: what the model knows at detection: ``swallow`` (a bogus reassembly chain is
  active), ``crash`` (kernel halted), ``deadlock`` (ticket spin timeout), ``ring_dry`` (no
  buffer posted), or ``unknown``.

States and transitions are declared below and every transition goes through ``_enter``.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import simpy

    from vnetsim.clock import Signal
    from vnetsim.drivers import RxDriver
    from vnetsim.records import Counters
    from vnetsim.virtio.rxring import RxRing


class State(enum.Enum):
    HEALTHY = "healthy"
    BLACKOUT = "blackout"
    RECOVERED = "recovered"


TRANSITIONS: dict[State, frozenset[State]] = {
    State.HEALTHY: frozenset({State.BLACKOUT}),
    State.BLACKOUT: frozenset({State.RECOVERED}),
    State.RECOVERED: frozenset(),
}


class OutageDetector:
    """Watches deliveries and pings; succeeds ``done`` when the run can stop."""

    def __init__(
        self,
        env: simpy.Environment,
        *,
        silence_s: float,
        horizon_s: float,
        recovery_horizon_s: float,
        ping_interval_s: float,
        driver: RxDriver,
        ring: RxRing,
        counters: Counters,
        ticks: Signal,
        on_blackout: Callable[[float], None] | None = None,
    ) -> None:
        """The driver must record delivery gaps longer than ``silence_s``
        (``DriverParts.gap_threshold_s``); ``ticks`` is the observation tick."""
        self.env = env
        self.silence = silence_s
        self.horizon = horizon_s
        self.recovery_horizon = recovery_horizon_s
        self.settle = horizon_s + silence_s + 2 * ping_interval_s
        self.driver = driver
        self.ring = ring
        self.c = counters
        self.state = State.HEALTHY
        self.onset: float | None = None
        self.end: float | None = None
        self.cause = ""
        self.done = env.event()
        self.on_blackout = on_blackout  # e.g. to snapshot the trace
        self._offered_at_tick = 0
        ticks.subscribe(self.tick)

    def _enter(self, state: State) -> None:
        if state not in TRANSITIONS[self.state]:
            raise RuntimeError(f"detector: illegal transition {self.state} -> {state}")
        self.state = state

    def tick(self, now: float, ping_ok: bool) -> None:
        offered = self.c.frames_offered
        arriving = offered > self._offered_at_tick
        self._offered_at_tick = offered
        if self.state is State.HEALTHY:
            last = self.driver.last_delivery
            if now - last > self.silence and arriving and not ping_ok:
                if last > self.horizon:
                    self._stop()
                    return
                self.onset = last
                self.cause = self._cause()
                self._enter(State.BLACKOUT)
                if self.on_blackout is not None:
                    self.on_blackout(now)
            elif now >= self.settle:
                self._stop()
        if self.state is State.BLACKOUT:
            assert self.onset is not None
            for start, end in self.driver.gaps:
                if start >= self.onset - 1e-12:
                    self.end = end
                    self._enter(State.RECOVERED)
                    self._stop()
                    return
            if now >= self.onset + self.recovery_horizon:
                self._stop()

    def _cause(self) -> str:
        d = self.driver
        if d.halted:
            return "deadlock" if "deadlock" in self.c.crash_reason else "crash"
        if d.swallowing:
            return "swallow"
        if self.ring.vq.avail_pending() == 0 and self.ring.pending_count() == 0:
            return "ring_dry"
        return "unknown"

    def _stop(self) -> None:
        if not self.done.triggered:
            self.done.succeed()

    def stop(self) -> None:
        """End the run now (the split estimator, when nothing more can be learnt)."""
        self._stop()
