"""vnetsim.virtio.virtqueue: crossing test, 16-bit wrap, suppression, errors, conservation."""

from __future__ import annotations

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from vnetsim.virtio.virtqueue import (
    MAX_QUEUE_SIZE,
    U16,
    SplitVirtqueue,
    VirtqueueError,
    vring_need_event,
)

# --------------------------------------------------------------------------- vring_need_event


@pytest.mark.parametrize(
    ("event", "new", "old", "expected"),
    [
        (0, 0, 0, False),  # no movement never notifies
        (0, 1, 0, True),  # event is the first entry of [0, 1)
        (1, 1, 0, False),  # event == new is just outside [old, new)
        (5, 9, 3, True),  # inside the window
        (3, 9, 3, True),  # event == old is inside
        (2, 9, 3, False),  # just below old
        (9, 9, 3, False),  # just above new - 1
        (65535, 1, 65534, True),  # window [65534, 1) crosses the wrap
        (0, 1, 65534, True),
        (65534, 1, 65534, True),
        (1, 1, 65534, False),  # just outside, after the wrap
        (65533, 1, 65534, False),  # just outside, before the wrap
        (10, 50, 60000, True),  # long window [60000, 50) across the wrap
        (50, 50, 60000, False),  # event == new
        (59999, 50, 60000, False),  # just below old
        (100, 50, 60000, False),  # well outside the window
    ],
)
def test_vring_need_event_truth_table(event: int, new: int, old: int, expected: bool) -> None:
    assert vring_need_event(event, new, old) is expected


def test_vring_need_event_with_used_event_zero_notifies_on_first_buffer_then_only_after_wrap() -> (
    None
):
    # Spec example: used_event = 0 and the device publishes one buffer at a time starting from
    # used.idx = 0. Only the moves off index 0 (mod 2^16) cross the event.
    notified_at = [old for old in range(U16 + 2) if vring_need_event(0, (old + 1) % U16, old % U16)]
    assert notified_at == [0, U16]


# --------------------------------------------------------------------------- 16-bit wrap


def test_indices_wrap_to_small_numbers_and_ids_stay_fifo_across_16_bit_wrap() -> None:
    vq = SplitVirtqueue(8, start_idx=65530)
    batches = [3, 5, 1, 8, 2, 1]  # 20 buffers in all
    # Cumulative counts 3, 8, 9, 17, 19, 20 from 65530, written out to pin the wrap.
    expected_idx = [65533, 2, 3, 11, 13, 14]
    next_id = 0
    popped: list[int] = []
    got: list[tuple[int, int]] = []
    for batch, idx in zip(batches, expected_idx, strict=True):
        for _ in range(batch):
            vq.add_buf(next_id)
            next_id += 1
        assert vq.avail_idx == idx
        assert vq.num_free == 8 - batch
        assert vq.avail_pending() == batch
        batch_ids = [vq.pop_avail() for _ in range(batch)]
        popped += batch_ids
        assert vq.last_avail_idx == idx
        assert vq.avail_pending() == 0
        for buf_id in batch_ids:
            vq.push_used(buf_id, 1000 + buf_id)
        assert vq.used_idx == idx
        assert vq.used_pending() == batch
        for _ in range(batch):
            entry = vq.get_used()
            assert entry is not None
            got.append(entry)
        assert vq.last_used_idx == idx
        assert vq.num_free == 8
        vq.check_invariants()
    assert popped == list(range(20))
    assert got == [(i, 1000 + i) for i in range(20)]


def test_pipelined_batches_keep_modular_counts_across_wrap() -> None:
    vq = SplitVirtqueue(8, start_idx=65533)
    for i in range(6):
        vq.add_buf(i)
    assert vq.avail_idx == 3
    for _ in range(4):
        vq.push_used(vq.pop_avail(), 64)
    assert (vq.last_avail_idx, vq.used_idx) == (1, 1)
    assert vq.in_device() == 2
    assert vq.in_used() == 4
    assert [vq.get_used() for _ in range(3)] == [(0, 64), (1, 64), (2, 64)]
    assert vq.last_used_idx == 0
    for i in range(6, 11):
        vq.add_buf(i)
    assert vq.avail_idx == 8
    assert vq.num_free == 0
    assert vq.in_device() + vq.in_used() == 8
    vq.check_invariants()
    assert [vq.pop_avail() for _ in range(7)] == [4, 5, 6, 7, 8, 9, 10]


