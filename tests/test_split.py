"""The split estimator (``run.estimator = "split"``, ``vnetsim.scenario.split``).

What must hold: a replay leaves no trace (the saved state loads back exactly, so every replay
starts from the same state and a plain run is untouched); a split run is reproducible; the fixed
driver's replays never fail; the old driver's do, and p̂ is a fraction of K; bad settings are
refused. The statistical agreement with plain runs is a slow test (and
``experiments/validate_split.py`` at full size).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import vnetsim
from vnetsim.config import ConfigError
from vnetsim.drivers.ticketed import Head
from vnetsim.guest.runloop import Runloop
from vnetsim.records import save_counters
from vnetsim.scenario.build import build
from vnetsim.scenario.split import CLEAN, CRASH, PENDING, SplitRunloop

OLD = (
    'driver.design="old"',
    "workload.http_connections=32",
    "run.recovery_horizon_s=1",
    'run.estimator="split"',
)


def _cfg(*extra: str, horizon: float = 8.0, replays: int = 8) -> vnetsim.ScenarioConfig:
    return vnetsim.preset("nanos-2099").with_overrides(
        [*OLD, f"run.horizon_s={horizon}", f"run.split_replays={replays}", *extra]
    )


def _canonical(x: object) -> object:
    """A state with every ``Head`` replaced by its fields, so states compare by value."""
    if isinstance(x, Head):
        return ("Head", *(_canonical(getattr(x, s)) for s in Head.__slots__))
    if isinstance(x, list | tuple):
        return type(x)(_canonical(v) for v in x)
    if isinstance(x, dict):
        return {k: _canonical(v) for k, v in x.items()}
    if isinstance(x, set):
        return sorted(x)
    return x


@pytest.fixture(scope="module")
def old_split_run() -> vnetsim.RunResult:
    return vnetsim.simulate(_cfg(), seed=11)


def test_a_replay_loads_back_the_exact_saved_state_whatever_it_did() -> None:
    """Replays of a real batch, each from the saved state: after each the state is the saved
    one again, and a replay run twice with its key gives the same outcome."""
    m = build(_cfg(), 11)
    split = m.runloop
    assert isinstance(split, SplitRunloop)
    seen: list[tuple[object, list[int]]] = []
    real_submit = Runloop.submit  # the plain path: the probe itself never forks

    def probe(self: SplitRunloop, t: float, batch: list, irq: int) -> None:
        if len(seen) < 5 and any(f.nbuf > 1 for _, f, _ in batch):
            s0 = self._save()
            before = _canonical(s0)
            outcomes = []
            for j in range(6):
                outcomes.append(self._replay(t, batch, irq, (10_000 + len(seen), j)))
                self._load(s0)
                assert _canonical(self._save()) == before
            again = [self._replay(t, batch, irq, (10_000 + len(seen), j)) for j in range(1)]
            self._load(s0)
            assert again[0] == outcomes[0]
            assert set(outcomes) <= {CLEAN, CRASH, PENDING}
            seen.append((before, outcomes))
        real_submit(self, t, batch, irq)

    split.submit = probe.__get__(split)  # type: ignore[method-assign]
    m.env.run(until=4.0)
    assert len(seen) == 5  # seed 11's first five multi-buffer batches come before 4 s


def test_a_replay_changes_nothing_outside_the_driver_state() -> None:
    """The application, the host and the counters see only the applied replay: a replay and a
    reload leave the counters and the SimPy queue as they were."""
    m = build(_cfg(), 12)
    split = m.runloop
    assert isinstance(split, SplitRunloop)
    checked = []
    real_submit = Runloop.submit  # the plain path: the probe itself never forks

    def probe(self: SplitRunloop, t: float, batch: list, irq: int) -> None:
        if not checked and any(f.nbuf > 1 for _, f, _ in batch):
            s0 = self._save()
            counters = save_counters(m.counters)
            queued = len(m.env._queue)  # type: ignore[attr-defined]
            served = m.app.requests_served
            self._replay(t, batch, irq, (20_000, 0))
            assert len(m.env._queue) == queued  # type: ignore[attr-defined]
            assert m.app.requests_served == served
            self._load(s0)
            assert save_counters(m.counters) == counters
            checked.append(True)
        real_submit(self, t, batch, irq)

    split.submit = probe.__get__(split)  # type: ignore[method-assign]
    m.env.run(until=4.0)
    assert checked


def test_a_followed_copy_takes_a_later_batch_s_first_replay_that_adds_no_hazard() -> None:
    """While a followed hazard is pending, a later batch must not add an outage of its own: the
    copy takes the first replay that neither crashes nor raises the pending-hazard count, and
    choosing it leaves the state as it was."""
    m = build(_cfg("run.split_replays=20"), 11)
    split = m.runloop
    assert isinstance(split, SplitRunloop)
    real_submit = Runloop.submit
    checked: list[int] = []

    def probe(self: SplitRunloop, t: float, batch: list, irq: int) -> None:
        if len(checked) < 5 and any(f.nbuf > 1 for _, f, _ in batch):
            self.ring.corrupt.add(-1)  # a hazard already pending (a mark no buffer clears)
            before = self.rx.pending_hazards()
            s0 = self._save()
            saved = _canonical(s0)
            key = 30_000 + len(checked)
            j = self._first_harmless(t, batch, irq, key)
            assert _canonical(self._save()) == saved
            outcomes = []
            for i in range(self.replays):
                out = self._replay(t, batch, irq, (key, i))
                outcomes.append((out != CRASH, self.rx.pending_hazards() <= before))
                self._load(s0)
            harmless = [i for i, (alive, same) in enumerate(outcomes) if alive and same]
            if harmless:
                assert j == harmless[0]
            self.ring.corrupt.discard(-1)
            checked.append(len(harmless))
        real_submit(self, t, batch, irq)

    split.submit = probe.__get__(split)  # type: ignore[method-assign]
    m.env.run(until=4.0)
    assert len(checked) == 5
    assert all(checked)


def test_a_split_run_is_reproducible(old_split_run: vnetsim.RunResult) -> None:
    again = vnetsim.simulate(_cfg(), seed=11)
    a, b = old_split_run.to_dict(), again.to_dict()
    for key in a:
        if key == "wall_time_s":
            continue
        va, vb = a[key], b[key]
        assert va == vb or (isinstance(va, float) and math.isnan(va) and math.isnan(vb)), key


def test_the_old_driver_has_batches_that_start_outages(old_split_run: vnetsim.RunResult) -> None:
    r = old_split_run
    series = json.loads(r.split_series)
    assert r.estimator == "split"
    assert r.split_batches == len(series) > 0
    assert r.split_replays == 8 * len(series)
    times = [t for t, _, _ in series]
    assert times == sorted(times)
    assert all(0.0 < t <= 8.0 for t in times)
    for _, p, k in series:
        assert k == 8
        assert p * k == pytest.approx(round(p * k))  # a count of failed replays over K
    assert any(p > 0 for _, p, _ in series)
    assert r.split_survival == pytest.approx(float(np.prod([1 - p for _, p, _ in series])))
    assert r.split_zero_batches == sum(1 for _, p, _ in series if p == 0)
    # one failing replay was continued after its outage, with its weight and its cause
    assert r.split_failed_cause in {"swallow", "crash", "deadlock", "ring_dry", "unknown"}
    assert 0.0 < r.split_failed_weight <= 1.0
    # the continuing path is a survivor: the plain detector saw nothing
    assert not r.event_observed


def test_the_fixed_driver_never_fails_a_replay() -> None:
    r = vnetsim.simulate(_cfg('driver.design="new"', horizon=3.0, replays=4), seed=3)
    assert r.split_batches > 0
    assert r.split_zero_batches == r.split_batches
    assert r.split_pending == 0
    assert r.split_survival == 1.0
    assert math.isnan(r.split_failed_weight)


def test_a_plain_run_reports_no_split_fields() -> None:
    r = vnetsim.simulate(_cfg('run.estimator="plain"', horizon=0.5), seed=3)
    assert r.estimator == "plain"
    assert r.split_batches == 0
    assert r.split_series == ""
    assert math.isnan(r.split_survival)


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ('run.estimator="splt"', "run.estimator"),
        ("run.split_replays=0", "run.split_replays"),
        ("run.split_follow_s=0", "run.split_follow_s"),
    ],
)
def test_bad_split_settings_are_refused_naming_the_field(override: str, field: str) -> None:
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        _cfg(override)


def _seeded(cfg: vnetsim.ScenarioConfig, arm: int, i: int) -> vnetsim.RunResult:
    return vnetsim.simulate(cfg, seed=np.random.SeedSequence(77, spawn_key=(arm, i)))


def _alive(r: vnetsim.RunResult, t: float) -> float:
    return 0.0 if r.event_observed and r.duration_s <= t else 1.0


@pytest.mark.slow
def test_split_and_plain_estimates_of_survival_agree() -> None:
    """A small version of experiments/validate_split.py on one stressed scenario.

    At t = 2.5 s and 5 s, plain runs estimate S(t) by a binomial fraction and split runs by the
    mean of their conditional curves. Both are unbiased, so their difference has mean 0 and
    standard error sqrt(se_plain^2 + se_split^2); the test allows 3 of them (two-sided
    p = 0.003 per time under the null).
    """
    base = (
        'driver.design="old"',
        "workload.http_connections=32",
        "run.horizon_s=5",
        "run.recovery_horizon_s=1",
    )
    cfg = vnetsim.preset("nanos-2099").with_overrides(base)
    plain = [_seeded(cfg, 0, i) for i in range(60)]
    scfg = cfg.with_overrides(['run.estimator="split"', "run.split_replays=16"])
    split = [_seeded(scfg, 1, i) for i in range(12)]
    for t in (2.5, 5.0):
        x = np.array([_alive(r, t) for r in plain])
        # a split run's curve, times its own path's survival (an outage no batch started)
        s = np.array(
            [
                _alive(r, t)
                * np.prod([1 - p for tt, p, _ in json.loads(r.split_series) if tt <= t])
                for r in split
            ]
        )
        se = math.sqrt(x.var(ddof=1) / len(x) + s.var(ddof=1) / len(s))
        assert abs(x.mean() - s.mean()) <= 3 * se + 1e-9, (t, x.mean(), s.mean(), se)


def _split_row(ps: list[float], duration: float = 10.0, survival: float | None = None) -> dict:
    s = float(np.prod([1 - p for p in ps])) if survival is None else survival
    series = json.dumps([[1.0 + i, p, 8] for i, p in enumerate(ps)])
    return {
        "estimator": "split",
        "error": "",
        "event_observed": False,
        "duration_s": duration,
        "split_stopped_s": float("nan"),
        "split_survival": s,
        "split_series": series,
    }


def test_early_stopping_on_split_rows_uses_the_hazard_interval_over_runs() -> None:
    from vnetsim.sweep.runner import stop_point

    same = [_split_row([0.25, 0.125]) for _ in range(10)]  # no spread: zero-width interval
    assert stop_point(same, None, 0.01)
    assert not stop_point(same[:9], None, 0.01)  # fewer than 10 runs: never
    immune = [_split_row([0.0, 0.0, 0.0]) for _ in range(50)]
    assert not stop_point(immune, None, 10.0)  # a zero hazard has no relative interval
    # One batch at t = 1 s in a 10 s run: expected outages h = p, time at risk e = 1 + 9(1 − p).
    # The ratio estimator's relative 95 % width: 2·1.96·se/rate with
    # rate = Σh/Σe and se = sqrt(Σ(h − rate·e)² / (n(n − 1))) / ē.
    narrow = [_split_row([0.3 if i % 2 else 0.2]) for i in range(20)]
    wide = [_split_row([0.5 if i % 2 else 0.0]) for i in range(20)]
    h = np.array([0.3 if i % 2 else 0.2 for i in range(20)])
    e = 1 + 9 * (1 - h)
    rate = h.sum() / e.sum()
    se = math.sqrt(((h - rate * e) ** 2).sum() / (20 * 19)) / e.mean()
    width = 2 * 1.959964 * se / rate
    assert stop_point(narrow, None, width * 1.05)
    assert not stop_point(narrow, None, width * 0.95)
    assert not stop_point(wide, None, width * 1.05)
    # min_events counts expected outages, Σ(1 − Ŝ)
    assert stop_point([_split_row([0.5])] * 4, 2, None)
    assert not stop_point([_split_row([0.5])] * 3, 2, None)


def test_a_split_sweep_is_analysed_and_drawn_with_the_split_tables(tmp_path, capsys) -> None:
    """``vnetsim sweep / analyze / figures`` on split rows: split tables, not Kaplan–Meier."""
    from pathlib import Path

    from vnetsim.cli import main

    sweep = tmp_path / "s.toml"
    sweep.write_text(
        'name = "t"\nbase = "nanos-2099"\nreplicates = 2\nroot_seed = 5\n'
        'horizon_s = 3\n[set]\n"workload.http_connections" = 32\n'
        '"run.recovery_horizon_s" = 1\n"run.estimator" = "split"\n'
        '"run.split_replays" = 4\n[axes]\ndesign = ["old", "new"]\n'
    )
    out = tmp_path / "out"
    assert main(["sweep", str(sweep), "--out", str(out), "--workers", "1", "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["analyze", str(out)]) == 0
    text = capsys.readouterr().out
    assert "split-estimator runs" in text
    assert "Kaplan" not in text  # a split run's own path is conditioned: no KM of it
    for name in ("split_summary", "split_curves", "split_compare"):
        assert (out / "analysis" / f"{name}.csv").exists()
    assert not (out / "analysis" / "km.csv").exists()
    import pandas as pd

    summary = pd.read_csv(out / "analysis" / "split_summary.csv").set_index("design")
    assert summary.loc["new", "hazard_per_batch"] == 0.0
    assert summary.loc["new", "p_batch_upper"] > 0.0  # the zero-failure bound
    assert summary.loc["new", "runs"] == summary.loc["old", "runs"] == 2
    assert main(["figures", str(out)]) == 0
    names = {Path(p).name for p in capsys.readouterr().out.split()}
    assert {"split_survival.png", "split_survival.pdf"} <= names


def test_the_summary_of_a_split_run_says_what_it_measured(
    old_split_run: vnetsim.RunResult,
) -> None:
    text = old_split_run.summary()
    assert "(censored)" not in text  # its own path survives by construction
    assert f"{old_split_run.split_batches} multi-buffer batches x 8 replays" in text
    assert "first failing replay (weight" in text
