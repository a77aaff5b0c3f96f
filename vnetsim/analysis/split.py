"""Statistics of split-estimator runs (``run.estimator = "split"``; docs/split-statistics.md).

Analysis layer (pandas allowed): consumes a tidy DataFrame of runs, one row per run, and never
touches the simulator.

A split run r records, for every interrupt batch i that carried a multi-buffer frame, the batch
time tᵢ, the fraction p̂ᵢ of its Kᵢ replays that started an outage, and Kᵢ (``split_series``).
Its conditional survival curve is

    S_r(t) = Π_{tᵢ ≤ t} (1 − p̂ᵢ) · 1[the parent path had no outage of its own by t],

whose mean over runs is an unbiased estimate of P(no outage by t) (docs/split.md). Everything
here is built from per-run quantities of that curve, so that "resample runs" is the one
bootstrap used throughout:

* :func:`split_tables`: the per-batch and per-run tables the other functions start from;
* :func:`split_curves`: the mean curve S̄(t) and the cumulative hazard −log S̄(t), with
  percentile bootstrap bands over runs;
* :func:`split_summary`: hazard per batch and per hour, S(τ) and the restricted mean RMST(τ),
  the exact zero-failure bound when no replay failed, and weighted post-outage statistics;
* :func:`split_compare`: differences between levels of a column (e.g. the design), with
  bootstrap intervals and permutation p-values.

Resampling is done by :func:`scipy.stats.bootstrap` (``method="percentile"``; degenerate and
undefined resamples handled here, the method named in ``*_ci_method``) and
:func:`scipy.stats.permutation_test`; the zero-failure bound is
:func:`scipy.stats.binomtest`'s exact (Clopper–Pearson) interval. What is written here is only
what those do not provide: parsing the series into step functions, and statistics of a *curve
mean over runs* (no library offers the mean of per-run product curves). Randomness comes only
from ``numpy.random.default_rng(SeedSequence)``; every group (and every statistic within it)
gets its own child sequence keyed by the group's values, so a group's intervals do not depend on
which other groups are in the table.
"""

from __future__ import annotations

import hashlib
import json
import math
import warnings
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from vnetsim.analysis.fits import poisson_rate_upper
from vnetsim.analysis.survival import _as_list, _check_columns, _error_mask, _groups
from vnetsim.scenario.split import conditional_survival

__all__ = [
    "expected_outages",
    "keyed_rng",
    "split_compare",
    "split_curves",
    "split_summary",
    "split_tables",
]

Seed = int | np.random.SeedSequence

_REQUIRED = (
    "estimator",
    "horizon_s",
    "duration_s",
    "event_observed",
    "split_series",
    "split_stopped_s",
)
_BATCH_COLUMNS = ["run", "t_s", "p_hat", "k", "at_risk"]
_EXPOSURE_COLUMNS = ["run", "exposure_s", "own_outage_s", "stopped_s", "horizon_s"]
_CURVE_COLUMNS = [
    "time_s",
    "survival",
    "ci_lower",
    "ci_upper",
    "cumhaz",
    "cumhaz_ci_lower",
    "cumhaz_ci_upper",
    "n_runs",
    "ci_method",
]
# Elements of one bootstrap call for the curve band: the resampled array is (times, batch,
# runs), so the batch size is chosen to keep it at a few tens of MB.
_BOOT_ELEMENTS = 4_000_000
_NAN = float("nan")


# ---------------------------------------------------------------------------
# parsing
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Run:
    """One split run as step functions: batches at risk, and where its own path ended."""

    run: Hashable
    horizon: float
    exposure: float
    own: float  # own outage time; inf without one (so ``t >= own`` is never true)
    stopped: float  # where every replay failed; NaN if never
    series: np.ndarray  # every split batch: (t, p̂, K) rows, sorted by time
    t: np.ndarray  # the batches at risk (a prefix of ``series``)
    p: np.ndarray
    k: np.ndarray
    failed_weight: float
    failed_recovered: bool
    failed_blackout: float

    def survival(self, times: np.ndarray) -> np.ndarray:
        """S_r at ``times`` (right-continuous: a batch at tᵢ counts from tᵢ on)."""
        return conditional_survival(self.t, self.p, self.own, times)

    def rmst(self, tau: float) -> float:
        """∫₀^τ S_r(t) dt of the step function."""
        jumps = [self.t[self.t < tau]]
        if self.own < tau:
            jumps.append(np.array([self.own]))
        knots = np.unique(np.concatenate([[0.0], *jumps]))
        widths = np.diff(np.append(knots, tau))
        return float(np.sum(self.survival(knots) * widths))


@dataclass(frozen=True)
class _Group:
    key: dict[str, Hashable]
    n_errors: int
    runs: list[_Run]

    def column(self, name: str) -> np.ndarray:
        return np.array([getattr(r, name) for r in self.runs], dtype=float)

    def p_sums(self) -> np.ndarray:
        return np.array([r.p.sum() for r in self.runs], dtype=float)

    def n_batches(self) -> np.ndarray:
        return np.array([r.t.size for r in self.runs], dtype=float)


def _no_failure_upper(replays: int, confidence: float) -> float:
    """n = ``replays`` replays, none failed: the exact (Clopper–Pearson) one-sided upper limit
    on the per-batch outage probability, 1 − (1 − confidence)^(1/n)."""
    ci = stats.binomtest(0, replays, alternative="less").proportion_ci(
        confidence_level=confidence, method="exact"
    )
    return float(ci.high)


def _zero_failure_upper(g: _Group, confidence: float) -> float | None:
    """:func:`_no_failure_upper` when no replay at risk failed and no path had an own outage;
    None otherwise, or with no replay at all."""
    replays = int(sum(r.k.sum() for r in g.runs))
    if replays == 0 or any(r.p.any() or math.isfinite(r.own) for r in g.runs):
        return None
    return _no_failure_upper(replays, confidence)


