"""Survival analysis of simulated time-to-outage runs.

Analysis layer (pandas allowed): this module consumes a tidy DataFrame of
simulation runs, one row per run, and never touches the simulator itself.

Each run is a right-censored observation of the time to the first RX outage:
``duration_s`` is the outage time when ``event_observed`` is true and the
censoring horizon otherwise. Runs whose ``error`` column is non-empty are
excluded from every estimate but counted (``n_errors``).

What is computed, and with which scipy functions:

* Kaplan–Meier survival curves with the "exponential Greenwood" (log-log)
  pointwise band: :func:`scipy.stats.ecdf` on :class:`scipy.stats.CensoredData`
  and ``sf.confidence_interval(confidence_level, method="log-log")``.
* Median time to outage and its confidence interval (by inverting the KM
  band), restricted mean survival time (RMST) up to the group's shortest
  horizon, and outage probabilities ``1 - S(t)`` at fixed times.
* Constant-hazard (exponential) model: MLE ``events / exposure`` with the
  exact chi-square interval (NIST/SEMATECH e-Handbook 8.4.1.2) from
  :data:`scipy.stats.chi2`; agrees with
  ``scipy.stats.expon.fit(CensoredData, floc=0)``.
* Weibull fit: ``scipy.stats.weibull_min.fit(CensoredData, floc=0)``; a shape
  above 1 means outages become more likely the longer a guest runs.
* Pairwise log-rank tests between designs: :func:`scipy.stats.logrank`.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Hashable, Iterable, Sequence

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["analyze", "censor_times", "km_curves", "logrank", "p_outage_column", "summary"]

_REQUIRED = ("duration_s", "event_observed")
_KM_COLUMNS = ["time_s", "survival", "ci_lower", "ci_upper", "at_risk", "events", "censored"]


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def _as_list(by: str | Sequence[str] | None) -> list[str]:
    if by is None:
        return []
    if isinstance(by, str):
        return [by]
    return list(by)


def _check_columns(runs: pd.DataFrame, columns: Iterable[str]) -> None:
    missing = [c for c in columns if c not in runs.columns]
    if missing:
        raise KeyError(f"runs is missing required column(s): {missing}")


def _error_mask(runs: pd.DataFrame) -> np.ndarray:
    """True for runs that failed (non-empty ``error``); a missing column means none did."""
    if "error" not in runs.columns:
        return np.zeros(len(runs), dtype=bool)
    err = runs["error"].fillna("").astype(str).str.strip()
    return (err != "").to_numpy()


def _groups(
    runs: pd.DataFrame, by: list[str]
) -> Iterable[tuple[dict[str, Hashable], pd.DataFrame]]:
    """Yield ``({col: value}, rows)`` per group, errors included (callers split them)."""
    if not by:
        yield {}, runs
        return
    # dropna=False: a NaN grouping value is still a configuration we simulated.
    for key, sub in runs.groupby(by, dropna=False, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        yield dict(zip(by, key, strict=True)), sub


def _valid(sub: pd.DataFrame) -> pd.DataFrame:
    return sub.loc[~_error_mask(sub)]


def _durations_events(valid: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    t = valid["duration_s"].to_numpy(dtype=float)
    e = valid["event_observed"].to_numpy(dtype=bool)
    return t, e


def _censored_data(t: np.ndarray, e: np.ndarray) -> stats.CensoredData:
    return stats.CensoredData(uncensored=t[e], right=t[~e])


def _km_table(t: np.ndarray, e: np.ndarray, confidence: float) -> pd.DataFrame:
    """KM curve (with time-0 row) for one group's valid runs; empty frame if no runs."""
    if t.size == 0:
        return pd.DataFrame(columns=_KM_COLUMNS)

    if not e.any():
        # All censored: S(t) = 1 throughout. scipy's log-log band is 0/0 (NaN, with a
        # warning) here, so build the flat curve ourselves; the band is degenerate.
        times = np.unique(t)
        surv = np.ones_like(times)
        lo = hi = surv
    else:
        res = stats.ecdf(_censored_data(t, e))
        times = res.sf.quantiles
        surv = res.sf.probabilities
        with warnings.catch_warnings():
            # The band is undefined where S = 1 (before the first event) or S = 0;
            # both cases are filled in explicitly below.
            warnings.filterwarnings(
                "ignore", message="The confidence interval is undefined", category=RuntimeWarning
            )
            ci = res.sf.confidence_interval(confidence, method="log-log")
        lo = ci.low.probabilities.astype(float)
        hi = ci.high.probabilities.astype(float)
        # No events yet: Greenwood variance is 0, so the band collapses onto S = 1.
        ones = surv >= 1.0
        lo = np.where(ones, 1.0, lo)
        hi = np.where(ones, 1.0, hi)
        # S = 0 (everyone at risk failed): the lower limit is 0, the upper limit of the
        # log-log band is undefined and is left NaN rather than invented.
        zeros = surv <= 0.0
        lo = np.where(zeros, 0.0, lo)
        hi = np.where(zeros, np.nan, hi)

    # Counts at each unique time, from the raw data (not scipy internals).
    t_sorted = np.sort(t)
    at_risk = t.size - np.searchsorted(t_sorted, times, side="left")
    ev_sorted, ce_sorted = np.sort(t[e]), np.sort(t[~e])
    ev_counts = np.searchsorted(ev_sorted, times, "right") - np.searchsorted(ev_sorted, times)
    ce_counts = np.searchsorted(ce_sorted, times, "right") - np.searchsorted(ce_sorted, times)

    table = pd.DataFrame(
        {
            "time_s": times.astype(float),
            "survival": surv.astype(float),
            "ci_lower": np.asarray(lo, dtype=float),
            "ci_upper": np.asarray(hi, dtype=float),
            "at_risk": at_risk.astype(int),
            "events": ev_counts.astype(int),
            "censored": ce_counts.astype(int),
        }
    )
    if times[0] > 0:
        # Anchor every curve at (0, 1) so plots and step look-ups start there.
        start = pd.DataFrame(
            {
                "time_s": [0.0],
                "survival": [1.0],
                "ci_lower": [1.0],
                "ci_upper": [1.0],
                "at_risk": [t.size],
                "events": [0],
                "censored": [0],
            }
        )
        table = pd.concat([start, table], ignore_index=True)
    return table


