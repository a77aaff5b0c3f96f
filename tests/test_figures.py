"""Publication figures from hand-built tidy tables: panels, artists per group, marks, labels,
saved files and their embedded provenance, and refusal of incomplete tables; the axes-level
functions on a given or a new Axes; the declared figures of a sweep (what is drawn, what is
skipped and why); and ``vnetsim figures`` on a sweep without axes, which leaves
``DIR/analysis/`` alone."""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Callable
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from PIL import Image

from vnetsim.analysis import figures
from vnetsim.analysis.figures import (
    FIGURES,
    OKABE_ITO,
    blackout_figure,
    blackoutplot,
    draw_all,
    heatmapplot,
    km_figure,
    kmplot,
    outage_probability_heatmap,
    paper_style,
    recoveryplot,
    rmstplot,
    save_figure,
    time_to_outage_vs_smp,
)
from vnetsim.analysis.figures.layout import estimator_text
from vnetsim.analysis.figures.style import NEUTRAL, design_colour, percent_label
from vnetsim.analysis.fits import exact_proportion_ci
from vnetsim.cli import main
from vnetsim.sweep import LoadedSweep, SweepSpec, run_sweep

matplotlib.use("Agg")

DESIGNS = ("guarded", "nanos-0.1.54")
SMPS = (1, 4, 16)
LOADS = (1000, 8000)
HASH = "sweep-3f9c2a7be01d"
RATE = {"guarded": 1e-4, "nanos-0.1.54": 2e-3}  # outages per second and vCPU-ish


def make_km(horizon: float = 900.0) -> tuple[pd.DataFrame, pd.DataFrame]:
    km_rows, cen_rows = [], []
    for d, smp in itertools.product(DESIGNS, SMPS):
        rate = RATE[d] * smp
        times = np.array([0.0, 45.0, 120.0, 250.0, 400.0, 610.0])
        s = np.exp(-rate * times)
        for t, v in zip(times, s, strict=True):
            km_rows.append(
                {
                    "design": d,
                    "smp": smp,
                    "time_s": t,
                    "survival": v,
                    "ci_lower": max(0.0, v - 0.1),
                    "ci_upper": min(1.0, v + 0.05),
                    "at_risk": 10,
                    "events": 1,
                    "censored": 0,
                }
            )
        cen_rows.append({"design": d, "smp": smp, "time_s": 300.0, "survival": s[3]})
        cen_rows.append({"design": d, "smp": smp, "time_s": horizon, "survival": s[-1]})
    return pd.DataFrame(km_rows), pd.DataFrame(cen_rows)


def make_summary() -> pd.DataFrame:
    rows = []
    for d, smp, load in itertools.product(DESIGNS, SMPS, LOADS):
        rate = RATE[d] * smp * load / 1000
        median = np.log(2) / rate
        reached = median < 900
        p900 = 1 - np.exp(-rate * 900)
        rows.append(
            {
                "design": d,
                "smp": smp,
                "load_rps": load,
                "median_s": median if reached else np.nan,
                "median_ci_lower_s": 0.7 * median if reached else np.nan,
                "median_ci_upper_s": (1.4 * median if 1.4 * median < 900 else np.nan)
                if reached
                else np.nan,
                "rmst_s": (1 - np.exp(-rate * 900)) / rate,
                "rmst_tau_s": 900.0,
                "p_outage_900s": p900,
                "p_outage_60s": 1 - np.exp(-rate * 60),
                "events": 10,
                "n_runs": 20,
                "recovered_fraction": 0.5,
                "blackout_median_s": 3.0,
                "hazard_per_h": 3600 * rate,
                "hazard_per_h_ci_lower": 1800 * rate,
                "hazard_per_h_ci_upper": 7200 * rate,
                "hazard_per_h_upper": np.nan,
                "hazard_is_bound": False,
            }
        )
    return pd.DataFrame(rows)


def make_runs(outages: bool = True) -> pd.DataFrame:
    rows = []
    rng = np.random.default_rng(7)
    for d, smp in itertools.product(DESIGNS, SMPS):
        for i in range(8):
            ev = outages and (d == "nanos-0.1.54" or i < 2)
            rec = ev and i % 2 == 0
            rows.append(
                {
                    "design": d,
                    "smp": smp,
                    "load_rps": 1000,
                    "duration_s": 100.0 + i,
                    "event_observed": ev,
                    "recovered": rec,
                    "blackout_s": float(rng.lognormal(1.0, 1.0)) if ev else np.nan,
                }
            )
    return pd.DataFrame(rows)


