"""What a figure of a sweep needs, and the sweep axes the figures put in colour and panels.

A :class:`FigureSpec` names the table a figure reads, the sweep axes and columns it needs,
and how to draw it from a loaded sweep and its survival tables; the records themselves are
``FIGURES`` in the package's ``__init__``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import pandas as pd
from matplotlib.figure import Figure

from vnetsim.analysis.survival import p_outage_column
from vnetsim.sweep import LoadedSweep

Tables = Mapping[str, pd.DataFrame]
DrawFn = Callable[[LoadedSweep, Tables], list[tuple[str, Figure]]]
"""(sweep, tables) -> [(file stem, figure), ...]"""


def hue_axis(sweep: LoadedSweep) -> str | None:
    """The axis drawn in colour: ``design`` if swept, else the first axis other than ``smp``."""
    if "design" in sweep.axes:
        return "design"
    return next((a for a in sweep.axes if a != "smp"), None)


def facet_axis(sweep: LoadedSweep) -> str | None:
    """The axis with one panel per value: ``smp`` if swept."""
    return "smp" if "smp" in sweep.axes else None


def outage_column(sweep: LoadedSweep) -> str:
    """P(outage within 15 min), or within the horizon of a shorter sweep."""
    horizon = sweep.horizon_s
    return "p_outage_900s" if horizon >= 900 else p_outage_column(horizon)


@dataclass(frozen=True)
class FigureSpec:
    """One figure of a sweep and what it needs."""

    name: str
    description: str
    table: str
    """``"km"`` or ``"summary"`` (survival tables), or ``"runs"`` (the runs without error)."""
    draw: DrawFn
    axes: tuple[str, ...] = ()
    """Sweep axes that must be present."""
    needs_hue: bool = False
    """Whether it needs a colour axis (see :func:`hue_axis`)."""
    columns: tuple[str, ...] | Callable[[LoadedSweep], tuple[str, ...]] = ()
    """Columns of the table that must be present and hold at least one value."""
    estimator: str = "plain"
    """The runs it draws (``run.estimator``); a sweep without such runs does not offer it."""

    def offered(self, sweep: LoadedSweep) -> bool:
        """Whether the sweep has runs of this figure's estimator at all."""
        runs = sweep.runs
        if "estimator" not in runs.columns:
            return self.estimator == "plain"
        return bool(runs["estimator"].fillna("plain").eq(self.estimator).any())

    def required_columns(self, sweep: LoadedSweep) -> tuple[str, ...]:
        return self.columns(sweep) if callable(self.columns) else self.columns

    def unmet(self, sweep: LoadedSweep, tables: Tables) -> str | None:
        """Why the sweep cannot have this figure, or ``None`` if it can."""
        swept = ", ".join(map(repr, sweep.axes)) or "none"
        missing_axes = [a for a in self.axes if a not in sweep.axes]
        if missing_axes:
            return f"needs axis {', '.join(map(repr, missing_axes))} (the sweep's axes: {swept})"
        if self.needs_hue and hue_axis(sweep) is None:
            return f"needs a colour axis: 'design' or an axis other than 'smp' (axes: {swept})"
        df = sweep.ok_runs if self.table == "runs" else tables.get(self.table)
        if df is None or df.empty:
            return f"the {self.table} table is empty"
        columns = self.required_columns(sweep)
        missing = [c for c in columns if c not in df.columns]
        if missing:
            return f"the {self.table} table has no column {', '.join(map(repr, missing))}"
        empty = [c for c in columns if df[c].isna().all()]
        if empty:
            return f"column {', '.join(map(repr, empty))} of the {self.table} table holds no value"
        return None


@dataclass
class DrawnFigures:
    """What ``draw_all`` drew, as (file stem, figure), and why it skipped the rest."""

    figures: list[tuple[str, Figure]] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
