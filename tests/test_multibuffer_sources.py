"""The multi-buffer source measurement (experiments/multibuffer_sources.py): its Poisson
interval and one short run of each kind of source."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pytest

_PATH = Path(__file__).resolve().parent.parent / "experiments" / "multibuffer_sources.py"
_SPEC = importlib.util.spec_from_file_location("multibuffer_sources", _PATH)
assert _SPEC is not None
assert _SPEC.loader is not None
mbs = importlib.util.module_from_spec(_SPEC)
sys.modules["multibuffer_sources"] = mbs
_SPEC.loader.exec_module(mbs)


def test_poisson_interval_is_garwoods() -> None:
    # No event: upper = -ln(0.025) / T (chi-square with 2 dof at 0.975, halved), lower 0.
    lo, hi = mbs.poisson_ci(0, 10.0)
    assert lo == 0.0
    assert hi == pytest.approx(-math.log(0.025) / 10.0, rel=1e-12)
    # 10 events over 1 s: the tabulated exact (Garwood) 95 % limits for x = 10, 4.795 and 18.390.
    lo, hi = mbs.poisson_ci(10, 1.0)
    assert (lo, hi) == (pytest.approx(4.7954, abs=1e-4), pytest.approx(18.3904, abs=1e-4))


def test_sources_without_pipelining_make_no_multi_buffer_frame_and_large_bodies_do() -> None:
    seed = np.random.SeedSequence(5)
    none = mbs.measure("connection per request", 5000.0, 0.5, seed)
    assert none["multi_buffer_frames"] == 0
    assert none["rate_ci_upper"] == pytest.approx(-math.log(0.025) / none["sim_time_s"])
    big = mbs.measure("bodies up to 1,400 B", 5000.0, 0.5, seed)
    # ~7.5 % of ~2,500 requests need two buffers: far more than zero, far fewer than all.
    assert 0.02 * big["http_responses"] < big["multi_buffer_frames"] < 0.2 * big["http_responses"]