def lines_by_gid(ax, gid: str) -> list:
    return [ln for ln in ax.get_lines() if ln.get_gid() == gid]


# ----------------------------------------------------------------------------- style


def test_paper_style_sets_and_restores_rcparams() -> None:
    before = matplotlib.rcParams["font.size"]
    with paper_style() as rc:
        assert matplotlib.rcParams["font.size"] == 8
        assert matplotlib.rcParams["xtick.labelsize"] == 7
        assert matplotlib.rcParams["pdf.fonttype"] == 42
        assert matplotlib.rcParams["savefig.dpi"] == 300
        assert rc["legend.fontsize"] == 7
    assert matplotlib.rcParams["font.size"] == before


# ----------------------------------------------------------------------------- Kaplan–Meier


def test_km_figure_one_panel_per_smp_with_a_curve_band_and_marks_per_design() -> None:
    km, censor = make_km()
    fig = km_figure(km, censor, facet="smp", hue="design")
    axes = fig.axes
    assert len(axes) == len(SMPS)
    assert [ax.get_title() for ax in axes] == [f"SMP = {s}" for s in SMPS]
    for ax in axes:
        curves = lines_by_gid(ax, "km")
        assert sorted(ln.get_label() for ln in curves) == sorted(DESIGNS)
        assert len({to_hex(ln.get_color()) for ln in curves}) == len(DESIGNS)
        assert ln_drawstyle_is_step(curves)
        bands = [c for c in ax.collections if c.get_gid() == "km-ci"]
        assert len(bands) == len(DESIGNS)
        marks = lines_by_gid(ax, "km-censor")
        assert len(marks) == len(DESIGNS)
        assert all(m.get_marker() == "+" for m in marks)
        # two censored runs per curve, at 300 s and the horizon (in minutes: 5 and 15)
        assert all(sorted(m.get_xdata()) == pytest.approx([5.0, 15.0]) for m in marks)
        assert ax.get_ylim()[0] == 0
        assert ax.get_ylim()[1] == pytest.approx(1.02)
        assert ax.get_xlabel() == "Time (min)"
    assert len(fig.legends) == 1
    assert all(ax.get_legend() is None for ax in axes)
    legend_texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend_texts == [*sorted(DESIGNS), "censored"]
    assert fig.get_figwidth() == pytest.approx(7.0)


def ln_drawstyle_is_step(lines) -> bool:
    return all(ln.get_drawstyle() == "steps-post" for ln in lines)


def test_km_figure_extends_the_last_step_to_the_last_censoring_time() -> None:
    km, censor = make_km()
    fig = km_figure(km, censor)
    curve = lines_by_gid(fig.axes[0], "km")[0]
    assert curve.get_xdata()[-1] == pytest.approx(15.0)  # 900 s, beyond the last event (610 s)


def test_km_figure_short_horizon_stays_in_seconds_and_honours_hue_order() -> None:
    km, censor = make_km()
    fig = km_figure(km, censor, hue_order=list(reversed(DESIGNS)), horizon_s=300)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "Time (s)"
    assert ax.get_xlim() == pytest.approx((0, 300))
    labels = [t.get_text() for t in fig.legends[0].get_texts()][:2]
    assert labels == list(reversed(DESIGNS))
    curve = next(ln for ln in lines_by_gid(ax, "km") if ln.get_label() == DESIGNS[1])
    # a design keeps its colour whatever the order it is drawn in
    assert to_hex(curve.get_color()) == design_colour(DESIGNS[1]).lower()


def test_km_figure_accepts_no_censoring_and_no_facet() -> None:
    km, censor = make_km()
    km = km[km["smp"] == 4].drop(columns="smp")
    fig = km_figure(km, censor.iloc[0:0].drop(columns="smp"), facet=None)
    assert len(fig.axes) == 1
    assert lines_by_gid(fig.axes[0], "km-censor") == []
    assert fig.get_figwidth() == pytest.approx(3.35)


def test_km_figure_drops_censoring_marks_beyond_a_short_horizon() -> None:
    km, censor = make_km()
    fig = km_figure(km, censor, horizon_s=120)
    fig.canvas.draw()  # a mark left at 900 s used to collapse the constrained layout
    for ax in fig.axes:
        assert ax.get_position().width > 0.15
        assert lines_by_gid(ax, "km-censor") == []  # marks at 300 s and 900 s only


