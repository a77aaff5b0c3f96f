"""Frames the host hands to the guest, as the model sees them (foundation layer).

A frame is what vhost takes from the tap in one piece: a plain segment or a GSO/GRO super-frame.
``size`` is its length in bytes without the 12-byte virtio-net header. The driver sees buffers,
not frames; each used buffer is a (buffer id, frame, position) triple, position 0 being the
buffer that holds the real virtio-net header.
"""

from __future__ import annotations

from typing import Any, Final

VNET_HDR_BYTES: Final = 12
MRG_BUFFER_BYTES: Final = 1536  # pad8(12 + 14 + 4 + 1500)
BIG_BUFFER_BYTES: Final = 65528  # TSO without MRG_RXBUF, 0.1.50+
XPBUF_BYTES: Final = 88
ETH_TCP_IP_BYTES: Final = 54  # 14 Ethernet + 20 IPv4 + 20 TCP
MSS_BYTES: Final = 1460


# Frame kinds (ints: compared in the hot path).
HTTP_REQUEST: Final = 0
REDIS_REPLY: Final = 1
TCP_ACK: Final = 2
TCP_SYN: Final = 3
TCP_RST: Final = 4
ICMP_ECHO: Final = 5
BROADCAST: Final = 6
KIND_NAMES: Final = (
    "http_request",
    "redis_reply",
    "tcp_ack",
    "tcp_syn",
    "tcp_rst",
    "icmp_echo",
    "broadcast",
)


class Frame:
    """One frame offered to the guest."""

    __slots__ = ("fid", "flow", "kind", "meta", "nbuf", "size", "t_offered", "text")

    def __init__(
        self,
        fid: int,
        flow: Any,
        kind: int,
        size: int,
        t_offered: float,
        text: bool,
        meta: Any = None,
    ) -> None:
        self.fid = fid
        self.flow = flow  # the host sender (for autocork and retransmission), or None
        self.kind = kind
        self.size = size
        self.t_offered = t_offered
        self.text = text  # payload bytes are printable ASCII (HTTP/JSON, RESP)
        self.meta = meta  # workload payload: list of requests, reply count, ...
        self.nbuf = 1

    def __repr__(self) -> str:
        return f"Frame({self.fid}, {KIND_NAMES[self.kind]}, {self.size} B, {self.nbuf} buf)"


def buffers_needed(size: int, buffer_bytes: int) -> int:
    """Buffers a frame of ``size`` bytes fills: ceil((size + 12) / buffer length)."""
    return -(-(size + VNET_HDR_BYTES) // buffer_bytes)
