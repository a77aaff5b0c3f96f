"""Paper figures: the KM band up to S = 0, fixed design order and colours, the hazard figure
with upper bounds for cells without outages, k/n heatmap labels, RMST on a linear axis with
error bars, and the estimator each figure names."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_hex

from vnetsim.analysis.figures import (
    blackout_figure,
    hazard_figure,
    km_figure,
    km_grid_figure,
    kmplot,
    outage_probability_heatmap,
    split_blackout_figure,
    time_to_outage_vs_smp,
)
from vnetsim.analysis.figures.hazard import BOUND_LABEL, SPLIT
from vnetsim.analysis.figures.layout import estimator_text
from vnetsim.analysis.figures.style import (
    OKABE_ITO,
    design_colour,
    design_label,
    design_order,
    hue_levels,
    hue_markers,
)

matplotlib.use("Agg")

DESIGNS = ("new", "old", "nanos-0.1.48")  # deliberately not in figure order


# ----------------------------------------------------------------------------- KM band


def curve_to_zero() -> pd.DataFrame:
    # survival 1 -> 0.5 -> 0.25 -> 0; the interval is NaN at S = 0 (and exact at S = 1)
    return pd.DataFrame(
        {
            "time_s": [0.0, 2.0, 5.0, 9.0],
            "survival": [1.0, 0.5, 0.25, 0.0],
            "ci_lower": [1.0, 0.2, 0.05, 0.0],
            "ci_upper": [1.0, 0.8, 0.6, np.nan],
        }
    )


def test_km_band_covers_every_step_before_the_curve_reaches_zero() -> None:
    km = curve_to_zero()
    ax = kmplot(km, km.iloc[0:0][["time_s", "survival"]], horizon_s=10)
    (band,) = [c for c in ax.collections if c.get_gid() == "km-ci"]
    xs = np.concatenate([p.vertices[:, 0] for p in band.get_paths()])
    ys = np.concatenate([p.vertices[:, 1] for p in band.get_paths()])
    # the steps with 0 < S < 1 are [2, 5) and [5, 9): the band must span 2..9 (it used to
    # stop at 5, dropping the last step before S = 0)
    assert xs.min() == pytest.approx(0.0) or xs.min() <= 2.0
    assert xs.max() == pytest.approx(9.0)
    for left, right, lo, hi in [(2.0, 5.0, 0.2, 0.8), (5.0, 9.0, 0.05, 0.6)]:
        inside = (xs >= left) & (xs <= right)
        assert inside.any()
        assert ys[inside].min() <= lo + 1e-9
        assert ys[inside].max() >= hi - 1e-9
    covered = [(p.vertices[:, 0].min(), p.vertices[:, 0].max()) for p in band.get_paths() if len(p)]
    for left, right in [(2.0, 5.0), (5.0, 9.0)]:
        assert any(a <= left + 1e-9 and b >= right - 1e-9 for a, b in covered)


# ----------------------------------------------------------------------------- design style


def test_design_order_labels_and_colours_are_fixed() -> None:
    assert design_order(["zeta", "new", "alpha", "old", "nanos-0.1.48"]) == [
        "nanos-0.1.48",
        "old",
        "new",
        "alpha",
        "zeta",
    ]
    assert design_label("nanos-0.1.48") == "0.1.48 (before the bug)"
    assert design_label("old") == "0.1.49–0.1.54 (racy)"
    assert design_label("new") == "0.1.55 (fixed)"
    assert design_label("guarded") == "guarded"
    assert [design_colour(d) for d in ("nanos-0.1.48", "old", "new")] == list(OKABE_ITO[:3])
    # any other design: one of the following colours, whatever else is drawn
    assert design_colour("guarded") in OKABE_ITO[3:]
    assert design_colour("guarded") == design_colour("guarded")
    assert hue_levels("design", pd.Series(["new", "old"])) == ["old", "new"]
    assert hue_levels("smp", pd.Series([4, 1, 2])) == [1, 2, 4]
    assert hue_markers("design", ["new"]) == {"new": hue_markers("design", DESIGNS)["new"]}


def km_table(designs: tuple[str, ...]) -> pd.DataFrame:
    rows = []
    for d in designs:
        for t, s in [(0.0, 1.0), (5.0, 0.5)]:
            rows.append(
                {"design": d, "time_s": t, "survival": s, "ci_lower": s - 0.1, "ci_upper": s}
            )
    return pd.DataFrame(rows)


def test_design_colour_and_legend_do_not_depend_on_which_designs_are_present() -> None:
    empty = pd.DataFrame(columns=["design", "time_s", "survival"])
    full = km_figure(km_table(DESIGNS), empty, facet=None)
    part = km_figure(km_table(("new",)), empty, facet=None)
    colours = {}
    for fig in (full, part):
        for ln in fig.axes[0].get_lines():
            if ln.get_gid() == "km":
                colours.setdefault(ln.get_label(), set()).add(to_hex(ln.get_color()))
    assert colours["0.1.55 (fixed)"] == {OKABE_ITO[2].lower()}
    texts = [t.get_text() for t in full.legends[0].get_texts()]
    assert texts == [
        "0.1.48 (before the bug)",
        "0.1.49–0.1.54 (racy)",
        "0.1.55 (fixed)",
    ]  # no censoring marks in these tables, so no key for them


# ----------------------------------------------------------------------------- hazard


def hazard_summary() -> pd.DataFrame:
    rows = []
    for load in (2500, 5000):
        for d in DESIGNS:
            for smp in (1, 4, 16):
                outage = d == "old" and smp >= 4
                rate = 100.0 * smp * load / 2500 if outage else 0.0
                rows.append(
                    {
                        "design": d,
                        "smp": smp,
                        "load_rps": load,
                        "events": 3 if outage else 0,
                        "hazard_per_h": rate,
                        "hazard_per_h_ci_lower": rate / 2 if outage else 0.0,
                        "hazard_per_h_ci_upper": rate * 2 if outage else 330.0,
                        "hazard_per_h_upper": np.nan if outage else 270.0,
                        "hazard_is_bound": not outage,
                    }
                )
    return pd.DataFrame(rows)


def test_hazard_figure_points_with_intervals_and_bounds_for_cells_without_outages() -> None:
    s = hazard_summary()
    fig = hazard_figure(s)
    assert [ax.get_title() for ax in fig.axes] == ["2500 req/s", "5000 req/s"]
    for ax, load in zip(fig.axes, (2500, 5000), strict=True):
        assert ax.get_yscale() == "log"
        assert ax.get_xscale() == "log"
        assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "4", "16"]
        points = [ln for ln in ax.get_lines() if ln.get_gid() == "hazard" and len(ln.get_xdata())]
        (old,) = points
        assert old.get_label() == "0.1.49–0.1.54 (racy)"
        assert to_hex(old.get_color()) == OKABE_ITO[1].lower()
        assert list(old.get_ydata()) == pytest.approx([100.0 * k * load / 2500 for k in (4, 16)])
        # x is dodged by design, but stays within a few percent of the SMP value
        assert np.asarray(old.get_xdata()) / np.array([4, 16]) == pytest.approx(1.0, rel=0.1)
        bars = [c for c in ax.collections if c.get_gid() == "hazard-ci"]
        assert len(bars) == 1
        segs = bars[0].get_segments()
        np.testing.assert_allclose(
            [seg[:, 1] for seg in segs],
            [(50.0 * k * load / 2500, 200.0 * k * load / 2500) for k in (4, 16)],
            rtol=1e-6,
        )
        bounds = [ln for ln in ax.get_lines() if ln.get_gid() == "hazard-bound"]
        # nanos-0.1.48 and new at every SMP, old at SMP 1: seven cells
        assert sum(len(ln.get_xdata()) for ln in bounds) == 7
        assert all(ln.get_marker() == "v" for ln in bounds)
        assert all(y == 270.0 for ln in bounds for y in ln.get_ydata())
    texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert texts == [*(design_label(d) for d in design_order(DESIGNS)), BOUND_LABEL]
    assert "plain" in (estimator_text(fig) or "")


def test_hazard_figure_split_variant_reads_the_split_columns() -> None:
    s = hazard_summary().rename(
        columns={
            "hazard_per_h": "outage_rate_per_hour",
            "hazard_per_h_ci_lower": "outage_rate_per_hour_ci_lower",
            "hazard_per_h_ci_upper": "outage_rate_per_hour_ci_upper",
            "hazard_per_h_upper": "hazard_per_hour_upper",
        }
    )
    s = s.drop(columns="hazard_is_bound")
    fig = hazard_figure(s, columns=SPLIT)
    ax = fig.axes[0]
    bounds = [ln for ln in ax.get_lines() if ln.get_gid() == "hazard-bound"]
    assert sum(len(ln.get_xdata()) for ln in bounds) == 7
    assert "split" in (estimator_text(fig) or "")


# ----------------------------------------------------------------------------- heatmap


def test_heatmap_annotates_k_over_n_and_upper_bounds_of_empty_cells() -> None:
    s = pd.DataFrame(
        {
            "design": ["old"] * 4,
            "smp": [1, 1, 4, 4],
            "load_rps": [2500, 5000, 2500, 5000],
            "events": [0, 1, 2, 0],
            "n_valid": [2, 2, 2, 2],
            "p_outage_20s": [0.0, 0.5, 1.0, 0.0],
            "p_outage_20s_ci_upper": [0.8419, 0.987, 1.0, 0.8419],
            "p_outage_ci_method": ["clopper-pearson"] * 4,
        }
    )
    fig = outage_probability_heatmap(s, column="p_outage_20s")
    texts = sorted(t.get_text() for t in fig.axes[0].texts)
    assert texts == sorted(["0/2\n≤ 84 %", "1/2\n50%", "2/2\n100%", "0/2\n≤ 84 %"])
    assert "clopper-pearson" in (estimator_text(fig) or "")


# ----------------------------------------------------------------------------- RMST


def test_rmst_on_a_linear_axis_with_error_bars() -> None:
    s = pd.DataFrame(
        {
            "design": ["old"] * 3,
            "smp": [1, 4, 16],
            "load_rps": [5000] * 3,
            "rmst_s": [20.0, 12.0, 4.0],
            "rmst_ci_lower_s": [20.0, 8.0, 2.0],
            "rmst_ci_upper_s": [20.0, 16.0, 6.0],
            "rmst_tau_s": [20.0] * 3,
        }
    )
    fig = time_to_outage_vs_smp(s)
    (ax,) = fig.axes
    assert ax.get_yscale() == "linear"
    assert ax.get_ylim()[0] == 0
    assert ax.get_ylim()[1] > 20.0
    (bars,) = [c for c in ax.collections if c.get_gid() == "ci"]
    np.testing.assert_allclose(
        [seg[:, 1] for seg in bars.get_segments()],
        [(20.0, 20.0), (8.0, 16.0), (2.0, 6.0)],
        rtol=1e-6,
    )
    assert "RMST" in (estimator_text(fig) or "")
    # the median keeps its log axis
    s_med = s.assign(median_s=[np.nan, 10.0, 3.0], median_ci_lower_s=1.0, median_ci_upper_s=np.nan)
    assert time_to_outage_vs_smp(s_med, metric="median_s").axes[0].get_yscale() == "log"


# ----------------------------------------------------------------------------- estimator


def test_every_figure_names_its_estimator() -> None:
    km = km_table(DESIGNS)
    empty = pd.DataFrame(columns=["design", "time_s", "survival"])
    assert "Kaplan–Meier" in (estimator_text(km_figure(km, empty, facet=None)) or "")
    runs = pd.DataFrame(
        {
            "design": ["old", "old", "new"],
            "smp": [1, 1, 1],
            "event_observed": [True, True, False],
            "recovered": [True, False, False],
            "blackout_s": [1.0, 20.0, np.nan],
        }
    )
    assert "Clopper–Pearson" in (estimator_text(blackout_figure(runs)) or "")


# ----------------------------------------------------------------------------- blackout


def test_blackout_shows_unrecovered_runs_as_censored_open_markers() -> None:
    runs = pd.DataFrame(
        {
            "design": ["old"] * 4 + ["new"],
            "smp": [1, 1, 4, 4, 1],
            "event_observed": [True, True, True, True, False],
            "recovered": [True, False, True, False, False],
            "blackout_s": [0.5, 30.0, 2.0, 60.9, np.nan],
        }
    )
    fig = blackout_figure(runs)
    left = fig.axes[0]
    filled = [c for c in left.collections if c.get_gid() == "blackout"]
    opened = [c for c in left.collections if c.get_gid() == "blackout-censored"]
    assert sorted(y for c in filled for _, y in c.get_offsets()) == [0.5, 2.0]
    assert sorted(y for c in opened for _, y in c.get_offsets()) == [30.0, 60.9]
    assert all(to_hex(fc) == "#ffffff" for c in opened for fc in c.get_facecolors())
    (window,) = [t for t in left.texts if t.get_gid() == "censor-window"]
    assert window.get_text().startswith("> 60.9 s")
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend[:2] == ["0.1.49–0.1.54 (racy)", "0.1.55 (fixed)"]
    assert "censored at the recovery window" in legend[-1]
    right = fig.axes[1]
    counts = sorted(t.get_text() for t in right.texts if t.get_gid() == "count")
    assert counts == ["1/2", "1/2", "–", "–"]


# ----------------------------------------------------------------------------- KM grid


def test_km_grid_has_a_panel_per_load_and_smp_and_numbers_at_risk() -> None:
    rows = []
    for load in (2500, 5000):
        for smp in (1, 4):
            for d in ("new", "old"):
                drop = d == "old" and load == 5000
                rows += [
                    {"time_s": 0.0, "survival": 1.0, "at_risk": 4, "events": 0, "censored": 0},
                    {
                        "time_s": 5.0,
                        "survival": 0.5 if drop else 1.0,
                        "at_risk": 4,
                        "events": 2 if drop else 0,
                        "censored": 0,
                    },
                ]
                for r in rows[-2:]:
                    r.update(design=d, smp=smp, load_rps=load, ci_lower=0.2, ci_upper=1.0)
    km = pd.DataFrame(rows)
    fig = km_grid_figure(km, km.iloc[0:0], horizon_s=10.0)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == [
        "2500 req/s, SMP = 1",
        "2500 req/s, SMP = 4",
        "5000 req/s, SMP = 1",
        "5000 req/s, SMP = 4",
    ]
    tables = [ax for ax in fig.axes if any(t.get_gid() == "at-risk" for t in ax.texts)]
    assert len(tables) == 4
    # under 5000 req/s, SMP = 4 at 0, 5, 10 s: old (first row, design order) has 2 outages
    # at 5 s (still at risk at 5 s, gone by 10 s); new keeps its 4 runs
    last = [t.get_text() for t in tables[-1].texts if t.get_gid() == "at-risk"]
    assert last == ["4", "4", "2", "4", "4", "4"]
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    # no censoring table, no censoring marks: the legend has no key for them
    assert legend == ["0.1.49–0.1.54 (racy)", "0.1.55 (fixed)"]
    assert "Kaplan–Meier" in (estimator_text(fig) or "")


def test_split_sweep_gets_rmst_and_heatmap_figures_from_its_own_estimator() -> None:
    import matplotlib

    matplotlib.use("Agg")
    from vnetsim.analysis import figures, report
    from vnetsim.sweep import load_sweep

    root = Path(__file__).resolve().parent.parent
    sweep = load_sweep(root / "results" / "nanos-2099-split-tiny")
    tables = report.analyze(sweep)
    drawn = figures.draw_all(sweep, tables)
    stems = {stem: fig for stem, fig in drawn.figures}
    assert {
        "split_rmst_vs_smp",
        "split_p_outage_heatmap",
        "split_hazard_vs_smp",
        "split_km_grid",
        "split_blackout",
    } <= set(stems)
    heat = stems["split_p_outage_heatmap"]
    assert "split estimator" in heat.get_supxlabel()
    s = tables["split_summary"].set_index(["design", "smp"])
    texts = [t.get_text() for ax in heat.axes for t in ax.texts]
    # the racy design at 8 vCPUs: 1 − Ŝ(τ) in percent, as the table has it
    assert f"{100 * (1 - s.loc[('old', 8), 'survival_tau']):.0f}%" in texts
    # the fixed design: no replay failed, so "≤" the exact per-batch bound over the batches
    # of the horizon, 1 − (1 − p⁺)^(batches per hour · τ / 3600), not "0%"
    for smp in (2, 8):
        new = s.loc[("new", smp)]
        bound = 1 - (1 - new["p_batch_upper"]) ** (new["batches_per_hour"] * new["tau_s"] / 3600)
        assert f"≤ {100 * bound:.0f} %" in texts
    assert "0%" not in texts

    grid = stems["split_km_grid"]
    counts = [t.get_text() for ax in grid.axes for t in ax.texts if t.get_gid() == "at-risk"]
    curves = tables["split_curves"]
    assert set(counts) == {str(n) for n in curves["n_runs"].unique()} == {"3"}
    assert "runs" in [ax.get_ylabel() for ax in grid.axes]
    assert "censored" not in [t.get_text() for t in grid.legends[0].get_texts()]
    assert "split estimator" in (estimator_text(grid) or "")

    black = stems["split_blackout"]
    left, right = black.axes[:2]
    runs = sweep.ok_runs
    failed = runs[runs["split_failed_weight"].fillna(0) > 0]
    points = [y for c in left.collections for _, y in c.get_offsets()]
    assert sorted(points) == sorted(failed["split_failed_blackout_s"])
    counts = sorted(t.get_text() for t in right.texts if t.get_gid() == "count")
    per_smp = failed.groupby("smp").size()
    assert counts == sorted([f"0/{per_smp[2]}", f"0/{per_smp[8]}", "–", "–"])
    (diamonds,) = [c for c in right.collections if c.get_gid() == "weighted"]
    assert [y for _, y in diamonds.get_offsets()] == [
        s.loc[("old", 2), "failed_recovered_fraction"],
        s.loc[("old", 8), "failed_recovered_fraction"],
    ]


def test_split_blackout_marks_the_weighted_estimates_and_the_raw_replays() -> None:
    # racy design, 1 vCPU: two continued failing replays, both recovered, weights 0.25 and
    # 0.75 -> weighted blackout (0.25·2 + 0.75·6) / 1 = 5 s; 4 vCPUs: one unrecovered replay
    # (its blackout censored: no weighted mean drawn); fixed design: no failing replay
    runs = pd.DataFrame(
        {
            "design": ["old", "old", "old", "new"],
            "smp": [1, 1, 4, 1],
            "split_failed_weight": [0.25, 0.75, 0.5, np.nan],
            "split_failed_recovered": [True, True, False, False],
            "split_failed_blackout_s": [2.0, 6.0, 9.0, np.nan],
        }
    )
    summary = pd.DataFrame(
        {
            "design": ["old", "old", "new"],
            "smp": [1, 4, 1],
            "failed_recovered_fraction": [1.0, 0.0, np.nan],
            "failed_blackout_mean_s": [5.0, 9.0, np.nan],
        }
    )
    fig = split_blackout_figure(runs, summary)
    left, right = fig.axes[:2]
    (weighted,) = [c for c in left.collections if c.get_gid() == "weighted"]
    assert [y for _, y in weighted.get_offsets()] == [5.0]
    filled = [y for c in left.collections if c.get_gid() == "blackout" for _, y in c.get_offsets()]
    opened = [
        y
        for c in left.collections
        if c.get_gid() == "blackout-censored"
        for _, y in c.get_offsets()
    ]
    assert sorted(filled) == [2.0, 6.0]
    assert opened == [9.0]
    (fractions,) = [c for c in right.collections if c.get_gid() == "weighted"]
    assert [y for _, y in fractions.get_offsets()] == [1.0, 0.0]
    counts = sorted(t.get_text() for t in right.texts if t.get_gid() == "count")
    assert counts == ["0/1", "2/2", "–", "–"]
    # the exact limits drawn as the error bars: 0.025^(1/2) = 0.158, 1 − 0.025 = 0.975
    (bars,) = [c for c in right.containers if hasattr(c, "lines") and c.lines[2]]
    segs = np.concatenate([seg.get_segments() for seg in bars.lines[2]])
    spans = sorted((float(seg[:, 1].min()), float(seg[:, 1].max())) for seg in segs)
    # 0 of 1: [0, 0.975]; 2 of 2: [0.158, 1]
    assert spans == [pytest.approx((0.0, 0.975)), pytest.approx((0.025**0.5, 1.0))]


# ------------------------------------------------------------ split cell without batches


def _split_run(series, design, smp, horizon=300.0) -> dict:
    """A split run row with the fields the split analysis reads (``split_series`` as JSON)."""
    import json

    return {
        "design": design,
        "smp": smp,
        "load_rps": 5000,
        "estimator": "split",
        "horizon_s": horizon,
        "duration_s": horizon,
        "event_observed": False,
        "split_series": json.dumps([[float(t), float(p), int(k)] for t, p, k in series]),
        "split_stopped_s": np.nan,
        "error": "",
    }


def test_split_cell_without_batches_is_drawn_as_its_exposure_bound() -> None:
    # nanos-0.1.48 has no multi-buffer batch (as in results/nanos-2099-split): 2 runs of 300 s
    # give the zero-event Poisson bound −ln(0.05)/600 s = 17.97 /h, and 1 − S(τ) ≤
    # 1 − 0.05^(1/2) = 77.6 %: the heatmap reads "≤ 78 %" (not "0%"), the hazard figure has a
    # ▽ at 17.97 /h in the design's colour (it had no point and no marker at all).
    from vnetsim.analysis import figures
    from vnetsim.analysis.split import split_summary
    from vnetsim.sweep import LoadedSweep

    rows = []
    for smp in (1, 2):
        rows += [_split_run([], "nanos-0.1.48", smp) for _ in range(2)]
        rows += [_split_run([(t, 0.0, 20) for t in (10, 20, 30)], "new", smp) for _ in range(2)]
        rows += [_split_run([(t, 0.1, 20) for t in (10, 20, 30)], "old", smp) for _ in range(2)]
    runs = pd.DataFrame(rows).assign(run_id=lambda d: [f"r{i}" for i in range(len(d))])
    summary = split_summary(runs, ["design", "smp", "load_rps"], n_boot=100).assign(
        estimator="split"
    )
    manifest = {"name": "t", "axes": ["design", "smp", "load_rps"], "horizon_s": 300.0}
    sweep = LoadedSweep(Path("in-memory"), runs, manifest)
    wanted = {"split_p_outage_heatmap", "split_hazard_vs_smp"}
    specs = [f for f in figures.FIGURES if f.name in wanted]
    drawn = dict(figures.draw_all(sweep, {"split_summary": summary}, specs).figures)
    assert set(drawn) == wanted

    heat = drawn["split_p_outage_heatmap"]
    (panel,) = [ax for ax in heat.axes if ax.get_title() == design_label("nanos-0.1.48")]
    assert sorted(t.get_text() for t in panel.texts) == ["≤ 78 %", "≤ 78 %"]
    assert "0%" not in [t.get_text() for ax in heat.axes for t in ax.texts]

    hz = drawn["split_hazard_vs_smp"]
    ax = hz.axes[0]
    colour = design_colour("nanos-0.1.48").lower()
    bounds = [
        ln
        for ln in ax.get_lines()
        if ln.get_gid() == "hazard-bound" and to_hex(ln.get_color()) == colour
    ]
    (bound,) = bounds
    assert bound.get_marker() == "v"
    np.testing.assert_allclose(bound.get_ydata(), [-np.log(0.05) / 600 * 3600] * 2, rtol=1e-9)
    lo, hi = ax.get_ylim()
    assert lo < 17.97 < hi  # inside the axis, not clipped away
    legend = [t.get_text() for t in hz.legends[0].get_texts()]
    assert design_label("nanos-0.1.48") in legend
    assert BOUND_LABEL in legend


# ------------------------------------------------------- colours of non-design hues


def _artist_colours(fig) -> set[str]:
    """Every colour a figure's lines, markers, bands, bars and legend keys are drawn in."""
    out: set[str] = set()

    def add(c) -> None:
        arr = np.atleast_2d(matplotlib.colors.to_rgba_array(c))
        out.update(to_hex(rgba, keep_alpha=False) for rgba in arr if rgba[3] > 0)

    for ax in fig.axes:
        for ln in ax.get_lines():
            add(ln.get_color())
            for mc in (ln.get_markerfacecolor(), ln.get_markeredgecolor()):
                if mc not in ("none", None):
                    add(mc)
        for coll in ax.collections:
            add(coll.get_edgecolor())
            add(coll.get_facecolor())
        for patch in ax.patches:
            add(patch.get_facecolor())
    for legend in [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_legend())]:
        for handle in legend.legend_handles:
            if hasattr(handle, "get_color"):
                add(handle.get_color())
    return out


