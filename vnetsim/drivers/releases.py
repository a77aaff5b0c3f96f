"""Named records of the Nanos releases the designs model: what each negotiates, how it refills
and releases RX buffers, and in which order the stores of its critical section become visible.

Sources: MECHANISM.md §3-§5 (tags, commits and PRs are named per record). A design
(``vnetsim.drivers``) is a mechanism class plus one of these records.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RefillTraits:
    """Per-version refill and release behaviour."""

    batch_refill: bool  # fill all free entries (0.1.50+) vs one per input (0.1.49)
    repush_on_release: bool  # re-push released pbufs into the ring (0.1.50+)
    assert_on_alloc_failure: bool  # 0.1.49 asserts (kernel halt)
    big_buffers_without_mrg: bool  # 65,528-byte buffers with TSO and no MRG (0.1.50+)


@dataclass(frozen=True, slots=True)
class StoreOrder:
    """Which stores of the critical section become visible after the ticket release."""

    first_hdr_late: bool  # rx->hdr = head after rx->seqno++ (D2, first-buffer path)
    last_hdr_late: bool  # rx->hdr = 0 after rx->seqno++ (D2, last-buffer path)
    strip_late: bool  # header strip after the release (D1)


GCC11_OLD = StoreOrder(first_hdr_late=True, last_hdr_late=True, strip_late=True)
GCC12_OLD = StoreOrder(first_hdr_late=False, last_hdr_late=True, strip_late=True)
FIXED = StoreOrder(first_hdr_late=False, last_hdr_late=False, strip_late=False)


@dataclass(frozen=True, slots=True)
class Release:
    """One Nanos release of the virtio-net RX driver."""

    name: str
    summary: str
    mrg_rxbuf: bool  # negotiates VIRTIO_NET_F_MRG_RXBUF (and guest TSO)
    refill: RefillTraits
    racy: bool  # the 0.1.49-0.1.54 store order (compiler-dependent) rather than the fix

    def store_order(self, compiler: str) -> StoreOrder:
        """The store order of this release as built by ``compiler`` (``driver.compiler``)."""
        if not self.racy:
            return FIXED
        return GCC12_OLD if compiler == "gcc12" else GCC11_OLD


_ONE_PER_INPUT = RefillTraits(
    batch_refill=False,
    repush_on_release=False,
    assert_on_alloc_failure=True,
    big_buffers_without_mrg=False,
)
_BATCH_AND_REPUSH = RefillTraits(
    batch_refill=True,
    repush_on_release=True,
    assert_on_alloc_failure=False,
    big_buffers_without_mrg=True,
)

NANOS_0_1_48 = Release(
    "nanos-0.1.48",
    "no MRG_RXBUF or guest TSO negotiated (tag 0.1.48, a3745950): every buffer is a whole "
    "packet (immune)",
    mrg_rxbuf=False,
    refill=_ONE_PER_INPUT,
    racy=False,
)
NANOS_0_1_49 = Release(
    "nanos-0.1.49",
    "first release with MRG_RXBUF/TSO (630997be); refill one buffer per input, freed pbufs to "
    "the objcache, allocation failure asserts",
    mrg_rxbuf=True,
    refill=_ONE_PER_INPUT,
    racy=True,
)
NANOS_0_1_50 = Release(
    "nanos-0.1.50",
    "adds batch refill, deferred kick and re-push of released pbufs (#2002; 58456e20, 0e05fe32)",
    mrg_rxbuf=True,
    refill=_BATCH_AND_REPUSH,
    racy=True,
)
NANOS_0_1_51_TO_54 = tuple(
    Release(
        f"nanos-0.1.{minor}",
        "as 0.1.50, reassembly state per queue (multiqueue, 62182bee)",
        mrg_rxbuf=True,
        refill=_BATCH_AND_REPUSH,
        racy=True,
    )
    for minor in (51, 52, 53, 54)
)
NANOS_0_1_54 = NANOS_0_1_51_TO_54[-1]
NANOS_0_1_55 = Release(
    "nanos-0.1.55",
    "the fix (PR #2103; d39db7d8, f54e6aaf): header strip inside the critical section, barriers "
    "around the ticket; otherwise as 0.1.54",
    mrg_rxbuf=True,
    refill=_BATCH_AND_REPUSH,
    racy=False,
)

RACY_RELEASES: tuple[Release, ...] = (NANOS_0_1_49, NANOS_0_1_50, *NANOS_0_1_51_TO_54)
