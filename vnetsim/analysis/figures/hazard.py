"""Outage hazard per hour against the number of vCPUs, one panel per load, design as hue.

A cell with outages is a point with its 95 % interval; a cell without any outage has no
estimate to draw (0 on a log axis), so it is a downward triangle at its one-sided 95 % upper
bound.  The same figure reads the plain summary (``hazard_per_h*``) or the split estimator's
summary (``outage_rate_per_hour*``, ``hazard_per_hour_upper``, ``hazard_is_bound``): there
the bound is the replays' zero-failure bound, or, for a cell without any multi-buffer batch,
the zero-event Poisson bound on its run exposure (``hazard_per_hour_upper_method``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, NullLocator

from vnetsim.analysis.figures import layout
from vnetsim.analysis.figures.style import (
    fmt_value,
    hue_label,
    hue_levels,
    hue_markers,
    hue_palette,
    label,
    paper_style,
)
from vnetsim.analysis.figures.tables import levels, require_columns, require_unique

_PANEL_HEIGHT_IN = 2.0
BOUND_LABEL = "95 % upper bound (no outage)"


@dataclass(frozen=True)
class HazardColumns:
    """Where a summary table keeps the hazard, its interval and the bound of empty cells."""

    value: str
    ci_lower: str
    ci_upper: str
    upper: str
    """One-sided 95 % upper bound, finite for cells without outages."""
    is_bound: str | None
    """Boolean column: the cell had no outage (``None``: where ``upper`` is finite)."""
    estimator: str


PLAIN = HazardColumns(
    "hazard_per_h",
    "hazard_per_h_ci_lower",
    "hazard_per_h_ci_upper",
    "hazard_per_h_upper",
    "hazard_is_bound",
    "plain runs: outages / exposure, 95 % CI",
)
SPLIT = HazardColumns(
    "outage_rate_per_hour",
    "outage_rate_per_hour_ci_lower",
    "outage_rate_per_hour_ci_upper",
    "hazard_per_hour_upper",
    "hazard_is_bound",
    "split estimator: outage rate per hour, 95 % CI; ▽: replay or exposure bound",
)


def _bound_mask(df: pd.DataFrame, cols: HazardColumns) -> np.ndarray:
    upper = df[cols.upper].to_numpy(dtype=float)
    if cols.is_bound is not None and cols.is_bound in df.columns:
        flag = df[cols.is_bound].astype("boolean").fillna(False).to_numpy(dtype=bool)
    else:
        value = df[cols.value].to_numpy(dtype=float)
        flag = np.isfinite(upper) & ~(np.isfinite(value) & (value > 0))
    return flag & np.isfinite(upper) & (upper > 0)


def _limits(summary: pd.DataFrame, cols: HazardColumns) -> tuple[float, float]:
    vals = np.concatenate(
        [summary[c].to_numpy(dtype=float) for c in (cols.value, cols.ci_lower, cols.ci_upper)]
        + [summary[cols.upper].to_numpy(dtype=float)]
    )
    pos = vals[np.isfinite(vals) & (vals > 0)]
    if pos.size == 0:
        return (0.1, 10.0)
    return (float(pos.min()) / 2.0, float(pos.max()) * 2.0)


def hazard_legend_handles(
    lvs: Sequence[Any], hue: str | None, *, bound: bool = True
) -> list[Line2D]:
    """A point per hue level, then the upper-bound triangle."""
    colours, marks = hue_palette(hue, lvs), hue_markers(hue, lvs)
    handles = [
        Line2D(
            [],
            [],
            color=colours[lv],
            marker=marks[lv],
            linestyle="-",
            label=hue_label(hue, lv),
        )
        for lv in lvs
    ]
    if bound:
        handles.append(
            Line2D(
                [],
                [],
                color="0.3",
                marker="v",
                markerfacecolor="white",
                linestyle="none",
                label=BOUND_LABEL,
            )
        )
    return handles


def hazardplot(
    summary: pd.DataFrame,
    *,
    x: str = "smp",
    hue: str | None = "design",
    columns: HazardColumns = PLAIN,
    hue_order: Sequence[Any] | None = None,
    ylim: tuple[float, float] | None = None,
    legend: bool = True,
    ax: Axes | None = None,
) -> Axes:
    """Hazard per hour (log y) against ``x`` (log2 x), one series per ``hue`` value.

    Cells with outages: a point joined by a line (gid ``hazard``) with its 95 % interval
    (gid ``hazard-ci``).  Cells without: an open downward triangle at the one-sided upper
    bound (gid ``hazard-bound``).  Series are dodged a little along x so that they do not
    hide one another.  Draws on ``ax`` or on a new single-column figure; returns the Axes.
    """
    needed = [x, hue, columns.value, columns.ci_lower, columns.ci_upper, columns.upper]
    require_columns(summary, needed, "summary")
    require_unique(summary, [c for c in (hue, x) if c], "summary", "one row per series and x")
    lvs = (
        (list(hue_order) if hue_order is not None else hue_levels(hue, summary[hue]))
        if hue
        else [None]
    )
    colours = hue_palette(hue, lvs)  # without hue: the neutral grey, no design's colour
    marks = hue_markers(hue, lvs)
    x_levels = levels(summary[x])
    dodge = {lv: 2 ** (0.08 * (i - (len(lvs) - 1) / 2)) for i, lv in enumerate(lvs)}
    with paper_style():
        ax = layout.axes_or_new(ax, (layout.SINGLE_COLUMN_IN, _PANEL_HEIGHT_IN + 0.35))
        ax.set_yscale("log", nonpositive="clip")
        ax.set_xscale("log", base=2)
        for lv in lvs:
            g = summary if hue is None else summary[summary[hue] == lv]
            g = g.sort_values(x)
            if g.empty:
                continue
            xs = g[x].to_numpy(dtype=float) * dodge[lv]
            bound = _bound_mask(g, columns)
            ys = g[columns.value].to_numpy(dtype=float)
            pt = ~bound & np.isfinite(ys) & (ys > 0)
            name = hue_label(hue, lv) if hue else "all runs"
            ax.plot(
                xs[pt],
                ys[pt],
                color=colours[lv],
                marker=marks[lv],
                markersize=3.5,
                linewidth=0.8,
                label=name,
                gid="hazard",
            )
            if pt.any():
                lo = g[columns.ci_lower].to_numpy(dtype=float)[pt]
                hi = g[columns.ci_upper].to_numpy(dtype=float)[pt]
                err = np.vstack(
                    [
                        np.where(np.isfinite(lo), np.clip(ys[pt] - lo, 0, None), 0.0),
                        np.where(np.isfinite(hi), np.clip(hi - ys[pt], 0, None), 0.0),
                    ]
                )
                bars = ax.errorbar(
                    xs[pt],
                    ys[pt],
                    yerr=err,
                    fmt="none",
                    ecolor=colours[lv],
                    elinewidth=0.7,
                    capsize=1.5,
                    capthick=0.7,
                )
                for art in bars.lines[2]:
                    art.set_gid("hazard-ci")
            if bound.any():
                ax.plot(
                    xs[bound],
                    g[columns.upper].to_numpy(dtype=float)[bound],
                    linestyle="none",
                    marker="v",
                    markersize=4.0,
                    markerfacecolor="white",
                    markeredgewidth=0.8,
                    color=colours[lv],
                    label=f"_{name} bound",
                    gid="hazard-bound",
                )
        ax.set_ylim(*(ylim if ylim is not None else _limits(summary, columns)))
        ax.xaxis.set_major_locator(FixedLocator([float(v) for v in x_levels]))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xticklabels([fmt_value(v) for v in x_levels])
        ax.set_xlim(min(x_levels) / 1.4, max(x_levels) * 1.4)
        ax.set_xlabel(label(x))
        ax.set_ylabel("Outages per hour")
        ax.grid(axis="y", which="major", color="0.9", linewidth=0.4)
        if legend:
            ax.legend(handles=hazard_legend_handles([lv for lv in lvs if lv is not None], hue))
    return ax


def hazard_figure(
    summary: pd.DataFrame,
    *,
    x: str = "smp",
    hue: str | None = "design",
    facet: str | None = "load_rps",
    columns: HazardColumns = PLAIN,
) -> Figure:
    """Hazard per hour against ``x``, one panel per ``facet`` value (shared log y axis).

    Parameters
    ----------
    summary : DataFrame
        One row per cell with ``x``, ``hue``, ``facet`` and the columns of ``columns``:
        :data:`PLAIN` (``summary``: ``hazard_per_h``, its interval, ``hazard_per_h_upper``
        and ``hazard_is_bound``) or :data:`SPLIT` (``split_summary``:
        ``outage_rate_per_hour``, its interval and ``hazard_per_hour_upper``).

    Returns
    -------
    Figure
        One :func:`hazardplot` per facet value, one legend (designs, then the upper-bound
        marker) and the estimator named in the corner.
    """
    needed = [x, hue, facet, columns.value, columns.ci_lower, columns.ci_upper, columns.upper]
    require_columns(summary, needed, "summary")
    keys = [c for c in (facet, hue, x) if c is not None]
    require_unique(summary, keys, "summary", "filter it to one row per panel, series and x")
    lvs = hue_levels(hue, summary[hue]) if hue else []
    ylim = _limits(summary, columns)
    with paper_style():
        fig, axes = layout.facet_figure(
            summary,
            facet,
            _PANEL_HEIGHT_IN,
            lambda sub, _, ax: hazardplot(
                sub, x=x, hue=hue, columns=columns, hue_order=lvs, ylim=ylim, legend=False, ax=ax
            ),
        )
        layout.first_column_ylabel(axes, "Outages per hour")
        any_bound = bool(_bound_mask(summary, columns).any())
        layout.figure_legend(fig, hazard_legend_handles(lvs, hue, bound=any_bound))
        layout.estimator_note(fig, columns.estimator)
    return fig
