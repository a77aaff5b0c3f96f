"""Ticketed reassembly of mergeable RX buffers across vCPUs (Nanos 0.1.49 to 0.1.55).

Mechanism (MECHANISM.md §3.1, §4, §5.2-5.4). Every RX buffer carries a ticket in avail order.
The vCPU that dequeued it spins until ``rx->seqno`` equals its ticket, reads the shared
reassembly state ``rx->hdr`` (the head of the packet being assembled, or none), updates it, and
releases the ticket with ``rx->seqno++``. The hazards are in the order in which the releasing
vCPU's stores become visible:

* **D2** (no barrier): the ticket store is visible before the store that publishes or clears
  ``rx->hdr``, by a gap of ``publish_window`` plus any preemption that lands between the two.
  A vCPU that reads ``hdr`` inside the gap sees the stale value. GCC 11 builds have the inversion
  on the first-buffer and the last-buffer paths, GCC 12 builds only on the last-buffer path.
* **D1**: the header strip of a first buffer happens after the release (``strip_window`` plus
  preemption). A continuation chained, or a packet delivered, before the strip is corrupted; a
  head freed and re-pushed before the late stores land stays corrupted in the ring (0.1.50+).
* **The fix** (0.1.55, ``d39db7d8``, ``f54e6aaf``): strip inside the critical section and
  barriers around the ticket, so every store is visible before the next ticket holder reads.

How the race is computed. ``rx->hdr`` is a register with timed stores: each store has the time
it becomes visible, and a read at time t returns the last store visible by t. A vCPU spinning on
the ticket notices the release after a cache-line transfer plus part of a PAUSE iteration (more if
KVM's PAUSE-loop exiting descheduled it), so a short spin reads inside the D2 gap and a long one
does not. Nothing is drawn as a failure: a misframe happens only when a continuation buffer is
read with a stale empty ``hdr``, and the swallow length V comes from that buffer's payload bytes.

Leaves out: the ``num_buffers`` decrement's own store order (only the ``hdr`` pointer store is
timed), and lwIP's handling of a corrupted chain beyond "dropped".
"""

from __future__ import annotations

import bisect
from typing import TYPE_CHECKING, Any, Final

from vnetsim.drivers.base import DriverBase, DriverParts
from vnetsim.drivers.registry import DesignSpec, register
from vnetsim.drivers.releases import (
    FIXED,
    GCC11_OLD,
    GCC12_OLD,
    NANOS_0_1_55,
    RACY_RELEASES,
    RefillTraits,
    Release,
    StoreOrder,
)

if TYPE_CHECKING:
    from vnetsim.frames import Frame
    from vnetsim.guest.vcpu import VCpu


__all__ = ["FIXED", "GCC11_OLD", "GCC12_OLD", "Head", "StoreOrder", "TicketedReassembly"]


# Head's attributes, for ``Head.copy`` (mypyc cannot read ``__slots__`` through the class).
_HEAD_SLOTS: Final = (
    "bad_ptr",
    "bogus",
    "broken",
    "bufs",
    "done",
    "frame",
    "remaining",
    "strip_at",
    "t_created",
    "v",
)


class Head:
    """``rx->hdr``: the head buffer of a packet being assembled (or of a bogus swallow chain)."""

    __slots__ = _HEAD_SLOTS

    def __init__(self, frame: Frame | None, remaining: int, buf: int, t: float, v: int) -> None:
        self.frame = frame  # None for a misframed continuation
        self.bogus = frame is None
        self.remaining = remaining
        self.bufs = [buf]
        self.broken = False  # foreign or mis-sized content: dropped on completion
        self.done = False
        self.strip_at = float("-inf")
        self.bad_ptr = False  # head pointer 12 bytes off (D1 corruption): pbuf_cat faults
        self.t_created = t
        self.v = v

    def copy(self) -> Head:
        h = Head(self.frame, self.remaining, 0, self.t_created, self.v)  # every slot is set below
        for name in _HEAD_SLOTS:
            setattr(h, name, getattr(self, name))
        h.bufs = list(self.bufs)
        return h


