"""What a run records: counters, the optional event trace, and the ``RunResult``.

Components increment plain attributes of one ``Counters`` object (cheap in the hot path) and,
when tracing is on, append to a bounded ``Trace``. ``RunResult`` is the flat summary of a run in
lifelines vocabulary (``duration_s``, ``event_observed``): every counter plus its own fields.
"""

from __future__ import annotations

import dataclasses
import math
from collections import deque
from dataclasses import dataclass
from typing import Any

from mypy_extensions import mypyc_attr


# mypyc: RunResult stays a plain Python class, and so its base Counters. A result is a record
# of Python objects: compiled, a float field would box a new object at every read, so a NaN
# field would not compare equal to itself in ``to_dict`` (the same-seed test compares those).
@mypyc_attr(native_class=False)
@dataclass(slots=True)
class Counters:
    """Every counter a run reports. Each field is also a ``RunResult`` field, so adding a
    counter here (and incrementing it somewhere) is the whole change."""

    # frames, as the host offers them and as they end
    frames_offered: int = 0
    frames_delivered: int = 0
    frames_dropped: int = 0  # = frames_dropped_tap + frames_dropped_guest
    frames_dropped_tap: int = 0
    frames_dropped_guest: int = 0
    frames_swallowed: int = 0  # first buffers eaten by a bogus reassembly chain
    multi_buffer_frames: int = 0
    # the race and its consequences
    buffers_swallowed: int = 0
    misframed_buffers: int = 0  # continuations read as a virtio-net header
    d2_stale_reads: int = 0
    d1_late_strip: int = 0
    d1_strip_delayed: int = 0  # multi-buffer heads whose late strip a preemption or exit held
    orphaned_heads: int = 0
    ticket_spins: int = 0
    swallows: int = 0
    max_swallow_chain: int = 0
    alloc_failures: int = 0
    watchdog_resets: int = 0
    crash_reason: str = ""
    interrupts: int = 0
    # host peers
    http_requests_sent: int = 0
    http_responses: int = 0
    http_timeouts: int = 0  # timed out, reset with their connection, or refused while it is down
    pings_sent: int = 0
    pings_answered: int = 0


