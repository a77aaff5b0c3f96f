"""Arrivals handled without an event of their own (``HttpClients._arrive``) change nothing.

The reference is the plain loop (one SimPy event per arrival, as before): a run through a long
blackout, when every connection is down or reconnecting, must give the same result field for
field, and the pulled version must need far fewer events. ``wait_until`` must land exactly.
"""

from __future__ import annotations

import importlib.machinery
import math

import numpy as np
import pytest
import simpy

import vnetsim
from vnetsim.clock import wait_until
from vnetsim.workloads import http
from vnetsim.workloads.http import DOWN, UP, HttpClients, Request

# A compiled (mypyc) HttpClients calls its own _arrive natively: the reference loop cannot be
# put in its place, so the comparison runs on the pure build (the fingerprints run on both).
COMPILED = str(http.__file__).endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))

BLACKOUT = (
    'driver.design="old"',
    "workload.http_connections=32",
    "run.horizon_s=10",
    "run.recovery_horizon_s=12",
)


def _one_event_per_arrival(self: HttpClients) -> simpy.events.ProcessGenerator:
    env, draws, sizes, conns = self.env, self._arrivals, self._sizes, self.conns
    mean_gap = 1.0 / self.rate
    n = len(conns)
    while True:
        yield env.timeout(draws.exp() * mean_gap)
        conn = conns[min(int(draws.uniform() * n), n - 1)]
        req = Request(conn, env.now, self.body_lo + int(sizes.uniform() * self.body_span))
        if conn.state == DOWN:
            self.c.http_timeouts += 1
            continue
        conn.queue.append(req)
        self.inflight.append((req.t_arrival + self.timeout, req))
        if conn.state == UP and not conn.outstanding:
            self._write_batch(conn)


class _CountingEnv(simpy.Environment):
    def __init__(self) -> None:
        super().__init__()
        self.steps = 0

    def step(self) -> None:
        self.steps += 1
        super().step()


def _run(monkeypatch: pytest.MonkeyPatch, reference: bool) -> tuple[dict[str, object], int]:
    with monkeypatch.context() as mp:
        if reference:
            mp.setattr(HttpClients, "_arrive", _one_event_per_arrival)
        mp.setattr(simpy, "Environment", _CountingEnv)
        cfg = vnetsim.preset("nanos-2099").with_overrides(BLACKOUT)
        from vnetsim.scenario.build import build
        from vnetsim.scenario.run import check_invariants, result_of, seed_sequence

        seq = seed_sequence(1)
        m = build(cfg, seq)
        m.env.run(until=m.detector.done)
        r = result_of(m, seq, check_invariants(m), 0.0).to_dict()
        steps = m.env.steps  # type: ignore[attr-defined]
    return r, steps


@pytest.mark.skipif(COMPILED, reason="compiled build: HttpClients._arrive cannot be replaced")
def test_pulled_arrivals_give_the_same_run_with_far_fewer_events(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pulled, n_pulled = _run(monkeypatch, reference=False)
    plain, n_plain = _run(monkeypatch, reference=True)
    assert pulled["event_observed"]  # seed 1 goes silent at 6.9 s: 15 s of blackout follow
    assert pulled["blackout_s"] > 10.0
    for key, value in plain.items():
        other = pulled[key]
        same = other == value or (
            isinstance(value, float) and math.isnan(value) and math.isnan(other)  # type: ignore[arg-type]
        )
        assert same, (key, value, other)
    # 5,000 arrivals a second for > 10 s of blackout, nearly all refused or queued
    assert n_plain - n_pulled > 40_000


@pytest.mark.parametrize(
    ("now", "t"),
    [(1e-300, 1.0), (0.1, 0.30000000000000004), (3.0, 1e6), (7.25, 7.250000000000001)],
)
def test_wait_until_lands_exactly_on_its_time(now: float, t: float) -> None:
    env = simpy.Environment(initial_time=now)
    landed: list[float] = []

    def proc() -> simpy.events.ProcessGenerator:
        yield from wait_until(env, t)
        landed.append(env.now)

    env.process(proc())
    env.run()
    assert landed == [t]


def test_wait_until_is_exact_where_a_plain_timeout_is_not() -> None:
    """The case the helper exists for: ``now + (t - now)`` misses ``t`` for some pairs (about
    1 % of random pairs spread over decades; this seed gives a few hundred of 20,000)."""
    rng = np.random.default_rng(5)
    a = rng.uniform(0, 1, 20_000) * 10.0 ** rng.integers(-6, 4, 20_000)
    b = rng.uniform(0, 1, 20_000) * 10.0 ** rng.integers(-6, 4, 20_000)
    pairs = [(float(x), float(y)) for x, y in zip(np.minimum(a, b), np.maximum(a, b), strict=True)]
    missed = [(now, t) for now, t in pairs if now + (t - now) != t]
    assert len(missed) > 50
    for now, t in missed[:200]:
        env = simpy.Environment(initial_time=now)
        landed: list[float] = []

        def proc(
            env: simpy.Environment = env, t: float = t, landed: list[float] = landed
        ) -> object:
            yield from wait_until(env, t)
            landed.append(env.now)

        env.process(proc())  # type: ignore[arg-type]
        env.run()
        assert landed == [t]
