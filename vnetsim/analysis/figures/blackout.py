"""Blackout length and recovery of the runs that had an outage."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import PercentFormatter

from vnetsim.analysis.figures import layout
from vnetsim.analysis.figures.style import (
    fmt_value,
    hatches,
    hue_label,
    hue_levels,
    hue_palette,
    label,
    paper_style,
)
from vnetsim.analysis.figures.tables import as_bool, levels, require_columns
from vnetsim.analysis.fits import exact_proportion_ci

_COLUMNS = ("event_observed", "recovered", "blackout_s")
_HEIGHT_IN = 2.3


def _dodge(i: int, j: int, n_hue: int) -> float:
    """x position of hue level ``j`` at category ``i`` (the bars' and points' dodge)."""
    width = 0.8 / max(n_hue, 1)
    return i - 0.4 + width * (j + 0.5)


def _outcomes(runs: pd.DataFrame, x: str, hue: str) -> pd.DataFrame:
    """x, hue, blackout_s, and the outcome flags as booleans (recovered only after an outage)."""
    require_columns(runs, [x, hue, *_COLUMNS], "runs")
    df = runs[[x, hue, "blackout_s"]].copy()
    df["event_observed"] = as_bool(runs["event_observed"])
    df["recovered"] = as_bool(runs["recovered"]) & df["event_observed"]
    return df


def hue_handles(lvs: Sequence[Any], hue: str | None = None) -> list[Patch]:
    colours, patterns = hue_palette(hue, lvs), hatches(lvs)
    return [
        Patch(
            facecolor=colours[lv],
            edgecolor="white",
            hatch=patterns[lv],
            linewidth=0,
            label=hue_label(hue, lv),
        )
        for lv in lvs
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
    ``blackout_s``.  One point per run with an outage, dodged by hue: filled if it recovered
    (gid ``blackout``), open if not (gid ``blackout-censored``: censored at the recovery
    window, the end of the run, so its blackout is only a lower bound; a dotted line marks
    the longest such window, "> window").  Log y when the blackouts span more than a decade;
    without any outage the panel is empty with a note.  Draws on ``ax`` or on a new
    single-column figure; returns the Axes.
    """
    df = _outcomes(runs, x, hue)
    x_names = [fmt_value(v) for v in levels(df[x])]
    lvs = hue_levels(hue, df[hue])
    out = df[df["event_observed"]].copy()
    blk = out["blackout_s"].to_numpy(dtype=float)
    out = out[np.isfinite(blk) & (blk > 0)]
    x_pos = {v: i for i, v in enumerate(levels(df[x]))}
    colours = hue_palette(hue, lvs)
    width = 0.8 / max(len(lvs), 1)
    rng = np.random.default_rng(0)  # fixed jitter: byte-stable files
    with paper_style():
        ax = layout.axes_or_new(ax, (layout.SINGLE_COLUMN_IN, _HEIGHT_IN))
        if out.empty:
            ax.set_yticks([])
            layout.note(ax, "no outages observed:\nno blackout to show")
        else:
            blk = out["blackout_s"].to_numpy(dtype=float)
            if blk.max() > 10 * max(blk.min(), 1e-9):  # log only over more than a decade
                ax.set_yscale("log")
            for j, lv in enumerate(lvs):
                g = out[out[hue] == lv]
                if g.empty:
                    continue
                centre = g[x].map(x_pos).to_numpy(dtype=float) - 0.4 + width * (j + 0.5)
                xs = centre + rng.uniform(-0.3, 0.3, len(g)) * width
                rec = g["recovered"].to_numpy(dtype=bool)
                ys = g["blackout_s"].to_numpy(dtype=float)
                ax.scatter(xs[rec], ys[rec], s=6, color=colours[lv], linewidths=0, gid="blackout")
                # not recovered: the blackout lasted at least until the run ended
                ax.scatter(
                    xs[~rec],
                    ys[~rec],
                    s=9,
                    facecolors="white",
                    edgecolors=colours[lv],
                    linewidths=0.7,
                    gid="blackout-censored",
                )
            censored = out[~out["recovered"].astype(bool)]
            if len(censored):
                window = float(censored["blackout_s"].max())
                ax.axhline(window, color="0.6", linestyle=":", linewidth=0.6, zorder=0)
                ax.text(
                    0.99,
                    window,
                    f"> {window:.3g} s: not recovered",
                    transform=ax.get_yaxis_transform(),
                    ha="right",
                    va="bottom",
                    fontsize=5.5,
                    color="0.4",
                    gid="censor-window",
                )
            ax.grid(axis="y", which="major", color="0.9", linewidth=0.4)
        ax.set_xticks(range(len(x_names)), x_names)
        ax.set_xlim(-0.5, len(x_names) - 0.5)
        ax.set_xlabel(label(x))
        ax.set_ylabel("Blackout (s, runs with outage)")
        ax.set_title("Silent period after the outage")
        if legend:
            ax.legend(handles=[*hue_handles(lvs, hue), *censor_handles()])
    return ax


def censor_handles() -> list[Line2D]:
    """Keys of the blackout points: recovered (filled) and censored (open)."""
    return [
        Line2D([], [], color="0.3", marker="o", linestyle="none", markersize=3, label="recovered"),
        Line2D(
            [],
            [],
            color="0.3",
            marker="o",
            markerfacecolor="white",
            linestyle="none",
            markersize=3.5,
            label="censored at the recovery window (run ended first)",
        ),
    ]


