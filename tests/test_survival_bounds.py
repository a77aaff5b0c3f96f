"""Intervals, bounds and input checks of the plain survival tables (issue 9).

Every expected value is computed by hand in a comment, or recorded from lifelines 0.30.3 or
R survival's own tests with its source.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from vnetsim.analysis import fits, survival
from vnetsim.config import ConfigError

Z95 = stats.norm.ppf(0.975)


def runs_of(durations, events, *, horizon, recovered=None, blackout=None, **groups):
    d = np.asarray(durations, dtype=float)
    e = np.asarray(events, dtype=bool)
    n = d.size
    df = pd.DataFrame(
        {
            "run_id": [f"r{i}" for i in range(n)],
            "duration_s": d,
            "event_observed": e,
            "horizon_s": np.full(n, float(horizon)),
            "recovered": np.zeros(n, bool) if recovered is None else np.asarray(recovered, bool),
            "blackout_s": np.where(e, 1.0, 0.0) if blackout is None else np.asarray(blackout),
            "error": [""] * n,
        }
    )
    return df.assign(**groups)


def row_of(runs, **kw):
    return survival.summary(runs, "design", **kw).iloc[0]


# --- zero outages: exact bounds, not "0 % [0 %, 0 %]" ---------------------------------------


def test_zero_outages_get_clopper_pearson_and_a_poisson_bound():
    row = row_of(runs_of([20, 20], [0, 0], horizon=20, design="new"), times_s=(20,))
    # 0 of 2, two-sided 95 %: upper = 1 - 0.025 ** (1/2) = 0.841886
    assert row["p_outage_20s"] == 0.0
    assert row["p_outage_20s_ci_lower"] == 0.0
    assert row["p_outage_20s_ci_upper"] == pytest.approx(1 - 0.025**0.5, rel=1e-9)
    assert row["p_outage_ci_method"] == "clopper-pearson"
    # one-sided 95 % Poisson bound with no event: -ln(0.05) / T, T = 40 s, per hour
    assert row["hazard_is_bound"]
    assert row["hazard_per_h_upper"] == pytest.approx(-math.log(0.05) / 40 * 3600, rel=1e-9)


def test_all_observed_cell_uses_exact_binomial_with_events():
    # 1 outage of 4 runs, all others observed to 10: KM = 1/4 exactly, Clopper-Pearson
    # [0.00631, 0.80589] (scipy.stats.binomtest(1, 4) exact interval)
    row = row_of(runs_of([3, 10, 10, 10], [1, 0, 0, 0], horizon=10, design="a"), times_s=(10,))
    assert row["p_outage_10s"] == pytest.approx(0.25)
    lo, hi = stats.binomtest(1, 4).proportion_ci(0.95, method="exact")
    assert (row["p_outage_10s_ci_lower"], row["p_outage_10s_ci_upper"]) == pytest.approx((lo, hi))
    assert 0.0063 < lo < 0.0064
    assert 0.8058 < hi < 0.8059
    assert not row["hazard_is_bound"]


def test_times_past_every_horizon_get_no_column():
    row = row_of(runs_of([5, 20], [1, 0], horizon=20, design="a"), times_s=(10, 60, 900))
    assert "p_outage_10s" in row.index
    assert not [c for c in row.index if c.startswith(("p_outage_60s", "p_outage_900s"))]


# --- RMST interval ----------------------------------------------------------------------------


def test_rmst_interval_by_hand():
    # durations [2, 3, 3, 5, 8], events [1, 1, 0, 1, 0], tau 8: RMST = 4.9 (test_survival).
    # Area after each event time: A(2) = .8 + 1.2 + .9 = 2.9, A(3) = 2.1, A(5) = .9.
    # Var = 2.9²/(5·4) + 2.1²/(4·3) + .9²/(2·1) = .4205 + .3675 + .405 = 1.193
    row = row_of(runs_of([2, 3, 3, 5, 8], [1, 1, 0, 1, 0], horizon=8, design="a"))
    se = math.sqrt(1.193)
    assert row["rmst_s"] == pytest.approx(4.9)
    assert row["rmst_ci_lower_s"] == pytest.approx(4.9 - Z95 * se, rel=1e-12)
    assert row["rmst_ci_upper_s"] == pytest.approx(4.9 + Z95 * se, rel=1e-12)


def test_rmst_interval_is_clipped_to_zero_and_tau():
    # all runs fail at once at t = 1: var 0 (n = d), RMST = 1; no event: RMST = tau exactly
    row = row_of(runs_of([1, 1], [1, 1], horizon=5, design="a"))
    assert (row["rmst_ci_lower_s"], row["rmst_s"], row["rmst_ci_upper_s"]) == (1.0, 1.0, 1.0)
    row = row_of(runs_of([5, 5], [0, 0], horizon=5, design="a"))
    assert row["rmst_ci_lower_s"] == row["rmst_ci_upper_s"] == 5.0


# --- Weibull: intervals, minimum events, NaN for degenerate fits ------------------------------

# 40 Weibull(shape 1.8, scale 100) draws (numpy default_rng(77), rounded to 0.01), censored at
# 120 s: 28 events.
WEIBULL_T = [162.56, 88.04, 33.46, 92.23, 95.64, 48.6, 185.07, 48.77, 140.54, 84.8, 201.32,
             110.83, 46.98, 57.12, 118.05, 159.11, 86.96, 61.15, 157.03, 41.19, 94.63, 47.99,
             123.72, 70.91, 62.92, 182.79, 37.35, 75.85, 2.45, 125.39, 50.66, 13.12, 209.07,
             22.26, 121.86, 68.93, 82.61, 30.85, 90.29, 127.81]  # fmt: skip
# lifelines 0.30.3 WeibullFitter().fit(min(t, 120), t <= 120).summary:
#   rho_ (shape) 1.610897, se 0.270254; lambda_ (scale) 106.152050, se 12.548678
LIFELINES = {"shape": (1.610897, 0.270254), "scale": (106.152050, 12.548678)}


def test_weibull_intervals_match_lifelines_standard_errors():
    t = np.minimum(WEIBULL_T, 120.0)
    e = np.asarray(WEIBULL_T) <= 120.0
    fit = fits.weibull_fit(t, e)
    # Two numerical optimisers and Hessians: 1e-4 relative.
    for name, est, (lo, hi) in (
        ("shape", fit.shape, fit.shape_ci),
        ("scale", fit.scale_s, fit.scale_ci_s),
    ):
        ref, ref_se = LIFELINES[name]
        assert est == pytest.approx(ref, rel=1e-4)
        # Wald on the log scale: se(log θ) = se(θ)/θ at the MLE
        se_log = ref_se / ref
        assert lo == pytest.approx(ref * math.exp(-Z95 * se_log), rel=1e-4)
        assert hi == pytest.approx(ref * math.exp(Z95 * se_log), rel=1e-4)


def test_weibull_not_fitted_below_minimum_or_when_degenerate():
    few = fits.weibull_fit(np.array([1.0, 2.0, 5.0]), np.array([True, True, False]))
    assert math.isnan(few.shape)
    assert math.isnan(few.shape_ci[1])
    assert "events" in few.note
    same = fits.weibull_fit(np.full(6, 3.0), np.ones(6, bool))
    assert math.isnan(same.shape)
    assert math.isnan(same.scale_s)
    row = row_of(runs_of([1, 2, 20], [1, 1, 0], horizon=20, design="a"))
    assert math.isnan(row["weibull_shape"])
    assert math.isnan(row["weibull_shape_ci_upper"])


# --- blackout: a censored time ------------------------------------------------------------------


def test_blackout_without_recovery_is_a_bound_not_a_median():
    runs = runs_of(
        [5, 17, 20], [1, 1, 0], horizon=20, recovered=[0, 0, 0], blackout=[60.9, 60.4, 0.0],
        design="old",
    )  # fmt: skip
    row = row_of(runs)
    assert math.isnan(row["blackout_median_s"])
    assert row["blackout_median_label"] == "> 60.9 s (0/2 recovered)"
    assert row["blackout_window_s"] == 60.9
    assert row["recovered_fraction"] == 0.0
    assert row["recovered_fraction_ci_upper"] == pytest.approx(1 - 0.025**0.5)


def test_blackout_median_is_kaplan_meier_with_recovery_as_event():
    # blackouts 2 (rec), 4 (no), 6 (rec), 8 (rec): KM  t=2: 3/4; t=6: 3/4·1/2 = 3/8 <= .5
    runs = runs_of(
        [1, 1, 1, 1], [1, 1, 1, 1], horizon=9, recovered=[1, 0, 1, 1], blackout=[2, 4, 6, 8],
        design="a",
    )  # fmt: skip
    row = row_of(runs)
    assert row["blackout_median_s"] == 6.0
    assert row["blackout_median_label"] == "6 s (3/4 recovered)"


# --- median conventions -------------------------------------------------------------------------


def test_median_rules_first_and_r_midpoint():
    # S = 0.5 on [5.07, 17.12) then 0: first rule 5.07, R's midpoint (5.07 + 17.12) / 2
    runs = runs_of([5.07, 17.12], [1, 1], horizon=20, design="a")
    assert row_of(runs)["median_s"] == 5.07
    assert row_of(runs, median_rule="midpoint")["median_s"] == pytest.approx(11.095)
    # flat at 0.5 to the end of the curve (last time 20, censored): (13.5 + 20) / 2
    runs = runs_of([13.5, 20], [1, 0], horizon=20, design="a")
    assert row_of(runs, median_rule="midpoint")["median_s"] == pytest.approx(16.75)
    with pytest.raises(ValueError, match="median_rule"):
        row_of(runs, median_rule="mean")


def test_midpoint_rule_on_r_survivals_own_test_case():
    # therneau/survival tests/quantile.R: time (9, 1, 1, 6, 6, 8, 10), status (1, 1, 0, 1, 1,
    # 0, 0) (the NA row dropped); quantile(fit, 1 - qq) for qq = 6/7, 9/35 is 3.5 and 9.5,
    # and 9 for qq = 0.5.
    runs = runs_of([9, 1, 1, 6, 6, 8, 10], [1, 1, 0, 1, 1, 0, 0], horizon=10, design="a")
    km = survival.km_curves(runs, "design")
    t, s = km["time_s"].to_numpy(), km["survival"].to_numpy()
    for level, expected in ((6 / 7, 3.5), (9 / 35, 9.5), (0.5, 9.0)):
        assert survival._quantile_time(t, s, level, "midpoint") == pytest.approx(expected)


# --- bad data is refused, naming the run -------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "value", "allowed"),
    [
        ("event_observed", np.nan, "true/false"),
        ("event_observed", "False", "true/false"),
        ("duration_s", -1.0, ">= 0"),
        ("duration_s", np.nan, ">= 0"),
        ("horizon_s", np.nan, "> 0"),
        ("recovered", "yes", "true/false"),
    ],
)
def test_bad_values_are_refused_naming_the_run(column, value, allowed):
    runs = runs_of([5, 20, 20], [1, 0, 0], horizon=20, design="a")
    runs[column] = runs[column].astype(object)
    runs.loc[1, column] = value
    with pytest.raises(ConfigError, match=f"run 'r1' has {column} = .*allowed: .*{allowed}"):
        survival.summary(runs, "design")


def test_bad_values_in_error_rows_are_ignored():
    runs = runs_of([5, 20, 20], [1, 0, 0], horizon=20, design="a")
    runs["duration_s"] = runs["duration_s"].astype(object)
    runs.loc[2, ["duration_s", "error"]] = [np.nan, "crashed"]
    assert row_of(runs)["n_errors"] == 1