def _step_at(times: np.ndarray, values: np.ndarray, x: float) -> float:
    """Right-continuous step function value at ``x`` (last value at or before ``x``)."""
    i = np.searchsorted(times, x, side="right") - 1
    return float(values[i]) if i >= 0 else 1.0


def _first_time_le(times: np.ndarray, values: np.ndarray, level: float) -> float:
    """Smallest time at which the step function is <= ``level``; NaN if never."""
    hit = np.flatnonzero(values <= level)  # NaN compares False: never a hit
    return float(times[hit[0]]) if hit.size else float("nan")


def _rmst(times: np.ndarray, surv: np.ndarray, tau: float) -> float:
    """Integral of the KM step function over ``[0, tau]`` (flat after the last time)."""
    keep = times < tau
    left = times[keep]
    right = np.append(left[1:], tau)
    return float(np.sum(surv[keep] * (right - left)))


def _fmt_time(x: float) -> str:
    if not np.isfinite(x):
        return "NR"
    return f"{x:.0f}" if abs(x) >= 100 else f"{x:.3g}"


def _median_label(med: float, lo: float, hi: float) -> str:
    if not np.isfinite(med):
        return "not reached"
    return f"{_fmt_time(med)} s [{_fmt_time(lo)}, {_fmt_time(hi)}]"


