"""From a loaded sweep to tables and figures (analysis and presentation layer).

:func:`analyze` turns a :class:`~vnetsim.sweep.LoadedSweep` into the survival tables
(:mod:`vnetsim.analysis.survival`) grouped by the sweep's axes, and writes nothing;
:func:`write_tables` stores them as CSV and Parquet, and :func:`analyze_dir` does both for
``vnetsim analyze`` (under ``DIR/analysis/``).  :func:`draw_figures` draws the declared
figures (:mod:`vnetsim.analysis.figures`) from tables computed in memory, so that they follow
the stored runs, and writes PNG and PDF under ``DIR/figures/`` only, each carrying the sweep
hash and the vnetsim version; it never touches ``DIR/analysis/``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from vnetsim.analysis import survival
from vnetsim.config import ConfigError
from vnetsim.sweep import LoadedSweep, load_sweep
from vnetsim.version import __version__

SUMMARY_COLUMNS = (
    "n_runs",
    "n_errors",
    "events",
    "censored",
    "median_label",
    "rmst_s",
    "p_outage_900s",
    "hazard_per_h",
    "hazard_per_h_ci_lower",
    "hazard_per_h_ci_upper",
    "recovered_fraction",
    "blackout_median_s",
)
DEFAULT_TIMES_S = (60.0, 300.0, 900.0)


def compare_axis(axes: Sequence[str]) -> str:
    """The axis the log-rank tests compare: ``design`` if swept, else the first axis."""
    return "design" if "design" in axes or not axes else axes[0]


def analyze(
    sweep: LoadedSweep, *, times_s: Sequence[float] = DEFAULT_TIMES_S
) -> dict[str, pd.DataFrame]:
    """Survival tables of a sweep, grouped by its axes (pure: writes nothing).

    P(outage) is reported at ``times_s`` and at the sweep's horizon.  ``ConfigError`` if the
    sweep has no runs yet.
    """
    if sweep.runs.empty:
        raise ConfigError(f"{sweep.path}: no finished runs to analyse")
    times = tuple(sorted({*map(float, times_s), sweep.horizon_s} - {0.0}))
    return survival.analyze(sweep.runs, sweep.axes, compare=compare_axis(sweep.axes), times_s=times)


def write_tables(tables: Mapping[str, pd.DataFrame], directory: str | Path) -> list[Path]:
    """Each table as ``<name>.csv`` and ``<name>.parquet`` in ``directory`` (atomically)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, df in tables.items():
        for suffix in (".csv", ".parquet"):
            final = directory / f"{name}{suffix}"
            tmp = final.with_name(final.name + ".tmp")
            if suffix == ".csv":
                df.to_csv(tmp, index=False)
            else:
                df.to_parquet(tmp, index=False)
            os.replace(tmp, final)
            written.append(final)
    return written


def analyze_dir(
    source: str | Path | LoadedSweep, *, times_s: Sequence[float] = DEFAULT_TIMES_S
) -> dict[str, pd.DataFrame]:
    """Survival tables of a sweep directory (or loaded sweep), written to ``DIR/analysis``."""
    sweep = source if isinstance(source, LoadedSweep) else load_sweep(source)
    tables = analyze(sweep, times_s=times_s)
    write_tables(tables, sweep.path / "analysis")
    return tables


def format_summary(tables: dict[str, pd.DataFrame], by: list[str], horizon_s: float = 900.0) -> str:
    """The summary table (one row per group) and the log-rank tests, as text."""
    s = tables["summary"]
    p_col = "p_outage_900s" if horizon_s >= 900 else survival.p_outage_column(horizon_s)
    names = [p_col if c == "p_outage_900s" else c for c in SUMMARY_COLUMNS]
    cols = [c for c in (*by, *names) if c in s.columns]
    with pd.option_context(
        "display.width",
        200,
        "display.max_columns",
        40,
        "display.float_format",
        lambda v: f"{v:.4g}",
    ):
        text = s[cols].to_string(index=False)
        if "logrank" in tables and not tables["logrank"].empty:
            text += f"\n\nlog-rank tests between values of {compare_axis(by)}:\n"
            text += tables["logrank"].to_string(index=False)
    return text


@dataclass
class WrittenFigures:
    """The files :func:`draw_figures` wrote, and the figures it skipped with the reason."""

    paths: list[Path] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)


def figure_metadata(sweep: LoadedSweep) -> dict[str, str]:
    """Provenance embedded in every figure file."""
    return {
        "sweep": str(sweep.manifest.get("name")),
        "sweep_hash": str(sweep.manifest.get("sweep_hash")),
        "vnetsim_version": __version__,
        "git_commit": str(sweep.manifest.get("git_commit")),
    }


def draw_figures(sweep: LoadedSweep, out_dir: str | Path) -> WrittenFigures:
    """Draw every figure the sweep allows (``figures.FIGURES``) and save them in ``out_dir``.

    The survival tables are computed in memory from the sweep's runs; nothing is written
    but the figure files (PNG and PDF).
    """
    import matplotlib

    matplotlib.use("Agg")  # files only: seaborn imports pyplot, which must not pick a GUI
    from vnetsim.analysis import figures  # matplotlib and seaborn: only when drawing

    drawn = figures.draw_all(sweep, analyze(sweep))
    meta = figure_metadata(sweep)
    paths = [
        path
        for stem, fig in drawn.figures
        for path in figures.save_figure(fig, Path(out_dir) / stem, metadata=meta)
    ]
    return WrittenFigures(paths, dict(drawn.skipped))


def figures_dir(source: str | Path | LoadedSweep) -> list[Path]:
    """The figures of a sweep directory (or loaded sweep), written to ``DIR/figures``."""
    sweep = source if isinstance(source, LoadedSweep) else load_sweep(source)
    return draw_figures(sweep, sweep.path / "figures").paths
