"""Split virtqueue bookkeeping with EVENT_IDX notification suppression.

What it models
--------------
The split virtqueue of VIRTIO 1.x (``VIRTIO.md`` §1.1–1.5) as seen by a driver and a device
that share it:

* **Free-running 16-bit indices.** ``avail_idx``, ``last_avail_idx``, ``used_idx`` and
  ``last_used_idx`` count modulo 2^16, exactly like the fields in guest memory, so wrap-around
  bugs and the "``used_event`` left behind the device" lost wake-up can be reproduced.
* **Single-descriptor buffers**, as Nanos posts them for RX with ``VIRTIO_F_ANY_LAYOUT``: each
  buffer takes one descriptor and is named by a caller-chosen hashable id.
* **An in-order device**: it takes buffers from the avail ring in the order they were posted.
  The used ring is FIFO too: the driver reads completions in the order the device published them.
* **Notification suppression in both directions**, in EVENT_IDX mode (``used_event`` /
  ``avail_event`` with the ``vring_need_event`` crossing test) or in flags mode
  (``VIRTQ_AVAIL_F_NO_INTERRUPT`` / ``VIRTQ_USED_F_NO_NOTIFY``).

The class only keeps state and answers "should I notify?"; it never blocks and has no notion of
time. Whoever calls it (driver and host models) decides when things happen.

What it leaves out
------------------
Packed rings, indirect descriptors and descriptor chains, and the memory-ordering delays of the
index and event stores (every store is visible to the other side at once). The ordering races
vnetsim studies live in the driver's reassembly state, not in the ring, so modelling barriers
here would add cost without adding the mechanism of interest.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable
from typing import Generic, TypeVar

from mypy_extensions import mypyc_attr

__all__ = [
    "MAX_QUEUE_SIZE",
    "U16",
    "SplitVirtqueue",
    "VirtqueueError",
    "vring_need_event",
]

U16 = 0x10000
"""Modulus of the free-running ring indices (they are 16-bit fields in guest memory)."""

MAX_QUEUE_SIZE = 32768
"""Largest split-ring size the spec allows; it keeps full and empty distinguishable in 16 bits."""

_MASK = U16 - 1


def vring_need_event(event_idx: int, new_idx: int, old_idx: int) -> bool:
    """Return whether moving an index from ``old_idx`` to ``new_idx`` crosses ``event_idx``.

    This is the spec's crossing test: notify iff ``event_idx`` lies in the half-open window
    ``[old_idx, new_idx)`` modulo 2^16, i.e. iff
    ``(new - event - 1) mod 2^16 < (new - old) mod 2^16``.

    Parameters
    ----------
    event_idx : int
        The other side's event index (``used_event`` or ``avail_event``).
    new_idx : int
        Index value after the update.
    old_idx : int
        Index value at the last notification decision.

    Returns
    -------
    bool
        True if a notification is needed.

    Examples
    --------
    >>> vring_need_event(65535, 1, 65534)
    True
    """
    return ((new_idx - event_idx - 1) & _MASK) < ((new_idx - old_idx) & _MASK)


BufId = TypeVar("BufId", bound=Hashable)  # the model uses int buffer ids


@mypyc_attr(native_class=False)  # mypyc: a native class cannot inherit from RuntimeError
class VirtqueueError(RuntimeError):
    """A side broke the virtqueue protocol.

    Raised for posting with no free descriptor or posting an id that is still outstanding, the
    device taking from an empty avail ring, pushing a used id the device does not hold, and
    broken conservation found by :meth:`SplitVirtqueue.check_invariants`.
    """


class SplitVirtqueue(Generic[BufId]):
    """One split virtqueue shared by a driver and an in-order device.

    Parameters
    ----------
    size : int
        Queue size ``Q`` (number of descriptors): a power of two in [1, 32768].
    event_idx : bool, default True
        Whether VIRTIO_F_EVENT_IDX is negotiated. If False, suppression uses the ring flags.
    start_idx : int, default 0
        Initial value (0..65535) of all four ring indices and both event indices. Real queues start
        at 0; tests use values near 65535 to exercise the 16-bit wrap cheaply.

    Attributes
    ----------
    size : int
        Queue size ``Q``.
    event_idx : bool
        EVENT_IDX mode (True) or flags mode (False).
    avail_idx : int
        Driver's free-running u16 shadow of ``avail.idx``.
    last_avail_idx : int
        Device's u16 count of avail entries it has taken.
    used_idx : int
        Device's u16 ``used.idx``.
    last_used_idx : int
        Driver's u16 count of used entries it has consumed.
    used_event : int
        u16 event index written by the driver (EVENT_IDX): the device interrupts when it publishes
        the used entry at this index.
    avail_event : int
        u16 event index written by the device (EVENT_IDX): the driver kicks when it publishes the
        avail entry at this index.
    avail_flags_no_interrupt : bool
        ``VIRTQ_AVAIL_F_NO_INTERRUPT`` in ``avail.flags`` (flags mode only).
    used_flags_no_notify : bool
        ``VIRTQ_USED_F_NO_NOTIFY`` in ``used.flags`` (flags mode only).
    num_free : int
        Driver's count of free descriptors.
    avail_ring : collections.deque
        Buffer ids published in the avail ring and not yet taken by the device, oldest first.
    used_ring : collections.deque
        ``(buffer id, written length)`` pairs published in the used ring and not yet consumed by
        the driver, oldest first.

    Examples
    --------
    >>> vq = SplitVirtqueue(4)
    >>> vq.add_buf(7); vq.push_used(vq.pop_avail(), 60); vq.get_used()
    (7, 60)
    """

    __slots__ = (
        "_outstanding",
        "_taken",
        "avail_event",
        "avail_flags_no_interrupt",
        "avail_idx",
        "avail_ring",
        "event_idx",
        "last_avail_idx",
        "last_used_idx",
        "num_free",
        "size",
        "used_event",
        "used_flags_no_notify",
        "used_idx",
        "used_ring",
    )

    # ``size`` and ``start_idx`` are checked here, so they are typed ``object``: compiled
    # (mypyc), an ``int`` parameter would turn ``True`` into 1 and refuse 2.0 with a TypeError.
    def __init__(self, size: object, *, event_idx: bool = True, start_idx: object = 0) -> None:
        if (
            isinstance(size, bool)
            or not isinstance(size, int)
            or not 1 <= size <= MAX_QUEUE_SIZE
            or size & (size - 1)
        ):
            raise ValueError(
                f"virtqueue.ring_size must be a power of two in [1, {MAX_QUEUE_SIZE}], got {size!r}"
            )
        if (
            isinstance(start_idx, bool)
            or not isinstance(start_idx, int)
            or not 0 <= start_idx < U16
        ):
            raise ValueError(f"virtqueue.start_idx must be an int in [0, 65535], got {start_idx!r}")
        self.size: int = size
        self.event_idx: bool = bool(event_idx)
        self.avail_idx: int = start_idx
        self.last_avail_idx: int = start_idx
        self.used_idx: int = start_idx
        self.last_used_idx: int = start_idx
        self.used_event: int = start_idx
        self.avail_event: int = start_idx
        self.avail_flags_no_interrupt: bool = False
        self.used_flags_no_notify: bool = False
        self.num_free: int = size
        self.avail_ring: deque[BufId] = deque()
        self.used_ring: deque[tuple[BufId, int]] = deque()
        # Ids posted and not yet returned by get_used (avail ring, device, used ring): catches a
        # driver that reposts a buffer it still has in flight.
        self._outstanding: set[BufId] = set()
        # Ids the device has taken but not yet published as used (e.g. mid-copy).
        self._taken: set[BufId] = set()

    def __repr__(self) -> str:
        mode = "event_idx" if self.event_idx else "flags"
        return (
            f"SplitVirtqueue(size={self.size}, {mode}, avail_idx={self.avail_idx}, "
            f"last_avail_idx={self.last_avail_idx}, used_idx={self.used_idx}, "
            f"last_used_idx={self.last_used_idx}, num_free={self.num_free})"
        )

    # ------------------------------------------------------------------ driver side

    def add_buf(self, buf_id: BufId) -> None:
        """Post one single-descriptor buffer and publish it in the avail ring.

        Parameters
        ----------
        buf_id : hashable
            Caller-chosen id; it must not be outstanding.

        Raises
        ------
        VirtqueueError
            If no descriptor is free or ``buf_id`` is already outstanding.
        """
        if self.num_free == 0:
            raise VirtqueueError(f"add_buf({buf_id!r}): no free descriptor (size {self.size})")
        if buf_id in self._outstanding:
            raise VirtqueueError(f"add_buf({buf_id!r}): buffer is already outstanding")
        self.num_free -= 1
        self._outstanding.add(buf_id)
        self.avail_ring.append(buf_id)
        self.avail_idx = (self.avail_idx + 1) & _MASK

    def kick_prepare(self, old_avail_idx: int) -> bool:
        """Decide whether the driver must kick after publishing since ``old_avail_idx``.

        Parameters
        ----------
        old_avail_idx : int
            ``avail_idx`` at the driver's previous kick decision.

        Returns
        -------
        bool
            EVENT_IDX: whether ``avail_event`` lies in ``[old_avail_idx, avail_idx)``.
            Flags mode: whether the device has not set ``VIRTQ_USED_F_NO_NOTIFY``.
        """
        if self.event_idx:
            return vring_need_event(self.avail_event, self.avail_idx, old_avail_idx)
        return not self.used_flags_no_notify

    def get_used(self) -> tuple[BufId, int] | None:
        """Consume the oldest used entry and free its descriptor.

        Returns
        -------
        tuple of (hashable, int) or None
            ``(buffer id, written length)``, or None if the used ring is empty (like Linux's
            ``virtqueue_get_buf`` returning NULL; a driver loop stops on it).
        """
        if not self.used_ring:
            return None
        entry = self.used_ring.popleft()
        self._outstanding.discard(entry[0])
        self.last_used_idx = (self.last_used_idx + 1) & _MASK
        self.num_free += 1
        return entry

    def used_pending(self) -> int:
        """Return the number of used entries the driver has not consumed (u16 difference)."""
        return (self.used_idx - self.last_used_idx) & _MASK

    def enable_cb(self) -> int:
        """Re-arm used-buffer notifications (interrupts).

        EVENT_IDX: ``used_event = last_used_idx``, so the next published used entry interrupts.
        Flags mode: clear ``VIRTQ_AVAIL_F_NO_INTERRUPT``.

        Returns
        -------
        int
            ``last_used_idx``, the token for :meth:`poll`, which closes the race between the
            driver's last check and re-arming.
        """
        if self.event_idx:
            self.used_event = self.last_used_idx
        else:
            self.avail_flags_no_interrupt = False
        return self.last_used_idx

    def disable_cb(self) -> None:
        """Advise the device not to interrupt.

        Flags mode sets ``VIRTQ_AVAIL_F_NO_INTERRUPT``. EVENT_IDX mode does nothing, as in Nanos:
        once ``used_event`` has been crossed the device stays quiet until it is re-armed anyway.
        """
        if not self.event_idx:
            self.avail_flags_no_interrupt = True

    def poll(self, token: int) -> bool:
        """Return True if the device published used entries since ``token`` was taken."""
        return self.used_idx != token

    # ------------------------------------------------------------------ device side

    def avail_pending(self) -> int:
        """Return the number of avail entries the device has not taken (u16 difference)."""
        return (self.avail_idx - self.last_avail_idx) & _MASK

    def pop_avail(self) -> BufId:
        """Take the oldest buffer from the avail ring.

        Returns
        -------
        hashable
            The buffer id, now held by the device until :meth:`push_used`.

        Raises
        ------
        VirtqueueError
            If the avail ring is empty.
        """
        if not self.avail_ring:
            raise VirtqueueError("pop_avail: avail ring is empty")
        buf_id = self.avail_ring.popleft()
        self._taken.add(buf_id)
        self.last_avail_idx = (self.last_avail_idx + 1) & _MASK
        return buf_id

    def push_used(self, buf_id: BufId, length: int) -> None:
        """Publish a held buffer in the used ring.

        Parameters
        ----------
        buf_id : hashable
            A buffer previously returned by :meth:`pop_avail` and not yet pushed.
        length : int
            Bytes written into the buffer (the used element's ``len``), >= 0.

        Raises
        ------
        VirtqueueError
            If the device does not hold ``buf_id`` or ``length`` is negative.
        """
        if buf_id not in self._taken:
            raise VirtqueueError(f"push_used({buf_id!r}): buffer is not held by the device")
        if length < 0:
            raise VirtqueueError(f"push_used({buf_id!r}): negative length {length}")
        self._taken.remove(buf_id)
        self.used_ring.append((buf_id, length))
        self.used_idx = (self.used_idx + 1) & _MASK

    def need_notify(self, old_used_idx: int) -> bool:
        """Decide whether the device must interrupt after publishing since ``old_used_idx``.

        Parameters
        ----------
        old_used_idx : int
            ``used_idx`` at the device's previous notification decision (vhost's
            ``signalled_used``).

        Returns
        -------
        bool
            EVENT_IDX: whether ``used_event`` lies in ``[old_used_idx, used_idx)``.
            Flags mode: whether the driver has not set ``VIRTQ_AVAIL_F_NO_INTERRUPT``.
        """
        if self.event_idx:
            return vring_need_event(self.used_event, self.used_idx, old_used_idx)
        return not self.avail_flags_no_interrupt

    def enable_notify(self) -> None:
        """Ask the driver for kicks.

        EVENT_IDX: ``avail_event = last_avail_idx``, so the next published avail entry kicks.
        Flags mode: clear ``VIRTQ_USED_F_NO_NOTIFY``.
        """
        if self.event_idx:
            self.avail_event = self.last_avail_idx
        else:
            self.used_flags_no_notify = False

    def disable_notify(self) -> None:
        """Advise the driver not to kick.

        Flags mode sets ``VIRTQ_USED_F_NO_NOTIFY``. EVENT_IDX mode does nothing, as in vhost:
        ``avail_event`` is left behind, so kicks stop once the driver has crossed it.
        """
        if not self.event_idx:
            self.used_flags_no_notify = True

    # ------------------------------------------------------------------ accounting

    def in_device(self) -> int:
        """Return the number of buffers posted but not yet used.

        That is the avail entries not yet taken plus the buffers the device holds; with a device
        that pushes in the same step as it pops, it equals :meth:`avail_pending`.
        """
        return ((self.avail_idx - self.last_avail_idx) & _MASK) + len(self._taken)

    def in_used(self) -> int:
        """Return the number of used entries the driver has not consumed."""
        return (self.used_idx - self.last_used_idx) & _MASK

    def check_invariants(self) -> None:
        """Check descriptor conservation and that ring contents match the indices.

        Raises
        ------
        VirtqueueError
            If ``num_free + avail_pending + held + used_pending != size``, the outstanding ids
            do not match those counts, or a ring's length disagrees with its index difference.
        """
        avail = self.avail_pending()
        used = self.used_pending()
        held = len(self._taken)
        total = self.num_free + avail + held + used
        if total != self.size:
            raise VirtqueueError(
                f"descriptor conservation broken: free {self.num_free} + avail {avail} + "
                f"held {held} + used {used} = {total} != size {self.size}"
            )
        if len(self._outstanding) != avail + held + used:
            raise VirtqueueError(
                f"{len(self._outstanding)} ids outstanding but avail {avail} + held {held} + "
                f"used {used} = {avail + held + used}"
            )
        if len(self.avail_ring) != avail:
            raise VirtqueueError(
                f"avail ring holds {len(self.avail_ring)} entries but avail_idx - last_avail_idx"
                f" = {avail}"
            )
        if len(self.used_ring) != used:
            raise VirtqueueError(
                f"used ring holds {len(self.used_ring)} entries but used_idx - last_used_idx"
                f" = {used}"
            )
