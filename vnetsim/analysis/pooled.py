"""One design against a reference, pooled over a sweep's cells: log-rank and rate ratio.

Each cell (``smp`` × ``load_rps``) keeps its own baseline hazard; the comparison is the
stratified log-rank test (statsmodels ``survdiff``) and a rate ratio common to every cell
(Poisson GLM with cell effects; quasi-Poisson on expected outages for split runs), or an
exact one-sided bound when one design had no outage. docs/inference.md.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np
import pandas as pd
from statsmodels.duration.survfunc import survdiff

from vnetsim.analysis.cells import (
    CELL,
    PLAIN,
    SPLIT,
    check_confidence,
    paired_cells,
    pick_reference,
    sorted_levels,
    split_mask,
    totals,
    validated,
    with_cells,
)
from vnetsim.analysis.ratios import (
    exact_ratio_upper,
    fit_poisson,
    standardized_ratio_upper,
    wald,
)
from vnetsim.analysis.survival import _as_list

__all__ = ["pooled_comparison"]

_NAN = float("nan")
_INF = float("inf")

_POOLED_COLUMNS = [
    "level",
    "reference",
    "estimator",
    "strata",
    "events",
    "events_reference",
    "exposure_h",
    "exposure_reference_h",
    "rate_ratio",
    "ci_lower",
    "ci_upper",
    "ratio_pvalue",
    "ratio_is_bound",
    "logrank_statistic",
    "logrank_pvalue",
    "method",
    "note",
]


def _stratified_logrank(plain: pd.DataFrame, group: np.ndarray) -> tuple[float, float]:
    """statsmodels' stratified log-rank chi-square (1 df) and p-value over the cells."""
    time = plain["duration_s"].to_numpy(dtype=float)
    status = plain["event_observed"].to_numpy(dtype=float)
    if not status.any():
        # No outage: O − E and its variance are 0 in every cell; no evidence against H0.
        return 0.0, 1.0
    try:
        chisq, pvalue = survdiff(time, status, group, strata=plain[CELL].to_numpy())
    except np.linalg.LinAlgError:
        # Zero variance with events: every run at risk failed at the same instant in every
        # cell, where O − E is 0 as well.
        return 0.0, 1.0
    return float(chisq), float(pvalue)


def _common_ratio(cells: pd.DataFrame, kind: str, confidence: float) -> dict[str, object]:
    """rate_ratio, interval, bound flag, method and note for one pair of groups."""
    k_l, e_l = cells["events_l"].to_numpy(float), cells["exposure_s_l"].to_numpy(float)
    k_r, e_r = cells["events_r"].to_numpy(float), cells["exposure_s_r"].to_numpy(float)
    out: dict[str, object] = dict(
        rate_ratio=_NAN, ci_lower=_NAN, ci_upper=_NAN, ratio_pvalue=_NAN, ratio_is_bound=False
    )
    quasi = kind == SPLIT
    if cells.empty:
        return {**out, "method": "", "note": "no cell with valid runs of both"}
    if k_l.sum() == 0 and k_r.sum() == 0:
        return {**out, "method": "", "note": "no outage in either group: ratio undefined"}
    if k_l.sum() == 0 or k_r.sum() == 0:
        zero_is_level = k_l.sum() == 0
        if quasi:
            method = (
                "one-sided Poisson bound on the expected outages of the group without any, "
                "over those the other's cell rates predict"
            )
            args = (e_l, k_r, e_r) if zero_is_level else (e_r, k_l, e_l)
            bound = standardized_ratio_upper(0.0, *args, confidence)
        else:
            method = "exact conditional one-sided bound (binomial given cell totals)"
            args4 = (k_l, k_r, e_l, e_r) if zero_is_level else (k_r, k_l, e_r, e_l)
            bound = exact_ratio_upper(*args4, confidence)
        if zero_is_level:
            return {
                **out,
                "rate_ratio": 0.0,
                "ci_lower": 0.0,
                "ci_upper": bound,
                "ratio_is_bound": True,
                "method": method,
                "note": "level has no outage: ci_upper is the one-sided upper bound",
            }
        return {
            **out,
            "rate_ratio": _INF,
            "ci_lower": 1.0 / bound if bound > 0 else _INF,
            "ci_upper": _INF,
            "ratio_is_bound": True,
            "method": method,
            "note": "reference has no outage: ci_lower is the one-sided lower bound",
        }
    # Cells without any outage carry no information on the ratio (their baseline's MLE is 0)
    # and would make the fit degenerate: they are left out of it.
    info = (k_l + k_r) > 0
    m = int(info.sum())
    y = np.concatenate([k_l[info], k_r[info]])
    exposure = np.concatenate([e_l[info], e_r[info]])
    x = np.column_stack(
        [np.vstack([np.eye(m), np.eye(m)]), np.concatenate([np.ones(m), np.zeros(m)])]
    )
    res, scale, problem = fit_poisson(y, x, exposure, quasi=quasi)
    family = "quasi-Poisson GLM on expected outages" if quasi else "Poisson GLM"
    method = f"{family}, cell effects + group indicator, offset log exposure; Wald CI"
    if quasi:
        method += f" (scale {scale:.3g})" if m > 1 else " (one cell: scale 1, no df)"
    if res is None:
        return {**out, "method": method, "note": problem}
    ratio, lo, hi, p = wald(float(res.params[-1]), float(res.bse[-1]), confidence)
    return {
        **out,
        "rate_ratio": ratio,
        "ci_lower": lo,
        "ci_upper": hi,
        "ratio_pvalue": p,
        "method": method,
        "note": "",
    }


