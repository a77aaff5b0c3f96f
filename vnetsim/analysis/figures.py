"""Publication figures drawn from the tidy tables of a sweep (no simulation, no disk reads).

Every function takes DataFrames (the survival tables, or the per-run table) and returns a
:class:`matplotlib.figure.Figure` sized for a two-column paper (single column 3.35 in, double
column 7.0 in) with 8 pt text and the colour-blind-safe Okabe–Ito palette.  Only
:func:`save_figure` touches the disk.  Figures are built on :class:`~matplotlib.figure.Figure`
directly, never through ``pyplot``: there is no global figure state and no interactive backend;
raster output goes through Agg.

Figures
-------
km_figure
    Kaplan–Meier curves: the fraction of runs still without an outage against time, one step
    curve per design (hue) with a shaded 95 % confidence band and "+" marks where runs were
    censored, one panel per SMP value (facet).
time_to_outage_vs_smp
    Restricted mean survival time (or median time to outage) against the number of vCPUs on a
    log time axis, one line per load, one panel per design.  Medians carry their confidence
    interval; groups whose median is not reached are drawn as open markers at the top.
outage_probability_heatmap
    Probability of an outage within a fixed time (for example ``p_outage_900s``) as a
    SMP × load grid, one panel per design, cells annotated with percentages, one colour scale.
blackout_figure
    Left: how long the interface stayed silent (``blackout_s``) in the runs that had an outage,
    by SMP and design (box and points, log scale).  Right: the fraction of those runs that
    recovered, with Wilson 95 % intervals and k/n counts.

Helpers
-------
paper_style
    Context manager with the rcParams used by every figure.
save_figure
    Write ``<stem>.png`` and ``<stem>.pdf`` with the sweep metadata embedded in both.
"""

from __future__ import annotations

import contextlib
import math
import re
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import (
    FixedLocator,
    MaxNLocator,
    NullLocator,
    PercentFormatter,
)

__all__ = [
    "DOUBLE_COLUMN_IN",
    "OKABE_ITO",
    "SINGLE_COLUMN_IN",
    "blackout_figure",
    "km_figure",
    "outage_probability_heatmap",
    "paper_style",
    "save_figure",
    "time_to_outage_vs_smp",
]

SINGLE_COLUMN_IN = 3.35
"""Width of one column of the paper, in inches."""
DOUBLE_COLUMN_IN = 7.0
"""Width of the full text block, in inches."""

OKABE_ITO: tuple[str, ...] = (
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#009E73",  # bluish green
    "#E69F00",  # orange
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#000000",  # black
    "#F0E442",  # yellow (last: poor contrast on white)
)
"""Okabe & Ito (2008) colour-blind-safe palette, in the order hue levels receive it."""

_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
_MAX_PANELS_PER_ROW = 4
_MINUTES_FROM_S = 600.0  # km_figure switches the time axis to minutes at this horizon
_HEATMAP_CMAP = "cividis"

_LABELS = {
    "smp": "vCPUs (SMP)",
    "load_rps": "Load (req/s)",
    "design": "Design",
    "time_s": "Time (s)",
    "rmst_s": "RMST (s)",
    "median_s": "Median time to outage (s)",
    "blackout_s": "Blackout (s)",
    "blackout_median_s": "Median blackout (s)",
}

_PAPER_RC: dict[str, Any] = {
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Arial", "Helvetica"],
    "font.size": 8,
    "axes.titlesize": 8,
    "axes.labelsize": 8,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "legend.fontsize": 7,
    "legend.title_fontsize": 7,
    "figure.titlesize": 8,
    "axes.linewidth": 0.6,
    "axes.titlepad": 3.0,
    "axes.labelpad": 2.0,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.prop_cycle": mpl.cycler(color=list(OKABE_ITO)),
    "grid.linewidth": 0.4,
    "lines.linewidth": 1.0,
    "lines.markersize": 3.5,
    "patch.linewidth": 0.5,
    "xtick.major.width": 0.6,
    "ytick.major.width": 0.6,
    "xtick.minor.width": 0.4,
    "ytick.minor.width": 0.4,
    "xtick.major.size": 2.5,
    "ytick.major.size": 2.5,
    "xtick.minor.size": 1.5,
    "ytick.minor.size": 1.5,
    "xtick.major.pad": 2.0,
    "ytick.major.pad": 2.0,
    "legend.frameon": False,
    "legend.handlelength": 1.6,
    "legend.columnspacing": 1.2,
    "legend.borderaxespad": 0.2,
    "errorbar.capsize": 1.5,
    "image.cmap": _HEATMAP_CMAP,
    "figure.dpi": 100,
    "figure.constrained_layout.use": True,
    "figure.constrained_layout.h_pad": 0.02,
    "figure.constrained_layout.w_pad": 0.02,
    "figure.constrained_layout.wspace": 0.05,
    "savefig.dpi": 300,
    "savefig.bbox": None,  # keep the exact paper width
    "pdf.fonttype": 42,
    "ps.fonttype": 42,
    "svg.fonttype": "none",
}