def _copy_heads(
    hdr: Head | None,
    stores: list[tuple[float, int, Head | None, int]],
    swallow: Head | None,
) -> tuple[Head | None, list[tuple[float, int, Head | None, int]], Head | None]:
    """Copies of the heads the driver refers to, with their sharing kept."""
    memo: dict[int, Head] = {}

    def cp(h: Head | None) -> Head | None:
        if h is None:
            return None
        c = memo.get(id(h))
        if c is None:
            c = memo[id(h)] = h.copy()
        return c

    return cp(hdr), [(t, q, cp(v), w) for t, q, v, w in stores], cp(swallow)


class TicketedReassembly(DriverBase):
    """``vnet_input`` with mergeable buffers, one instance per RX queue."""

    def __init__(
        self,
        parts: DriverParts,
        *,
        refill: RefillTraits,
        order: StoreOrder,
        guard_max: int | None = None,
        chain_limit: int | None = None,
    ) -> None:
        super().__init__(parts, refill=refill)
        d = self.cfg
        self.order = order
        self.guard_max = guard_max
        self.chain_limit = chain_limit
        self.release_t = float("-inf")  # when the current ticket value became visible
        self.t_line = d.line_transfer_ns * 1e-9
        self.t_pause = d.pause_loop_ns * 1e-9
        self.t_ple = d.ple_window_ns * 1e-9
        self.t_ple_exit = d.ple_exit_us * 1e-6
        self.gap_lo = d.publish_window_min_ns * 1e-9
        self.gap_span = (d.publish_window_max_ns - d.publish_window_min_ns) * 1e-9
        self.t_strip = d.strip_window_ns * 1e-9
        self.spin_timeout = d.spin_timeout_s
        self.hdr: Head | None = None  # value visible as of the last read
        # pending stores: (visible_at, seq, value, writer vCPU)
        self._stores: list[tuple[float, int, Head | None, int]] = []
        self._seq = 0
        self.tickets = 0  # tickets handed out so far (the next buffer's ticket)
        self._stale = False  # whether the last read saw a value older than a released store
        self.swallow_head: Head | None = None
        self.first_swallow: tuple[float, int] | None = None  # (mechanism onset, V)

    # -- the rx->hdr register ---------------------------------------------------------
    def _store(self, visible_at: float, value: Head | None, writer: int) -> None:
        self._seq += 1
        bisect.insort(self._stores, (visible_at, self._seq, value, writer))

    def _read(self, t: float, reader: int) -> Head | None:
        """``rx->hdr`` as vCPU ``reader`` sees it at ``t``.

        Stores land in the order they become visible. A vCPU always sees its own latest store
        (store forwarding), so one vCPU alone can never read a stale value.
        """
        stores = self._stores
        self._stale = False
        while stores and stores[0][0] <= t:
            value = stores.pop(0)[2]
            prev = self.hdr
            if prev is not None and prev is not value and not prev.done:
                self._orphan(prev)
            self.hdr = value
        if stores:
            own = [s for s in stores if s[3] == reader]
            if own:
                return own[-1][2]
            self.c.d2_stale_reads += 1  # a released store is not visible yet
            self._stale = True
        return self.hdr

    def _orphan(self, head: Head) -> None:
        """A head overwritten before it completed: its buffers are never freed."""
        head.done = True
        if head is self.swallow_head:
            self.swallow_head = None  # the swallow ends here: rx->hdr moved on
        self.c.orphaned_heads += 1
        self.leak(len(head.bufs))
        if head.frame is not None:
            self.c.frames_dropped_guest += 1
            self.c.frames_dropped += 1

    @property
    def swallowing(self) -> bool:
        return self.swallow_head is not None

    def save_state(self) -> object:
        heads = _copy_heads(self.hdr, self._stores, self.swallow_head)
        return (
            super().save_state(),
            heads,
            self.release_t,
            self._seq,
            self.tickets,
            self._stale,
        )

    def load_state(self, state: object) -> None:
        s: tuple[Any, ...] = state  # type: ignore[assignment]
        self.release_t, self._seq, self.tickets, self._stale = s[2:]
        super().load_state(s[0])
        self.hdr, self._stores, self.swallow_head = _copy_heads(*s[1])

    def pending_hazards(self) -> int:
        heads = {id(v): v for _, _, v, _ in self._stores if v is not None}
        if self.hdr is not None:
            heads[id(self.hdr)] = self.hdr
        sw = self.swallow_head
        if sw is not None and id(sw) not in heads:
            heads[id(sw)] = sw
        bad = sum(1 for h in heads.values() if not h.done and (h.bogus or h.bad_ptr))
        return bad + len(self.ring.corrupt)

    def live_heads(self) -> int:
        """Genuine heads not yet complete: ``rx->hdr`` and any value a pending store holds."""
        heads = {id(h): h for h in ([self.hdr] if self.hdr else [])}
        for _, _, h, _ in self._stores:
            if h is not None:
                heads[id(h)] = h
        return sum(1 for h in heads.values() if not h.done and h.frame is not None)

    def current_hdr(self) -> Head | None:
        """``rx->hdr`` once every released store has landed (for observers)."""
        if self._stores:
            return self._stores[-1][2]  # sorted by visibility: the last one wins
        return self.hdr

    # -- vnet_input -------------------------------------------------------------------
    def process(self, cpu: VCpu, t: float, buf: int, frame: Frame, pos: int) -> float:
        self.held += 1
        if self.halted:
            return t
        if not self.mrg:
            return self.process_whole(cpu, t, buf, frame)
        c = self.c
        pre = cpu.preempt
        t0 = t + self.t_dequeue
        self.rx_activity = t0
        ticket_visible = self.release_t
        if t0 >= ticket_visible:
            a = t0
        else:
            spin = ticket_visible - t0
            c.ticket_spins += 1
            if spin > self.spin_timeout:
                # 2^32 PAUSEs: the buffer is dropped and the ticket never advances again.
                self.crash(t0 + self.spin_timeout, "ticket spin timeout (deadlock)")
                return t0 + self.spin_timeout
            obs = self.t_line + self.draws.uniform() * self.t_pause
            if spin > self.t_ple:
                obs += self.draws.exp() * self.t_ple_exit  # PAUSE-loop exit: it was descheduled
            a = ticket_visible + obs
        if a > pre.next:
            a = pre.stretch(t0, a - t0)
        hdr = self._read(a, cpu.index)
        self.tickets += 1
        if self.trace.enabled:
            waited = f"spun {(a - t0) * 1e9:.0f} ns" if a > t0 else "no wait"
            seen = "empty" if hdr is None else f"head of {len(hdr.bufs)} buffer(s)"
            self.trace.add(
                a,
                cpu.index,
                "ticket",
                f"ticket {self.tickets - 1}: buffer {buf} = frame {frame.fid} part "
                f"{pos + 1}/{frame.nbuf}; {waited}; read rx->hdr "
                f"{'STALE ' if self._stale else ''}{seen}",
            )
        ring = self.ring
        corrupt = bool(ring.corrupt) and buf in ring.corrupt
        if corrupt:  # a buffer a late D1 store corrupted in the ring: reading it uses the mark up
            ring.corrupt.discard(buf)
        if hdr is None:
            return self._first_buffer(cpu, a, buf, frame, pos, corrupt)
        return self._continuation(cpu, a, hdr, buf, frame, pos, corrupt)

    def _release(self, cpu: VCpu, r: float) -> tuple[float, float]:
        """Release the ticket at ``r``; return (extra delay after it, time the strip lands)."""
        self.release_t = r
        after = r + self.t_strip
        pre = cpu.preempt
        if after > pre.next:
            after = pre.stretch(r, self.t_strip)
        return after - r - self.t_strip, after

    def _gap(self) -> float:
        return self.gap_lo + self.draws.uniform() * self.gap_span

    def _first_buffer(
        self, cpu: VCpu, a: float, buf: int, frame: Frame, pos: int, corrupt: bool
    ) -> float:
        c = self.c
        if corrupt:
            n = self.swallow_v(frame)  # num_buffers from source-MAC bytes: arbitrary
        elif pos == 0:
            n = frame.nbuf
        else:
            n = self.swallow_v(frame)  # a raw continuation parsed as a virtio-net header
            c.misframed_buffers += 1
            if self.trace.enabled:
                self.trace.add(
                    a,
                    cpu.index,
                    "misframe",
                    f"buffer {buf} of frame {frame.fid} read as a header: V={n}",
                )
        r = a + self.t_cs
        if r > cpu.preempt.next:
            r = cpu.preempt.stretch(a, self.t_cs)
        if self.guard_max is not None and (n == 0 or n > self.guard_max):
            extra, after = self._release(cpu, r)
            if pos == 0:
                c.frames_dropped_guest += 1
                c.frames_dropped += 1
            self.drop_chain(after, [buf])
            if self.trace.enabled:
                self.trace.add(a, cpu.index, "guard-drop", f"num_buffers={n} rejected")
            return self.finish(cpu, after)
        if n == 1:
            extra, after = self._release(cpu, r)
            if pos == 0 and not corrupt:
                after = self.deliver(after, frame, [buf])
            else:
                if pos == 0:  # a corrupted buffer holding a real frame: dropped
                    c.frames_dropped_guest += 1
                    c.frames_dropped += 1
                self.drop_chain(after, [buf])
            return self.finish(cpu, after)
        genuine = pos == 0 and not corrupt
        head = Head(frame if genuine else None, (n - 1) & 0xFFFF, buf, a, n)
        head.bad_ptr = corrupt
        if corrupt and pos == 0:
            c.frames_dropped_guest += 1  # its header is read 12 bytes off: lost either way
            c.frames_dropped += 1
        extra, after = self._release(cpu, r)
        vis = r + self._gap() + extra if self.order.first_hdr_late else r
        self._store(vis, head, cpu.index)
        if self.order.strip_late:
            head.strip_at = after
            if after > r + self.t_strip:  # held by a preemption or exit, not Δ_strip alone
                c.d1_strip_delayed += 1
        else:
            head.strip_at = float("-inf")
        if self.trace.enabled:
            self.trace.add(
                r,
                cpu.index,
                "first",
                f"buffer {buf} head of {n} (hdr visible +{(vis - r) * 1e9:.0f} ns after ticket)",
            )
        return self.finish(cpu, after)

    def _continuation(
        self, cpu: VCpu, a: float, head: Head, buf: int, frame: Frame, pos: int, corrupt: bool
    ) -> float:
        c = self.c
        if head.bad_ptr:
            self.crash(a, "#GP in pbuf_cat on a corrupted head (D1)")
            return a
        work = self.t_cs + self.t_chain * len(head.bufs)
        r = a + work
        if r > cpu.preempt.next:
            r = cpu.preempt.stretch(a, work)
        if corrupt:
            # A D1-corrupted buffer reused as a continuation: the packet it joins is corrupted
            # and dropped, and the buffer's state heals (MECHANISM.md §4.1).
            head.broken = True
        if a < head.strip_at:
            head.broken = True  # chained before the late header strip: tot_len clobbered
            c.d1_late_strip += 1
        if head.done:
            # Stale view of a packet already handed up (D2-last): freed with it.
            self.drop_chain(r, [buf])
        else:
            head.bufs.append(buf)
        if pos == 0 or head.frame is not frame:
            head.broken = True
        if pos == 0:
            if head.bogus:
                c.frames_swallowed += 1
            else:
                c.frames_dropped_guest += 1
                c.frames_dropped += 1
        if head.bogus:
            c.buffers_swallowed += 1
            chain = len(head.bufs)
            if chain > c.max_swallow_chain:
                c.max_swallow_chain = chain
            if chain == 2:
                self._swallow_starts(cpu, a, head)
        head.remaining = (head.remaining - 1) & 0xFFFF
        if self.chain_limit is not None and len(head.bufs) > self.chain_limit and not head.done:
            self.reset_chain(r, head, "implausible chain", cpu.index)
            return self.finish(cpu, r)
        if head.remaining == 0 and not head.done:
            extra, after = self._release(cpu, r)
            vis = r + self._gap() + extra if self.order.last_hdr_late else r
            self._store(vis, None, cpu.index)
            return self.finish(cpu, self._complete(cpu, after, head))
        self.release_t = r
        return self.finish(cpu, r)

    def _swallow_starts(self, cpu: VCpu, t: float, head: Head) -> None:
        self.c.swallows += 1
        self.swallow_head = head
        if self.first_swallow is None:
            self.first_swallow = (head.t_created, head.v)
            if self.trace.enabled:
                self.trace.freeze_prefix()
        if self.trace.enabled:
            self.trace.add(t, cpu.index, "swallow", f"bogus head claims {head.v} buffers")

    def _complete(self, cpu: VCpu, t: float, head: Head) -> float:
        """The last buffer arrived: hand the chain to lwIP (which may drop it)."""
        c = self.c
        head.done = True
        if head.bogus:
            if head is self.swallow_head:
                self.swallow_head = None
            if self.trace.enabled:
                self.trace.add(t, cpu.index, "swallow-exit", f"chain of {len(head.bufs)} dropped")
            t += len(head.bufs) * 1536 * self.t_csum_per_byte + self.t_stack
            u = self.payload_draws.uniform
            if u() < 0.5 and u() < self.cfg.csum_fail_prob:
                self.leak(len(head.bufs) - 1)  # csum error path frees only the head
                self.drop_chain(t, head.bufs[:1])
            else:
                self.drop_chain(t, head.bufs)
            return t
        if t < head.strip_at:
            # Delivered before the late strip: dropped; the head pbuf is freed now and the late
            # stores land on it afterwards. Re-pushed at once (0.1.50+) it stays corrupted.
            c.d1_late_strip += 1
            c.frames_dropped_guest += 1
            c.frames_dropped += 1
            t += self.t_stack
            if self.refill.repush_on_release and self.ring.free_slots() > 0:
                self.ring.corrupt.add(head.bufs[0])
            self.drop_chain(t, head.bufs)
            return t
        if head.broken or len(head.bufs) != head.frame.nbuf:  # type: ignore[union-attr]
            c.frames_dropped_guest += 1
            c.frames_dropped += 1
            t += self.t_stack
            self.drop_chain(t, head.bufs)
            return t
        return self.deliver(t, head.frame, head.bufs)  # type: ignore[arg-type]

    def reset_chain(self, t: float, head: Head, why: str, cpu_index: int = -1) -> None:
        """Recovery used by what-if designs: drop the chain and clear ``rx->hdr``."""
        head.done = True
        self.c.watchdog_resets += 1
        if head is self.swallow_head:
            self.swallow_head = None
        self.drop_chain(t, head.bufs)
        for _, _, value, _ in self._stores:
            if value is not None and value is not head and not value.done:
                self._orphan(value)
        if self.hdr is not None and self.hdr is not head and not self.hdr.done:
            self._orphan(self.hdr)
        self._stores.clear()
        self.hdr = None
        self.release_t = t
        if self.trace.enabled:
            self.trace.add(t, cpu_index, "reset", why)


def _design(release: Release, mechanism: str, summary: str) -> DesignSpec:
    def build(parts: DriverParts) -> TicketedReassembly:
        return TicketedReassembly(
            parts, refill=release.refill, order=release.store_order(parts.driver.compiler)
        )

    return DesignSpec(
        name=release.name,
        mechanism=mechanism,
        summary=summary,
        wants_mrg_rxbuf=True,
        wants_guest_tso=True,
        factory=build,
        big_buffers_without_mrg=release.refill.big_buffers_without_mrg,
    )


for _release in RACY_RELEASES:
    register(
        _design(
            _release,
            "ticketed-reassembly-racy",
            f"ticketed reassembly across vCPUs with the D1 and D2 hazards; {_release.summary}",
        )
    )
register(_design(NANOS_0_1_55, "ticketed-reassembly-ordered", NANOS_0_1_55.summary))