def pooled_comparison(
    runs: pd.DataFrame,
    *,
    compare: str = "design",
    reference: Hashable | None = None,
    strata: Sequence[str] = ("smp", "load_rps"),
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Each level of ``compare`` against a reference, pooled over the strata cells.

    Parameters
    ----------
    runs : DataFrame
        One row per run: ``duration_s``, ``event_observed``, ``compare`` and the ``strata``
        columns; optionally ``error`` (such rows are left out), ``estimator`` and, for split
        rows, the columns of :func:`vnetsim.analysis.split.split_tables`; ``run_id`` names runs
        in error messages.
    compare : str
        Column whose levels are compared (e.g. ``"design"``).
    reference : optional
        The level the others are compared with; default ``"old"`` if it is a level, else the
        first level in sorted order. A reference that is no level at all is an error.
    strata : sequence of str
        Columns whose combinations are the cells (each with its own baseline hazard).
    confidence : float
        Level of the two-sided Wald interval and of the one-sided bounds.

    Returns
    -------
    DataFrame
        One row per level other than the reference and estimator (plain rows, then split
        rows; they are never pooled together): ``level``, ``reference``, ``estimator``
        (``"plain"`` or ``"split"``), ``strata`` (cells where both have valid runs with
        positive exposure; only these enter), ``events``, ``events_reference`` (outages;
        expected outages Σ(1 − S_r) for split rows), ``exposure_h``, ``exposure_reference_h``
        (run-hours; Σ∫S_r for split rows);
        ``rate_ratio`` = level / reference hazard, common to all cells with a baseline per
        cell (Poisson GLM with cell effects and a group indicator, offset log exposure;
        quasi-Poisson for split rows), ``ci_lower``, ``ci_upper`` (Wald, on the log scale),
        ``ratio_pvalue`` (Wald);
        ``ratio_is_bound``: true when one group had no outage. Level without outage:
        ``rate_ratio = ci_lower = 0`` and ``ci_upper`` is the one-sided upper bound (plain:
        exact conditional bound; split: the level's Poisson bound over the outages the
        reference's cell rates predict). Reference without outage: ``rate_ratio = inf``,
        ``ci_upper = inf`` and ``ci_lower`` the one-sided lower bound (the same bound, roles
        swapped). Both without: NaN with a ``note``;
        ``logrank_statistic`` (chi-square, 1 df), ``logrank_pvalue``: the stratified log-rank
        test (statsmodels ``survdiff`` with the cells as strata; 0 and 1 without any outage;
        NaN for split rows); ``method``, ``note``.
    """
    check_confidence(confidence)
    strata = _as_list(list(strata))
    valid, _cells = with_cells(validated(runs, [compare, *strata]), strata)
    table = totals(valid, [compare, CELL])
    levels_all = sorted_levels(table[compare]) if len(table) else []
    if reference is not None and reference not in levels_all:
        raise ValueError(f"reference {reference!r} is not a value of {compare!r}: {levels_all}")
    split = split_mask(valid)
    rows = []
    for kind in (PLAIN, SPLIT):
        kt = table.loc[table["estimator"] == kind]
        if kt.empty:
            continue
        levels = sorted_levels(kt[compare])
        ref = pick_reference(levels, reference)
        if ref not in levels:
            continue
        for level in levels:
            if level == ref:
                continue
            cells = paired_cells(kt, compare, level, ref)
            row: dict[str, object] = {
                "level": level,
                "reference": ref,
                "estimator": kind,
                "strata": len(cells),
                "events": cells["events_l"].sum(),
                "events_reference": cells["events_r"].sum(),
                "exposure_h": float(cells["exposure_s_l"].sum()) / 3600.0,
                "exposure_reference_h": float(cells["exposure_s_r"].sum()) / 3600.0,
                **_common_ratio(cells, kind, confidence),
                "logrank_statistic": _NAN,
                "logrank_pvalue": _NAN,
            }
            if kind == PLAIN and len(cells):
                pick = (
                    ~split
                    & valid[compare].isin([level, ref]).to_numpy()
                    & valid[CELL].isin(cells[CELL]).to_numpy()
                )
                plain = valid.loc[pick]
                group = (plain[compare] == level).to_numpy(dtype=int)
                stat, p = _stratified_logrank(plain, group)
                row.update(logrank_statistic=stat, logrank_pvalue=p)
                parts = ["stratified log-rank (survdiff)", str(row["method"])]
                row["method"] = "; ".join(m for m in parts if m)
            rows.append(row)
    return pd.DataFrame(rows, columns=_POOLED_COLUMNS)
