"""What-if ``guarded``: the old race, but implausible ``num_buffers`` values are rejected.

A 64 KiB frame needs at most ceil((65,535 + 12) / 1,536) = 43 buffers, so a header that claims
more (or zero) cannot be real. This design keeps 0.1.54's racy store order and drops such a
buffer instead of starting a chain. It shows how much of the hazard a one-line sanity check
removes: misframes still happen and cost packets, but a text payload (V >= 8,224) can no longer
start a swallow. A binary payload can still give a plausible V in [2, 43].
"""

from __future__ import annotations

from vnetsim.drivers.base import DriverParts
from vnetsim.drivers.registry import DesignSpec, register
from vnetsim.drivers.releases import NANOS_0_1_54
from vnetsim.drivers.ticketed import TicketedReassembly


def _build(parts: DriverParts) -> TicketedReassembly:
    return TicketedReassembly(
        parts,
        refill=NANOS_0_1_54.refill,
        order=NANOS_0_1_54.store_order(parts.driver.compiler),
        guard_max=parts.driver.guard_max_buffers,
    )


register(
    DesignSpec(
        name="guarded",
        mechanism="ticketed-reassembly-racy+num-buffers-guard",
        summary="0.1.54's race, but num_buffers above guard_max_buffers (43) is rejected and the "
        "buffer dropped",
        wants_mrg_rxbuf=True,
        wants_guest_tso=True,
        factory=_build,
    )
)
