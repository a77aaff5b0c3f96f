"""Checks of a runs table before any estimate: bad data is refused, naming the run.

A NaN event flag or the string ``"False"`` must not count as an outage, a negative or NaN
duration must not enter a Kaplan–Meier curve, and a NaN horizon must not give an RMST of 0.
Every check raises :class:`~vnetsim.config.ConfigError` (a ``ValueError``; the CLI exits 2)
with one line naming the column, the run and what is allowed. Rows with an ``error`` are
not checked: they enter no estimate.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable

import numpy as np
import pandas as pd

from vnetsim.config import ConfigError

__all__ = ["check_runs", "error_mask", "run_label"]


def error_mask(runs: pd.DataFrame) -> np.ndarray:
    """True for runs that failed (non-empty ``error``); a missing column means none did."""
    if "error" not in runs.columns:
        return np.zeros(len(runs), dtype=bool)
    err = runs["error"].fillna("").astype(str).str.strip()
    return (err != "").to_numpy()


def run_label(runs: pd.DataFrame, index: Hashable) -> str:
    """How a message names one run: its ``run_id`` if the table has one, else its row."""
    if "run_id" in runs.columns:
        return f"run {runs.at[index, 'run_id']!r}"
    return f"row {index!r}"


def _first_bad(runs: pd.DataFrame, bad: np.ndarray) -> Hashable | None:
    hits = np.flatnonzero(bad)
    return runs.index[hits[0]] if hits.size else None


def _is_flag(value: object) -> bool:
    # bool, numpy bool, or the integers 0/1; never a string, NaN or None
    if isinstance(value, bool | np.bool_):
        return True
    return isinstance(value, int | np.integer) and int(value) in (0, 1)


def _check_flags(runs: pd.DataFrame, column: str) -> None:
    values = runs[column]
    if pd.api.types.is_bool_dtype(values.dtype) and not values.isna().any():
        return
    bad = ~values.map(_is_flag).to_numpy(dtype=bool)
    index = _first_bad(runs, bad)
    if index is not None:
        raise ConfigError(
            f"runs: {run_label(runs, index)} has {column} = {values.at[index]!r} "
            "(allowed: true/false or 1/0)"
        )


def _check_numbers(runs: pd.DataFrame, column: str, *, positive: bool) -> None:
    values = pd.to_numeric(runs[column], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(values) | ((values <= 0.0) if positive else (values < 0.0))
    index = _first_bad(runs, bad)
    if index is not None:
        allowed = "a finite number > 0" if positive else "a finite number >= 0"
        raise ConfigError(
            f"runs: {run_label(runs, index)} has {column} = {runs.at[index, column]!r} "
            f"(allowed: {allowed})"
        )


def check_runs(
    runs: pd.DataFrame,
    *,
    flags: Iterable[str] = ("event_observed",),
    durations: Iterable[str] = ("duration_s",),
    positive: Iterable[str] = (),
) -> None:
    """Refuse a runs table whose valid rows carry bad values (``ConfigError``, one line).

    Parameters
    ----------
    runs : DataFrame
        One row per run; rows with a non-empty ``error`` are skipped.
    flags : iterable of str
        Columns that must hold booleans (or 0/1): no NaN, no strings.
    durations : iterable of str
        Columns that must hold finite numbers >= 0.
    positive : iterable of str
        Columns that must hold finite numbers > 0 (e.g. ``horizon_s``).
    """
    valid = runs.loc[~error_mask(runs)]
    for column in flags:
        if column in valid.columns:
            _check_flags(valid, column)
    for column in durations:
        if column in valid.columns:
            _check_numbers(valid, column, positive=False)
    for column in positive:
        if column in valid.columns:
            _check_numbers(valid, column, positive=True)
