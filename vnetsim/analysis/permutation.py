"""Log-rank tests for cells of 2 or 3 runs per design, with exact permutation p-values.

The normal approximation behind the usual log-rank p-value is poor with so few runs (2
against 2 cannot go below p = 0.09 asymptotically, and a third of null tests fall below
0.10); the permutation p-value (scipy.stats.permutation_test, all relabellings enumerated
when there are few) is exact. docs/inference.md.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from vnetsim.analysis.cells import CELL, split_mask, validated
from vnetsim.analysis.checks import error_mask
from vnetsim.analysis.split import Seed, keyed_rng
from vnetsim.analysis.survival import _as_list

__all__ = ["small_sample_logrank"]

_NAN = float("nan")

_LOGRANK_COLUMNS = [
    "group_a",
    "group_b",
    "n_a",
    "n_b",
    "events_a",
    "events_b",
    "statistic",
    "pvalue_asymptotic",
    "pvalue_exact",
    "permutations",
    "exact",
]


def _logrank_z(t: np.ndarray, e: np.ndarray) -> Callable[..., np.ndarray]:
    """Log-rank Z = (O_a − E_a)/√V of group a, for batches of relabellings (hand-written).

    The returned statistic takes the indices (into ``t``, ``e``) of the runs labelled a along
    ``axis``. At each distinct outage time j the pooled numbers at risk n_j and of outages d_j
    do not depend on the labels, so per relabelling only n_aj (a at risk) and d_aj (a's
    outages) change: O − E = Σ_j (d_aj − d_j n_aj / n_j) and
    V = Σ_j d_j (n_j − d_j) n_aj (n_j − n_aj) / (n_j² (n_j − 1)) — scipy.stats.logrank's
    statistic, in a form that is two matrix products for a whole batch. Z = 0 where V = 0
    (then O − E = 0 too: every run at risk is in one group or fails).
    """
    times = np.unique(t[e])
    at_risk = (t[:, None] >= times[None, :]).astype(float)
    deaths = ((t[:, None] == times[None, :]) & e[:, None]).astype(float)
    n, d = at_risk.sum(axis=0), deaths.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        c = np.where(n > 1, d * (n - d) / (n * n * (n - 1)), 0.0)

    def statistic(x: np.ndarray, axis: int = -1) -> np.ndarray:
        idx = np.moveaxis(np.asarray(x), axis, -1).astype(np.intp)
        mask = np.zeros((*idx.shape[:-1], t.size))
        np.put_along_axis(mask, idx, 1.0, axis=-1)
        n_a, d_a = mask @ at_risk, mask @ deaths
        o_e = np.sum(d_a - d * n_a / n, axis=-1)
        v = np.sum(c * n_a * (n - n_a), axis=-1)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(v > 0, o_e / np.sqrt(v), 0.0)

    return statistic


def _logrank_pair(
    a: tuple[np.ndarray, np.ndarray],
    b: tuple[np.ndarray, np.ndarray],
    max_permutations: int,
    rng: np.random.Generator,
) -> dict[str, object]:
    (ta, ea), (tb, eb) = a, b
    row: dict[str, object] = {
        "n_a": int(ta.size),
        "n_b": int(tb.size),
        "events_a": int(ea.sum()),
        "events_b": int(eb.sum()),
    }
    if ta.size == 0 or tb.size == 0:
        return {
            **row,
            "statistic": _NAN,
            "pvalue_asymptotic": _NAN,
            "pvalue_exact": _NAN,
            "permutations": 0,
            "exact": False,
        }
    if not (ea.any() or eb.any()):
        # Every relabelling gives O − E = 0: the exact p-value is 1 without enumerating.
        return {
            **row,
            "statistic": 0.0,
            "pvalue_asymptotic": 1.0,
            "pvalue_exact": 1.0,
            "permutations": 0,
            "exact": True,
        }
    res = stats.logrank(
        stats.CensoredData(uncensored=ta[ea], right=ta[~ea]),
        stats.CensoredData(uncensored=tb[eb], right=tb[~eb]),
    )
    z = _logrank_z(np.concatenate([ta, tb]), np.concatenate([ea, eb]))

    def absolute(x: np.ndarray, _y: np.ndarray, axis: int = -1) -> np.ndarray:
        return np.abs(z(x, axis=axis))

    relabellings = math.comb(ta.size + tb.size, ta.size)
    exact = relabellings <= max_permutations
    if min(ta.size, tb.size) < 2:
        # scipy's permutation_test needs two runs per sample; with one run in a group the
        # relabellings are just the choice of that run (at most n + 1): enumerate them.
        n_all, n_a = ta.size + tb.size, ta.size
        labels = np.array(list(itertools.combinations(range(n_all), n_a)), dtype=np.intp)
        null = np.abs(z(labels, axis=-1))
        observed = abs(float(z(np.arange(n_a)[None, :], axis=-1)[0]))
        # scipy's tolerance (100 eps relative), so ties with the observed count as at least it
        pvalue = float(np.mean(null >= observed - 100 * np.finfo(float).eps * observed))
        exact = True
    else:
        perm = stats.permutation_test(
            (np.arange(ta.size), ta.size + np.arange(tb.size)),
            absolute,
            permutation_type="independent",
            vectorized=True,
            n_resamples=max_permutations,
            alternative="greater",
            rng=rng,
        )
        pvalue = float(perm.pvalue)
    return {
        **row,
        "statistic": float(res.statistic),
        "pvalue_asymptotic": float(res.pvalue),
        "pvalue_exact": pvalue,
        "permutations": relabellings if exact else max_permutations,
        "exact": exact,
    }


def small_sample_logrank(
    runs: pd.DataFrame,
    by: str | Sequence[str],
    *,
    compare: str = "design",
    exact_max_permutations: int = 20000,
    seed: Seed = 0,
) -> pd.DataFrame:
    """Pairwise log-rank tests within cells, with exact permutation p-values.

    Like :func:`vnetsim.analysis.survival.logrank`, but the p-value does not lean on the
    normal approximation, which is poor with 2 or 3 runs per group: it is the share of the
    relabellings of the two groups' runs (sizes kept) whose |Z| is at least the observed one.

    Parameters
    ----------
    runs : DataFrame
        Plain runs (``duration_s``, ``event_observed``, the ``by`` columns; optionally
        ``error``, ``run_id``). Split rows are refused: their outcome is a curve.
    by : str or sequence of str
        Grouping columns; tests are made within every combination of those other than
        ``compare``.
    compare : str
        Column whose levels are compared pairwise.
    exact_max_permutations : int
        All relabellings are enumerated when there are at most this many (exact p-value);
        otherwise this many random ones (Monte Carlo, p = (1 + #{|Z*| ≥ |Z|}) / (1 + count)).
    seed : int or SeedSequence
        Root of the Monte Carlo randomness; each pair gets its own child sequence keyed by
        its cell and groups, so results do not depend on which other pairs are in the table.

    Returns
    -------
    DataFrame
        The cell columns, then ``group_a, group_b, n_a, n_b, events_a, events_b`` (valid
        runs), ``statistic`` (scipy's signed log-rank Z; positive: ``group_a`` has more
        outages than expected), ``pvalue_asymptotic`` (scipy, two-sided normal),
        ``pvalue_exact`` (two-sided permutation p-value of |Z|), ``permutations`` (how many
        relabellings: all of them when ``exact``, else the Monte Carlo count), ``exact``. No
        outage in either: statistic 0, both p-values 1, ``permutations`` 0. A group without
        valid runs: NaN. With 2 runs against 2 the smallest exact p-value is 2/6 = 1/3.
    """
    by = _as_list(by)
    if exact_max_permutations < 1:
        raise ValueError(f"exact_max_permutations must be >= 1, got {exact_max_permutations!r}")
    valid = validated(runs, [compare, *by])
    split = split_mask(valid)
    if split.any():
        raise ValueError(
            f"{int(split.sum())} split run(s): a split run's outcome is a curve, not a "
            "duration; select runs[runs['estimator'] != 'split']"
        )
    strata = [c for c in by if c != compare]
    # Levels come from every row (a level whose runs all failed gets NaN, as in
    # survival.logrank); the samples from the checked valid rows.
    ok_rows = ~error_mask(runs)
    durations = np.full(len(runs), _NAN)
    durations[ok_rows] = valid["duration_s"].to_numpy(dtype=float)
    flags = np.zeros(len(runs), dtype=bool)
    flags[ok_rows] = valid["event_observed"].to_numpy(dtype=bool)
    checked = runs.reset_index(drop=True).assign(
        duration_s=durations, event_observed=flags, **{CELL: ok_rows}
    )
    rows = []
    groups = checked.groupby(strata, dropna=False, sort=True) if strata else [((), checked)]
    for key, sub in groups:
        key = key if isinstance(key, tuple) else (key,)
        cell = dict(zip(strata, key, strict=True))
        samples = {}
        for level, grp in sub.groupby(compare, dropna=False, sort=True):
            ok = grp.loc[grp[CELL].to_numpy(dtype=bool)]
            samples[level] = (
                ok["duration_s"].to_numpy(dtype=float),
                ok["event_observed"].to_numpy(dtype=bool),
            )
        for a, b in itertools.combinations(samples, 2):
            parts = [*(f"{k}={v}" for k, v in cell.items()), f"a={a}", f"b={b}"]
            rng = keyed_rng(seed, "small_sample_logrank", *parts)
            pair = _logrank_pair(samples[a], samples[b], exact_max_permutations, rng)
            rows.append({**cell, "group_a": a, "group_b": b, **pair})
    return pd.DataFrame(rows, columns=[*strata, *_LOGRANK_COLUMNS])
