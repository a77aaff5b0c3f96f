"""Blackout length and recovery of the runs that had an outage."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import PercentFormatter

from vnetsim.analysis.figures import layout
from vnetsim.analysis.figures.style import fmt_value, hatches, label, palette, paper_style
from vnetsim.analysis.figures.tables import as_bool, levels, require_columns

_COLUMNS = ("event_observed", "recovered", "blackout_s")
_HEIGHT_IN = 2.3


def wilson_interval(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Wilson score interval for k successes out of n (NaN, NaN for n = 0)."""
    if n == 0:
        return (math.nan, math.nan)
    phat = k / n
    den = 1 + z * z / n
    centre = (phat + z * z / (2 * n)) / den
    half = z * math.sqrt(phat * (1 - phat) / n + z * z / (4 * n * n)) / den
    return (max(0.0, centre - half), min(1.0, centre + half))


def _outcomes(runs: pd.DataFrame, x: str, hue: str) -> pd.DataFrame:
    """x, hue, blackout_s, and the outcome flags as booleans (recovered only after an outage)."""
    require_columns(runs, [x, hue, *_COLUMNS], "runs")
    df = runs[[x, hue, "blackout_s"]].copy()
    df["event_observed"] = as_bool(runs["event_observed"])
    df["recovered"] = as_bool(runs["recovered"]) & df["event_observed"]
    return df


def hue_handles(hue_levels: Sequence[Any]) -> list[Patch]:
    colours, patterns = palette(hue_levels), hatches(hue_levels)
    return [
        Patch(
            facecolor=colours[lv], edgecolor="white", hatch=patterns[lv], linewidth=0, label=str(lv)
        )
        for lv in hue_levels
    ]


def blackoutplot(
    runs: pd.DataFrame,
    *,
    x: str = "smp",
    hue: str = "design",
    legend: bool = True,
    ax: Axes | None = None,
) -> Axes:
    """How long the interface stayed silent (``blackout_s``) in the runs with an outage.

    ``runs`` holds one row per run: ``x``, ``hue``, ``event_observed``, ``recovered`` and
    ``blackout_s``.  Box and points per (x, hue), log y when the blackouts span more than a
    decade; without any outage the panel is empty with a note.  Draws on ``ax`` or on a new
    single-column figure; returns the Axes.
    """
    df = _outcomes(runs, x, hue)
    x_names = [fmt_value(v) for v in levels(df[x])]
    hue_levels = levels(df[hue])
    out = df[df["event_observed"]].copy()
    blk = out["blackout_s"].to_numpy(dtype=float)
    out = out[np.isfinite(blk) & (blk > 0)]
    out[x] = out[x].map(fmt_value)
    out[hue] = out[hue].astype(str)
    import seaborn as sns  # slow to import: only when a blackout panel is drawn

    with paper_style():
        ax = layout.axes_or_new(ax, (layout.SINGLE_COLUMN_IN, _HEIGHT_IN))
        if out.empty:
            ax.set_xticks(range(len(x_names)), x_names)
            ax.set_xlim(-0.5, len(x_names) - 0.5)
            ax.set_yticks([])
            layout.note(ax, "no outages observed:\nno blackout to show")
        else:
            common = {
                "data": out,
                "x": x,
                "y": "blackout_s",
                "hue": hue,
                "order": x_names,
                "hue_order": [str(v) for v in hue_levels],
                "palette": {str(k): v for k, v in palette(hue_levels).items()},
                "ax": ax,
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
            ax.grid(axis="y", which="major", color="0.9", linewidth=0.4)
        ax.set_xlabel(label(x))
        if not out.empty and not out["recovered"].astype(bool).all():
            # a run that never recovered only gives the blackout up to the end of the run
            ax.set_xlabel(f"{label(x)}\n(unrecovered runs: lower bounds)")
        ax.set_ylabel("Blackout (s, runs with outage)")
        ax.set_title("Silent period after the outage")
        if legend:
            ax.legend(handles=hue_handles(hue_levels))
    return ax


def recoveryplot(
    runs: pd.DataFrame,
    *,
    x: str = "smp",
    hue: str = "design",
    legend: bool = True,
    ax: Axes | None = None,
) -> Axes:
    """Fraction of the runs with an outage that recovered, per (x, hue).

    Bars (gid ``recovered``) with Wilson 95 % intervals and "k/n" labels (gid ``count``);
    groups without an outage get "–".  Same table as :func:`blackoutplot`.  Draws on ``ax``
    or on a new single-column figure; returns the Axes.
    """
    df = _outcomes(runs, x, hue)
    x_levels, hue_levels = levels(df[x]), levels(df[hue])
    colours, patterns = palette(hue_levels), hatches(hue_levels)
    width = 0.8 / max(len(hue_levels), 1)
    with paper_style():
        ax = layout.axes_or_new(ax, (layout.SINGLE_COLUMN_IN, _HEIGHT_IN))
        for j, lv in enumerate(hue_levels):
            xs, fracs, errs, texts = [], [], [], []
            for i, xv in enumerate(x_levels):
                g = df[(df[x] == xv) & (df[hue] == lv)]
                n = int(g["event_observed"].sum())
                k = int(g["recovered"].sum())
                frac = k / n if n else math.nan
                lo, hi = wilson_interval(k, n)
                xs.append(i - 0.4 + width * (j + 0.5))
                fracs.append(frac)
                # clamp: at k = 0 or k = n rounding can put the bound a hair past the estimate
                errs.append((max(frac - lo, 0.0), max(hi - frac, 0.0)) if n else (0.0, 0.0))
                texts.append(f"{k}/{n}" if n else "–")
            bars = ax.bar(
                xs,
                np.nan_to_num(np.asarray(fracs, dtype=float)),
                width=width * 0.92,
                color=colours[lv],
                label=str(lv),
                gid="recovered",
                linewidth=0,
                hatch=patterns[lv] or None,
                edgecolor="white",
            )
            finite = np.isfinite(fracs)
            if finite.any():
                ax.errorbar(
                    np.asarray(xs)[finite],
                    np.asarray(fracs)[finite],
                    yerr=np.asarray(errs, dtype=float)[finite].T,
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
        if not df["event_observed"].any():
            layout.note(ax, "no outages observed")
        ax.set_xticks(range(len(x_levels)), [fmt_value(v) for v in x_levels])
        ax.set_xlabel(label(x))
        ax.set_title("Recovery")
        if legend:
            ax.legend(handles=hue_handles(hue_levels))
    return ax


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
        Two Axes: :func:`blackoutplot` on the left, :func:`recoveryplot` on the right, and
        one legend for the figure.

    Raises
    ------
    ValueError
        A column is missing or the table is empty.
    """
    hue_levels = levels(_outcomes(runs, x, hue)[hue])
    with paper_style():
        fig = Figure(figsize=(layout.DOUBLE_COLUMN_IN, _HEIGHT_IN), layout="constrained")
        ax_b, ax_r = fig.subplots(1, 2)
        blackoutplot(runs, x=x, hue=hue, legend=False, ax=ax_b)
        recoveryplot(runs, x=x, hue=hue, legend=False, ax=ax_r)
        layout.figure_legend(fig, hue_handles(hue_levels))
    return fig
