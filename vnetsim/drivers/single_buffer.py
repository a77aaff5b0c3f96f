"""Nanos 0.1.48: no mergeable buffers, no guest TSO, no shared reassembly state.

The driver negotiates only MAC, ANY_LAYOUT and EVENT_IDX (tag 0.1.48, ``a3745950``), so the host
segments every super-frame to MSS-sized frames and each RX buffer is a whole packet. Completions
still run on any vCPU, but there is nothing shared between them to race on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vnetsim.drivers.base import DriverBase, DriverParts
from vnetsim.drivers.registry import DesignSpec, register
from vnetsim.drivers.releases import NANOS_0_1_48

if TYPE_CHECKING:
    from vnetsim.frames import Frame
    from vnetsim.guest.vcpu import VCpu


class SingleBufferRx(DriverBase):
    """``vnet_input`` without MRG_RXBUF: one buffer, one packet."""

    def process(self, cpu: VCpu, t: float, buf: int, frame: Frame, pos: int) -> float:
        self.held += 1
        if self.halted:
            return t
        return self.process_whole(cpu, t, buf, frame)


def _build(parts: DriverParts) -> SingleBufferRx:
    return SingleBufferRx(parts, refill=NANOS_0_1_48.refill)


register(
    DesignSpec(
        name=NANOS_0_1_48.name,
        mechanism="single-buffer",
        summary=NANOS_0_1_48.summary,
        wants_mrg_rxbuf=False,
        wants_guest_tso=False,
        factory=_build,
        big_buffers_without_mrg=NANOS_0_1_48.refill.big_buffers_without_mrg,
    )
)