def recoveryplot(
    runs: pd.DataFrame,
    *,
    x: str = "smp",
    hue: str = "design",
    legend: bool = True,
    ax: Axes | None = None,
) -> Axes:
    """Fraction of the runs with an outage that recovered, per (x, hue).

    Bars (gid ``recovered``) with Clopper–Pearson 95 % intervals (the summary table's) and
    "k/n" labels (gid ``count``);
    groups without an outage get "–".  Same table as :func:`blackoutplot`.  Draws on ``ax``
    or on a new single-column figure; returns the Axes.
    """
    df = _outcomes(runs, x, hue)
    x_levels, lvs = levels(df[x]), hue_levels(hue, df[hue])
    colours, patterns = hue_palette(hue, lvs), hatches(lvs)
    width = 0.8 / max(len(lvs), 1)
    with paper_style():
        ax = layout.axes_or_new(ax, (layout.SINGLE_COLUMN_IN, _HEIGHT_IN))
        for j, lv in enumerate(lvs):
            xs, fracs, errs, texts = [], [], [], []
            for i, xv in enumerate(x_levels):
                g = df[(df[x] == xv) & (df[hue] == lv)]
                n = int(g["event_observed"].sum())
                k = int(g["recovered"].sum())
                frac = k / n if n else np.nan
                lo, hi = exact_proportion_ci(k, n)
                xs.append(_dodge(i, j, len(lvs)))
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
            ax.legend(handles=hue_handles(lvs, hue))
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
    lvs = hue_levels(hue, _outcomes(runs, x, hue)[hue])
    with paper_style():
        fig = Figure(figsize=(layout.DOUBLE_COLUMN_IN, _HEIGHT_IN), layout="constrained")
        ax_b, ax_r = fig.subplots(1, 2)
        blackoutplot(runs, x=x, hue=hue, legend=False, ax=ax_b)
        recoveryplot(runs, x=x, hue=hue, legend=False, ax=ax_r)
        layout.figure_legend(fig, [*hue_handles(lvs, hue), *censor_handles()])
        layout.estimator_note(fig, "plain runs with an outage; recovery: Clopper–Pearson 95 % CI")
    return fig


_SPLIT_RUN_COLUMNS = ("split_failed_weight", "split_failed_recovered", "split_failed_blackout_s")


def split_outcomes(runs: pd.DataFrame) -> pd.DataFrame:
    """Split runs under the plain outcome names, one row per run.

    A split run continues its first failing replay past the outage (weight
    ``split_failed_weight`` > 0): that replay is its "outage", its ``split_failed_recovered``
    and ``split_failed_blackout_s`` the outcome. Runs without one have no outage here.
    """
    require_columns(runs, _SPLIT_RUN_COLUMNS, "runs")
    weight = pd.to_numeric(runs["split_failed_weight"], errors="coerce").to_numpy(dtype=float)
    failed = np.isfinite(weight) & (weight > 0)
    return runs.assign(
        event_observed=failed,
        recovered=as_bool(runs["split_failed_recovered"]) & failed,
        blackout_s=np.where(failed, runs["split_failed_blackout_s"].to_numpy(dtype=float), np.nan),
    )


def _weighted_marks(
    ax: Axes,
    summary: pd.DataFrame,
    column: str,
    x: str,
    hue: str,
    x_levels: list[Any],
    lvs: list[Any],
) -> None:
    """The split summary's weighted estimate as a black diamond per (x, hue) cell."""
    xs, ys = [], []
    for i, xv in enumerate(x_levels):
        for j, lv in enumerate(lvs):
            g = summary[(summary[x] == xv) & (summary[hue] == lv)]
            if len(g) == 1 and np.isfinite(float(g[column].iloc[0])):
                xs.append(_dodge(i, j, len(lvs)))
                ys.append(float(g[column].iloc[0]))
    if xs:
        ax.scatter(xs, ys, marker="D", s=10, color="0.1", linewidths=0, zorder=4, gid="weighted")


def split_blackout_figure(
    runs: pd.DataFrame, summary: pd.DataFrame, *, x: str = "smp", hue: str = "design"
) -> Figure:
    """:func:`blackout_figure` of the split estimator's continued failing replays.

    Each point and each k/n counts one run's continued replay (:func:`split_outcomes`); the
    black diamonds are the split summary's weighted estimates (``failed_recovered_fraction``;
    ``failed_blackout_mean_s`` only where every replay of the cell recovered, since otherwise
    it averages times censored at the recovery window). The Clopper–Pearson interval is that
    of the unweighted k/n.
    """
    df = split_outcomes(runs)
    fig = blackout_figure(df, x=x, hue=hue)
    ax_b, ax_r = fig.axes[:2]
    x_levels = levels(df[x])
    lvs = hue_levels(hue, df[hue])
    require_columns(summary, [x, hue, "failed_recovered_fraction"], "split_summary")
    _weighted_marks(ax_r, summary, "failed_recovered_fraction", x, hue, x_levels, lvs)
    if "failed_blackout_mean_s" in summary.columns:
        all_recovered = summary["failed_recovered_fraction"] == 1.0
        _weighted_marks(
            ax_b, summary[all_recovered], "failed_blackout_mean_s", x, hue, x_levels, lvs
        )
    ax_b.set_ylabel("Blackout (s, failing replays)")
    ax_r.set_ylabel("Recovered (of failing replays)")
    with paper_style():
        layout.estimator_note(
            fig,
            "split estimator: one continued failing replay per run; ◆ weighted estimate; "
            "recovery: Clopper–Pearson 95 % CI of k/n",
        )
    return fig
