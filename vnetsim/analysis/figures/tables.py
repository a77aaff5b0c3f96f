"""Checks and level orderings of the tidy tables the figures read."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd


def require_columns(
    df: pd.DataFrame, columns: Sequence[str | None], table: str, *, allow_empty: bool = False
) -> None:
    """Raise ValueError if ``df`` is not a DataFrame, lacks a column, or is empty.

    ``None`` entries (an unused facet or hue) are ignored.
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"{table} must be a pandas DataFrame, got {type(df).__name__}")
    wanted = list(dict.fromkeys(c for c in columns if c is not None))
    missing = [c for c in wanted if c not in df.columns]
    if missing:
        names = ", ".join(repr(c) for c in missing)
        raise ValueError(
            f"{table} table is missing column(s) {names}; it has {', '.join(map(repr, df.columns))}"
        )
    if not allow_empty and df.empty:
        raise ValueError(
            f"{table} table is empty (needs rows with columns {', '.join(map(repr, wanted))})"
        )


def require_unique(df: pd.DataFrame, keys: Sequence[str], table: str, hint: str) -> None:
    """Raise ValueError if several rows share the same values of ``keys``."""
    dup = df.duplicated(subset=list(keys), keep=False)
    if dup.any():
        first = df.loc[dup, list(keys)].iloc[0].to_dict()
        raise ValueError(f"{table} table has several rows for {first}: {hint}")


def levels(values: pd.Series, order: Sequence[Any] | None = None) -> list[Any]:
    """Distinct values in ``order`` (if given, keeping only those present) or sorted."""
    present = pd.unique(values.dropna())
    if order is not None:
        present_set = set(present.tolist())
        return [v for v in order if v in present_set]
    try:
        return sorted(present.tolist())
    except TypeError:  # mixed types: keep order of appearance
        return list(present)


def as_bool(s: pd.Series) -> pd.Series:
    """A boolean column with missing values as False."""
    if s.dtype == bool:
        return s
    return s.astype("boolean").fillna(False).astype(bool)
