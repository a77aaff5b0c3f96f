"""The outage detector's state machine, driven by hand through its observation tick.

A fake driver exposes what the detector reads (last delivery, recorded delivery gaps, halted,
swallowing); the ring is a real ``RxRing``; the tick is a ``Signal`` fired with (now, ping_ok).
Configuration: silence 2 s, horizon 10 s, recovery horizon 5 s, ping every 1 s, so a healthy
run settles at 10 + 2 + 2 * 1 = 14 s.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
import simpy

from vnetsim.clock import Signal
from vnetsim.records import Counters
from vnetsim.scenario.detector import TRANSITIONS, OutageDetector, State
from vnetsim.virtio.rxring import RxRing
from vnetsim.virtio.virtqueue import SplitVirtqueue


@dataclass
class FakeRxDriver:
    """What the detector reads of a driver."""

    last_delivery: float = 0.0
    gaps: list[tuple[float, float]] = field(default_factory=list)
    halted: bool = False
    swallowing: bool = False


class Rig:
    """A detector with its fake driver, ring, counters and tick."""

    def __init__(self, on_blackout: bool = True) -> None:
        self.env = simpy.Environment()
        self.driver = FakeRxDriver()
        self.ring = RxRing(SplitVirtqueue(4))
        self.counters = Counters()
        self.ticks = Signal()
        self.blackouts: list[float] = []
        self.det = OutageDetector(
            self.env,
            silence_s=2.0,
            horizon_s=10.0,
            recovery_horizon_s=5.0,
            ping_interval_s=1.0,
            driver=self.driver,  # type: ignore[arg-type]
            ring=self.ring,
            counters=self.counters,
            ticks=self.ticks,
            on_blackout=self.blackouts.append if on_blackout else None,
        )

    def tick(self, now: float, *, ping_ok: bool = False, arriving: bool = True) -> None:
        if arriving:
            self.counters.frames_offered += 1  # a frame reached the tap since the last tick
        self.ticks.fire(now, ping_ok)

    def black_out(self, last: float = 3.0, now: float = 6.0) -> None:
        """Deliveries stop at ``last``; the tick at ``now`` sees the silence."""
        self.driver.last_delivery = last
        self.tick(now)
        assert self.det.state is State.BLACKOUT


@pytest.fixture
def rig() -> Rig:
    return Rig()


def test_the_settle_time_is_horizon_plus_silence_plus_two_ping_intervals(rig: Rig) -> None:
    assert rig.det.settle == 14.0


def test_silence_while_frames_arrive_and_the_ping_fails_is_a_blackout_from_the_last_delivery(
    rig: Rig,
) -> None:
    rig.driver.last_delivery = 3.0
    rig.tick(4.0)
    rig.tick(5.0)  # silent for exactly 2 s: not longer than the threshold
    assert rig.det.state is State.HEALTHY
    assert rig.blackouts == []
    rig.tick(6.0)
    assert rig.det.state is State.BLACKOUT
    assert rig.det.onset == 3.0  # the last delivery, not the tick that saw the silence
    assert rig.blackouts == [6.0]  # on_blackout gets the detection time
    assert not rig.det.done.triggered


@pytest.mark.parametrize(
    ("ping_ok", "arriving"),
    [(True, True), (False, False), (True, False)],
    ids=["ping-answered", "no-frames-arriving", "both"],
)
def test_silence_alone_is_not_a_blackout(rig: Rig, ping_ok: bool, arriving: bool) -> None:
    rig.driver.last_delivery = 3.0
    rig.tick(6.0, ping_ok=ping_ok, arriving=arriving)
    rig.tick(9.0, ping_ok=ping_ok, arriving=arriving)
    assert rig.det.state is State.HEALTHY
    assert rig.det.onset is None


def test_frames_arriving_is_judged_per_tick(rig: Rig) -> None:
    rig.driver.last_delivery = 3.0
    rig.tick(6.0, ping_ok=True)  # a frame arrived, but the ping was answered
    rig.tick(7.0, arriving=False)  # ping failed, but nothing arrived since the last tick
    assert rig.det.state is State.HEALTHY
    rig.tick(8.0)
    assert rig.det.state is State.BLACKOUT
    assert rig.det.onset == 3.0


def test_recovery_is_the_first_gap_ending_after_the_onset(rig: Rig) -> None:
    rig.driver.gaps.append((0.5, 2.9))  # a gap that ended before the onset: not this outage
    rig.black_out(last=3.0, now=6.0)
    rig.tick(7.0)
    assert rig.det.state is State.BLACKOUT
    rig.driver.gaps += [(3.0, 7.5), (7.5, 9.9)]
    rig.tick(10.0)
    assert rig.det.state is State.RECOVERED
    assert rig.det.end == 7.5
    assert rig.det.done.triggered


def test_recovery_seen_on_the_detection_tick_itself(rig: Rig) -> None:
    # The delivery that ended the silence came between two ticks: the tick that detects the
    # blackout also sees its end.
    rig.driver.last_delivery = 3.0
    rig.driver.gaps.append((3.0, 5.8))
    rig.tick(6.0)
    assert rig.det.onset == 3.0
    assert rig.det.state is State.RECOVERED
    assert rig.det.end == 5.8
    assert rig.det.done.triggered


def test_without_recovery_the_run_stops_a_recovery_horizon_after_the_onset(rig: Rig) -> None:
    rig.black_out(last=3.0, now=6.0)
    rig.tick(7.9)
    assert not rig.det.done.triggered
    rig.tick(8.0)  # 3 + 5
    assert rig.det.done.triggered
    assert rig.det.state is State.BLACKOUT
    assert rig.det.end is None


def test_a_healthy_run_stops_at_the_settle_time(rig: Rig) -> None:
    for now in range(1, 14):
        rig.driver.last_delivery = now - 0.5
        rig.tick(float(now), ping_ok=True)
    assert not rig.det.done.triggered
    rig.tick(14.0, ping_ok=True)
    assert rig.det.done.triggered
    assert rig.det.state is State.HEALTHY
    assert rig.blackouts == []


def test_a_silence_that_starts_after_the_horizon_stops_the_run_without_an_outage(
    rig: Rig,
) -> None:
    rig.driver.last_delivery = 10.5  # after the 10 s horizon
    rig.tick(13.0)
    assert rig.det.done.triggered
    assert rig.det.state is State.HEALTHY
    assert rig.det.onset is None
    assert rig.blackouts == []


def test_ticks_after_the_end_change_nothing(rig: Rig) -> None:
    rig.black_out(last=3.0, now=6.0)
    rig.driver.gaps.append((3.0, 7.0))
    rig.tick(8.0)
    rig.driver.last_delivery = 30.0
    rig.tick(40.0)
    rig.tick(50.0)
    assert rig.det.state is State.RECOVERED
    assert (rig.det.onset, rig.det.end) == (3.0, 7.0)


def test_without_a_callback_a_blackout_is_still_recorded() -> None:
    rig = Rig(on_blackout=False)
    rig.black_out()
    assert rig.det.onset == 3.0


def test_the_declared_transitions_are_healthy_blackout_recovered_only() -> None:
    declared = dict(TRANSITIONS)
    assert declared == {
        State.HEALTHY: frozenset({State.BLACKOUT}),
        State.BLACKOUT: frozenset({State.RECOVERED}),
        State.RECOVERED: frozenset(),
    }


@pytest.mark.parametrize(
    ("path", "illegal"),
    [
        ((), State.RECOVERED),
        ((), State.HEALTHY),
        ((State.BLACKOUT,), State.HEALTHY),
        ((State.BLACKOUT,), State.BLACKOUT),
        ((State.BLACKOUT, State.RECOVERED), State.BLACKOUT),
        ((State.BLACKOUT, State.RECOVERED), State.HEALTHY),
    ],
)
def test_an_illegal_transition_raises(rig: Rig, path: tuple[State, ...], illegal: State) -> None:
    for state in path:
        rig.det._enter(state)
    with pytest.raises(RuntimeError, match="illegal transition"):
        rig.det._enter(illegal)
    assert rig.det.state is (path[-1] if path else State.HEALTHY)


def _ring_empty(ring: RxRing) -> None:
    pass


def _ring_post_pending(ring: RxRing) -> None:
    ring.post(100.0, 1)  # a refill computed ahead of the clock


def _ring_post_available(ring: RxRing) -> None:
    ring.post(0.0, 1)
    ring.flush(0.0)


@pytest.mark.parametrize(
    ("halted", "reason", "swallowing", "ring_state", "cause"),
    [
        (True, "ticket spin timeout (deadlock)", False, _ring_empty, "deadlock"),
        (True, "#GP in pbuf_cat on a corrupted head (D1)", False, _ring_post_available, "crash"),
        (True, "rx buffer allocation assert (0.1.49)", True, _ring_empty, "crash"),
        (False, "", True, _ring_empty, "swallow"),
        (False, "", False, _ring_empty, "ring_dry"),
        (False, "", False, _ring_post_pending, "unknown"),
        (False, "", False, _ring_post_available, "unknown"),
    ],
    ids=["deadlock", "crash", "halt-beats-swallow", "swallow", "ring-dry", "posted", "in-ring"],
)
def test_the_cause_is_what_the_model_knows_at_detection(
    rig: Rig, halted: bool, reason: str, swallowing: bool, ring_state, cause: str
) -> None:
    rig.driver.halted = halted
    rig.counters.crash_reason = reason
    rig.driver.swallowing = swallowing
    ring_state(rig.ring)
    rig.black_out()
    assert rig.det.cause == cause
    # Decided once, at detection: what happens later does not change it.
    rig.driver.halted = not halted
    rig.driver.swallowing = not swallowing
    rig.tick(7.0)
    assert rig.det.cause == cause
