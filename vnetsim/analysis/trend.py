"""How the hazard grows with vCPUs and load: a Poisson regression per design.

log rate = a + b·log2(smp) + c·log2(load_rps) with offset log(exposure) over the cells of a
sweep (statsmodels GLM; quasi-Poisson on expected outages for split runs). exp(b) is the
factor per doubling of vCPUs. It replaces pairwise log-rank tests between SMP values, which
answer a weaker question with less power. docs/inference.md.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from vnetsim.analysis.cells import (
    PLAIN,
    SPLIT,
    check_confidence,
    totals,
    validated,
)
from vnetsim.analysis.checks import check_runs
from vnetsim.analysis.ratios import fit_poisson, wald
from vnetsim.analysis.survival import _as_list

__all__ = ["trend"]

_NAN = float("nan")

_TREND_TERMS = {"log2_smp": "smp", "log2_load": "load_rps"}
_TREND_COLUMNS = [
    "estimator",
    "term",
    "rate_ratio",
    "ci_lower",
    "ci_upper",
    "pvalue",
    "events",
    "cells",
    "exposure_h",
    "dispersion",
    "model",
    "note",
]


def _trend_rows(
    cells: pd.DataFrame, kind: str, confidence: float, min_events: float
) -> list[dict[str, object]]:
    cells = cells.loc[cells["exposure_s"] > 0]
    events = cells["events"].sum()
    base: dict[str, object] = {
        "estimator": kind,
        "rate_ratio": _NAN,
        "ci_lower": _NAN,
        "ci_upper": _NAN,
        "pvalue": _NAN,
        "events": events,
        "cells": len(cells),
        "exposure_h": float(cells["exposure_s"].sum()) / 3600.0,
        "dispersion": _NAN,
        "model": "",
        "note": "",
    }
    covariates = {
        term: np.log2(cells[col].to_numpy(dtype=float)) for term, col in _TREND_TERMS.items()
    }
    used = [term for term, v in covariates.items() if np.unique(v).size > 1]
    rows = {
        term: {**base, "term": term, "note": f"{_TREND_TERMS[term]} takes a single value"}
        for term in _TREND_TERMS
    }

    def every(note: str) -> list[dict[str, object]]:
        return [{**rows[t], "note": note} if t in used else rows[t] for t in _TREND_TERMS]

    if not used:
        return list(rows.values())
    if events < min_events:
        return every(f"fewer than {min_events:g} outages ({events:g}): no trend fitted")
    y = cells["events"].to_numpy(dtype=float)
    x = np.column_stack([np.ones(len(cells)), *(covariates[t] for t in used)])
    quasi = kind == SPLIT
    res, scale, problem = fit_poisson(y, x, cells["exposure_s"].to_numpy(float), quasi=quasi)
    terms = " + ".join(f"b·{t}" for t in used)
    family = "quasi-Poisson GLM on expected outages" if quasi else "Poisson GLM"
    model = f"{family}: log rate = a + {terms}, offset log exposure; Wald CI"
    if quasi:
        model += f" (scale {scale:.3g})" if len(y) > x.shape[1] else " (no df: scale 1)"
    if res is None:
        return [{**r, "model": model} for r in every(problem)]
    df_resid = len(y) - x.shape[1]
    dispersion = float(res.pearson_chi2) / df_resid if df_resid > 0 else _NAN
    for j, term in enumerate(used, start=1):
        ratio, lo, hi, p = wald(float(res.params[j]), float(res.bse[j]), confidence)
        rows[term].update(
            rate_ratio=ratio,
            ci_lower=lo,
            ci_upper=hi,
            pvalue=p,
            dispersion=dispersion,
            model=model,
            note="",
        )
    return list(rows.values())


def trend(
    runs: pd.DataFrame,
    *,
    by: str | Sequence[str] = "design",
    confidence: float = 0.95,
    min_events: float = 3,
) -> pd.DataFrame:
    """Per level of ``by``: the change of the hazard per doubling of vCPUs and of load.

    A Poisson GLM per level of the cell counts (cells = ``smp`` × ``load_rps``) on
    ``log2(smp)`` and ``log2(load_rps)`` with offset log(exposure): log rate = a +
    b·log2(smp) + c·log2(load_rps). exp(b) is the factor by which the hazard changes when the
    vCPUs double, load fixed (and exp(c) for load). Other columns that vary within a level are
    pooled into the cells. Split rows: quasi-Poisson on the expected outages.

    Parameters
    ----------
    runs : DataFrame
        One row per run with ``duration_s``, ``event_observed``, ``smp`` and ``load_rps``
        (both > 0; a missing one is taken as a single value) and ``by`` (see
        :func:`pooled_comparison` for the optional columns).
    by : str or sequence of str
        Column(s) whose combinations get a model each (e.g. ``"design"``); ``smp`` and
        ``load_rps`` are covariates, never groups; no column left: one model for all runs.
    confidence : float
        Level of the Wald intervals.
    min_events : float
        Fewer outages (expected outages for split rows) in a level than this: no fit.

    Returns
    -------
    DataFrame
        Two rows per level and estimator, ``by``, ``estimator``, ``term`` (``"log2_smp"``,
        ``"log2_load"``), then ``rate_ratio`` = exp(coefficient), ``ci_lower``, ``ci_upper``
        (Wald, log scale), ``pvalue`` (Wald), ``events``, ``cells`` (with positive exposure),
        ``exposure_h``, ``dispersion`` (Pearson X²/df of the fit; well above 1 means the cells
        vary more than Poisson counts, and the plain intervals are too narrow), ``model``,
        ``note``. A covariate with a single value is left out of the model (NaN and a note).
        NaN with a note, never a number, when the level has fewer than ``min_events``
        outages or the fit is degenerate (no finite MLE, e.g. every outage in one cell;
        collinear covariates; a statsmodels warning or error).
    """
    check_confidence(confidence)
    covariates = list(_TREND_TERMS.values())
    keys = [k for k in _as_list(by) if k not in covariates]  # a covariate is no group
    # A sweep that does not vary load (or SMP) need not carry the column: one value.
    runs = runs.assign(**{c: 1.0 for c in covariates if c not in runs.columns})
    valid = validated(runs, [*keys, *covariates])
    check_runs(valid, durations=(), flags=(), positive=covariates)  # log2 needs > 0
    table = totals(valid, [*keys, *covariates])
    rows = []
    groups = table.groupby(keys, sort=True, dropna=False) if keys else [((), table)]
    for key, group in groups if len(table) else []:
        level = dict(zip(keys, key if isinstance(key, tuple) else (key,), strict=True))
        for kind in (PLAIN, SPLIT):
            cells = group.loc[group["estimator"] == kind]
            if len(cells):
                rows += [{**level, **r} for r in _trend_rows(cells, kind, confidence, min_events)]
    return pd.DataFrame(rows, columns=[*keys, *_TREND_COLUMNS])
