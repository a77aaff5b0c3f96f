"""The guest's side of the RX virtqueue: buffers posted at their modelled times, and used metadata.

Completions are computed ahead of the simulation clock (a vCPU's whole critical section is
resolved when it dequeues the completion), so a refill or a re-push happens at a time that may
still be in the future. ``RxRing`` keeps those posts in a heap and hands them to the virtqueue
only when the device's clock reaches them (``flush``), so the device never sees a buffer early.
It also carries, beside the used ring, which frame and position each used buffer holds, and the
buffers whose pbuf was corrupted by a late D1 store while they sat in the ring.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vnetsim.frames import Frame
    from vnetsim.virtio.virtqueue import SplitVirtqueue


class RxRing:
    """Pending posts, used-buffer metadata and D1 corruption marks of one RX queue."""

    def __init__(self, vq: SplitVirtqueue[int]) -> None:
        self.vq = vq
        self._pending: list[tuple[float, int, int]] = []  # (time, seq, buffer id)
        self._seq = 0
        self.used_meta: deque[tuple[Frame, int]] = deque()  # parallel to the used ring
        self.corrupt: set[int] = set()
        self.post_waiter: Callable[[], None] | None = None  # the device waits for a post

    def save_state(self) -> tuple[list[tuple[float, int, int]], int, set[int]]:
        return list(self._pending), self._seq, set(self.corrupt)

    def load_state(self, state: tuple[list[tuple[float, int, int]], int, set[int]]) -> None:
        self._pending, self._seq, self.corrupt = list(state[0]), state[1], set(state[2])

    def free_slots(self) -> int:
        return self.vq.num_free - len(self._pending)

    def post(self, t: float, buf: int) -> None:
        """The driver makes ``buf`` available at time ``t`` (refill or re-push)."""
        self._seq += 1
        heapq.heappush(self._pending, (t, self._seq, buf))
        waiter = self.post_waiter
        if waiter is not None:
            self.post_waiter = None
            waiter()

    def flush(self, t: float) -> int:
        """Hand every post made at or before ``t`` to the virtqueue, in time order."""
        pending = self._pending
        n = 0
        while pending and pending[0][0] <= t:
            self.vq.add_buf(heapq.heappop(pending)[2])
            n += 1
        return n

    def next_post_time(self) -> float | None:
        return self._pending[0][0] if self._pending else None

    def pending_count(self) -> int:
        return len(self._pending)
