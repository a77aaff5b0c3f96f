"""Kaplan–Meier curves: the fraction of runs still without an outage against time."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator, PercentFormatter

from vnetsim.analysis.figures import layout
from vnetsim.analysis.figures.style import (
    MINUTES_FROM_S,
    OKABE_ITO,
    hue_label,
    hue_levels,
    hue_palette,
    label,
    panel_title,
    paper_style,
)
from vnetsim.analysis.figures.tables import levels, require_columns, require_unique

if TYPE_CHECKING:
    from matplotlib.typing import LineStyleType

_CURVE_COLUMNS = ("time_s", "survival", "ci_lower", "ci_upper")
_PANEL_HEIGHT_IN = 1.9


def _dashes(hue_levels: Sequence[Any]) -> dict[Any, LineStyleType]:
    # Survival curves of immune designs coincide at 100 %: a dash pattern per level keeps
    # every one of them visible where they overlap (the shift after eight colours keeps
    # colour + dash unique to 32 levels).
    dashes: tuple[LineStyleType, ...] = ("-", "--", ":", "-.")
    return {lv: dashes[(i + i // len(OKABE_ITO)) % len(dashes)] for i, lv in enumerate(hue_levels)}


def _horizon(km: pd.DataFrame, censor: pd.DataFrame, horizon_s: float | None) -> float:
    t_end = float(
        np.nanmax([km["time_s"].max(), censor["time_s"].max() if len(censor) else np.nan])
    )
    horizon = float(horizon_s) if horizon_s is not None else t_end
    if not horizon > 0:
        raise ValueError(f"horizon_s must be positive, got {horizon}")
    return horizon


def _time_scale(horizon: float) -> float:
    """Seconds per unit of the time axis: minutes for long horizons."""
    return 60.0 if horizon >= MINUTES_FROM_S else 1.0


def km_legend_handles(
    hue_levels: Sequence[Any],
    *,
    curve_label: str = "all runs",
    hue: str | None = None,
    censored: bool = True,
) -> list[Line2D]:
    """One line per hue level (or one for ``curve_label`` without hue) and, if ``censored``,
    the censoring mark."""
    lvs = list(hue_levels) or [None]
    colours, styles = hue_palette(hue, lvs), _dashes(lvs)
    names = [hue_label(hue, lv) for lv in hue_levels] or [curve_label]
    handles = [
        Line2D([], [], color=colours[lv], linestyle=styles[lv], label=name)
        for lv, name in zip(lvs, names, strict=True)
    ]
    if censored:
        mark = Line2D([], [], color="0.3", marker="+", linestyle="none", label="censored")
        mark.set_markersize(5)
        mark.set_markeredgewidth(0.8)
        handles.append(mark)
    return handles


def kmplot(
    km: pd.DataFrame,
    censor: pd.DataFrame,
    *,
    hue: str | None = None,
    hue_order: Sequence[Any] | None = None,
    horizon_s: float | None = None,
    curve_label: str = "all runs",
    legend: bool = True,
    ax: Axes | None = None,
) -> Axes:
    """Kaplan–Meier curves on one Axes, one per ``hue`` value (a single curve for ``None``).

    ``km`` holds ``time_s``, ``survival``, ``ci_lower``, ``ci_upper`` (and ``hue``), one row
    per time per curve from time 0; ``censor`` holds ``time_s`` and ``survival`` where runs
    were censored (may be empty).  ``hue_order`` fixes the levels and their colours (default
    the sorted values); ``horizon_s`` the right end of the time axis (default the last time;
    at 600 s or more the axis is in minutes).  Each curve is a step line (gid ``km``), a
    shaded 95 % band (gid ``km-ci``) and "+" marks (gid ``km-censor``).  Draws on ``ax`` or
    on a new single-column figure; returns the Axes.
    """
    require_columns(km, [hue, *_CURVE_COLUMNS], "km")
    require_columns(censor, [hue, "time_s", "survival"], "censor", allow_empty=True)
    require_unique(km, [c for c in (hue, "time_s") if c is not None], "km", "one curve per hue")
    horizon = _horizon(km, censor, horizon_s)
    scale = _time_scale(horizon)
    lvs = (list(hue_order) if hue_order is not None else hue_levels(hue, km[hue])) if hue else []
    colours, styles = hue_palette(hue, lvs or [None]), _dashes(lvs or [None])
    band_alpha = 0.18 if len(lvs) <= 3 else 0.10
    size = (layout.SINGLE_COLUMN_IN, _PANEL_HEIGHT_IN + 0.35)
    with paper_style():
        ax = layout.axes_or_new(ax, size)
        for lv in lvs or [None]:
            curve = km if hue is None else km[km[hue] == lv]
            if curve.empty:
                continue
            cen = censor if hue is None else censor[censor[hue] == lv]
            name = curve_label if hue is None else hue_label(hue, lv)
            _draw_curve(ax, curve, cen, (colours[lv], styles[lv]), band_alpha, name, horizon)
        ax.set_xlim(0, horizon / scale)
        ax.xaxis.set_major_locator(MaxNLocator(nbins=5, steps=[1, 2, 5, 10]))
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("Time (min)" if scale > 1 else "Time (s)")
        ax.yaxis.set_major_formatter(PercentFormatter(xmax=1, decimals=0))
        ax.set_ylabel("Runs without outage")
        if legend:
            handles = km_legend_handles(
                lvs, curve_label=curve_label, hue=hue, censored=len(censor) > 0
            )
            ax.legend(handles=handles, title=None if hue in (None, "design") else label(hue))
    return ax


def km_figure(
    km: pd.DataFrame,
    censor: pd.DataFrame,
    *,
    facet: str | None = "smp",
    hue: str | None = "design",
    hue_order: Sequence[Any] | None = None,
    horizon_s: float | None = None,
    curve_label: str = "all runs",
) -> Figure:
    """Kaplan–Meier curves of the time to outage, one panel per facet value.

    Parameters
    ----------
    km : DataFrame
        Step-function values: the ``facet`` and ``hue`` columns plus ``time_s``, ``survival``,
        ``ci_lower``, ``ci_upper``; one row per time per curve, starting at time 0.
    censor : DataFrame
        Where to draw censoring marks: the ``facet`` and ``hue`` columns plus ``time_s`` and
        ``survival``.  May be empty (every run had an outage).
    facet : str or None
        Column with one panel per value (shared y axis, 0..1).  ``None``: a single panel.
    hue : str or None
        Column giving one coloured curve per value.  ``None``: one curve per panel, named
        ``curve_label`` in the legend.
    hue_order : sequence, optional
        Order (and selection) of the hue values; default sorted.
    horizon_s : float, optional
        Right end of the time axis in seconds; default the last time in the tables.  At 600 s
        or more the axis is drawn in minutes.

    Returns
    -------
    Figure
        One Axes per facet value, drawn by :func:`kmplot`; one legend for the figure.

    Raises
    ------
    ValueError
        A column is missing, ``km`` is empty, or a (facet, hue) pair holds several curves.
    """
    require_columns(km, [facet, hue, *_CURVE_COLUMNS], "km")
    require_columns(censor, [facet, hue, "time_s", "survival"], "censor", allow_empty=True)
    keys = [c for c in (facet, hue) if c is not None]
    require_unique(
        km,
        [*keys, "time_s"],
        "km",
        "filter it to one curve per panel and colour (or facet by the extra group column)",
    )
    horizon = _horizon(km, censor, horizon_s)
    lvs = (
        (levels(km[hue], hue_order) if hue_order is not None else hue_levels(hue, km[hue]))
        if hue is not None
        else []
    )
    with paper_style():

        def panel(sub: pd.DataFrame, fval: object, ax: Axes) -> None:
            cen = censor if facet is None else censor[censor[facet] == fval]
            kmplot(
                sub,
                cen,
                hue=hue,
                hue_order=lvs,
                horizon_s=horizon,
                curve_label=curve_label,
                legend=False,
                ax=ax,
            )

        fig, axes = layout.facet_figure(km, facet, _PANEL_HEIGHT_IN, panel)
        layout.first_column_ylabel(axes, "Runs without outage")
        # design names speak for themselves; other hues (True/False, numbers) need a title
        title = None if hue in (None, "design") else label(hue)
        handles = km_legend_handles(lvs, curve_label=curve_label, hue=hue, censored=len(censor) > 0)
        layout.figure_legend(fig, handles, title=title)
        layout.estimator_note(fig, "Kaplan–Meier (plain runs), 95 % log-log band")
    return fig


def _draw_curve(
    ax: Axes,
    curve: pd.DataFrame,
    cen: pd.DataFrame,
    style: tuple[str, LineStyleType],
    band_alpha: float,
    name: str,
    horizon: float,
) -> None:
    """Step line, band and censoring marks of one curve; ``style`` is (colour, line style)."""
    colour, linestyle = style
    scale = _time_scale(horizon)
    curve = curve.sort_values("time_s")
    t = curve["time_s"].to_numpy(dtype=float)
    s = curve["survival"].to_numpy(dtype=float)
    lo = curve["ci_lower"].to_numpy(dtype=float)
    hi = curve["ci_upper"].to_numpy(dtype=float)
    # The estimate is defined up to the last observation (event or censoring): hold the last
    # step until then, but never past the plotted horizon.
    t_last = max(t[-1], float(cen["time_s"].max()) if len(cen) else t[-1])
    t_last = min(t_last, horizon)
    if t_last > t[-1]:
        t, s = np.append(t, t_last), np.append(s, s[-1])
        lo, hi = np.append(lo, lo[-1]), np.append(hi, hi[-1])
    x = t / scale
    band_x, band_lo, band_hi, band_ok = _band_steps(x, lo, hi)
    band = ax.fill_between(
        band_x,
        band_lo,
        band_hi,
        where=band_ok,
        color=colour,
        alpha=band_alpha,
        linewidth=0,
        interpolate=False,
    )
    band.set_gid("km-ci")
    band.set_label(f"_{name} CI")
    (line,) = ax.step(
        x, s, where="post", color=colour, linestyle=linestyle, label=name, linewidth=1.0
    )
    line.set_gid("km")
    cen = cen[cen["time_s"] <= horizon]
    if len(cen):
        # unclipped so that marks at the horizon or at 0/100 % are drawn whole
        (marks,) = ax.plot(
            cen["time_s"].to_numpy(dtype=float) / scale,
            cen["survival"].to_numpy(dtype=float),
            linestyle="none",
            marker="+",
            markersize=4.5,
            markeredgewidth=0.7,
            color=colour,
            label=f"_{name} censored",
            clip_on=False,
        )
        marks.set_gid("km-censor")
        marks.set_in_layout(False)


def _band_steps(
    x: np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The band as explicit steps: step i spans [x_i, x_i+1) and is drawn if its bounds are.

    ``fill_between(where=..., step="post")`` drops a step whenever the *next* point's bounds
    are missing, as they are at S = 0 (the log-log interval is undefined there): the band then
    vanished on the last step before a curve reached 0.  Each step gets its own two points here,
    so only steps whose own bounds are missing are left out.
    """
    n = max(len(x) - 1, 0)
    ok = (np.isfinite(lo) & np.isfinite(hi))[:n]
    band_x = np.empty(2 * n)
    band_x[0::2], band_x[1::2] = x[:n], x[1 : n + 1]
    fill_lo, fill_hi = np.where(ok, lo[:n], 0.0), np.where(ok, hi[:n], 0.0)
    return band_x, np.repeat(fill_lo, 2), np.repeat(fill_hi, 2), np.repeat(ok, 2)