# --------------------------------------------------------------------------- suppression


def _complete(vq: SplitVirtqueue, n: int) -> None:
    for _ in range(n):
        vq.push_used(vq.pop_avail(), 60)


def test_event_idx_notifies_once_per_batch_after_enable_cb_and_not_again_until_rearmed() -> None:
    vq = SplitVirtqueue(16)
    for i in range(16):
        vq.add_buf(i)
    token = vq.enable_cb()
    assert token == 0
    assert vq.used_event == 0
    old = vq.used_idx
    _complete(vq, 3)
    assert vq.need_notify(old) is True  # batch [0, 3) spans used_event = 0
    old = vq.used_idx
    _complete(vq, 2)
    assert vq.need_notify(old) is False  # [3, 5) does not
    old = vq.used_idx
    _complete(vq, 1)
    assert vq.need_notify(old) is False
    # Driver drains and re-arms: the next publication interrupts again.
    while vq.get_used() is not None:
        pass
    assert vq.enable_cb() == 6
    assert vq.used_event == 6
    old = vq.used_idx
    _complete(vq, 1)
    assert vq.need_notify(old) is True


def test_event_idx_per_push_decisions_fire_only_on_the_entry_at_used_event() -> None:
    vq = SplitVirtqueue(8)
    for i in range(8):
        vq.add_buf(i)
    decisions = []
    for _ in range(8):
        old = vq.used_idx
        _complete(vq, 1)
        decisions.append(vq.need_notify(old))
    assert decisions == [True] + [False] * 7


def test_event_idx_rearm_near_wrap_is_crossed_by_batch_that_wraps() -> None:
    vq = SplitVirtqueue(8, start_idx=65534)
    for i in range(4):
        vq.add_buf(i)
    assert vq.enable_cb() == 65534
    old = vq.used_idx
    _complete(vq, 4)
    assert vq.used_idx == 2
    assert vq.need_notify(old) is True
    assert vq.need_notify(vq.used_idx) is False


def test_enable_cb_with_unconsumed_entries_arms_at_last_used_idx_not_used_idx() -> None:
    # Re-arming behind the device (used entries still pending) puts used_event in the past:
    # later publications do not cross it, which is the lost-wakeup that poll(token) exists for.
    vq = SplitVirtqueue(8)
    for i in range(4):
        vq.add_buf(i)
    _complete(vq, 3)
    assert vq.get_used() == (0, 60)
    token = vq.enable_cb()
    assert (token, vq.used_event) == (1, 1)
    assert vq.poll(token) is True
    old = vq.used_idx
    _complete(vq, 1)
    assert vq.need_notify(old) is False


def test_event_idx_disable_cb_changes_nothing() -> None:
    vq = SplitVirtqueue(4)
    vq.enable_cb()
    vq.disable_cb()
    assert vq.used_event == 0
    assert vq.avail_flags_no_interrupt is False
    vq.add_buf("a")
    old = vq.used_idx
    _complete(vq, 1)
    assert vq.need_notify(old) is True


def test_flags_mode_disable_cb_suppresses_and_enable_cb_rearms_interrupts() -> None:
    vq = SplitVirtqueue(8, event_idx=False)
    for i in range(8):
        vq.add_buf(i)
    old = vq.used_idx
    _complete(vq, 1)
    assert vq.need_notify(old) is True  # flags = 0: notify after every used write
    vq.disable_cb()
    assert vq.avail_flags_no_interrupt is True
    old = vq.used_idx
    _complete(vq, 2)
    assert vq.need_notify(old) is False
    assert vq.get_used() == (0, 60)
    token = vq.enable_cb()
    assert token == vq.last_used_idx == 1
    assert vq.avail_flags_no_interrupt is False
    assert vq.used_event == 0  # flags mode leaves the event index alone
    old = vq.used_idx
    _complete(vq, 1)
    assert vq.need_notify(old) is True


