"""Figure sizes for a two-column paper, panel grids, facet groups, legends and notes."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from vnetsim.analysis.figures.style import hue_levels, panel_title, paper_style

SINGLE_COLUMN_IN = 3.35
"""Width of one column of the paper, in inches."""
DOUBLE_COLUMN_IN = 7.0
"""Width of the full text block, in inches."""
MAX_PANELS_PER_ROW = 4


def grid_shape(n_panels: int) -> tuple[int, int]:
    """(rows, columns) of a grid of ``n_panels`` in rows of at most four."""
    ncols = min(max(n_panels, 1), MAX_PANELS_PER_ROW)
    return math.ceil(max(n_panels, 1) / ncols), ncols


def paper_width(n_panels: int) -> float:
    """One column for a single panel, the full text width for more."""
    return SINGLE_COLUMN_IN if n_panels <= 1 else DOUBLE_COLUMN_IN


def panel_figure(
    n_panels: int, height_per_row: float, *, min_width: float = SINGLE_COLUMN_IN
) -> Figure:
    """An empty figure for ``n_panels`` panels of ``height_per_row`` inches per row."""
    nrows, _ = grid_shape(n_panels)
    width = max(paper_width(n_panels), min_width)
    return Figure(figsize=(width, height_per_row * nrows + 0.35), layout="constrained")


def panel_grid(fig: Figure, n: int, *, sharey: bool = True, sharex: bool = False) -> list[Axes]:
    """``n`` panels in rows of at most four; extra grid cells are removed."""
    nrows, ncols = grid_shape(n)
    axes = fig.subplots(nrows, ncols, sharey=sharey, sharex=sharex, squeeze=False).ravel()
    for ax in axes[n:]:
        ax.remove()
    return list(axes[: max(n, 1)])


def axes_or_new(ax: Axes | None, size: tuple[float, float]) -> Axes:
    """``ax``, or the single Axes of a new paper-style figure of ``size`` inches."""
    if ax is not None:
        return ax
    with paper_style():  # tick and spine settings are taken when the Axes is made
        fig = Figure(figsize=size, layout="constrained")
        return fig.add_subplot()


def facet_figure(
    df: pd.DataFrame,
    facet: str | None,
    height_per_row: float,
    draw: Callable[[pd.DataFrame, Any, Axes], object],
) -> tuple[Figure, list[Axes]]:
    """One panel per level of ``facet`` (:func:`facet_groups`), shared y, each drawn by
    ``draw(rows, level, ax)`` and titled with the level."""
    panels = facet_groups(df, facet)
    fig = panel_figure(len(panels), height_per_row)
    axes = panel_grid(fig, len(panels), sharey=True)
    for ax, (value, rows) in zip(axes, panels, strict=True):
        draw(rows, value, ax)
        ax.set_title(panel_title(facet, value))
    return fig, axes


def facet_groups(df: pd.DataFrame, facet: str | None) -> list[tuple[Any, pd.DataFrame]]:
    """(value, rows) per level of ``facet`` (sorted; designs in their fixed order); one group
    of all rows for ``None``."""
    if facet is None:
        return [(None, df)]
    return [(v, df[df[facet] == v]) for v in hue_levels(facet, df[facet])]


def first_column_ylabel(axes: Sequence[Axes], text: str) -> None:
    """The y label on the first panel of each row only (the panels share y)."""
    for i, ax in enumerate(axes):
        ax.set_ylabel(text if i % MAX_PANELS_PER_ROW == 0 else "")


def figure_legend(fig: Figure, handles: Sequence[Artist], title: str | None = None) -> None:
    """One legend for the figure, above the panels, in as many columns as fit the width."""
    longest = max((len(str(h.get_label())) for h in handles), default=1)
    fit = int(fig.get_figwidth() / (0.45 + 0.055 * longest))
    fig.legend(
        handles=list(handles),
        loc="outside upper center",
        title=title,
        ncols=max(1, min(len(handles), fit)),
    )


def note(ax: Axes, text: str) -> None:
    """Grey text in the middle of a panel that has nothing to show."""
    ax.text(
        0.5,
        0.5,
        text,
        transform=ax.transAxes,
        ha="center",
        va="center",
        fontsize=7,
        color="0.35",
        wrap=True,
    )


ESTIMATOR_GID = "estimator"


def estimator_note(fig: Figure, text: str) -> None:
    """Name the estimator a figure shows, small and grey under its lower right corner.

    Drawn as the figure's ``supxlabel`` (gid ``estimator``) so that the constrained layout
    keeps room for it below the axis labels.
    """
    fig.supxlabel(text, x=0.995, ha="right", fontsize=5.5, color="0.4", gid=ESTIMATOR_GID)


def estimator_text(fig: Figure) -> str | None:
    """The estimator a figure names (see :func:`estimator_note`), if any."""
    return next((str(t.get_text()) for t in fig.texts if t.get_gid() == ESTIMATOR_GID), None)