def _no_batch_rate_upper(g: _Group, confidence: float) -> float | None:
    """The zero-event one-sided Poisson bound on the group's hazard, per second, from its run
    exposure Σ e_r (``fits.poisson_rate_upper``: −ln(1 − confidence) / Σ e_r, the rule a plain
    cell without an outage gets), when the group has no split batch at risk at all and no
    path had an own outage; None otherwise. With no batch there is nothing for the replay
    bound to count, and "no batch, so no hazard" would be a claim of the model, not of the
    data."""
    exposure = float(sum(r.exposure for r in g.runs))
    if not g.runs or any(r.t.size or math.isfinite(r.own) for r in g.runs) or not exposure > 0:
        return None
    return poisson_rate_upper(0.0, exposure, confidence)


def _zero_failure_bound(runs: list[_Run], p_upper: float, times: np.ndarray) -> np.ndarray:
    """Lower bound on S(t) when every batch's outage probability is at most ``p_upper``:
    E[(1 − p)^B(t)] ≥ (1 − p)^E[B(t)] (Jensen: convex in B), with E[B(t)] the mean number of
    batches by t over ``runs``."""
    mean_b = np.mean([np.searchsorted(r.t, times, side="right") for r in runs], axis=0)
    return np.asarray((1.0 - p_upper) ** mean_b, dtype=float)


def _series(text: object, where: Hashable) -> np.ndarray:
    """``split_series`` JSON as an (m, 3) float array of (t, p̂, K), sorted by time."""
    raw = json.loads(str(text)) if isinstance(text, str) and text.strip() else []
    arr = np.asarray(raw, dtype=float).reshape(-1, 3)
    t, p, k = arr.T
    if not (np.all(np.isfinite(t)) and np.all((p >= 0) & (p <= 1)) and np.all(k >= 1)):
        raise ValueError(f"run {where!r}: split_series needs finite t, 0 <= p <= 1 and K >= 1")
    return arr[np.argsort(t, kind="stable")]


def _run_ids(valid: pd.DataFrame) -> list[Hashable]:
    # Sweep tables name runs ``run_id``; ad hoc tables (experiments/) ``run``; else the index.
    for col in ("run_id", "run"):
        if col in valid.columns:
            ids = valid[col].tolist()
            break
    else:
        ids = valid.index.tolist()
    if len(set(ids)) != len(ids):
        raise ValueError(
            "run identifiers are not unique (run_id, run, or the index): "
            "give each run its own, e.g. runs.reset_index(drop=True)"
        )
    return ids


def _num(row: pd.Series, name: str, default: float = _NAN) -> float:
    value = row.get(name, default)
    return default if value is None or pd.isna(value) else float(value)


def _parse_run(row: pd.Series, run: Hashable) -> _Run:
    horizon = float(row["horizon_s"])
    own = float(row["duration_s"]) if bool(row["event_observed"]) else math.inf
    stopped = _num(row, "split_stopped_s")
    # The parent path is at risk and watched until the horizon, its own outage, or the batch
    # where every replay failed (Ŝ = 0 after it and the run stopped).
    exposure = min(horizon, own, stopped if math.isfinite(stopped) else math.inf)
    arr = _series(row["split_series"], run)
    # A batch after the exposure ended (after an own outage) cannot start the outage that has
    # already begun: its p̂ is not a hazard of this path.
    risk = arr[arr[:, 0] <= exposure]
    recovered = row.get("split_failed_recovered", False)
    return _Run(
        run=run,
        horizon=horizon,
        exposure=exposure,
        own=own,
        stopped=stopped,
        series=arr,
        t=risk[:, 0].copy(),
        p=risk[:, 1].copy(),
        k=risk[:, 2].copy(),
        failed_weight=_num(row, "split_failed_weight"),
        failed_recovered=bool(recovered) if not pd.isna(recovered) else False,
        failed_blackout=_num(row, "split_failed_blackout_s"),
    )


def _parse(runs: pd.DataFrame, by: list[str]) -> list[_Group]:
    """Valid split runs per group; rows with an error are dropped, plain rows refused."""
    _check_columns(runs, [*_REQUIRED, *by])
    valid_all = runs.loc[~_error_mask(runs)]
    plain = valid_all["estimator"].astype(str) != "split"
    if plain.any():
        raise ValueError(
            f"{int(plain.sum())} run(s) with estimator != 'split' (plain runs have no split "
            "series; use vnetsim.analysis.survival for them, or select "
            "runs[runs['estimator'] == 'split'])"
        )
    groups = []
    for key, sub in _groups(runs, by):
        valid = sub.loc[~_error_mask(sub)]
        ids = _run_ids(valid)
        parsed = [_parse_run(row, rid) for rid, (_, row) in zip(ids, valid.iterrows(), strict=True)]
        groups.append(_Group(key, len(sub) - len(valid), parsed))
    return groups


# ---------------------------------------------------------------------------
# resampling helpers
# ---------------------------------------------------------------------------


def keyed_rng(seed: Seed, *parts: object) -> np.random.Generator:
    """A generator for one (statistic, group): a child of ``seed`` keyed by a hash of ``parts``.

    Keyed, not spawned in order, so a group's draws do not depend on which other groups are
    in the table."""
    root = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    blob = json.dumps([str(p) for p in parts]).encode()
    k = int.from_bytes(hashlib.sha256(blob).digest()[:8], "little")
    return np.random.default_rng(
        np.random.SeedSequence(root.entropy, spawn_key=(*root.spawn_key, k))
    )


