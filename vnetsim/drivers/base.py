"""What every Nanos RX driver version shares: refill, delivery to lwIP, buffer release.

``vnet_input`` ends every buffer with ``post_receive`` (refill), and every completed packet goes
to lwIP (``netif->input``), whose consumer frees the pbuf later. How refill and release behave is
a per-version trait (``RefillTraits``), not a separate mechanism:

* 0.1.49 posts one new buffer per ``vnet_input``; an allocation failure hits an assert, so the
  kernel halts. A released pbuf goes back to the objcache.
* 0.1.50+ (``58456e20``, ``0e05fe32``) fills every free entry and stops on allocation failure; a
  released pbuf is re-pushed into the ring at once (new ticket), or freed if the ring is full.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import simpy

# DriverParts's field types are imported at run time: compiled (mypyc), a dataclass
# evaluates its annotations.
from vnetsim.clock import Signal
from vnetsim.config import DriverConfig, GuestConfig
from vnetsim.drivers.releases import RefillTraits
from vnetsim.guest.bufpool import BufferPool
from vnetsim.records import Counters, Trace
from vnetsim.rng import Variates
from vnetsim.virtio.rxring import RxRing

if TYPE_CHECKING:
    from vnetsim.frames import Frame
    from vnetsim.guest.vcpu import VCpu


class Stack(Protocol):
    """What the driver hands packets to (lwIP + the guest application)."""

    def deliver(self, t: float, frame: Frame) -> None:
        """The packet reaches lwIP at ``t`` (which may be ahead of the clock)."""


class RxDriver(Protocol):
    """Everything composition (``vnetsim.scenario``) and the observers use of a driver.

    The runloop needs only ``process`` and ``halted`` (``guest.runloop.VnetInput``); the
    detector reads the delivery record and the swallow state; the conservation check counts
    held buffers and live heads.
    """

    @property
    def halted(self) -> bool:
        """The kernel halted (crash or deadlock): nothing runs any more."""
        ...

    @property
    def held(self) -> int:
        """Buffers taken from the used ring and not yet freed, re-pushed or leaked."""
        ...

    @property
    def last_delivery(self) -> float:
        """When the last good packet reached lwIP."""
        ...

    @property
    def gaps(self) -> list[tuple[float, float]]:
        """Delivery gaps longer than ``DriverParts.gap_threshold_s``: (last before, first after)."""
        ...

    @property
    def swallowing(self) -> bool:
        """A bogus reassembly chain is eating buffers now."""
        ...

    @property
    def first_swallow(self) -> tuple[float, int] | None:
        """(time the mechanism started, its V) of the run's first swallow, if any."""
        ...

    def process(self, cpu: VCpu, t: float, buf: int, frame: Frame, pos: int) -> float:
        """Run ``vnet_input`` for one buffer dequeued at ``t``; return when the vCPU is free."""
        ...

    def live_heads(self) -> int:
        """Genuine packets being reassembled (their first buffer is held, not yet complete)."""
        ...

    # What the split estimator (``vnetsim.scenario.split``) needs to replay a batch: the
    # driver's own state, the parts it swaps for a replay, and whether a replay left a hazard
    # whose outcome only the future decides.
    draws: Variates
    payload_draws: Variates
    stack: Stack
    halt: Signal

    def save_state(self) -> object:
        """Everything ``process`` reads or writes in the driver itself."""
        ...

    def load_state(self, state: object) -> None:
        """Back to a saved state (a saved state can be loaded many times)."""
        ...

    def pending_hazards(self) -> int:
        """How many states may still end in an outage without a new race (a swallow, a
        bogus or corrupted head, a corrupted buffer in the ring); 0 when none is left."""
        ...


@dataclass(frozen=True, slots=True)
class DriverParts:
    """What ``scenario.build`` hands a design's factory: the driver's whole environment."""

    env: simpy.Environment
    guest: GuestConfig
    driver: DriverConfig
    ring: RxRing
    pool: BufferPool
    stack: Stack
    counters: Counters
    trace: Trace
    draws: Variates  # race timing (driver.race)
    payload_draws: Variates  # payload bytes read as headers (driver.payload)
    mrg: bool  # MRG_RXBUF negotiated
    halt: Signal  # fired once, with the time, when the kernel halts
    gap_threshold_s: float = float("inf")  # record delivery gaps longer than this


