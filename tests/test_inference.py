"""Tests of the pooled inference (vnetsim.analysis.inference) on data with a known answer.

Most tables are built from per-cell outcomes (``counts``: k outages and a chosen exposure), so
every rate ratio, bound and hours figure has a closed form, written next to the assertion.
Reference values from other software are recorded as literals with their source; nothing here
imports lifelines at run time. All randomness is seeded.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from vnetsim.analysis import inference as inf
from vnetsim.analysis import permutation

NAN = float("nan")
ALPHA = 0.05
Z975 = 1.959963984540054  # stats.norm.ppf(0.975)


def plain_rows(durations, events, **cell) -> list[dict]:
    return [
        {**cell, "duration_s": float(t), "event_observed": bool(e), "horizon_s": 1e9, "error": ""}
        for t, e in zip(durations, events, strict=True)
    ]


def counts(k: int, exposure_s: float, **cell) -> list[dict]:
    """k outage runs of 1 s each and one censored run carrying the rest of the exposure."""
    return plain_rows([1.0] * k + [exposure_s - k], [True] * k + [False], **cell)


def frame(rows) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    df["run_id"] = [f"r{i}" for i in range(len(df))]
    return df


def split_row(series, *, horizon=20.0, **cell) -> dict:
    """A split run as tests/test_split_analysis.py builds them (no own outage, never stopped)."""
    return {
        **cell,
        "estimator": "split",
        "horizon_s": float(horizon),
        "duration_s": float(horizon),
        "event_observed": False,
        "split_series": json.dumps([[float(t), float(p), int(k)] for t, p, k in series]),
        "split_stopped_s": NAN,
        "error": "",
    }


def constant_split(n, p, *, times=range(1, 11), horizon=20.0, **cell) -> list[dict]:
    return [split_row([(t, p, 10) for t in times], horizon=horizon, **cell) for _ in range(n)]


def split_outcome(p: float, m: int = 10, horizon: float = 20.0) -> tuple[float, float]:
    """Per run with p̂ = p at t = 1..m: expected outages 1 − S(h) and RMST(h) = ∫₀^h S."""
    s_end = (1 - p) ** m
    # S = (1 − p)^j on [j, j + 1) for j < m, then (1 − p)^m up to the horizon.
    rmst = sum((1 - p) ** j for j in range(m)) + (horizon - m) * s_end
    return 1.0 - s_end, rmst


# --- validation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "value", "match"),
    [
        ("duration_s", NAN, "run 'r1' has duration_s"),
        ("duration_s", -1.0, "run 'r1' has duration_s"),
        ("event_observed", "False", "run 'r1' has event_observed"),
        ("event_observed", NAN, "run 'r1' has event_observed"),
    ],
)
def test_bad_values_are_refused_naming_column_and_run(column, value, match):
    runs = frame(counts(2, 100.0, design="old", smp=1, load_rps=1000))
    runs[column] = runs[column].astype(object)
    runs.loc[1, column] = value
    for fn in (inf.pooled_comparison, inf.trend, inf.certification):
        with pytest.raises(ValueError, match=match):
            fn(runs)
    with pytest.raises(ValueError, match=match):
        inf.small_sample_logrank(runs, ["design", "smp"])


def test_missing_column_and_error_rows():
    runs = frame(counts(2, 100.0, design="old", smp=1))
    with pytest.raises(ValueError, match="no column 'load_rps'"):
        inf.pooled_comparison(runs)
    # A failed run (non-empty error) is left out, whatever its duration.
    runs = frame(
        [
            *counts(2, 100.0, design="old", smp=1, load_rps=1),
            *counts(1, 100.0, design="new", smp=1, load_rps=1),
        ]
    )
    bad = {"design": "new", "smp": 1, "load_rps": 1, "duration_s": NAN}
    runs = pd.concat([runs, pd.DataFrame([{**bad, "event_observed": None, "error": "boom"}])])
    row = inf.pooled_comparison(runs).iloc[0]
    assert row["events"] == 1
    assert row["exposure_h"] == pytest.approx(100 / 3600)


# --- pooled comparison -----------------------------------------------------------------------


def test_single_cell_rate_ratio_and_logrank_match_closed_form_and_lifelines():
    # new: outages at 100..400 s, 2 censored at 1000 s: k1 = 4, E1 = 3000 s.
    # old: outages at 50..400 s, 1 censored at 1200 s: k0 = 8, E0 = 3000 s.
    # One cell: the Poisson GLM is saturated and its MLE is (k1/E1)/(k0/E0) = 0.5 exactly,
    # with SE(log) = sqrt(1/k1 + 1/k0) = sqrt(0.375).
    rows = plain_rows([100, 200, 300, 400, 1000, 1000], [1, 1, 1, 1, 0, 0], design="new")
    rows += plain_rows([*range(50, 401, 50), 1200], [1] * 8 + [0], design="old")
    out = inf.pooled_comparison(frame(rows), strata=())
    assert len(out) == 1
    row = out.iloc[0]
    assert (row["level"], row["reference"], row["estimator"]) == ("new", "old", "plain")
    assert (row["events"], row["events_reference"], row["strata"]) == (4, 8, 1)
    assert row["exposure_h"] == pytest.approx(3000 / 3600)
    se = math.sqrt(1 / 4 + 1 / 8)
    assert row["rate_ratio"] == pytest.approx(0.5, rel=1e-9)
    assert row["ci_lower"] == pytest.approx(0.5 * math.exp(-Z975 * se), rel=1e-6)
    assert row["ci_upper"] == pytest.approx(0.5 * math.exp(Z975 * se), rel=1e-6)
    assert not row["ratio_is_bound"]
    # lifelines 0.30.3: logrank_test(a, b, event_observed_A=..., event_observed_B=...)
    # .test_statistic = 1.1187800839647981, .p_value = 0.29018128510867625.
    assert row["logrank_statistic"] == pytest.approx(1.1187800839647981, rel=1e-9)
    assert row["logrank_pvalue"] == pytest.approx(0.29018128510867625, rel=1e-9)


def test_stratified_logrank_is_sum_of_cells_hand_computed():
    # Cell smp=1: new (1, outage), (3, censored); old (2, outage), (4, outage).
    #   t=1: n=4, d=1, n_new=2, d_new=1: O−E = 1 − 2/4 = 1/2, V = 1·3·2·2/(16·3) = 1/4
    #   t=2: n=3, d=1, n_new=1, d_new=0: O−E = −1/3,         V = 1·2·1·2/(9·2) = 2/9
    #   t=4: n=1: no variance, O−E = 0.      Cell: O−E = 1/6, V = 17/36.
    # Unstratified check of this cell alone: chi2 = (1/6)²/(17/36) = 1/17; lifelines 0.30.3
    # logrank_test([1, 3], [2, 4], [1, 0], [1, 1]).test_statistic = 0.058823529411764774.
    # Cell smp=2: new (5, outage); old (1, censored), (6, outage).
    #   t=5: n=2, d=1, n_new=1, d_new=1: O−E = 1/2, V = 1·1·1·1/(4·1) = 1/4; t=6: n=1.
    # Stratified: chi2 = (1/6 + 1/2)² / (17/36 + 9/36) = (4/9) / (13/18) = 8/13.
    rows = plain_rows([1, 3], [1, 0], design="new", smp=1)
    rows += plain_rows([2, 4], [1, 1], design="old", smp=1)
    rows += plain_rows([5], [1], design="new", smp=2)
    rows += plain_rows([1, 6], [0, 1], design="old", smp=2)
    runs = frame(rows)
    row = inf.pooled_comparison(runs, strata=["smp"]).iloc[0]
    assert row["logrank_statistic"] == pytest.approx(8 / 13, rel=1e-12)
    assert row["logrank_pvalue"] == pytest.approx(stats.chi2.sf(8 / 13, 1), rel=1e-12)
    one = inf.pooled_comparison(runs[runs["smp"] == 1], strata=["smp"]).iloc[0]
    assert one["logrank_statistic"] == pytest.approx(0.058823529411764774, rel=1e-12)


def test_common_ratio_across_strata_with_its_conditional_standard_error():
    # smp=1: new 2 in 10 h, old 4 in 10 h; smp=2: new 6 in 10 h, old 12 in 10 h. The ratio is
    # 0.5 in both cells, so the common-ratio MLE is 0.5. Given the cell totals n = 6 and 18,
    # new's count is Binomial(n, 1/3): information Σ n·(1/3)(2/3) = 16/3, SE = sqrt(3/16).
    hour = 3600.0
    rows = counts(2, 10 * hour, design="new", smp=1) + counts(4, 10 * hour, design="old", smp=1)
    rows += counts(6, 10 * hour, design="new", smp=2) + counts(12, 10 * hour, design="old", smp=2)
    row = inf.pooled_comparison(frame(rows), strata=["smp"]).iloc[0]
    se = math.sqrt(3 / 16)
    assert row["strata"] == 2
    assert row["rate_ratio"] == pytest.approx(0.5, rel=1e-8)
    assert math.log(row["ci_upper"] / row["ci_lower"]) == pytest.approx(2 * Z975 * se, rel=1e-6)


def test_zero_events_exact_conditional_bound():
    # One cell, 10 reference outages, equal exposure, none for the level:
    # P(all 10 fall in the reference) = (1/(1 + R))^10 = α  ->  R_up = α^(−1/10) − 1 = 0.3493.
    rows = counts(10, 3600.0, design="old", smp=1) + counts(0, 3600.0, design="new", smp=1)
    row = inf.pooled_comparison(frame(rows), strata=["smp"]).iloc[0]
    assert pytest.approx(0.349283, abs=1e-6) == ALPHA ** (-1 / 10) - 1
    assert row["ci_upper"] == pytest.approx(ALPHA ** (-1 / 10) - 1, rel=1e-9)
    assert (row["rate_ratio"], row["ci_lower"], row["ratio_is_bound"]) == (0.0, 0.0, True)
    assert "exact conditional" in row["method"]


def test_zero_events_bound_over_strata():
    # Two cells with the same exposure ratio E_new/E_old = 2: p_s = 2R/(1 + 2R) in both, so
    # the bound is the one-cell bound with n = 4 + 6 = 10 and half the ratio.
    rows = counts(4, 1000.0, design="old", smp=1) + counts(0, 2000.0, design="new", smp=1)
    rows += counts(6, 500.0, design="old", smp=2) + counts(0, 1000.0, design="new", smp=2)
    row = inf.pooled_comparison(frame(rows), strata=["smp"]).iloc[0]
    assert row["ci_upper"] == pytest.approx((ALPHA ** (-1 / 10) - 1) / 2, rel=1e-9)
    # Unequal ratios: check the defining equation Π (1 − p_s)^{n_s} = α at the bound.
    rows = counts(4, 1000.0, design="old", smp=1) + counts(0, 3000.0, design="new", smp=1)
    rows += counts(6, 500.0, design="old", smp=2) + counts(0, 250.0, design="new", smp=2)
    r_up = inf.pooled_comparison(frame(rows), strata=["smp"]).iloc[0]["ci_upper"]
    p_all_zero = (1000 / (1000 + 3000 * r_up)) ** 4 * (500 / (500 + 250 * r_up)) ** 6
    assert p_all_zero == pytest.approx(ALPHA, rel=1e-9)


def test_reference_without_outage_and_neither_with_one():
    # Roles swapped: the level's 5 outages against none in equal exposure give a lower bound
    # 1 / (α^(−1/5) − 1) on level / reference.
    rows = counts(5, 3600.0, design="new", smp=1) + counts(0, 3600.0, design="old", smp=1)
    rows += counts(0, 3600.0, design="nanos", smp=1)
    out = inf.pooled_comparison(frame(rows), strata=["smp"]).set_index("level")
    new = out.loc["new"]
    assert new["rate_ratio"] == math.inf
    assert new["ci_upper"] == math.inf
    assert new["ci_lower"] == pytest.approx(1 / (ALPHA ** (-1 / 5) - 1), rel=1e-9)
    nanos = out.loc["nanos"]
    assert math.isnan(nanos["rate_ratio"])
    assert math.isnan(nanos["ci_upper"])
    assert "no outage" in nanos["note"]
    assert (nanos["logrank_statistic"], nanos["logrank_pvalue"]) == (0.0, 1.0)


def test_reference_default_and_cells_without_both():
    rows = counts(2, 100.0, design="a", smp=1) + counts(3, 100.0, design="b", smp=1)
    rows += counts(3, 100.0, design="b", smp=2)  # no "a" run here: the cell is not used
    out = inf.pooled_comparison(frame(rows), strata=["smp"])
    # No level named "old": the first in sorted order is the reference.
    assert out[["level", "reference", "strata"]].values.tolist() == [["b", "a", 1]]
    assert out.iloc[0]["events"] == 3
    with pytest.raises(ValueError, match="reference 'zzz'"):
        inf.pooled_comparison(frame(rows), strata=["smp"], reference="zzz")


# --- split rows ----------------------------------------------------------------------------


def test_split_rows_rate_ratio_and_zero_bound():
    # Constant p̂ per batch (10 batches, horizon 20): every run has the same S_r and RMST
    # (split_outcome), so the ratio of Σ(1 − S_r)/ΣRMST is known exactly.
    rows = constant_split(4, 0.1, design="old") + constant_split(3, 0.01, design="new")
    rows += constant_split(3, 0.0, design="nanos")
    out = inf.pooled_comparison(frame(rows), strata=()).set_index("level")
    lost_old, rm_old = split_outcome(0.1)
    lost_new, rm_new = split_outcome(0.01)
    new = out.loc["new"]
    assert new["estimator"] == "split"
    assert new["events"] == pytest.approx(3 * lost_new, rel=1e-12)
    assert new["exposure_h"] == pytest.approx(3 * rm_new / 3600, rel=1e-12)
    assert new["rate_ratio"] == pytest.approx((lost_new / rm_new) / (lost_old / rm_old), rel=1e-8)
    assert new["ci_lower"] < new["rate_ratio"] < new["ci_upper"]
    assert math.isnan(new["logrank_statistic"])
    assert "quasi-Poisson" in new["method"]
    # No expected outage: −log α over the reference-predicted outages, E_nanos · λ_old with
    # E_nanos = 3 runs × 20 s (S = 1 throughout).
    nanos = out.loc["nanos"]
    bound = -math.log(ALPHA) / (3 * 20.0 * 4 * lost_old / (4 * rm_old))
    assert nanos["ci_upper"] == pytest.approx(bound, rel=1e-9)
    assert nanos["ratio_is_bound"]
    assert nanos["rate_ratio"] == 0.0


def test_plain_and_split_rows_are_never_pooled():
    rows = counts(4, 3600.0, design="old") + counts(2, 3600.0, design="new")
    rows = [{**r, "estimator": "plain"} for r in rows]
    rows += constant_split(2, 0.1, design="old") + constant_split(2, 0.05, design="new")
    out = inf.pooled_comparison(frame(rows), strata=())
    assert out["estimator"].tolist() == ["plain", "split"]
    assert out.iloc[0]["rate_ratio"] == pytest.approx(0.5, rel=1e-9)


# --- trend ---------------------------------------------------------------------------------


def test_trend_recovers_simulated_rate_ratios():
    # Poisson counts with a known hazard ratio per doubling: 1.5 for vCPUs, 2 for load.
    rng = np.random.default_rng(20240611)
    true = {"log2_smp": 1.5, "log2_load": 2.0}
    rows = []
    for smp in (1, 2, 4, 8, 16):
        for load in (2500, 5000):
            rate_h = 2.0 * true["log2_smp"] ** math.log2(smp) * true["log2_load"] ** (load // 5000)
            k = int(rng.poisson(rate_h * 50))
            rows += counts(k, 50 * 3600.0, design="old", smp=smp, load_rps=load)
    out = inf.trend(frame(rows)).set_index("term")
    for term, ratio in true.items():
        r = out.loc[term]
        se = (math.log(r["ci_upper"]) - math.log(r["ci_lower"])) / (2 * Z975)
        assert abs(math.log(r["rate_ratio"]) - math.log(ratio)) < 4 * se
        assert r["ci_lower"] < ratio < r["ci_upper"]
        assert r["cells"] == 10
        assert r["note"] == ""
    assert out.loc["log2_smp", "dispersion"] < 3


def test_trend_two_cells_is_the_rate_ratio_and_single_values_are_left_out():
    # smp 1 vs 2, one load: saturated, exp(b) = (k2/E2)/(k1/E1) = (9/30)/(6/40) = 2.
    rows = counts(6, 40 * 3600.0, design="old", smp=1, load_rps=5000)
    rows += counts(9, 30 * 3600.0, design="old", smp=2, load_rps=5000)
    out = inf.trend(frame(rows)).set_index("term")
    assert out.loc["log2_smp", "rate_ratio"] == pytest.approx(2.0, rel=1e-8)
    se = math.sqrt(1 / 6 + 1 / 9)
    assert out.loc["log2_smp", "ci_upper"] == pytest.approx(2 * math.exp(Z975 * se), rel=1e-6)
    assert math.isnan(out.loc["log2_load", "rate_ratio"])
    assert "single value" in out.loc["log2_load", "note"]


@pytest.mark.parametrize(
    ("cells", "note"),
    [
        # Every outage in the top cell: the MLE runs off to infinity.
        ([(1, 1000, 0), (2, 1000, 0), (4, 1000, 7)], "separation"),
        ([(1, 1000, 0), (2, 1000, 5)], "separation"),
        ([(1, 1000, 1), (2, 1000, 1)], "fewer than 3"),
        # load = 1000·smp: log2 terms are collinear.
        ([(1, 1000, 3), (2, 2000, 4), (4, 4000, 6)], "collinear"),
    ],
)
def test_degenerate_trends_are_nan(cells, note):
    rows = []
    for smp, load, k in cells:
        rows += counts(k, 3600.0, design="old", smp=smp, load_rps=load)
    out = inf.trend(frame(rows))
    assert out["rate_ratio"].isna().all()
    assert out["ci_upper"].isna().all()
    assert out["note"].str.contains(note).any()


def test_trend_split_rows_quasi_poisson():
    # Two split cells, smp 1 (p̂ 0.01) and 2 (p̂ 0.02): the saturated fit gives exactly the
    # ratio of the cells' Σ(1 − S_r)/ΣRMST; no residual df, so the Poisson scale is used.
    rows = constant_split(3, 0.01, design="new", smp=1, load_rps=5000)
    rows += constant_split(3, 0.02, design="new", smp=2, load_rps=5000)
    out = inf.trend(frame(rows), min_events=0.1).set_index("term")
    r = out.loc["log2_smp"]
    (l1, e1), (l2, e2) = split_outcome(0.01), split_outcome(0.02)
    assert r["estimator"] == "split"
    assert "quasi-Poisson" in r["model"]
    assert "no df" in r["model"]
    assert r["rate_ratio"] == pytest.approx((l2 / e2) / (l1 / e1), rel=1e-8)
    assert 0 < r["ci_lower"] < r["rate_ratio"] < r["ci_upper"] < math.inf
    # A third cell (p̂ 0.04, 0.6 expected outages in 3 runs) gives one df for the scale.
    rows += constant_split(2, 0.04, design="new", smp=4, load_rps=5000)
    r = inf.trend(frame(rows), min_events=0.1).set_index("term").loc["log2_smp"]
    assert "scale" in r["model"]
    assert "no df" not in r["model"]
    assert 1.8 < r["rate_ratio"] < 2.1
    assert 0 < r["ci_lower"] < r["rate_ratio"] < r["ci_upper"] < math.inf
    assert inf.trend(frame(rows)).set_index("term").loc["log2_smp", "note"].startswith("fewer")


# --- certification -------------------------------------------------------------------------


def test_certification_single_cell_closed_form():
    # 10 reference outages in 10 h, none of the design's in 10 h:
    # ratio_upper = (E_ref/E)(α^(−1/10) − 1) = 0.349283; hours_needed = 10·0.349283/0.01.
    h = 3600.0
    rows = counts(10, 10 * h, design="old", smp=8, load_rps=5000)
    rows += counts(0, 10 * h, design="new", smp=8, load_rps=5000)
    out = inf.certification(frame(rows))
    assert out["scope"].tolist() == ["cell", "pooled"]
    assert out.loc[0, ["smp", "load_rps"]].tolist() == [8, 5000]
    assert out.loc[1, ["smp", "load_rps"]].isna().all()
    cell = out.iloc[0]
    bound = ALPHA ** (-1 / 10) - 1
    assert cell["ratio_upper"] == pytest.approx(bound, rel=1e-9)
    assert cell["hours_needed"] == pytest.approx(10 * bound / 0.01, rel=1e-9)
    assert cell["hours_more"] == pytest.approx(10 * bound / 0.01 - 10, rel=1e-9)
    assert not cell["certified"]
    # −log(0.05) / 10 h; reference 1/h with [qchisq(0.025, 20), qchisq(0.975, 22)] / 20
    # (R: 9.590777, 36.78071).
    assert cell["hazard_upper_per_h"] == pytest.approx(-math.log(ALPHA) / 10, rel=1e-9)
    assert cell["reference_hazard_per_h"] == pytest.approx(1.0)
    assert cell["reference_hazard_ci_lower_per_h"] == pytest.approx(9.590777 / 20, rel=1e-6)
    assert cell["reference_hazard_ci_upper_per_h"] == pytest.approx(36.78071 / 20, rel=1e-6)
    pooled = out.iloc[1]
    assert pooled["ratio_upper"] == pytest.approx(bound, rel=1e-9)


def test_certification_pooled_spreads_hours_and_flags_cells():
    h = 3600.0
    rows = counts(4, 10 * h, design="old", smp=1, load_rps=1) + counts(
        0, 20 * h, design="new", smp=1, load_rps=1
    )
    rows += counts(6, 5 * h, design="old", smp=2, load_rps=1) + counts(
        0, 10 * h, design="new", smp=2, load_rps=1
    )
    rows += counts(0, 5 * h, design="old", smp=4, load_rps=1) + counts(
        0, 5 * h, design="new", smp=4, load_rps=1
    )
    rows += counts(3, 5 * h, design="old", smp=8, load_rps=1)  # no design run here
    out = inf.certification(frame(rows)).set_index("smp")
    # Cell smp=1: E_ref (α^(−1/4) − 1) / target = 10·1.114743/0.01.
    assert out.loc[1, "hours_needed"] == pytest.approx(10 * (ALPHA**-0.25 - 1) / 0.01, rel=1e-9)
    # Reference without outage: no bound.
    assert math.isnan(out.loc[4, "ratio_upper"])
    assert pd.isna(out.loc[4, "certified"])
    assert "reference has no outage" in out.loc[4, "note"]
    # No design run yet: the bound is inf, hours_needed the closed form 5·(α^(−1/3) − 1)/0.01.
    assert out.loc[8, "ratio_upper"] == math.inf
    assert out.loc[8, "hours_needed"] == pytest.approx(5 * (ALPHA ** (-1 / 3) - 1) / 0.01)
    # Pooled over cells 1, 2, 4 (both ran): E_new/E_old = 2 in the cells with outages, so
    # R_up = (α^(−1/10) − 1)/2 and hours_needed = R_up · 35 h / 0.01 (spread like now).
    pooled = out.loc[out["scope"] == "pooled"].iloc[0]
    r_up = (ALPHA ** (-1 / 10) - 1) / 2
    assert pooled["cells"] == 3
    assert pooled["exposure_h"] == pytest.approx(35)
    assert pooled["ratio_upper"] == pytest.approx(r_up, rel=1e-9)
    assert pooled["hours_needed"] == pytest.approx(r_up * 35 / 0.01, rel=1e-9)


def test_certification_with_design_outages_and_a_met_target():
    # 1 design outage in 10 h against 10 in 10 h: the design's share of the n = 11 outages is
    # Binomial(11, R/(1 + R)); its exact one-sided upper bound (scipy binomtest, Clopper–
    # Pearson) p_up gives R_up = p_up / (1 − p_up).
    h = 3600.0
    rows = counts(10, 10 * h, design="old") + counts(1, 10 * h, design="new")
    row = inf.certification(frame(rows), strata=()).iloc[0]
    p_up = stats.binomtest(1, 11, alternative="less").proportion_ci(0.95, method="exact").high
    assert row["ratio_upper"] == pytest.approx(p_up / (1 - p_up), rel=1e-8)
    assert "no further" in row["note"]
    # 2000 reference outages: R_up = α^(−1/2000) − 1 = 0.0015 < 0.01.
    rows = counts(2000, 10 * h, design="old") + counts(0, 10 * h, design="new")
    row = inf.certification(frame(rows), strata=()).iloc[0]
    assert row["ratio_upper"] == pytest.approx(ALPHA ** (-1 / 2000) - 1, rel=1e-8)
    assert row["certified"]
    assert row["hours_more"] == 0.0


def test_certification_split_rows():
    # Design without expected outage (p̂ = 0, 5 runs × 20 s) against the old design's
    # constant p̂ = 0.1: ratio_upper = −log α / (E_new · λ_old), hours = R_up · E_new / target.
    rows = constant_split(4, 0.1, design="old", smp=8, load_rps=1)
    rows += constant_split(5, 0.0, design="new", smp=8, load_rps=1)
    out = inf.certification(frame(rows))
    lost, rmst = split_outcome(0.1)
    r_up = -math.log(ALPHA) / (100.0 * lost / rmst)
    for _, row in out.iterrows():
        assert row["estimator"] == "split"
        assert row["events"] == 0
        assert row["ratio_upper"] == pytest.approx(r_up, rel=1e-9)
        assert row["hours_needed"] == pytest.approx(r_up * 100 / 3600 / 0.01, rel=1e-9)


# --- small-sample log-rank -----------------------------------------------------------------


def test_exact_permutation_pvalue_two_against_two():
    # a: outages at 1 and 2; b: censored at 5 and 5. Relabellings of {1, 2, 5, 5'}: 6.
    # |Z|: {1,2} and {5,5'}: 7/√17 (O−E = 7/6, V = 1/4 + 2/9 = 17/36);
    # the other four: 1/√17. Observed is the most extreme: p = 2/6 = 1/3.
    rows = plain_rows([1, 2], [1, 1], design="new", smp=2)
    rows += plain_rows([5, 5], [0, 0], design="old", smp=2)
    rows += plain_rows([3, 4], [0, 0], design="new", smp=4)
    rows += plain_rows([3, 4], [0, 0], design="old", smp=4)
    out = inf.small_sample_logrank(frame(rows), ["design", "smp"]).set_index("smp")
    row = out.loc[2]
    assert (row["group_a"], row["group_b"]) == ("new", "old")
    assert row["statistic"] == pytest.approx(7 / math.sqrt(17), rel=1e-12)
    assert row["pvalue_asymptotic"] == pytest.approx(2 * stats.norm.sf(7 / math.sqrt(17)))
    assert row["pvalue_exact"] == pytest.approx(1 / 3, rel=1e-12)
    assert (row["permutations"], row["exact"]) == (6, True)
    # No outage at all: statistic 0, p 1.
    none = out.loc[4]
    assert (none["statistic"], none["pvalue_exact"], none["pvalue_asymptotic"]) == (0.0, 1.0, 1.0)


def test_exact_permutation_pvalue_least_extreme_and_three_against_three():
    # a: (1, outage), (5, censored); b: (2, outage), (5, censored): |Z| = 1/√17, the smallest
    # value any relabelling takes, so p = 6/6 = 1.
    rows = plain_rows([1, 5], [1, 0], design="new") + plain_rows([2, 5], [1, 0], design="old")
    row = inf.small_sample_logrank(frame(rows), ["design"]).iloc[0]
    assert row["pvalue_exact"] == pytest.approx(1.0)
    # 3 early outages against 3 censored: only the observed labelling and its mirror are as
    # extreme among C(6, 3) = 20: p = 2/20.
    rows = plain_rows([1, 2, 3], [1, 1, 1], design="new") + plain_rows(
        [9] * 3, [0] * 3, design="old"
    )
    row = inf.small_sample_logrank(frame(rows), ["design"]).iloc[0]
    assert row["pvalue_exact"] == pytest.approx(0.1)
    assert row["permutations"] == 20


def test_monte_carlo_permutations_are_seeded_and_close_to_exact():
    rng = np.random.default_rng(7)
    t = rng.exponential(10.0, 16).round(1)
    e = t < 12
    rows = plain_rows(np.minimum(t[:8] * 0.5, 12), e[:8], design="new")
    rows += plain_rows(np.minimum(t[8:], 12), e[8:], design="old")
    runs = frame(rows)
    exact = inf.small_sample_logrank(runs, ["design"]).iloc[0]  # C(16, 8) = 12870 <= 20000
    assert exact["exact"]
    assert exact["permutations"] == 12870
    mc = inf.small_sample_logrank(runs, ["design"], exact_max_permutations=2000, seed=3).iloc[0]
    assert not mc["exact"]
    assert mc["permutations"] == 2000
    p = exact["pvalue_exact"]
    assert abs(mc["pvalue_exact"] - p) < 4 * math.sqrt(p * (1 - p) / 2000) + 1 / 2000
    again = inf.small_sample_logrank(runs, ["design"], exact_max_permutations=2000, seed=3)
    assert again.iloc[0]["pvalue_exact"] == mc["pvalue_exact"]


def test_vectorised_logrank_z_matches_scipy_with_ties():
    rng = np.random.default_rng(11)
    for _ in range(20):
        t = rng.integers(1, 6, 9).astype(float)  # many ties
        e = rng.random(9) < 0.6
        if not e.any():
            continue
        ia = rng.choice(9, 4, replace=False)
        ib = np.setdiff1d(np.arange(9), ia)
        ref = stats.logrank(
            stats.CensoredData(uncensored=t[ia][e[ia]], right=t[ia][~e[ia]]),
            stats.CensoredData(uncensored=t[ib][e[ib]], right=t[ib][~e[ib]]),
        ).statistic
        z = permutation._logrank_z(t, e)(ia[None, :], axis=-1)[0]
        assert z == pytest.approx(0.0 if np.isnan(ref) else ref, abs=1e-12)


def test_small_sample_logrank_refuses_split_rows():
    runs = frame(constant_split(2, 0.1, design="old") + constant_split(2, 0.0, design="new"))
    with pytest.raises(ValueError, match="split run"):
        inf.small_sample_logrank(runs, ["design"])


# --- the tables `vnetsim analyze` writes ------------------------------------------------------


def test_report_writes_every_inference_table_and_they_round_trip(tmp_path):
    from vnetsim.analysis import report

    h = 3600.0
    rows = []
    for smp, k_old in ((1, 2), (8, 6)):
        rows += counts(k_old, 10 * h, design="old", smp=smp, load_rps=5000)
        rows += counts(0, 10 * h, design="new", smp=smp, load_rps=5000)
    tables = report.inference_tables(frame(rows), ["design", "smp", "load_rps"], "design")
    assert set(tables) == {"logrank", "pooled", "trend", "certification"}
    pooled = tables["pooled"].iloc[0]
    assert (pooled["level"], pooled["reference"], pooled["ratio_is_bound"]) == ("new", "old", True)
    # The report's pooled certification row is the function's own, labelled with its design.
    cert = tables["certification"]
    direct = inf.certification(frame(rows), strata=["smp", "load_rps"])
    mine = cert.loc[cert["scope"] == "pooled"].iloc[0]
    theirs = direct.loc[direct["scope"] == "pooled"].iloc[0]
    assert (mine["design"], mine["reference"]) == ("new", "old")
    assert mine["ratio_upper"] == theirs["ratio_upper"]
    # old's trend: 2 outages at smp 1 and 6 at smp 8 in equal exposure, so exp(b) = 3^(1/3).
    old = tables["trend"].set_index(["design", "term"]).loc[("old", "log2_smp")]
    assert old["rate_ratio"] == pytest.approx(3 ** (1 / 3), rel=1e-8)
    written = report.write_tables(tables, tmp_path)
    back = pd.read_parquet(tmp_path / "certification.parquet")
    assert len(written) == 8
    assert back["scope"].tolist() == cert["scope"].tolist()


def test_exact_pvalue_with_a_single_run_in_one_group():
    # One 'new' run (censored at 10 s) against three 'old' outages at 1, 2, 3 s. The 4
    # relabellings put the lone label on each run in turn. By hand (O − E over √V):
    # on the 10 s run (observed) −(13/12)/√0.6597 = −1.334; on 1 s 0.75/√0.1875 = 1.732;
    # on 2 s 0.4167/√0.4097 = 0.651; on 3 s −0.0833/√0.6597 = −0.103. Two of four |Z| are
    # at least 1.334: p = 1/2.
    rows = plain_rows([10.0], [False], design="new") + plain_rows(
        [1.0, 2.0, 3.0], [True] * 3, design="old"
    )
    row = inf.small_sample_logrank(frame(rows), ["design"]).iloc[0]
    assert row["exact"]
    assert row["permutations"] == 4
    assert row["statistic"] == pytest.approx(-(13 / 12) / math.sqrt(0.1875 + 2 / 9 + 0.25))
    assert row["pvalue_exact"] == pytest.approx(0.5)


def test_committed_split_sweep_gets_the_inference_tables_of_its_estimator():
    # results/nanos-2099-split-tiny: 12 split runs (old, new × smp 2, 8), new immune.
    from vnetsim.analysis import report
    from vnetsim.sweep import load_sweep

    root = Path(__file__).resolve().parent.parent
    tables = report.analyze(load_sweep(root / "results" / "nanos-2099-split-tiny"))
    assert {"split_summary", "split_curves", "pooled", "trend", "certification"} <= set(tables)
    assert "logrank" not in tables  # a split run's outcome is a curve, not a duration
    pooled = tables["pooled"].iloc[0]
    assert pooled["estimator"] == "split"
    assert pooled["events"] == 0
    assert pooled["events_reference"] > 0
    assert pooled["ratio_is_bound"]
    assert 0 < pooled["ci_upper"] < math.inf
    cert = tables["certification"]
    assert set(cert["estimator"]) == {"split"}
    assert (cert.loc[cert["scope"] == "pooled", "ratio_upper"] == pooled["ci_upper"]).all()


def test_trend_without_groups_fits_one_model_and_never_groups_by_a_covariate():
    rows = counts(6, 40 * 3600.0, design="old", smp=1, load_rps=5000)
    rows += counts(9, 30 * 3600.0, design="old", smp=2, load_rps=5000)
    for by in ([], ["smp"], "smp"):
        out = inf.trend(frame(rows), by=by).set_index("term")
        assert list(out.columns[:1]) == ["estimator"]  # no group column
        assert out.loc["log2_smp", "rate_ratio"] == pytest.approx(2.0, rel=1e-8)