def _exponential_rate_ci(
    events: int, exposure_s: float, confidence: float = 0.95
) -> tuple[float, float, float]:
    """Exponential hazard MLE and exact chi-square interval, per second.

    Parameters
    ----------
    events : int
        Number of observed outages ``r``.
    exposure_s : float
        Total time on test ``T`` (sum of all durations, censored or not).
    confidence : float
        Two-sided confidence level.

    Returns
    -------
    rate, lower, upper : float
        ``r / T`` and ``[chi2.ppf(a/2, 2r) / 2T, chi2.ppf(1 - a/2, 2r + 2) / 2T]``
        (NIST/SEMATECH e-Handbook 8.4.1.2, time-censored test). The lower limit
        is 0 when ``r = 0``. All NaN when ``T <= 0``.
    """
    if not exposure_s > 0:
        return float("nan"), float("nan"), float("nan")
    alpha = 1.0 - confidence
    rate = events / exposure_s
    lower = stats.chi2.ppf(alpha / 2, 2 * events) / (2 * exposure_s) if events > 0 else 0.0
    # 2r + 2 degrees of freedom: under time censoring the next failure is unobserved.
    upper = stats.chi2.ppf(1 - alpha / 2, 2 * events + 2) / (2 * exposure_s)
    return float(rate), float(lower), float(upper)


def _weibull(t: np.ndarray, e: np.ndarray) -> tuple[float, float]:
    if np.count_nonzero(e) < 2:
        # One event cannot pin down both shape and scale.
        return float("nan"), float("nan")
    try:
        shape, _loc, scale = stats.weibull_min.fit(_censored_data(t, e), floc=0)
    except (ValueError, RuntimeError, stats.FitError):
        # Degenerate samples (e.g. identical event times) must not kill the whole table.
        return float("nan"), float("nan")
    return float(shape), float(scale)


def p_outage_column(t: float) -> str:
    """Name of the summary column holding P(outage within ``t`` seconds)."""
    return f"p_outage_{t:g}s"


# ---------------------------------------------------------------------------
# public API
# ---------------------------------------------------------------------------


def km_curves(
    runs: pd.DataFrame, by: str | Sequence[str], *, confidence: float = 0.95
) -> pd.DataFrame:
    """Kaplan–Meier survival curves per group.

    Parameters
    ----------
    runs : DataFrame
        One row per run with ``duration_s``, ``event_observed`` (and ``error``).
    by : str or sequence of str
        Grouping columns.
    confidence : float
        Level of the pointwise log-log (exponential Greenwood) band.

    Returns
    -------
    DataFrame
        Group columns, then ``time_s, survival, ci_lower, ci_upper, at_risk,
        events, censored``: one row at time 0 (S = 1) and one per distinct
        duration. ``at_risk`` counts runs with ``duration_s >= time_s``;
        ``events``/``censored`` count runs ending exactly at ``time_s``.
        Groups without events are flat at 1 up to their longest duration.
        Before the first event the band is ``[1, 1]``; where S = 0 the upper
        limit is NaN (undefined under log-log). Groups whose runs all errored
        contribute no rows.
    """
    by = _as_list(by)
    _check_columns(runs, [*_REQUIRED, *by])
    parts = []
    for key, sub in _groups(runs, by):
        table = _km_table(*_durations_events(_valid(sub)), confidence)
        if table.empty:
            continue
        parts.append(table.assign(**key)[[*by, *_KM_COLUMNS]])
    if not parts:
        return pd.DataFrame(columns=[*by, *_KM_COLUMNS])
    return pd.concat(parts, ignore_index=True)


def censor_times(runs: pd.DataFrame, by: str | Sequence[str]) -> pd.DataFrame:
    """Distinct censoring times per group with the KM survival there (plot marks).

    Parameters
    ----------
    runs : DataFrame
        One row per run (see :func:`km_curves`).
    by : str or sequence of str
        Grouping columns.

    Returns
    -------
    DataFrame
        Group columns, ``time_s``, ``survival`` (KM estimate at ``time_s``), one
        row per distinct censoring time.
    """
    by = _as_list(by)
    _check_columns(runs, [*_REQUIRED, *by])
    rows = []
    for key, sub in _groups(runs, by):
        t, e = _durations_events(_valid(sub))
        if not (~e).any():
            continue
        km = _km_table(t, e, 0.95)
        times, surv = km["time_s"].to_numpy(), km["survival"].to_numpy()
        for x in np.unique(t[~e]):
            rows.append({**key, "time_s": float(x), "survival": _step_at(times, surv, x)})
    return pd.DataFrame(rows, columns=[*by, "time_s", "survival"])


