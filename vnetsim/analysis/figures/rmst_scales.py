"""Scales and legend shared by the panels of a time-to-outage figure (see :mod:`.rmst`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from vnetsim.analysis.figures.style import (
    fmt_seconds,
    hue_label,
    hue_linestyles,
    hue_markers,
    hue_palette,
    label,
)
from vnetsim.analysis.figures.tables import levels


def ci_columns(metric: str) -> tuple[str, str]:
    """``"median_s"`` -> its interval columns ``median_ci_lower_s``, ``median_ci_upper_s``."""
    stem = metric[:-2] if metric.endswith("_s") else metric
    return f"{stem}_ci_lower_s", f"{stem}_ci_upper_s"


@dataclass(frozen=True)
class RmstScales:
    """What every panel of one figure shares: x positions, hue levels and the y range."""

    x_levels: list[Any]
    positions: dict[Any, float]
    log2x: bool
    hue_levels: list[Any]
    taus: list[float]
    y_top: float  # where "not reached" markers sit
    ylim: tuple[float, float]
    any_nan: bool
    has_ci: bool


def rmst_scales(
    summary: pd.DataFrame, *, x: str, hue: str, metric: str, logy: bool = True
) -> RmstScales:
    """The scales of a whole summary table (all panels of a figure); linear y from 0 unless
    ``logy``."""
    ci_lo_col, ci_hi_col = ci_columns(metric)
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
    y_top = ceiling * 1.8 if logy else ceiling * 1.12
    x_levels = levels(summary[x])
    numeric = all(isinstance(v, int | float | np.integer | np.floating) for v in x_levels)
    positions = (
        {v: float(v) for v in x_levels}
        if numeric
        else {v: float(i) for i, v in enumerate(x_levels)}
    )
    return RmstScales(
        x_levels=x_levels,
        positions=positions,
        log2x=numeric and min(x_levels) > 0 and max(x_levels) / min(x_levels) >= 4,
        hue_levels=levels(summary[hue]),
        taus=taus,
        y_top=y_top,
        ylim=(floor / 1.8, y_top * 1.6) if logy else (0.0, y_top * 1.08),
        any_nan=bool(summary[metric].isna().any()),
        has_ci=has_ci,
    )


def rmst_ylabel(metric: str, scales: RmstScales) -> str:
    """The y label; for RMST with a single τ it states τ."""
    if metric == "rmst_s" and len(scales.taus) == 1:
        return f"RMST to τ = {scales.taus[0]:g} s (s)"
    return label(metric)


def rmst_legend_handles(
    scales: RmstScales, metric: str, *, open_ci: bool, hue: str | None = None
) -> list[Line2D]:
    """Lines per hue level, then the τ line, "not reached" and open-interval keys if drawn.

    Colours, markers and line styles are those of :func:`~.style.hue_palette` and its
    siblings: the design colours only for ``hue == "design"``, neutral greys otherwise."""
    lvs = scales.hue_levels
    colours, marks = hue_palette(hue, lvs), hue_markers(hue, lvs)
    styles = hue_linestyles(hue, lvs)
    handles = [
        Line2D(
            [],
            [],
            color=colours[lv],
            marker=marks[lv],
            linestyle=styles[lv],
            label=hue_label(hue, lv),
        )
        for lv in lvs
    ]
    if metric == "rmst_s":
        tau_txt = ", ".join(fmt_seconds(t) for t in scales.taus) if scales.taus else "?"
        handles.append(
            Line2D([], [], color="0.45", linestyle=":", label=f"RMST restricted to τ = {tau_txt}")
        )
    if scales.any_nan:
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
    if open_ci:
        handles.append(
            Line2D([], [], color="0.3", linestyle=":", label="CI upper bound not reached")
        )
    return handles
