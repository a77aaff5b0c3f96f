"""Nanos 0.1.48: no mergeable buffers, no guest TSO, no shared reassembly state.

The driver negotiates only MAC, ANY_LAYOUT and EVENT_IDX (tag 0.1.48, ``a3745950``), so the host
segments every super-frame to MSS-sized frames and each RX buffer is a whole packet. Completions
still run on any vCPU, but there is nothing shared between them to race on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vnetsim.drivers import DesignSpec, register
from vnetsim.drivers.base import DriverBase, RefillTraits

if TYPE_CHECKING:
    from vnetsim.frames import Frame
    from vnetsim.vcpu import VCpu


class SingleBufferRx(DriverBase):
    """``vnet_input`` without MRG_RXBUF: one buffer, one packet."""

    def process(self, cpu: VCpu, t: float, buf: int, frame: Frame, pos: int) -> float:
        self.held += 1
        if self.halted:
            return t
        return self.process_whole(cpu, t, buf, frame)


REFILL_0_1_48 = RefillTraits(
    batch_refill=False,
    repush_on_release=False,
    assert_on_alloc_failure=True,
    big_buffers_without_mrg=False,
)

register(
    DesignSpec(
        name="nanos-0.1.48",
        mechanism="single-buffer",
        summary="no MRG_RXBUF or guest TSO negotiated: every buffer is a whole packet (immune)",
        wants_mrg_rxbuf=False,
        wants_guest_tso=False,
        factory=lambda **kw: SingleBufferRx(refill=REFILL_0_1_48, **kw),
        big_buffers_without_mrg=False,
    )
)