def test_poll_reports_completions_published_after_token() -> None:
    vq = SplitVirtqueue(4)
    vq.add_buf(1)
    vq.add_buf(2)
    token = vq.enable_cb()
    assert vq.poll(token) is False
    _complete(vq, 1)
    assert vq.poll(token) is True
    vq.get_used()
    assert vq.poll(vq.enable_cb()) is False


def test_poll_compares_tokens_modulo_wrap() -> None:
    vq = SplitVirtqueue(4, start_idx=65535)
    vq.add_buf(0)
    token = vq.enable_cb()
    assert token == 65535
    _complete(vq, 1)
    assert vq.used_idx == 0
    assert vq.poll(token) is True


def test_kick_prepare_uses_avail_event_crossing() -> None:
    vq = SplitVirtqueue(8)
    assert vq.avail_event == 0
    vq.add_buf(0)
    assert vq.kick_prepare(0) is True  # avail_event 0 in [0, 1)
    vq.add_buf(1)
    vq.add_buf(2)
    assert vq.kick_prepare(1) is False  # 0 not in [1, 3)
    assert vq.kick_prepare(vq.avail_idx) is False  # nothing new since the last decision


def test_enable_notify_sets_avail_event_to_last_avail_idx_so_next_post_kicks() -> None:
    vq = SplitVirtqueue(8, start_idx=65535)
    vq.add_buf(0)
    vq.add_buf(1)
    vq.pop_avail()
    vq.pop_avail()
    old = vq.avail_idx
    vq.add_buf(2)
    assert vq.kick_prepare(old) is False  # avail_event still 65535, behind the window
    vq.enable_notify()
    assert vq.avail_event == 1 == vq.last_avail_idx
    vq.add_buf(3)
    assert vq.kick_prepare(old) is True  # [1, 3) contains 1
    vq.disable_notify()  # EVENT_IDX: no change
    assert vq.avail_event == 1
    assert vq.used_flags_no_notify is False


def test_flags_mode_kick_follows_used_no_notify_flag() -> None:
    vq = SplitVirtqueue(4, event_idx=False)
    vq.add_buf(0)
    assert vq.kick_prepare(0) is True
    vq.disable_notify()
    assert vq.used_flags_no_notify is True
    vq.add_buf(1)
    assert vq.kick_prepare(1) is False
    vq.enable_notify()
    assert vq.used_flags_no_notify is False
    assert vq.avail_event == 0
    assert vq.kick_prepare(1) is True


# --------------------------------------------------------------------------- errors


def test_add_buf_on_full_ring_raises_and_leaves_state_unchanged() -> None:
    vq = SplitVirtqueue(2)
    vq.add_buf(0)
    vq.add_buf(1)
    with pytest.raises(VirtqueueError, match="no free descriptor"):
        vq.add_buf(2)
    assert (vq.avail_idx, vq.num_free, list(vq.avail_ring)) == (2, 0, [0, 1])


def test_add_buf_of_outstanding_id_raises() -> None:
    vq = SplitVirtqueue(4)
    vq.add_buf("x")
    vq.push_used(vq.pop_avail(), 10)
    with pytest.raises(VirtqueueError, match="already outstanding"):
        vq.add_buf("x")  # still in the used ring
    assert vq.get_used() == ("x", 10)
    vq.add_buf("x")  # back with the driver, may be reposted
    assert vq.avail_pending() == 1


def test_pop_avail_on_empty_ring_raises() -> None:
    vq = SplitVirtqueue(4, start_idx=65535)
    with pytest.raises(VirtqueueError, match="avail ring is empty"):
        vq.pop_avail()
    assert vq.last_avail_idx == 65535


