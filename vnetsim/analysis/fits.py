"""Parametric fits and exact bounds of time-to-outage data, each with its interval.

* Constant hazard: MLE ``events / exposure`` with the exact chi-square interval (NIST/SEMATECH
  e-Handbook 8.4.1.2, time-censored test) and the one-sided Poisson upper bound used when a
  cell has no outage.
* Weibull: the MLE from ``scipy.stats.weibull_min.fit`` on ``CensoredData``; intervals are Wald
  intervals on the log of shape and scale from the observed information, the Hessian of the
  censored log-likelihood by ``statsmodels.tools.numdiff.approx_hess`` (scipy's fit gives no
  standard errors). Log scale keeps both limits positive; at the MLE the delta method makes
  ``se(log θ) = se(θ) / θ``, so the standard errors equal lifelines' (which reports Wald limits
  on the natural scale, e.g. a shape of 10.2 with limits [−1.6, 21.9] from 2 events).
  No fit below :data:`MIN_WEIBULL_EVENTS` events; NaN for a degenerate sample.
* Proportions: the exact (Clopper–Pearson) interval of ``scipy.stats.binomtest``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = [
    "MIN_WEIBULL_EVENTS",
    "WeibullFit",
    "exact_proportion_ci",
    "exponential_rate_ci",
    "poisson_rate_upper",
    "weibull_fit",
]

MIN_WEIBULL_EVENTS = 5
"""Fewest events for a Weibull fit: with two parameters, fewer events leave the shape's
interval spanning most of its plausible range (2 events gave 10.2 [−1.6, 21.9])."""

_NAN = float("nan")


def exponential_rate_ci(
    events: float, exposure_s: float, confidence: float = 0.95
) -> tuple[float, float, float]:
    """Constant-hazard MLE ``r / T`` and its exact two-sided chi-square interval, per second.

    ``[chi2.ppf(a/2, 2r) / 2T, chi2.ppf(1 - a/2, 2r + 2) / 2T]``; the lower limit is 0 when
    ``r = 0``. All NaN when ``T <= 0``. A non-integer ``r`` (the split estimator's expected
    outages) is allowed: the chi-square quantile is defined for any degrees of freedom > 0.
    """
    if not exposure_s > 0:
        return _NAN, _NAN, _NAN
    alpha = 1.0 - confidence
    rate = events / exposure_s
    lower = stats.chi2.ppf(alpha / 2, 2 * events) / (2 * exposure_s) if events > 0 else 0.0
    # 2r + 2 degrees of freedom: under time censoring the next failure is unobserved.
    upper = stats.chi2.ppf(1 - alpha / 2, 2 * events + 2) / (2 * exposure_s)
    return float(rate), float(lower), float(upper)


def poisson_rate_upper(events: float, exposure_s: float, confidence: float = 0.95) -> float:
    """One-sided upper confidence bound of a constant hazard, per second.

    ``chi2.ppf(confidence, 2r + 2) / 2T``; for ``r = 0`` this is ``-ln(1 - confidence) / T``
    (3.0 / T at 95 %), the bound a cell without an outage supports. NaN when ``T <= 0``.
    """
    if not exposure_s > 0:
        return _NAN
    return float(stats.chi2.ppf(confidence, 2 * events + 2) / (2 * exposure_s))


def exact_proportion_ci(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Clopper–Pearson interval of ``k`` successes in ``n`` trials (NaN when ``n = 0``).

    For 0 of 2 the 95 % upper limit is ``1 - 0.025 ** (1/2) = 0.842``.
    """
    if n <= 0:
        return _NAN, _NAN
    ci = stats.binomtest(int(k), int(n)).proportion_ci(confidence, method="exact")
    return float(ci.low), float(ci.high)


@dataclass(frozen=True)
class WeibullFit:
    """Weibull shape and scale with Wald intervals (log scale); NaN when not fitted."""

    shape: float = _NAN
    shape_ci: tuple[float, float] = (_NAN, _NAN)
    scale_s: float = _NAN
    scale_ci_s: tuple[float, float] = (_NAN, _NAN)
    note: str = ""


def _loglik(log_params: np.ndarray, t: np.ndarray, e: np.ndarray) -> float:
    shape, scale = np.exp(log_params)
    z = t / scale
    cum = z**shape
    log_pdf = np.log(shape / scale) + (shape - 1.0) * np.log(z[e]) - cum[e]
    return float(log_pdf.sum() - cum[~e].sum())


def weibull_fit(t: np.ndarray, e: np.ndarray, confidence: float = 0.95) -> WeibullFit:
    """Censored Weibull MLE with Wald intervals; NaN (with a note) below the minimum or when
    the sample is degenerate (identical or zero event times, a singular information)."""
    r = int(np.count_nonzero(e))
    if r < MIN_WEIBULL_EVENTS:
        return WeibullFit(note=f"{r} events (a fit needs {MIN_WEIBULL_EVENTS})")
    if np.any(t[e] <= 0.0) or np.unique(t[e]).size < 2:
        return WeibullFit(note="degenerate event times")
    from statsmodels.tools.numdiff import approx_hess

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            shape, _loc, scale = stats.weibull_min.fit(
                stats.CensoredData(uncensored=t[e], right=t[~e]), floc=0
            )
            theta = np.log([shape, scale])
            info = -approx_hess(theta, _loglik, args=(t, e))
            cov = np.linalg.inv(info)
    except (ValueError, RuntimeError, np.linalg.LinAlgError, stats.FitError):
        return WeibullFit(note="fit failed")
    se = np.sqrt(np.diag(cov))
    if not (np.all(np.isfinite(theta)) and np.all(np.isfinite(se)) and np.all(se > 0)):
        return WeibullFit(note="singular information")
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    lo, hi = np.exp(theta - z * se), np.exp(theta + z * se)
    return WeibullFit(
        shape=float(shape),
        shape_ci=(float(lo[0]), float(hi[0])),
        scale_s=float(scale),
        scale_ci_s=(float(lo[1]), float(hi[1])),
    )