def summary(
    runs: pd.DataFrame,
    by: str | Sequence[str],
    *,
    times_s: Sequence[float] = (60, 300, 900),
    confidence: float = 0.95,
) -> pd.DataFrame:
    """One-row-per-group table of survival, hazard and blackout statistics.

    Parameters
    ----------
    runs : DataFrame
        One row per run with ``duration_s, event_observed, horizon_s,
        recovered, blackout_s`` and optionally ``error``.
    by : str or sequence of str
        Grouping columns.
    times_s : sequence of float
        Times at which to report the outage probability ``1 - S(t)``.
    confidence : float
        Level for every interval in the table.

    Returns
    -------
    DataFrame
        Group columns, then:

        ``n_runs`` (all rows, errors included), ``n_errors``, ``events``,
        ``censored``, ``exposure_s`` (sum of valid durations);
        ``median_s``, ``median_ci_lower_s``, ``median_ci_upper_s`` (first time
        S, resp. the lower/upper KM band, is <= 0.5; NaN if never) and
        ``median_label`` (e.g. ``"412 s [301, 655]"``, ``"NR"`` for a missing
        limit, or ``"not reached"``);
        ``rmst_s`` and ``rmst_tau_s`` (area under the KM step function up to
        tau = the group's smallest ``horizon_s``);
        ``p_outage_<t>s`` with ``_ci_lower``/``_ci_upper`` per ``t`` (NaN when
        ``t > tau``);
        ``hazard_per_h`` with ``hazard_per_h_ci_lower``/``_ci_upper`` (exponential
        MLE and exact chi-square interval, per hour);
        ``weibull_shape``, ``weibull_scale_s`` (NaN with fewer than 2 events);
        ``recovered_fraction`` and ``blackout_median_s`` among runs with an
        outage (NaN without events).
    """
    by = _as_list(by)
    _check_columns(runs, [*_REQUIRED, "horizon_s", "recovered", "blackout_s", *by])
    nan = float("nan")
    rows = []
    for key, sub in _groups(runs, by):
        valid = _valid(sub)
        t, e = _durations_events(valid)
        r = int(np.count_nonzero(e))
        exposure = float(t.sum())
        row: dict[str, object] = {
            **key,
            "n_runs": len(sub),
            "n_errors": len(sub) - len(valid),
            "events": r,
            "censored": int(t.size - r),
            "exposure_s": exposure,
        }

        km = _km_table(t, e, confidence)
        times = km["time_s"].to_numpy(dtype=float)
        surv = km["survival"].to_numpy(dtype=float)
        lo = km["ci_lower"].to_numpy(dtype=float)
        hi = km["ci_upper"].to_numpy(dtype=float)

        if t.size:
            med = _first_time_le(times, surv, 0.5)
            med_lo = _first_time_le(times, lo, 0.5)
            med_hi = _first_time_le(times, hi, 0.5)
            tau = float(valid["horizon_s"].min())
            rmst = _rmst(times, surv, tau)
        else:
            med = med_lo = med_hi = tau = rmst = nan
        row.update(
            median_s=med,
            median_ci_lower_s=med_lo,
            median_ci_upper_s=med_hi,
            median_label=_median_label(med, med_lo, med_hi),
            rmst_s=rmst,
            rmst_tau_s=tau,
        )

        for x in times_s:
            if t.size and x <= tau:
                # The band is on S; 1 - S flips the limits.
                p = 1.0 - _step_at(times, surv, x)
                p_lo = 1.0 - _step_at(times, hi, x)
                p_hi = 1.0 - _step_at(times, lo, x)
            else:
                p = p_lo = p_hi = nan
            row[p_outage_column(x)] = p
            row[f"{p_outage_column(x)}_ci_lower"] = p_lo
            row[f"{p_outage_column(x)}_ci_upper"] = p_hi

        rate, rate_lo, rate_hi = _exponential_rate_ci(r, exposure, confidence)
        shape, scale = _weibull(t, e)
        events = valid.loc[valid["event_observed"].astype(bool)]
        row.update(
            hazard_per_h=rate * 3600.0,
            hazard_per_h_ci_lower=rate_lo * 3600.0,
            hazard_per_h_ci_upper=rate_hi * 3600.0,
            weibull_shape=shape,
            weibull_scale_s=scale,
            recovered_fraction=float(events["recovered"].astype(bool).mean()) if r else nan,
            blackout_median_s=float(events["blackout_s"].median()) if r else nan,
        )
        rows.append(row)
    return pd.DataFrame(rows)


