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
from typing import TYPE_CHECKING

import simpy

from vnetsim.frames import buffers_needed

if TYPE_CHECKING:
    from vnetsim.config import HostConfig
    from vnetsim.frames import Frame
    from vnetsim.interrupts import Notifier
    from vnetsim.records import Counters, Trace
    from vnetsim.rng import Draws
    from vnetsim.rxring import RxRing


class HostBackend:
    """Tap queue plus vhost RX worker for one queue pair."""

    def __init__(self, env: simpy.Environment, host: HostConfig, ring: RxRing,
                 notifier: Notifier, counters: Counters, trace: Trace, draws: Draws,
                 *, mrg: bool, buffer_bytes: int) -> None:
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
        self._wake: simpy.Event | None = None
        self.stopped = False  # the VM is powered off: nothing consumes the tap any more
        self.on_drop = None  # callback(frame, t) for TCP senders
        self.unpublished: list[tuple[int, Frame, int]] = []  # copied, not yet in the used ring
        env.process(self._run())

    def offer(self, frame: Frame) -> None:
        """A frame reaches the tap now."""
        c = self.c
        c.frames_offered += 1
        frame.nbuf = buffers_needed(frame.size, self.buffer_bytes) if self.mrg else 1
        if frame.nbuf > 1:
            c.multi_buffer_frames += 1
        if len(self.tap) >= self.tap_limit:
            c.frames_dropped_tap += 1
            c.frames_dropped += 1
            if self.on_drop is not None:
                self.on_drop(frame, self.env.now)
            return
        self.tap.append(frame)
        wake = self._wake
        if wake is not None and not wake.triggered:
            wake.succeed()

    def _run(self) -> simpy.events.ProcessGenerator:
        env, tap, vq, ring = self.env, self.tap, self.vq, self.ring
        while True:
            if not tap or self.stopped:
                self._wake = env.event()
                yield self._wake
                self._wake = None
                if self.stopped:
                    continue
                yield env.timeout(self.draws.exp() * self.t_wakeup)
            t = env.now
            done = 0
            pending = self.unpublished  # emptied by each publish
            while tap and done < self.weight and not self.stopped:
                ring.flush(t)
                frame = tap[0]
                need = frame.nbuf
                if need > vq.size:  # can never fit this ring: vhost discards it
                    tap.popleft()
                    self.c.frames_dropped_tap += 1
                    self.c.frames_dropped += 1
                    if frame.flow is not None:
                        frame.flow.taken(t, frame)
                    continue
                if vq.avail_pending() < need:
                    if pending:
                        yield from self._publish(t, pending)
                    yield from self._wait_for_buffers()
                    t = env.now
                    continue
                tap.popleft()
                flow = frame.flow
                if flow is not None:
                    flow.taken(t, frame)
                t += self.t_frame
                for pos in range(need):
                    pending.append((vq.pop_avail(), frame, pos))
                done += 1
                if len(pending) >= self.batch:
                    yield from self._publish(t, pending)
            if pending:
                yield from self._publish(t, pending)

    def _publish(self, t: float,
                 pending: list[tuple[int, Frame, int]]) -> simpy.events.ProcessGenerator:
        env = self.env
        if t > env.now:
            yield env.timeout(t - env.now)
        vq, meta = self.vq, self.ring.used_meta
        for buf, frame, pos in pending:
            vq.push_used(buf, min(frame.size + 12 - pos * self.buffer_bytes, self.buffer_bytes))
            meta.append((frame, pos))
        n = len(pending)
        pending.clear()
        self.notifier.published(n)

    def _wait_for_buffers(self) -> simpy.events.ProcessGenerator:
        """Ring dry: ask for kicks and sleep until the guest posts a buffer."""
        env, ring = self.env, self.ring
        self.vq.enable_notify()
        nxt = ring.next_post_time()
        if nxt is None:
            ring.post_waiter = env.event()
            yield ring.post_waiter
            ring.post_waiter = None
            nxt = ring.next_post_time()
            if nxt is None:
                return
        yield env.timeout(max(nxt - env.now, 0.0) + self.t_kick)
