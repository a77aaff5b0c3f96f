"""From a loaded sweep to tables and figures (analysis and presentation layer).

:func:`analyze` turns a :class:`~vnetsim.sweep.LoadedSweep` into the survival tables
(:mod:`vnetsim.analysis.survival`) grouped by the sweep's axes, and writes nothing;
:func:`write_tables` stores them as CSV and Parquet, and :func:`analyze_dir` does both for
``vnetsim analyze`` (under ``DIR/analysis/``).  :func:`draw_figures` draws the declared
figures (:mod:`vnetsim.analysis.figures`) from tables computed in memory, so that they follow
the stored runs, and writes PNG and PDF under ``DIR/figures/`` only, each carrying the sweep
hash, the vnetsim version and the drawing commit (:func:`figure_metadata`); it never touches
``DIR/analysis/``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from vnetsim.analysis import cells, checks, inference, survival
from vnetsim.config import ConfigError
from vnetsim.sweep import LoadedSweep, load_sweep
from vnetsim.version import __version__, source_commit

SUMMARY_COLUMNS = (
    "n_runs",
    "n_errors",
    "events",
    "censored",
    "median_label",
    "rmst_s",
    "rmst_ci_lower_s",
    "rmst_ci_upper_s",
    "p_outage_900s",
    "p_outage_900s_ci_upper",
    "hazard_per_h",
    "hazard_per_h_ci_lower",
    "hazard_per_h_ci_upper",
    "hazard_per_h_upper",
    "recovered_fraction",
    "blackout_median_label",
)
DEFAULT_TIMES_S = (60.0, 300.0, 900.0)
INFERENCE_VIEWS = (
    (
        "pooled",
        "pooled over cells: each value against the reference (stratified log-rank, rate ratio)",
        (
            "level",
            "reference",
            "estimator",
            "strata",
            "events",
            "events_reference",
            "rate_ratio",
            "ci_lower",
            "ci_upper",
            "ratio_is_bound",
            "logrank_pvalue",
        ),
    ),
    (
        "trend",
        "trend: hazard factor per doubling of SMP and of load (Poisson regression)",
        ("estimator", "term", "rate_ratio", "ci_lower", "ci_upper", "pvalue", "events", "note"),
    ),
    (
        "certification",
        "certification (pooled): bound on the hazard ratio to the reference, and the run-hours "
        "a ratio below target_ratio needs",
        (
            "reference",
            "estimator",
            "exposure_h",
            "events",
            "ratio_upper",
            "target_ratio",
            "certified",
            "hours_needed",
            "hours_more",
            "note",
        ),
    ),
)


def compare_axis(axes: Sequence[str]) -> str:
    """The axis the log-rank tests compare: ``design`` if swept, else the first axis."""
    return "design" if "design" in axes or not axes else axes[0]


DEFAULT_MEDIAN_RULE = "first"
"""The median where S is exactly 0.5: the first such time (lifelines, scipy); ``"midpoint"``
is R survival's rule (docs/statistics.md)."""
DEFAULT_TARGET_RATIO = 0.01
"""The certification's claim: the design's hazard below this fraction of the reference's."""
SPLIT_SEED = 2099  # bootstrap and permutation seed of the split tables (reproducible tables)
SPLIT_GRID_POINTS = 101
SPLIT_SUMMARY_COLUMNS = (
    "runs",
    "batches",
    "replays",
    "zero_batches",
    "hazard_per_batch",
    "hazard_per_batch_ci_lower",
    "hazard_per_batch_ci_upper",
    "outage_rate_per_hour",
    "outage_rate_per_hour_ci_lower",
    "outage_rate_per_hour_ci_upper",
    "survival_tau",
    "survival_tau_ci_lower",
    "survival_tau_ci_upper",
    "rmst_s",
    "p_batch_upper",
    "hazard_per_hour_upper",
    "hazard_per_hour_upper_method",
)


def split_rows(runs: pd.DataFrame) -> pd.Series:
    """Which rows are split-estimator runs (``estimator == "split"``)."""
    if "estimator" not in runs.columns:
        return pd.Series(False, index=runs.index)
    return runs["estimator"].eq("split")


