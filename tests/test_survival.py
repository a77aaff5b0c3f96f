"""Tests of the survival-analysis layer against hand computations and known truths.

References are computed independently of :mod:`vnetsim.survival`: the product-limit
steps and Greenwood/log-log band by hand, the log-rank chi-square by the textbook
formula in numpy, the exponential interval from closed forms of the chi-square
quantiles. Seeds are fixed, so every statistical assertion is deterministic.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from vnetsim.analysis import survival

Z95 = stats.norm.ppf(0.975)


def make_runs(
    durations, events, *, horizon=None, recovered=None, blackout=None, error=None, **groups
) -> pd.DataFrame:
    """Tidy runs frame; ``horizon`` defaults to the largest duration."""
    d = np.asarray(durations, dtype=float)
    e = np.asarray(events, dtype=bool)
    n = d.size
    h = np.full(n, d.max()) if horizon is None else np.broadcast_to(horizon, n).astype(float)
    df = pd.DataFrame(
        {
            "duration_s": d,
            "event_observed": e,
            "horizon_s": h,
            "recovered": np.zeros(n, bool) if recovered is None else np.asarray(recovered, bool),
            "blackout_s": np.where(e, 1.0, np.nan) if blackout is None else np.asarray(blackout),
            "error": [""] * n if error is None else list(error),
        }
    )
    for k, v in groups.items():
        df[k] = v
    return df


def exp_sample(rng, rate, n, horizon):
    """Exponential times right-censored at ``horizon``."""
    t = rng.exponential(1.0 / rate, n)
    return np.minimum(t, horizon), t <= horizon


# --- Kaplan-Meier ------------------------------------------------------------

# durations [2, 3, 3, 5, 8], events [1, 1, 0, 1, 0]. Product-limit steps:
#   t=2: n=5 at risk, d=1           -> S = 1   * 4/5 = 0.8
#   t=3: n=4, d=1 (+1 censored at 3) -> S = 0.8 * 3/4 = 0.6
#   t=5: n=2, d=1                    -> S = 0.6 * 1/2 = 0.3
#   t=8: n=1, d=0 (censored)         -> S = 0.3
HAND_T = [2, 3, 3, 5, 8]
HAND_E = [1, 1, 0, 1, 0]


def test_km_matches_hand_computed_product_limit():
    km = survival.km_curves(make_runs(HAND_T, HAND_E, design="a"), "design")
    assert list(km.columns[:1]) == ["design"]
    np.testing.assert_allclose(km["time_s"], [0, 2, 3, 5, 8])
    np.testing.assert_allclose(km["survival"], [1, 0.8, 0.6, 0.3, 0.3], rtol=0, atol=1e-12)
    assert km["at_risk"].tolist() == [5, 5, 4, 2, 1]
    assert km["events"].tolist() == [0, 1, 1, 1, 0]
    assert km["censored"].tolist() == [0, 0, 1, 0, 1]
    # time-0 row: band degenerate at S = 1
    assert km.loc[0, ["ci_lower", "ci_upper"]].tolist() == [1.0, 1.0]


def test_km_loglog_band_matches_greenwood_by_hand():
    km = survival.km_curves(make_runs(HAND_T, HAND_E, design="a"), "design", confidence=0.95)
    row = km.loc[km["time_s"] == 5].iloc[0]
    # Greenwood sum at t=5: d/(n(n-d)) over t=2,3,5 = 1/20 + 1/12 + 1/2
    s = 0.3
    gw = 1 / (5 * 4) + 1 / (4 * 3) + 1 / (2 * 1)
    se = math.sqrt(gw) / abs(math.log(s))  # SE of log(-log S)
    lower = s ** math.exp(Z95 * se)  # exp(-exp(log(-log S) + z se))
    upper = s ** math.exp(-Z95 * se)
    assert row["ci_lower"] == pytest.approx(lower, rel=1e-9)
    assert row["ci_upper"] == pytest.approx(upper, rel=1e-9)


def test_band_is_degenerate_before_first_event():
    # a run censored at t=1 precedes the first outage: S(1) = 1, no variance yet
    km = survival.km_curves(make_runs([1, 2, 4], [0, 1, 1], design="a"), "design")
    row = km.loc[km["time_s"] == 1].iloc[0]
    assert (row["survival"], row["ci_lower"], row["ci_upper"]) == (1.0, 1.0, 1.0)
    assert (row["at_risk"], row["events"], row["censored"]) == (3, 0, 1)


def test_censor_times_marks_sit_on_curve():
    marks = survival.censor_times(make_runs(HAND_T, HAND_E, design="a"), ["design"])
    assert list(marks.columns) == ["design", "time_s", "survival"]
    np.testing.assert_allclose(marks["time_s"], [3, 8])
    np.testing.assert_allclose(marks["survival"], [0.6, 0.3], atol=1e-12)


def test_all_events_curve_reaches_zero_without_warnings():
    runs = make_runs([1, 2, 3], [1, 1, 1], design="a")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # scipy's NaN-band warning must be handled
        km = survival.km_curves(runs, "design")
    last = km.iloc[-1]
    assert last["survival"] == 0.0
    assert last["ci_lower"] == 0.0
    assert math.isnan(last["ci_upper"])


def test_median_rmst_and_p_outage_on_hand_example():
    runs = make_runs(HAND_T, HAND_E, horizon=8, design="a")
    row = survival.summary(runs, "design", times_s=(0, 2.5, 5, 9)).iloc[0]
    assert row["median_s"] == 5.0  # first t with S(t) <= 0.5
    # RMST to tau=8 = area under the step function:
    #   1*(2-0) + 0.8*(3-2) + 0.6*(5-3) + 0.3*(8-5) = 4.9
    assert row["rmst_tau_s"] == 8.0
    assert row["rmst_s"] == pytest.approx(4.9, abs=1e-12)
    assert row["p_outage_0s"] == pytest.approx(0.0, abs=1e-12)
    assert row["p_outage_2.5s"] == pytest.approx(0.2, abs=1e-12)
    assert row["p_outage_5s"] == pytest.approx(0.7, abs=1e-12)
    assert "p_outage_9s" not in row.index  # beyond every group's tau: no column at all
    # censoring at 3 comes before 5, so the 5 s interval is the log-log band; before 3 no run
    # is censored and the exact binomial interval applies (checked in its own test)
    assert row["p_outage_ci_method"] == "log-log"
    # band for p is 1 - band for S
    km = survival.km_curves(runs, "design")
    s5 = km.loc[km["time_s"] == 5].iloc[0]
    assert row["p_outage_5s_ci_lower"] == pytest.approx(1 - s5["ci_upper"], abs=1e-12)
    assert row["p_outage_5s_ci_upper"] == pytest.approx(1 - s5["ci_lower"], abs=1e-12)
    # median CI by inverting the band: lower band at t=2 is ~0.204 <= 0.5; the upper
    # band stays ~0.72 > 0.5, so the upper limit is not reached.
    assert row["median_ci_lower_s"] == 2.0
    assert math.isnan(row["median_ci_upper_s"])
    assert row["median_label"] == "5 s [2, NR]"


def test_rmst_uses_smallest_horizon_of_group():
    runs = make_runs(HAND_T, HAND_E, horizon=[8, 8, 3, 8, 8], design="a")
    row = survival.summary(runs, "design", times_s=(5,)).iloc[0]
    # tau = 3: 1*2 + 0.8*1 = 2.8
    assert row["rmst_tau_s"] == 3.0
    assert row["rmst_s"] == pytest.approx(2.8, abs=1e-12)
    assert "p_outage_5s" not in row.index


# --- all-censored group --------------------------------------------------------


def test_all_censored_group():
    runs = make_runs([100.0, 100.0, 100.0, 40.0], [0, 0, 0, 0], horizon=100, design="safe")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        km = survival.km_curves(runs, "design")
        row = survival.summary(runs, "design").iloc[0]
    assert (km["survival"] == 1.0).all()
    assert km["time_s"].max() == 100.0
    assert math.isnan(row["median_s"])
    assert row["median_label"] == "not reached"
    assert row["events"] == 0
    assert row["hazard_per_h"] == 0.0
    assert row["hazard_per_h_ci_lower"] == 0.0
    # chi2_{2, 0.975} = -2 ln(0.025) in closed form (chi2 with 2 df is exp(mean 2))
    T = 340.0
    expected_upper = -2 * math.log(0.025) / (2 * T) * 3600
    assert row["hazard_per_h_ci_upper"] == pytest.approx(expected_upper, rel=1e-10)
    assert math.isfinite(row["hazard_per_h_ci_upper"])
    assert math.isnan(row["weibull_shape"])
    assert math.isnan(row["recovered_fraction"])


# --- exponential and Weibull fits ----------------------------------------------


def test_exponential_mle_and_exact_interval():
    rng = np.random.default_rng(20240611)
    d, e = exp_sample(rng, rate=1 / 500, n=60, horizon=600)
    row = survival.summary(make_runs(d, e, horizon=600, design="a"), "design").iloc[0]
    r, T = int(e.sum()), float(d.sum())
    assert row["exposure_s"] == pytest.approx(T, rel=1e-15)
    assert row["hazard_per_h"] == pytest.approx(r / T * 3600, rel=1e-14)
    # cross-check with scipy's censored MLE (numerical optimiser: 1e-6 relative)
    _loc, scale = stats.expon.fit(stats.CensoredData.right_censored(d, ~e), floc=0)
    assert row["hazard_per_h"] == pytest.approx(3600 / scale, rel=1e-6)
    # NIST 8.4.1.2: [chi2_{2r, a/2} / 2T, chi2_{2r+2, 1-a/2} / 2T]
    assert row["hazard_per_h_ci_lower"] == pytest.approx(
        stats.chi2.ppf(0.025, 2 * r) / (2 * T) * 3600, rel=1e-12
    )
    assert row["hazard_per_h_ci_upper"] == pytest.approx(
        stats.chi2.ppf(0.975, 2 * r + 2) / (2 * T) * 3600, rel=1e-12
    )


def _weibull_shape_se(t, e, k, lam):
    """Asymptotic SE of the shape from the observed information (numeric Hessian)."""

    def ll(p):
        kk, ll_ = p
        z = t / ll_
        return np.sum(e * (np.log(kk) - np.log(ll_) + (kk - 1) * np.log(z))) - np.sum(z**kk)

    x0 = np.array([k, lam])
    h = 1e-4 * x0
    hess = np.empty((2, 2))
    for i in range(2):
        for j in range(2):
            ei, ej = np.eye(2)[i] * h[i], np.eye(2)[j] * h[j]
            hess[i, j] = (
                ll(x0 + ei + ej) - ll(x0 + ei - ej) - ll(x0 - ei + ej) + ll(x0 - ei - ej)
            ) / (4 * h[i] * h[j])
    cov = np.linalg.inv(-hess)
    return math.sqrt(cov[0, 0])


def test_simulated_exponential_recovers_truth():
    rate, horizon = 1 / 200, 300.0
    rng = np.random.default_rng(7)
    d, e = exp_sample(rng, rate=rate, n=400, horizon=horizon)
    row = survival.summary(make_runs(d, e, horizon=horizon, design="a"), "design").iloc[0]
    true_per_h = rate * 3600
    assert row["hazard_per_h_ci_lower"] < true_per_h < row["hazard_per_h_ci_upper"]
    k, lam = row["weibull_shape"], row["weibull_scale_s"]
    se = _weibull_shape_se(d, e.astype(float), k, lam)
    assert 0 < se < 0.1  # ~0.78/sqrt(events) for ~310 events, a bit more with censoring
    assert abs(k - 1.0) < 3 * se  # exponential = Weibull with shape 1
    # p_outage at t against 1 - S(t) from scipy's KM evaluated directly
    sf = stats.ecdf(stats.CensoredData.right_censored(d, ~e)).sf
    for t in (60, 150, 299.5):
        got = survival.summary(
            make_runs(d, e, horizon=horizon, design="a"), "design", times_s=(t,)
        ).iloc[0]
        assert got[f"p_outage_{t:g}s"] == pytest.approx(1 - float(sf.evaluate(t)), abs=1e-12)
    # and the KM p_outage is close to the true 1 - exp(-rate t) (n=400: SE <= 0.025)
    assert row["p_outage_60s"] == pytest.approx(1 - math.exp(-rate * 60), abs=0.075)


# --- log-rank -----------------------------------------------------------------


def _textbook_logrank_chi2(ta, ea, tb, eb):
    """Mantel-Haenszel log-rank chi-square: (O_a - E_a)^2 / V, summed over event times."""
    t = np.concatenate([ta, tb])
    e = np.concatenate([ea, eb]).astype(bool)
    in_a = np.r_[np.ones(len(ta), bool), np.zeros(len(tb), bool)]
    o_minus_e = var = 0.0
    for s in np.unique(t[e]):
        n = np.sum(t >= s)
        n_a = np.sum((t >= s) & in_a)
        d = np.sum((t == s) & e)
        d_a = np.sum((t == s) & e & in_a)
        o_minus_e += d_a - d * n_a / n
        if n > 1:
            var += d * (n_a / n) * (1 - n_a / n) * (n - d) / (n - 1)
    return o_minus_e, o_minus_e**2 / var


def test_logrank_against_textbook_formula():
    ta, ea = [3, 5, 7, 9, 12, 12], [1, 1, 0, 1, 1, 0]
    tb, eb = [1, 2, 4, 5, 8, 10], [1, 0, 1, 1, 1, 1]
    runs = pd.concat(
        [make_runs(ta, ea, design="a"), make_runs(tb, eb, design="b")], ignore_index=True
    )
    res = survival.logrank(runs, ["design"], compare="design")
    assert len(res) == 1
    row = res.iloc[0]
    ome, chi2 = _textbook_logrank_chi2(np.array(ta, float), ea, np.array(tb, float), eb)
    assert row["statistic"] ** 2 == pytest.approx(chi2, rel=1e-10)
    assert np.sign(row["statistic"]) == np.sign(ome)
    assert row["pvalue"] == pytest.approx(stats.chi2.sf(chi2, 1), rel=1e-10)
    assert (row["group_a"], row["group_b"], row["events_a"], row["events_b"]) == ("a", "b", 4, 5)


def test_logrank_identical_and_very_different_samples():
    rng = np.random.default_rng(11)
    d, e = exp_sample(rng, rate=1.0, n=50, horizon=2.0)
    same = pd.concat([make_runs(d, e, design="a"), make_runs(d, e, design="b")], ignore_index=True)
    row = survival.logrank(same, "design", compare="design").iloc[0]
    assert abs(row["statistic"]) < 1e-12
    assert row["pvalue"] == pytest.approx(1.0, abs=1e-12)

    d1, e1 = exp_sample(rng, rate=1.0, n=200, horizon=3.0)
    d10, e10 = exp_sample(rng, rate=10.0, n=200, horizon=3.0)
    diff = pd.concat(
        [make_runs(d1, e1, design="slow"), make_runs(d10, e10, design="fast")],
        ignore_index=True,
    )
    row = survival.logrank(diff, "design", compare="design").iloc[0]
    assert row["pvalue"] < 1e-6
    # groups sorted: a="fast" has far more early outages than expected under H0
    assert row["group_a"] == "fast"
    assert row["statistic"] > 0


def test_logrank_zero_events_and_strata():
    runs = pd.concat(
        [
            make_runs([10, 10], [0, 0], horizon=10, design="a", smp=1),
            make_runs([10, 10], [0, 0], horizon=10, design="b", smp=1),
            make_runs([1, 2, 3], [1, 1, 1], horizon=10, design="a", smp=2),
            make_runs([10, 10, 10], [0, 0, 0], horizon=10, design="b", smp=2),
            make_runs([4, 10], [1, 0], horizon=10, design="c", smp=2),
        ],
        ignore_index=True,
    )
    res = survival.logrank(runs, ["design", "smp"], compare="design")
    assert list(res.columns[:3]) == ["smp", "group_a", "group_b"]
    s1 = res[res["smp"] == 1].iloc[0]
    assert (s1["statistic"], s1["pvalue"]) == (0.0, 1.0)
    assert len(res[res["smp"] == 2]) == 3  # a-b, a-c, b-c
    assert res["pvalue"].between(0, 1).all()


# --- errors and bundling ----------------------------------------------------------


def test_error_rows_excluded_and_counted():
    base = make_runs(HAND_T, HAND_E, horizon=8, design="a")
    bad = make_runs([0.5, 1.0], [1, 1], horizon=8, design="a", error=["boom", "Timeout"])
    dead = make_runs([1.0], [1], horizon=8, design="z", error=["crash"])
    runs = pd.concat([base, bad, dead], ignore_index=True)
    tab = survival.summary(runs, "design").set_index("design")
    clean = survival.summary(base, "design").set_index("design")
    assert tab.loc["a", "n_runs"] == 7
    assert tab.loc["a", "n_errors"] == 2
    assert tab.loc["a", "events"] == 3
    assert tab.loc["a", "censored"] == 2
    numeric = clean.select_dtypes("number").columns.drop(["n_runs", "n_errors"])
    pd.testing.assert_series_equal(
        tab.loc["a", numeric].astype(float), clean.loc["a", numeric].astype(float)
    )
    assert tab.loc["z", "n_runs"] == 1
    assert tab.loc["z", "n_errors"] == 1
    assert tab.loc["z", "events"] == 0
    assert math.isnan(tab.loc["z", "hazard_per_h"])
    km = survival.km_curves(runs, "design")
    assert set(km["design"]) == {"a"}
    np.testing.assert_allclose(km["survival"], [1, 0.8, 0.6, 0.3, 0.3], atol=1e-12)


def test_summary_blackout_columns():
    runs = make_runs(
        [1, 2, 3, 9],
        [1, 1, 1, 0],
        horizon=9,
        recovered=[1, 0, 1, 0],
        blackout=[0.5, 4.0, 1.5, np.nan],
        design="a",
    )
    row = survival.summary(runs, "design").iloc[0]
    assert row["recovered_fraction"] == pytest.approx(2 / 3)
    assert row["blackout_median_s"] == pytest.approx(1.5)


def test_analyze_bundle():
    rng = np.random.default_rng(3)
    parts = []
    for design, rate in (("old", 1 / 50), ("new", 1 / 5000)):
        for smp in (1, 4):
            d, e = exp_sample(rng, rate=rate * smp, n=30, horizon=300)
            parts.append(make_runs(d, e, horizon=300, design=design, smp=smp, load_rps=1000))
    runs = pd.concat(parts, ignore_index=True)
    out = survival.analyze(runs, ["design", "smp", "load_rps"])
    assert set(out) == {"summary", "km", "censor", "recovery_km", "logrank"}
    assert list(out["summary"].columns[:3]) == ["design", "smp", "load_rps"]
    assert len(out["summary"]) == 4
    assert list(out["logrank"].columns[:2]) == ["smp", "load_rps"]
    # SMP values are compared by the trend regression (analysis.inference), not pairwise.
    assert set(survival.analyze(runs, ["smp"], compare="design")) == {
        "summary",
        "km",
        "censor",
        "recovery_km",
    }


def test_recovery_curves_are_kaplan_meier_of_the_blackout_with_recovery_as_the_event() -> None:
    # Group a: four outages with blackouts 10 (recovered), 20 (recovered), 30 (still silent
    # at the end: censored) and 40 s (recovered), and one run without an outage, which does
    # not enter. By hand: S = 3/4 after 10 s, 3/4 · 2/3 = 1/2 after 20 s, a censoring mark at
    # 30 s, and 1/2 · 0/1 = 0 after 40 s. Group b: no outage at all, so no curve.
    runs = pd.DataFrame(
        {
            "g": ["a"] * 5 + ["b"],
            "duration_s": [5.0, 6.0, 7.0, 8.0, 100.0, 100.0],
            "event_observed": [True, True, True, True, False, False],
            "recovered": [True, True, False, True, False, False],
            "blackout_s": [10.0, 20.0, 30.0, 40.0, 0.0, 0.0],
        }
    )
    km = survival.recovery_curves(runs, "g")
    assert set(km["g"]) == {"a"}
    assert km["time_s"].tolist() == [0.0, 10.0, 20.0, 30.0, 40.0]
    assert km["survival"].tolist() == pytest.approx([1.0, 0.75, 0.5, 0.5, 0.0], abs=1e-15)
    assert km["censored"].tolist() == [0, 0, 0, 1, 0]
    assert km["at_risk"].tolist() == [4, 4, 3, 2, 1]
    tables = survival.analyze(runs.assign(horizon_s=100.0), "g", compare="g")
    pd.testing.assert_frame_equal(tables["recovery_km"], km)
