"""Host back end: the tap queue and the vhost-net RX worker.

Frames for the guest enter the tap's queue (``TUN_READQ_SIZE`` = 500 frames by default) and are
dropped when it is full. The vhost worker, woken after ``vhost_wakeup_us`` when a frame arrives
at an idle queue, copies frames in order into the guest's posted buffers: with mergeable RX
buffers a frame takes ceil((size + 12) / 1536) consecutive buffers and only the first carries
the real ``num_buffers``; without them every frame takes one buffer. It publishes used heads in
batches of ``vhost_signal_batch`` and at the end of a run of at most ``vhost_weight_frames``,
each time asking the ``Notifier`` whether to interrupt. With no buffers available it enables
guest kicks and sleeps until the guest posts (plus ``kick_us``); the tap keeps queuing, then drops.

Leaves out: vhost's byte weight (512 KiB), busy polling, host preemption of the vhost thread,
and the TX direction (guest transmissions are modelled as always succeeding).
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Protocol

from vnetsim.clock import Signal, call_at

if TYPE_CHECKING:
    import simpy

    from vnetsim.config import HostConfig
    from vnetsim.frames import Frame
    from vnetsim.records import Counters, Trace
    from vnetsim.rng import Variates
    from vnetsim.virtio.rxring import RxRing


class UsedNotify(Protocol):
    """What vhost calls after publishing used heads (``vnetsim.host.notify.Notifier``)."""

    def published(self, n: int) -> None: ...


class HostBackend:
    """Tap queue plus vhost RX worker for one queue pair."""

    def __init__(
        self,
        env: simpy.Environment,
        host: HostConfig,
        ring: RxRing,
        notifier: UsedNotify,
        counters: Counters,
        trace: Trace,
        draws: Variates,
        *,
        mrg: bool,
        buffer_bytes: int,
        halt: Signal,
    ) -> None:
        self.env = env
        self.ring = ring
        self.vq = ring.vq
        self.notifier = notifier
        self.c = counters
        self.trace = trace
        self.draws = draws
        self.mrg = mrg
        self.buffer_bytes = buffer_bytes
        self.tap: deque[Frame] = deque()
        self.tap_limit = host.tap_queue_frames
        self.t_frame = host.vhost_frame_us * 1e-6
        self.t_wakeup = host.vhost_wakeup_us * 1e-6
        self.t_kick = host.kick_us * 1e-6
        self.batch = host.vhost_signal_batch
        self.weight = host.vhost_weight_frames
        self.busy = False
        self._done = 0  # frames in the current run (vhost weight)
        self.stopped = False  # the VM is powered off: nothing consumes the tap any more
        self.unpublished: list[tuple[int, Frame, int]] = []  # copied, not yet in the used ring
        halt.subscribe(self._power_off)

    def _power_off(self, _t: float) -> None:
        self.stopped = True

    def offer(self, frame: Frame) -> None:
        """A frame reaches the tap now."""
        c = self.c
        c.frames_offered += 1
        if self.mrg:  # ceil((size + 12) / buffer length), as buffers_needed
            nbuf = frame.nbuf = -(-(frame.size + 12) // self.buffer_bytes)
            if nbuf > 1:
                c.multi_buffer_frames += 1
        if len(self.tap) >= self.tap_limit:
            c.frames_dropped_tap += 1
            c.frames_dropped += 1
            flow = frame.flow
            if flow is not None:  # the sender no longer holds later writes back for it
                flow.dropped(frame)
            return
        self.tap.append(frame)
        if not self.busy and not self.stopped:
            self.busy = True  # the socket poll wakes the idle worker
            call_at(
                self.env, self.env.now + self.draws.exp() * self.t_wakeup + self.t_frame, self._step
            )

    def _step(self) -> None:
        """The worker has spent one frame's copy time: move the head frame into the ring.

        The per-frame cost is charged before the frame is taken, so a frame that finds the
        worker idle costs one event (wake-up plus copy) instead of two.
        """
        env, tap, vq, ring = self.env, self.tap, self.vq, self.ring
        now = env.now
        while True:
            if not tap or self.stopped:
                self._end_run()
                return
            ring.flush(now)
            frame = tap[0]
            need = frame.nbuf
            if need > vq.size:  # can never fit this ring: vhost discards it
                tap.popleft()
                self.c.frames_dropped_tap += 1
                self.c.frames_dropped += 1
                if frame.flow is not None:
                    frame.flow.taken(now, frame)
                continue
            break
        if vq.avail_pending() < need:
            if self.unpublished:
                self._publish()
            vq.enable_notify()  # ask for a kick, sleep until the guest posts
            nxt = ring.next_post_time()
            if nxt is None:
                ring.post_waiter = self._posted
            else:
                call_at(env, max(nxt, now) + self.t_kick + self.t_frame, self._step)
            return
        tap.popleft()
        flow = frame.flow
        if flow is not None:
            flow.taken(now, frame)
        pending, pop = self.unpublished, vq.pop_avail
        for pos in range(need):
            pending.append((pop(), frame, pos))
        self._done += 1
        if len(pending) >= self.batch:
            self._publish()
        if self._done >= self.weight:
            self._done = 0  # vhost re-queues itself for fairness; nothing else to serve here
            self._publish()
        if tap and not self.stopped:
            call_at(env, now + self.t_frame, self._step)
        else:
            self._end_run()

    def _end_run(self) -> None:
        if self.unpublished:
            self._publish()
        self.busy = False
        self._done = 0

    def _posted(self) -> None:
        nxt = self.ring.next_post_time()
        t = self.env.now if nxt is None else max(nxt, self.env.now)
        call_at(self.env, t + self.t_kick + self.t_frame, self._step)

    def _publish(self) -> None:
        """Write the used heads copied so far and run the notification check."""
        pending = self.unpublished
        vq, meta, size = self.vq, self.ring.used_meta, self.buffer_bytes
        for buf, frame, pos in pending:
            vq.push_used(buf, min(frame.size + 12 - pos * size, size))
            meta.append((frame, pos))
        n = len(pending)
        pending.clear()
        self.notifier.published(n)