def logrank(runs: pd.DataFrame, by: str | Sequence[str], *, compare: str) -> pd.DataFrame:
    """Pairwise log-rank tests between values of ``compare`` within strata.

    Parameters
    ----------
    runs : DataFrame
        One row per run (see :func:`km_curves`).
    by : str or sequence of str
        Grouping columns; tests are done separately for every combination of
        the columns other than ``compare``.
    compare : str
        Column whose values are compared pairwise (e.g. ``"design"``).

    Returns
    -------
    DataFrame
        The other ``by`` columns, then ``group_a, group_b, statistic, pvalue,
        events_a, events_b, n_a, n_b`` (``n_*`` = valid runs). ``statistic`` is
        scipy's signed Z (its square is the usual chi-square with 1 df);
        positive means ``group_a`` has more outages than expected under H0.
        When neither group has an event, statistic 0 and p-value 1 are
        reported: with no events both KM curves are identically 1, observed
        minus expected events is exactly 0 and its variance is 0, so the data
        carry no evidence against H0 (scipy would return 0/0 = NaN). A group
        with no valid runs yields NaN.
    """
    by = _as_list(by)
    _check_columns(runs, [*_REQUIRED, compare, *by])
    strata = [c for c in by if c != compare]
    cols = [
        *strata,
        "group_a",
        "group_b",
        "statistic",
        "pvalue",
        "events_a",
        "events_b",
        "n_a",
        "n_b",
    ]
    rows = []
    for key, sub in _groups(runs, strata):
        samples = {}
        for value, grp in sub.groupby(compare, dropna=False, sort=True):
            samples[value] = _durations_events(_valid(grp))
        for a, b in itertools.combinations(samples, 2):
            (ta, ea), (tb, eb) = samples[a], samples[b]
            ra, rb = int(np.count_nonzero(ea)), int(np.count_nonzero(eb))
            if ta.size == 0 or tb.size == 0:
                stat, p = float("nan"), float("nan")
            elif ra == 0 and rb == 0:
                stat, p = 0.0, 1.0
            else:
                res = stats.logrank(_censored_data(ta, ea), _censored_data(tb, eb))
                stat, p = float(res.statistic), float(res.pvalue)
            rows.append(
                {
                    **key,
                    "group_a": a,
                    "group_b": b,
                    "statistic": stat,
                    "pvalue": p,
                    "events_a": ra,
                    "events_b": rb,
                    "n_a": int(ta.size),
                    "n_b": int(tb.size),
                }
            )
    return pd.DataFrame(rows, columns=cols)


def analyze(
    runs: pd.DataFrame,
    by: str | Sequence[str],
    *,
    compare: str = "design",
    times_s: Sequence[float] = (60, 300, 900),
) -> dict[str, pd.DataFrame]:
    """Run the whole survival analysis.

    Parameters
    ----------
    runs : DataFrame
        One row per run (see :func:`summary`).
    by : str or sequence of str
        Grouping columns.
    compare : str
        Column compared pairwise by log-rank tests.
    times_s : sequence of float
        Times at which the probability of an outage is reported.

    Returns
    -------
    dict of str to DataFrame
        ``"summary"``, ``"km"``, ``"censor"``; ``"logrank"`` when ``compare`` is
        a column of ``runs`` and in ``by``; ``"logrank_smp"`` (comparing SMP
        settings within the other strata) when ``"smp"`` is likewise present and
        is not already ``compare``.
    """
    by = _as_list(by)
    out = {
        "summary": summary(runs, by, times_s=tuple(times_s)),
        "km": km_curves(runs, by),
        "censor": censor_times(runs, by),
    }
    if compare in runs.columns and compare in by:
        out["logrank"] = logrank(runs, by, compare=compare)
    if compare != "smp" and "smp" in runs.columns and "smp" in by:
        out["logrank_smp"] = logrank(runs, by, compare="smp")
    return out
