"""Certifying a fix: how far below the old design's hazard the new one is shown to be.

Per cell and pooled, the fixed design's exposure (run-hours without outage), its one-sided
hazard bound, the bound on its ratio to the reference's hazard, and the run-hours at which
that bound would fall below a target ratio ("how many simulated hours show the fix below 1 %
of the old hazard"). docs/inference.md.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np
import pandas as pd

from vnetsim.analysis.cells import (
    CELL,
    PLAIN,
    SPLIT,
    check_confidence,
    sorted_levels,
    totals,
    validated,
    with_cells,
)
from vnetsim.analysis.fits import exponential_rate_ci, poisson_rate_upper
from vnetsim.analysis.ratios import exact_ratio_upper, standardized_ratio_upper
from vnetsim.analysis.survival import _as_list

__all__ = ["certification"]

_NAN = float("nan")
_INF = float("inf")

_CERT_COLUMNS = [
    "estimator",
    "cells",
    "runs",
    "exposure_h",
    "events",
    "hazard_upper_per_h",
    "hazard_upper_method",
    "runs_reference",
    "exposure_reference_h",
    "events_reference",
    "reference_hazard_per_h",
    "reference_hazard_ci_lower_per_h",
    "reference_hazard_ci_upper_per_h",
    "ratio_upper",
    "target_ratio",
    "certified",
    "hours_needed",
    "hours_more",
    "method",
    "note",
]


def _certify(
    cells: pd.DataFrame, kind: str, target_ratio: float, confidence: float, *, pooled: bool
) -> dict[str, object]:
    """One certification row from per-cell totals (``*_l`` design, ``*_r`` reference)."""
    k_l, e_l = cells["events_l"].to_numpy(float), cells["exposure_s_l"].to_numpy(float)
    k_r, e_r = cells["events_r"].to_numpy(float), cells["exposure_s_r"].to_numpy(float)
    events, exposure = float(k_l.sum()), float(e_l.sum())
    events_ref, exposure_ref = float(k_r.sum()), float(e_r.sum())
    _, ref_lo, ref_hi = exponential_rate_ci(events_ref, exposure_ref, confidence)
    if kind == SPLIT:
        method = (
            "Poisson bound on the design's expected outages over those the reference's cell "
            "rates predict (reference rates taken as known)"
        )
    else:
        method = "exact conditional one-sided bound (binomial given cell totals)"
    row: dict[str, object] = {
        "estimator": kind,
        "cells": int(np.count_nonzero((cells["runs_l"] > 0) & (cells["runs_r"] > 0))),
        "runs": int(cells["runs_l"].sum()),
        "exposure_h": exposure / 3600.0,
        "events": cells["events_l"].sum(),
        "hazard_upper_per_h": (
            3600.0 * poisson_rate_upper(events, exposure, confidence) if exposure > 0 else _INF
        ),
        "hazard_upper_method": "exposure",
        "runs_reference": int(cells["runs_r"].sum()),
        "exposure_reference_h": exposure_ref / 3600.0,
        "events_reference": cells["events_r"].sum(),
        "reference_hazard_per_h": 3600.0 * events_ref / exposure_ref if exposure_ref > 0 else _NAN,
        "reference_hazard_ci_lower_per_h": 3600.0 * ref_lo,
        "reference_hazard_ci_upper_per_h": 3600.0 * ref_hi,
        "ratio_upper": _NAN,
        "target_ratio": target_ratio,
        "certified": pd.NA,
        "hours_needed": _NAN,
        "hours_more": _NAN,
        "method": method,
        "note": "",
    }
    if not exposure_ref > 0:
        return {**row, "note": "no reference runs (with exposure) here"}
    if events_ref <= 0:
        return {**row, "note": "reference has no outage: the ratio bound is undefined"}
    if pooled and not exposure > 0:
        return {**row, "note": "design has no exposure: nothing to spread new hours by"}
    # The bound depends on the design's exposure only through R·e_l, so scaling every e_l by
    # f turns it into R_up / f: with new hours spread in proportion to the current ones (and
    # no further outage), the bound reaches the target at R_up · exposure / target_ratio. A
    # cell without design exposure yet is the same from a unit exposure.
    scaled = e_l if exposure > 0 else np.ones_like(e_l)
    if kind == SPLIT:
        bound = standardized_ratio_upper(events, scaled, k_r, e_r, confidence)
    else:
        bound = exact_ratio_upper(k_l, k_r, scaled, e_r, confidence)
    needed = bound * float(scaled.sum()) / target_ratio / 3600.0
    row.update(
        ratio_upper=bound if exposure > 0 else _INF,
        certified=bool(exposure > 0 and bound < target_ratio),
        hours_needed=needed,
        hours_more=max(0.0, needed - exposure / 3600.0),
    )
    if not exposure > 0:
        row["note"] = "design has no runs here"
    elif events > 0:
        row["note"] = "design had outages: hours_needed assumes no further one"
    return row


def certification(
    runs: pd.DataFrame,
    *,
    design: Hashable = "new",
    reference: Hashable = "old",
    target_ratio: float = 0.01,
    strata: Sequence[str] = ("smp", "load_rps"),
    confidence: float = 0.95,
    compare: str = "design",
) -> pd.DataFrame:
    """How far below the reference the design's hazard is shown to be, and what it would take.

    Parameters
    ----------
    runs : DataFrame
        One row per run (see :func:`pooled_comparison`).
    design, reference : optional
        The levels of ``compare`` certified and certified against.
    target_ratio : float
        The claim to certify: design hazard / reference hazard < ``target_ratio``.
    strata : sequence of str
        Columns whose combinations are the cells.
    confidence : float
        Level of the one-sided bounds and of the two-sided reference interval.
    compare : str
        Column holding ``design`` and ``reference``.

    Returns
    -------
    DataFrame
        Per estimator, one row per cell where either has valid runs (``scope = "cell"``), then
        one pooled row (``scope = "pooled"``, strata columns missing; without ``strata``, the
        pooled row only). Columns: the strata, ``scope``, ``estimator``, ``cells`` (with
        runs of both; the pooled row uses only those), ``runs``, ``exposure_h`` (design
        run-hours; Σ∫S_r for split), ``events`` (expected outages for split),
        ``hazard_upper_per_h`` (one-sided Poisson bound chi2.ppf(confidence, 2k + 2) / 2T;
        inf without exposure), ``hazard_upper_method`` (``"exposure"``: that bound is on the
        time exposure, model-free; split_summary's ``hazard_per_hour_upper`` may instead be
        the tighter replay bound, ``hazard_per_hour_upper_method = "replays"``,
        docs/split-statistics.md), ``runs_reference``, ``exposure_reference_h``,
        ``events_reference``, ``reference_hazard_per_h`` with its exact two-sided chi-square
        interval ``reference_hazard_ci_lower_per_h``/``_upper_per_h``;
        ``ratio_upper``: one-sided upper bound on design/reference (plain: the exact
        conditional bound given the cell totals, common ratio across cells in the pooled row;
        split: the design's Poisson bound over the outages the reference's cell rates predict
        for its exposure; inf in a cell without design runs); ``target_ratio``; ``certified``
        = ``ratio_upper < target_ratio`` (nullable boolean); ``hours_needed``: the design
        run-hours at which the bound reaches ``target_ratio`` if no further outage occurs,
        the reference data kept as they are (pooled: new hours spread over the cells in
        proportion to the current ones); for one cell with n reference outages in E_ref
        hours and none of the design's it is E_ref·(α^(−1/n) − 1) / target_ratio;
        ``hours_more`` = max(0, hours_needed − exposure_h); ``method``, ``note``. NaN with a
        note where the reference has no outage (no bound exists) or no runs.
    """
    check_confidence(confidence)
    if not target_ratio > 0:
        raise ValueError(f"target_ratio must be > 0, got {target_ratio!r}")
    strata = _as_list(list(strata))
    valid, cell_table = with_cells(validated(runs, [compare, *strata]), strata)
    table = totals(valid, [compare, CELL])
    levels = sorted_levels(table[compare]) if len(table) else []
    for name, value in (("design", design), ("reference", reference)):
        if value not in levels:
            raise ValueError(f"{name} {value!r} is not a value of {compare!r}: {levels}")
    columns = [CELL, "runs", "events", "exposure_s"]
    rows = []
    for kind in (PLAIN, SPLIT):
        kt = table.loc[table["estimator"] == kind]
        a = kt.loc[kt[compare] == design, columns]
        b = kt.loc[kt[compare] == reference, columns]
        if a.empty and b.empty:
            continue
        merged = a.merge(b, on=CELL, how="outer", suffixes=("_l", "_r")).sort_values(CELL)
        merged = merged.fillna(0).reset_index(drop=True)
        if kind == PLAIN:
            for col in ("runs_l", "runs_r", "events_l", "events_r"):
                merged[col] = merged[col].astype(int)
        if strata:
            keys = cell_table.set_index(CELL)
            for i in range(len(merged)):
                one = merged.iloc[[i]]
                key = keys.loc[one[CELL].iloc[0], strata].to_dict()
                cell = _certify(one, kind, target_ratio, confidence, pooled=False)
                rows.append({**key, "scope": "cell", **cell})
        both = merged.loc[(merged["runs_l"] > 0) & (merged["runs_r"] > 0)]
        pooled = _certify(both, kind, target_ratio, confidence, pooled=True)
        rows.append({"scope": "pooled", **pooled})
    out = pd.DataFrame(rows, columns=[*strata, "scope", *_CERT_COLUMNS])
    out["certified"] = out["certified"].astype("boolean")
    return out
