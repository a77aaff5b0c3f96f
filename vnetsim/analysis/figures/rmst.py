"""Time to outage (RMST or median) against the number of vCPUs, one line per load."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, NullLocator

from vnetsim.analysis.figures import layout
from vnetsim.analysis.figures.rmst_scales import (
    RmstScales,
    ci_columns,
    rmst_legend_handles,
    rmst_scales,
    rmst_ylabel,
)
from vnetsim.analysis.figures.style import (
    fmt_value,
    hue_linestyles,
    hue_markers,
    hue_palette,
    label,
    paper_style,
)
from vnetsim.analysis.figures.tables import require_columns, require_unique

_PANEL_HEIGHT_IN = 2.0


def _needed(x: str, hue: str, metric: str) -> list[str | None]:
    needed: list[str | None] = [x, hue, metric]
    if metric == "median_s":
        needed += list(ci_columns(metric))
    if metric == "rmst_s":
        needed.append("rmst_tau_s")
    return needed


def rmstplot(
    summary: pd.DataFrame,
    *,
    x: str = "smp",
    hue: str = "load_rps",
    metric: str = "rmst_s",
    scales: RmstScales | None = None,
    legend: bool = True,
    logy: bool | None = None,
    ax: Axes | None = None,
) -> Axes:
    """``metric`` (seconds) against ``x``, one line per ``hue`` value.

    The time axis is linear from 0 for RMST (bounded by τ, its error bars read directly) and
    logarithmic for other metrics; ``logy`` overrides this.

    ``summary`` holds one row per (``hue``, ``x``); for ``metric="median_s"`` also its
    interval columns, for ``"rmst_s"`` also ``rmst_tau_s`` (and optionally
    ``rmst_ci_lower_s``/``rmst_ci_upper_s``).  Finite values are joined by a line (gid
    ``metric``); NaN values (median not reached) are open markers at the top (gid
    ``not-reached``); an interval without upper bound continues dotted to the top (gid
    ``ci-open``); for RMST a dotted line marks τ (gid ``tau``).  ``scales`` shares x
    positions, colours and the y range between panels (default: from ``summary``).  Draws on
    ``ax`` or on a new single-column figure; returns the Axes.
    """
    require_columns(summary, _needed(x, hue, metric), "summary")
    require_unique(summary, [hue, x], "summary", "filter it to one row per line and x value")
    logy = metric != "rmst_s" if logy is None else logy
    sc = (
        scales
        if scales is not None
        else rmst_scales(summary, x=x, hue=hue, metric=metric, logy=logy)
    )
    ci_lo_col, ci_hi_col = ci_columns(metric)
    # Load is no design: neutral greys, told apart by marker and line style (style.py).
    colours, marks = hue_palette(hue, sc.hue_levels), hue_markers(hue, sc.hue_levels)
    styles = hue_linestyles(hue, sc.hue_levels)
    with paper_style():
        ax = layout.axes_or_new(ax, (layout.SINGLE_COLUMN_IN, _PANEL_HEIGHT_IN + 0.35))
        if logy:
            ax.set_yscale("log", nonpositive="clip")
        if sc.log2x:
            ax.set_xscale("log", base=2)
        for lv in sc.hue_levels:
            g = summary[summary[hue] == lv].copy()
            if g.empty:
                continue
            g["_pos"] = g[x].map(sc.positions)
            g = g.sort_values("_pos")
            xs = g["_pos"].to_numpy(dtype=float)
            ys = g[metric].to_numpy(dtype=float)
            fin = np.isfinite(ys)
            (line,) = ax.plot(
                xs[fin],
                ys[fin],
                label=str(lv),
                markersize=3.5,
                linestyle=styles[lv],
                color=colours[lv],
                marker=marks[lv],
            )
            line.set_gid(metric)
            if (~fin).any():
                (open_m,) = ax.plot(
                    xs[~fin],
                    np.full((~fin).sum(), sc.y_top),
                    linestyle="none",
                    markerfacecolor="white",
                    markeredgewidth=0.9,
                    markersize=4.5,
                    label=f"_{lv} not reached",
                    clip_on=False,
                    color=colours[lv],
                    marker=marks[lv],
                )
                open_m.set_gid("not-reached")
                open_m.set_in_layout(False)
            if sc.has_ci:
                lo = g[ci_lo_col].to_numpy(dtype=float)[fin]
                hi = g[ci_hi_col].to_numpy(dtype=float)[fin]
                _draw_intervals(ax, xs[fin], ys[fin], lo, hi, colours[lv], sc.y_top)
        if metric == "rmst_s":
            for tau in pd.unique(summary["rmst_tau_s"].dropna()):
                ax.axhline(
                    float(tau), color="0.45", linestyle=":", linewidth=0.8, zorder=0, gid="tau"
                )
        if sc.any_nan:
            ax.axhline(sc.y_top, color="0.85", linewidth=0.5, zorder=0)
            ax.text(
                0.99,
                sc.y_top * 1.08 if logy else sc.y_top + 0.02 * sc.ylim[1],
                "not reached",
                transform=ax.get_yaxis_transform(),
                ha="right",
                va="bottom",
                fontsize=6,
                color="0.45",
            )
        ax.set_ylim(*sc.ylim)
        ax.set_xlabel(label(x))
        ax.xaxis.set_major_locator(FixedLocator([sc.positions[v] for v in sc.x_levels]))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xticklabels([fmt_value(v) for v in sc.x_levels])
        if sc.log2x:
            ax.set_xlim(min(sc.x_levels) / 1.4, max(sc.x_levels) * 1.4)
        else:
            ax.set_xlim(min(sc.positions.values()) - 0.5, max(sc.positions.values()) + 0.5)
        ax.grid(axis="y", which="major", color="0.9", linewidth=0.4)
        ax.set_ylabel(rmst_ylabel(metric, sc))
        if legend:
            handles = rmst_legend_handles(sc, metric, open_ci=_has_open_ci([ax]), hue=hue)
            ax.legend(handles=handles, title=label(hue))
    return ax


def time_to_outage_vs_smp(
    summary: pd.DataFrame,
    *,
    x: str = "smp",
    hue: str = "load_rps",
    facet: str | None = "design",
    metric: str = "rmst_s",
    logy: bool | None = None,
) -> Figure:
    """RMST or median time to outage against SMP, one line per hue value.

    RMST is drawn on a linear time axis from 0 with its 95 % error bars, the median (and any
    other metric) on a log axis; ``logy`` overrides this.

    Parameters
    ----------
    summary : DataFrame
        One row per group: the ``x``, ``hue`` and ``facet`` columns and ``metric``.  For
        ``metric="median_s"`` also ``median_ci_lower_s`` and ``median_ci_upper_s`` (NaN when
        not reached); for ``metric="rmst_s"`` also ``rmst_tau_s``, and optionally
        ``rmst_ci_lower_s``/``rmst_ci_upper_s`` for error bars.
    x : str
        Column on the x axis (numeric: log2 axis when it spans a factor of 4 or more).
    hue : str
        Column giving one line (colour and marker) per value.
    facet : str or None
        Column with one panel per value; ``None``: a single panel.
    metric : str
        Column to plot, in seconds (``"rmst_s"``, ``"median_s"`` or another ``*_s`` column).

    Returns
    -------
    Figure
        One Axes per facet value, drawn by :func:`rmstplot` on shared scales; one legend,
        which for RMST states τ.

    Raises
    ------
    ValueError
        A column is missing, the table is empty, or several rows share (facet, hue, x).
    """
    require_columns(summary, [*_needed(x, hue, metric), facet], "summary")
    keys = [c for c in (facet, hue, x) if c is not None]
    require_unique(summary, keys, "summary", "filter it to one row per panel, line and x value")
    logy = metric != "rmst_s" if logy is None else logy
    scales = rmst_scales(summary, x=x, hue=hue, metric=metric, logy=logy)
    with paper_style():
        fig, axes = layout.facet_figure(
            summary,
            facet,
            _PANEL_HEIGHT_IN,
            lambda sub, _, ax: rmstplot(
                sub, x=x, hue=hue, metric=metric, scales=scales, legend=False, logy=logy, ax=ax
            ),
        )
        layout.first_column_ylabel(axes, rmst_ylabel(metric, scales))
        handles = rmst_legend_handles(scales, metric, open_ci=_has_open_ci(axes), hue=hue)
        layout.figure_legend(fig, handles, label(hue))
        layout.estimator_note(fig, _estimator(summary, metric))
    return fig


def _estimator(summary: pd.DataFrame, metric: str) -> str:
    """What the figure shows, e.g. "Kaplan–Meier (plain runs): RMST, 95 % CI"."""
    names = {"kaplan-meier": "Kaplan–Meier (plain runs)", "split": "split estimator"}
    if "estimator" in summary.columns:
        found = [str(e) for e in pd.unique(summary["estimator"].dropna())]
        what = ", ".join(names.get(e, e) for e in found) or "Kaplan–Meier (plain runs)"
    else:
        what = "Kaplan–Meier (plain runs)"
    stat = {"rmst_s": "RMST", "median_s": "median"}.get(metric, metric)
    return f"{what}: {stat}, 95 % CI"


def _has_open_ci(axes: Sequence[Axes]) -> bool:
    return any(c.get_gid() == "ci-open" for ax in axes for c in ax.collections)


def _draw_intervals(
    ax: Axes,
    xs: np.ndarray,
    ys: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    colour: str,
    y_top: float,
) -> None:
    """Error bars; a NaN upper bound becomes a dotted line to ``y_top`` (gid ``ci-open``)."""
    if xs.size == 0:
        return
    lo_err = np.where(np.isfinite(lo), np.clip(ys - lo, 0, None), 0.0)
    hi_err = np.where(np.isfinite(hi), np.clip(hi - ys, 0, None), 0.0)
    bars = ax.errorbar(
        xs,
        ys,
        yerr=np.vstack([lo_err, hi_err]),
        fmt="none",
        ecolor=colour,
        elinewidth=0.7,
        capsize=1.5,
        capthick=0.7,
    )
    for art in bars.lines[2]:
        art.set_gid("ci")
    open_hi = ~np.isfinite(hi)
    if open_hi.any():
        ax.vlines(
            xs[open_hi],
            ys[open_hi],
            y_top,
            colors=colour,
            linestyles=":",
            linewidth=0.7,
            gid="ci-open",
        )
