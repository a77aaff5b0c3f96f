"""The RX buffer pool: finite memory, reuse before new memory, frees ahead of the clock, leaks.

Sizes by hand: one allocation is an 88-byte xpbuf plus the buffer, so 1,536-byte buffers take
1,624 bytes; 0.005 MiB is int(0.005 * 2^20) = 5,242 bytes, which holds 5,242 // 1,624 = 3 of
them (4,872 bytes).
"""

from __future__ import annotations

import pytest

from vnetsim.frames import BIG_BUFFER_BYTES, MRG_BUFFER_BYTES
from vnetsim.guest.bufpool import BufferPool


@pytest.fixture
def pool3() -> BufferPool:
    """A pool with room for exactly three 1,536-byte buffers."""
    return BufferPool(0.005, MRG_BUFFER_BYTES)


def test_capacity_is_memory_over_buffer_plus_xpbuf() -> None:
    assert BufferPool(0.005, MRG_BUFFER_BYTES).capacity == 3
    assert BufferPool(1.0, MRG_BUFFER_BYTES).capacity == 1_048_576 // 1_624 == 645
    assert BufferPool(1.0, MRG_BUFFER_BYTES).allocation_bytes == 1_624
    # TSO without mergeable buffers: 65,528 + 88 = 65,616 bytes each, 15 in 1 MiB.
    assert BufferPool(1.0, BIG_BUFFER_BYTES).capacity == 15


def test_new_memory_gives_consecutive_ids_until_exhausted_then_none_and_counts(
    pool3: BufferPool,
) -> None:
    assert [pool3.alloc(0.0) for _ in range(3)] == [0, 1, 2]
    assert pool3.live == 3
    assert pool3.alloc(0.0) is None
    assert pool3.alloc(1.0) is None
    assert pool3.alloc_failures == 2
    assert pool3.live == 3  # a failed allocation takes no memory
    assert pool3.free_count() == 0


def test_a_freed_buffer_is_reused_before_new_memory_is_taken(pool3: BufferPool) -> None:
    a, b = pool3.alloc(0.0), pool3.alloc(0.0)
    pool3.release(a, 1.0)
    assert pool3.alloc(2.0) == a  # cached, though new memory is still available
    assert pool3.live == 2
    pool3.release(b, 3.0)
    assert pool3.alloc(3.0) == b
    assert pool3.alloc(3.0) == 2  # cache empty: new memory
    assert pool3.live == 3
    assert pool3.alloc_failures == 0


def test_a_free_computed_ahead_of_the_clock_is_available_only_from_its_time(
    pool3: BufferPool,
) -> None:
    ids = [pool3.alloc(0.0) for _ in range(3)]
    pool3.release(ids[1], 5.0)
    assert pool3.free_count() == 1  # counted as free (not in use) already
    assert pool3.alloc(4.999) is None  # not yet back in the cache, and memory is exhausted
    assert pool3.alloc_failures == 1
    assert pool3.alloc(5.0) == ids[1]  # at exactly its time
    assert pool3.free_count() == 0


def test_delayed_frees_become_available_in_time_order_not_release_order(
    pool3: BufferPool,
) -> None:
    a, b, c = (pool3.alloc(0.0) for _ in range(3))
    pool3.release(a, 3.0)
    pool3.release(b, 1.0)
    pool3.release(c, 2.0)
    assert pool3.alloc(1.5) == b  # the only one freed by 1.5
    assert pool3.alloc(1.5) is None
    assert pool3.alloc(2.5) == c
    assert pool3.alloc(2.5) is None
    assert pool3.alloc(3.0) == a
    assert pool3.alloc_failures == 2
    assert pool3.live == 3


def test_leaked_buffers_are_counted_and_never_come_back(pool3: BufferPool) -> None:
    ids = [pool3.alloc(0.0) for _ in range(3)]
    pool3.leak(2)  # ids[0] and ids[1] dropped on an error path
    pool3.release(ids[2], 1.0)
    assert pool3.leaked == 2
    # Conservation as the run's check sees it: allocated = in use + free + leaked.
    in_use = 0
    assert pool3.live == in_use + pool3.free_count() + pool3.leaked
    assert pool3.alloc(2.0) == ids[2]
    assert pool3.alloc(2.0) is None  # the leaked memory is gone for good
    assert pool3.leaked == 2
    assert pool3.live == 3