def test_km_figure_more_designs_than_colours_stay_distinguishable() -> None:
    km, censor = make_km()
    names = [f"d{i}" for i in range(10)]
    many = pd.concat([km[km["design"] == "guarded"].assign(design=n) for n in names])
    fig = km_figure(many, censor.iloc[0:0])
    curves = lines_by_gid(fig.axes[0], "km")
    styles = {(to_hex(ln.get_color()), ln.get_linestyle()) for ln in curves}
    assert len(curves) == len(styles) == 10


def test_km_figure_refuses_several_curves_per_panel_and_colour() -> None:
    km, censor = make_km()
    doubled = pd.concat([km.assign(load_rps=1000), km.assign(load_rps=8000)])
    with pytest.raises(ValueError, match="several rows"):
        km_figure(doubled, censor)


# ----------------------------------------------------------------------------- RMST / median


def test_rmst_vs_smp_lines_per_load_log_axes_and_tau_annotation() -> None:
    fig = time_to_outage_vs_smp(make_summary())
    assert len(fig.axes) == len(DESIGNS)
    assert [ax.get_title() for ax in fig.axes] == list(DESIGNS)
    for ax in fig.axes:
        assert ax.get_yscale() == "linear"  # RMST is bounded by τ: linear from 0
        assert ax.get_ylim()[0] == 0
        lines = lines_by_gid(ax, "rmst_s")
        assert sorted(ln.get_label() for ln in lines) == sorted(str(x) for x in LOADS)
        assert all(list(ln.get_xdata()) == list(SMPS) for ln in lines)
        assert lines_by_gid(ax, "tau")[0].get_ydata()[0] == 900.0
        assert lines_by_gid(ax, "not-reached") == []  # RMST is never NaN
        assert not any(c.get_gid() == "ci" for c in ax.collections)  # no RMST CI columns
    texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert any("RMST restricted to τ = 900 s" in t for t in texts)
    assert "900" in fig.axes[0].get_ylabel()


def test_rmst_intervals_drawn_when_the_columns_exist() -> None:
    s = make_summary()
    s["rmst_ci_lower_s"] = 0.9 * s["rmst_s"]
    s["rmst_ci_upper_s"] = 1.1 * s["rmst_s"]
    fig = time_to_outage_vs_smp(s)
    for ax in fig.axes:
        assert sum(c.get_gid() == "ci" for c in ax.collections) == len(LOADS)


def test_median_not_reached_is_an_open_marker_at_the_top_with_a_note() -> None:
    s = make_summary()
    fig = time_to_outage_vs_smp(s, metric="median_s")
    guarded = fig.axes[0]
    assert guarded.get_title() == "guarded"
    n_nan = int(s.loc[s["design"] == "guarded", "median_s"].isna().sum())
    assert n_nan > 0
    opens = lines_by_gid(guarded, "not-reached")
    assert sum(len(ln.get_xdata()) for ln in opens) == n_nan
    top = guarded.get_ylim()[1]
    finite_max = np.nanmax(s[["median_s", "median_ci_upper_s"]].to_numpy())
    for ln in opens:
        assert ln.get_markerfacecolor() == "white"
        assert all(finite_max < y < top for y in ln.get_ydata())
    # intervals on the finite medians; unbounded upper limits drawn dotted to the top
    old = fig.axes[1]
    assert sum(c.get_gid() == "ci" for c in old.collections) == len(LOADS)
    texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "median not reached" in texts
    assert not any("RMST" in t for t in texts)


def test_median_requires_its_interval_columns() -> None:
    s = make_summary().drop(columns="median_ci_upper_s")
    with pytest.raises(ValueError, match="median_ci_upper_s"):
        time_to_outage_vs_smp(s, metric="median_s")
    time_to_outage_vs_smp(s, metric="rmst_s")  # not needed for RMST


# ----------------------------------------------------------------------------- heatmap


