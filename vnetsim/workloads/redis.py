"""Redis servers on the host, written by the guest application with MSET.

Each server is single-threaded: MSETs are served first come, first served, in
``redis_service_us`` each. The guest keeps a pool of ``redis_conns_per_server`` connections per
server and uses one at random per command; the ``+OK`` reply (RESP text, 5 bytes) goes back on
that connection, so replies to one busy connection can cork together. A reply the guest does
not deliver is retransmitted by the server's TCP with backoff (``Network``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import simpy

from vnetsim.clock import call_at
from vnetsim.frames import REDIS_REPLY
from vnetsim.rng import Draws, Variates
from vnetsim.workloads.registry import PeerContext, register_peer
from vnetsim.workloads.tcp import Flow, Network

if TYPE_CHECKING:
    from vnetsim.config import WorkloadConfig

OK_REPLY_BYTES = 5  # "+OK\r\n"


class RedisServer:
    __slots__ = ("busy_until", "flows", "served")

    def __init__(self, net: Network, conns: int) -> None:
        self.busy_until = 0.0
        self.flows = [Flow(net) for _ in range(conns)]
        self.served = 0


class RedisServers:
    """The Redis servers every HTTP request writes to."""

    def __init__(
        self, env: simpy.Environment, wl: WorkloadConfig, net: Network, draws: Variates
    ) -> None:
        self.env = env
        self.net = net
        self.draws = draws
        self.service = wl.redis_service_us * 1e-6
        self.servers = [
            RedisServer(net, wl.redis_conns_per_server) for _ in range(wl.redis_servers)
        ]

    def mset(self, t_arrive: float, server: int, meta: Any) -> None:
        """An MSET reaches ``server`` at ``t_arrive``; its reply is written when served."""
        srv = self.servers[server]
        start = max(t_arrive, srv.busy_until)
        srv.busy_until = start + self.service
        srv.served += 1
        flows = srv.flows
        flow = flows[min(int(self.draws.uniform() * len(flows)), len(flows) - 1)]
        call_at(self.env, srv.busy_until, flow.write, REDIS_REPLY, OK_REPLY_BYTES, [meta])


@register_peer("redis")
def _build(ctx: PeerContext) -> RedisServers:
    return RedisServers(ctx.env, ctx.cfg.workload, ctx.net, Draws(ctx.streams["workload.redis"]))
