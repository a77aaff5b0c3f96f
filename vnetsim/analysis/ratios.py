"""Rate ratios and Poisson models for pooled survival data: bounds, fits, Wald intervals.

Hand-written here, because no library provides them (statsmodels and scipy were checked):
the exact conditional bound on a rate ratio common to several strata
(:func:`exact_ratio_upper`), the indirectly standardised bound for split runs, and the check
that a Poisson log-linear MLE exists (:func:`mle_exists`). The fits themselves are
statsmodels' GLM.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
from scipy import optimize, stats
from scipy.special import expit
from statsmodels.genmod.families import Poisson
from statsmodels.genmod.generalized_linear_model import GLM
from statsmodels.tools.sm_exceptions import (
    ConvergenceWarning,
    EstimationWarning,
    HessianInversionWarning,
    PerfectSeparationError,
    PerfectSeparationWarning,
)

from vnetsim.analysis.fits import poisson_rate_upper

__all__ = ["exact_ratio_upper", "fit_poisson", "mle_exists", "standardized_ratio_upper", "wald"]

_NAN = float("nan")
_INF = float("inf")


def _binomial_sum_log_cdf(t: int, n: np.ndarray, p: np.ndarray) -> float:
    """log P(Σ_s X_s ≤ t) for independent X_s ~ Binomial(n_s, p_s)."""
    if t == 0:
        return float(np.sum(n * np.log1p(-p)))
    pmf = np.ones(1)
    for n_s, p_s in zip(n, p, strict=True):
        # Only P(sum ≤ t) is needed: every pmf can be cut at t.
        part = stats.binom.pmf(np.arange(min(int(n_s), t) + 1), int(n_s), p_s)
        pmf = np.convolve(pmf, part)[: t + 1]
    return math.log(max(float(pmf.sum()), 1e-300))


def exact_ratio_upper(
    k_level: np.ndarray,
    k_ref: np.ndarray,
    e_level: np.ndarray,
    e_ref: np.ndarray,
    confidence: float,
) -> float:
    """Exact conditional one-sided upper bound on a rate ratio common to all strata.

    Hand-written: no library offers this bound for several strata. Given each stratum's total
    n_s = k_level_s + k_ref_s, and Poisson counts with rates R·λ_s and λ_s over exposures
    e_level_s and e_ref_s, the level's count is Binomial(n_s, p_s(R)) with
    p_s = R·e_level_s / (e_ref_s + R·e_level_s): the baseline λ_s cancels. T = Σ_s k_level_s is
    sufficient for R, so the bound is the R at which P_R(T ≤ t_observed) = α = 1 − confidence
    (a Clopper–Pearson bound; with t = 0, P = Π_s (1 − p_s)^{n_s}). P falls from 1 to 0 as R
    grows, so brentq on log R finds it. inf when no reference outage carries information.
    """
    k_level, k_ref = np.asarray(k_level, dtype=float), np.asarray(k_ref, dtype=float)
    e_level, e_ref = np.asarray(e_level, dtype=float), np.asarray(e_ref, dtype=float)
    keep = (k_level + k_ref > 0) & (e_level > 0) & (e_ref > 0)
    if not np.any(k_ref[keep] > 0):
        return _INF
    n = (k_level + k_ref)[keep]
    log_w = np.log(e_level[keep] / e_ref[keep])
    t = round(float(k_level[keep].sum()))
    log_alpha = math.log(1.0 - confidence)

    def excess(log_r: float) -> float:
        return _binomial_sum_log_cdf(t, n, expit(log_r + log_w)) - log_alpha

    lo, hi, step = -1.0, 1.0, 1.0
    while excess(lo) < 0 and lo > -700:
        step *= 2
        lo -= step
    step = 1.0
    while excess(hi) > 0 and hi < 700:
        step *= 2
        hi += step
    if excess(lo) < 0 or excess(hi) > 0:
        return _NAN  # not bracketed within exp(±700): not a number worth reporting
    return math.exp(optimize.brentq(excess, lo, hi, xtol=1e-12, rtol=1e-12))


def standardized_ratio_upper(
    k_level: float, e_level: np.ndarray, k_ref: np.ndarray, e_ref: np.ndarray, confidence: float
) -> float:
    """Upper bound on a rate ratio for split runs: the level's Poisson bound on its expected
    outages over the outages the reference's per-cell rates predict for the level's exposure
    (indirect standardisation; the reference's rates are taken as known). inf with no
    predicted outage."""
    e_ref = np.asarray(e_ref, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        rates = np.where(e_ref > 0, np.asarray(k_ref, dtype=float) / e_ref, 0.0)
    predicted = float(np.sum(np.asarray(e_level, dtype=float) * rates))
    if not predicted > 0:
        return _INF
    return poisson_rate_upper(k_level, 1.0, confidence) / predicted


def mle_exists(x: np.ndarray, y: np.ndarray) -> bool:
    """Whether the Poisson log-linear MLE is finite (hand-written check, no library has one).

    It is not when some direction d moves the linear predictor down on zero-count rows and
    leaves it unchanged on the others ((Xd)_i = 0 where y_i > 0, (Xd)_i ≤ 0 where y_i = 0,
    not all 0): the likelihood then keeps rising along d (Haberman's condition; "separation").
    Checked by a linear programme that maximises −Σ(Xd)_i over zero rows, with (Xd)_i ≥ −1.
    """
    zero = y <= 0
    if not zero.any():
        return True
    xz, xp = x[zero], x[~zero]
    res = optimize.linprog(
        c=xz.sum(axis=0),
        A_ub=np.vstack([xz, -xz]),
        b_ub=np.concatenate([np.zeros(len(xz)), np.ones(len(xz))]),
        A_eq=xp if len(xp) else None,
        b_eq=np.zeros(len(xp)) if len(xp) else None,
        bounds=[(None, None)] * x.shape[1],
        method="highs",
    )
    return bool(res.status == 0 and -res.fun <= 1e-9)


def fit_poisson(
    y: np.ndarray, x: np.ndarray, exposure: np.ndarray, *, quasi: bool
) -> tuple[Any, float, str]:
    """Poisson (or quasi-Poisson) GLM with offset log(exposure): (result, scale, problem).

    ``result`` is None and ``problem`` says why when the fit is degenerate: no finite MLE
    (separation), collinear columns, or a statsmodels warning/exception. Quasi-Poisson uses
    Pearson's X²/df as the scale (``scale="X2"``); with no residual degree of freedom it
    cannot, and the Poisson scale 1 is used.
    """
    if np.linalg.matrix_rank(x) < x.shape[1]:
        return None, _NAN, "the covariates are collinear over these cells"
    if not mle_exists(x, y):
        return None, _NAN, "no finite MLE: the cells without outage are separable (separation)"
    df_resid = len(y) - x.shape[1]
    scale: str | float = "X2" if quasi and df_resid > 0 else 1.0
    with warnings.catch_warnings():
        for category in (
            ConvergenceWarning,
            HessianInversionWarning,
            EstimationWarning,
        ):
            warnings.filterwarnings("error", category=category)
        # A saturated fit (0 residual df) divides by zero inside statsmodels' IRLS scale
        # estimate, which the Poisson fit never uses; non-finite estimates are caught below.
        warnings.filterwarnings("ignore", category=RuntimeWarning)
        # statsmodels flags "perfect prediction" whenever fitted equals observed, as in every
        # saturated fit; real separation is ruled out by _mle_exists above.
        warnings.filterwarnings("ignore", category=PerfectSeparationWarning)
        try:
            model = GLM(y, x, family=Poisson(), offset=np.log(exposure))
            # IRLS stops on a relative deviance change; 1e-8 (the default) leaves
            # the standard errors ~1e-6 off, a tighter stop costs one or two iterations.
            res = model.fit(scale=scale, tol=1e-12, maxiter=200)
        except (Warning, ValueError, np.linalg.LinAlgError, PerfectSeparationError) as exc:
            return None, _NAN, f"fit failed: {type(exc).__name__}"
    if not getattr(res, "converged", True):
        return None, _NAN, "fit did not converge"
    if not (np.all(np.isfinite(res.params)) and np.all(np.isfinite(res.bse))):
        return None, _NAN, "fit gave non-finite estimates"
    return res, float(res.scale), ""


def wald(coef: float, se: float, confidence: float) -> tuple[float, float, float, float]:
    """exp(coef), its Wald interval on the log scale, and the two-sided Wald p-value."""
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    p = float(2 * stats.norm.sf(abs(coef / se))) if se > 0 else _NAN
    return math.exp(coef), math.exp(coef - z * se), math.exp(coef + z * se), p