def test_heatmap_panels_annotations_and_shared_scale() -> None:
    s = make_summary()
    fig = outage_probability_heatmap(s)
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in panels] == list(DESIGNS)
    assert len(fig.axes) == len(DESIGNS) + 1  # plus the colour bar
    for ax, d in zip(panels, DESIGNS, strict=True):
        mesh = ax.collections[0]
        assert mesh.get_clim() == (0.0, 1.0)
        got = {}
        for t in ax.texts:
            col, row = int(t.get_position()[0]), int(t.get_position()[1])
            got[(SMPS[col], LOADS[::-1][row])] = t.get_text()
        sub = s[s["design"] == d]
        want = {
            (r.smp, r.load_rps): f"10/20\n{percent_label(r.p_outage_900s)}"
            for r in sub.itertuples()
        }
        assert got == want
    assert [t.get_text() for t in panels[0].get_yticklabels()] == ["8000", "1000"]
    texts = {t.get_text().split("\n")[-1] for ax in panels for t in ax.texts}
    assert "100%" in texts or ">99%" in texts  # nanos at SMP 16, 8000 req/s
    assert "9%" in texts  # guarded at SMP 1, 1000 req/s: 1 - exp(-0.09)
    assert fig.get_suptitle() == "P(outage within 900 s (15 min))"


@pytest.mark.parametrize(
    ("p", "text"),
    [
        (0.0, "0%"),
        (0.001, "<1%"),
        (0.125, "12%"),
        (0.5, "50%"),
        (0.999, ">99%"),
        (1.0, "100%"),
        (np.nan, ""),
    ],
)
def test_percent_labels_never_round_to_a_false_zero_or_certainty(p: float, text: str) -> None:
    assert percent_label(p) == text


def test_heatmap_other_horizon_column_and_bad_probabilities() -> None:
    s = make_summary()
    fig = outage_probability_heatmap(s, column="p_outage_60s")
    assert fig.get_suptitle() == "P(outage within 60 s)"
    s.loc[0, "p_outage_900s"] = 1.5
    with pytest.raises(ValueError, match=r"0\.\.1"):
        outage_probability_heatmap(s)


# ----------------------------------------------------------------------------- blackout


def test_blackout_figure_points_per_outage_and_recovery_bars() -> None:
    runs = make_runs()
    fig = blackout_figure(runs)
    assert len(fig.axes) == 2
    left, right = fig.axes
    assert left.get_yscale() == "log"
    n_points = sum(len(c.get_offsets()) for c in left.collections)
    assert n_points == int(runs["event_observed"].sum())
    bars = [p for p in right.patches if p.get_gid() == "recovered"]
    assert len(bars) == len(DESIGNS) * len(SMPS)
    colours = {to_hex(b.get_facecolor()) for b in bars}
    assert colours == {design_colour(d).lower() for d in DESIGNS}
    counts = sorted(t.get_text() for t in right.texts if t.get_gid() == "count")
    # guarded: 2 outages, 1 recovered; nanos: 8 outages, 4 recovered; per SMP value
    assert counts == sorted(["1/2"] * 3 + ["4/8"] * 3)
    heights = sorted(round(b.get_height(), 3) for b in bars)
    assert heights == [0.5] * 6
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend[:2] == list(DESIGNS)
    assert legend[2] == "recovered"
    assert legend[3].startswith("censored at the recovery window")


def test_blackout_figure_without_outages_draws_empty_panels_with_a_note() -> None:
    fig = blackout_figure(make_runs(outages=False))
    left, right = fig.axes
    assert len(left.collections) == 0
    assert any("no outages" in t.get_text() for t in left.texts)
    assert any("no outages" in t.get_text() for t in right.texts)
    assert {t.get_text() for t in right.texts if t.get_gid() == "count"} == {"–"}


def test_recovery_interval_is_the_tables_clopper_pearson() -> None:
    # 5 of 10 recovered: scipy's exact interval [0.1871, 0.8129] (R binom.test: same)
    lo, hi = exact_proportion_ci(5, 10)
    assert (lo, hi) == pytest.approx((0.187086, 0.812914), abs=1e-6)
    assert exact_proportion_ci(0, 4)[0] == 0.0
    assert all(np.isnan(exact_proportion_ci(0, 0)))


