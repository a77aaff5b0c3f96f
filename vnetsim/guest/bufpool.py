"""RX buffer pool: Nanos's objcache of 1,624-byte allocations with finite memory.

Each RX allocation is an ``xpbuf`` (88 B) plus the buffer (1,536 B with mergeable buffers,
65,528 B with TSO and no mergeable buffers). Freed buffers go back to the cache and are reused
before new memory is taken. ``alloc`` returns ``None`` when memory is exhausted; what happens
then is the driver version's business (0.1.49 asserts, 0.1.50+ stops refilling).

Leaves out: the memory cleaner that trims the cache under pressure, and other kernel users of
the same heap.
"""

from __future__ import annotations

import heapq

from vnetsim.frames import XPBUF_BYTES


class BufferPool:
    """Buffer ids from finite memory; counts what it hands out."""

    __slots__ = ("_freeing", "alloc_failures", "buffer_bytes", "capacity", "free", "leaked", "live")

    def __init__(self, memory_mib: float, buffer_bytes: int) -> None:
        self.buffer_bytes = buffer_bytes
        self.capacity = int(memory_mib * 2**20) // (buffer_bytes + XPBUF_BYTES)
        self.live = 0  # buffers that exist (taken from memory)
        self.free: list[int] = []  # cached, not in use
        self._freeing: list[tuple[float, int]] = []  # frees computed ahead of the clock
        self.leaked = 0
        self.alloc_failures = 0

    def alloc(self, t: float) -> int | None:
        """A buffer at time ``t``: a cached one if any was freed by then, else new memory."""
        freeing = self._freeing
        while freeing and freeing[0][0] <= t:
            self.free.append(heapq.heappop(freeing)[1])
        if self.free:
            return self.free.pop()
        if self.live >= self.capacity:
            self.alloc_failures += 1
            return None
        self.live += 1
        return self.live - 1

    def save_state(self) -> tuple[int, list[int], list[tuple[float, int]], int, int]:
        return self.live, list(self.free), list(self._freeing), self.leaked, self.alloc_failures

    def load_state(self, state: tuple[int, list[int], list[tuple[float, int]], int, int]) -> None:
        self.live, free, freeing, self.leaked, self.alloc_failures = state
        self.free, self._freeing = list(free), list(freeing)

    def release(self, buf: int, t: float) -> None:
        """``buf`` returns to the cache at ``t`` (which may be ahead of the clock)."""
        heapq.heappush(self._freeing, (t, buf))

    def free_count(self) -> int:
        return len(self.free) + len(self._freeing)

    def leak(self, count: int) -> None:
        """Buffers dropped on an error path and never returned."""
        self.leaked += count

    @property
    def allocation_bytes(self) -> int:
        return self.buffer_bytes + XPBUF_BYTES