def at_risk_at(curve: pd.DataFrame, t: float) -> int:
    """Number of runs still at risk at time ``t`` on one curve of the km table."""
    curve = curve.sort_values("time_s")
    later = curve[curve["time_s"] >= t]
    if len(later):
        return int(later["at_risk"].iloc[0])
    last = curve.iloc[-1]
    return max(int(last["at_risk"] - last["events"] - last["censored"]), 0)


def km_grid_figure(
    km: pd.DataFrame,
    censor: pd.DataFrame,
    *,
    row: str = "load_rps",
    col: str = "smp",
    hue: str = "design",
    horizon_s: float | None = None,
    n_times: int = 3,
    count_label: str = "at risk",
    ylabel: str = "Runs without outage",
    note: str = "Kaplan–Meier (plain runs), 95 % log-log band; numbers at risk",
) -> Figure:
    """Kaplan–Meier curves in one grid, ``row`` × ``col``, with a number-at-risk table.

    Under each panel, one text row per ``hue`` level gives the runs at risk at ``n_times``
    evenly spaced times from 0 to the horizon (from the km table's ``at_risk``, ``events``
    and ``censored``; texts have gid ``at-risk``).  One legend and the estimator for the
    figure.  ``count_label``, ``ylabel`` and ``note`` name the counts, the y axis and the
    estimator when the curves are another estimator's (the split one's mean conditional
    curves, whose count is the runs averaged).
    """
    require_columns(km, [row, col, hue, *_CURVE_COLUMNS, "at_risk", "events", "censored"], "km")
    require_columns(censor, [row, col, hue, "time_s", "survival"], "censor", allow_empty=True)
    require_unique(km, [row, col, hue, "time_s"], "km", "one curve per panel and colour")
    horizon = _horizon(km, censor, horizon_s)
    scale = _time_scale(horizon)
    lvs = hue_levels(hue, km[hue])
    colours = hue_palette(hue, lvs)
    rows, cols = levels(km[row]), levels(km[col])
    times = np.linspace(0.0, horizon, n_times)
    table_h = 0.09 * (len(lvs) + 1)
    with paper_style():
        fig = Figure(
            figsize=(layout.DOUBLE_COLUMN_IN, len(rows) * (1.35 + table_h) + 0.45),
            layout="constrained",
        )
        grid = fig.subplots(
            2 * len(rows),
            len(cols),
            squeeze=False,
            sharex=True,
            gridspec_kw={"height_ratios": [1.35, table_h] * len(rows), "hspace": 0.0},
        )
        for i, rv in enumerate(rows):
            for j, cv in enumerate(cols):
                ax, tab = grid[2 * i, j], grid[2 * i + 1, j]
                sub = km[(km[row] == rv) & (km[col] == cv)]
                cen = censor[(censor[row] == rv) & (censor[col] == cv)] if len(censor) else censor
                if sub.empty:
                    layout.note(ax, "no runs")
                else:
                    kmplot(sub, cen, hue=hue, hue_order=lvs, horizon_s=horizon, legend=False, ax=ax)
                ax.set_title(f"{panel_title(row, rv)}, {panel_title(col, cv)}", fontsize=7)
                ax.set_xlabel("")
                ax.set_ylabel(ylabel if j == 0 else "")
                if j > 0:
                    ax.tick_params(labelleft=False)
                tab.set_ylim(len(lvs) + 0.5, 0.5)
                tab.set_yticks([])
                for spine in tab.spines.values():
                    spine.set_visible(False)
                tab.tick_params(axis="x", length=0, labelbottom=i == len(rows) - 1)
                for k, lv in enumerate(lvs, start=1):
                    curve = sub[sub[hue] == lv]
                    for t in times:
                        n = at_risk_at(curve, float(t)) if len(curve) else 0
                        tab.text(
                            t / scale,
                            k,
                            str(n),
                            ha="center",
                            va="center",
                            fontsize=5.5,
                            color=colours[lv],
                            gid="at-risk",
                            clip_on=False,
                        )
                if j == 0:
                    tab.set_ylabel(count_label, fontsize=6, rotation=0, ha="right", va="center")
        for j in range(len(cols)):
            grid[-1, j].set_xlabel("Time (min)" if scale > 1 else "Time (s)")
        layout.figure_legend(fig, km_legend_handles(lvs, hue=hue, censored=len(censor) > 0))
        layout.estimator_note(fig, note)
    return fig
