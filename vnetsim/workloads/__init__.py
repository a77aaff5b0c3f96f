"""Host peers of the guest: TCP senders (``tcp``), HTTP clients, Redis servers, ping and LAN.

Importing this package registers every peer (``registry.PEERS``) in construction order:
http, redis, ping, lan, as the model was built before the registry existed.
"""

# isort: off
# Import order is registration order is construction order (see registry.py): keep it, and
# put new peers last.
from vnetsim.workloads import http, redis, probes

# isort: on
from vnetsim.workloads.registry import PEERS, PeerContext, build_peers, register_peer

__all__ = ["PEERS", "PeerContext", "build_peers", "http", "probes", "redis", "register_peer"]
