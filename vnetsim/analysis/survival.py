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
* Median time to outage and its confidence interval (by inverting the KM band; the
  first-time rule of lifelines, or R's midpoint rule with ``median_rule="midpoint"``),
  restricted mean survival time (RMST) up to the group's shortest horizon with its
  variance-based interval, and outage probabilities ``1 - S(t)`` at fixed times, with the
  exact binomial interval where every run is observed to ``t``.
* Constant-hazard (exponential) model and the Weibull fit, each with intervals, and the
  one-sided bound of a cell without an outage: :mod:`vnetsim.analysis.fits`.
* Blackout length, a time censored by the recovery window, by Kaplan–Meier with recovery
  as the event; the recovered fraction with its Clopper–Pearson interval.
* Pairwise log-rank tests between designs: :func:`scipy.stats.logrank`.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Hashable, Iterable, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from vnetsim.analysis import fits
from vnetsim.analysis.checks import check_runs
from vnetsim.analysis.checks import error_mask as _error_mask

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


MEDIAN_RULES = ("first", "midpoint")
_FLAT_TOL = 1.49e-8  # sqrt(double eps): "exactly 0.5" as R's quantile.survfit tests it


def _quantile_time(times: np.ndarray, values: np.ndarray, level: float, rule: str) -> float:
    """Time where a horizontal line at ``level`` meets the step function.

    ``"first"`` (lifelines, scipy): the first time with value <= ``level``. ``"midpoint"``
    (R survival's ``quantile.survfit``): where the curve is flat at exactly ``level``, the
    middle of that flat, from its start to the next drop, or to the last time when the
    curve ends on the flat.
    """
    first = _first_time_le(times, values, level + (_FLAT_TOL if rule == "midpoint" else 0.0))
    if rule == "first" or not np.isfinite(first):
        return first
    i = int(np.searchsorted(times, first))
    if abs(values[i] - level) >= _FLAT_TOL:
        return first
    drops = np.flatnonzero(values[i:] < values[i] - _FLAT_TOL)
    end = times[i + drops[0]] if drops.size else times[-1]
    return float((first + end) / 2.0)


def _rmst(times: np.ndarray, surv: np.ndarray, tau: float) -> float:
    """Integral of the KM step function over ``[0, tau]`` (flat after the last time)."""
    return float(np.sum(_rmst_pieces(times, surv, tau)))


def _rmst_pieces(times: np.ndarray, surv: np.ndarray, tau: float) -> np.ndarray:
    """Area of each step of the KM function below ``tau`` (0 for steps from ``tau`` on)."""
    keep = times < tau
    right = np.append(times[1:], tau)
    return np.where(keep, surv * (np.minimum(right, tau) - times), 0.0)


def _rmst_se(km: pd.DataFrame, tau: float) -> float:
    """Standard error of the KM restricted mean up to ``tau``.

    ``Var = sum_i A_i**2 d_i / (n_i (n_i - d_i))`` over event times ``t_i < tau``, with
    ``A_i`` the area under the curve from ``t_i`` to ``tau`` (Klein & Moeschberger 2003,
    eq. 4.5.2; R survival's ``print.survfit(rmean=)`` without its small-sample factor).
    Written here: scipy has no RMST, and lifelines' variance is that of ``min(T, tau)``.
    """
    times = km["time_s"].to_numpy(dtype=float)
    pieces = _rmst_pieces(times, km["survival"].to_numpy(dtype=float), tau)
    area_after = np.cumsum(pieces[::-1])[::-1]  # A_i: from t_i (its new level) on to tau
    n = km["at_risk"].to_numpy(dtype=float)
    d = km["events"].to_numpy(dtype=float)
    use = (d > 0) & (times < tau) & (n > d)  # n = d leaves S = 0 after it: A_i = 0
    return float(np.sqrt(np.sum(area_after[use] ** 2 * d[use] / (n[use] * (n[use] - d[use])))))


def _fmt_time(x: float) -> str:
    if not np.isfinite(x):
        return "NR"
    return f"{x:.0f}" if abs(x) >= 100 else f"{x:.3g}"


def _median_label(med: float, lo: float, hi: float) -> str:
    if not np.isfinite(med):
        return "not reached"
    return f"{_fmt_time(med)} s [{_fmt_time(lo)}, {_fmt_time(hi)}]"


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
    check_runs(runs)
    parts = []
    for key, sub in _groups(runs, by):
        table = _km_table(*_durations_events(_valid(sub)), confidence)
        if table.empty:
            continue
        parts.append(table.assign(**key)[[*by, *_KM_COLUMNS]])
    if not parts:
        return pd.DataFrame(columns=[*by, *_KM_COLUMNS])
    return pd.concat(parts, ignore_index=True)


def recovery_curves(runs: pd.DataFrame, by: str | Sequence[str]) -> pd.DataFrame:
    """Kaplan–Meier curves of the blackout length, recovery as the event, per group.

    Only runs with an outage (``event_observed``) enter; a run still silent at the end of its
    recovery window is censored at ``blackout_s``. ``survival`` is then the probability that
    a blackout is still going on that long after its onset. Columns as :func:`km_curves`.
    """
    by = _as_list(by)
    _check_columns(runs, [*_REQUIRED, "recovered", "blackout_s", *by])
    check_runs(runs, flags=("event_observed", "recovered"))
    outages = runs.loc[runs["event_observed"].astype(bool)]
    check_runs(outages, flags=(), durations=("blackout_s",))
    as_times = outages.assign(
        duration_s=outages["blackout_s"], event_observed=outages["recovered"].astype(bool)
    )
    return km_curves(as_times, by)


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
    check_runs(runs)
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


def _exact_by(t: np.ndarray, e: np.ndarray, x: float) -> bool:
    """Whether every run is observed to ``x``: no censoring before it, so KM is a proportion."""
    return not np.any((t < x) & ~e)


def _p_outage(
    km: pd.DataFrame, t: np.ndarray, e: np.ndarray, x: float, confidence: float
) -> tuple[float, float, float, str]:
    """P(outage by ``x``) with its interval and the interval's method.

    Where no run is censored before ``x``, 1 − KM is the binomial proportion k/n and the
    exact Clopper–Pearson interval is used (it gives 0/2 the honest upper limit 84 %, where
    the log-log band collapses to [0, 0]); otherwise the flipped log-log band.
    """
    if _exact_by(t, e, x):
        k = int(np.count_nonzero(e & (t <= x)))
        lo, hi = fits.exact_proportion_ci(k, t.size, confidence)
        return k / t.size, lo, hi, "clopper-pearson"
    times = km["time_s"].to_numpy(dtype=float)
    p = 1.0 - _step_at(times, km["survival"].to_numpy(dtype=float), x)
    p_lo = 1.0 - _step_at(times, km["ci_upper"].to_numpy(dtype=float), x)
    p_hi = 1.0 - _step_at(times, km["ci_lower"].to_numpy(dtype=float), x)
    return p, p_lo, p_hi, "log-log"


def _median_columns(km: pd.DataFrame, rule: str) -> dict[str, object]:
    times = km["time_s"].to_numpy(dtype=float)
    med, lo, hi = (
        _quantile_time(times, km[c].to_numpy(dtype=float), 0.5, rule)
        for c in ("survival", "ci_lower", "ci_upper")
    )
    return {
        "median_s": med,
        "median_ci_lower_s": lo,
        "median_ci_upper_s": hi,
        "median_label": _median_label(med, lo, hi),
    }


def _rmst_columns(km: pd.DataFrame, tau: float, confidence: float) -> dict[str, float]:
    times = km["time_s"].to_numpy(dtype=float)
    rmst = _rmst(times, km["survival"].to_numpy(dtype=float), tau)
    half = float(stats.norm.ppf(0.5 + confidence / 2)) * _rmst_se(km, tau)
    return {
        "rmst_s": rmst,
        "rmst_ci_lower_s": max(0.0, rmst - half),
        "rmst_ci_upper_s": min(tau, rmst + half),
        "rmst_tau_s": tau,
    }


def _hazard_columns(r: int, exposure: float, confidence: float) -> dict[str, object]:
    rate, lo, hi = fits.exponential_rate_ci(r, exposure, confidence)
    upper = fits.poisson_rate_upper(r, exposure, confidence)
    return {
        "hazard_per_h": rate * 3600.0,
        "hazard_per_h_ci_lower": lo * 3600.0,
        "hazard_per_h_ci_upper": hi * 3600.0,
        "hazard_per_h_upper": upper * 3600.0,
        "hazard_is_bound": r == 0,
    }


def _weibull_columns(t: np.ndarray, e: np.ndarray, confidence: float) -> dict[str, object]:
    fit = fits.weibull_fit(t, e, confidence)
    return {
        "weibull_shape": fit.shape,
        "weibull_shape_ci_lower": fit.shape_ci[0],
        "weibull_shape_ci_upper": fit.shape_ci[1],
        "weibull_scale_s": fit.scale_s,
        "weibull_scale_ci_lower_s": fit.scale_ci_s[0],
        "weibull_scale_ci_upper_s": fit.scale_ci_s[1],
        "weibull_note": fit.note,
    }


def _blackout_columns(valid: pd.DataFrame, confidence: float, rule: str) -> dict[str, object]:
    """Blackout length of the runs with an outage, a censored time: recovery is the event.

    A run that did not recover within its recovery window has ``blackout_s`` equal to the
    window; it is a lower bound, never a length. The median is Kaplan–Meier's (NaN, labelled
    ``"> x s"``, while fewer than half have recovered); the recovered fraction carries its
    Clopper–Pearson interval.
    """
    out = valid.loc[valid["event_observed"].astype(bool)]
    n = len(out)
    b = out["blackout_s"].to_numpy(dtype=float)
    rec = out["recovered"].to_numpy(dtype=bool)
    k = int(np.count_nonzero(rec))
    lo, hi = fits.exact_proportion_ci(k, n, confidence)
    med = float("nan")
    if n:
        km = _km_table(b, rec, confidence)
        med = _quantile_time(km["time_s"].to_numpy(), km["survival"].to_numpy(), 0.5, rule)
    if not n:
        label = ""
    elif np.isfinite(med):
        label = f"{_fmt_time(med)} s ({k}/{n} recovered)"
    else:
        label = f"> {_fmt_time(float(b.max()))} s ({k}/{n} recovered)"
    return {
        "blackout_runs": n,
        "recovered_runs": k,
        "recovered_fraction": k / n if n else float("nan"),
        "recovered_fraction_ci_lower": lo,
        "recovered_fraction_ci_upper": hi,
        "blackout_median_s": med,
        "blackout_median_label": label,
        "blackout_window_s": float(b[~rec].max()) if np.any(~rec) else float("nan"),
    }


def summary(
    runs: pd.DataFrame,
    by: str | Sequence[str],
    *,
    times_s: Sequence[float] = (60, 300, 900),
    confidence: float = 0.95,
    median_rule: str = "first",
) -> pd.DataFrame:
    """One-row-per-group table of survival, hazard and blackout statistics.

    Parameters
    ----------
    runs : DataFrame
        One row per run with ``duration_s, event_observed, horizon_s, recovered,
        blackout_s`` and optionally ``error`` and ``run_id``. Bad values in valid rows
        (a NaN or string event flag, a negative or NaN duration, a non-positive horizon)
        raise ``ConfigError`` naming the run.
    by : str or sequence of str
        Grouping columns.
    times_s : sequence of float
        Times at which to report the outage probability ``1 - S(t)``; a time past every
        group's horizon gets no column.
    confidence : float
        Level for every interval in the table.
    median_rule : {"first", "midpoint"}
        ``"first"`` (default; lifelines and scipy): the median is the first time S <= 0.5.
        ``"midpoint"`` (R survival): where S is exactly 0.5 over an interval, its middle.

    Returns
    -------
    DataFrame
        Group columns, then:

        ``estimator`` (``"kaplan-meier"``), ``n_runs`` (errors included), ``n_errors``,
        ``n_valid``, ``events``, ``censored``, ``exposure_s``, ``exposure_h``;
        ``median_s`` with ``median_ci_lower_s``/``median_ci_upper_s`` (the KM band
        inverted; NaN if never reached) and ``median_label``;
        ``rmst_s`` with ``rmst_ci_lower_s``/``rmst_ci_upper_s`` (normal interval from the
        KM variance of the restricted mean, clipped to [0, tau]) and ``rmst_tau_s`` (the
        group's smallest ``horizon_s``);
        ``p_outage_<t>s`` with ``_ci_lower``/``_ci_upper`` per ``t`` (NaN when
        ``t > tau``) and ``p_outage_ci_method`` (``"clopper-pearson"`` where every run is
        observed to ``t``, which covers every cell of a fixed-horizon sweep, else
        ``"log-log"``; the method of the last ``t``);
        ``hazard_per_h`` with ``_ci_lower``/``_ci_upper`` (exponential MLE, exact
        chi-square interval), ``hazard_per_h_upper`` (one-sided upper bound) and
        ``hazard_is_bound`` (no outage: only the bound is informative);
        ``weibull_shape``, ``weibull_scale_s`` with Wald intervals and ``weibull_note``
        (NaN below ``fits.MIN_WEIBULL_EVENTS`` events or for a degenerate fit);
        the blackout columns of :func:`_blackout_columns` (``blackout_runs``,
        ``recovered_runs``, ``recovered_fraction`` with its exact interval,
        ``blackout_median_s`` (Kaplan–Meier, recovery as the event), ``blackout_median_label``,
        ``blackout_window_s``).
    """
    if median_rule not in MEDIAN_RULES:
        raise ValueError(f"median_rule = {median_rule!r} (allowed: {', '.join(MEDIAN_RULES)})")
    by = _as_list(by)
    _check_columns(runs, [*_REQUIRED, "horizon_s", "recovered", "blackout_s", *by])
    check_runs(runs, flags=("event_observed", "recovered"), positive=("horizon_s",))
    events_only = runs.loc[runs["event_observed"].astype(bool)]
    check_runs(events_only, flags=(), durations=("blackout_s",))
    nan = float("nan")
    rows = []
    taus = []
    for key, sub in _groups(runs, by):
        valid = _valid(sub)
        t, e = _durations_events(valid)
        r = int(np.count_nonzero(e))
        exposure = float(t.sum())
        row: dict[str, object] = {
            **key,
            "estimator": "kaplan-meier",
            "n_runs": len(sub),
            "n_errors": len(sub) - len(valid),
            "n_valid": int(t.size),
            "events": r,
            "censored": int(t.size - r),
            "exposure_s": exposure,
            "exposure_h": exposure / 3600.0,
        }
        km = _km_table(t, e, confidence)
        tau = float(valid["horizon_s"].min()) if t.size else nan
        taus.append(tau)
        if t.size:
            row.update(_median_columns(km, median_rule))
            row.update(_rmst_columns(km, tau, confidence))
        method = ""
        for x in times_s:
            col = p_outage_column(x)
            p = p_lo = p_hi = nan
            if t.size and x <= tau:
                p, p_lo, p_hi, method = _p_outage(km, t, e, x, confidence)
            row.update({col: p, f"{col}_ci_lower": p_lo, f"{col}_ci_upper": p_hi})
        row["p_outage_ci_method"] = method
        row.update(_hazard_columns(r, exposure, confidence))
        row.update(_weibull_columns(t, e, confidence))
        row.update(_blackout_columns(valid, confidence, median_rule))
        rows.append(row)
    table = pd.DataFrame(rows)
    # A time past every group's horizon would only be a column of NaN.
    longest = np.nanmax(taus) if np.isfinite(taus).any() else nan
    past = [x for x in times_s if not x <= longest]
    drop = [f"{p_outage_column(x)}{s}" for x in past for s in ("", "_ci_lower", "_ci_upper")]
    return table.drop(columns=[c for c in drop if c in table.columns])


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
    check_runs(runs)
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
    median_rule: str = "first",
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
    median_rule : {"first", "midpoint"}
        The median's convention where S is exactly 0.5 (see :func:`summary`).

    Returns
    -------
    dict of str to DataFrame
        ``"summary"``, ``"km"``, ``"censor"``, ``"recovery_km"`` (:func:`recovery_curves`);
        ``"logrank"`` when ``compare`` is
        a column of ``runs`` and in ``by`` (asymptotic p-values; ``vnetsim.analysis.report``
        replaces it by exact permutation p-values, and compares SMP values by the trend
        regression of ``vnetsim.analysis.inference`` rather than pairwise).
    """
    by = _as_list(by)
    out = {
        "summary": summary(runs, by, times_s=tuple(times_s), median_rule=median_rule),
        "km": km_curves(runs, by),
        "censor": censor_times(runs, by),
        "recovery_km": recovery_curves(runs, by),
    }
    if compare in runs.columns and compare in by:
        out["logrank"] = logrank(runs, by, compare=compare)
    return out
