"""The guest application behind lwIP: a Go-like HTTP server that writes every request to Redis.

For each HTTP request delivered by the driver the server spends ``app_us``, sends one MSET to
each of the ``redis_servers`` servers, and answers once all replies are in (another ``app_us``).
Its responses, MSETs and ping replies leave on the TX path, which the bug leaves intact, and
reach the host half a LAN round trip later. This is the ``Stack`` the drivers deliver to; it
also acknowledges delivered segments to their host senders.

Leaves out: the application's CPU on the vCPUs (its effect on the race enters through the
runloop pass rate), lwIP's socket buffers and the guest's own TCP retransmissions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import simpy

from vnetsim.frames import HTTP_REQUEST, ICMP_ECHO, REDIS_REPLY, TCP_SYN, Frame
from vnetsim.workloads.tcp import Network, call_at

if TYPE_CHECKING:
    from vnetsim.config import GuestConfig
    from vnetsim.workloads.http import HttpClients, Request
    from vnetsim.workloads.probes import PingProber
    from vnetsim.workloads.redis import RedisServers


class GuestApp:
    """Receives delivered packets; produces the host-side consequences."""

    def __init__(
        self,
        env: simpy.Environment,
        guest: GuestConfig,
        net: Network,
        clients: HttpClients,
        redis: RedisServers,
        prober: PingProber,
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

    def _request(self, t: float, req: Request) -> None:
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

    def _respond(self, t: float, req: Request) -> None:
        req.replies_left = -1  # answered
        call_at(self.env, t + self.t_app + self.half_rtt, self.clients.response, req)
