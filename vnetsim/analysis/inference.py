"""Inference across the cells of a sweep: pooled ratios, trends, certification, exact tests.

The one place to import them from; each lives in its own module:

* :func:`pooled_comparison` (:mod:`~vnetsim.analysis.pooled`): each design against a
  reference over all cells at once: stratified log-rank and a common rate ratio with its
  interval, or an exact one-sided bound when one design had no outage;
* :func:`trend` (:mod:`~vnetsim.analysis.trend`): per design, the change of the hazard per
  doubling of vCPUs and of load (Poisson regression);
* :func:`certification` (:mod:`~vnetsim.analysis.certify`): the fixed design's bound against
  the old one, per cell and pooled, and the run-hours that would certify a target ratio;
* :func:`small_sample_logrank` (:mod:`~vnetsim.analysis.permutation`): per-cell log-rank
  tests with exact permutation p-values.

Plain and split rows (``estimator``) are never pooled together; every output row names its
estimator. docs/inference.md describes the models and their assumptions.
"""

from __future__ import annotations

from vnetsim.analysis.certify import certification
from vnetsim.analysis.permutation import small_sample_logrank
from vnetsim.analysis.pooled import pooled_comparison
from vnetsim.analysis.trend import trend

__all__ = ["certification", "pooled_comparison", "small_sample_logrank", "trend"]
