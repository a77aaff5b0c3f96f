"""The guest's posts to the RX virtqueue: held until the device's clock reaches them.

A refill or re-push computed ahead of the clock must reach the avail ring only when ``flush`` is
called at or after its time, in time order (ties in post order), so the device never takes a
buffer before the guest posted it.
"""

from __future__ import annotations

import pytest

from vnetsim.virtio.rxring import RxRing
from vnetsim.virtio.virtqueue import SplitVirtqueue


@pytest.fixture
def ring() -> RxRing:
    return RxRing(SplitVirtqueue(8))


def test_a_post_reaches_the_virtqueue_only_when_flushed_at_or_after_its_time(ring: RxRing) -> None:
    ring.post(2e-6, 7)
    assert ring.vq.avail_pending() == 0  # posting alone does not publish
    assert ring.next_post_time() == 2e-6
    assert ring.flush(1.999e-6) == 0
    assert ring.vq.avail_pending() == 0
    assert ring.pending_count() == 1
    assert ring.flush(2e-6) == 1  # at exactly its time
    assert list(ring.vq.avail_ring) == [7]
    assert ring.pending_count() == 0
    assert ring.next_post_time() is None
    assert ring.flush(1.0) == 0


def test_flush_publishes_in_time_order_with_ties_in_post_order(ring: RxRing) -> None:
    for t, buf in [(3.0, 30), (1.0, 10), (2.0, 20), (1.0, 11), (5.0, 50)]:
        ring.post(t, buf)
    assert ring.next_post_time() == 1.0
    assert ring.flush(2.0) == 3
    assert list(ring.vq.avail_ring) == [10, 11, 20]
    assert ring.next_post_time() == 3.0
    assert ring.flush(4.0) == 1
    assert list(ring.vq.avail_ring) == [10, 11, 20, 30]
    assert ring.pending_count() == 1


def test_the_device_takes_flushed_buffers_in_time_order(ring: RxRing) -> None:
    ring.post(2.0, 1)
    ring.post(1.0, 2)
    ring.flush(2.0)
    assert [ring.vq.pop_avail(), ring.vq.pop_avail()] == [2, 1]


def test_free_slots_count_pending_posts_as_taken(ring: RxRing) -> None:
    assert ring.free_slots() == 8
    ring.post(1.0, 0)
    ring.post(2.0, 1)
    assert ring.free_slots() == 6  # 8 free descriptors, 2 promised to pending posts
    ring.flush(1.0)
    assert ring.vq.num_free == 7
    assert ring.free_slots() == 6  # moving a post into the ring does not change the total
    ring.flush(2.0)
    assert ring.vq.num_free == 6
    assert ring.free_slots() == 6


def test_the_post_waiter_is_called_once_by_the_next_post(ring: RxRing) -> None:
    calls: list[int] = []

    def waiter() -> None:
        calls.append(ring.pending_count())

    ring.post_waiter = waiter
    ring.post(5.0, 3)
    assert calls == [1]  # called after the post is recorded (so it can read its time)
    assert ring.post_waiter is None
    ring.post(6.0, 4)
    assert calls == [1]  # one-shot