def test_get_used_on_empty_ring_returns_none_and_changes_nothing() -> None:
    vq = SplitVirtqueue(4)
    vq.add_buf(0)
    vq.pop_avail()
    assert vq.get_used() is None
    assert (vq.last_used_idx, vq.num_free) == (0, 3)


@pytest.mark.parametrize("bad_id", [99, 0])
def test_push_used_of_id_not_held_by_device_raises(bad_id: int) -> None:
    vq = SplitVirtqueue(4)
    vq.add_buf(0)  # posted but not taken, so the device does not hold it either
    with pytest.raises(VirtqueueError, match="not held by the device"):
        vq.push_used(bad_id, 10)
    assert vq.used_idx == 0


def test_push_used_with_negative_length_raises_and_keeps_buffer_held() -> None:
    vq = SplitVirtqueue(4)
    vq.add_buf(0)
    vq.pop_avail()
    with pytest.raises(VirtqueueError, match="negative length"):
        vq.push_used(0, -1)
    vq.push_used(0, 0)
    assert vq.get_used() == (0, 0)


def test_push_used_twice_raises() -> None:
    vq = SplitVirtqueue(4)
    vq.add_buf(0)
    vq.push_used(vq.pop_avail(), 10)
    with pytest.raises(VirtqueueError, match="not held by the device"):
        vq.push_used(0, 10)
    assert vq.used_idx == 1


@pytest.mark.parametrize("size", [0, 3, 65536, -4, 48, 2.0, True])
def test_bad_ring_size_raises_value_error_naming_the_field(size: object) -> None:
    with pytest.raises(ValueError, match=r"virtqueue\.ring_size"):
        SplitVirtqueue(size)  # type: ignore[arg-type]


@pytest.mark.parametrize("size", [1, 2, 256, MAX_QUEUE_SIZE])
def test_power_of_two_sizes_up_to_32768_are_accepted(size: int) -> None:
    vq = SplitVirtqueue(size)
    assert (vq.size, vq.num_free, vq.in_device(), vq.in_used()) == (size, size, 0, 0)


@pytest.mark.parametrize("start", [-1, 65536])
def test_start_idx_outside_u16_raises(start: int) -> None:
    with pytest.raises(ValueError, match=r"virtqueue\.start_idx"):
        SplitVirtqueue(4, start_idx=start)


def test_start_idx_sets_all_indices_and_event_indices() -> None:
    vq = SplitVirtqueue(4, start_idx=65530)
    assert (
        vq.avail_idx,
        vq.last_avail_idx,
        vq.used_idx,
        vq.last_used_idx,
        vq.used_event,
        vq.avail_event,
    ) == (65530,) * 6


def test_check_invariants_detects_tampered_state() -> None:
    vq = SplitVirtqueue(4)
    vq.add_buf(0)
    vq.check_invariants()
    vq.num_free += 1
    with pytest.raises(VirtqueueError, match="conservation"):
        vq.check_invariants()
    vq.num_free -= 1
    vq.avail_ring.append(5)  # ring contents without the index store
    with pytest.raises(VirtqueueError, match="avail ring holds 2"):
        vq.check_invariants()


# --------------------------------------------------------------------------- state machine


