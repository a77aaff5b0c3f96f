"""The ping prober (one ICMP echo per ``ping_interval_s``) and LAN background broadcasts.

Neither backs off: a blackout does not silence them, so they set the floor of the inbound rate
that ends a swallow once clients have given up. The prober's tick is the run's observation tick:
the vCPU model samples the server's request rate there and the outage detector looks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import simpy

from vnetsim.frames import BROADCAST, ICMP_ECHO
from vnetsim.rng import Draws, Variates
from vnetsim.workloads.registry import PeerContext, register_peer

if TYPE_CHECKING:
    from vnetsim.clock import Signal
    from vnetsim.config import WorkloadConfig
    from vnetsim.records import Counters
    from vnetsim.workloads.tcp import Network


class PingProber:
    """Sends an echo request every interval; an echo counts if answered before the next."""

    def __init__(
        self,
        env: simpy.Environment,
        wl: WorkloadConfig,
        net: Network,
        counters: Counters,
        ticks: Signal,
    ) -> None:
        """``ticks`` fires ``(now, ping_ok)`` after every interval: the observation tick."""
        self.env = env
        self.net = net
        self.interval = wl.ping_interval_s
        self.c = counters  # pings_sent, pings_answered
        self.ticks = ticks
        self._answer_time: dict[int, float] = {}
        env.process(self._run())

    def answered(self, seq: int, t: float) -> None:
        self._answer_time[seq] = t

    def _run(self) -> simpy.events.ProcessGenerator:
        env = self.env
        seq = 0
        while True:
            seq += 1
            self.c.pings_sent += 1
            self.net.backend.offer(self.net.new_frame(None, ICMP_ECHO, 44, seq))
            yield env.timeout(self.interval)
            t_ans = self._answer_time.pop(seq, None)
            ok = t_ans is not None and t_ans <= env.now
            if ok:
                self.c.pings_answered += 1
            self.ticks.fire(env.now, ok)


class LanBackground:
    """ARP and other broadcasts on the bridge: a Poisson stream of single small frames."""

    def __init__(
        self, env: simpy.Environment, wl: WorkloadConfig, net: Network, draws: Variates
    ) -> None:
        self.env = env
        self.net = net
        self.rate = wl.broadcast_rate_per_s
        self.draws = draws
        if self.rate > 0:
            env.process(self._run())

    def _run(self) -> simpy.events.ProcessGenerator:
        env, draws, mean = self.env, self.draws, 1.0 / self.rate
        while True:
            yield env.timeout(draws.exp() * mean)
            self.net.backend.offer(self.net.new_frame(None, BROADCAST, 6, None))


@register_peer("ping")
def _build_ping(ctx: PeerContext) -> PingProber:
    return PingProber(ctx.env, ctx.cfg.workload, ctx.net, ctx.counters, ctx.ticks)


@register_peer("lan")
def _build_lan(ctx: PeerContext) -> LanBackground:
    return LanBackground(ctx.env, ctx.cfg.workload, ctx.net, Draws(ctx.streams["workload.lan"]))