def expected_outages(runs: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    """Per group of ``by``: ``runs``, ``events`` = Σ(1 − S_r(h_r)) and ``exposure_s`` = Σ∫S_r.

    The split estimator's counterpart of a plain group's outage count and run-seconds: each
    run's expected outages and expected time at risk up to its horizon, summed (what a
    Poisson-type model of the hazard takes as response and exposure).
    """
    by = list(by)
    rows = []
    for group in _parse(runs, by):
        lost = [1.0 - float(r.survival(np.array([r.horizon]))[0]) for r in group.runs]
        at_risk = [r.rmst(r.horizon) for r in group.runs]
        rows.append(
            {
                **group.key,
                "runs": len(group.runs),
                "events": float(np.sum(lost)),
                "exposure_s": float(np.sum(at_risk)),
            }
        )
    return pd.DataFrame(rows, columns=[*by, "runs", "events", "exposure_s"])


def _percentile(dist: np.ndarray, confidence: float) -> tuple[float, float]:
    """Percentile interval from a bootstrap distribution that has NaN or ±inf in it.

    Resamples where the statistic is undefined (0/0, e.g. no batch at all) are left out: the
    interval is then conditional on the statistic being defined. Order statistics
    (``inverted_cdf``) because interpolating next to an infinite value gives NaN.
    """
    d = dist[~np.isnan(dist)]
    if d.size == 0:
        return _NAN, _NAN
    a = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(d, [a, 1.0 - a], method="inverted_cdf")
    return float(lo), float(hi)


CI_PERCENTILE = "percentile"
"""Percentile bootstrap interval over runs (every resample gave a finite statistic)."""
CI_DEFINED = "percentile-defined"
"""Percentile interval over the resamples where the statistic is defined (NaN resamples, e.g.
0/0, left out; order statistics, so ±inf resamples are kept as limits)."""
CI_CONSTANT = "constant"
"""Every (defined) resample gave the same value, e.g. all runs equal: the interval is that
value, without interpolation."""
CI_NONE = "none"
"""No interval: fewer than 2 runs, ``n_boot = 0``, or the statistic undefined in every
resample."""
CI_REPLAY_BOUND = "replay-bound"
"""Survival: the lower limit is the zero-failure bound from the replays (upper limit 1)."""
CI_EXPOSURE_BOUND = "exposure-bound"
"""Survival: no batch at all; the lower limit is the zero-event Poisson bound on the runs'
exposure, exp(−λ_up·t) (upper limit 1)."""


def _bootstrap(
    data: tuple[np.ndarray, ...],
    statistic: Callable[..., np.ndarray],
    *,
    paired: bool,
    confidence: float,
    n_boot: int,
    rng: np.random.Generator,
    batch: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Percentile bootstrap interval over runs (axis 0 of every array in ``data``).

    Returns the limits and, per statistic, the method that gave them (``CI_*``): NaN and
    :data:`CI_NONE` where a sample has fewer than 2 runs (nothing to resample) or ``n_boot``
    is 0. A degenerate sample (every resample equal, e.g. all runs alike) gets that value as
    both limits (:data:`CI_CONSTANT`); resamples with NaN or ±inf are handled by
    :func:`_percentile` (:data:`CI_DEFINED`). scipy's ``DegenerateDataWarning`` (which it
    raises, naming BCa even for the percentile method, whenever a limit comes out NaN) is
    therefore handled here and never reaches the user.
    """
    shape = np.shape(statistic(*data, axis=0))
    if n_boot <= 0 or min(len(d) for d in data) < 2:
        return np.full(shape, _NAN), np.full(shape, _NAN), np.full(shape, CI_NONE, dtype=object)
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", stats.DegenerateDataWarning)
        res = stats.bootstrap(
            data,
            statistic,
            n_resamples=n_boot,
            batch=batch,
            vectorized=True,
            paired=paired,
            axis=0,
            confidence_level=confidence,
            method="percentile",
            rng=rng,
        )
    lo = np.array(res.confidence_interval.low, dtype=float, ndmin=1).ravel()
    hi = np.array(res.confidence_interval.high, dtype=float, ndmin=1).ravel()
    dist = np.asarray(res.bootstrap_distribution, dtype=float)
    flat = dist.reshape(-1, dist.shape[-1])
    method = np.full(flat.shape[0], CI_PERCENTILE, dtype=object)
    # scipy interpolates, which NaN/inf resamples poison: redo just those statistics.
    for j in np.flatnonzero(~np.all(np.isfinite(flat), axis=-1)):
        lo[j], hi[j] = _percentile(flat[j], confidence)
        method[j] = CI_NONE if math.isnan(lo[j]) else CI_DEFINED
    # Degenerate: the defined resamples all have one value (inf included).
    defined = ~np.isnan(flat)
    first = flat[np.arange(flat.shape[0]), defined.argmax(axis=-1)]
    constant = defined.any(axis=-1) & np.all(~defined | (flat == first[:, None]), axis=-1)
    lo[constant] = hi[constant] = first[constant]
    method[constant] = CI_CONSTANT
    return lo.reshape(shape), hi.reshape(shape), method.reshape(shape)


def _mean(x: np.ndarray, axis: int) -> np.ndarray:
    return np.mean(x, axis=axis)


def _ratio_of_sums(num: np.ndarray, den: np.ndarray, axis: int) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.sum(num, axis=axis) / np.sum(den, axis=axis)


def _scalar_ci(
    data: tuple[np.ndarray, ...],
    statistic: Callable[..., np.ndarray],
    *,
    paired: bool,
    confidence: float,
    n_boot: int,
    rng: np.random.Generator,
) -> tuple[float, float, str]:
    """One statistic's interval and the method that gave it (``CI_*``)."""
    lo, hi, method = _bootstrap(
        data, statistic, paired=paired, confidence=confidence, n_boot=n_boot, rng=rng
    )
    return float(lo), float(hi), str(method)


# ---------------------------------------------------------------------------
# public API
# ---------------------------------------------------------------------------


def split_tables(runs: pd.DataFrame, by: str | Sequence[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The split runs as a per-batch table and a per-run exposure table.

    Parameters
    ----------
    runs : DataFrame
        One row per run with ``estimator`` (all ``"split"``), ``horizon_s``, ``duration_s``,
        ``event_observed``, ``split_series``, ``split_stopped_s`` (and optionally ``error``,
        ``run_id`` or ``run``). Rows with an error are excluded; any other row whose estimator
        is not ``"split"`` is refused (ValueError): plain runs carry no split series.
    by : str or sequence of str
        Grouping columns, copied into both tables.

    Returns
    -------
    batches : DataFrame
        Group columns, then ``run, t_s, p_hat, k, at_risk``: one row per split batch of every
        valid run, in time order. ``run`` is the row's ``run_id`` (sweep tables), else its
        ``run``, else its index. ``at_risk`` is false for a batch after the run's exposure
        ended (after its own outage); such batches are left out of every other statistic.
    exposure : DataFrame
        Group columns, then ``run, exposure_s, own_outage_s, stopped_s, horizon_s``: one row per
        valid run. ``exposure_s = min(horizon_s, stopped_s, own_outage_s)`` (missing terms
        ignored) is how long the parent path was at risk and watched; ``own_outage_s`` is
        ``duration_s`` when the parent had an outage of its own (``event_observed``), else NaN;
        ``stopped_s`` is where every replay of a batch failed (Ŝ = 0 after it), else NaN.
    """
    by = _as_list(by)
    b_rows, e_rows = [], []
    for g in _parse(runs, by):
        for r in g.runs:
            for t, p, k in r.series:
                b_rows.append(
                    {
                        **g.key,
                        "run": r.run,
                        "t_s": t,
                        "p_hat": p,
                        "k": int(k),
                        "at_risk": t <= r.exposure,
                    }
                )
            e_rows.append(
                {
                    **g.key,
                    "run": r.run,
                    "exposure_s": r.exposure,
                    "own_outage_s": r.own if math.isfinite(r.own) else _NAN,
                    "stopped_s": r.stopped,
                    "horizon_s": r.horizon,
                }
            )
    batches = pd.DataFrame(b_rows, columns=[*by, *_BATCH_COLUMNS])
    exposure = pd.DataFrame(e_rows, columns=[*by, *_EXPOSURE_COLUMNS])
    return batches, exposure


def _key_parts(key: dict[str, Hashable]) -> list[str]:
    return [f"{k}={v}" for k, v in key.items()]


def _default_grid(g: _Group) -> np.ndarray:
    """Every time some S_r can change, from 0 to the longest horizon."""
    hmax = max(r.horizon for r in g.runs)
    pts = [np.array([0.0]), g.column("horizon"), *(r.t for r in g.runs)]
    pts.append(np.array([r.own for r in g.runs if math.isfinite(r.own)]))
    grid = np.unique(np.concatenate(pts))
    return grid[grid <= hmax]


def _curve(
    g: _Group, grid: np.ndarray, confidence: float, n_boot: int, rng: np.random.Generator
) -> pd.DataFrame:
    m = np.vstack([r.survival(grid) for r in g.runs])  # runs × times
    horizon = g.column("horizon")
    ends = np.unique(horizon)
    # Runs are only averaged where they were observed (horizon ≥ t). The set of such runs is
    # the same between two consecutive distinct horizons, so each stretch is one bootstrap.
    stretch = np.searchsorted(ends, grid, side="left")
    surv, lo, hi = (np.full(grid.size, _NAN) for _ in range(3))
    method = np.full(grid.size, CI_NONE, dtype=object)
    n_runs = np.zeros(grid.size, dtype=int)
    for j in np.unique(stretch):
        if j == ends.size:
            continue  # later than every horizon: no run observed
        cols = stretch == j
        rows = horizon >= ends[j]
        sub = m[np.ix_(rows, cols)]
        surv[cols] = sub.mean(axis=0)
        n_runs[cols] = int(rows.sum())
        lo[cols], hi[cols], method[cols] = _bootstrap(
            (sub,),
            _mean,
            paired=False,
            confidence=confidence,
            n_boot=n_boot,
            rng=rng,
            batch=max(1, _BOOT_ELEMENTS // sub.size),
        )
    p_upper = _zero_failure_upper(g, confidence)
    rate_upper = _no_batch_rate_upper(g, confidence)
    if p_upper is not None or rate_upper is not None:
        # No replay failed (or there was no batch to fail): S̄ = 1 and a bootstrap band of
        # [1, 1] would hide how little was seen; the lower limit is the exact bound instead
        # (runs observed to each time): from the replays, else from the runs' exposure.
        for j in np.unique(stretch):
            if j == ends.size:
                continue
            cols = stretch == j
            kept = [r for r, ok in zip(g.runs, horizon >= ends[j], strict=True) if ok]
            if p_upper is not None:
                lo[cols] = _zero_failure_bound(kept, p_upper, grid[cols])
                method[cols] = CI_REPLAY_BOUND
            elif rate_upper is not None:
                lo[cols] = np.exp(-rate_upper * grid[cols])
                method[cols] = CI_EXPOSURE_BOUND
    with np.errstate(divide="ignore"):
        # + 0.0 turns -log(1) = -0.0 into 0.0. The band of H is the band of S transformed
        # (percentile intervals are equivariant under monotone maps); the limits swap.
        cumhaz, cumhaz_lo, cumhaz_hi = (-np.log(x) + 0.0 for x in (surv, hi, lo))
    return pd.DataFrame(
        {
            "time_s": grid,
            "survival": surv,
            "ci_lower": lo,
            "ci_upper": hi,
            "cumhaz": cumhaz,
            "cumhaz_ci_lower": cumhaz_lo,
            "cumhaz_ci_upper": cumhaz_hi,
            "n_runs": n_runs,
            "ci_method": method,
        }
    )


def split_curves(
    runs: pd.DataFrame,
    by: str | Sequence[str],
    *,
    times: Iterable[float] | np.ndarray | None = None,
    confidence: float = 0.95,
    n_boot: int = 1000,
    seed: Seed = 0,
) -> pd.DataFrame:
    """Mean conditional survival curve S̄(t) per group, with a bootstrap band over runs.

    Parameters
    ----------
    runs : DataFrame
        Split runs (see :func:`split_tables`).
    by : str or sequence of str
        Grouping columns.
    times : array of float, optional
        Where to evaluate the curves (sorted, duplicates dropped). Default: per group, 0, every
        batch time at risk, every own-outage time and every horizon, i.e. every time some S_r
        can change, up to the group's longest horizon.
    confidence : float
        Level of the pointwise band.
    n_boot : int
        Bootstrap resamples (0: no band).
    seed : int or SeedSequence
        Root of the resampling randomness.

    Returns
    -------
    DataFrame
        Group columns, then ``time_s, survival, ci_lower, ci_upper, cumhaz, cumhaz_ci_lower,
        cumhaz_ci_upper, n_runs``. ``survival`` = S̄(t) = mean of S_r(t) over the runs
        observed to t (``horizon_s >= t``; their number is ``n_runs``): runs with a shorter
        horizon drop out instead of being carried forward, so with unequal horizons in a
        group the curve can rise where a run drops out (a horizon is a setting, not an
        outcome, so every such mean is still unbiased for its own runs). Stopped runs and runs
        with an own outage stay in at S_r = 0. The band is the pointwise percentile bootstrap
        interval from resampling those runs with replacement (NaN with fewer than 2 runs);
        where no replay of the group failed and no path had an own outage, ``ci_lower`` is the
        exact bound (1 − p̄)^B̄(t) instead (``split_summary``'s ``p_batch_upper``, B̄(t) the
        mean number of batches by t).
        Where the group had no split batch at all (and no own outage), ``ci_lower`` is the
        zero-event Poisson bound exp(−λ⁺t), λ⁺ = −ln(1 − confidence) / Σ exposure.
        ``cumhaz`` = H(t) = −log S̄(t) (inf where S̄ = 0); its band is the survival band
        transformed (``cumhaz_ci_lower = −log ci_upper``). After every horizon, NaN and
        ``n_runs = 0``. ``ci_method`` names what gave the band at each time (``CI_*``:
        ``percentile``, ``percentile-defined``, ``constant``, ``none``, ``replay-bound``,
        ``exposure-bound``).
    """
    by = _as_list(by)
    given = None
    if times is not None:
        given = np.unique(np.asarray(list(times), dtype=float))
        if not np.all(np.isfinite(given) & (given >= 0)):
            raise ValueError("times must be finite and >= 0")
    parts = []
    for g in _parse(runs, by):
        if not g.runs:
            continue
        grid = _default_grid(g) if given is None else given
        table = _curve(g, grid, confidence, n_boot, keyed_rng(seed, "curve", *_key_parts(g.key)))
        parts.append(table.assign(**g.key)[[*by, *_CURVE_COLUMNS]])
    if not parts:
        return pd.DataFrame(columns=[*by, *_CURVE_COLUMNS])
    return pd.concat(parts, ignore_index=True)


_SUMMARY_COLUMNS = [
    "runs",
    "n_errors",
    "batches",
    "replays",
    "zero_batches",
    "own_outages",
    "stopped_runs",
    "exposure_s",
    "hazard_per_batch",
    "hazard_per_batch_ci_lower",
    "hazard_per_batch_ci_upper",
    "hazard_per_batch_ci_method",
    "hazard_per_hour",
    "hazard_per_hour_ci_lower",
    "hazard_per_hour_ci_upper",
    "hazard_per_hour_ci_method",
    "batches_per_hour",
    "outage_rate_per_hour",
    "outage_rate_per_hour_ci_lower",
    "outage_rate_per_hour_ci_upper",
    "outage_rate_per_hour_ci_method",
    "tau_s",
    "runs_tau",
    "survival_tau",
    "survival_tau_ci_lower",
    "survival_tau_ci_upper",
    "survival_tau_ci_method",
    "rmst_s",
    "rmst_ci_lower_s",
    "rmst_ci_upper_s",
    "rmst_ci_method",
    "p_batch_upper",
    "hazard_per_hour_upper",
    "hazard_per_hour_upper_method",
    "hazard_is_bound",
    "failed_runs",
    "failed_weight",
    "failed_recovered_fraction",
    "failed_blackout_mean_s",
]


_METHOD_COLUMNS = [c for c in _SUMMARY_COLUMNS if c.endswith("_ci_method")]


def _at_tau(runs: list[_Run], tau: float) -> tuple[list[_Run], np.ndarray, np.ndarray]:
    """Runs observed to ``tau``, with their S_r(τ) and RMST_r(τ)."""
    kept = [r for r in runs if r.horizon >= tau]
    at = np.array([tau])
    s = np.array([float(r.survival(at)[0]) for r in kept])
    rm = np.array([r.rmst(tau) for r in kept])
    return kept, s, rm


def _summary_row(
    g: _Group, tau: float | None, confidence: float, n_boot: int, seed: Seed
) -> dict[str, object]:
    parts = _key_parts(g.key)
    row: dict[str, object] = dict.fromkeys(_SUMMARY_COLUMNS, _NAN)
    row.update(dict.fromkeys(_METHOD_COLUMNS, CI_NONE))
    row.update(g.key, hazard_per_hour_upper_method="", hazard_is_bound=pd.NA)
    row.update(runs=len(g.runs), n_errors=g.n_errors)
    if not g.runs:
        return row
    psum, nb, expo = g.p_sums(), g.n_batches(), g.column("exposure")
    total_p, total_b, total_e = float(psum.sum()), float(nb.sum()), float(expo.sum())
    own = sum(math.isfinite(r.own) for r in g.runs)
    replays = int(sum(r.k.sum() for r in g.runs))
    per_hour = 3600.0 * total_b / total_e if total_e > 0 else _NAN
    row.update(
        batches=int(total_b),
        replays=replays,
        zero_batches=int(sum(np.count_nonzero(r.p == 0) for r in g.runs)),
        own_outages=own,
        stopped_runs=sum(math.isfinite(r.stopped) for r in g.runs),
        exposure_s=total_e,
    )

    def ratio(name: str, num: np.ndarray, den: np.ndarray, scale: float = 1.0) -> None:
        """``name`` = scale·Σnum/Σden with its bootstrap interval (runs resampled whole)."""
        if den.sum() <= 0:
            return
        lo, hi, method = _scalar_ci(
            (num, den),
            _ratio_of_sums,
            paired=True,
            confidence=confidence,
            n_boot=n_boot,
            rng=keyed_rng(seed, name, *parts),
        )
        row[name] = scale * float(num.sum()) / float(den.sum())
        row[f"{name}_ci_lower"], row[f"{name}_ci_upper"] = scale * lo, scale * hi
        row[f"{name}_ci_method"] = method

    ratio("hazard_per_batch", psum, nb)
    ratio("hazard_per_hour", psum, expo, 3600.0)
    if total_e > 0:
        row["batches_per_hour"] = per_hour
    # Expected outages over expected time at risk, each run to its horizon: the split estimate
    # of a plain table's events / exposure (survival.summary's hazard_per_h). Unlike
    # hazard_per_hour it weights each path's hazard by the path's survival (docs).
    lost = np.array([1.0 - float(r.survival(np.array([r.horizon]))[0]) for r in g.runs])
    at_risk = np.array([r.rmst(r.horizon) for r in g.runs])
    ratio("outage_rate_per_hour", lost, at_risk, 3600.0)

    t = float(tau) if tau is not None else float(g.column("horizon").min())
    kept, s_tau, rm_tau = _at_tau(g.runs, t)
    row.update(tau_s=t, runs_tau=len(kept))
    if kept:
        for name, values in (("survival_tau", s_tau), ("rmst", rm_tau)):
            lo, hi, method = _scalar_ci(
                (values,),
                _mean,
                paired=False,
                confidence=confidence,
                n_boot=n_boot,
                rng=keyed_rng(seed, name, t, *parts),
            )
            row[f"{name}_ci_method"] = method
            if name == "rmst":
                row.update(rmst_s=float(values.mean()), rmst_ci_lower_s=lo, rmst_ci_upper_s=hi)
            else:
                row.update(survival_tau=float(values.mean()))
                row.update(survival_tau_ci_lower=lo, survival_tau_ci_upper=hi)

    if total_b > 0 and total_p == 0 and replays > 0:
        # n = ΣK replays, none failed: the exact (Clopper–Pearson) one-sided upper limit,
        # 1 − α^(1/n). The per-hour bound needs the hazard to come only from split batches,
        # which an own outage of a parent path contradicts.
        p_upper = _no_failure_upper(replays, confidence)
        row["p_batch_upper"] = p_upper
        if own == 0:
            row["hazard_per_hour_upper"] = p_upper * per_hour
            row["hazard_per_hour_upper_method"] = "replays"
            if kept:  # S̄(τ) = 1: its lower limit is the bound, not a bootstrap of ones
                bound = _zero_failure_bound(kept, p_upper, np.array([t]))
                row["survival_tau_ci_lower"] = float(bound[0])
                row["survival_tau_ci_method"] = CI_REPLAY_BOUND
    rate_upper = _no_batch_rate_upper(g, confidence)
    if rate_upper is not None:
        # No multi-buffer batch at all: no replay to count, so the bound is the zero-event
        # Poisson bound on the run exposure, the rule of a plain cell without an outage; S(τ)
        # gets the matching bound exp(−λ_up·τ) (= 0.05^(1/n) for n runs observed to τ).
        row["hazard_per_hour_upper"] = 3600.0 * rate_upper
        row["hazard_per_hour_upper_method"] = "exposure"
        if kept:
            row["survival_tau_ci_lower"] = math.exp(-rate_upper * t)
            row["survival_tau_ci_method"] = CI_EXPOSURE_BOUND
    row["hazard_is_bound"] = bool(total_p == 0 and own == 0)

    w = g.column("failed_weight")
    rec = np.array([r.failed_recovered for r in g.runs], dtype=float)
    black = g.column("failed_blackout")
    has = np.isfinite(w) & (w > 0)
    row.update(failed_runs=int(has.sum()), failed_weight=float(w[has].sum()))
    if has.any():
        row["failed_recovered_fraction"] = float(np.sum(w[has] * rec[has]) / w[has].sum())
        ok = has & np.isfinite(black)
        if ok.any():
            row["failed_blackout_mean_s"] = float(np.sum(w[ok] * black[ok]) / w[ok].sum())
    return row


def split_summary(
    runs: pd.DataFrame,
    by: str | Sequence[str],
    *,
    tau: float | None = None,
    confidence: float = 0.95,
    n_boot: int = 1000,
    seed: Seed = 0,
) -> pd.DataFrame:
    """One row per group: hazard, survival at τ, restricted mean, bounds, post-outage.

    Intervals are percentile bootstrap intervals from resampling the group's runs with
    replacement (``n_boot`` resamples; NaN with fewer than 2 runs).

    Parameters
    ----------
    runs : DataFrame
        Split runs (see :func:`split_tables`), optionally with ``split_failed_weight``,
        ``split_failed_recovered`` and ``split_failed_blackout_s``.
    by : str or sequence of str
        Grouping columns.
    tau : float, optional
        Time for S(τ) and RMST(τ); default the group's shortest horizon. Only runs with
        ``horizon_s >= tau`` enter those two (``runs_tau`` of them).
    confidence : float
        Level of every interval and of the zero-failure bound (one-sided).
    n_boot : int
        Bootstrap resamples (0: no intervals).
    seed : int or SeedSequence
        Root of the resampling randomness.

    Returns
    -------
    DataFrame
        Group columns, then:

        ``runs`` (valid split runs), ``n_errors``; ``batches``, ``replays`` (ΣK) and
        ``zero_batches`` (p̂ = 0) over the batches at risk; ``own_outages`` (parent paths with
        an outage of their own), ``stopped_runs`` (every replay of a batch failed),
        ``exposure_s`` (Σ exposure);
        ``hazard_per_batch`` = Σp̂ / Σbatches and ``hazard_per_hour`` = 3600·Σp̂ / Σexposure
        (expected outage starts per split batch, per hour at risk, along the parent paths,
        every path counted alike; outages not started by a split batch, ``own_outages``, are
        not in them), each with ``_ci_lower``/``_ci_upper`` (ratio of sums over resampled
        runs); ``batches_per_hour``;
        ``outage_rate_per_hour`` = 3600·Σ(1 − S_r(h_r)) / Σ∫₀^{h_r} S_r (expected outages over
        expected time at risk, each run to its horizon h_r) with ``_ci_lower``/``_ci_upper``:
        the split estimate of a plain table's events / exposure
        (:func:`vnetsim.analysis.survival.summary`'s ``hazard_per_h``). It weights each path
        by its survival: in expectation the same as ``hazard_per_hour`` for a constant
        hazard, below it when the hazard differs between paths or grows over time, above it
        when the hazard falls (docs/split-statistics.md);
        ``tau_s``, ``runs_tau``, ``survival_tau`` = S̄(τ) and ``rmst_s`` = ∫₀^τ S̄ (the mean of
        the runs' RMST_r(τ)), with intervals (``survival_tau_ci_lower``/``_upper``,
        ``rmst_ci_lower_s``/``rmst_ci_upper_s``);
        ``p_batch_upper``: when no replay at risk failed (Σp̂ = 0), the exact one-sided
        Clopper–Pearson upper limit on the per-batch outage probability from n = ``replays``
        Bernoulli trials with no failure, 1 − (1 − confidence)^(1/n); NaN when a failure was
        seen; ``hazard_per_hour_upper`` = ``p_batch_upper · batches_per_hour`` (also NaN when a
        parent path had an own outage); in that case ``survival_tau_ci_lower`` is the bound
        (1 − ``p_batch_upper``)^B̄(τ), B̄(τ) the mean number of batches by τ (Jensen), not a
        bootstrap of runs that all have S_r = 1. A group without any batch at risk (and no
        own outage) has no ``p_batch_upper``; its ``hazard_per_hour_upper`` is the zero-event
        one-sided Poisson bound on its exposure, 3600·(−ln(1 − confidence)) / Σexposure (the
        rule of a plain cell without an outage), and ``survival_tau_ci_lower`` the matching
        exp(−λ⁺τ); ``hazard_per_hour_upper_method`` says which bound it is (``"replays"``
        or ``"exposure"``; "" without one); ``hazard_is_bound``: no outage was seen (Σp̂ = 0,
        no own outage), so the hazard is only bounded;
        ``*_ci_method`` (``hazard_per_batch``, ``hazard_per_hour``, ``outage_rate_per_hour``,
        ``survival_tau``, ``rmst``): the method that gave each interval (``CI_*``: e.g.
        ``constant`` when every resample gives the same value, ``percentile-defined`` when
        undefined resamples were left out);
        ``failed_runs`` (runs whose first failing replay was continued),
        ``failed_weight`` = Σ w_r with w_r = Ŝ_r just before that batch × its p̂ (the estimated
        probability that this run's outage starts there), ``failed_recovered_fraction`` and
        ``failed_blackout_mean_s``: the post-outage outcomes of those replays averaged with
        weights w_r normalised within the group (NaN without any).
    """
    by = _as_list(by)
    rows = [_summary_row(g, tau, confidence, n_boot, seed) for g in _parse(runs, by)]
    return pd.DataFrame(rows, columns=[*by, *_SUMMARY_COLUMNS])


def _perm_pvalue(
    ia: np.ndarray,
    ib: np.ndarray,
    statistic: Callable[..., np.ndarray],
    n_perm: int,
    rng: np.random.Generator,
) -> float:
    """Two-sided permutation p-value of ``statistic`` (run labels permuted between groups).

    scipy's one-sided test of |stat| gives p = (1 + #{|stat*| ≥ |stat|}) / (1 + n_perm), or,
    when there are at most ``n_perm`` distinct relabellings, the exact p over all of them.
    """

    def absolute(x: np.ndarray, y: np.ndarray, axis: int) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.abs(statistic(x, y, axis=axis))

    observed = float(absolute(ia, ib, axis=0))
    if n_perm <= 0 or math.isnan(observed):
        return _NAN
    with np.errstate(invalid="ignore"):  # inf - inf in scipy's tolerance when |stat| = inf
        res = stats.permutation_test(
            (ia, ib),
            absolute,
            permutation_type="independent",
            vectorized=True,
            n_resamples=n_perm,
            alternative="greater",
            rng=rng,
        )
    if math.isfinite(observed):
        return float(res.pvalue)
    # |stat| = inf (one group has no failure at all): scipy's relative tolerance is inf·eps
    # there and its comparison NaN, so count the relabellings that are as extreme ourselves.
    null = np.asarray(res.null_distribution, dtype=float)
    adjust = 0 if math.comb(ia.size + ib.size, ia.size) <= n_perm else 1
    return float((np.count_nonzero(null >= observed) + adjust) / (null.size + adjust))


_COMPARE_STATS = ("cumhaz_diff", "rmst_diff", "log_hazard_ratio")


def _compare_row(
    level_runs: list[_Run],
    ref_runs: list[_Run],
    tau: float | None,
    confidence: float,
    n_boot: int,
    n_perm: int,
    rng_for: Callable[[str], np.random.Generator],
) -> dict[str, object]:
    t = float(tau) if tau is not None else min(r.horizon for r in [*level_runs, *ref_runs])
    a, s_a, rm_a = _at_tau(level_runs, t)
    b, s_b, rm_b = _at_tau(ref_runs, t)
    # Pooled per-run arrays; a statistic takes index arrays into them, so scipy resamples
    # (bootstrap, within each group) or relabels (permutation, across groups) whole runs.
    s = np.concatenate([s_a, s_b])
    rm = np.concatenate([rm_a, rm_b])
    # The rate compared is the outage rate to τ, Σ(1 − S_r(τ)) / Σ RMST_r(τ): unlike Σp̂ /
    # Σexposure it weights each path by its survival, as plain events / exposure does.
    p = 1.0 - s
    e = rm
    ia, ib = np.arange(len(a)), len(a) + np.arange(len(b))

    def cumhaz_diff(x: np.ndarray, y: np.ndarray, axis: int) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(np.mean(s[y], axis=axis)) - np.log(np.mean(s[x], axis=axis))

    def rmst_diff(x: np.ndarray, y: np.ndarray, axis: int) -> np.ndarray:
        return np.mean(rm[x], axis=axis) - np.mean(rm[y], axis=axis)

    def log_hazard_ratio(x: np.ndarray, y: np.ndarray, axis: int) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(_ratio_of_sums(p[x], e[x], axis)) - np.log(
                _ratio_of_sums(p[y], e[y], axis)
            )

    row: dict[str, object] = {"runs": len(a), "runs_reference": len(b), "tau_s": t}
    functions = dict(zip(_COMPARE_STATS, (cumhaz_diff, rmst_diff, log_hazard_ratio), strict=True))
    for name, fn in functions.items():
        if not a or not b:
            est = lo = hi = pv = _NAN
            method = CI_NONE
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                est = float(fn(ia, ib, axis=0))
            lo, hi, method = _scalar_ci(
                (ia, ib),
                fn,
                paired=False,
                confidence=confidence,
                n_boot=n_boot,
                rng=rng_for(f"boot:{name}"),
            )
            pv = _perm_pvalue(ia, ib, fn, n_perm, rng_for(f"perm:{name}"))
        if name == "log_hazard_ratio":
            # Percentile intervals are equivariant: exp of the log-ratio interval is the
            # ratio's; the test on |log ratio| is symmetric in which group is larger.
            row.update(
                hazard_ratio=math.exp(est) if not math.isnan(est) else _NAN,
                hazard_ratio_ci_lower=math.exp(lo) if not math.isnan(lo) else _NAN,
                hazard_ratio_ci_upper=math.exp(hi) if not math.isnan(hi) else _NAN,
                hazard_ratio_pvalue=pv,
                hazard_ratio_ci_method=method,
            )
        elif name == "rmst_diff":
            row.update(
                rmst_diff_s=est,
                rmst_diff_ci_lower_s=lo,
                rmst_diff_ci_upper_s=hi,
                rmst_diff_pvalue=pv,
                rmst_diff_ci_method=method,
            )
        else:
            row.update(
                cumhaz_diff=est,
                cumhaz_diff_ci_lower=lo,
                cumhaz_diff_ci_upper=hi,
                cumhaz_diff_pvalue=pv,
                cumhaz_diff_ci_method=method,
            )
    return row


_COMPARE_COLUMNS = [
    "reference",
    "runs",
    "runs_reference",
    "tau_s",
    "cumhaz_diff",
    "cumhaz_diff_ci_lower",
    "cumhaz_diff_ci_upper",
    "cumhaz_diff_pvalue",
    "cumhaz_diff_ci_method",
    "rmst_diff_s",
    "rmst_diff_ci_lower_s",
    "rmst_diff_ci_upper_s",
    "rmst_diff_pvalue",
    "rmst_diff_ci_method",
    "hazard_ratio",
    "hazard_ratio_ci_lower",
    "hazard_ratio_ci_upper",
    "hazard_ratio_pvalue",
    "hazard_ratio_ci_method",
]


def split_compare(
    runs: pd.DataFrame,
    by: str | Sequence[str],
    *,
    compare: str,
    reference: Hashable | None = None,
    tau: float | None = None,
    confidence: float = 0.95,
    n_boot: int = 1000,
    n_perm: int = 1000,
    seed: Seed = 0,
) -> pd.DataFrame:
    """Each level of ``compare`` against a reference level, within the other ``by`` columns.

    Parameters
    ----------
    runs : DataFrame
        Split runs (see :func:`split_tables`).
    by : str or sequence of str
        Grouping columns; comparisons are made separately for every combination of the
        columns other than ``compare``.
    compare : str
        Column whose levels are compared (e.g. ``"design"``).
    reference : optional
        The level the others are compared with; default the first level in sorted order.
        Strata without it contribute no rows; a reference that is no level at all is an error.
    tau : float, optional
        Time for H(τ) and RMST(τ); default the shortest horizon of the two groups compared.
        Only runs with ``horizon_s >= tau`` enter (``runs``, ``runs_reference``).
    confidence : float
        Level of the intervals.
    n_boot : int
        Bootstrap resamples: runs are resampled with replacement within each of the two
        groups independently; percentile intervals (NaN when a group has fewer than 2 runs).
    n_perm : int
        Random relabellings for the permutation tests (run labels permuted between the two
        groups, group sizes kept). p = (1 + #{|stat*| ≥ |stat|}) / (1 + n_perm); when there are
        no more than ``n_perm`` distinct relabellings, all of them are enumerated and p is exact.
    seed : int or SeedSequence
        Root of the resampling randomness.

    Returns
    -------
    DataFrame
        The other ``by`` columns, the ``compare`` column (the level), then ``reference``,
        ``runs``, ``runs_reference``, ``tau_s``; ``cumhaz_diff`` = H_level(τ) − H_ref(τ) with
        H = −log S̄; ``rmst_diff_s`` = RMST_level(τ) − RMST_ref(τ); ``hazard_ratio`` = the
        level's outage rate to τ over the reference's, the rate being Σ(1 − S_r(τ)) /
        Σ RMST_r(τ) (``outage_rate_per_hour`` of ``split_summary`` at τ; inf or NaN when the
        reference has no failed replay; interval and test on the log ratio). Each with
        ``_ci_lower``/``_ci_upper`` (``rmst_diff_ci_lower_s``/``_upper_s``), ``_pvalue``
        (two-sided; NaN where the statistic is undefined, e.g. both hazards 0) and
        ``_ci_method`` (which method gave the interval, ``CI_*``).
    """
    by = _as_list(by)
    strata = [c for c in by if c != compare]
    _check_columns(runs, [*_REQUIRED, compare, *strata])
    levels_all = runs.loc[~_error_mask(runs), compare].drop_duplicates().tolist()
    if reference is not None and reference not in levels_all:
        raise ValueError(f"reference {reference!r} is not a value of {compare!r}: {levels_all}")
    rows = []
    for skey, sub in _groups(runs, strata):
        levels = {g.key[compare]: g for g in _parse(sub, [compare]) if g.runs}
        if not levels:
            continue
        ref = next(iter(levels)) if reference is None else reference
        if ref not in levels:
            continue
        for level, g in levels.items():
            if level == ref:
                continue
            parts = [*_key_parts(skey), f"{compare}={level}", f"reference={ref}"]

            def rng_for(name: str, parts: list[str] = parts) -> np.random.Generator:
                return keyed_rng(seed, name, *parts)

            row = _compare_row(g.runs, levels[ref].runs, tau, confidence, n_boot, n_perm, rng_for)
            rows.append({**skey, compare: level, "reference": ref, **row})
    return pd.DataFrame(rows, columns=[*strata, compare, *_COMPARE_COLUMNS])
