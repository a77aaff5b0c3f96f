"""vCPUs: host-side preemption and the Nanos runloop passes that pick up RX completions.

Models
    * **Host preemption** of each vCPU thread: two independent Poisson streams of episodes, VM
      exits (microseconds) and host scheduler preemptions (milliseconds), each with exponential
      length. Any step of guest work is stretched by the episodes that start inside it
      (``Preemption.stretch``), so an episode can strike between any two modelled steps,
      including between the two stores of a ticket release.
    * **Runloop passes.** A vCPU that is not draining the completion queue runs application code
      and passes through its runloop at syscalls, timers and IPIs. Passes form a Poisson process
      per vCPU with rate ``runloop_passes_per_s + syscalls_per_request * app_rate / smp``, where
      ``app_rate`` is the server's request rate over the last observation tick, so the
      concurrency that makes the race possible grows with load and vCPU count.

Abstractions
    The vCPUs that are out of their runloop form a *pool* whose superposed passes are drawn lazily
    (a minimum of independent exponentials is exponential with the summed rate, and its owner is
    uniform among equal rates), so the cost per completion does not grow with the vCPU count.
    A pass that falls inside a preemption episode is deferred to the episode's end.

Leaves out
    Guest scheduler detail (threads, Go's runtime), halt/wake latency of idle vCPUs, and
    correlation of preemption across vCPUs.
"""

from __future__ import annotations

import heapq
from typing import TYPE_CHECKING, Any, Protocol

from vnetsim.rng import Draws

if TYPE_CHECKING:
    import numpy as np

    from vnetsim.clock import Signal
    from vnetsim.config import GuestConfig, HostConfig
    from vnetsim.rng import SavedVariates


class ServedRequests(Protocol):
    """The guest application's count of requests served (``vnetsim.guest.server``)."""

    @property
    def requests_served(self) -> int: ...


class VCpuStreams(Protocol):
    """The random streams ``VCpuSet`` draws from (``vnetsim.rng.Streams``)."""

    def __getitem__(self, name: str) -> np.random.Generator: ...

    def per_vcpu(self, name: str, index: int) -> np.random.Generator: ...


class Timeline(Protocol):
    """A vCPU's host preemption as the guest-side parts use it (``Preemption``).

    A contract rather than the class, like ``Variates``, so a test can give a vCPU a timeline
    without episodes (the compiled build checks a concrete class annotation at run time).
    """

    next: float  # start of the next episode

    def stretch(self, start: float, work: float) -> float: ...

    def save_state(self) -> tuple[object, ...]: ...

    def load_state(self, state: tuple[object, ...]) -> None: ...


class Preemption:
    """Pulled episodes of host preemption for one vCPU."""

    __slots__ = (
        "_draws",
        "_exit_len",
        "_exit_mean_gap",
        "_next_exit",
        "_next_sched",
        "_sched_len",
        "_sched_mean_gap",
        "episodes",
        "next",
        "stolen_s",
    )

    def __init__(self, host: HostConfig, draws: SavedVariates) -> None:
        self._draws = draws
        inf = float("inf")
        self._exit_mean_gap = 1.0 / host.vmexit_rate_per_s if host.vmexit_rate_per_s else inf
        self._sched_mean_gap = 1.0 / host.preempt_rate_per_s if host.preempt_rate_per_s else inf
        self._exit_len = host.vmexit_mean_us * 1e-6
        self._sched_len = host.preempt_mean_ms * 1e-3
        self._next_exit = draws.exp() * self._exit_mean_gap
        self._next_sched = draws.exp() * self._sched_mean_gap
        # Start of the next episode: work ending at or before it needs no call to ``stretch``.
        self.next = min(self._next_exit, self._next_sched)
        self.episodes = 0
        self.stolen_s = 0.0

    def save_state(self) -> tuple[object, ...]:
        return (
            self._next_exit,
            self._next_sched,
            self.next,
            self.episodes,
            self.stolen_s,
            self._draws.save_state(),
        )

    def load_state(self, state: tuple[object, ...]) -> None:
        s: tuple[Any, ...] = state
        self._next_exit, self._next_sched, self.next, self.episodes, self.stolen_s = s[:5]
        self._draws.load_state(s[5])

    def stretch(self, start: float, work: float) -> float:
        """End time of ``work`` seconds of guest execution begun at ``start``."""
        end = start + work
        while True:
            if self._next_exit <= self._next_sched:
                s = self._next_exit
                if s >= end:
                    self.next = s
                    return end
                length = self._draws.exp() * self._exit_len
                self._next_exit = s + self._draws.exp() * self._exit_mean_gap
            else:
                s = self._next_sched
                if s >= end:
                    self.next = s
                    return end
                length = self._draws.exp() * self._sched_len
                self._next_sched = s + self._draws.exp() * self._sched_mean_gap
            stop = s + length
            if stop <= start:
                continue  # the episode ended before this work began
            delay = stop - start if s < start else length
            end += delay
            self.episodes += 1
            self.stolen_s += delay


class VCpu:
    """One vCPU: its index and its preemption timeline."""

    __slots__ = ("index", "preempt")

    def __init__(self, index: int, preempt: Timeline) -> None:
        self.index = index
        self.preempt = preempt


