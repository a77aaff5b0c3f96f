"""Host-side TCP senders: autocorking into GSO super-frames, and retransmission with backoff.

Super-frames come from the traffic, not from a drawn fraction. A host sender (a client
connection, a Redis server's connection) with a frame still waiting in the tap holds new small
writes back and coalesces them into one skb, sent when the earlier frame leaves the tap
(Linux TCP autocorking under TCP small queues). A client that writes several pipelined requests
at once produces one skb of their total size. With guest TSO the skb reaches the guest as one
frame of up to ``gso_max_bytes``; without it the host segments it to MSS-sized frames.

Senders retransmit data the guest has not delivered (so not acknowledged): the first time after
``rto_min_ms``, then with exponential backoff to ``rto_max_s``, giving up after
``tcp_retries2`` (``syn_retries`` for a SYN). Timers are checked on a 10 ms tick, as the
kernel's timer wheel would within a few jiffies. Acknowledgements are not frames on the RX path
the model studies (guest TX always works), so an ACK is taken to arrive when the guest delivers
the segment.

Leaves out: congestion control beyond "after an RTO only the head is retransmitted", SACK, and
partial retransmission of a super-frame (it is retransmitted whole).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

import simpy

from vnetsim.clock import call_at
from vnetsim.frames import ETH_TCP_IP_BYTES, MSS_BYTES, TCP_SYN, Frame

if TYPE_CHECKING:
    from vnetsim.config import HostConfig, WorkloadConfig

TICK_S = 0.010


class Tap(Protocol):
    """The host back end as the senders see it (``vnetsim.host.vhost.HostBackend``)."""

    def offer(self, frame: Frame) -> None:
        """A frame reaches the tap now."""


class Network:
    """Frame factory and the retransmission registry shared by all host senders."""

    def __init__(
        self,
        env: simpy.Environment,
        host: HostConfig,
        wl: WorkloadConfig,
        backend: Tap,
        *,
        tso: bool,
    ) -> None:
        self.env = env
        self.backend = backend
        self.tso = tso
        self.gso_max = host.gso_max_bytes
        self.half_rtt = host.lan_rtt_us * 1e-6 / 2
        self.rto_min = wl.rto_min_ms * 1e-3
        self.rto_max = wl.rto_max_s
        self.retries = wl.tcp_retries2
        self.syn_retries = wl.syn_retries
        self.text = wl.payload == "text"
        self._fid = 0
        # fid -> [frame, due time, rto, tries, on_give_up]
        self.unacked: dict[int, list[Any]] = {}
        self.retransmissions = 0
        env.process(self._tick())

    def new_frame(self, flow: Flow | None, kind: int, payload: int, meta: Any) -> Frame:
        self._fid += 1
        return Frame(
            self._fid, flow, kind, payload + ETH_TCP_IP_BYTES, self.env.now, self.text, meta
        )

    def track(
        self, frame: Frame, rto: float, on_give_up: Callable[[Frame], None] | None, tries: int = 0
    ) -> None:
        self.unacked[frame.fid] = [frame, self.env.now + rto, rto, tries, on_give_up]

    def acked(self, frame: Frame) -> None:
        self.unacked.pop(frame.fid, None)

    def close(self, flow: Flow) -> None:
        """``flow``'s socket was reset or closed: the kernel drops its send queue, so nothing
        it held is retransmitted or given up on later. Its entries are dropped when they come
        due (a scan here would cost O(unacked) per close; a connection per request closes
        thousands of sockets a second)."""
        flow.held = None
        flow.closed = True

    def _tick(self) -> simpy.events.ProcessGenerator:
        env = self.env
        while True:
            yield env.timeout(TICK_S)
            if not self.unacked:
                continue
            now = env.now
            due = [e for e in self.unacked.values() if e[1] <= now]
            for frame, _, rto, tries, give_up in due:
                del self.unacked[frame.fid]
                if frame.flow is not None and frame.flow.closed:
                    continue
                limit = self.syn_retries if frame.kind == TCP_SYN else self.retries
                if tries >= limit:
                    if give_up is not None:
                        give_up(frame)
                    continue
                self.retransmissions += 1
                again = self.new_frame(
                    frame.flow, frame.kind, frame.size - ETH_TCP_IP_BYTES, frame.meta
                )
                self.track(again, min(2 * rto, self.rto_max), give_up, tries + 1)
                if frame.flow is not None:
                    frame.flow.send_now(again)
                else:
                    self.backend.offer(again)


class Flow:
    """One host TCP sender towards the guest (autocork state)."""

    __slots__ = ("closed", "held", "in_tap", "net", "on_give_up")

    def __init__(self, net: Network, on_give_up: Callable[[Frame], None] | None = None) -> None:
        self.net = net
        self.closed = False
        self.in_tap: Frame | None = None
        self.held: Frame | None = None
        self.on_give_up = on_give_up

    def write(self, kind: int, nbytes: int, meta: list[Any]) -> None:
        """The host application writes ``nbytes`` now (``meta``: what the bytes carry)."""
        net = self.net
        if not net.tso:
            while nbytes > MSS_BYTES:  # segmented by the host: only the last carries meta
                self._send(net.new_frame(self, kind, MSS_BYTES, []))
                nbytes -= MSS_BYTES
            self._send(net.new_frame(self, kind, nbytes, meta))
            return
        if self.in_tap is None:
            self._send(net.new_frame(self, kind, nbytes, meta))
            return
        held = self.held
        if held is not None and held.size + nbytes <= net.gso_max:
            held.size += nbytes
            held.meta.extend(meta)
            return
        if held is not None:
            self._send(held)  # full skb: pushed regardless
        self.held = net.new_frame(self, kind, nbytes, list(meta))

    def _send(self, frame: Frame) -> None:
        net = self.net
        now = net.env.now
        net.unacked[frame.fid] = [frame, now + net.rto_min, net.rto_min, 0, self.on_give_up]
        frame.t_offered = now
        if net.tso:
            self.in_tap = frame
        net.backend.offer(frame)

    def send_now(self, frame: Frame) -> None:
        frame.t_offered = self.net.env.now
        if self.net.tso:
            self.in_tap = frame
        self.net.backend.offer(frame)

    def taken(self, t: float, frame: Frame) -> None:
        """vhost took ``frame`` from the tap at ``t``: a corked skb may go now."""
        if frame is not self.in_tap:
            return
        held = self.held
        self.in_tap = None
        if held is not None:
            self.held = None
            call_at(self.net.env, t, self._send, held)

    def dropped(self, frame: Frame) -> None:
        """The tap dropped ``frame``; it no longer holds back later writes."""
        if frame is self.in_tap:
            self.taken(self.net.env.now, frame)
