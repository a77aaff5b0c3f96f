"""From a sweep directory to tables and figures (analysis and presentation layer).

``analyze_dir`` reads the stored runs, groups them by the sweep's axes and writes the survival
tables (``vnetsim.survival``) as CSV and Parquet under ``DIR/analysis/``. ``figures_dir`` draws
the publication figures (``vnetsim.figures``) from those stored results only and writes PNG and
PDF under ``DIR/figures/``, each carrying the sweep hash and the vnetsim version.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from vnetsim.config import ConfigError
from vnetsim.sweep import load_runs

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


def _by(runs: pd.DataFrame, manifest: dict[str, Any]) -> list[str]:
    return [a for a in manifest.get("axes", []) if a in runs.columns]


def _write(df: pd.DataFrame, stem: Path) -> None:
    stem.parent.mkdir(parents=True, exist_ok=True)
    for suffix, writer in (
        (".csv", lambda p: df.to_csv(p, index=False)),
        (".parquet", lambda p: df.to_parquet(p, index=False)),
    ):
        final = stem.with_suffix(suffix)
        tmp = final.with_name(final.name + ".tmp")
        writer(tmp)
        os.replace(tmp, final)


def analyze_dir(
    out: str | Path, *, times_s: tuple[float, ...] = (60, 300, 900)
) -> dict[str, pd.DataFrame]:
    """Survival tables of a sweep, written to ``DIR/analysis``."""
    from vnetsim.analysis import survival

    runs, manifest = load_runs(out)
    if runs.empty:
        raise ConfigError(f"{out}: no finished runs to analyse")
    by = _by(runs, manifest)
    compare = "design" if "design" in by else (by[0] if by else "design")
    horizon = float(manifest.get("horizon_s") or 0.0)
    times = tuple(sorted({*times_s, horizon} - {0.0}))  # P(outage within the horizon) too
    tables = survival.analyze(runs, by, compare=compare, times_s=times)
    for name, df in tables.items():
        _write(df, Path(out) / "analysis" / name)
    return tables


def format_summary(tables: dict[str, pd.DataFrame], by: list[str], horizon_s: float = 900.0) -> str:
    s = tables["summary"]
    p_col = "p_outage_900s" if horizon_s >= 900 else _p_column(s, horizon_s)
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
            compare = "design" if "design" in by else (by[0] if by else "design")
            text += f"\n\nlog-rank tests between values of {compare}:\n"
            text += tables["logrank"].to_string(index=False)
    return text


def figures_dir(out: str | Path) -> list[Path]:
    """The publication figures of a sweep, from its stored results."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from vnetsim.analysis import figures
    from vnetsim.version import __version__

    out = Path(out)
    runs, manifest = load_runs(out)
    tables = analyze_dir(out)  # recomputed: the figures follow the stored runs
    by = _by(runs, manifest)
    meta = {
        "sweep": str(manifest.get("name")),
        "sweep_hash": str(manifest.get("sweep_hash")),
        "vnetsim_version": __version__,
        "git_commit": str(manifest.get("git_commit")),
    }
    hue = "design" if "design" in by else (by[0] if by else None)
    facet = "smp" if "smp" in by else None
    paths: list[Path] = []
    rest = [c for c in by if c not in (hue, facet)]
    km, censor, summary = tables["km"], tables["censor"], tables["summary"]
    with figures.paper_style():
        groups = (
            [((), km, censor)]
            if not rest
            else [
                (
                    (k if isinstance(k, tuple) else (k,)),
                    g,
                    censor.merge(g[rest].drop_duplicates(), on=rest),
                )
                for k, g in km.groupby(rest, sort=True)
            ]
        )
        for key, km_g, cen_g in groups:
            suffix = "".join(f"_{c}-{v}" for c, v in zip(rest, key, strict=True))
            fig = figures.km_figure(
                km_g,
                cen_g,
                facet=facet,
                hue=hue,
                horizon_s=float(manifest.get("horizon_s", 0)) or None,
            )
            paths += figures.save_figure(fig, out / "figures" / f"km{suffix}", metadata=meta)
            plt.close(fig)
        if facet == "smp" and "load_rps" in by and hue == "design":
            fig = figures.time_to_outage_vs_smp(summary, x="smp", hue="load_rps", facet="design")
            paths += figures.save_figure(fig, out / "figures" / "rmst_vs_smp", metadata=meta)
            plt.close(fig)
            # P(outage within 15 min), or within the horizon of a shorter sweep
            horizon = float(manifest.get("horizon_s") or 0.0)
            col = "p_outage_900s" if horizon >= 900 else _p_column(summary, horizon)
            if col in summary and summary[col].notna().any():
                fig = figures.outage_probability_heatmap(
                    summary, x="smp", y="load_rps", facet="design", column=col
                )
                paths += figures.save_figure(
                    fig, out / "figures" / "p_outage_heatmap", metadata=meta
                )
                plt.close(fig)
        if facet is not None and hue is not None:
            ok = runs[runs["error"].fillna("") == ""] if "error" in runs else runs
            fig = figures.blackout_figure(ok, x=facet, hue=hue)
            paths += figures.save_figure(fig, out / "figures" / "blackout", metadata=meta)
            plt.close(fig)
    return paths


def _p_column(summary: pd.DataFrame, horizon: float) -> str:
    from vnetsim.analysis.survival import _tag

    return _tag(horizon)
