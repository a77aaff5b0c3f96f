"""Publication figures of a sweep, drawn from its tidy tables (no simulation, no disk reads).

Organised like seaborn: :mod:`.style` (rcParams, palette, labels, number formats) and
:mod:`.layout` (paper sizes, panel grids, legends), then one module per figure, each with a
public axes-level function that draws on a given ``ax`` (or on a new one when ``ax=None``)
and a figure-level function built from it, one panel per facet value, sized for a two-column
paper (3.35 in single column, 7.0 in double) with 8 pt text and the Okabe–Ito palette.
Figures are built on :class:`~matplotlib.figure.Figure` directly, never through ``pyplot``:
there is no global figure state and no interactive backend.  Only :func:`save_figure` writes.

Figures
-------
km_figure / kmplot
    Kaplan–Meier curves with 95 % bands and censoring marks, one curve per hue value; the
    same layout draws the split estimator's mean conditional curves (``split_survival``).
time_to_outage_vs_smp / rmstplot
    RMST (or median) time to outage against SMP on a log time axis, one line per load.
outage_probability_heatmap / heatmapplot
    P(outage within a time) as an SMP × load grid annotated in percent.
blackout_figure / blackoutplot, recoveryplot
    Blackout length of the runs with an outage, and the fraction that recovered.

:data:`FIGURES` declares each figure of a sweep with the table, axes and columns it needs;
:func:`draw_all` draws those a :class:`~vnetsim.sweep.LoadedSweep` allows and names why it
skipped the others.  A new figure: its module, then its record here.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from matplotlib.figure import Figure

from vnetsim.analysis.figures.blackout import (
    blackout_figure,
    blackoutplot,
    recoveryplot,
    split_blackout_figure,
)
from vnetsim.analysis.figures.hazard import (
    PLAIN,
    SPLIT,
    HazardColumns,
    hazard_figure,
    hazardplot,
)
from vnetsim.analysis.figures.heatmap import heatmapplot, outage_probability_heatmap
from vnetsim.analysis.figures.km import km_figure, km_grid_figure, kmplot
from vnetsim.analysis.figures.layout import DOUBLE_COLUMN_IN, SINGLE_COLUMN_IN, estimator_note
from vnetsim.analysis.figures.rmst import rmstplot, time_to_outage_vs_smp
from vnetsim.analysis.figures.save import save_figure
from vnetsim.analysis.figures.spec import (
    DrawnFigures,
    FigureSpec,
    Tables,
    facet_axis,
    hue_axis,
    outage_column,
)
from vnetsim.analysis.figures.style import OKABE_ITO, paper_style
from vnetsim.sweep import LoadedSweep

# How each declared figure is drawn from a sweep (the records follow).


def _draw_km(sweep: LoadedSweep, tables: Tables) -> list[tuple[str, Figure]]:
    return _km_figures(sweep, tables["km"], tables["censor"], "km", sweep.horizon_s or None)


def _draw_recovery_km(sweep: LoadedSweep, tables: Tables) -> list[tuple[str, Figure]]:
    km = tables["recovery_km"]
    if km.empty:
        raise ValueError("no run had an outage: there is no blackout to draw")
    censor = km.loc[km["censored"] > 0].drop(columns=["ci_lower", "ci_upper"])
    longest = float(km["time_s"].max())
    figures = _km_figures(sweep, km, censor, "recovery_km", 1.05 * longest)
    # Blackouts of seconds and of an hour in one sweep: a log time axis shows both.
    positive = km.loc[km["time_s"] > 0, "time_s"]
    log_axis = not positive.empty and longest / float(positive.min()) > 50
    for _, fig in figures:
        for ax in fig.axes:
            if ax.get_ylabel():
                ax.set_ylabel("Blackouts still going")
            if not ax.get_xlabel():
                continue
            ax.set_xlabel(ax.get_xlabel().replace("Time", "Time since the onset"))
            if log_axis:
                right = ax.get_xlim()[1]
                scale = 1.05 * longest / right  # seconds per axis unit (s or min)
                ax.set_xscale("log")
                ax.set_xlim(0.5 * float(positive.min()) / scale, right)
        estimator_note(fig, "Kaplan–Meier, recovery as the event; + = still silent at the end")
    return figures


def _km_figures(
    sweep: LoadedSweep, km: pd.DataFrame, censor: pd.DataFrame, stem: str, horizon: float | None
) -> list[tuple[str, Figure]]:
    hue, facet = hue_axis(sweep), facet_axis(sweep)
    rest = [a for a in sweep.axes if a not in (hue, facet)]
    groups: list[tuple[tuple[object, ...], pd.DataFrame, pd.DataFrame]] = [((), km, censor)]
    if rest:  # one figure per value of the axes that are neither colour nor panel
        groups = [
            (
                key if isinstance(key, tuple) else (key,),
                g,
                censor.merge(g[rest].drop_duplicates(), on=rest),
            )
            for key, g in km.groupby(rest, sort=True)
        ]
    out = []
    for key, km_g, cen_g in groups:
        suffix = "".join(f"_{c}-{v}" for c, v in zip(rest, key, strict=True))
        fig = km_figure(
            km_g, cen_g, facet=facet, hue=hue, horizon_s=horizon, curve_label=sweep.name
        )
        out.append((f"{stem}{suffix}", fig))
    return out


def _draw_km_grid(sweep: LoadedSweep, tables: Tables) -> list[tuple[str, Figure]]:
    fig = km_grid_figure(tables["km"], tables["censor"], horizon_s=sweep.horizon_s or None)
    return [("km_grid", fig)]


def _draw_split_km_grid(sweep: LoadedSweep, tables: Tables) -> list[tuple[str, Figure]]:
    # Every split run is followed to the horizon (or to Ŝ_r = 0): the count under a panel is
    # the runs its mean averages, not a number at risk; there are no censoring marks.
    curves = tables["split_curves"].assign(at_risk=lambda d: d["n_runs"], events=0, censored=0)
    fig = km_grid_figure(
        curves,
        curves.iloc[0:0][["load_rps", "smp", "design", "time_s", "survival"]],
        horizon_s=sweep.horizon_s or None,
        count_label="runs",
        ylabel="P(no outage)",
        note="split estimator: mean conditional survival, 95 % bootstrap band; runs averaged",
    )
    return [("split_km_grid", fig)]


def _draw_split(sweep: LoadedSweep, tables: Tables) -> list[tuple[str, Figure]]:
    # The Kaplan–Meier figure's layout, on the split estimator's mean conditional curves
    # (no censoring marks: every run is observed to the horizon or to Ŝ = 0).
    curves = tables["split_curves"]
    empty = curves.iloc[0:0][[c for c in curves.columns if c in (*sweep.axes, "time_s")]]
    split_tables = {"km": curves, "censor": empty.assign(survival=[])}
    out = []
    for stem, fig in _draw_km(sweep, split_tables):
        for ax in fig.axes:
            if ax.get_ylabel():
                ax.set_ylabel("P(no outage), split estimator")
        estimator_note(fig, "split estimator: mean conditional survival, 95 % bootstrap band")
        out.append((stem.replace("km", "split_survival", 1), fig))
    return out


def _hazard_figures(
    sweep: LoadedSweep, summary: pd.DataFrame, stem: str, columns: HazardColumns
) -> list[tuple[str, Figure]]:
    # design (or the first other axis) in colour, one panel per load (or the next axis),
    # one figure per value of any axis left over
    hue = hue_axis(sweep)
    rest = [a for a in sweep.axes if a not in ("smp", hue)]
    facet = "load_rps" if "load_rps" in rest else (rest[0] if rest else None)
    extra = [a for a in rest if a != facet]
    groups: list[tuple[tuple[object, ...], pd.DataFrame]] = [((), summary)]
    if extra:
        groups = [
            (key if isinstance(key, tuple) else (key,), g)
            for key, g in summary.groupby(extra, sort=True)
        ]
    out = []
    for key, g in groups:
        suffix = "".join(f"_{c}-{v}" for c, v in zip(extra, key, strict=True))
        out.append((stem + suffix, hazard_figure(g, hue=hue, facet=facet, columns=columns)))
    return out


def _draw_hazard(sweep: LoadedSweep, tables: Tables) -> list[tuple[str, Figure]]:
    return _hazard_figures(sweep, tables["summary"], "hazard_vs_smp", PLAIN)


def _draw_split_hazard(sweep: LoadedSweep, tables: Tables) -> list[tuple[str, Figure]]:
    return _hazard_figures(sweep, tables["split_summary"], "split_hazard_vs_smp", SPLIT)


def _draw_rmst(sweep: LoadedSweep, tables: Tables) -> list[tuple[str, Figure]]:
    fig = time_to_outage_vs_smp(tables["summary"], x="smp", hue="load_rps", facet="design")
    return [("rmst_vs_smp", fig)]


def _draw_heatmap(sweep: LoadedSweep, tables: Tables) -> list[tuple[str, Figure]]:
    fig = outage_probability_heatmap(
        tables["summary"], x="smp", y="load_rps", facet="design", column=outage_column(sweep)
    )
    return [("p_outage_heatmap", fig)]


def _split_as_plain(split_summary: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """The split summary under the plain summary's names for RMST and P(outage by τ).

    A cell where no replay failed has a bootstrap interval of [0, 0]; its upper limit is
    instead the exact per-batch bound ``p_batch_upper`` carried over the batches of the
    horizon, ``1 − (1 − p_batch_upper)^(batches_per_hour · τ / 3600)`` (what the split
    hazard figure draws as a per-hour bound), so the heatmap shows "≤ x %" there, not 0 %.
    A cell without any batch has no ``p_batch_upper``; its upper limit is
    ``1 − survival_tau_ci_lower``, the bound matching the zero-event Poisson bound on its run
    exposure, ``1 − exp(−hazard_per_hour_upper · τ / 3600)``.
    """
    tau = float(split_summary["tau_s"].max())
    column = f"p_outage_{tau:g}s"
    batches_by_tau = split_summary["batches_per_hour"] * split_summary["tau_s"] / 3600.0
    # NaN ** 0 is 1: mask explicitly, so a cell without batches (no p_batch_upper) takes the
    # exposure bound below instead of a bound of 0
    bound = (1.0 - (1.0 - split_summary["p_batch_upper"]) ** batches_by_tau).where(
        split_summary["p_batch_upper"].notna()
    )
    upper = (1.0 - split_summary["survival_tau_ci_lower"]).where(bound.isna(), bound)
    table = split_summary.rename(columns={"tau_s": "rmst_tau_s"}).assign(
        **{
            column: 1.0 - split_summary["survival_tau"],
            f"{column}_ci_lower": 1.0 - split_summary["survival_tau_ci_upper"],
            f"{column}_ci_upper": upper,
        }
    )
    return table, column


def _draw_split_rmst(sweep: LoadedSweep, tables: Tables) -> list[tuple[str, Figure]]:
    table, _ = _split_as_plain(tables["split_summary"])
    fig = time_to_outage_vs_smp(table, x="smp", hue="load_rps", facet="design")
    return [("split_rmst_vs_smp", fig)]


def _draw_split_heatmap(sweep: LoadedSweep, tables: Tables) -> list[tuple[str, Figure]]:
    table, column = _split_as_plain(tables["split_summary"])
    fig = outage_probability_heatmap(table, x="smp", y="load_rps", facet="design", column=column)
    return [("split_p_outage_heatmap", fig)]


def _draw_split_blackout(sweep: LoadedSweep, tables: Tables) -> list[tuple[str, Figure]]:
    hue = hue_axis(sweep)
    if hue is None:  # FigureSpec.unmet reports this before drawing
        raise ValueError("the blackout figure needs a colour axis")
    fig = split_blackout_figure(sweep.ok_runs, tables["split_summary"], x="smp", hue=hue)
    return [("split_blackout", fig)]


def _draw_blackout(sweep: LoadedSweep, tables: Tables) -> list[tuple[str, Figure]]:
    hue = hue_axis(sweep)
    if hue is None:  # FigureSpec.unmet reports this before drawing
        raise ValueError("the blackout figure needs a colour axis")
    return [("blackout", blackout_figure(sweep.ok_runs, x="smp", hue=hue))]


FIGURES: tuple[FigureSpec, ...] = (
    FigureSpec(
        "km",
        "Kaplan–Meier curves, coloured by the hue axis if any, one panel per SMP if swept, "
        "one figure per value of the other axes",
        table="km",
        draw=_draw_km,
        columns=("time_s", "survival", "ci_lower", "ci_upper"),
    ),
    FigureSpec(
        "km_grid",
        "Kaplan–Meier curves in one grid (load × SMP), design as colour, numbers at risk",
        table="km",
        draw=_draw_km_grid,
        axes=("smp", "load_rps", "design"),
        columns=("time_s", "survival", "ci_lower", "ci_upper", "at_risk", "events", "censored"),
    ),
    FigureSpec(
        "hazard_vs_smp",
        "Outages per hour against SMP (log axes), one panel per load, design as colour; "
        "cells without outages as their one-sided 95 % upper bound",
        table="summary",
        draw=_draw_hazard,
        axes=("smp",),
        columns=("hazard_per_h", "hazard_per_h_ci_lower", "hazard_per_h_ci_upper"),
    ),
    FigureSpec(
        "rmst_vs_smp",
        "Restricted mean time to outage against SMP, one line per load, one panel per design",
        table="summary",
        draw=_draw_rmst,
        axes=("smp", "load_rps", "design"),
        columns=("rmst_s", "rmst_tau_s"),
    ),
    FigureSpec(
        "p_outage_heatmap",
        "P(outage within 15 min or the horizon) as an SMP × load grid, one panel per design",
        table="summary",
        draw=_draw_heatmap,
        axes=("smp", "load_rps", "design"),
        columns=lambda sweep: (outage_column(sweep),),
    ),
    FigureSpec(
        "blackout",
        "Blackout length and recovery of the runs with an outage, by SMP and hue",
        table="runs",
        draw=_draw_blackout,
        axes=("smp",),
        needs_hue=True,
        columns=("event_observed", "recovered", "blackout_s"),
    ),
    FigureSpec(
        "recovery_km",
        "Kaplan–Meier curves of the blackout length (recovery as the event) of the runs with "
        "an outage, laid out like the Kaplan–Meier figure",
        table="recovery_km",
        draw=_draw_recovery_km,
        columns=("time_s", "survival", "ci_lower", "ci_upper", "censored"),
    ),
    FigureSpec(
        "split_survival",
        "Split estimator: mean conditional survival with 95 % bootstrap bands over runs, laid "
        "out like the Kaplan–Meier figure",
        table="split_curves",
        draw=_draw_split,
        columns=("time_s", "survival", "ci_lower", "ci_upper"),
        estimator="split",
    ),
    FigureSpec(
        "split_km_grid",
        "Split estimator: mean conditional survival in one grid (load × SMP), design as "
        "colour, the runs averaged under each panel",
        table="split_curves",
        draw=_draw_split_km_grid,
        axes=("smp", "load_rps", "design"),
        columns=("time_s", "survival", "ci_lower", "ci_upper", "n_runs"),
        estimator="split",
    ),
    FigureSpec(
        "split_hazard_vs_smp",
        "Split estimator: outages per hour against SMP, laid out like hazard_vs_smp",
        table="split_summary",
        draw=_draw_split_hazard,
        axes=("smp",),
        columns=("outage_rate_per_hour",),
        estimator="split",
    ),
    FigureSpec(
        "split_rmst_vs_smp",
        "Split estimator: restricted mean time to outage (mean over runs of ∫Ŝ_r) against "
        "SMP, laid out like rmst_vs_smp",
        table="split_summary",
        draw=_draw_split_rmst,
        axes=("smp", "load_rps", "design"),
        columns=("rmst_s", "rmst_ci_lower_s", "rmst_ci_upper_s", "tau_s"),
        estimator="split",
    ),
    FigureSpec(
        "split_p_outage_heatmap",
        "Split estimator: 1 − mean conditional survival at the horizon as an SMP × load "
        "grid, one panel per design",
        table="split_summary",
        draw=_draw_split_heatmap,
        axes=("smp", "load_rps", "design"),
        columns=(
            "survival_tau",
            "survival_tau_ci_lower",
            "survival_tau_ci_upper",
            "tau_s",
            "p_batch_upper",
            "batches_per_hour",
        ),
        estimator="split",
    ),
    FigureSpec(
        "split_blackout",
        "Split estimator: blackout length and recovery of each run's continued failing "
        "replay, with the weighted estimates of the split summary",
        table="split_summary",
        draw=_draw_split_blackout,
        axes=("smp",),
        needs_hue=True,
        columns=("failed_recovered_fraction", "failed_blackout_mean_s"),
        estimator="split",
    ),
)
"""Every figure of a sweep, in drawing order."""


def draw_all(
    sweep: LoadedSweep, tables: Tables, figures: Sequence[FigureSpec] = FIGURES
) -> DrawnFigures:
    """Draw each of ``figures`` whose needs the sweep and its tables meet; skip the others.

    ``tables`` are the survival tables of the sweep (``report.analyze``).  Nothing is
    written; the result holds the figures with their file stems and, per skipped figure, the
    reason (naming the missing axis or column). Figures of an estimator the sweep did not use
    are left out silently.
    """
    drawn = DrawnFigures()
    for spec in figures:
        if not spec.offered(sweep):
            continue  # a plain figure of a split sweep, or the other way round
        reason = spec.unmet(sweep, tables)
        if reason is not None:
            drawn.skipped[spec.name] = reason
        else:
            drawn.figures += spec.draw(sweep, tables)
    return drawn


__all__ = [
    "DOUBLE_COLUMN_IN",
    "FIGURES",
    "OKABE_ITO",
    "SINGLE_COLUMN_IN",
    "DrawnFigures",
    "FigureSpec",
    "blackout_figure",
    "blackoutplot",
    "draw_all",
    "hazard_figure",
    "hazardplot",
    "heatmapplot",
    "km_figure",
    "km_grid_figure",
    "kmplot",
    "outage_probability_heatmap",
    "paper_style",
    "recoveryplot",
    "rmstplot",
    "save_figure",
    "split_blackout_figure",
    "time_to_outage_vs_smp",
]
