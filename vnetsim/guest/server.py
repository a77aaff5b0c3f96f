"""The guest application behind lwIP: a Go-like HTTP server that writes every request to Redis.

For each HTTP request delivered by the driver the server spends ``app_us``, sends one MSET to
each of the ``redis_servers`` servers, and answers once all replies are in (another ``app_us``).
Its responses, MSETs and ping replies leave on the TX path, which the bug leaves intact, and
reach the host half a LAN round trip later. This is the ``Stack`` the drivers deliver to; it
also acknowledges delivered segments to their host senders. The host peers it answers are
written contracts below (``vnetsim.workloads`` implements them), so the guest never imports them.

Leaves out: the application's CPU on the vCPUs (its effect on the race enters through the
runloop pass rate), lwIP's socket buffers and the guest's own TCP retransmissions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from vnetsim.clock import call_at
from vnetsim.frames import HTTP_REQUEST, ICMP_ECHO, REDIS_REPLY, TCP_SYN, Frame

if TYPE_CHECKING:
    import simpy

    from vnetsim.clock import Signal
    from vnetsim.config import GuestConfig


class ServedRequest(Protocol):
    """An HTTP request as the server tracks it (``workloads.http.Request``)."""

    replies_left: int  # Redis replies still awaited; -1 once answered
    done: bool  # the client has its response


class Acks(Protocol):
    """The host's TCP senders: a delivered segment is acknowledged (``workloads.tcp.Network``)."""

    half_rtt: float

    def acked(self, frame: Frame) -> None: ...


@runtime_checkable
class HttpPeer(Protocol):
    """The HTTP clients: handshakes complete and responses arrive (``workloads.http``)."""

    def connected(self, conn: Any, epoch: int) -> None: ...

    def response(self, req: Any) -> None: ...


@runtime_checkable
class StorePeer(Protocol):
    """The Redis servers the application writes every request to (``workloads.redis``)."""

    @property
    def servers(self) -> Sequence[object]: ...

    def mset(self, t_arrive: float, server: int, meta: Any) -> None: ...


@runtime_checkable
class EchoPeer(Protocol):
    """The ping prober: an echo reply reaches it at ``t`` (``workloads.probes``)."""

    def answered(self, seq: int, t: float) -> None: ...


class GuestApp:
    """Receives delivered packets; produces the host-side consequences."""

    def __init__(
        self,
        env: simpy.Environment,
        guest: GuestConfig,
        net: Acks,
        clients: HttpPeer,
        redis: StorePeer,
        prober: EchoPeer,
        halt: Signal,
    ) -> None:
        self.env = env
        self.net = net
        self.clients = clients
        self.redis = redis
        self.prober = prober
        self.t_app = guest.app_us * 1e-6
        self.half_rtt = net.half_rtt
        self.n_redis = len(redis.servers)
        self.requests_served = 0
        self.halted = False  # the VM powered off: nothing is processed or sent
        halt.subscribe(self._power_off)

    def _power_off(self, _t: float) -> None:
        self.halted = True

    def deliver(self, t: float, frame: Frame) -> None:
        """lwIP has the packet at ``t`` (possibly ahead of the clock)."""
        if self.halted:
            return
        self.net.acked(frame)
        kind = frame.kind
        if kind == HTTP_REQUEST:
            for req in frame.meta:
                self._request(t, req)
        elif kind == REDIS_REPLY:
            for req in frame.meta:
                req.replies_left -= 1
                if req.replies_left == 0:
                    self._respond(t, req)
        elif kind == ICMP_ECHO:
            self.prober.answered(frame.meta, t + self.half_rtt)
        elif kind == TCP_SYN:
            epoch, conn = frame.meta
            call_at(self.env, t + 2 * self.half_rtt, self.clients.connected, conn, epoch)

    def _request(self, t: float, req: ServedRequest) -> None:
        if req.replies_left != 0 or req.done:
            return  # a retransmitted copy of a request already being served or answered
        self.requests_served += 1
        t_send = t + self.t_app + self.half_rtt
        if self.n_redis == 0:
            self._respond(t, req)
            return
        req.replies_left = self.n_redis
        for s in range(self.n_redis):
            self.redis.mset(t_send, s, req)

    def _respond(self, t: float, req: ServedRequest) -> None:
        req.replies_left = -1  # answered
        call_at(self.env, t + self.t_app + self.half_rtt, self.clients.response, req)
