"""Every registered driver design (and alias): it builds, runs a short stressed scenario with its
buffers and frames conserved, and a run is a function of its seed.

The runs come from the session's ``design_runs`` cache (conftest), so each (design, seed) is
simulated once whatever the tests that read it. The stressed scenario is ``nanos-2099`` with
16 client connections and a 0.5 s horizon; with seed 38 the racy releases go silent in a
swallow a fraction of a second in, so the matrix covers a swallow, a detected blackout and the
watchdog's resets as well as healthy runs. A watchdog test drives its two resets by hand.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from vnetsim.drivers import ALIASES, DESIGNS, get_design
from vnetsim.drivers.releases import (
    FIXED,
    GCC11_OLD,
    NANOS_0_1_48,
    NANOS_0_1_54,
    NANOS_0_1_55,
    RACY_RELEASES,
)
from vnetsim.drivers.single_buffer import SingleBufferRx
from vnetsim.drivers.ticketed import TicketedReassembly
from vnetsim.drivers.watchdog import WatchdogReassembly
from vnetsim.frames import HTTP_REQUEST, MRG_BUFFER_BYTES, Frame
from vnetsim.scenario import build, check_invariants, simulate

if TYPE_CHECKING:
    import simpy

    from vnetsim.config import ScenarioConfig
    from vnetsim.drivers import DriverParts
    from vnetsim.guest.vcpu import VCpu
    from vnetsim.records import RunResult

SEED = 38
OTHER_SEED = 1
DESIGN_NAMES = sorted(DESIGNS)
ALIAS_NAMES = sorted(ALIASES)
RELEASES = {r.name: r for r in (NANOS_0_1_48, *RACY_RELEASES, NANOS_0_1_55)}
RACY = {r.name for r in RACY_RELEASES} | {"guarded", "watchdog"}
GUARD_MAX = 43  # driver.guard_max_buffers default: the watchdog's chain limit too
NS = 1e-9


def comparable(r: RunResult, *drop: str) -> dict[str, Any]:
    """The result's fields without wall time (and ``drop``); NaN (``mechanism_onset_s`` of a run
    without a swallow) as a string, since NaN != NaN would make equal runs compare unequal."""
    d = r.to_dict(with_trace=True)
    for name in ("wall_time_s", *drop):
        d.pop(name)
    return {k: "nan" if isinstance(v, float) and math.isnan(v) else v for k, v in d.items()}


def test_the_registry_holds_the_releases_and_the_what_ifs() -> None:
    registered = sorted(DESIGNS)
    assert registered == [
        "guarded",
        *(f"nanos-0.1.{minor}" for minor in range(48, 56)),
        "watchdog",
    ]
    assert ALIASES == {"old": "nanos-0.1.54", "new": "nanos-0.1.55"}
    for alias, target in ALIASES.items():
        assert get_design(alias) is DESIGNS[target]


# =============================================================================================
# Builds
# =============================================================================================


@pytest.mark.parametrize("design", DESIGN_NAMES + ALIAS_NAMES)
def test_every_design_builds_its_driver_with_its_release_traits(
    design: str, stressed: ScenarioConfig
) -> None:
    spec = get_design(design)
    m = build(stressed.replace(driver={"design": design}), SEED)
    assert m.mrg is spec.wants_mrg_rxbuf
    assert m.tso is spec.wants_guest_tso
    assert m.pool.buffer_bytes == MRG_BUFFER_BYTES  # MRG, or neither MRG nor TSO (0.1.48)
    name = spec.name
    release = RELEASES.get(name, NANOS_0_1_54)  # the what-ifs are 0.1.54 plus a check
    driver = m.driver
    assert driver.refill == release.refill  # type: ignore[attr-defined]
    if name == "nanos-0.1.48":
        assert type(driver) is SingleBufferRx
    else:
        assert isinstance(driver, TicketedReassembly)
        assert driver.order == (GCC11_OLD if name in RACY else FIXED)  # compiler gcc11
        assert isinstance(driver, WatchdogReassembly) is (name == "watchdog")
        assert driver.guard_max == (GUARD_MAX if name == "guarded" else None)
        assert driver.chain_limit == (GUARD_MAX if name == "watchdog" else None)
    # Before the device starts: the ring is full, nothing is in flight.
    n = check_invariants(m)
    assert (n.in_ring, n.in_flight, n.free, n.frames_in_flight) == (256, 0, 0, 0)
    assert m.pool.live == 256
    assert driver.held == 0
    assert not driver.halted


# =============================================================================================
# A short stressed run per design
# =============================================================================================


@pytest.mark.parametrize("design", DESIGN_NAMES)
def test_a_short_stressed_run_conserves_every_buffer_and_frame(design: str, design_runs) -> None:
    run = design_runs.get(design, SEED)  # check_invariants raised ModelError if not
    r, n = run.result, run.census
    assert r.design == design
    assert r.frames_offered > 1_000
    assert r.frames_delivered > 0
    # Buffers: every allocated buffer is in the ring, in flight, free or leaked.
    assert run.buffers_allocated == n.in_ring + n.in_flight + n.free + run.buffers_leaked
    assert 0 <= n.in_ring <= run.ring_size
    assert min(n.in_flight, n.free) >= 0
    assert (r.buffers_allocated, r.buffers_in_ring, r.buffers_in_flight) == (
        run.buffers_allocated,
        n.in_ring,
        n.in_flight,
    )
    assert (r.buffers_free, r.buffers_leaked) == (n.free, run.buffers_leaked)
    # Frames: every offered frame is delivered, dropped, swallowed or still in flight.
    assert r.frames_in_flight == n.frames_in_flight >= 0
    assert r.frames_offered == (
        r.frames_delivered + r.frames_dropped + r.frames_swallowed + r.frames_in_flight
    )
    assert r.frames_dropped == r.frames_dropped_tap + r.frames_dropped_guest
    # The run ended where the detector says: when healthy, at the first tick (every 0.1 s)
    # after the settle time 0.5 + 0.25 + 2 * 0.1 = 0.95 s; after an outage, at the tick that
    # sees 0.25 s of silence, at most 0.35 s after the onset, which is also past the 0.25 s
    # recovery horizon.
    if r.event_observed:
        assert r.sim_time_s <= r.duration_s + 0.25 + 0.1 + 1e-9
        assert r.cause in {"swallow", "crash", "deadlock", "ring_dry", "unknown"}
    else:
        assert r.sim_time_s == pytest.approx(1.0)
    # What the design's mechanism allows.
    if design not in RACY:
        assert (r.d2_stale_reads, r.misframed_buffers, r.swallows) == (0, 0, 0)
        assert not r.event_observed
    if design == "nanos-0.1.48":
        assert r.multi_buffer_frames == 0  # no MRG, no guest TSO: MSS-sized frames only
    else:
        assert r.multi_buffer_frames > 0
    if design == "guarded":
        assert r.swallows == 0  # text payloads give V >= 8,224: always rejected
    if design == "watchdog":
        assert r.max_swallow_chain <= GUARD_MAX + 1
    else:
        assert r.watchdog_resets == 0


@pytest.mark.parametrize("design", DESIGN_NAMES)
def test_the_same_seed_gives_the_same_result(design: str, design_runs) -> None:
    first = design_runs.get(design, SEED).result
    again = simulate(design_runs.config(design), SEED)  # the public entry point, afresh
    assert comparable(again) == comparable(first)


@pytest.mark.parametrize("design", DESIGN_NAMES)
def test_a_different_seed_gives_a_different_run(design: str, design_runs) -> None:
    a = design_runs.get(design, SEED).result
    b = design_runs.get(design, OTHER_SEED).result
    assert (a.seed, b.seed) == (SEED, OTHER_SEED)
    assert comparable(a, "seed", "spawn_key") != comparable(b, "seed", "spawn_key")
    assert a.frames_offered != b.frames_offered


@pytest.mark.parametrize("alias", ALIAS_NAMES)
def test_an_alias_runs_exactly_its_design(alias: str, design_runs) -> None:
    via_alias = design_runs.get(alias, SEED).result
    direct = design_runs.get(ALIASES[alias], SEED).result
    assert via_alias.design == ALIASES[alias]
    assert comparable(via_alias) == comparable(direct)


# =============================================================================================
# The watchdog what-if
# =============================================================================================


def test_the_watchdog_resets_the_bogus_chain_the_old_driver_keeps_swallowing_into(
    design_runs,
) -> None:
    old = design_runs.get("nanos-0.1.54", SEED).result
    wd = design_runs.get("watchdog", SEED).result
    # The old driver swallows, far past any real frame's 43 buffers.
    assert old.swallows > 0
    assert old.max_swallow_chain > GUARD_MAX + 1
    assert old.watchdog_resets == 0
    # Same race (paired runs, same seed): the watchdog's first swallow is the same one...
    assert wd.mechanism_onset_s == old.mechanism_onset_s
    assert wd.swallow_v == old.swallow_v
    # ...but its chain is cut at the limit and the reassembly state reset.
    assert wd.watchdog_resets > 0
    assert wd.max_swallow_chain <= GUARD_MAX + 1


def _frame(fid: int, nbuf: int) -> Frame:
    f = Frame(fid, None, HTTP_REQUEST, 1400 * nbuf, 0.0, False, [])
    f.nbuf = nbuf
    return f


def _misframe(driver: TicketedReassembly, cpus: list[VCpu]) -> None:
    """D2-first by hand (see test_ticketed): vCPU 1 reads the continuation of a two-buffer
    frame 150 ns after vCPU 0's ticket, inside the 125 ns gap before vCPU 0's ``rx->hdr``
    store lands, and parses it as a header: a bogus head with V = int(0.5 * 65536) = 32,768."""
    p = _frame(1, 2)
    driver.process(cpus[0], 0.0, 100, p, 0)
    driver.process(cpus[1], 100 * NS, 101, p, 1)
    assert driver.c.misframed_buffers == 1


def test_the_watchdog_chain_limit_drops_a_chain_longer_than_any_real_frame(
    make_parts: Callable[..., DriverParts], cpus: list[VCpu]
) -> None:
    parts = make_parts(payload=[0.5])
    d = get_design("watchdog").factory(parts)
    assert isinstance(d, WatchdogReassembly)
    c = parts.counters
    _misframe(d, cpus)
    # Buffers 1 us apart, each a one-buffer frame, appended to the bogus chain.
    for k in range(GUARD_MAX - 1):
        d.process(cpus[2], (2000 + 1000 * k) * NS, 102 + k, _frame(2 + k, 1), 0)
    assert d.swallowing
    assert c.max_swallow_chain == GUARD_MAX  # the head plus 42 appended
    assert c.watchdog_resets == 0
    k = GUARD_MAX - 1
    d.process(cpus[2], (2000 + 1000 * k) * NS, 102 + k, _frame(2 + k, 1), 0)  # 44 > 43
    assert c.watchdog_resets == 1
    assert not d.swallowing
    assert c.max_swallow_chain == GUARD_MAX + 1
    assert c.frames_swallowed == c.buffers_swallowed == GUARD_MAX
    assert ("reset", "implausible chain") in [(e, why) for _, _, e, why in parts.trace.events]
    d.process(cpus[3], 60_000 * NS, 500, _frame(99, 1), 0)  # the next frame is delivered
    assert [fid for _, fid in parts.stack.delivered] == [99]  # type: ignore[attr-defined]
    # The orphaned real head of frame 1 leaked; every other buffer was given back.
    assert (c.orphaned_heads, d.pool.leaked) == (1, 1)
    assert d.held == 0


@pytest.mark.parametrize(("design", "resets"), [("watchdog", 1), ("nanos-0.1.54", 0)])
def test_the_stall_watchdog_resets_a_pending_bogus_head_after_half_a_second(
    make_parts: Callable[..., DriverParts],
    cpus: list[VCpu],
    env: simpy.Environment,
    design: str,
    resets: int,
) -> None:
    # Buffers were processed (at 250 ns) and nothing was delivered since t = 0. The check runs
    # every 100 ms and resets once the silence exceeds 500 ms: at 0.6 s, not at 0.5 s.
    parts = make_parts(payload=[0.5])
    d = get_design(design).factory(parts)
    _misframe(d, cpus)  # type: ignore[arg-type]
    env.run(until=0.55)
    assert parts.counters.watchdog_resets == 0
    env.run(until=0.65)
    assert parts.counters.watchdog_resets == resets
    d.process(cpus[2], 0.7, 102, _frame(2, 1), 0)
    delivered = [fid for _, fid in parts.stack.delivered]  # type: ignore[attr-defined]
    if resets:
        assert delivered == [2]  # reassembly state clean: the frame goes through
        assert ("reset", "rx stall watchdog") in [(e, w) for _, _, e, w in parts.trace.events]
        assert parts.counters.frames_swallowed == 0
    else:
        assert delivered == []  # 0.1.54 appends it to the bogus chain
        assert parts.counters.frames_swallowed == 1
        assert d.swallowing
