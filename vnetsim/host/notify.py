"""Device-side used-buffer notification: EVENT_IDX suppression and optional coalescing.

After vhost publishes used heads it runs ``vhost_notify``: the EVENT_IDX crossing test over the
heads published since its last check (or the NO_INTERRUPT flag in flags mode). Optional virtio
notification coalescing (NOTF_COAL, a host option stock vhost-net lacks) holds the notification
until ``notf_coal_frames`` heads were counted or ``notf_coal_usecs`` passed since the first,
whichever comes first. A notification that passes fires the queue's ``irqfd``: KVM's eventfd
into the guest, to which the guest's MSI-X handler (``vnetsim.guest.irq``) subscribes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vnetsim.clock import Signal, call_after

if TYPE_CHECKING:
    import simpy

    from vnetsim.config import HostConfig
    from vnetsim.virtio.virtqueue import SplitVirtqueue


class Notifier:
    """vhost's ``vhost_notify`` with optional NOTF_COAL, firing one ``irqfd``."""

    def __init__(
        self, env: simpy.Environment, host: HostConfig, vq: SplitVirtqueue[int], irqfd: Signal
    ) -> None:
        self.env = env
        self.vq = vq
        self.irqfd = irqfd
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
            call_after(self.env, self.coal_s, self._timer, self._timer_gen)

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
            self.irqfd.fire()
