"""Ticket hand-off, the D1/D2 hazards and the swallow state, with exact timings.

Each test drives ``vnet_input`` by hand: which vCPU dequeues which buffer at which time. Draws
are scripted (U = 0.5, Exp = 1 unless given), so every time below is computed from the config:
dequeue 150 ns, critical section 40 ns, D2 gap 50 + 0.5 * 150 = 125 ns, spinner observation
60 + 0.5 * 45 = 82.5 ns.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from vnetsim.drivers.releases import FIXED, GCC11_OLD, GCC12_OLD, RefillTraits, StoreOrder
from vnetsim.drivers.ticketed import TicketedReassembly
from vnetsim.frames import HTTP_REQUEST, Frame
from vnetsim.records import Counters, Trace

if TYPE_CHECKING:
    from vnetsim.drivers import DriverParts
    from vnetsim.guest.vcpu import VCpu

NS = 1e-9
REFILL = RefillTraits(
    batch_refill=True,
    repush_on_release=True,
    assert_on_alloc_failure=False,
    big_buffers_without_mrg=True,
)

MakeDriver = Callable[..., tuple[TicketedReassembly, object, Counters, Trace]]


@pytest.fixture
def make_driver(make_parts: Callable[..., DriverParts]) -> MakeDriver:
    """``make_driver(order=GCC11_OLD, payload=None, **kw)``: a driver on the conftest parts,
    with its recording stack, counters and trace."""

    def make(
        order: StoreOrder = GCC11_OLD, payload: list[float] | None = None, **kw: object
    ) -> tuple[TicketedReassembly, object, Counters, Trace]:
        parts = make_parts(payload)
        driver = TicketedReassembly(parts, refill=REFILL, order=order, **kw)  # type: ignore[arg-type]
        return driver, parts.stack, parts.counters, parts.trace

    return make


def frame(fid: int, nbuf: int, text: bool = False) -> Frame:
    f = Frame(fid, None, HTTP_REQUEST, 1400 * nbuf, 0.0, text, [])
    f.nbuf = nbuf
    return f


def events(trace: Trace) -> list[tuple[int, str]]:
    return [(cpu, ev) for _, cpu, ev, _ in trace.events]


def test_ticket_handoff_in_order_delivers_a_two_buffer_frame(
    make_driver: MakeDriver, cpus: list[VCpu]
) -> None:
    d, stack, c, trace = make_driver()
    p = frame(1, 2)
    d.process(cpus[0], 0.0, 100, p, 0)  # release at 190 ns, hdr visible at 315 ns
    assert d.release_t == pytest.approx(190 * NS)
    d.process(cpus[1], 1000 * NS, 101, p, 1)  # reads at 1150 ns: fresh
    assert [fid for _, fid in stack.delivered] == [1]
    assert c.d2_stale_reads == 0
    assert c.misframed_buffers == 0
    assert events(trace) == [(0, "ticket"), (0, "first"), (1, "ticket")]
    assert "read rx->hdr head of 1 buffer(s)" in trace.events[-1][3]


def test_one_vcpu_never_reads_its_own_store_stale(
    make_driver: MakeDriver, cpus: list[VCpu]
) -> None:
    d, stack, c, _ = make_driver()
    p = frame(1, 2)
    end = d.process(cpus[0], 0.0, 100, p, 0)
    d.process(cpus[0], 200 * NS, 101, p, 1)  # inside its own 125 ns gap
    assert end >= 190 * NS
    assert [fid for _, fid in stack.delivered] == [1]
    assert c.misframed_buffers == 0


def test_d2_first_misframes_a_continuation_and_starts_a_swallow_of_v_buffers(
    make_driver: MakeDriver, cpus: list[VCpu]
) -> None:
    # V read from payload bytes 10-11 of the continuation: binary payload, U = 3/65536 -> V = 3.
    d, stack, c, trace = make_driver(payload=[3.5 / 65536])
    p = frame(1, 2)
    d.process(cpus[0], 0.0, 100, p, 0)  # A: ticket at 190 ns, rx->hdr visible at 315 ns
    d.process(cpus[1], 100 * NS, 101, p, 1)  # B reads at 250 ns: stale empty hdr
    assert c.d2_stale_reads == 1
    assert c.misframed_buffers == 1
    # B's bogus head (visible at 290 + 125 = 415 ns) lands after A's head: A's is orphaned.
    d.process(cpus[2], 2000 * NS, 102, frame(2, 1), 0)
    assert c.orphaned_heads == 1
    assert c.frames_swallowed == 1
    assert c.swallows == 1
    assert d.swallow_head is not None
    assert d.swallow_head.v == 3
    d.process(cpus[3], 4000 * NS, 103, frame(3, 1), 0)  # the V-1 = 2nd buffer ends it
    assert d.swallow_head is None
    assert c.frames_swallowed == 2
    assert stack.delivered == []  # nothing reached lwIP during the swallow
    d.process(cpus[0], 6000 * NS, 104, frame(4, 1), 0)
    assert [fid for _, fid in stack.delivered] == [4]  # self-recovery
    assert [ev for _, ev in events(trace) if ev != "ticket"] == [
        "first",
        "misframe",
        "first",
        "swallow",
        "swallow-exit",
    ]
    tickets = [d for _, _, ev, d in trace.events if ev == "ticket"]
    assert tickets[1].startswith("ticket 1: buffer 101 = frame 1 part 2/2")
    assert "read rx->hdr STALE empty" in tickets[1]
    assert c.frames_dropped_guest == 1  # frame 1, whose head was orphaned


def test_text_payload_gives_ascii_derived_swallow_length(
    make_driver: MakeDriver, cpus: list[VCpu]
) -> None:
    # bytes 10 and 11 printable ASCII: V = lo | hi << 8 in [0x2020, 0x7E7E]
    d, _, c, _ = make_driver(payload=[0.0, 0.999])
    p = frame(1, 2, text=True)
    d.process(cpus[0], 0.0, 100, p, 0)
    d.process(cpus[1], 100 * NS, 101, p, 1)
    d.process(cpus[2], 2000 * NS, 102, frame(2, 1), 0)
    assert d.swallow_head is not None
    assert d.swallow_head.v == 0x20 | (0x7E << 8)
    assert 0x2020 <= d.swallow_head.v <= 0x7E7E
    assert c.misframed_buffers == 1


def test_fixed_store_order_has_no_stale_window(make_driver: MakeDriver, cpus: list[VCpu]) -> None:
    d, stack, c, _ = make_driver(order=FIXED)
    p = frame(1, 2)
    d.process(cpus[0], 0.0, 100, p, 0)
    d.process(cpus[1], 100 * NS, 101, p, 1)  # same timing as the D2-first test
    assert c.d2_stale_reads == 0
    assert c.misframed_buffers == 0
    assert [fid for _, fid in stack.delivered] == [1]


def test_gcc12_first_buffer_path_is_ordered_but_last_buffer_path_is_not(
    make_driver: MakeDriver, cpus: list[VCpu]
) -> None:
    d, stack, c, _ = make_driver(order=GCC12_OLD)
    p = frame(1, 2)
    d.process(cpus[0], 0.0, 100, p, 0)
    d.process(cpus[1], 100 * NS, 101, p, 1)  # first path ordered: reads A's head
    assert c.misframed_buffers == 0
    assert [fid for _, fid in stack.delivered] == [1]
    # B released at 250 + 40 + 20 (chain) = 310 ns; rx->hdr = 0 visible only at 435 ns.
    q = frame(2, 2)
    d.process(cpus[2], 200 * NS, 102, q, 0)  # C reads at 350 ns: stale head of frame 1
    assert c.d2_stale_reads == 1
    assert c.frames_dropped_guest == 1  # Q's first buffer was stolen by P
    d.process(cpus[3], 3000 * NS, 103, q, 1)  # Q's continuation now parsed as a header
    assert c.misframed_buffers == 1


def test_long_spinner_is_descheduled_by_pause_loop_exit_and_reads_fresh(
    make_driver: MakeDriver, cpus: list[VCpu]
) -> None:
    # The spin lasts longer than the PLE window (1.4 us): the exit delay (Exp = 1 * 5 us)
    # puts its read far past the 125 ns gap.
    d, stack, c, _ = make_driver()
    p = frame(1, 2)
    d.release_t = 0.0
    d.process(cpus[0], 0.0, 100, p, 0)
    d.release_t = 3000 * NS  # the next ticket becomes visible only at 3 us
    d._stores = [(3125 * NS, d._seq + 1, d.current_hdr(), 0)]
    d.process(cpus[1], 100 * NS, 101, p, 1)
    assert c.ticket_spins == 1
    assert c.d2_stale_reads == 0
    assert [fid for _, fid in stack.delivered] == [1]


def test_guarded_design_rejects_implausible_num_buffers(
    make_driver: MakeDriver, cpus: list[VCpu]
) -> None:
    d, _stack, c, _ = make_driver(payload=[0.5], guard_max=43)  # V = 32768
    p = frame(1, 2)
    d.process(cpus[0], 0.0, 100, p, 0)
    d.process(cpus[1], 100 * NS, 101, p, 1)
    assert c.misframed_buffers == 1
    assert c.swallows == 0
    d.process(cpus[2], 2000 * NS, 102, frame(2, 1), 0)  # A's head absorbs the next frame
    assert c.frames_swallowed == 0


def test_swallow_exit_frees_the_chain_unless_the_csum_error_path_leaks_it(
    make_driver: MakeDriver, cpus: list[VCpu]
) -> None:
    # payload draws: V byte draw, then exit draws (flags bit 0 set: 0.1 < 0.5; csum check
    # fails: 0.1 < 0.5) -> only the head is freed.
    d, _, c, _ = make_driver(payload=[4.5 / 65536, 0.1, 0.1])
    p = frame(1, 2)
    d.process(cpus[0], 0.0, 100, p, 0)
    d.process(cpus[1], 100 * NS, 101, p, 1)
    for k in range(3):  # V - 1 = 3 more buffers
        d.process(cpus[2], (2000 + 1000 * k) * NS, 102 + k, frame(2 + k, 1), 0)
    assert d.swallow_head is None
    assert c.max_swallow_chain == 4
    # leaked: A's orphaned head (1) + the chain minus its head (3)
    assert d.pool.leaked == 4


def test_a_swallow_whose_head_is_overwritten_ends_and_leaves_no_pending_hazard(
    make_driver: MakeDriver, cpus: list[VCpu]
) -> None:
    # A publish window of 1 us (not the default 50-200 ns) keeps three heads in flight: A's
    # (visible 1265 ns), B's bogus one (1365 ns, V = 10) and C's (1630 ns). B chains onto its
    # own bogus head (store forwarding), so the swallow starts before anyone else sees it; when
    # C's store lands, the bogus head is orphaned and rx->hdr has moved on.
    d, _, c, _ = make_driver(payload=[10.5 / 65536])
    d.gap_lo = 1000 * NS
    p = frame(1, 2)
    d.process(cpus[0], 0.0, 100, p, 0)
    d.process(cpus[1], 100 * NS, 101, p, 1)  # stale read: bogus head
    d.process(cpus[1], 100 * NS, 102, frame(2, 1), 0)  # its own head: the swallow starts
    assert d.swallowing
    assert c.swallows == 1
    d.process(cpus[2], 100 * NS, 103, frame(3, 2), 0)  # stale empty hdr: a new head
    d.process(cpus[3], 3000 * NS, 104, frame(4, 1), 0)  # all three stores have landed
    assert c.orphaned_heads == 2  # A's head, then the bogus one
    assert d.hdr is not None
    assert not d.hdr.bogus
    assert not d.swallowing  # was left set: the detector then called later outages swallows
    assert d.pending_hazards() == 0  # and the split estimator followed the replay 60 s for nothing


class OnePreemption:
    """One host preemption of ``length`` seconds at ``at``: work running across it stretches."""

    def __init__(self, at: float, length: float) -> None:
        self.next = at
        self.length = length

    def stretch(self, start: float, work: float) -> float:
        end = start + work
        if start <= self.next < end:
            self.next = float("inf")
            return end + self.length
        return end


def test_a_preemption_in_the_strip_window_opens_d1_and_is_counted(
    make_driver: MakeDriver, cpus: list[VCpu]
) -> None:
    from vnetsim.guest.vcpu import VCpu

    # GCC 12's order publishes rx->hdr at the release, so only the strip is late. (Under GCC
    # 11's the same preemption delays the hdr store too, and the next vCPU reads it stale: D2.)
    d, stack, c, _ = make_driver(order=GCC12_OLD)
    p = frame(1, 2)
    held = VCpu(0, OnePreemption(192 * NS, 1000 * NS))  # type: ignore[arg-type]
    d.process(held, 0.0, 100, p, 0)  # release at 190 ns; the strip (4 ns) is preempted to 1194
    assert c.d1_strip_delayed == 1
    d.process(cpus[1], 300 * NS, 101, p, 1)  # chains at 450 ns, before the strip lands
    assert c.d1_late_strip == 2  # chained, then delivered, before it: each hit counts
    assert stack.delivered == []  # tot_len clobbered: dropped
    d2, _, c2, _ = make_driver(order=GCC12_OLD)
    d2.process(cpus[0], 0.0, 100, p, 0)  # no preemption: the window is Δ_strip alone
    assert c2.d1_strip_delayed == 0


def test_a_d1_corrupted_buffer_reused_as_a_continuation_heals(
    make_driver: MakeDriver, cpus: list[VCpu]
) -> None:
    d, stack, c, _ = make_driver()
    d.ring.corrupt.add(101)  # its pbuf payload was left 12 bytes off by a late D1 store
    p = frame(1, 2)
    d.process(cpus[0], 0.0, 100, p, 0)
    d.process(cpus[1], 1000 * NS, 101, p, 1)  # the corrupted buffer as a continuation
    assert stack.delivered == []  # the packet it joined is corrupted and dropped
    assert c.frames_dropped_guest == 1
    assert 101 not in d.ring.corrupt  # and the buffer's state heals (MECHANISM.md §4.1)
    assert d.pending_hazards() == 0
    d.process(cpus[2], 2000 * NS, 101, frame(2, 1), 0)  # reposted, later a first buffer
    assert [fid for _, fid in stack.delivered] == [2]  # read as a sound header, not 12 bytes off