class VirtqueueMachine(RuleBasedStateMachine):
    """Drive a SplitVirtqueue against lists and unbounded counters."""

    vq: SplitVirtqueue

    @initialize(
        size=st.sampled_from([1, 2, 4, 8, 16]),
        start=st.one_of(
            st.sampled_from([0, 65520, 65530, 65535]), st.integers(min_value=0, max_value=U16 - 1)
        ),
        event_idx=st.booleans(),
    )
    def setup(self, size: int, start: int, event_idx: bool) -> None:
        self.vq = SplitVirtqueue(size, event_idx=event_idx, start_idx=start)
        self.size = size
        self.event_idx = event_idx
        # Unbounded counters; the queue's u16 indices must equal them mod 2^16.
        self.n_added = start
        self.n_popped = start
        self.n_pushed = start
        self.n_got = start
        self.used_event = start  # unbounded position of the armed event (EVENT_IDX)
        self.no_interrupt = False  # flags mode
        self.avail: list[int] = []
        self.held: list[int] = []
        self.used: list[tuple[int, int]] = []
        self.next_id = 0

    @rule()
    def add_buf(self) -> None:
        if len(self.avail) + len(self.held) + len(self.used) == self.size:
            with pytest.raises(VirtqueueError):
                self.vq.add_buf(self.next_id)
            return
        self.vq.add_buf(self.next_id)
        self.avail.append(self.next_id)
        self.next_id += 1
        self.n_added += 1

    @precondition(lambda self: self.avail or self.held or self.used)
    @rule(k=st.integers(min_value=0, max_value=63))
    def repost_outstanding_id(self, k: int) -> None:
        outstanding = self.avail + self.held + [i for i, _ in self.used]
        with pytest.raises(VirtqueueError):
            self.vq.add_buf(outstanding[k % len(outstanding)])

    @rule()
    def pop_avail(self) -> None:
        if not self.avail:
            with pytest.raises(VirtqueueError):
                self.vq.pop_avail()
            return
        buf_id = self.avail.pop(0)
        assert self.vq.pop_avail() == buf_id  # in-order device: FIFO avail ring
        self.held.append(buf_id)
        self.n_popped += 1

    @precondition(lambda self: self.held)
    @rule(k=st.integers(min_value=0, max_value=63), length=st.integers(0, 1514))
    def push_used(self, k: int, length: int) -> None:
        buf_id = self.held.pop(k % len(self.held))
        old = self.vq.used_idx
        self.vq.push_used(buf_id, length)
        self.used.append((buf_id, length))
        # The entry just written sits at unbounded index n_pushed; EVENT_IDX notifies iff that is
        # the armed event (fewer than 2^16 steps, so unbounded equality is exact).
        expected = self.n_pushed == self.used_event if self.event_idx else not self.no_interrupt
        self.n_pushed += 1
        assert self.vq.need_notify(old) is expected

    @rule()
    def push_unknown_id(self) -> None:
        with pytest.raises(VirtqueueError):
            self.vq.push_used(-1, 0)

    @rule()
    def get_used(self) -> None:
        entry = self.vq.get_used()
        if not self.used:
            assert entry is None
            return
        assert entry == self.used.pop(0)
        self.n_got += 1

    @rule()
    def enable_cb(self) -> None:
        token = self.vq.enable_cb()
        assert token == self.n_got % U16
        if self.event_idx:
            self.used_event = self.n_got
        else:
            self.no_interrupt = False
        assert self.vq.poll(token) is (self.n_pushed != self.n_got)

    @rule()
    def disable_cb(self) -> None:
        self.vq.disable_cb()
        if not self.event_idx:
            self.no_interrupt = True

    @invariant()
    def conservation_and_indices(self) -> None:
        vq = self.vq
        n_free = self.size - len(self.avail) - len(self.held) - len(self.used)
        assert vq.num_free == n_free
        assert vq.in_device() == len(self.avail) + len(self.held)
        assert vq.in_used() == len(self.used)
        assert vq.num_free + vq.in_device() + vq.in_used() == self.size
        assert list(vq.avail_ring) == self.avail
        assert list(vq.used_ring) == self.used
        assert vq.avail_idx == self.n_added % U16
        assert vq.last_avail_idx == self.n_popped % U16
        assert vq.used_idx == self.n_pushed % U16
        assert vq.last_used_idx == self.n_got % U16
        assert vq.avail_pending() == len(self.avail)
        assert vq.used_pending() == len(self.used)
        vq.check_invariants()


VirtqueueMachine.TestCase.settings = settings(
    max_examples=50, stateful_step_count=60, deadline=None
)
test_virtqueue_state_machine = VirtqueueMachine.TestCase
