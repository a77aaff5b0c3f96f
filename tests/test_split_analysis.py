"""Tests of the split-run statistics (vnetsim.analysis.split) against hand computations.

Rows are synthetic (``split_row``) unless a test says otherwise: batches at chosen times with
chosen p̂, so every curve value, rate and bound has a closed form. Bootstrap and permutation
results are checked only where theory fixes them (a degenerate resampling distribution, an
exact bound, coverage over many seeded data sets with a binomial tolerance); all seeds are
fixed, so every assertion is deterministic.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import vnetsim
from vnetsim.analysis import split as sa

NAN = float("nan")


def split_row(
    series,
    *,
    horizon=10.0,
    own=None,
    stopped=NAN,
    weight=NAN,
    recovered=False,
    blackout=NAN,
    error="",
    estimator="split",
    **groups,
) -> dict:
    """One run row with the fields a split RunResult has (the ones the analysis reads)."""
    series = [list(map(float, b)) for b in series]
    return {
        **groups,
        "estimator": estimator,
        "horizon_s": float(horizon),
        "duration_s": float(own) if own is not None else float(horizon),
        "event_observed": own is not None,
        "split_series": json.dumps([[t, p, int(k)] for t, p, k in series]),
        "split_batches": len(series),
        "split_replays": int(sum(k for _, _, k in series)),
        "split_stopped_s": float(stopped),
        "split_survival": float(np.prod([1.0 - p for _, p, _ in series])),
        "split_failed_weight": float(weight),
        "split_failed_recovered": bool(recovered),
        "split_failed_blackout_s": float(blackout),
        "error": error,
    }


def frame(rows) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    df["run_id"] = [f"r{i}" for i in range(len(df))]
    return df


def constant_runs(n, p, k=10, times=range(1, 11), horizon=20.0, **groups) -> list[dict]:
    return [split_row([(t, p, k) for t in times], horizon=horizon, **groups) for _ in range(n)]


# --- tables ------------------------------------------------------------------------------


def test_tables_exposure_own_outage_stopped_and_errors():
    runs = frame(
        [
            split_row([(1, 0.1, 10), (2, 0.2, 10)], horizon=10),  # censored: the horizon
            split_row([(1, 0.0, 10), (4, 0.5, 10)], horizon=10, own=3.0),  # own outage at 3
            split_row([(1, 0.1, 10), (2, 1.0, 10)], horizon=10, stopped=2.0),  # Ŝ = 0 at 2
            split_row([], horizon=10, estimator="plain", error="RunTimeout"),  # excluded
        ]
    )
    batches, exposure = sa.split_tables(runs, by=[])
    assert list(batches.columns) == ["run", "t_s", "p_hat", "k", "at_risk"]
    assert list(exposure.columns) == ["run", "exposure_s", "own_outage_s", "stopped_s", "horizon_s"]
    assert batches["run"].tolist() == ["r0", "r0", "r1", "r1", "r2", "r2"]
    # The batch at 4 s comes after run r1's own outage at 3 s: not at risk.
    assert batches["at_risk"].tolist() == [True, True, True, False, True, True]
    assert exposure["run"].tolist() == ["r0", "r1", "r2"]
    assert exposure["exposure_s"].tolist() == [10.0, 3.0, 2.0]
    np.testing.assert_array_equal(exposure["own_outage_s"], [NAN, 3.0, NAN])
    np.testing.assert_array_equal(exposure["stopped_s"], [NAN, NAN, 2.0])


def test_tables_group_columns_and_run_column_fallback():
    rows = [split_row([(1, 0.5, 2)], design=d) for d in ("old", "new", "old")]
    runs = pd.DataFrame(rows)
    runs["run"] = ["a", "b", "c"]  # no run_id: the ad hoc "run" column names the runs
    batches, exposure = sa.split_tables(runs, "design")
    assert batches[["design", "run"]].values.tolist() == [["new", "b"], ["old", "a"], ["old", "c"]]
    assert exposure["design"].tolist() == ["new", "old", "old"]


def test_plain_rows_are_refused():
    runs = frame([split_row([(1, 0.1, 10)]), split_row([], estimator="plain")])
    for fn in (sa.split_tables, sa.split_curves, sa.split_summary):
        with pytest.raises(ValueError, match="estimator != 'split'"):
            fn(runs, [])


def test_duplicate_run_ids_are_refused():
    runs = pd.DataFrame([split_row([(1, 0.1, 10)])] * 2)
    runs.index = [0, 0]
    with pytest.raises(ValueError, match="not unique"):
        sa.split_tables(runs, [])


# --- curves ------------------------------------------------------------------------------


def test_curve_constant_p_is_exact_and_band_degenerate():
    # Five identical runs: p = 0.1 at t = 1..5, horizon 6. S̄(t) = 0.9^⌊t⌋ exactly, and every
    # bootstrap resample of identical runs has the same mean, so the band is the point.
    runs = frame(constant_runs(5, 0.1, times=range(1, 6), horizon=6.0))
    c = sa.split_curves(runs, [], n_boot=200, seed=1)
    assert c["time_s"].tolist() == [0, 1, 2, 3, 4, 5, 6]
    expect = 0.9 ** np.array([0, 1, 2, 3, 4, 5, 5])
    np.testing.assert_allclose(c["survival"], expect, rtol=1e-12)
    np.testing.assert_allclose(c["ci_lower"], expect, rtol=1e-12)
    np.testing.assert_allclose(c["ci_upper"], expect, rtol=1e-12)
    np.testing.assert_allclose(c["cumhaz"], -np.log(expect), atol=1e-12)
    assert (c["n_runs"] == 5).all()


def test_curve_mixture_own_outage_multiplies():
    # A: p̂ = 0.5 at 1. B: p̂ = 0.2 at 2 and its own outage at 3 (S_B = 0 from 3 on).
    runs = frame(
        [split_row([(1, 0.5, 2)], horizon=4), split_row([(2, 0.2, 5)], horizon=4, own=3.0)]
    )
    c = sa.split_curves(runs, [], n_boot=0)
    assert c["time_s"].tolist() == [0, 1, 2, 3, 4]
    np.testing.assert_allclose(c["survival"], [1.0, 0.75, 0.65, 0.25, 0.25])
    assert c["ci_lower"].isna().all()  # n_boot = 0: no band


def test_curve_stopped_run_stays_at_zero():
    runs = frame(
        [split_row([(1, 0.5, 2), (2, 1.0, 2)], horizon=5, stopped=2.0), split_row([], horizon=5)]
    )
    c = sa.split_curves(runs, [], times=[0, 1.5, 2, 4.9], n_boot=0)
    np.testing.assert_allclose(c["survival"], [1.0, 0.75, 0.5, 0.5])
    assert c["n_runs"].tolist() == [2, 2, 2, 2]
    assert math.isinf(sa.split_curves(runs.iloc[:1], [], times=[3], n_boot=0)["cumhaz"].iloc[0])


def test_curve_unequal_horizons_average_only_observed_runs():
    # A observed to 2 s, B to 4 s. After 2 s only B is averaged (A is not carried forward).
    runs = frame(
        [split_row([(1, 0.5, 2)], horizon=2), split_row([(1, 0.5, 2), (3, 0.5, 2)], horizon=4)]
    )
    c = sa.split_curves(runs, [], times=[0, 1, 2, 2.5, 3, 4, 5], n_boot=100, seed=0)
    np.testing.assert_allclose(c["survival"], [1.0, 0.5, 0.5, 0.5, 0.25, 0.25, NAN])
    assert c["n_runs"].tolist() == [2, 2, 2, 1, 1, 1, 0]
    # One run left: nothing to resample, so no band rather than a fake one.
    assert c.loc[c["n_runs"] == 1, "ci_lower"].isna().all()
    assert c.loc[c["time_s"] == 1, ["ci_lower", "ci_upper"]].values.tolist() == [[0.5, 0.5]]


def test_cumhaz_band_is_the_transformed_survival_band():
    rng = np.random.default_rng(5)
    rows = [
        split_row(
            [(t, rng.binomial(8, 0.2) / 8, 8) for t in np.sort(rng.uniform(0, 5, 4))], horizon=5
        )
        for _ in range(12)
    ]
    c = sa.split_curves(frame(rows), [], n_boot=300, seed=2)
    assert (c["ci_lower"] <= c["survival"] + 1e-12).all()
    assert (c["survival"] <= c["ci_upper"] + 1e-12).all()
    np.testing.assert_allclose(c["cumhaz_ci_lower"], -np.log(c["ci_upper"]))
    np.testing.assert_allclose(c["cumhaz_ci_upper"], -np.log(c["ci_lower"]))


# --- summary -----------------------------------------------------------------------------


def test_summary_constant_p_rates_survival_and_rmst():
    # 4 runs, p̂ = 0.1 at t = 1..10, K = 10, horizon 20.
    runs = frame(constant_runs(4, 0.1))
    s = sa.split_summary(runs, [], n_boot=200, seed=3).iloc[0]
    assert (s["runs"], s["batches"], s["replays"], s["zero_batches"]) == (4, 40, 400, 0)
    assert s["exposure_s"] == 80.0
    # Every batch has p̂ = 0.1: the ratio is 0.1 in every resample too.
    assert s["hazard_per_batch"] == pytest.approx(0.1)
    assert (s["hazard_per_batch_ci_lower"], s["hazard_per_batch_ci_upper"]) == pytest.approx(
        (0.1, 0.1)
    )
    assert s["hazard_per_hour"] == pytest.approx(3600 * 4 * 1.0 / 80)
    assert s["batches_per_hour"] == pytest.approx(3600 * 40 / 80)
    surv_20 = 0.9**10
    # S = 0.9^n on [n, n+1) for n < 10, then 0.9^10 from 10 to 20.
    rmst = sum(0.9**n for n in range(10)) + 10 * surv_20
    assert s["tau_s"] == 20.0
    assert s["survival_tau"] == pytest.approx(surv_20)
    assert s["rmst_s"] == pytest.approx(rmst)
    assert s["outage_rate_per_hour"] == pytest.approx(3600 * (1 - surv_20) / rmst)
    # A smaller tau cuts the integral: ∫0^2.5 = 1 + 0.9 + 0.5·0.81.
    s25 = sa.split_summary(runs, [], tau=2.5, n_boot=0).iloc[0]
    assert s25["rmst_s"] == pytest.approx(1 + 0.9 + 0.5 * 0.81)
    assert s25["survival_tau"] == pytest.approx(0.81)
    assert math.isnan(s["p_batch_upper"])  # failures were seen


@pytest.mark.parametrize("confidence", [0.95, 0.9])
def test_zero_failure_bound_is_clopper_pearson(confidence):
    runs = frame(constant_runs(3, 0.0, k=20, times=range(1, 6)))
    s = sa.split_summary(runs, [], confidence=confidence, n_boot=0).iloc[0]
    n = 3 * 5 * 20
    assert s["replays"] == n
    # No failure in n trials: P(0 | p) = (1 - p)^n = α at the bound.
    bound = 1 - (1 - confidence) ** (1 / n)
    assert s["p_batch_upper"] == pytest.approx(bound, rel=1e-9)
    assert s["hazard_per_hour_upper"] == pytest.approx(bound * s["batches_per_hour"], rel=1e-9)
    assert s["hazard_per_hour"] == 0.0


def test_zero_failure_bound_with_an_own_outage_or_a_failure():
    clean = constant_runs(2, 0.0, k=20, times=range(1, 6))
    own = [*clean, split_row([(1, 0.0, 20)], horizon=20, own=4.0)]
    s = sa.split_summary(frame(own), [], n_boot=0).iloc[0]
    assert s["own_outages"] == 1
    assert s["p_batch_upper"] == pytest.approx(1 - 0.05 ** (1 / 220))
    assert math.isnan(s["hazard_per_hour_upper"])  # an outage was seen: no per-hour bound
    failed = [*clean, split_row([(1, 0.05, 20)], horizon=20)]
    s = sa.split_summary(frame(failed), [], n_boot=0).iloc[0]
    assert math.isnan(s["p_batch_upper"])
    assert math.isnan(s["hazard_per_hour_upper"])


def test_zero_failure_survival_interval_is_the_exact_bound_not_ones():
    # 3 runs, batches at 1..5 s with K = 20 and no failure: n = 300, p ≤ 1 − 0.05^(1/300);
    # every run has 5 batches by τ = 20 s, 2 by t = 2 s: S(τ) ≥ (1 − p)^5, S(2) ≥ (1 − p)^2.
    runs = frame(constant_runs(3, 0.0, k=20, times=range(1, 6)))
    p_up = 1 - 0.05 ** (1 / 300)
    s = sa.split_summary(runs, [], n_boot=200).iloc[0]
    assert s["survival_tau"] == 1.0
    assert s["survival_tau_ci_lower"] == pytest.approx((1 - p_up) ** 5, rel=1e-12)
    assert s["survival_tau_ci_upper"] == 1.0
    c = sa.split_curves(runs, [], times=[0.5, 2.0, 20.0], n_boot=200)
    assert list(c["ci_lower"]) == pytest.approx([1.0, (1 - p_up) ** 2, (1 - p_up) ** 5])
    assert list(c["cumhaz_ci_upper"]) == pytest.approx(
        [0.0, -2 * math.log(1 - p_up), -5 * math.log(1 - p_up)]
    )
    # a failure anywhere: the band is the bootstrap's again
    mixed = frame([*constant_runs(2, 0.0, k=20, times=range(1, 6)), split_row([(1, 0.5, 20)])])
    m = sa.split_summary(mixed, [], n_boot=200).iloc[0]
    assert math.isnan(m["p_batch_upper"])
    assert 0.5 <= m["survival_tau_ci_lower"] < 5 / 6  # between the lowest resample and S̄


def test_survival_halfwidth_stopping_rule():
    from scipy import stats

    from vnetsim.sweep.runner import stop_point, survival_halfwidth

    # Split, no failure: 1 − (1 − p)^B̄ with p = 1 − 0.05^(1/N), N = 4·5·20, B̄ = 5.
    immune = constant_runs(4, 0.0, k=20, times=range(1, 6))
    p_up = 1 - 0.05 ** (1 / 400)
    assert survival_halfwidth(immune) == pytest.approx(1 - (1 - p_up) ** 5, rel=1e-12)
    assert stop_point(immune, None, None, 0.04)  # 1 − (1 − p)^5 = 0.0368
    assert not stop_point(immune, None, None, 0.03)
    # Split with failures: t interval of the S_r over runs, from HALFWIDTH_MIN_RUNS = 8 runs.
    ps = [0.1, 0.3, 0.2, 0.4, 0.15, 0.25, 0.35, 0.05]
    runs = [split_row([(1, p, 20)]) for p in ps]
    s = 1 - np.array(ps)
    want = stats.t.ppf(0.975, 7) * s.std(ddof=1) / math.sqrt(8)
    assert survival_halfwidth(runs) == pytest.approx(want, rel=1e-12)
    assert stop_point(runs, None, None, want * 1.01)
    assert not stop_point(runs, None, None, want * 0.99)
    # seven runs that agree closely still do not stop: their spread is not trusted yet
    assert survival_halfwidth([split_row([(1, 0.2, 20)]) for _ in range(7)]) == math.inf
    # The whole curve counts, not only the horizon: four runs lose half at 1 s, four at 9 s, so
    # S_r(10) = 0.5 for all (no spread) but S_r(t) ∈ {0.5, 1} for 1 ≤ t < 9.
    early_late = [split_row([(t, 0.5, 20)]) for t in (1, 1, 1, 1, 9, 9, 9, 9)]
    spread = np.array([0.5] * 4 + [1.0] * 4).std(ddof=1)
    want = stats.t.ppf(0.975, 7) * spread / math.sqrt(8)
    assert survival_halfwidth(early_late) == pytest.approx(want, rel=1e-12)
    # Nothing could race (no batch at all, e.g. nanos-0.1.48): S = 1 exactly.
    assert survival_halfwidth([split_row([]) for _ in range(4)]) == 0.0
    # Plain rows: the Clopper–Pearson interval of k/n; 0 of 4: the upper end 1 − 0.025^(1/4).
    plain = [split_row([], estimator="plain") for _ in range(4)]
    assert survival_halfwidth(plain) == pytest.approx(1 - 0.025**0.25, rel=1e-9)
    assert survival_halfwidth([*plain[:3], {**plain[3], "horizon_s": 5.0}]) == math.inf


def test_weighted_post_outage_statistics():
    runs = frame(
        [
            split_row([(1, 0.2, 5)], weight=0.2, recovered=True, blackout=1.0),
            split_row([(1, 0.6, 5)], weight=0.6, recovered=False, blackout=3.0),
            split_row([(1, 0.0, 5)]),  # no failing replay: no weight
        ]
    )
    s = sa.split_summary(runs, [], n_boot=0).iloc[0]
    assert s["failed_runs"] == 2
    assert s["failed_weight"] == pytest.approx(0.8)
    assert s["failed_recovered_fraction"] == pytest.approx(0.2 / 0.8)
    assert s["failed_blackout_mean_s"] == pytest.approx((0.2 * 1 + 0.6 * 3) / 0.8)


def test_bootstrap_coverage_over_seeded_data_sets():
    # 40 data sets of 30 runs; each run has 10 batches at uniform times in (0, 10) with
    # p̂ = Binomial(8, 0.05) / 8, independent. Then E Π(1 − p̂) = Π(1 − E p̂), so the truth is
    # S(10) = 0.95^10, and the per-batch hazard is 0.05. The percentile bootstrap of a mean of
    # 30 i.i.d. bounded values has coverage near 95 % (error O(1/n)); taking 0.90 as a
    # conservative floor, the number of covering intervals is at least Binomial(40, 0.90), and
    # its 0.1 % quantile is the threshold (not tuned to these seeds).
    floor = stats.binom.ppf(0.001, 40, 0.90)
    root = np.random.SeedSequence(2024)
    hits = {"survival_tau": 0, "hazard_per_batch": 0}
    truth = {"survival_tau": 0.95**10, "hazard_per_batch": 0.05}
    for child in root.spawn(40):
        rng = np.random.default_rng(child)
        rows = [
            split_row(
                [(t, rng.binomial(8, 0.05) / 8, 8) for t in np.sort(rng.uniform(0, 10, 10))],
                horizon=10,
            )
            for _ in range(30)
        ]
        s = sa.split_summary(frame(rows), [], n_boot=400, seed=child).iloc[0]
        for name in hits:
            hits[name] += s[f"{name}_ci_lower"] <= truth[name] <= s[f"{name}_ci_upper"]
    assert min(hits.values()) >= floor, hits


def test_seeds_reproducible_and_groups_independent():
    rng = np.random.default_rng(9)
    rows = [
        split_row([(t, rng.binomial(8, 0.3) / 8, 8) for t in (1, 2, 3)], design=d)
        for d in ("new", "old")
        for _ in range(8)
    ]
    runs = frame(rows)
    a = sa.split_summary(runs, "design", n_boot=300, seed=4)
    pd.testing.assert_frame_equal(a, sa.split_summary(runs, "design", n_boot=300, seed=4))
    seq = np.random.SeedSequence(4)
    pd.testing.assert_frame_equal(a, sa.split_summary(runs, "design", n_boot=300, seed=seq))
    b = sa.split_summary(runs, "design", n_boot=300, seed=5)
    assert not np.allclose(a["hazard_per_batch_ci_lower"], b["hazard_per_batch_ci_lower"])
    # A group's intervals do not depend on the other groups in the table.
    alone = sa.split_summary(runs[runs["design"] == "old"], "design", n_boot=300, seed=4)
    pd.testing.assert_frame_equal(alone.reset_index(drop=True), a.iloc[[1]].reset_index(drop=True))


# --- comparisons -------------------------------------------------------------------------


def _two_groups(p_a, p_b, n=10, seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for label, p in (("a", p_a), ("b", p_b)):
        for _ in range(n):
            times = np.sort(rng.uniform(0, 10, 6))
            rows.append(split_row([(t, rng.binomial(10, p) / 10, 10) for t in times], design=label))
    return frame(rows)


def test_compare_identical_groups():
    one = _two_groups(0.2, 0.2, seed=1)
    same = one[one["design"] == "a"]
    runs = frame(
        pd.concat([same, same.assign(design="b")]).drop(columns="run_id").to_dict("records")
    )
    c = sa.split_compare(runs, "design", compare="design", n_boot=200, n_perm=199, seed=0)
    assert len(c) == 1
    r = c.iloc[0]
    assert (r["design"], r["reference"]) == ("b", "a")
    assert r["cumhaz_diff"] == pytest.approx(0, abs=1e-12)
    assert r["rmst_diff_s"] == pytest.approx(0, abs=1e-12)
    assert r["hazard_ratio"] == pytest.approx(1)
    # |stat| = 0 is matched or exceeded by every relabelling: p = (1 + n_perm)/(1 + n_perm).
    for name in ("cumhaz_diff", "rmst_diff", "hazard_ratio"):
        assert r[f"{name}_pvalue"] == pytest.approx(1.0)
    assert r["cumhaz_diff_ci_lower"] <= 0 <= r["cumhaz_diff_ci_upper"]
    assert r["hazard_ratio_ci_lower"] <= 1 <= r["hazard_ratio_ci_upper"]


def test_compare_very_different_groups_and_hand_values():
    runs = _two_groups(0.4, 0.02, seed=2)
    c = sa.split_compare(
        runs, "design", compare="design", reference="b", n_boot=300, n_perm=199, seed=0
    ).iloc[0]
    a, b = runs[runs["design"] == "a"], runs[runs["design"] == "b"]
    s_a, s_b = a["split_survival"].mean(), b["split_survival"].mean()
    assert c["cumhaz_diff"] == pytest.approx(-math.log(s_a) + math.log(s_b))
    # the outage rate to τ: expected outages over expected time at risk, Σ(1 − S_r) / Σ RMST_r
    rate = {}
    for name, g in (("a", a), ("b", b)):
        lost, area = 0.0, 0.0
        for text in g["split_series"]:
            t_prev, surv = 0.0, 1.0
            for t, p, _ in json.loads(text):
                area += (t - t_prev) * surv
                t_prev, surv = t, surv * (1 - p)
            area += (10.0 - t_prev) * surv
            lost += 1 - surv
        rate[name] = lost / area
    assert c["hazard_ratio"] == pytest.approx(rate["a"] / rate["b"])
    assert c["tau_s"] == 10.0
    assert c["rmst_diff_s"] < 0
    # Complete separation: of the C(20, 10) relabellings only the observed one and its mirror
    # are as extreme, so among 199 random ones almost surely none is: p = 1/200.
    for name in ("cumhaz_diff", "rmst_diff", "hazard_ratio"):
        assert c[f"{name}_pvalue"] <= 2 / 200, name
    assert c["cumhaz_diff_ci_lower"] > 0
    assert c["hazard_ratio_ci_lower"] > 1
    # Swapping the reference flips the signs and inverts the ratio.
    d = sa.split_compare(runs, "design", compare="design", reference="a", n_boot=0, n_perm=0)
    assert d.iloc[0]["cumhaz_diff"] == pytest.approx(-c["cumhaz_diff"])
    assert d.iloc[0]["hazard_ratio"] == pytest.approx(1 / c["hazard_ratio"])


def test_compare_reference_without_failures_and_strata():
    # The reference never fails: the hazard ratio is infinite, and a relabelling is as extreme
    # only if it puts all ten failure-free runs in one group (2 of C(20, 10)).
    runs = pd.concat(
        [_two_groups(0.4, 0.0, seed=3).assign(smp=s) for s in (1, 8)], ignore_index=True
    )
    runs["run_id"] = range(len(runs))
    c = sa.split_compare(
        runs, ["smp", "design"], compare="design", reference="b", n_boot=100, n_perm=199
    )
    assert c["smp"].tolist() == [1, 8]
    assert np.isinf(c["hazard_ratio"]).all()
    assert (c["hazard_ratio_pvalue"] <= 2 / 200).all()
    with pytest.raises(ValueError, match="reference"):
        sa.split_compare(runs, "design", compare="design", reference="zzz")


# --- real rows ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_row() -> dict:
    cfg = vnetsim.preset("nanos-2099").with_overrides(
        [
            'driver.design="old"',
            "workload.http_connections=32",
            "run.recovery_horizon_s=1",
            'run.estimator="split"',
            "run.horizon_s=4",
            "run.split_replays=8",
        ]
    )
    return vnetsim.simulate(cfg, seed=11).to_dict()


def test_real_split_row_consistent_with_its_split_survival(real_row):
    runs = pd.DataFrame([real_row])
    batches, exposure = sa.split_tables(runs, "design")
    assert len(batches) == real_row["split_batches"] > 0
    assert batches["k"].sum() == real_row["split_replays"]
    assert np.prod(1 - batches["p_hat"]) == pytest.approx(real_row["split_survival"], rel=1e-12)
    c = sa.split_curves(runs, "design", n_boot=0)
    end = c.iloc[-1]
    assert end["time_s"] == real_row["horizon_s"]
    own = 0.0 if real_row["event_observed"] else 1.0
    assert end["survival"] == pytest.approx(real_row["split_survival"] * own, rel=1e-12)
    s = sa.split_summary(runs, "design", n_boot=0).iloc[0]
    assert s["survival_tau"] == pytest.approx(end["survival"], rel=1e-12)
    assert s["zero_batches"] == real_row["split_zero_batches"]
    assert exposure["exposure_s"].iloc[0] <= real_row["horizon_s"]


def test_error_rows_counted_not_used():
    rows = [
        split_row([(1, 0.5, 2)], design="old"),
        split_row([], design="old", estimator="plain", error="ModelError: x"),
        split_row([], design="new", estimator="plain", error="RunTimeout"),
    ]
    s = sa.split_summary(frame(rows), "design", n_boot=0).set_index("design")
    assert s.loc["old", "runs"] == 1
    assert s.loc["old", "n_errors"] == 1
    assert s.loc["old", "hazard_per_batch"] == 0.5
    assert s.loc["new", "runs"] == 0
    assert s.loc["new", "n_errors"] == 1
    assert math.isnan(s.loc["new", "survival_tau"])
    assert sa.split_curves(frame(rows), "design", n_boot=0)["design"].unique().tolist() == ["old"]


# --- a cell without any multi-buffer batch (issue 9, audit gap 2) --------------------------


def test_cell_without_any_batch_gets_the_zero_event_poisson_bound_on_its_exposure():
    # Two runs, horizon 300 s, no split batch at all (like nanos-0.1.48 in nanos-2099-split):
    # no replay to count, so the bound is the zero-event one-sided Poisson bound on the run
    # exposure T = 600 s (the rule of a plain cell without an outage), by hand
    # λ⁺ = −ln(0.05) / T = 2.9957 / 600 s = 17.97 /h; S(τ) gets the matching bound
    # exp(−λ⁺·τ) = 0.05^(300/600) = 0.05^(1/2) = 0.2236 (1 − S ≤ 77.6 %).
    from vnetsim.analysis import fits

    runs = frame([split_row([], horizon=300.0) for _ in range(2)])
    s = sa.split_summary(runs, [], n_boot=200).iloc[0]
    lam = -math.log(0.05) / 600.0
    assert s["batches"] == 0
    assert s["replays"] == 0
    assert math.isnan(s["p_batch_upper"])  # no batch: no per-batch bound
    assert s["hazard_per_hour_upper"] == pytest.approx(3600.0 * lam, rel=1e-12)
    assert s["hazard_per_hour_upper"] == pytest.approx(17.9744, rel=1e-5)
    assert s["hazard_per_hour_upper"] == 3600.0 * fits.poisson_rate_upper(0, 600.0)
    assert s["hazard_per_hour_upper_method"] == "exposure"
    assert bool(s["hazard_is_bound"])
    assert s["survival_tau"] == 1.0
    assert s["survival_tau_ci_lower"] == pytest.approx(0.05**0.5, rel=1e-12)
    assert s["survival_tau_ci_method"] == sa.CI_EXPOSURE_BOUND
    # the curve's band takes the same bound at every time: exp(−λ⁺·t)
    c = sa.split_curves(runs, [], times=[0.0, 150.0, 300.0], n_boot=200)
    np.testing.assert_allclose(c["ci_lower"], np.exp(-lam * np.array([0.0, 150.0, 300.0])))
    assert c["ci_method"].tolist() == [sa.CI_EXPOSURE_BOUND] * 3
    # a cell with batches and no failure keeps the (tighter) replay bound, and says so
    r = sa.split_summary(frame(constant_runs(2, 0.0, k=20, times=range(1, 6))), [], n_boot=0)
    assert r.iloc[0]["hazard_per_hour_upper_method"] == "replays"
    # a cell with an outage has no bound, and is not flagged as one
    f = sa.split_summary(frame(constant_runs(2, 0.1)), [], n_boot=0).iloc[0]
    assert math.isnan(f["hazard_per_hour_upper"])
    assert not f["hazard_is_bound"]


def test_certification_and_split_summary_bounds_of_a_fixed_cell_differ_as_documented():
    # docs/split-statistics.md: certification's hazard_upper_per_h is the model-free bound on
    # the time exposure Σ∫S_r; split_summary's hazard_per_hour_upper for a cell with batches
    # is the replay bound, which conditions on the batch rate. Two runs of 10 s each, batches
    # at 1..5 s with K = 20 and no failure: exposure bound −ln(0.05)/20 s·3600 = 539 /h;
    # replay bound (1 − 0.05^(1/200))·(10 batches / 20 s)·3600 = 26.9 /h.
    from vnetsim.analysis import inference

    fixed = constant_runs(2, 0.0, k=20, times=range(1, 6), horizon=10.0, design="new", smp=1)
    old = constant_runs(2, 0.1, k=20, times=range(1, 6), horizon=10.0, design="old", smp=1)
    runs = frame([*fixed, *old])
    cert = inference.certification(runs, strata=["smp"])
    cell = cert[(cert["scope"] == "cell") & (cert["estimator"] == "split")].iloc[0]
    assert cell["hazard_upper_per_h"] == pytest.approx(-math.log(0.05) / 20.0 * 3600.0)
    assert cell["hazard_upper_method"] == "exposure"
    s = sa.split_summary(runs, ["design"], n_boot=0).set_index("design").loc["new"]
    assert s["hazard_per_hour_upper"] == pytest.approx((1 - 0.05 ** (1 / 200)) * 0.5 * 3600)
    assert s["hazard_per_hour_upper_method"] == "replays"


# --- degenerate bootstrap samples (issue 9, audit gap 6) -----------------------------------


def test_degenerate_bootstrap_samples_give_the_value_and_name_the_method_without_warnings():
    import warnings

    # Three identical runs, p̂ = 0.1 at t = 1..10 with K = 10: every resample is the sample,
    # so each interval is the value itself (hazard per batch 0.1, S(τ) = 0.9^10) and the
    # method column says "constant".
    same = frame(constant_runs(3, 0.1))
    # A reference without any batch beside a failing level: the outage-rate ratio is +inf in
    # every resample (0 in the denominator), and between two failure-free levels 0/0 = NaN:
    # scipy's percentile bootstrap warned (DegenerateDataWarning, naming BCa) on both.
    failing = constant_runs(3, 0.2, horizon=20.0, design="old")
    immune = [split_row([], horizon=20.0, design="a-no-batch") for _ in range(3)]
    fixed = constant_runs(3, 0.0, horizon=20.0, design="new")
    runs = frame([*failing, *immune, *fixed])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        s = sa.split_summary(same, [], n_boot=200).iloc[0]
        c = sa.split_compare(
            runs, "design", compare="design", reference="a-no-batch", n_boot=200, n_perm=99
        ).set_index("design")
        k = sa.split_curves(same, [], times=[0.0, 5.0, 20.0], n_boot=200)
    assert not [w for w in caught if issubclass(w.category, stats.DegenerateDataWarning)]
    assert (s["hazard_per_batch_ci_lower"], s["hazard_per_batch_ci_upper"]) == (
        pytest.approx(0.1),
        pytest.approx(0.1),
    )
    assert s["hazard_per_batch_ci_method"] == sa.CI_CONSTANT
    assert s["survival_tau_ci_lower"] == pytest.approx(0.9**10) == s["survival_tau_ci_upper"]
    assert s["survival_tau_ci_method"] == sa.CI_CONSTANT
    assert k["ci_method"].tolist() == [sa.CI_CONSTANT] * 3
    np.testing.assert_allclose(k["ci_lower"], [1.0, 0.9**5, 0.9**10])
    # old against a reference with no outage: ratio +inf in every resample: "constant" inf
    old = c.loc["old"]
    assert np.isinf(old["hazard_ratio"])
    assert np.isinf(old["hazard_ratio_ci_lower"])
    assert old["hazard_ratio_ci_method"] == sa.CI_CONSTANT
    # new against it: 0/0 in every resample: no interval, and the table says so
    new = c.loc["new"]
    assert math.isnan(new["hazard_ratio"])
    assert math.isnan(new["hazard_ratio_ci_lower"])
    assert new["hazard_ratio_ci_method"] == sa.CI_NONE
    assert new["rmst_diff_ci_method"] == sa.CI_CONSTANT  # both RMST = τ in every resample
    # an ordinary sample: the percentile bootstrap, labelled as such
    mixed = frame([*constant_runs(2, 0.1), *constant_runs(2, 0.3)])
    m = sa.split_summary(mixed, [], n_boot=200).iloc[0]
    assert m["hazard_per_batch_ci_method"] == sa.CI_PERCENTILE
    assert m["hazard_per_batch_ci_lower"] < 0.2 < m["hazard_per_batch_ci_upper"]