class DriverBase:
    """Shared state and steps of ``vnet_input``; subclasses implement ``process``."""

    first_swallow: tuple[float, int] | None = None

    def __init__(self, parts: DriverParts, *, refill: RefillTraits) -> None:
        guest = parts.guest
        self.env = parts.env
        self.ring = parts.ring
        self.pool = parts.pool
        self.stack = parts.stack
        self.c = parts.counters
        self.trace = parts.trace
        self.draws = parts.draws
        self.payload_draws = parts.payload_draws
        self.refill = refill
        self.mrg = parts.mrg
        self.cfg = parts.driver
        self.halt = parts.halt
        self.halted = False  # kernel halted (crash): nothing runs any more
        self.halt_time = float("inf")
        self.t_dequeue = guest.dequeue_ns * 1e-9
        self.t_cs = guest.critical_section_ns * 1e-9
        self.t_chain = guest.chain_walk_ns * 1e-9
        self.t_stack = guest.stack_us * 1e-6
        self.t_csum_per_byte = guest.csum_ns_per_kib * 1e-9 / 1024
        self.t_refill = guest.refill_ns * 1e-9
        self.t_hold = guest.pbuf_hold_us * 1e-6
        self.held = 0  # buffers taken from the used ring and not yet freed, re-pushed or leaked
        self.last_delivery = 0.0
        self.rx_activity = 0.0  # last time any buffer was processed
        # Observer record (never changes the dynamics): delivery gaps above the threshold.
        self.gap_threshold = parts.gap_threshold_s
        self.gaps: list[tuple[float, float]] = []

    @property
    def swallowing(self) -> bool:
        return False

    def live_heads(self) -> int:
        return 0

    def save_state(self) -> object:
        return (
            self.halted,
            self.halt_time,
            self.held,
            self.last_delivery,
            self.rx_activity,
            len(self.gaps),
            self.first_swallow,
        )

    def load_state(self, state: object) -> None:
        s: tuple[Any, ...] = state  # type: ignore[assignment]
        self.halted, self.halt_time, self.held, self.last_delivery, self.rx_activity = s[:5]
        del self.gaps[s[5] :]  # gaps are only appended
        self.first_swallow = s[6]

    def pending_hazards(self) -> int:
        return 0

    # -- steps shared by all versions -------------------------------------------------
    def finish(self, cpu: VCpu, t: float) -> float:
        """``post_receive`` and return the time the vCPU is done with this buffer."""
        end = self.post_receive(t)
        if end > cpu.preempt.next:
            return cpu.preempt.stretch(t, end - t)
        return end

    def process_whole(self, cpu: VCpu, t: float, buf: int, frame: Frame) -> float:
        """Non-mergeable path: every buffer is a whole packet, no shared state."""
        t0 = t + self.t_dequeue
        self.rx_activity = t0
        if frame.size + 12 > self.pool.buffer_bytes:
            # nanos#1999: a GSO frame larger than an MTU-sized buffer trips an assertion.
            self.crash(t0, "receive buffer too small for frame (#1999 assert)")
            return t0
        r = t0 + self.t_cs
        if r > cpu.preempt.next:
            r = cpu.preempt.stretch(t0, self.t_cs)
        return self.finish(cpu, self.deliver(r, frame, [buf]))

    def post_receive(self, t: float) -> float:
        """Refill the ring after one ``vnet_input``; returns the time it ends."""
        ring, pool = self.ring, self.pool
        if not self.refill.batch_refill:
            if ring.free_slots() <= 0:
                return t
            buf = pool.alloc(t)
            if buf is None:
                self.c.alloc_failures += 1
                self.crash(t, "rx buffer allocation assert (0.1.49)")
                return t
            ring.post(t + self.t_refill, buf)
            return t + self.t_refill
        n = ring.free_slots()
        while n > 0:
            buf = pool.alloc(t)
            if buf is None:
                self.c.alloc_failures += 1
                break  # 0.1.50+: stop; released buffers are re-pushed later
            t += self.t_refill
            ring.post(t, buf)
            n -= 1
        return t

    def release(self, t: float, bufs: list[int]) -> None:
        """lwIP frees a pbuf chain at ``t``: re-push (0.1.50+) or back to the objcache."""
        ring, pool = self.ring, self.pool
        self.held -= len(bufs)
        repush = self.refill.repush_on_release
        for b in bufs:
            if repush and ring.free_slots() > 0:
                ring.post(t, b)
            else:
                pool.release(b, t)

    def leak(self, count: int) -> None:
        self.held -= count
        self.pool.leak(count)

    def deliver(self, t: float, frame: Frame, bufs: list[int]) -> float:
        """Hand a good packet to lwIP; its pbufs are freed after the consumer is done."""
        t_done = t + self.t_stack
        if frame.nbuf > 1:
            t_done += frame.size * self.t_csum_per_byte
        self.c.frames_delivered += 1
        last = self.last_delivery
        if t_done > last:
            if t_done - last > self.gap_threshold:
                self.gaps.append((last, t_done))
            self.last_delivery = t_done
        self.stack.deliver(t_done, frame)
        self.release(t_done + self.draws.exp() * self.t_hold, bufs)
        return t_done

    def drop_chain(self, t: float, bufs: list[int]) -> None:
        """A packet lwIP drops at once (bad Ethernet type, bad length): freed at ``t``."""
        self.release(t, bufs)

    def crash(self, t: float, reason: str) -> None:
        if not self.halted:
            self.halted = True
            self.halt_time = t
            self.c.crash_reason = reason
            if self.trace.enabled:
                self.trace.add(t, -1, "crash", reason)
            self.halt.fire(t)

    def swallow_v(self, frame: Frame) -> int:
        """``num_buffers`` read from payload bytes 10-11 of a continuation (little-endian)."""
        u = self.payload_draws.uniform
        if frame.text:
            lo = 0x20 + int(u() * 95)  # printable ASCII 0x20..0x7E
            hi = 0x20 + int(u() * 95)
            return lo | (hi << 8)
        return int(u() * 65536)