# ----------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("call", "table", "column"),
    [
        ("km", "km", "ci_upper"),
        ("km", "censor", "survival"),
        ("rmst", "summary", "rmst_tau_s"),
        ("rmst", "summary", "load_rps"),
        ("heatmap", "summary", "p_outage_900s"),
        ("blackout", "runs", "blackout_s"),
        ("blackout", "runs", "recovered"),
    ],
)
def test_missing_column_raises_value_error_naming_it(call: str, table: str, column: str) -> None:
    km, censor = make_km()
    tables = {"km": km, "censor": censor, "summary": make_summary(), "runs": make_runs()}
    tables[table] = tables[table].drop(columns=column)
    calls = {
        "km": lambda: km_figure(tables["km"], tables["censor"]),
        "rmst": lambda: time_to_outage_vs_smp(tables["summary"]),
        "heatmap": lambda: outage_probability_heatmap(tables["summary"]),
        "blackout": lambda: blackout_figure(tables["runs"]),
    }
    with pytest.raises(ValueError, match=f"{table} table is missing column.*'{column}'"):
        calls[call]()


def test_empty_tables_and_unknown_group_column_raise() -> None:
    km, censor = make_km()
    with pytest.raises(ValueError, match="km table is empty"):
        km_figure(km.iloc[0:0], censor)
    with pytest.raises(ValueError, match="runs table is empty"):
        blackout_figure(make_runs().iloc[0:0])
    with pytest.raises(ValueError, match="'vcpus'"):
        outage_probability_heatmap(make_summary(), x="vcpus")


# ----------------------------------------------------------------------------- saving


def test_save_figure_writes_png_and_pdf_with_the_sweep_hash(tmp_path) -> None:
    fig = outage_probability_heatmap(make_summary())
    meta = {"sweep_hash": HASH, "vnetsim_version": "0.1.0"}
    png, pdf = save_figure(fig, tmp_path / "out" / "fig_heat.v1", metadata=meta)
    assert png == tmp_path / "out" / "fig_heat.v1.png"
    assert pdf == tmp_path / "out" / "fig_heat.v1.pdf"
    with Image.open(png) as im:
        text = dict(im.text)
        assert im.size[0] == 2100  # 7.0 in at 300 dpi
    assert HASH in text["Description"]
    assert "vnetsim_version=0.1.0" in text["Description"]
    assert text["sweep_hash"] == HASH
    assert text["Title"] == "fig_heat.v1"
    assert text["Software"].startswith("vnetsim 0.1.0")
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF")
    assert HASH.encode() in data
    assert b"/CreationDate" not in data
    assert b"/Creator (vnetsim 0.1.0" in data


def test_save_figure_pdf_and_png_are_byte_stable(tmp_path) -> None:
    km, censor = make_km()
    meta = {"sweep_hash": HASH}
    a = save_figure(km_figure(km, censor), tmp_path / "a" / "fig_km", metadata=meta)
    b = save_figure(km_figure(km, censor), tmp_path / "b" / "fig_km", metadata=meta)
    for pa, pb in zip(a, b, strict=True):
        assert pa.read_bytes() == pb.read_bytes()


def test_save_figure_refuses_non_string_metadata(tmp_path) -> None:
    fig = blackout_figure(make_runs())
    with pytest.raises(TypeError, match="str to str"):
        save_figure(fig, tmp_path / "x", metadata={"n_runs": 20})
    assert not (tmp_path / "x.png").exists()


# ----------------------------------------------------------------------------- axes-level


def artists(ax: Axes) -> int:
    return len(ax.lines) + len(ax.collections) + len(ax.patches) + len(ax.texts)


def one_panel_km() -> tuple[pd.DataFrame, pd.DataFrame]:
    km, censor = make_km()
    return km[km["smp"] == 4], censor[censor["smp"] == 4]


def one_panel_summary() -> pd.DataFrame:
    s = make_summary()
    return s[s["design"] == DESIGNS[1]]


# (function, what it must have drawn on its Axes)
AXES_LEVEL: dict[str, tuple[Callable[..., Axes], Callable[[Axes], bool]]] = {
    "kmplot": (
        lambda ax: kmplot(*one_panel_km(), hue="design", ax=ax),
        lambda ax: len(lines_by_gid(ax, "km")) == len(DESIGNS),
    ),
    "rmstplot": (
        lambda ax: rmstplot(one_panel_summary(), ax=ax),
        lambda ax: len(lines_by_gid(ax, "rmst_s")) == len(LOADS),
    ),
    "heatmapplot": (
        lambda ax: heatmapplot(one_panel_summary(), ax=ax),
        lambda ax: len(ax.texts) == len(SMPS) * len(LOADS),
    ),
    "blackoutplot": (
        lambda ax: blackoutplot(make_runs(), ax=ax),
        lambda ax: (
            sum(len(c.get_offsets()) for c in ax.collections)
            == int(make_runs()["event_observed"].sum())
        ),
    ),
    "recoveryplot": (
        lambda ax: recoveryplot(make_runs(), ax=ax),
        lambda ax: sum(p.get_gid() == "recovered" for p in ax.patches) == len(DESIGNS) * len(SMPS),
    ),
}


