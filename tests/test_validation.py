"""Validation of vnetsim's queueing building blocks against the closed forms of VIRTIO.md §5.

Every component is built directly on a ``simpy.Environment`` with small fakes for the parts it
talks to (the shared ones, scripted draws and seeded streams, come from ``conftest.py``); every
random draw comes from ``numpy.random.default_rng(<fixed seed>)`` (wrapped in
``vnetsim.rng.Draws`` where the component wants one). Tolerances are k standard errors, where
the standard error comes either from a variance known in closed form or from the regenerative
CLT (i.i.d. cycles; ratio estimators with the delta method). We use k = 4 throughout: for a
normal estimator the two-sided probability of a false alarm is 6.3e-5 per check, so a failure
means a model/formula disagreement, not bad luck. (The seeds are fixed, so the outcome is
deterministic anyway; k only states how far from theory a correct model could plausibly land.)
Distribution tests (KS, chi-square) use a fixed alpha of 1e-3.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np
import pytest
import simpy
from scipy import stats

from vnetsim.clock import Signal
from vnetsim.config import GuestConfig, HostConfig
from vnetsim.frames import HTTP_REQUEST, MRG_BUFFER_BYTES, Frame
from vnetsim.guest.vcpu import Preemption, VCpuSet
from vnetsim.host.notify import Notifier
from vnetsim.host.vhost import HostBackend
from vnetsim.records import Counters, Trace
from vnetsim.rng import Draws
from vnetsim.virtio.rxring import RxRing
from vnetsim.virtio.virtqueue import SplitVirtqueue

K_SE = 4.0  # two-sided normal tail 6.3e-5 (see module docstring)
ALPHA = 1e-3  # significance level of the KS and chi-square tests
US = 1e-6


def _draws(seed: int) -> Draws:
    return Draws(np.random.default_rng(seed))


# =============================================================================================
# 1 and 5. The vhost worker as an M/G/1 queue with exponential setup time (VIRTIO.md §5.2, §5.6)
# =============================================================================================


class _TimedTap(deque):
    """The tap queue, integrating its length over simulated time (for Little's law)."""

    def __init__(self, env: simpy.Environment) -> None:
        super().__init__()
        self.env = env
        self.area = 0.0
        self._t = env.now

    def _accumulate(self) -> None:
        now = self.env.now
        self.area += len(self) * (now - self._t)
        self._t = now

    def append(self, x: object) -> None:
        self._accumulate()
        super().append(x)

    def popleft(self) -> object:
        self._accumulate()
        return super().popleft()

    def area_now(self) -> float:
        self._accumulate()
        return self.area


class _DrainingNotifier:
    """Stands in for Notifier + IRQ + guest: drains the used ring at once, re-posts the buffers.

    It is called synchronously from ``HostBackend._publish``, i.e. at the very instant the
    worker takes the frame (``vhost_signal_batch = 1``), so ``env.now - frame.t_offered`` is
    the frame's offer-to-take time.
    """

    def __init__(
        self, env: simpy.Environment, ring: RxRing, cyc_y: list[float], cyc_n: list[int]
    ) -> None:
        self.env, self.ring, self.vq = env, ring, ring.vq
        self.cyc_y, self.cyc_n = cyc_y, cyc_n
        self.last_take = 0.0

    def published(self, n: int) -> None:
        now = self.env.now
        self.last_take = now
        vq, meta = self.vq, self.ring.used_meta
        for _ in range(n):
            buf, _len = vq.get_used()  # type: ignore[misc]
            frame, _pos = meta.popleft()
            self.cyc_y[frame.meta] += now - frame.t_offered
            self.cyc_n[frame.meta] += 1
            self.ring.post(now, buf)


@dataclass
class _VhostRun:
    y: np.ndarray  # per regeneration cycle: sum of offer-to-take times of its frames
    n: np.ndarray  # per cycle: frames
    tau: np.ndarray  # per complete cycle: length (arrival to empty tap -> next such arrival)
    area: np.ndarray  # per complete cycle: integral of len(tap) over the cycle
    frames_taken: int
    tap_drops: int


def _run_vhost(lam: float, c_us: float, d_us: float, n_frames: int, seed: int) -> _VhostRun:
    env = simpy.Environment()
    host = HostConfig(
        vhost_frame_us=c_us, vhost_wakeup_us=d_us, vhost_signal_batch=1, tap_queue_frames=1_000_000
    )
    vq = SplitVirtqueue(256)
    ring = RxRing(vq)
    for b in range(vq.size):
        vq.add_buf(b)
    cyc_y: list[float] = []
    cyc_n: list[int] = []
    notifier = _DrainingNotifier(env, ring, cyc_y, cyc_n)
    backend = HostBackend(
        env,
        host,
        ring,
        notifier,
        Counters(),
        Trace(0),  # type: ignore[arg-type]
        _draws(seed),
        mrg=True,
        buffer_bytes=MRG_BUFFER_BYTES,
        halt=Signal(),
    )
    tap = _TimedTap(env)
    backend.tap = tap
    starts: list[float] = []
    areas: list[float] = []
    arrivals = _draws(seed + 1)

    def source():  # Poisson arrivals at rate lam
        for fid in range(n_frames):
            yield env.timeout(arrivals.exp() / lam)
            if not backend.busy:
                # Regeneration point: the arrival finds the tap empty and the worker idle.
                assert not tap
                starts.append(env.now)
                areas.append(tap.area_now())
                cyc_y.append(0.0)
                cyc_n.append(0)
            backend.offer(Frame(fid, None, HTTP_REQUEST, 200, env.now, True, len(starts) - 1))

    env.process(source())
    env.run()
    assert not tap
    assert not backend.busy
    return _VhostRun(
        np.array(cyc_y),
        np.array(cyc_n),
        np.diff(starts),
        np.diff(areas),
        int(sum(cyc_n)),
        backend.c.frames_dropped_tap,
    )


def _mg1_setup_sojourn(lam: float, c: float, d: float) -> float:
    """Mean offer-to-take time of the vhost worker (VIRTIO.md §5.6, "delivery latency D").

    Mechanism (``HostBackend.offer/_step``): a frame that finds the worker idle is taken at
    ``t + D + c`` (wake-up, then the copy charged *before* the take); each following frame in
    the tap is taken ``c`` after the previous take, and the worker idles when a take leaves
    the tap empty. The frame being "copied" is still ``tap[0]``, so the tap is exactly an
    M/D/1 system whose service period (length c) *ends* at the take, with a setup time D at
    the start of each busy period. The take is the departure, so offer-to-take is the
    sojourn W_q + c, not W_q (had the copy been charged after the take, offer-to-take would be
    W_q alone and the tap would hold only the waiting frames). With S = c deterministic and
    D ~ Exp(mean d): E[S²] = c², E[D] = d, E[D²] = 2d², and (5.6.1) with X = 1 + Poisson(λD):
        W_q = λc²/(2(1−ρ)) + (2E[D] + λE[D²])/(2(1 + λE[D]))   (the second term equals d here).
    """
    rho = lam * c
    assert rho < 1.0
    return lam * c * c / (2 * (1 - rho)) + (2 * d + lam * 2 * d * d) / (2 * (1 + lam * d)) + c


def _ratio_se(y: np.ndarray, n: np.ndarray) -> tuple[float, float]:
    """Regenerative ratio estimator sum(y)/sum(n) over i.i.d. cycles and its CLT standard error.

    sqrt(C)(r̂ − r) → N(0, Var(Y − rN)/E[N]²) (Crane and Iglehart; delta method).
    """
    r = y.sum() / n.sum()
    resid = y - r * n
    se = math.sqrt(resid.var(ddof=1) / len(y)) / n.mean()
    return float(r), se


@pytest.mark.parametrize(
    ("lam", "c_us", "d_us", "n_frames", "seed"),
    [
        (20_000.0, 10.0, 20.0, 400_000, 11),  # rho = 0.2, W = 31.25 us
        (70_000.0, 10.0, 20.0, 400_000, 12),  # rho = 0.7, W = 41.67 us
    ],
)
def test_vhost_offer_to_take_time_matches_mg1_with_exponential_setup(
    lam: float, c_us: float, d_us: float, n_frames: int, seed: int
) -> None:
    run = _run_vhost(lam, c_us, d_us, n_frames, seed)
    assert run.frames_taken == n_frames
    assert run.tap_drops == 0
    w_hat, se = _ratio_se(run.y, run.n)
    c, d = c_us * US, d_us * US
    w = _mg1_setup_sojourn(lam, c, d)
    # Tolerance: K_SE regenerative standard errors (cycles = busy period + idle period,
    # delimited by arrivals to an empty tap, which are i.i.d. because D is drawn afresh).
    tol = K_SE * se
    assert abs(w_hat - w) <= tol, (
        f"mean offer-to-take {w_hat / US:.3f} us, M/G/1+setup {w / US:.3f} us, "
        f"tol {tol / US:.3f} us"
    )
    # The check has the power to tell the mechanism apart from its plausible misreadings:
    # copy charged after the take (W_q only) or no wake-up latency (plain M/D/1).
    w_q_only = w - c
    w_md1 = lam * c * c / (2 * (1 - lam * c)) + c
    assert abs(w_q_only - w) > 2 * tol
    assert abs(w_md1 - w) > 2 * tol


@pytest.mark.slow
def test_vhost_tap_time_average_occupancy_obeys_littles_law() -> None:
    """L (time average of len(tap), integrated exactly) = λ × mean time in tap (V12, §5)."""
    lam, c, d = 80_000.0, 10.0 * US, 20.0 * US  # rho = 0.8
    run = _run_vhost(lam, c / US, d / US, 5_000_000, seed=51)
    k = len(run.tau)  # complete cycles: [start_i, start_{i+1})
    a, tau, n, y = run.area, run.tau, run.n[:k], run.y[:k]
    # Per cycle, the integral of len(tap) is the sum of its frames' offer-to-take times (the
    # tap is empty at both ends), up to rounding: a direct check that the deque really holds
    # each frame exactly from offer to take. Rounding: A_i is a difference of a running sum
    # that reaches a.sum(), so it carries an absolute error of a few ulps of that total; 64 ulps
    # (64·eps·Σa) bounds it with room to spare.
    np.testing.assert_allclose(a, y, rtol=0.0, atol=64 * np.finfo(float).eps * a.sum())
    l_hat = a.sum() / tau.sum()
    w_hat = y.sum() / n.sum()
    diff = l_hat - lam * w_hat
    # Regenerative CLT for g(ā, τ̄, n̄) = ā/τ̄ − λā/n̄ over i.i.d. cycles (A_i, τ_i, N_i):
    # Var(ĝ) ≈ ∇gᵀ Σ ∇g / C, with Σ the sample covariance of the cycle triples.
    am, tm, nm = a.mean(), tau.mean(), n.mean()
    grad = np.array([1 / tm - lam / nm, -am / tm**2, lam * am / nm**2])
    cov = np.cov(np.vstack([a, tau, n]))
    se = math.sqrt(float(grad @ cov @ grad) / k)
    assert abs(diff) <= K_SE * se, f"L {l_hat:.4f} vs λW {lam * w_hat:.4f}, se {se:.2e}"
    # And both sides agree with the closed form L = λ·W(M/G/1 + setup).
    l_theory = lam * _mg1_setup_sojourn(lam, c, d)
    r_l = a.sum() / tau.sum()
    se_l = math.sqrt((a - r_l * tau).var(ddof=1) / k) / tm
    assert abs(l_hat - l_theory) <= K_SE * se_l, f"L {l_hat:.4f} vs {l_theory:.4f}"


# =============================================================================================
# 2. Interrupt rate under NOTF_COAL (N, T) with EVENT_IDX and an infinitely fast guest (§5.6)
# =============================================================================================


class _InstantIrq:
    """The guest takes every MSI at once: drains the used ring and re-arms (used_event)."""

    def __init__(self, env: simpy.Environment, vq: SplitVirtqueue, stop_after: int) -> None:
        self.vq = vq
        self.sizes: list[int] = []  # X of each cycle: entries drained per interrupt
        self.stop_after = stop_after
        self.done = env.event()

    def raise_msi(self) -> None:
        vq = self.vq
        x = 0
        while vq.get_used() is not None:
            x += 1
        vq.enable_cb()
        self.sizes.append(x)
        if len(self.sizes) == self.stop_after:
            self.done.succeed()


def _run_coalescing(
    lam: float, n_frames: int, t_us: float, cycles: int, seed: int
) -> tuple[np.ndarray, int, int]:
    env = simpy.Environment()
    host = HostConfig(notf_coal_frames=n_frames, notf_coal_usecs=t_us)
    vq = SplitVirtqueue(4096, event_idx=True)
    irq = _InstantIrq(env, vq, cycles)
    irqfd = Signal()
    irqfd.subscribe(irq.raise_msi)
    notifier = Notifier(env, host, vq, irqfd)
    draws = _draws(seed)
    packets = [0]

    def source():
        buf = 0
        while True:
            yield env.timeout(draws.exp() / lam)
            vq.add_buf(buf)
            vq.push_used(vq.pop_avail(), 200)
            buf += 1
            packets[0] += 1
            notifier.published(1)

    env.process(source())
    env.run(until=irq.done)
    return np.array(irq.sizes), packets[0], notifier.signals


def _min_n_t_moments(lam: float, n_frames: int, t: float) -> tuple[float, float]:
    """E[X] and Var[X] for X = 1 + M, M = min(N − 1, A_T), A_T ~ Poisson(λT) (§5.6)."""
    m_max = n_frames - 1
    k = np.arange(m_max)
    pmf = stats.poisson.pmf(k, lam * t)
    tail = stats.poisson.sf(m_max - 1, lam * t)  # P(A_T >= N − 1)
    e_m = float((k * pmf).sum() + m_max * tail)
    e_m2 = float((k**2 * pmf).sum() + m_max**2 * tail)
    # The doc's tail-sum form E[M] = Σ_{k=1}^{N−1} P(A_T ≥ k) must agree.
    e_m_doc = float(stats.poisson.sf(np.arange(1, n_frames) - 1, lam * t).sum())
    assert e_m == pytest.approx(e_m_doc, rel=1e-12)
    return 1.0 + e_m, e_m2 - e_m**2


@pytest.mark.parametrize(
    ("lam", "n_frames", "t_us", "cycles", "seed"),
    [
        (100_000.0, 8, 50.0, 100_000, 21),  # λT = 5: both the count and the timer fire
        (50_000.0, 4, 20.0, 150_000, 22),  # λT = 1: mostly the timer
    ],
)
def test_notf_coal_interrupts_per_packet_is_one_over_mean_min_n_t_batch(
    lam: float, n_frames: int, t_us: float, cycles: int, seed: int
) -> None:
    sizes, packets, signals = _run_coalescing(lam, n_frames, t_us, cycles, seed)
    assert signals == cycles == len(sizes)
    assert sizes.sum() == packets  # every packet is drained by exactly one interrupt
    e_x, var_x = _min_n_t_moments(lam, n_frames, t_us * US)
    # Cycles (first packet after an interrupt → next interrupt) are i.i.d. renewal cycles, so
    # X̄ = packets/cycles has SE σ_X/√C with σ_X known exactly from the Poisson pmf. The bound
    # |X̄ − E[X]| ≤ K_SE·σ_X/√C is the same event as interrupts/packet = 1/X̄ lying in
    # [1/(E[X] + K_SE·σ_X/√C), 1/(E[X] − K_SE·σ_X/√C)].
    x_bar = packets / cycles
    half = K_SE * math.sqrt(var_x / cycles)
    assert 1 / (e_x + half) <= cycles / packets <= 1 / (e_x - half), (
        f"interrupts/packet {cycles / packets:.5f}, theory 1/E[X] = {1 / e_x:.5f}"
    )
    assert abs(x_bar - e_x) <= half
    # The whole batch-size law, not just its mean: chi-square of X against 1 + min(N−1, A_T).
    pmf = stats.poisson.pmf(np.arange(n_frames - 1), lam * t_us * US)
    probs = np.append(pmf, stats.poisson.sf(n_frames - 2, lam * t_us * US))
    expected = probs * cycles
    assert expected.min() >= 5.0  # chi-square approximation valid in every bin
    observed = np.bincount(sizes - 1, minlength=n_frames)
    assert observed.shape == expected.shape
    assert stats.chisquare(observed, expected).pvalue > ALPHA


def test_notf_coal_with_long_timer_interrupts_once_per_n_packets() -> None:
    # T = 1 s (the largest notf_coal_usecs allowed) at λ = 100k/s: P(A_T < N − 1) is about
    # e^(−100000), so X = N in every cycle (variance 0): the count must be exact.
    lam, n_frames, cycles = 100_000.0, 16, 5_000
    sizes, packets, _ = _run_coalescing(lam, n_frames, 1e6, cycles, seed=23)
    e_x, var_x = _min_n_t_moments(lam, n_frames, 1.0)
    assert e_x == n_frames
    assert var_x == 0.0
    assert np.all(sizes == n_frames)
    assert cycles / packets == 1 / n_frames


@pytest.mark.parametrize(("n_frames", "t_us"), [(0, 0.0), (8, 0.0), (0, 50.0), (1, 50.0)])
def test_without_coalescing_every_packet_interrupts(n_frames: int, t_us: float) -> None:
    # Either parameter 0 disables NOTF_COAL (§1.9); N = 1 meets the condition at each packet.
    # With EVENT_IDX re-armed at once by an instant guest, X ≡ 1: 1 interrupt per packet.
    sizes, packets, signals = _run_coalescing(50_000.0, n_frames, t_us, 5_000, seed=24)
    assert packets == signals == 5_000
    assert np.all(sizes == 1)


# =============================================================================================
# 3. Host preemption: Preemption.stretch
# =============================================================================================


def test_stretch_follows_scripted_episodes_exactly(scripted: type) -> None:
    # Scales: exit gaps Exp·1 s, exit lengths Exp·0.1 s; sched gaps Exp·2 s, lengths Exp·1 s.
    host = HostConfig(
        vmexit_rate_per_s=1.0, vmexit_mean_us=1e5, preempt_rate_per_s=0.5, preempt_mean_ms=1000.0
    )
    script = [
        9.0,
        5.5,  # first exit at 9.0, first sched at 11.0
        5.0,
        0.8,  # exit [9.0, 9.5): ends before the work starts at 10 -> no effect; next 9.8
        3.0,
        2.4,  # exit [9.8, 10.1) spans the start -> delay 0.1; next exit at 12.2
        0.5,
        10.0,  # sched [11.0, 11.5) inside the work -> +0.5 (end 12.6); next sched at 31.0
        2.0,
        5.0,  # exit at 12.2 starts in stretched time (after 12, before 12.6) -> +0.2
        #            end 12.8; next exit at 17.2 >= 12.8 -> stop
        4.0,
        20.0,  # second call at 17.5 (zero work): exit [17.2, 17.6) -> pass deferred
    ]
    # Strict: an exponential draw beyond the script, or any uniform draw, fails the test
    # (Preemption must not draw uniforms).
    fake = scripted(exp=script, strict=True)
    p = Preemption(host, fake)  # type: ignore[arg-type]
    assert p.stretch(10.0, 2.0) == pytest.approx(12.8, abs=1e-12)
    assert p.episodes == 3
    assert p.stolen_s == pytest.approx(0.8, abs=1e-12)
    assert p.stretch(17.5, 0.0) == pytest.approx(17.6, abs=1e-12)
    assert p.episodes == 4
    # Next episodes are at 37.2 (exit) and 31.0 (sched): work ending at or before them is
    # untouched, and an episode starting exactly at the end does not count.
    assert p.stretch(20.0, 11.0) == 31.0
    assert p.stretch(20.0, 10.0) == 30.0
    assert p.episodes == 4
    assert fake.e == []  # every scripted draw was used, in the order described


def test_long_stretch_steals_rho_over_one_minus_rho_of_the_work() -> None:
    """Stolen/work → ρ/(1 − ρ) with ρ = r_exit·m_exit + r_sched·m_sched (busy-period law).

    Reading ``stretch``: episode start times form a Poisson process in *wall* time (per
    stream, gaps Exp(1/r)), and every episode that starts before the current end — including
    one that starts inside time already added by an earlier episode — pushes the end out by
    its full length. So the end B of work w begun at an episode-free instant solves
    B = w + Σ_{s_i < B} L_i: B is an M/G/1 busy period opened by work w with arrival rate
    Λ = Σr_i and "service" L. Hence E[B] = w/(1 − ρ), E[stolen]/w = ρ/(1 − ρ) (not ρ, which
    would be the answer if episodes only struck during the work itself), and
    Var(B) = w·Σ r_i E[L_i²]/(1 − ρ)³ with E[L²] = 2m² for exponential lengths (compound
    Poisson of sub-busy periods with second moment E[L²]/(1 − ρ)³). At t = 0 no episode is in
    progress (the first starts draw a fresh gap), so there is no residual term.
    """
    r1, m1 = 5_000.0, 20.0 * US  # VM exits: ρ1 = 0.1
    r2, m2 = 20.0, 10e-3  # host preemptions: ρ2 = 0.2
    host = HostConfig(
        vmexit_rate_per_s=r1,
        vmexit_mean_us=m1 / US,
        preempt_rate_per_s=r2,
        preempt_mean_ms=m2 * 1e3,
    )
    p = Preemption(host, _draws(31))
    w = 600.0
    end = p.stretch(0.0, w)
    stolen = end - w
    assert stolen == pytest.approx(p.stolen_s, rel=1e-9)
    rho = r1 * m1 + r2 * m2
    expected = rho / (1 - rho)
    var_b = w * (r1 * 2 * m1**2 + r2 * 2 * m2**2) / (1 - rho) ** 3
    tol = K_SE * math.sqrt(var_b) / w  # known variance, K_SE standard errors
    assert abs(stolen / w - expected) <= tol, f"stolen/work {stolen / w:.4f} vs {expected:.4f}"
    assert abs(stolen / w - rho) > 2 * tol  # the naive ρ would fail: the check has power
    # Episode count: Λ·E[B] on average; Poisson-like given B, so SD ≈ sqrt(Λ·E[B]) plus the
    # variability of B itself (Λ·SD(B)).
    lam_all = r1 + r2
    sd_count = math.sqrt(lam_all * w / (1 - rho) + lam_all**2 * var_b)
    assert abs(p.episodes - lam_all * w / (1 - rho)) <= K_SE * sd_count


@pytest.mark.parametrize("w_us", [0.0, 20.0, 200.0])
def test_short_work_at_an_independent_time_escapes_preemption_with_poisson_probability(
    w_us: float,
) -> None:
    """P(stretch(t, w) == t + w) = exp(−Σ r_i·(m_i·(1 − e^{−G/m_i}) + w)).

    The work is untouched iff no episode is in progress at t and none starts in [t, t + w).
    Episodes are Poisson(r_i) in wall time with Exp(m_i) lengths, so the number in progress at
    t is Poisson(r_i·m_i) (M/G/∞) and the number starting in the window is Poisson(r_i·w).
    Each sample starts G after the previous sample's end; at that end no episode is in
    progress (``stretch`` ran past all of them), so the number in progress after G is
    Poisson(r_i·m_i·(1 − e^{−G/m_i})) and the samples are i.i.d. Bernoulli (strong Markov
    property of the Poisson process). The often-quoted exp(−Σ r_i·w) counts only episodes
    starting inside the window; it is the w → 0 limit only when r_i·m_i ≪ r_i·w, i.e. for
    windows *long* relative to episode lengths. For windows short relative to them, the
    in-progress term r_i·m_i dominates; we check the exact form and show the naive one fails.
    """
    r1, m1 = 1_000.0, 20.0 * US
    r2, m2 = 10.0, 1e-3
    host = HostConfig(
        vmexit_rate_per_s=r1,
        vmexit_mean_us=m1 / US,
        preempt_rate_per_s=r2,
        preempt_mean_ms=m2 * 1e3,
    )
    p = Preemption(host, _draws(32 + int(w_us)))
    gap, w, n = 20e-3, w_us * US, 150_000
    t, clean = 1.0, 0
    for _ in range(n):
        end = p.stretch(t, w)
        clean += end == t + w
        t = end + gap
    in_progress = r1 * m1 * (1 - math.exp(-gap / m1)) + r2 * m2 * (1 - math.exp(-gap / m2))
    prob = math.exp(-in_progress - (r1 + r2) * w)
    se = math.sqrt(prob * (1 - prob) / n)  # binomial, known p
    assert abs(clean / n - prob) <= K_SE * se, f"{clean / n:.4f} vs {prob:.4f}"
    naive = math.exp(-(r1 + r2) * w)
    assert abs(naive - prob) > 2 * K_SE * se


# =============================================================================================
# 4. vCPU runloop passes: VCpuSet.next_taker
# =============================================================================================


@pytest.mark.parametrize(("k", "seed"), [(1, 41), (3, 42), (8, 43)])
def test_pool_pass_after_t_avail_is_exponential_with_rate_k_r_and_owner_is_uniform(
    k: int, seed: int, seeded_streams: type
) -> None:
    r = 4_000.0
    guest = GuestConfig(smp=k, runloop_passes_per_s=r, syscalls_per_request=0.0)
    host = HostConfig(vmexit_rate_per_s=0.0, preempt_rate_per_s=0.0)
    vcpus = VCpuSet(guest, host, seeded_streams(seed))
    gaps = _draws(seed + 100)
    n = 100_000
    waits = np.empty(n)
    owners = np.empty(n, dtype=np.int64)
    t_avail = 0.0
    for j in range(n):
        t, cpu = vcpus.next_taker(t_avail)
        waits[j] = t - t_avail
        owners[j] = cpu.index
        # The taker handles the completion and looks at the (empty) queue again at t; the
        # next completion appears later, so it has left its runloop by then (back to pool).
        vcpus.done(cpu, t)
        t_avail = t + gaps.exp() * 1e-3
        assert len(vcpus.pool) == k - 1
        assert vcpus.heap == [(t, cpu.index)]
    assert vcpus.passes == n
    # (t − t_avail)·k·r ~ Exp(1): one-sample KS test at ALPHA.
    assert stats.kstest(waits * k * r, "expon").pvalue > ALPHA
    # Owner uniform over the k vCPUs: chi-square at ALPHA (expected n/k ≥ 5 per cell).
    if k > 1:
        counts = np.bincount(owners, minlength=k)
        assert stats.chisquare(counts).pvalue > ALPHA
    else:
        assert np.all(owners == 0)
