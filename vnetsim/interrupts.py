"""Used-buffer notifications: device-side suppression and coalescing, MSI-X delivery, the handler.

Device side (``Notifier``): after vhost publishes used heads it runs ``vhost_notify``: the
EVENT_IDX crossing test over the heads published since its last check (or the NO_INTERRUPT flag
in flags mode). Optional virtio notification coalescing (NOTF_COAL, a host option stock vhost-net
lacks) holds the notification until ``notf_coal_frames`` heads were counted or
``notf_coal_usecs`` passed since the first, whichever comes first.

Guest side (``IrqHandler``): the MSI-X vector targets one fixed vCPU. The interrupt is taken
when that vCPU has interrupts enabled, i.e. not inside its runloop, after the injection latency
and any host preemption. ``vq_interrupt`` then drains **all** used entries (no budget), appends
each to the global completion queue, re-arms EVENT_IDX with ``used_event = last_used_idx`` and
polls once more, as Nanos does. The vCPU then enters its runloop.

Leaves out: spurious-interrupt costs, interrupt remapping, and per-entry handler cost.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import simpy

if TYPE_CHECKING:
    from vnetsim.config import GuestConfig, HostConfig
    from vnetsim.records import Counters, Trace
    from vnetsim.runloop import Runloop
    from vnetsim.rxring import RxRing
    from vnetsim.virtqueue import SplitVirtqueue


class IrqHandler:
    """The MSI-X vector of one RX queue and its handler on a fixed vCPU."""

    def __init__(
        self,
        env: simpy.Environment,
        host: HostConfig,
        guest: GuestConfig,
        ring: RxRing,
        runloop: Runloop,
        irq_cpu: int,
        counters: Counters,
        trace: Trace,
    ) -> None:
        self.env = env
        self.ring = ring
        self.vq = ring.vq
        self.runloop = runloop
        self.irq_cpu = irq_cpu
        self.c = counters
        self.trace = trace
        self.t_inject = host.irq_inject_us * 1e-6
        self.t_entry = guest.irq_entry_us * 1e-6
        self._pending = False

    def raise_msi(self) -> None:
        """The device signals; a second signal before the handler runs is merged."""
        if self._pending:
            return
        self._pending = True
        self._call_at(self.env.now + self.t_inject)

    def _call_at(self, t: float) -> None:
        ev = self.env.timeout(t - self.env.now)
        ev.callbacks.append(self._try_deliver)

    def _try_deliver(self, _ev: object) -> None:
        env = self.env
        now = env.now
        vcpus = self.runloop.vcpus
        cpu = vcpus.cpus[self.irq_cpu]
        # Interrupts are off while the vCPU drains the completion queue or is preempted.
        t = max(now, vcpus.runloop_exit_time(self.irq_cpu))
        pre = cpu.preempt
        if t >= pre.next:
            t = pre.stretch(t, 0.0)
        if t > now:
            self._call_at(t)
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


class Notifier:
    """vhost's ``vhost_notify`` with optional NOTF_COAL, feeding one ``IrqHandler``."""

    def __init__(
        self, env: simpy.Environment, host: HostConfig, vq: SplitVirtqueue, irq: IrqHandler
    ) -> None:
        self.env = env
        self.vq = vq
        self.irq = irq
        self.signalled_used = vq.used_idx
        self.coal_frames = host.notf_coal_frames
        self.coal_s = host.notf_coal_usecs * 1e-6
        self.coalescing = self.coal_frames > 0 and self.coal_s > 0.0
        self._count = 0
        self._timer_gen = 0
        self._timer_armed = False
        self.signals = 0

    def published(self, n: int) -> None:
        """vhost published ``n`` used heads at the current time."""
        if not self.coalescing:
            self._check()
            return
        self._count += n
        if self._count >= self.coal_frames:
            self._condition_met()
        elif not self._timer_armed:
            self._timer_armed = True
            self._timer_gen += 1
            gen = self._timer_gen
            ev = self.env.timeout(self.coal_s)
            ev.callbacks.append(lambda _ev, g=gen: self._timer(g))

    def _timer(self, gen: int) -> None:
        if gen == self._timer_gen and self._timer_armed:
            self._condition_met()

    def _condition_met(self) -> None:
        self._count = 0
        self._timer_armed = False
        self._timer_gen += 1
        self._check()

    def _check(self) -> None:
        old = self.signalled_used
        self.signalled_used = self.vq.used_idx
        if self.vq.need_notify(old):
            self.signals += 1
            self.irq.raise_msi()