@contextlib.contextmanager
def paper_style() -> Iterator[dict[str, Any]]:
    """Apply the paper rcParams for the duration of a ``with`` block.

    8 pt text (7 pt tick labels and legends), thin lines and spines, no top/right spines,
    Okabe–Ito colour cycle, constrained layout, TrueType (Type 42) fonts in PDF and PS, and
    300 dpi raster output.  The previous rcParams are restored on exit.

    Yields
    ------
    dict
        The rcParams that were applied (a copy).
    """
    with mpl.rc_context(_PAPER_RC):
        yield dict(_PAPER_RC)


# ----------------------------------------------------------------------------- validation


def _require(
    df: pd.DataFrame, columns: Sequence[str | None], table: str, *, allow_empty: bool = False
) -> None:
    """Raise ValueError if ``df`` is not a DataFrame, lacks a column, or is empty."""
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"{table} must be a pandas DataFrame, got {type(df).__name__}")
    wanted = list(dict.fromkeys(c for c in columns if c is not None))
    missing = [c for c in wanted if c not in df.columns]
    if missing:
        names = ", ".join(repr(c) for c in missing)
        raise ValueError(
            f"{table} table is missing column(s) {names}; it has {', '.join(map(repr, df.columns))}"
        )
    if not allow_empty and df.empty:
        raise ValueError(
            f"{table} table is empty (needs rows with columns {', '.join(map(repr, wanted))})"
        )


def _require_unique(df: pd.DataFrame, keys: Sequence[str], table: str, hint: str) -> None:
    """Raise ValueError if several rows share the same values of ``keys``."""
    dup = df.duplicated(subset=list(keys), keep=False)
    if dup.any():
        first = df.loc[dup, list(keys)].iloc[0].to_dict()
        raise ValueError(f"{table} table has several rows for {first}: {hint}")


# ----------------------------------------------------------------------------- small helpers


def _levels(values: pd.Series, order: Sequence[Any] | None = None) -> list[Any]:
    """Distinct values in ``order`` (if given, keeping only those present) or sorted."""
    present = pd.unique(values.dropna())
    if order is not None:
        present_set = set(present.tolist())
        return [v for v in order if v in present_set]
    try:
        return sorted(present.tolist())
    except TypeError:  # mixed types: keep order of appearance
        return list(present)


def _palette(levels: Sequence[Any]) -> dict[Any, str]:
    """Okabe–Ito colour for each level (cycled if there are more levels than colours)."""
    return {lv: OKABE_ITO[i % len(OKABE_ITO)] for i, lv in enumerate(levels)}


