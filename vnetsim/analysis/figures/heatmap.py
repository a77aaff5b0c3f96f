"""Probability of an outage within a time, as an SMP × load grid of annotated cells."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.colorbar import Colorbar
from matplotlib.figure import Figure, SubFigure
from matplotlib.ticker import PercentFormatter

from vnetsim.analysis.figures import layout
from vnetsim.analysis.figures.style import (
    HEATMAP_CMAP,
    fmt_value,
    label,
    outage_column_title,
    panel_title,
    paper_style,
    percent_label,
)
from vnetsim.analysis.figures.tables import levels, require_columns, require_unique


def _height(n_rows_of_cells: int, n_panel_rows: int = 1) -> float:
    return n_panel_rows * (0.55 + 0.36 * n_rows_of_cells) + 0.3


def _count_column(summary: pd.DataFrame) -> str | None:
    """The number of runs of a cell: ``n_valid`` (runs without error), else ``n_runs``."""
    return next((c for c in ("n_valid", "n_runs") if c in summary.columns), None)


def cell_label(
    p: float, k: float | None = None, n: float | None = None, upper: float = np.nan
) -> str:
    """Annotation of a cell: ``"k/n"`` over the percentage; without outage the upper bound.

    ``"3/8\n38%"``; a cell with no outage and a finite ``upper`` (the Clopper–Pearson upper
    bound of P) reads ``"0/8\n≤ 31 %"``, since 0 % is only the point estimate.  Without
    counts, the percentage alone, or ``"≤ 31 %"`` when P is 0 and ``upper`` is finite.
    """
    if not np.isfinite(p):
        return ""
    has_counts = k is not None and n is not None and np.isfinite(k) and np.isfinite(n)
    no_outage = k == 0 if has_counts else p == 0
    if no_outage and np.isfinite(upper) and upper > 0:
        text = f"≤ {100 * upper:.0f} %"
    else:
        text = percent_label(p)
    if has_counts:
        return f"{k:.0f}/{n:.0f}\n{text}"
    return text


def cell_labels(summary: pd.DataFrame, column: str) -> pd.Series:
    """:func:`cell_label` of each row (counts from ``events`` and ``n_valid``/``n_runs``)."""
    n_col = _count_column(summary)
    has_counts = n_col is not None and "events" in summary.columns
    upper_col = f"{column}_ci_upper"
    out = []
    for _, row in summary.iterrows():
        p = float(row[column])
        upper = float(row[upper_col]) if upper_col in summary.columns else np.nan
        if has_counts:
            out.append(cell_label(p, float(row["events"]), float(row[n_col]), upper))
        else:
            out.append(cell_label(p, upper=upper))
    return pd.Series(out, index=summary.index, dtype=object)


def _check(summary: pd.DataFrame, columns: Sequence[str | None], column: str) -> None:
    require_columns(summary, columns, "summary")
    keys = [c for c in columns[:-1] if c is not None]
    require_unique(summary, keys, "summary", "filter it to one row per heatmap cell")
    p = summary[column].to_numpy(dtype=float)
    if np.any((p[np.isfinite(p)] < 0) | (p[np.isfinite(p)] > 1)):
        raise ValueError(f"summary column {column!r} must hold probabilities in 0..1")


def colour_bar(fig: Figure | SubFigure, axes: Axes | Sequence[Axes]) -> Colorbar:
    """The 0..100 % colour scale of the heatmap(s) in ``axes``, at their right."""
    first = axes if isinstance(axes, Axes) else axes[0]
    cbar = fig.colorbar(first.collections[0], ax=axes, fraction=0.04, pad=0.02, aspect=15)
    cbar.ax.yaxis.set_major_formatter(PercentFormatter(xmax=1, decimals=0))
    return cbar


def _thin_outline(cbar: Colorbar) -> None:
    cbar.outline.set_linewidth(0.4)
    cbar.ax.tick_params(width=0.4, length=2)


def heatmapplot(
    summary: pd.DataFrame,
    *,
    x: str = "smp",
    y: str = "load_rps",
    column: str = "p_outage_900s",
    x_order: Sequence[Any] | None = None,
    y_order: Sequence[Any] | None = None,
    cbar: bool = True,
    ax: Axes | None = None,
) -> Axes:
    """``column`` (a probability, 0..1) as an ``x`` × ``y`` grid of cells annotated in percent.

    One row of ``summary`` per cell; NaN cells are left blank.  ``x_order`` and ``y_order``
    fix the grid's columns and rows (ascending; rows increase upwards; default the sorted
    values).  The colour scale is 0..1 in ``cividis``; ``cbar`` adds its colour bar.  Draws on
    ``ax`` or on a new single-column figure; returns the Axes.
    """
    _check(summary, [y, x, column], column)
    x_levels = list(x_order) if x_order is not None else levels(summary[x])
    y_levels = (list(y_order) if y_order is not None else levels(summary[y]))[::-1]
    import seaborn as sns  # slow to import: only when a heatmap is drawn

    with paper_style():
        ax = layout.axes_or_new(ax, (layout.SINGLE_COLUMN_IN, _height(len(y_levels))))
        grid = (
            summary.pivot(index=y, columns=x, values=column)
            .reindex(index=y_levels, columns=x_levels)
            .astype(float)
        )
        annot = (
            summary.assign(_label=cell_labels(summary, column))
            .pivot(index=y, columns=x, values="_label")
            .reindex(index=y_levels, columns=x_levels)
            .fillna("")
        )
        sns.heatmap(
            grid,
            ax=ax,
            vmin=0.0,
            vmax=1.0,
            cmap=HEATMAP_CMAP,
            cbar=False,
            annot=annot.to_numpy(),
            fmt="",
            annot_kws={"fontsize": 6, "linespacing": 1.1},
            linewidths=0.6,
            linecolor="white",
            square=False,
        )
        ax.set_xlabel(label(x))
        ax.set_ylabel(label(y))
        ax.set_xticklabels([fmt_value(v) for v in x_levels], rotation=0)
        ax.set_yticklabels([fmt_value(v) for v in y_levels], rotation=0)
        ax.tick_params(length=0)
        if cbar:
            _thin_outline(colour_bar(ax.figure, ax))
    return ax


def outage_probability_heatmap(
    summary: pd.DataFrame,
    *,
    x: str = "smp",
    y: str = "load_rps",
    facet: str | None = "design",
    column: str = "p_outage_900s",
) -> Figure:
    """Probability of an outage within a time, as an x × y grid per facet value.

    Parameters
    ----------
    summary : DataFrame
        One row per group: the ``x``, ``y``, ``facet`` columns and ``column`` (a probability
        in 0..1; NaN cells are left blank).
    x, y : str
        Columns for the grid's columns and rows (rows increase upwards).
    facet : str or None
        One panel per value; ``None``: a single panel.
    column : str
        The probability column, e.g. ``"p_outage_900s"``.

    Returns
    -------
    Figure
        One heatmap Axes per facet value, drawn by :func:`heatmapplot` on the same grid,
        plus one colour-bar Axes; the figure title names the probability.

    Raises
    ------
    ValueError
        A column is missing, the table is empty, several rows share a cell, or a value lies
        outside 0..1.
    """
    _check(summary, [facet, y, x, column], column)
    x_levels, y_levels = levels(summary[x]), levels(summary[y])
    with paper_style():
        panels = layout.facet_groups(summary, facet)
        nrows, _ = layout.grid_shape(len(panels))
        size = (layout.paper_width(len(panels)), _height(len(y_levels), nrows))
        fig = Figure(figsize=size, layout="constrained")
        axes = layout.panel_grid(fig, len(panels), sharey=True)
        for ax, (fval, sub) in zip(axes, panels, strict=True):
            heatmapplot(
                sub, x=x, y=y, column=column, x_order=x_levels, y_order=y_levels, cbar=False, ax=ax
            )
            ax.set_title(panel_title(facet, fval))
        layout.first_column_ylabel(axes, label(y))
        cbar = colour_bar(fig, axes)
        fig.suptitle(outage_column_title(column))
        _thin_outline(cbar)
        method = (
            ", ".join(str(m) for m in pd.unique(summary["p_outage_ci_method"].dropna()))
            if "p_outage_ci_method" in summary.columns
            else ""
        )
        split = "estimator" in summary.columns and (summary["estimator"] == "split").all()
        note = (
            "split estimator: 1 − mean conditional survival at the horizon; ≤: exact bound "
            "from replays without failure, or from the run exposure where no batch was seen"
            if split
            else "Kaplan–Meier (plain runs); k/n = runs with outage / runs"
        )
        if method and not split:
            note += f"; ≤: {method} 95 % upper bound"
        layout.estimator_note(fig, note)
    return fig