@pytest.mark.parametrize("name", list(AXES_LEVEL))
def test_axes_level_function_draws_on_the_given_axes(name: str) -> None:
    draw, drawn = AXES_LEVEL[name]
    fig = Figure()
    ax, other = fig.subplots(1, 2)
    assert artists(ax) == 0
    assert draw(ax) is ax
    assert drawn(ax)
    assert ax.get_legend() is not None or name == "heatmapplot"  # a heatmap has a colour bar
    assert artists(other) == 0  # nothing spilled onto the neighbour


@pytest.mark.parametrize("name", list(AXES_LEVEL))
def test_axes_level_function_makes_a_single_column_figure_without_ax(name: str) -> None:
    draw, drawn = AXES_LEVEL[name]
    ax = draw(None)
    assert isinstance(ax, Axes)
    assert drawn(ax)
    fig = ax.get_figure()
    assert isinstance(fig, Figure)
    assert fig.get_figwidth() == pytest.approx(figures.SINGLE_COLUMN_IN)
    # the Axes, plus the colour bar that a heatmap of its own carries
    assert len(fig.axes) == (2 if name == "heatmapplot" else 1)


def test_kmplot_without_hue_draws_one_named_curve() -> None:
    km, censor = make_km()
    one = km[(km["smp"] == 4) & (km["design"] == "guarded")].drop(columns=["smp", "design"])
    cen = censor[(censor["smp"] == 4) & (censor["design"] == "guarded")]
    ax = kmplot(one, cen.drop(columns=["smp", "design"]), curve_label="my-sweep")
    (curve,) = lines_by_gid(ax, "km")
    assert curve.get_label() == "my-sweep"
    # no hue: the neutral grey, not the first design colour (blue means 0.1.48 elsewhere)
    assert to_hex(curve.get_color()) == NEUTRAL
    assert to_hex(curve.get_color()) not in {c.lower() for c in OKABE_ITO}
    assert len(lines_by_gid(ax, "km-censor")) == 1
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["my-sweep", "censored"]


# ----------------------------------------------------------------------------- registry


def loaded(axes: list[str], runs: pd.DataFrame | None = None) -> LoadedSweep:
    manifest = {"name": "t", "axes": axes, "horizon_s": 900.0, "sweep_hash": HASH}
    return LoadedSweep(Path("in-memory"), make_runs() if runs is None else runs, manifest)


def full_tables() -> dict[str, pd.DataFrame]:
    km, censor = make_km()
    # blackout lengths: the same step shapes on a longer time scale, one run still silent
    recovery = km.assign(load_rps=1000, time_s=km["time_s"] * 4.0)
    recovery.loc[recovery.index[-1], "censored"] = 1
    return {
        "km": km.assign(load_rps=1000),
        "censor": censor.assign(load_rps=1000),
        "summary": make_summary(),
        "recovery_km": recovery,
    }


def test_figures_registry_declares_each_figure_and_its_needs() -> None:
    by_name = {spec.name: spec for spec in FIGURES}
    assert list(by_name) == [
        "km",
        "km_grid",
        "hazard_vs_smp",
        "rmst_vs_smp",
        "p_outage_heatmap",
        "blackout",
        "recovery_km",
        "split_survival",
        "split_km_grid",
        "split_hazard_vs_smp",
        "split_rmst_vs_smp",
        "split_p_outage_heatmap",
        "split_blackout",
    ]
    assert by_name["split_hazard_vs_smp"].table == "split_summary"
    assert by_name["split_survival"].estimator == "split"
    assert by_name["split_survival"].table == "split_curves"
    assert by_name["km"].axes == ()
    assert by_name["km"].table == "km"
    assert by_name["recovery_km"].table == "recovery_km"
    assert by_name["recovery_km"].axes == ()
    assert set(by_name["p_outage_heatmap"].axes) == {"smp", "load_rps", "design"}
    assert by_name["p_outage_heatmap"].required_columns(loaded([])) == ("p_outage_900s",)
    short = LoadedSweep(Path("x"), make_runs(), {"axes": [], "horizon_s": 20.0})
    assert by_name["p_outage_heatmap"].required_columns(short) == ("p_outage_20s",)
    assert by_name["blackout"].table == "runs"
    assert by_name["blackout"].needs_hue