def analyze(
    sweep: LoadedSweep,
    *,
    times_s: Sequence[float] = DEFAULT_TIMES_S,
    median_rule: str = DEFAULT_MEDIAN_RULE,
    target_ratio: float = DEFAULT_TARGET_RATIO,
) -> dict[str, pd.DataFrame]:
    """Survival tables of a sweep, grouped by its axes (pure: writes nothing).

    Plain runs give the Kaplan–Meier tables (``survival.analyze``), with P(outage) at
    ``times_s`` and at the sweep's horizon, medians by ``median_rule`` (``"first"``, or R's
    ``"midpoint"``). Split-estimator runs give ``split_summary``,
    ``split_curves`` (on a grid of the horizon plus ``times_s``) and, when the compared axis
    has two or more values, ``split_compare`` (``vnetsim.analysis.split``); a split run's own
    path is conditioned on surviving, so it never enters the Kaplan–Meier tables. The tables
    across cells are :func:`inference_tables` (certification against ``target_ratio``).
    Every table has an ``estimator`` column. ``ConfigError`` if the sweep has no runs yet.
    """
    if sweep.runs.empty:
        raise ConfigError(f"{sweep.path}: no finished runs to analyse")
    failed = checks.error_mask(sweep.runs)
    if failed.all():
        first = str(sweep.runs["error"].iloc[0]).splitlines()[0]
        raise ConfigError(
            f"{sweep.path}: every one of the {len(failed)} runs ended in an error "
            f"(the first: {first}); nothing to analyse"
        )
    times = tuple(sorted({*map(float, times_s), sweep.horizon_s} - {0.0}))
    is_split = split_rows(sweep.runs)
    plain, split = sweep.runs[~is_split], sweep.runs[is_split]
    compare = compare_axis(sweep.axes)
    tables: dict[str, pd.DataFrame] = {}
    if not plain.empty:
        plain_tables = survival.analyze(
            plain, sweep.axes, compare=compare, times_s=times, median_rule=median_rule
        )
        tables.update(_labelled(plain_tables, "kaplan-meier"))
    if not split.empty:
        split_tables = _split_tables(split, sweep.axes, compare, sweep.horizon_s, times)
        tables.update(_labelled(split_tables, "split"))
    tables.update(
        inference_tables(
            sweep.runs,
            sweep.axes,
            compare,
            plain_logrank=not plain.empty,
            target_ratio=target_ratio,
        )
    )
    return tables


def inference_tables(
    runs: pd.DataFrame,
    axes: Sequence[str],
    compare: str,
    *,
    plain_logrank: bool = True,
    target_ratio: float = DEFAULT_TARGET_RATIO,
) -> dict[str, pd.DataFrame]:
    """The tables across cells (``vnetsim.analysis.inference``), for plain and split rows.

    ``logrank``: per cell, each pair of ``compare`` values with exact permutation p-values
    (plain runs only); ``pooled``: each value against the reference (``old`` if swept) over
    all cells; ``trend``: hazard per doubling of SMP and load, per value of the other axes;
    ``certification``: each value's bound against the reference's hazard, per cell and
    pooled, with the run-hours a ratio below ``target_ratio`` (default 1 %) needs. Empty when
    ``compare`` is no axis. Each has an ``estimator`` column (``plain`` or ``split``, per row:
    these tables model counts and exposures, not Kaplan–Meier curves).
    """
    if compare not in axes or runs[compare].nunique() < 2:
        return {}
    strata = [a for a in axes if a != compare]
    ok = runs.loc[~checks.error_mask(runs)]
    out: dict[str, pd.DataFrame] = {}
    if plain_logrank:
        plain = runs.loc[~split_rows(runs)]
        logrank = inference.small_sample_logrank(
            plain, list(axes), compare=compare, seed=SPLIT_SEED
        )
        out.update(_labelled({"logrank": logrank}, cells.PLAIN))
    pooled = inference.pooled_comparison(runs, compare=compare, strata=strata)
    out["pooled"] = pooled
    trend_by = [a for a in axes if a not in TREND_COVARIATES]
    if any(a in axes for a in TREND_COVARIATES) and not ok.empty:
        out["trend"] = inference.trend(runs, by=trend_by)
    if not pooled.empty:
        ref = pooled["reference"].iloc[0]
        certified = [
            inference.certification(
                runs,
                design=level,
                reference=ref,
                strata=strata,
                compare=compare,
                target_ratio=target_ratio,
            ).assign(**{compare: level, "reference": ref})
            for level in sorted_values(runs[compare])
            if level != ref
        ]
        table = pd.concat(certified, ignore_index=True)
        front = [compare, "reference"]
        out["certification"] = table[[*front, *(c for c in table.columns if c not in front)]]
    return out


TREND_COVARIATES = ("smp", "load_rps")


def sorted_values(values: pd.Series) -> list[object]:
    return values.drop_duplicates().sort_values().tolist()


def _labelled(tables: Mapping[str, pd.DataFrame], estimator: str) -> dict[str, pd.DataFrame]:
    """Every table says which estimator it shows (``estimator`` column)."""
    return {
        name: df if "estimator" in df.columns else df.assign(estimator=estimator)
        for name, df in tables.items()
    }


