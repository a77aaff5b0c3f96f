"""Publication figures from hand-built tidy tables: panels, artists per group, marks, labels,
saved files and their embedded provenance, and refusal of incomplete tables."""

from __future__ import annotations

import itertools

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_hex
from PIL import Image

from vnetsim.analysis import figures
from vnetsim.analysis.figures import (
    OKABE_ITO,
    blackout_figure,
    km_figure,
    outage_probability_heatmap,
    paper_style,
    save_figure,
    time_to_outage_vs_smp,
)

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
    assert to_hex(curve.get_color()) == OKABE_ITO[0].lower()


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
        assert ax.get_yscale() == "log"
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
            (r.smp, r.load_rps): figures._percent_label(r.p_outage_900s) for r in sub.itertuples()
        }
        assert got == want
    assert [t.get_text() for t in panels[0].get_yticklabels()] == ["8000", "1000"]
    texts = {t.get_text() for ax in panels for t in ax.texts}
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
    assert figures._percent_label(p) == text


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
    assert colours == {c.lower() for c in OKABE_ITO[:2]}
    counts = sorted(t.get_text() for t in right.texts if t.get_gid() == "count")
    # guarded: 2 outages, 1 recovered; nanos: 8 outages, 4 recovered; per SMP value
    assert counts == sorted(["1/2"] * 3 + ["4/8"] * 3)
    heights = sorted(round(b.get_height(), 3) for b in bars)
    assert heights == [0.5] * 6
    assert [t.get_text() for t in fig.legends[0].get_texts()] == list(DESIGNS)


def test_blackout_figure_without_outages_draws_empty_panels_with_a_note() -> None:
    fig = blackout_figure(make_runs(outages=False))
    left, right = fig.axes
    assert len(left.collections) == 0
    assert any("no outages" in t.get_text() for t in left.texts)
    assert any("no outages" in t.get_text() for t in right.texts)
    assert {t.get_text() for t in right.texts if t.get_gid() == "count"} == {"–"}


def test_wilson_interval() -> None:
    lo, hi = figures._wilson(5, 10)
    assert lo == pytest.approx(0.2366, abs=1e-4)
    assert hi == pytest.approx(0.7634, abs=1e-4)
    assert figures._wilson(0, 4)[0] == 0.0
    assert all(np.isnan(figures._wilson(0, 0)))


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