def test_draw_all_draws_every_figure_of_a_full_sweep() -> None:
    drawn = draw_all(loaded(["design", "smp", "load_rps"]), full_tables())
    assert drawn.skipped == {}
    stems = [stem for stem, _ in drawn.figures]
    assert stems == [
        "km_load_rps-1000",
        "km_grid",
        "hazard_vs_smp",
        "rmst_vs_smp",
        "p_outage_heatmap",
        "blackout",
        "recovery_km_load_rps-1000",
    ]
    assert all(isinstance(fig, Figure) for _, fig in drawn.figures)
    (recovery,) = [fig for stem, fig in drawn.figures if stem.startswith("recovery_km")]
    assert {ax.get_ylabel() for ax in recovery.axes} >= {"Blackouts still going"}
    assert "recovery as the event" in (estimator_text(recovery) or "")


@pytest.mark.parametrize(
    ("skipped", "drop", "needle"),
    [
        ("rmst_vs_smp", "rmst_tau_s", "'rmst_tau_s'"),
        ("rmst_vs_smp", "rmst_s", "'rmst_s'"),
        ("p_outage_heatmap", "p_outage_900s", "'p_outage_900s'"),
    ],
)
def test_draw_all_skips_a_figure_whose_column_is_missing_and_names_it(
    skipped: str, drop: str, needle: str
) -> None:
    tables = full_tables()
    tables["summary"] = tables["summary"].drop(columns=drop)
    drawn = draw_all(loaded(["design", "smp", "load_rps"]), tables)
    assert list(drawn.skipped) == [skipped]
    assert needle in drawn.skipped[skipped]
    assert "summary table has no column" in drawn.skipped[skipped]
    assert skipped not in [stem for stem, _ in drawn.figures]
    assert "km_load_rps-1000" in [stem for stem, _ in drawn.figures]  # the others still drawn


def test_draw_all_skips_a_column_without_any_value() -> None:
    tables = full_tables()
    tables["summary"]["p_outage_900s"] = np.nan
    drawn = draw_all(loaded(["design", "smp", "load_rps"]), tables)
    assert list(drawn.skipped) == ["p_outage_heatmap"]
    assert "'p_outage_900s'" in drawn.skipped["p_outage_heatmap"]
    assert "holds no value" in drawn.skipped["p_outage_heatmap"]


def test_draw_all_without_axes_draws_one_km_curve_and_names_the_missing_axes() -> None:
    km, censor = make_km()
    one = km[(km["smp"] == 4) & (km["design"] == "guarded")].drop(columns=["smp", "design"])
    tables = {"km": one, "censor": censor.iloc[0:0][["time_s", "survival"]]}
    drawn = draw_all(loaded([]), tables)
    ((stem, fig),) = drawn.figures
    assert stem == "km"
    (ax,) = fig.axes
    assert [ln.get_label() for ln in lines_by_gid(ax, "km")] == ["t"]  # the sweep's name
    assert set(drawn.skipped) == {
        "km_grid",
        "hazard_vs_smp",
        "rmst_vs_smp",
        "p_outage_heatmap",
        "blackout",
        "recovery_km",  # no recovery_km table given
    }
    assert "needs axis 'smp'" in drawn.skipped["blackout"]
    assert "the sweep's axes: none" in drawn.skipped["rmst_vs_smp"]


def test_draw_all_colours_by_design_and_skips_blackout_without_a_colour_axis() -> None:
    km, censor = make_km()
    drawn = draw_all(loaded(["smp"]), {"km": km[km["design"] == "guarded"], "censor": censor})
    stems = [stem for stem, _ in drawn.figures]
    assert stems == ["km"]
    fig = drawn.figures[0][1]
    assert [ax.get_title() for ax in fig.axes] == [f"SMP = {s}" for s in SMPS]
    assert "needs a colour axis" in drawn.skipped["blackout"]


# ----------------------------------------------------------------------------- vnetsim figures


