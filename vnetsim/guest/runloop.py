"""The kernel's global completion FIFO (``async_queue_1``) and the vCPUs that drain it.

Every RX completion the interrupt handler queues is executed by whichever vCPU dequeues it: the
IRQ vCPU, which enters its runloop right after the handler, or any other vCPU passing through
its runloop. Each vCPU takes one completion at a time with interrupts off and looks again when
it is done. ``submit`` resolves a whole interrupt's batch at once: for each completion in FIFO
order it asks ``VCpuSet`` who looks at the queue first, runs the driver's ``vnet_input`` for
that vCPU (the driver computes the ticket hand-off, the race windows and the costs), and puts
the vCPU back with the time it is free. No SimPy event is spent per buffer.

Approximation: a batch is resolved when it is queued, so a vCPU that joins later (the IRQ vCPU
after its next interrupt) cannot take a completion already assigned to a vCPU that dequeues it
later still; dequeue order is kept FIFO by never dequeuing before the previous completion.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from mypy_extensions import mypyc_attr

if TYPE_CHECKING:
    from vnetsim.frames import Frame
    from vnetsim.guest.vcpu import VCpu


class VnetInput(Protocol):
    """What the runloop and the interrupt handler need from a driver (``vnetsim.drivers``)."""

    @property
    def halted(self) -> bool:
        """The kernel halted: no completion runs any more."""
        ...

    def process(self, cpu: VCpu, t: float, buf: int, frame: Frame, pos: int) -> float:
        """Run ``vnet_input`` for one buffer dequeued at ``t``; return when the vCPU is free."""
        ...


class Takers(Protocol):
    """What the runloop needs from the vCPUs (``vnetsim.guest.vcpu.VCpuSet``)."""

    def enter_runloop(self, index: int, t: float) -> None: ...

    def next_taker(self, t_avail: float) -> tuple[float, VCpu]: ...

    def done(self, cpu: VCpu, t: float) -> None: ...


# mypyc: ``SplitRunloop`` (vnetsim.scenario.split) subclasses it and stays interpreted, so that a
# test can replace ``submit`` on an instance (tests/test_split.py); methods of a compiled class
# are read-only.
@mypyc_attr(allow_interpreted_subclasses=True)
class Runloop:
    """Resolves batches of completions across the vCPUs."""

    def __init__(self, vcpus: Takers, driver: VnetInput) -> None:
        self.vcpus = vcpus
        self.driver = driver
        self.last_dequeue = 0.0

    def save_state(self) -> float:
        return self.last_dequeue

    def load_state(self, state: float) -> None:
        self.last_dequeue = state

    def submit(self, t_queued: float, batch: list[tuple[int, Frame, int]], irq_cpu: int) -> None:
        """Queue ``batch`` at ``t_queued``; ``irq_cpu`` enters its runloop at that time."""
        vcpus = self.vcpus
        vcpus.enter_runloop(irq_cpu, t_queued)
        process = self.driver.process
        last = max(self.last_dequeue, t_queued)
        for buf, frame, pos in batch:
            t, cpu = vcpus.next_taker(t_queued)
            if t < last:
                t = last
            vcpus.done(cpu, process(cpu, t, buf, frame, pos))
            last = t
        self.last_dequeue = last
