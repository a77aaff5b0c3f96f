"""What a run records: counters, the optional event trace, and the ``RunResult``.

Components increment plain attributes of one ``Counters`` object (cheap in the hot path) and,
when tracing is on, append to a bounded ``Trace``. ``RunResult`` is the frozen, flat summary of a
run in lifelines vocabulary (``duration_s``, ``event_observed``) plus every counter.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from dataclasses import dataclass
from typing import Any


class Counters:
    """Every counter a run reports; names are the ``RunResult`` field names."""

    __slots__ = (
        "alloc_failures",
        "buffers_swallowed",
        "crash_reason",
        "d1_late_strip",
        "d2_stale_reads",
        "frames_delivered",
        "frames_dropped",
        "frames_dropped_guest",
        "frames_dropped_tap",
        "frames_offered",
        "frames_swallowed",
        "interrupts",
        "max_swallow_chain",
        "misframed_buffers",
        "multi_buffer_frames",
        "orphaned_heads",
        "swallows",
        "ticket_spins",
        "watchdog_resets",
    )

    def __init__(self) -> None:
        for name in self.__slots__:
            setattr(self, name, 0)
        self.crash_reason = ""


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


@dataclass(frozen=True, slots=True)
class RunResult:
    """One run's outcome. Time to outage is right-censored at the horizon."""

    scenario: str
    design: str
    smp: int
    seed: int
    horizon_s: float
    duration_s: float
    event_observed: bool
    recovered: bool
    blackout_s: float
    cause: str
    crash_reason: str
    mechanism_onset_s: float
    swallow_v: int
    frames_offered: int
    frames_delivered: int
    frames_dropped: int
    frames_dropped_tap: int
    frames_dropped_guest: int
    frames_swallowed: int
    frames_in_flight: int
    multi_buffer_frames: int
    buffers_allocated: int
    buffers_in_ring: int
    buffers_in_flight: int
    buffers_free: int
    buffers_leaked: int
    buffers_swallowed: int
    misframed_buffers: int
    d2_stale_reads: int
    d1_late_strip: int
    orphaned_heads: int
    ticket_spins: int
    interrupts: int
    runloop_passes: int
    swallows: int
    max_swallow_chain: int
    alloc_failures: int
    watchdog_resets: int
    http_requests_sent: int
    http_responses: int
    http_timeouts: int
    pings_sent: int
    pings_answered: int
    sim_time_s: float
    wall_time_s: float
    trace: tuple[tuple[float, int, str, str], ...] = ()

    def to_dict(self, *, with_trace: bool = False) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        if not with_trace:
            d.pop("trace")
        else:
            d["trace"] = [list(e) for e in self.trace]
        return d

    def summary(self) -> str:
        if self.event_observed:
            head = f"RX outage after {self.duration_s:.1f} s (cause: {self.cause}); " + (
                f"recovered after {self.blackout_s:.1f} s of blackout"
                if self.recovered
                else f"not recovered ({self.blackout_s:.1f} s of blackout observed)"
            )
        else:
            head = f"no outage within {self.horizon_s:g} s (censored)"
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


RESULT_FIELDS: tuple[str, ...] = tuple(
    f.name for f in dataclasses.fields(RunResult) if f.name != "trace"
)