class Trace:
    """The last ``limit`` events of a run: (time_s, vcpu, event, detail)."""

    def __init__(self, limit: int) -> None:
        self.enabled = limit > 0
        self.events: deque[tuple[float, int, str, str]] = deque(maxlen=max(limit, 1))
        self.snapshot: list[tuple[float, int, str, str]] = []
        self.prefix: list[tuple[float, int, str, str]] = []  # frozen when a swallow starts
        self.count = 0  # events ever added
        self._frozen_at = 0

    def add(self, t: float, cpu: int, event: str, detail: str = "") -> None:
        self.events.append((t, cpu, event, detail))
        self.count += 1

    def take_snapshot(self, _now: float) -> None:
        """Keep the events so far (called when the detector sees a blackout)."""
        self.snapshot = self.freeze_before(float("inf"))

    def freeze_before(self, t: float) -> list[tuple[float, int, str, str]]:
        return [e for e in self.events if e[0] <= t]

    def freeze_prefix(self) -> None:
        """Keep the events that led to the mechanism's onset, whatever follows."""
        if not self.prefix:
            self.prefix = list(self.events)
            self._frozen_at = self.count

    def around_onset(self) -> list[tuple[float, int, str, str]]:
        """The frozen prefix plus a quarter of the limit of events after it."""
        if not self.prefix:
            return list(self.events)
        first_later = self._frozen_at - (self.count - len(self.events))
        later = list(self.events)[max(first_later, 0) :]
        return self.prefix + later[: max(1, (self.events.maxlen or 4) // 4)]


@mypyc_attr(native_class=False)
@dataclass(slots=True, kw_only=True)
class RunResult(Counters):
    """One run's outcome: who ran, what happened, every counter, and a few derived fields.

    Time to outage (``duration_s``) is right-censored at the horizon (``event_observed``
    false). The counters come from ``Counters``; the fields below are the run's identity, its
    outcome as the detector saw it, and the state left at the end (``vnetsim.scenario.run``
    derives them). Treat it as a record: nothing in vnetsim changes a result once built.
    """

    scenario: str
    design: str
    smp: int
    seed: int  # the root SeedSequence's entropy
    spawn_key: str = ""  # its spawn key, comma-separated ("" for a plain integer seed)
    horizon_s: float
    duration_s: float
    event_observed: bool
    recovered: bool
    blackout_s: float
    cause: str
    mechanism_onset_s: float
    swallow_v: int
    frames_in_flight: int
    buffers_allocated: int
    buffers_in_ring: int
    buffers_in_flight: int
    buffers_free: int
    buffers_leaked: int
    runloop_passes: int
    sim_time_s: float
    wall_time_s: float
    trace: tuple[tuple[float, int, str, str], ...] = ()
    # The split estimator (``run.estimator = "split"``, vnetsim.scenario.split); defaults for
    # a plain run. ``split_series`` is JSON: [[t_s, p_hat, K], ...] per split batch.
    estimator: str = "plain"
    split_batches: int = 0
    split_replays: int = 0
    split_zero_batches: int = 0
    split_pending: int = 0
    split_unresolved: int = 0
    split_inherited: int = 0
    split_survival: float = float("nan")  # Ŝ at the end of the run (the product)
    split_stopped_s: float = float("nan")  # every replay failed here: Ŝ = 0 after
    split_series: str = ""
    split_failed_batch_s: float = float("nan")  # the failing replay continued after its outage
    split_failed_weight: float = float("nan")
    split_failed_onset_s: float = float("nan")
    split_failed_blackout_s: float = float("nan")
    split_failed_recovered: bool = False
    split_failed_cause: str = ""

    def to_dict(self, *, with_trace: bool = False) -> dict[str, Any]:
        """Flat fields, identity and outcome first (``RESULT_FIELDS`` order)."""
        d = {name: getattr(self, name) for name in RESULT_FIELDS}
        if with_trace:
            d["trace"] = [list(e) for e in self.trace]
        return d

    def _split_summary(self) -> str:
        line = (
            f"split estimator: {self.split_batches} multi-buffer batches x "
            f"{self.split_replays // max(self.split_batches, 1)} replays, "
            f"S({self.horizon_s:g} s) = {self.split_survival:.4g}"
            f" ({self.split_zero_batches} batches with no failing replay; "
            f"{self.split_pending} replays followed, {self.split_unresolved} unresolved, "
            f"{self.split_inherited} batches inherited)"
        )
        if self.split_failed_cause:
            line += (
                f"\nfirst failing replay (weight {self.split_failed_weight:.3g}): outage at "
                f"{_fmt_s(self.split_failed_onset_s)} ({self.split_failed_cause}), "
                + ("recovered" if self.split_failed_recovered else "not recovered")
                + f" after {_fmt_s(self.split_failed_blackout_s)} of blackout"
            )
        return line

    def summary(self) -> str:
        if self.event_observed:
            head = f"RX outage after {self.duration_s:.1f} s (cause: {self.cause}); " + (
                f"recovered after {self.blackout_s:.1f} s of blackout"
                if self.recovered
                else f"not recovered ({self.blackout_s:.1f} s of blackout observed)"
            )
        else:
            head = f"no outage within {self.horizon_s:g} s (censored)"
        if self.estimator == "split":
            if not self.event_observed:
                head = f"own path: no outage within {self.horizon_s:g} s (it goes on as a survivor)"
            head += "\n" + self._split_summary()
        lines = [
            f"{self.scenario}: design {self.design}, {self.smp} vCPU, seed {self.seed}",
            head,
            f"frames offered {self.frames_offered:,}, delivered {self.frames_delivered:,}, "
            f"dropped {self.frames_dropped:,} (tap {self.frames_dropped_tap:,}), "
            f"swallowed {self.frames_swallowed:,}, in flight {self.frames_in_flight:,}",
            f"multi-buffer frames {self.multi_buffer_frames:,}, stale header reads "
            f"{self.d2_stale_reads:,}, misframed buffers {self.misframed_buffers:,}, "
            f"swallows {self.swallows} (V = {self.swallow_v}, longest chain "
            f"{self.max_swallow_chain:,})",
            f"buffers allocated {self.buffers_allocated:,}: in ring {self.buffers_in_ring:,}, "
            f"in flight {self.buffers_in_flight:,}, free {self.buffers_free:,}, "
            f"leaked {self.buffers_leaked:,}",
            f"interrupts {self.interrupts:,}; HTTP sent {self.http_requests_sent:,}, answered "
            f"{self.http_responses:,}, timed out {self.http_timeouts:,}; pings "
            f"{self.pings_answered}/{self.pings_sent}",
            f"simulated {self.sim_time_s:.1f} s in {self.wall_time_s:.1f} s wall",
        ]
        return "\n".join(lines)


def _fmt_s(x: float) -> str:
    return f"{x:.1f} s" if math.isfinite(x) else "none"


COUNTER_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Counters))


def save_counters(c: Counters) -> tuple[Any, ...]:
    """Every counter's value (the split estimator replays a batch from this)."""
    return tuple(getattr(c, name) for name in COUNTER_FIELDS)


def load_counters(c: Counters, state: tuple[Any, ...]) -> None:
    for name, value in zip(COUNTER_FIELDS, state, strict=True):
        setattr(c, name, value)


_OWN_FIELDS = tuple(f.name for f in dataclasses.fields(RunResult) if f.name not in COUNTER_FIELDS)
_DERIVED_FROM = _OWN_FIELDS.index("frames_in_flight")  # identity and outcome come before it
RESULT_FIELDS: tuple[str, ...] = tuple(
    name
    for name in (*_OWN_FIELDS[:_DERIVED_FROM], *COUNTER_FIELDS, *_OWN_FIELDS[_DERIVED_FROM:])
    if name != "trace"
)
