"""The registry of host peers: name -> builder, built in registration order by ``scenario``.

A peer is whatever the host runs against the guest (load generators, servers the guest writes
to, probes). Its module registers one builder, which takes a ``PeerContext`` (the run's clock,
config, random streams, counters, the host's TCP senders and the observation tick) and returns
the peer object. Registration order is construction order, and with it the order of SimPy
processes started at the same instant, so it is part of the model: new peers go at the end.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import simpy

# PeerContext's field types are imported at run time: compiled (mypyc), a dataclass evaluates
# its annotations.
from vnetsim.clock import Signal
from vnetsim.config import ScenarioConfig
from vnetsim.records import Counters
from vnetsim.rng import Streams
from vnetsim.workloads.tcp import Network


@dataclass(frozen=True, slots=True)
class PeerContext:
    """What a peer is built from."""

    env: simpy.Environment
    cfg: ScenarioConfig
    net: Network  # frame factory, autocorking senders, retransmission, the tap
    streams: Streams  # draw from your own named stream (``vnetsim.rng.STREAMS``)
    counters: Counters  # add your counters to ``records.Counters``
    ticks: Signal  # the observation tick: fired (now, ping_ok) once per ping interval


PeerBuilder = Callable[[PeerContext], object]
PEERS: dict[str, PeerBuilder] = {}


def register_peer(name: str) -> Callable[[PeerBuilder], PeerBuilder]:
    """Decorator: register ``builder`` as the peer ``name``."""

    def add(builder: PeerBuilder) -> PeerBuilder:
        if name in PEERS:
            raise ValueError(f"peer {name!r} is already registered")
        PEERS[name] = builder
        return builder

    return add


def build_peers(ctx: PeerContext) -> dict[str, object]:
    """Every registered peer, built in registration order."""
    return {name: builder(ctx) for name, builder in PEERS.items()}