def _linestyles(levels: Sequence[Any]) -> dict[Any, str]:
    """Solid for the first eight levels, then dashed, dotted...: colours repeat after eight."""
    styles = ("-", "--", ":", "-.")
    return {lv: styles[(i // len(OKABE_ITO)) % len(styles)] for i, lv in enumerate(levels)}


def _hatches(levels: Sequence[Any]) -> dict[Any, str]:
    hatches = ("", "////", "....", "xxxx")
    return {lv: hatches[(i // len(OKABE_ITO)) % len(hatches)] for i, lv in enumerate(levels)}


def _label(column: str) -> str:
    return _LABELS.get(column, column)


def _fmt_value(v: Any) -> str:
    if isinstance(v, float | np.floating) and float(v).is_integer():
        return str(int(v))
    return str(v)


def _title(column: str | None, value: Any) -> str:
    if column is None:
        return ""
    if column == "smp":
        return f"SMP = {_fmt_value(value)}"
    if column == "load_rps":
        return f"{_fmt_value(value)} req/s"
    if column == "design":
        return str(value)
    return f"{column} = {_fmt_value(value)}"


def _fmt_seconds(t: float) -> str:
    if t >= _MINUTES_FROM_S and t % 60 == 0:
        return f"{t:g} s ({t / 60:g} min)"
    return f"{t:g} s"


def _panel_grid(fig: Figure, n: int, *, sharey: bool = True, sharex: bool = False) -> list[Axes]:
    """``n`` panels in rows of at most four; extra grid cells are removed."""
    ncols = min(max(n, 1), _MAX_PANELS_PER_ROW)
    nrows = math.ceil(max(n, 1) / ncols)
    axes = fig.subplots(nrows, ncols, sharey=sharey, sharex=sharex, squeeze=False).ravel()
    for ax in axes[n:]:
        ax.remove()
    return list(axes[: max(n, 1)])


def _figure(
    n_panels: int,
    height_per_row: float,
    *,
    min_width: float = SINGLE_COLUMN_IN,
) -> Figure:
    ncols = min(max(n_panels, 1), _MAX_PANELS_PER_ROW)
    nrows = math.ceil(max(n_panels, 1) / ncols)
    width = SINGLE_COLUMN_IN if n_panels <= 1 else DOUBLE_COLUMN_IN
    width = max(width, min_width)
    return Figure(figsize=(width, height_per_row * nrows + 0.35), layout="constrained")


def _facet_groups(df: pd.DataFrame, facet: str | None) -> list[tuple[Any, pd.DataFrame]]:
    if facet is None:
        return [(None, df)]
    return [(v, df[df[facet] == v]) for v in _levels(df[facet])]


def _first_column_only_ylabel(axes: Sequence[Axes], label: str) -> None:
    for i, ax in enumerate(axes):
        ax.set_ylabel(label if i % _MAX_PANELS_PER_ROW == 0 else "")


def _as_bool(s: pd.Series) -> pd.Series:
    if s.dtype == bool:
        return s
    return s.astype("boolean").fillna(False).astype(bool)


def _legend(fig: Figure, handles: Sequence[Any], title: str | None = None) -> None:
    """One legend for the figure, above the panels, in as many columns as fit the width."""
    longest = max((len(h.get_label()) for h in handles), default=1)
    fit = int(fig.get_figwidth() / (0.45 + 0.055 * longest))
    fig.legend(
        handles=list(handles),
        loc="outside upper center",
        title=title,
        ncols=max(1, min(len(handles), fit)),
    )


def _note(ax: Axes, text: str) -> None:
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


# ----------------------------------------------------------------------------- Kaplan–Meier


def km_figure(
    km: pd.DataFrame,
    censor: pd.DataFrame,
    *,
    facet: str | None = "smp",
    hue: str = "design",
    hue_order: Sequence[Any] | None = None,
    horizon_s: float | None = None,
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
    hue : str
        Column giving one coloured curve per value.
    hue_order : sequence, optional
        Order (and selection) of the hue values; default sorted.
    horizon_s : float, optional
        Right end of the time axis in seconds; default the last time in the tables.  At 600 s
        or more the axis is drawn in minutes.

    Returns
    -------
    Figure
        One Axes per facet value; each curve is a step line (gid ``km``), a shaded band
        (gid ``km-ci``) and a "+" marker line (gid ``km-censor``); one legend for the figure.

    Raises
    ------
    ValueError
        A column is missing, ``km`` is empty, or a (facet, hue) pair holds several curves.
    """
    _require(km, [facet, hue, "time_s", "survival", "ci_lower", "ci_upper"], "km")
    _require(censor, [facet, hue, "time_s", "survival"], "censor", allow_empty=True)
    keys = [c for c in (facet, hue) if c is not None]
    _require_unique(
        km,
        [*keys, "time_s"],
        "km",
        "filter it to one curve per panel and colour (or facet by the extra group column)",
    )

    t_end_data = float(
        np.nanmax([km["time_s"].max(), censor["time_s"].max() if len(censor) else np.nan])
    )
    horizon = float(horizon_s) if horizon_s is not None else t_end_data
    if not horizon > 0:
        raise ValueError(f"horizon_s must be positive, got {horizon}")
    minutes = horizon >= _MINUTES_FROM_S
    scale = 60.0 if minutes else 1.0

    hue_levels = _levels(km[hue], hue_order)
    colours = _palette(hue_levels)
    # Survival curves of immune designs coincide at 100 %: a dash pattern per level keeps
    # every one of them visible where they overlap.
    dashes = ("-", "--", ":", "-.")
    # (colours repeat after eight levels; the shift keeps colour + dash unique to 32 levels)
    styles = {
        lv: dashes[(i + i // len(OKABE_ITO)) % len(dashes)] for i, lv in enumerate(hue_levels)
    }
    band_alpha = 0.18 if len(hue_levels) <= 3 else 0.10
    with paper_style():
        panels = _facet_groups(km, facet)
        fig = _figure(len(panels), 1.9)
        axes = _panel_grid(fig, len(panels), sharey=True)
        for ax, (fval, sub) in zip(axes, panels, strict=True):
            cen_panel = censor if facet is None else censor[censor[facet] == fval]
            for lv in hue_levels:
                curve = sub[sub[hue] == lv].sort_values("time_s")
                if curve.empty:
                    continue
                cen = cen_panel[cen_panel[hue] == lv]
                _draw_km_curve(
                    ax, curve, cen, colours[lv], styles[lv], band_alpha, str(lv), scale, horizon
                )
            ax.set_title(_title(facet, fval))
            ax.set_xlim(0, horizon / scale)
            ax.xaxis.set_major_locator(MaxNLocator(nbins=5, steps=[1, 2, 5, 10]))
            ax.set_ylim(0, 1.02)
            ax.set_xlabel("Time (min)" if minutes else "Time (s)")
            ax.yaxis.set_major_formatter(PercentFormatter(xmax=1, decimals=0))
        _first_column_only_ylabel(axes, "Runs without outage")
        handles = [
            Line2D([], [], color=colours[lv], linestyle=styles[lv], label=str(lv))
            for lv in hue_levels
        ]
        handles.append(
            Line2D(
                [],
                [],
                color="0.3",
                marker="+",
                linestyle="none",
                markersize=5,
                markeredgewidth=0.8,
                label="censored",
            )
        )
        # design names speak for themselves; other hues (True/False, numbers) need a title
        _legend(fig, handles, title=None if hue == "design" else _label(hue))
    return fig


def _draw_km_curve(
    ax: Axes,
    curve: pd.DataFrame,
    cen: pd.DataFrame,
    colour: str,
    linestyle: str,
    band_alpha: float,
    label: str,
    scale: float,
    horizon: float,
) -> None:
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
    ok = np.isfinite(lo) & np.isfinite(hi)
    band = ax.fill_between(
        x,
        lo,
        hi,
        where=ok,
        step="post",
        color=colour,
        alpha=band_alpha,
        linewidth=0,
        interpolate=False,
    )
    band.set_gid("km-ci")
    band.set_label(f"_{label} CI")
    (line,) = ax.step(
        x, s, where="post", color=colour, linestyle=linestyle, label=label, linewidth=1.0
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
            label=f"_{label} censored",
            clip_on=False,
        )
        marks.set_gid("km-censor")
        marks.set_in_layout(False)


# ----------------------------------------------------------------------------- RMST / median


def _ci_columns(metric: str) -> tuple[str, str]:
    stem = metric[:-2] if metric.endswith("_s") else metric
    return f"{stem}_ci_lower_s", f"{stem}_ci_upper_s"


def _numeric_x(values: Sequence[Any]) -> bool:
    return all(isinstance(v, int | float | np.integer | np.floating) for v in values)


def time_to_outage_vs_smp(
    summary: pd.DataFrame,
    *,
    x: str = "smp",
    hue: str = "load_rps",
    facet: str | None = "design",
    metric: str = "rmst_s",
) -> Figure:
    """RMST or median time to outage against SMP, log time axis, one line per hue value.

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
        One Axes per facet value.  Finite values are joined by a line (gid ``metric``);
        NaN values (median not reached) are open markers at the top of the axis (gid
        ``not-reached``); an interval whose upper bound is NaN continues as a dotted line to
        the top.  For RMST a dotted horizontal line marks τ and the legend states it.

    Raises
    ------
    ValueError
        A column is missing, the table is empty, or several rows share (facet, hue, x).
    """
    ci_lo_col, ci_hi_col = _ci_columns(metric)
    needed: list[str | None] = [x, hue, facet, metric]
    if metric == "median_s":
        needed += [ci_lo_col, ci_hi_col]
    if metric == "rmst_s":
        needed.append("rmst_tau_s")
    _require(summary, needed, "summary")
    keys = [c for c in (facet, hue, x) if c is not None]
    _require_unique(summary, keys, "summary", "filter it to one row per panel, line and x value")
    has_ci = ci_lo_col in summary.columns and ci_hi_col in summary.columns

    vals = summary[metric].to_numpy(dtype=float)
    finite = list(vals[np.isfinite(vals) & (vals > 0)])
    if has_ci:
        for col in (ci_lo_col, ci_hi_col):
            c = summary[col].to_numpy(dtype=float)
            finite += list(c[np.isfinite(c) & (c > 0)])
    taus = (
        sorted(pd.unique(summary["rmst_tau_s"].dropna()).tolist())
        if "rmst_tau_s" in summary.columns
        else []
    )
    ceiling = max([*finite, *taus]) if (finite or taus) else 1.0
    floor = min(finite) if finite else ceiling / 10
    y_top = ceiling * 1.8  # where "not reached" markers sit
    ylim = (floor / 1.8, y_top * 1.6)

    x_levels = _levels(summary[x])
    numeric = _numeric_x(x_levels)
    positions = (
        {v: float(v) for v in x_levels}
        if numeric
        else {v: float(i) for i, v in enumerate(x_levels)}
    )
    log2x = numeric and min(x_levels) > 0 and max(x_levels) / min(x_levels) >= 4
    hue_levels = _levels(summary[hue])
    colours = _palette(hue_levels)
    markers = {lv: _MARKERS[i % len(_MARKERS)] for i, lv in enumerate(hue_levels)}
    styles = _linestyles(hue_levels)
    any_nan = bool(summary[metric].isna().any())
    any_open_ci = False

    with paper_style():
        panels = _facet_groups(summary, facet)
        fig = _figure(len(panels), 2.0)
        axes = _panel_grid(fig, len(panels), sharey=True)
        for ax, (fval, sub) in zip(axes, panels, strict=True):
            ax.set_yscale("log", nonpositive="clip")
            if log2x:
                ax.set_xscale("log", base=2)
            for lv in hue_levels:
                g = sub[sub[hue] == lv].copy()
                if g.empty:
                    continue
                g["_pos"] = g[x].map(positions)
                g = g.sort_values("_pos")
                xs = g["_pos"].to_numpy(dtype=float)
                ys = g[metric].to_numpy(dtype=float)
                fin = np.isfinite(ys)
                kw = {"color": colours[lv], "marker": markers[lv]}
                (line,) = ax.plot(
                    xs[fin], ys[fin], label=str(lv), markersize=3.5, linestyle=styles[lv], **kw
                )
                line.set_gid(metric)
                if (~fin).any():
                    (open_m,) = ax.plot(
                        xs[~fin],
                        np.full((~fin).sum(), y_top),
                        linestyle="none",
                        markerfacecolor="white",
                        markeredgewidth=0.9,
                        markersize=4.5,
                        label=f"_{lv} not reached",
                        clip_on=False,
                        **kw,
                    )
                    open_m.set_gid("not-reached")
                    open_m.set_in_layout(False)
                if has_ci:
                    any_open_ci |= _draw_intervals(
                        ax,
                        xs[fin],
                        ys[fin],
                        g[ci_lo_col].to_numpy(dtype=float)[fin],
                        g[ci_hi_col].to_numpy(dtype=float)[fin],
                        colours[lv],
                        y_top,
                    )
            if metric == "rmst_s":
                tau_here = pd.unique(sub["rmst_tau_s"].dropna())
                for tau in tau_here:
                    ax.axhline(
                        float(tau), color="0.45", linestyle=":", linewidth=0.8, zorder=0, gid="tau"
                    )
            if any_nan:
                ax.axhline(y_top, color="0.85", linewidth=0.5, zorder=0)
                ax.text(
                    0.99,
                    y_top * 1.08,
                    "not reached",
                    transform=ax.get_yaxis_transform(),
                    ha="right",
                    va="bottom",
                    fontsize=6,
                    color="0.45",
                )
            ax.set_ylim(*ylim)
            ax.set_title(_title(facet, fval))
            ax.set_xlabel(_label(x))
            ax.xaxis.set_major_locator(FixedLocator([positions[v] for v in x_levels]))
            ax.xaxis.set_minor_locator(NullLocator())
            ax.set_xticklabels([_fmt_value(v) for v in x_levels])
            if log2x:
                lo_x, hi_x = min(x_levels), max(x_levels)
                ax.set_xlim(lo_x / 1.4, hi_x * 1.4)
            else:
                ax.set_xlim(min(positions.values()) - 0.5, max(positions.values()) + 0.5)
            ax.grid(axis="y", which="major", color="0.9", linewidth=0.4)
        ylabel = _label(metric)
        if metric == "rmst_s" and len(taus) == 1:
            ylabel = f"RMST to τ = {taus[0]:g} s (s)"
        _first_column_only_ylabel(axes, ylabel)

        handles: list[Any] = [
            Line2D(
                [],
                [],
                color=colours[lv],
                marker=markers[lv],
                linestyle=styles[lv],
                label=_fmt_value(lv),
            )
            for lv in hue_levels
        ]
        if metric == "rmst_s":
            tau_txt = ", ".join(_fmt_seconds(t) for t in taus) if taus else "?"
            handles.append(
                Line2D(
                    [], [], color="0.45", linestyle=":", label=f"RMST restricted to τ = {tau_txt}"
                )
            )
        if any_nan:
            what = "median" if metric == "median_s" else metric
            handles.append(
                Line2D(
                    [],
                    [],
                    color="0.3",
                    marker="o",
                    markerfacecolor="white",
                    linestyle="none",
                    label=f"{what} not reached",
                )
            )
        if any_open_ci:
            handles.append(
                Line2D([], [], color="0.3", linestyle=":", label="CI upper bound not reached")
            )
        _legend(fig, handles, _label(hue))
    return fig


def _draw_intervals(
    ax: Axes,
    xs: np.ndarray,
    ys: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    colour: str,
    y_top: float,
) -> bool:
    """Error bars; a NaN upper bound becomes a dotted line to ``y_top``.  True if any did."""
    if xs.size == 0:
        return False
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
    return bool(open_hi.any())


# ----------------------------------------------------------------------------- heatmap


def _percent_label(p: float) -> str:
    """Percentage for a cell: whole percent, but never rounds a non-zero value to 0 or 100."""
    if not np.isfinite(p):
        return ""
    if p == 0:
        return "0%"
    if p == 1:
        return "100%"
    if p < 0.005:
        return "<1%"
    if p > 0.995:
        return ">99%"
    return f"{100 * p:.0f}%"


def _outage_column_title(column: str) -> str:
    m = re.fullmatch(r"p_outage_(\d+(?:\.\d+)?)s", column)
    if not m:
        return column
    return f"P(outage within {_fmt_seconds(float(m.group(1)))})"


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
        One heatmap Axes per facet value (cells annotated with percentages, shared colour
        scale 0..1 in ``cividis``) plus one colour-bar Axes; the figure title names the
        probability.

    Raises
    ------
    ValueError
        A column is missing, the table is empty, several rows share a cell, or a value lies
        outside 0..1.
    """
    import seaborn as sns

    _require(summary, [x, y, facet, column], "summary")
    keys = [c for c in (facet, y, x) if c is not None]
    _require_unique(summary, keys, "summary", "filter it to one row per heatmap cell")
    p = summary[column].to_numpy(dtype=float)
    if np.any((p[np.isfinite(p)] < 0) | (p[np.isfinite(p)] > 1)):
        raise ValueError(f"summary column {column!r} must hold probabilities in 0..1")

    x_levels = _levels(summary[x])
    y_levels = _levels(summary[y])[::-1]  # top row = largest value
    with paper_style():
        panels = _facet_groups(summary, facet)
        n = len(panels)
        ncols = min(n, _MAX_PANELS_PER_ROW)
        nrows = math.ceil(n / ncols)
        height = nrows * (0.55 + 0.28 * len(y_levels)) + 0.3
        width = SINGLE_COLUMN_IN if n == 1 else DOUBLE_COLUMN_IN
        fig = Figure(figsize=(width, height), layout="constrained")
        axes = _panel_grid(fig, n, sharey=True)
        for ax, (fval, sub) in zip(axes, panels, strict=True):
            grid = (
                sub.pivot(index=y, columns=x, values=column)
                .reindex(index=y_levels, columns=x_levels)
                .astype(float)
            )
            labels = grid.map(_percent_label)
            sns.heatmap(
                grid,
                ax=ax,
                vmin=0.0,
                vmax=1.0,
                cmap=_HEATMAP_CMAP,
                cbar=False,
                annot=labels.to_numpy(),
                fmt="",
                annot_kws={"fontsize": 7},
                linewidths=0.6,
                linecolor="white",
                square=False,
            )
            ax.set_title(_title(facet, fval))
            ax.set_xlabel(_label(x))
            ax.set_xticklabels([_fmt_value(v) for v in x_levels], rotation=0)
            ax.set_yticklabels([_fmt_value(v) for v in y_levels], rotation=0)
            ax.tick_params(length=0)
        _first_column_only_ylabel(axes, _label(y))
        cbar = fig.colorbar(axes[0].collections[0], ax=axes, fraction=0.04, pad=0.02, aspect=15)
        cbar.ax.yaxis.set_major_formatter(PercentFormatter(xmax=1, decimals=0))
        fig.suptitle(_outage_column_title(column))
        cbar.outline.set_linewidth(0.4)
        cbar.ax.tick_params(width=0.4, length=2)
    return fig


# ----------------------------------------------------------------------------- blackout


def _wilson(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Wilson score interval for k successes out of n."""
    if n == 0:
        return (math.nan, math.nan)
    phat = k / n
    den = 1 + z * z / n
    centre = (phat + z * z / (2 * n)) / den
    half = z * math.sqrt(phat * (1 - phat) / n + z * z / (4 * n * n)) / den
    return (max(0.0, centre - half), min(1.0, centre + half))


def blackout_figure(runs: pd.DataFrame, *, x: str = "smp", hue: str = "design") -> Figure:
    """Blackout length and recovery of the runs that had an outage.

    Parameters
    ----------
    runs : DataFrame
        One row per run: the ``x`` and ``hue`` columns plus ``event_observed`` (bool: the run
        had an outage), ``recovered`` (bool) and ``blackout_s``.
    x : str
        Categories along both panels' x axes.
    hue : str
        Column giving one colour per value.

    Returns
    -------
    Figure
        Two Axes.  Left: ``blackout_s`` of runs with an outage (box and points, log y); if
        no run had an outage the panel is empty with a note.  Right: fraction of the runs
        with an outage that recovered, per (x, hue), as bars (gid ``recovered``) with Wilson
        95 % intervals and "k/n" labels; groups without an outage get "–".

    Raises
    ------
    ValueError
        A column is missing or the table is empty.
    """
    import seaborn as sns

    _require(runs, [x, hue, "event_observed", "recovered", "blackout_s"], "runs")
    df = runs[[x, hue, "blackout_s"]].copy()
    df["event_observed"] = _as_bool(runs["event_observed"])
    df["recovered"] = _as_bool(runs["recovered"]) & df["event_observed"]
    x_levels = _levels(df[x])
    hue_levels = _levels(df[hue])
    colours = _palette(hue_levels)
    x_names = [_fmt_value(v) for v in x_levels]
    hue_names = [str(v) for v in hue_levels]
    str_palette = {str(k): v for k, v in colours.items()}

    out = df[df["event_observed"]].copy()
    blk = out["blackout_s"].to_numpy(dtype=float)
    out = out[np.isfinite(blk) & (blk > 0)]
    out[x] = out[x].map(_fmt_value)
    out[hue] = out[hue].astype(str)

    with paper_style():
        fig = Figure(figsize=(DOUBLE_COLUMN_IN, 2.3), layout="constrained")
        ax_b, ax_r = fig.subplots(1, 2)
        if out.empty:
            ax_b.set_xticks(range(len(x_names)), x_names)
            ax_b.set_xlim(-0.5, len(x_names) - 0.5)
            ax_b.set_yticks([])
            _note(ax_b, "no outages observed:\nno blackout to show")
        else:
            common = {
                "data": out,
                "x": x,
                "y": "blackout_s",
                "hue": hue,
                "order": x_names,
                "hue_order": hue_names,
                "palette": str_palette,
                "ax": ax_b,
                "legend": False,
                # log only when blackouts span more than a decade
                "log_scale": bool(
                    out["blackout_s"].max() > 10 * max(out["blackout_s"].min(), 1e-9)
                ),
            }
            with warnings.catch_warnings():  # seaborn 0.13 passes vert= to matplotlib >= 3.11
                warnings.filterwarnings(
                    "ignore", message=r"vert: bool", category=DeprecationWarning
                )
                sns.boxplot(
                    **common, fill=False, width=0.7, showfliers=False, linewidth=0.7, gap=0.15
                )
            sns.stripplot(**common, dodge=True, jitter=0.12, size=2.0, alpha=0.7, linewidth=0)
            ax_b.grid(axis="y", which="major", color="0.9", linewidth=0.4)
        ax_b.set_xlabel(_label(x))
        if not out.empty and not out["recovered"].astype(bool).all():
            # a run that never recovered only gives the blackout up to the end of the run
            ax_b.set_xlabel(f"{_label(x)}\n(unrecovered runs: lower bounds)")
        ax_b.set_ylabel("Blackout (s, runs with outage)")
        ax_b.set_title("Silent period after the outage")
        _draw_recovery_bars(ax_r, df, x, hue, x_levels, hue_levels, colours)
        ax_r.set_xticks(range(len(x_names)), x_names)
        ax_r.set_xlabel(_label(x))
        ax_r.set_title("Recovery")
        hatches = _hatches(hue_levels)
        handles = [
            Patch(
                facecolor=colours[lv],
                edgecolor="white",
                hatch=hatches[lv],
                linewidth=0,
                label=str(lv),
            )
            for lv in hue_levels
        ]
        _legend(fig, handles)
    return fig


def _draw_recovery_bars(
    ax: Axes,
    df: pd.DataFrame,
    x: str,
    hue: str,
    x_levels: list[Any],
    hue_levels: list[Any],
    colours: Mapping[Any, str],
) -> None:
    nh = max(len(hue_levels), 1)
    width = 0.8 / nh
    any_outage = bool(df["event_observed"].any())
    hatches = _hatches(hue_levels)
    for j, lv in enumerate(hue_levels):
        xs, fracs, errs, texts = [], [], [], []
        for i, xv in enumerate(x_levels):
            g = df[(df[x] == xv) & (df[hue] == lv)]
            n = int(g["event_observed"].sum())
            k = int(g["recovered"].sum())
            pos = i - 0.4 + width * (j + 0.5)
            frac = k / n if n else math.nan
            lo, hi = _wilson(k, n)
            xs.append(pos)
            fracs.append(frac)
            # clamp: at k = 0 or k = n rounding can put the bound a hair past the estimate
            errs.append((max(frac - lo, 0.0), max(hi - frac, 0.0)) if n else (0.0, 0.0))
            texts.append(f"{k}/{n}" if n else "–")
        heights = np.nan_to_num(np.asarray(fracs, dtype=float))
        bars = ax.bar(
            xs,
            heights,
            width=width * 0.92,
            color=colours[lv],
            label=str(lv),
            gid="recovered",
            linewidth=0,
            hatch=hatches[lv] or None,
            edgecolor="white",
        )
        finite = np.isfinite(fracs)
        if finite.any():
            e = np.asarray(errs, dtype=float)[finite].T
            ax.errorbar(
                np.asarray(xs)[finite],
                np.asarray(fracs)[finite],
                yerr=e,
                fmt="none",
                ecolor="0.2",
                elinewidth=0.6,
                capsize=1.2,
                capthick=0.6,
            )
        for bar, txt, f, (_, up) in zip(bars, texts, fracs, errs, strict=True):
            top = (f + up) if np.isfinite(f) else 0.0
            ax.text(
                bar.get_x() + bar.get_width() / 2,
                top + 0.03,
                txt,
                ha="center",
                va="bottom",
                fontsize=5.5,
                rotation=90 if np.isfinite(f) else 0,
                color="0.2",
                gid="count",
            )
    ax.set_ylim(0, 1.3)
    ax.set_yticks([0, 0.25, 0.5, 0.75, 1.0])
    ax.yaxis.set_major_formatter(PercentFormatter(xmax=1, decimals=0))
    ax.set_xlim(-0.5, len(x_levels) - 0.5)
    ax.set_ylabel("Recovered (of runs with outage)")
    if not any_outage:
        _note(ax, "no outages observed")


# ----------------------------------------------------------------------------- saving


def save_figure(fig: Figure, stem: str | Path, *, metadata: Mapping[str, str]) -> tuple[Path, Path]:
    """Write ``<stem>.png`` and ``<stem>.pdf`` with ``metadata`` embedded in both.

    The PNG gets text chunks ``Title`` (``metadata["title"]`` or the file stem),
    ``Description`` (all fields as ``key=value; ...``), ``Software`` and one chunk per field.
    The PDF Info dictionary gets ``Title``, ``Subject`` (the same description), ``Keywords``
    (the fields), ``Creator`` and no ``CreationDate``, so re-running gives identical bytes.

    Parameters
    ----------
    fig : Figure
        The figure to write (at 300 dpi for the PNG).
    stem : str or Path
        Output path without suffix; parent directories are created.
    metadata : mapping of str to str
        Provenance, e.g. ``{"sweep_hash": ..., "vnetsim_version": ...}``.

    Returns
    -------
    tuple of Path
        ``(png_path, pdf_path)``.

    Raises
    ------
    TypeError
        A metadata key or value is not a string.
    ValueError
        A key is not usable as a PNG text keyword (1–79 Latin-1 characters).
    """
    for k, v in metadata.items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise TypeError(f"metadata must map str to str, got {k!r}: {v!r}")
        if not 1 <= len(k) <= 79 or not k.isprintable():
            raise ValueError(f"metadata key {k!r} must be 1-79 printable characters")
        try:
            k.encode("latin-1")
        except UnicodeEncodeError as exc:
            raise ValueError(f"metadata key {k!r} must be Latin-1") from exc
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    png_path = stem.with_name(stem.name + ".png")
    pdf_path = stem.with_name(stem.name + ".pdf")

    fields = {k: v for k, v in metadata.items() if k != "title"}
    title = metadata.get("title", stem.name)
    description = "; ".join(f"{k}={v}" for k, v in fields.items())
    version = metadata.get("vnetsim_version")
    software = f"vnetsim {version}" if version else "vnetsim"
    software += f" (matplotlib {mpl.__version__})"

    reserved = {"Title", "Description", "Software"}
    png_meta = {"Title": title, "Description": description, "Software": software}
    png_meta.update({k: v for k, v in fields.items() if k not in reserved})
    pdf_meta = {
        "Title": title,
        "Subject": description,
        "Keywords": ", ".join(f"{k}={v}" for k, v in fields.items()),
        "Creator": software,
        "CreationDate": None,
    }
    with paper_style():
        fig.savefig(png_path, format="png", dpi=300, metadata=png_meta)
        fig.savefig(pdf_path, format="pdf", metadata=pdf_meta)
    return png_path, pdf_path
