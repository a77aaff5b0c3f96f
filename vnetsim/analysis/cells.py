"""A sweep's runs as cells: the per-cell outage counts and exposures the pooled models take.

A cell is one combination of the strata columns (``smp`` × ``load_rps`` by default). Plain
runs contribute their outage count and Σ ``duration_s``; split runs (``estimator =
"split"``) the expected outages Σ(1 − S_r(h_r)) and expected time at risk Σ∫₀^{h_r} S_r of
:func:`vnetsim.analysis.split.expected_outages`. The two are never mixed in one total: every
total says which estimator it comes from.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np
import pandas as pd

from vnetsim.analysis.checks import check_runs, error_mask
from vnetsim.analysis.split import expected_outages

__all__ = [
    "CELL",
    "PLAIN",
    "SPLIT",
    "check_confidence",
    "paired_cells",
    "pick_reference",
    "sorted_levels",
    "split_mask",
    "totals",
    "validated",
    "with_cells",
]

PLAIN, SPLIT = "plain", "split"
CELL = "__cell__"  # internal column: the code of a run's stratum cell
_SPLIT_COLUMNS = ("horizon_s", "split_series", "split_stopped_s")


def check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence!r}")


def split_mask(valid: pd.DataFrame) -> np.ndarray:
    """True for the split estimator's rows; a table without ``estimator`` is all plain."""
    if "estimator" not in valid.columns:
        return np.zeros(len(valid), dtype=bool)
    return (valid["estimator"].astype(str) == SPLIT).to_numpy()


def validated(runs: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """The valid (non-error) runs, checked, with ``event_observed`` as bool.

    Refuses (one line, naming the run) what :func:`vnetsim.analysis.checks.check_runs`
    refuses, and a table without one of ``columns``.
    """
    needed = list(dict.fromkeys(["duration_s", "event_observed", *columns]))
    missing = [c for c in needed if c not in runs.columns]
    if missing:
        raise ValueError(f"runs has no column {missing[0]!r} (needed: {', '.join(needed)})")
    check_runs(runs)
    valid = runs.loc[~error_mask(runs)].copy()
    valid["duration_s"] = pd.to_numeric(valid["duration_s"]).to_numpy(dtype=float)
    valid["event_observed"] = valid["event_observed"].to_numpy(dtype=bool)
    if split_mask(valid).any():
        absent = [c for c in _SPLIT_COLUMNS if c not in valid.columns]
        if absent:
            raise ValueError(f"runs has split rows but no column {absent[0]!r}")
    return valid


def with_cells(valid: pd.DataFrame, strata: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``valid`` with a cell code column, and the table of cells (code → strata values)."""
    out = valid.copy()
    if strata:
        out[CELL] = out.groupby(strata, dropna=False, sort=True).ngroup().to_numpy()
        cells = out.drop_duplicates(CELL).sort_values(CELL)[[CELL, *strata]]
    else:
        out[CELL] = 0
        cells = pd.DataFrame({CELL: [0]})
    return out, cells.reset_index(drop=True)


def totals(valid: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Per group of ``keys`` and estimator: ``runs``, ``events`` and ``exposure_s``."""
    columns = [*keys, "estimator", "runs", "events", "exposure_s"]
    parts = []
    split = split_mask(valid)
    plain = valid.loc[~split]
    if len(plain):
        table = (
            plain.groupby(keys, dropna=False, sort=True)
            .agg(
                runs=("duration_s", "size"),
                events=("event_observed", "sum"),
                exposure_s=("duration_s", "sum"),
            )
            .reset_index()
        )
        parts.append(table.assign(estimator=PLAIN)[columns])
    if split.any():
        parts.append(expected_outages(valid.loc[split], keys).assign(estimator=SPLIT)[columns])
    if not parts:
        return pd.DataFrame(columns=columns)
    return pd.concat(parts, ignore_index=True)


def sorted_levels(values: pd.Series) -> list[Hashable]:
    return values.drop_duplicates().sort_values().tolist()


def pick_reference(levels: list[Hashable], reference: Hashable | None) -> Hashable:
    if reference is not None:
        return reference
    return "old" if "old" in levels else levels[0]


def paired_cells(table: pd.DataFrame, compare: str, level: Hashable, ref: Hashable) -> pd.DataFrame:
    """Cells where both groups have valid runs with positive exposure: k_l, e_l, k_r, e_r."""
    a = table.loc[table[compare] == level, [CELL, "runs", "events", "exposure_s"]]
    b = table.loc[table[compare] == ref, [CELL, "runs", "events", "exposure_s"]]
    both = a.merge(b, on=CELL, suffixes=("_l", "_r"))
    both = both.loc[(both["exposure_s_l"] > 0) & (both["exposure_s_r"] > 0)]
    return both.sort_values(CELL).reset_index(drop=True)