def _split_tables(
    runs: pd.DataFrame,
    axes: Sequence[str],
    compare: str,
    horizon_s: float,
    times: Sequence[float],
) -> dict[str, pd.DataFrame]:
    from vnetsim.analysis import split as sp

    by = list(axes)
    horizon = horizon_s or float(runs["horizon_s"].max())
    grid = np.union1d(
        np.linspace(0.0, horizon, SPLIT_GRID_POINTS), [t for t in times if t <= horizon]
    )
    out = {
        "split_summary": sp.split_summary(runs, by, seed=SPLIT_SEED),
        "split_curves": sp.split_curves(runs, by, times=grid, seed=SPLIT_SEED),
    }
    if compare in by and runs[compare].nunique() > 1:
        out["split_compare"] = sp.split_compare(runs, by, compare=compare, seed=SPLIT_SEED)
    return out


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
    source: str | Path | LoadedSweep,
    *,
    times_s: Sequence[float] = DEFAULT_TIMES_S,
    median_rule: str = DEFAULT_MEDIAN_RULE,
    target_ratio: float = DEFAULT_TARGET_RATIO,
) -> dict[str, pd.DataFrame]:
    """Survival tables of a sweep directory (or loaded sweep), written to ``DIR/analysis``."""
    sweep = source if isinstance(source, LoadedSweep) else load_sweep(source)
    tables = analyze(sweep, times_s=times_s, median_rule=median_rule, target_ratio=target_ratio)
    write_tables(tables, sweep.path / "analysis")
    return tables


def format_summary(tables: dict[str, pd.DataFrame], by: list[str], horizon_s: float = 900.0) -> str:
    """The summary tables (one row per group) and the tests between groups, as text."""
    parts = []
    with pd.option_context(
        "display.width",
        200,
        "display.max_columns",
        40,
        "display.float_format",
        lambda v: f"{v:.4g}",
    ):
        if "summary" in tables:
            s = tables["summary"]
            p_col = "p_outage_900s" if horizon_s >= 900 else survival.p_outage_column(horizon_s)
            names = [c.replace("p_outage_900s", p_col) for c in SUMMARY_COLUMNS]
            cols = [c for c in (*by, *names) if c in s.columns]
            parts.append("plain runs (Kaplan–Meier):\n" + s[cols].to_string(index=False))
            if "logrank" in tables and not tables["logrank"].empty:
                cols = [c for c in tables["logrank"].columns if c not in ("estimator",)]
                parts.append(
                    f"log-rank tests between values of {compare_axis(by)} per cell "
                    "(pvalue_exact: permutation):\n"
                    + tables["logrank"][cols].to_string(index=False)
                )
        for name, title, columns in INFERENCE_VIEWS:
            table = tables.get(name)
            if table is None or table.empty:
                continue
            if name == "certification":
                table = table.loc[table["scope"] == "pooled"]
            cols = [
                c for c in table.columns if (c in by and table[c].notna().any()) or c in columns
            ]
            parts.append(f"{title}:\n" + table[cols].to_string(index=False))
        if "split_summary" in tables:
            s = tables["split_summary"]
            cols = [c for c in (*by, *SPLIT_SUMMARY_COLUMNS) if c in s.columns]
            parts.append(
                "split-estimator runs (mean conditional survival, bootstrap over runs):\n"
                + s[cols].to_string(index=False)
            )
        if "split_compare" in tables and not tables["split_compare"].empty:
            parts.append(
                f"split comparisons between values of {compare_axis(by)}:\n"
                + tables["split_compare"].to_string(index=False)
            )
    return "\n\n".join(parts)


@dataclass
class WrittenFigures:
    """The files :func:`draw_figures` wrote, and the figures it skipped with the reason."""

    paths: list[Path] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)


def figure_metadata(sweep: LoadedSweep) -> dict[str, str]:
    """Provenance embedded in every figure file (docs/statistics.md, "Figure metadata").

    ``sweep`` and ``sweep_hash``: the manifest's name and hash; ``vnetsim_version``: the
    installed package's metadata (``vnetsim.__version__``; under an editable install it was
    written at install time and can be older than the checkout); ``drawn_by_commit``: git
    HEAD of the checkout the drawing code was imported from, ``-dirty`` appended when the
    package has uncommitted changes, blank when it is not a git checkout
    (``version.source_commit``); ``runs_from_commit``: the commit the manifest recorded for
    the runs. Both are recorded as they are: neither is derived from the other.
    """
    return {
        "sweep": str(sweep.manifest.get("name") or ""),
        "sweep_hash": str(sweep.manifest.get("sweep_hash") or ""),
        "vnetsim_version": __version__,
        "drawn_by_commit": source_commit(),
        "runs_from_commit": str(sweep.manifest.get("git_commit") or ""),
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