@pytest.fixture(scope="module")
def no_axes_sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A stored sweep without axes: two short runs of the incident's preset."""
    out = tmp_path_factory.mktemp("sweeps") / "no-axes"
    spec = SweepSpec.from_dict(
        {"name": "no-axes", "base": "nanos-2099", "replicates": 2, "horizon_s": 0.3}
    )
    run_sweep(spec, out, progress=False, workers=1)
    return out


def snapshot(directory: Path) -> dict[str, tuple[int, bytes]]:
    return {
        str(p.relative_to(directory)): (p.stat().st_mtime_ns, p.read_bytes())
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def test_figures_command_on_a_sweep_without_axes_writes_its_km_figure(
    no_axes_sweep: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "sweep"
    shutil.copytree(no_axes_sweep, out)
    assert main(["figures", str(out)]) == 0
    captured = capsys.readouterr()
    written = captured.out.split()
    assert written == [str(out / "figures" / "km.png"), str(out / "figures" / "km.pdf")]
    with Image.open(out / "figures" / "km.png") as im:
        assert im.size[0] == round(figures.SINGLE_COLUMN_IN * 300)
        assert dict(im.text)["sweep"] == "no-axes"
    assert "skipped figure blackout: needs axis 'smp'" in captured.err
    assert "Traceback" not in captured.err
    assert not (out / "analysis").exists()  # figures computes its tables in memory


def test_figures_command_leaves_the_analysis_directory_alone(
    no_axes_sweep: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "sweep"
    shutil.copytree(no_axes_sweep, out)
    assert main(["analyze", str(out)]) == 0
    before = snapshot(out / "analysis")
    assert {"km.csv", "km.parquet", "summary.csv", "censor.parquet"} <= set(before)
    assert main(["figures", str(out)]) == 0
    assert snapshot(out / "analysis") == before  # same files, bytes and mtimes
    assert (out / "figures" / "km.pdf").exists()


# ----------------------------------------------------------------------------- provenance


def _pdf_info(path: Path) -> dict[str, str]:
    """The PDF Info dictionary's string entries (matplotlib writes them as literal strings,
    uncompressed; a literal escapes ``(``, ``)`` and ``\\`` with a backslash)."""
    import re

    data = path.read_bytes().decode("latin-1")
    out = {}
    for key in ("Title", "Subject", "Keywords", "Creator"):
        m = re.search(rf"/{key} \(((?:\\.|[^\\)])*)\)", data)
        if m:
            out[key] = re.sub(r"\\(.)", r"\1", m.group(1))
    return out


def test_figures_command_embeds_sweep_hash_version_and_commit_in_png_and_pdf(
    no_axes_sweep: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    import json
    import subprocess
    from importlib.metadata import version

    from vnetsim.analysis import report
    from vnetsim.version import __version__, source_commit

    out = tmp_path / "sweep"
    shutil.copytree(no_axes_sweep, out)
    manifest = json.loads((out / "manifest.json").read_text())
    assert main(["figures", str(out)]) == 0
    capsys.readouterr()
    # what each key must hold, found independently of figure_metadata: the manifest's hash,
    # the installed package's metadata (may be older than the checkout under an editable
    # install: recorded as it is), and git HEAD of the checkout vnetsim was imported from
    expected = {
        "sweep": "no-axes",
        "sweep_hash": manifest["sweep_hash"],
        "vnetsim_version": version("vnetsim"),
        "drawn_by_commit": source_commit(),
    }
    assert expected["vnetsim_version"] == __version__
    repo = Path(report.__file__).resolve().parents[2]
    head = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    if head and (repo / "vnetsim" / "version.py").exists():
        assert expected["drawn_by_commit"] in (head, f"{head}-dirty")
    with Image.open(out / "figures" / "km.png") as im:
        text = dict(im.text)
    for key, value in expected.items():
        assert text[key] == value, key
        assert f"{key}={value}" in text["Description"]
    info = _pdf_info(out / "figures" / "km.pdf")
    keywords = dict(kv.split("=", 1) for kv in info["Keywords"].split(", "))
    for key, value in expected.items():
        assert keywords[key] == value, key
    assert info["Creator"].startswith(f"vnetsim {expected['vnetsim_version']} (matplotlib")
    # outside a git checkout the commit is blank, not a made-up value (docs/statistics.md)
    monkeypatch.setattr(report, "source_commit", lambda: "")
    sweep = LoadedSweep(out, pd.DataFrame(), manifest)
    assert report.figure_metadata(sweep)["drawn_by_commit"] == ""