def test_no_hue_other_than_the_design_uses_a_design_colour() -> None:
    from vnetsim.analysis.figures.style import (
        DESIGN_ORDER,
        NEUTRAL,
        hue_palette,
        sequential_palette,
    )

    # every colour a design can get: the three of the incident and the hashed ones of any
    # other name, i.e. the whole Okabe–Ito palette (black included)
    names = [*DESIGN_ORDER, *(f"design-{i}" for i in range(64))]
    design_colours = {design_colour(d).lower() for d in names} | {c.lower() for c in OKABE_ITO}
    for n in range(1, 13):
        levels = list(range(n))
        for hue in ("load_rps", "smp", None):
            colours = hue_palette(hue, levels)
            assert not set(colours.values()) & design_colours, (hue, n)
            assert len(set(colours.values())) == n  # still one colour per level
        assert sequential_palette(levels) == hue_palette("load_rps", levels)
    assert hue_palette(None, [None]) == {None: NEUTRAL}

    # the RMST figure colours its load lines: greys, told apart by marker and line style
    rows = [
        {"design": d, "smp": smp, "load_rps": load, "rmst_s": 900.0 / (1 + smp * load / 5000)}
        for d in DESIGNS
        for smp in (1, 4, 16)
        for load in (1000, 2500, 5000)
    ]
    summary = pd.DataFrame(rows).assign(
        rmst_tau_s=900.0,
        rmst_ci_lower_s=lambda d: 0.8 * d["rmst_s"],
        rmst_ci_upper_s=lambda d: np.minimum(900.0, 1.2 * d["rmst_s"]),
    )
    rmst = time_to_outage_vs_smp(summary, x="smp", hue="load_rps", facet="design")
    assert not _artist_colours(rmst) & design_colours
    lines = [ln for ln in rmst.axes[0].get_lines() if ln.get_gid() == "rmst_s"]
    assert len({ln.get_marker() for ln in lines}) == 3
    assert len({str(ln.get_linestyle()) for ln in lines}) == 3

    # KM curves and the hazard figure coloured by SMP or by nothing: no design colour either
    km_rows = [
        {"smp": smp, "time_s": t, "survival": s, "ci_lower": s - 0.1, "ci_upper": s}
        for smp in (1, 4)
        for t, s in [(0.0, 1.0), (5.0, 0.5)]
    ]
    km = pd.DataFrame(km_rows)
    km_fig = km_figure(km, km.iloc[0:0][["smp", "time_s", "survival"]], facet=None, hue="smp")
    assert not _artist_colours(km_fig) & design_colours
    one = hazard_summary()
    one = one[(one["design"] == "old") & (one["load_rps"] == 2500)].drop(columns="design")
    assert not _artist_colours(hazard_figure(one, hue=None, facet=None)) & design_colours
    # ... while a design hue keeps the fixed design colours
    assert to_hex(design_colour("old")) in _artist_colours(hazard_figure(hazard_summary()))
