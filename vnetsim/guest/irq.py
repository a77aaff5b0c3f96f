"""The RX queue's MSI-X vector and its handler, ``vq_interrupt``, on a fixed vCPU.

The vector targets one fixed vCPU. The interrupt is taken when that vCPU has interrupts
enabled, i.e. not inside its runloop, after the injection latency and any host preemption.
``vq_interrupt`` then drains **all** used entries (no budget), appends each to the global
completion queue, re-arms EVENT_IDX with ``used_event = last_used_idx`` and polls once more, as
Nanos does. The vCPU then enters its runloop.

Leaves out: spurious-interrupt costs, interrupt remapping, and per-entry handler cost.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vnetsim.clock import Signal, call_at

if TYPE_CHECKING:
    import simpy

    from vnetsim.config import GuestConfig, HostConfig
    from vnetsim.guest.runloop import Runloop
    from vnetsim.guest.vcpu import VCpuSet
    from vnetsim.records import Counters, Trace
    from vnetsim.virtio.rxring import RxRing


class IrqHandler:
    """The MSI-X vector of one RX queue and its handler on a fixed vCPU."""

    def __init__(
        self,
        env: simpy.Environment,
        host: HostConfig,
        guest: GuestConfig,
        ring: RxRing,
        runloop: Runloop,
        vcpus: VCpuSet,
        irq_cpu: int,
        counters: Counters,
        trace: Trace,
        irqfd: Signal,
    ) -> None:
        self.env = env
        self.ring = ring
        self.vq = ring.vq
        self.runloop = runloop
        self.vcpus = vcpus
        self.irq_cpu = irq_cpu
        self.c = counters
        self.trace = trace
        self.t_inject = host.irq_inject_us * 1e-6
        self.t_entry = guest.irq_entry_us * 1e-6
        self._pending = False
        irqfd.subscribe(self.raise_msi)

    def raise_msi(self) -> None:
        """The device signals; a second signal before the handler runs is merged."""
        if self._pending:
            return
        self._pending = True
        call_at(self.env, self.env.now + self.t_inject, self._try_deliver)

    def _try_deliver(self) -> None:
        env = self.env
        now = env.now
        vcpus = self.vcpus
        cpu = vcpus.cpus[self.irq_cpu]
        # Interrupts are off while the vCPU drains the completion queue or is preempted.
        t = max(now, vcpus.runloop_exit_time(self.irq_cpu))
        pre = cpu.preempt
        if t >= pre.next:
            t = pre.stretch(t, 0.0)
        if t > now:
            call_at(env, t, self._try_deliver)
            return
        self._pending = False
        if self.runloop.driver.halted:
            return
        self.c.interrupts += 1
        if vcpus.in_pool(self.irq_cpu):
            vcpus.take_from_pool(self.irq_cpu)
        else:
            vcpus.leave_heap(self.irq_cpu)
        done = now + self.t_entry
        if done > pre.next:
            done = pre.stretch(now, self.t_entry)
        batch = []
        vq, meta = self.vq, self.ring.used_meta
        while True:
            while vq.used_pending():
                buf, _ = vq.get_used()  # type: ignore[misc]
                frame, pos = meta.popleft()
                batch.append((buf, frame, pos))
            vq.enable_cb()  # used_event = last_used_idx, then poll once more
            if not vq.used_pending():
                break
        if self.trace.enabled:
            self.trace.add(now, self.irq_cpu, "irq", f"{len(batch)} completions queued")
        self.runloop.submit(done, batch, self.irq_cpu)
