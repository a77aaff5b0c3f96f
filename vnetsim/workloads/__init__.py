"""Host peers of the guest: TCP senders (``tcp``), HTTP clients, Redis servers, ping and LAN.

Importing this package registers every peer (``registry.PEERS``) in construction order.
"""

from vnetsim.workloads import http, probes, redis
from vnetsim.workloads.registry import PEERS, PeerContext, build_peers, register_peer

__all__ = ["PEERS", "PeerContext", "build_peers", "http", "probes", "redis", "register_peer"]
