"""The ping prober (one ICMP echo per ``ping_interval_s``) and LAN background broadcasts.

Neither backs off: a blackout does not silence them, so they set the floor of the inbound rate
that ends a swallow once clients have given up. The prober's tick is also where the server's
recent request rate is handed to the vCPU model (it sets how often vCPUs pass their runloops).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import simpy

from vnetsim.frames import BROADCAST, ICMP_ECHO

if TYPE_CHECKING:
    from vnetsim.config import WorkloadConfig
    from vnetsim.rng import Draws
    from vnetsim.workloads.tcp import Network


class PingProber:
    """Sends an echo request every interval; an echo counts if answered before the next."""

    def __init__(
        self,
        env: simpy.Environment,
        wl: WorkloadConfig,
        net: Network,
        on_tick: Callable[[float, bool], None],
    ) -> None:
        self.env = env
        self.net = net
        self.interval = wl.ping_interval_s
        self.on_tick = on_tick
        self.sent = 0
        self.answered_count = 0
        self._answer_time: dict[int, float] = {}
        env.process(self._run())

    def answered(self, seq: int, t: float) -> None:
        self._answer_time[seq] = t

    def _run(self) -> simpy.events.ProcessGenerator:
        env = self.env
        seq = 0
        while True:
            seq += 1
            self.sent += 1
            self.net.backend.offer(self.net.new_frame(None, ICMP_ECHO, 44, seq))
            yield env.timeout(self.interval)
            t_ans = self._answer_time.pop(seq, None)
            ok = t_ans is not None and t_ans <= env.now
            if ok:
                self.answered_count += 1
            self.on_tick(env.now, ok)


class LanBackground:
    """ARP and other broadcasts on the bridge: a Poisson stream of single small frames."""

    def __init__(
        self, env: simpy.Environment, wl: WorkloadConfig, net: Network, draws: Draws
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