class VCpuSet:
    """The vCPUs and who is next to look at the completion queue.

    vCPUs in their runloop sit in a heap keyed by the time they next look at the queue; the others
    form the pool of pending runloop passes (see module docstring).
    """

    def __init__(
        self,
        guest: GuestConfig,
        host: HostConfig,
        streams: VCpuStreams,
        *,
        load: ServedRequests | None = None,
        ticks: Signal | None = None,
        tick_interval_s: float = 1.0,
        initial_rate: float = 0.0,
    ) -> None:
        """``load`` is sampled at every observation tick of ``ticks`` (one per ping interval);
        until the first, the server is taken to run at ``initial_rate`` requests/s."""
        self.cpus = [
            VCpu(i, Preemption(host, Draws(streams.per_vcpu("host.preempt", i))))
            for i in range(guest.smp)
        ]
        self._pass_draws = Draws(streams["guest.runloop"])
        self._bg_rate = guest.runloop_passes_per_s
        self._per_request = guest.syscalls_per_request / guest.smp
        self.app_rate = initial_rate  # HTTP requests/s served over the last tick
        self._load = load
        self._served_at_tick = 0
        self._tick_interval = tick_interval_s
        if load is not None and ticks is not None:
            ticks.subscribe(self._sample_load)
        self.heap: list[tuple[float, int]] = []  # (time it looks at the queue, cpu index)
        self.pool: list[int] = list(range(guest.smp))
        self._pool_next = -1.0  # next pass among the pool, valid if >= _pool_ref
        self._pool_who = -1
        self._pool_ref = 0.0  # no pool pass happened in [*, _pool_ref)
        self.passes = 0

    def save_state(self) -> tuple[object, ...]:
        """Who looks at the queue when, and every vCPU's preemption timeline (not the pick-up
        draws: the split estimator replaces those per replay)."""
        return (
            list(self.heap),
            list(self.pool),
            self._pool_next,
            self._pool_who,
            self._pool_ref,
            self.passes,
            [cpu.preempt.save_state() for cpu in self.cpus],
        )

    def load_state(self, state: tuple[object, ...]) -> None:
        s: tuple[Any, ...] = state
        heap, pool, self._pool_next, self._pool_who, self._pool_ref, self.passes, pre = s
        self.heap, self.pool = list(heap), list(pool)
        for cpu, p in zip(self.cpus, pre, strict=True):
            cpu.preempt.load_state(p)

    def _sample_load(self, _now: float, _ping_ok: bool) -> None:
        assert self._load is not None
        served = self._load.requests_served
        self.app_rate = (served - self._served_at_tick) / self._tick_interval
        self._served_at_tick = served

    def _rate(self) -> float:
        return self._bg_rate + self._per_request * self.app_rate

    def _pool_pass(self, t: float) -> tuple[float, int]:
        """Next pass among pooled vCPUs at or after ``t`` (memoryless redraw when stale)."""
        if self._pool_next < t or self._pool_who < 0:
            rate = self._rate() * len(self.pool)
            if rate <= 0.0 or not self.pool:
                return float("inf"), -1
            self._pool_next = t + self._pass_draws.exp() / rate
            k = int(self._pass_draws.uniform() * len(self.pool))
            self._pool_who = self.pool[min(k, len(self.pool) - 1)]
        return self._pool_next, self._pool_who

    def take_from_pool(self, index: int) -> None:
        """Remove a vCPU from the pool (it took an interrupt or a completion)."""
        self.pool.remove(index)
        if index == self._pool_who:
            self._pool_who = -1

    def in_pool(self, index: int) -> bool:
        return index in self.pool

    def enter_runloop(self, index: int, t: float) -> None:
        """``index`` (out of the pool) will look at the completion queue at ``t``."""
        heapq.heappush(self.heap, (t, index))

    def next_taker(self, t_avail: float) -> tuple[float, VCpu]:
        """Who dequeues a completion that is in the queue from ``t_avail`` on, and when."""
        heap = self.heap
        while heap and heap[0][0] < t_avail:
            # It found the queue empty when it looked, so it left its runloop.
            _, i = heapq.heappop(heap)
            self.pool.append(i)
            self._pool_who = -1  # pool composition changed: redraw from now (memoryless)
        while True:
            pool_t, who = self._pool_pass(max(t_avail, self._pool_ref))
            if heap and heap[0][0] <= pool_t:
                t, i = heapq.heappop(heap)
                self._pool_ref = max(self._pool_ref, t)
                return t, self.cpus[i]
            if who < 0:
                raise RuntimeError("no vCPU can ever take the completion")
            self.take_from_pool(who)
            self._pool_ref = pool_t
            self.passes += 1
            cpu = self.cpus[who]
            pre = cpu.preempt
            t_real = pre.stretch(pool_t, 0.0) if pool_t >= pre.next else pool_t
            if t_real == pool_t:
                return pool_t, cpu
            heapq.heappush(heap, (t_real, who))  # preempted at its pass: it comes later

    def done(self, cpu: VCpu, t: float) -> None:
        """``cpu`` finished a completion at ``t`` and looks at the queue again."""
        heapq.heappush(self.heap, (t, cpu.index))

    def runloop_exit_time(self, index: int) -> float:
        """When ``index`` leaves its runloop (interrupts enabled), or -inf if in the pool."""
        for t, i in self.heap:
            if i == index:
                return t
        return float("-inf")

    def leave_heap(self, index: int) -> None:
        for k, (_, i) in enumerate(self.heap):
            if i == index:
                self.heap[k] = self.heap[-1]
                self.heap.pop()
                heapq.heapify(self.heap)
                return
