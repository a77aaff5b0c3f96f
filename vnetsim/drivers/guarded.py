"""What-if ``guarded``: the old race, but implausible ``num_buffers`` values are rejected.

A 64 KiB frame needs at most ceil((65,535 + 12) / 1,536) = 43 buffers, so a header that claims
more (or zero) cannot be real. This design keeps 0.1.54's racy store order and drops such a
buffer instead of starting a chain. It shows how much of the hazard a one-line sanity check
removes: misframes still happen and cost packets, but a text payload (V >= 8,224) can no longer
start a swallow. A binary payload can still give a plausible V in [2, 43].
"""

from __future__ import annotations

from typing import Any

from vnetsim.drivers import DesignSpec, register
from vnetsim.drivers.ticketed import _VERSIONS, GCC11_OLD, GCC12_OLD, TicketedReassembly


def _build(**kw: Any) -> TicketedReassembly:
    order = GCC12_OLD if kw["driver"].compiler == "gcc12" else GCC11_OLD
    return TicketedReassembly(
        order=order,
        refill=_VERSIONS["nanos-0.1.54"][1],
        guard_max=kw["driver"].guard_max_buffers,
        **kw,
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
