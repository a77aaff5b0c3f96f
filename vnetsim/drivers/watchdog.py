"""What-if ``watchdog``: the old race plus "anomaly detection and automatic recovery".

A secondary write-up credits the 0.1.55 fix with anomaly detection and auto recovery; the code
has none (MECHANISM.md §4.5). This design adds exactly that to 0.1.54's racy driver so the claim
can be tested: a chain longer than any real frame (``guard_max_buffers``) is dropped and the
reassembly state reset at once, and a periodic check resets it when buffers keep completing but
nothing has been delivered for ``watchdog_stall_ms``. The race itself stays.
"""

from __future__ import annotations

import simpy

from vnetsim.drivers.base import DriverParts
from vnetsim.drivers.registry import DesignSpec, register
from vnetsim.drivers.releases import NANOS_0_1_54
from vnetsim.drivers.ticketed import TicketedReassembly


class WatchdogReassembly(TicketedReassembly):
    """Racy reassembly with an implausible-chain check and an RX stall watchdog."""

    def __init__(self, parts: DriverParts) -> None:
        super().__init__(
            parts,
            refill=NANOS_0_1_54.refill,
            order=NANOS_0_1_54.store_order(parts.driver.compiler),
            chain_limit=parts.driver.guard_max_buffers,
        )
        self.env.process(self._watch())

    def _watch(self) -> simpy.events.ProcessGenerator:
        interval = self.cfg.watchdog_interval_ms * 1e-3
        stall = self.cfg.watchdog_stall_ms * 1e-3
        while not self.halted:
            yield self.env.timeout(interval)
            now = self.env.now
            if self.rx_activity > self.last_delivery and now - self.last_delivery > stall:
                head = self.current_hdr()
                if head is not None and not head.done:
                    self.reset_chain(now, head, "rx stall watchdog")


register(
    DesignSpec(
        name="watchdog",
        mechanism="ticketed-reassembly-racy+watchdog-reset",
        summary="0.1.54's race plus an implausible-chain check and an RX stall watchdog that reset "
        "the reassembly state",
        wants_mrg_rxbuf=True,
        wants_guest_tso=True,
        factory=WatchdogReassembly,
    )
)
