"""The Morris screening script (experiments/sensitivity.py): its parameter maps, its use of
SALib on a response whose elementary effects are known, and one real run."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("SALib")

_PATH = Path(__file__).resolve().parent.parent / "experiments" / "sensitivity.py"
_SPEC = importlib.util.spec_from_file_location("sensitivity", _PATH)
assert _SPEC is not None
assert _SPEC.loader is not None
sens = importlib.util.module_from_spec(_SPEC)
sys.modules["sensitivity"] = sens  # dataclasses look their module up by name
_SPEC.loader.exec_module(sens)


def test_parameter_maps_reach_both_ends_of_each_range() -> None:
    for p in sens.PARAMETERS:
        lo, hi = p.value(0.0), p.value(1.0)
        if p.scale == "choice":
            assert (lo, hi) == (p.choices[0], p.choices[-1])
            continue
        assert (lo, hi) == (pytest.approx(p.low), pytest.approx(p.high)), p.field
    depth = next(p for p in sens.PARAMETERS if p.field == "workload.pipeline_depth")
    assert [depth.value(u) for u in (0, 1 / 3, 2 / 3, 1)] == [2, 4, 6, 8]
    window = next(p for p in sens.PARAMETERS if p.field == "driver.publish_window_max_ns")
    assert window.value(0.5) == pytest.approx(math.sqrt(20.0 * 400.0))  # geometric middle


@pytest.mark.parametrize("u", [0.0, 1.0])
@pytest.mark.parametrize("design", ["old", "new", "nanos-0.1.48"])
def test_every_corner_of_the_ranges_is_a_valid_scenario(u: float, design: str) -> None:
    import vnetsim
    from vnetsim.scenario import check

    values = sens.settings(np.full(len(sens.PARAMETERS), u))
    assert values["driver.publish_window_min_ns"] == values["driver.publish_window_max_ns"] / 4
    values["driver.design"] = design
    check(vnetsim.preset("nanos-2099").with_fields(values, source="test"))


def _rows(x: np.ndarray, y: np.ndarray, seed_key: int = 0) -> list[dict]:
    size = len(sens.PARAMETERS) + 1
    return [
        {
            "point": i if seed_key == 0 else -1 - i // size,
            "trajectory": i // size,
            "seed_key": seed_key,
            "hazard_per_h": 10.0**v - 1.0,
            "mb_batches_per_s": 1.0,
            "p_batch": 0.01,
        }
        for i, v in enumerate(y)
    ]


def test_screening_recovers_known_elementary_effects_and_the_noise_floor(tmp_path) -> None:
    """A linear response Σ bᵢuᵢ has every elementary effect equal to bᵢ, so μ* = |bᵢ|, μ = bᵢ
    and σ = 0; the noise floor of two seeds that differ by ±d everywhere is
    d·sqrt(2/π)/Δ with Δ = 2/3 (4 levels)."""
    x = sens.design_matrix(4, tmp_path)
    assert (tmp_path / "design.csv").exists()
    assert np.array_equal(sens.design_matrix(4, tmp_path), x)  # kept, not redrawn
    k = len(sens.PARAMETERS)
    b = np.linspace(-2.0, 2.5, k)
    y = 3.0 + x @ b
    rows = _rows(x, y)
    d = 0.3
    starts = x[:: k + 1]
    noise = _rows(starts, 3.0 + starts @ b + d, seed_key=1)
    for j, r in enumerate(noise):
        r["trajectory"], r["point"] = j, -1 - j
    table = sens.screen(x, rows, noise)
    hz = table[table["response"] == "hazard"].set_index("parameter")
    names = [p.field for p in sens.PARAMETERS]
    assert hz.loc[names, "mu_star"].to_numpy() == pytest.approx(np.abs(b), abs=1e-9)
    assert hz.loc[names, "mu"].to_numpy() == pytest.approx(b, abs=1e-9)
    assert hz.loc[names, "sigma"].to_numpy() == pytest.approx(0.0, abs=1e-9)
    assert hz["noise_floor"].iloc[0] == pytest.approx(d * math.sqrt(2 / math.pi) / (2 / 3))
    assert int(hz.loc[names[-1], "rank"]) == 1  # the largest |b|
    with pytest.raises(SystemExit, match="not complete"):
        sens.screen(x, rows[:-1], noise)


def test_immune_check_gives_the_exact_zero_failure_bound() -> None:
    rows = [
        {
            "split_replays": 400,
            "split_batches": 20,
            "failing_replays": 0,
            "event_observed": False,
            "d2_stale_reads": 0,
            "misframed_buffers": 0,
            "settings": {},
        }
        for _ in range(3)
    ]
    out = sens.immune_check(rows)
    assert out["replays"] == 1200
    assert out["p_batch_upper_95"] == pytest.approx(1 - 0.05 ** (1 / 1200))
    rows[1] = {**rows[1], "failing_replays": 2, "settings": {"x": 1}}
    out = sens.immune_check(rows)
    assert out["p_batch_upper_95"] is None
    assert out["failing_points"] == [{"x": 1}]


def test_one_design_point_runs_and_repeats_bit_for_bit() -> None:
    x = np.full(len(sens.PARAMETERS), 2 / 3)
    job = sens.Job(0, 0, "old", tuple(x), 0.2, 4, 0)
    a, b = sens.run_job(job), sens.run_job(job)
    a.pop("wall_s"), b.pop("wall_s")
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)  # NaN-safe equality
    assert a["horizon_s"] == 0.2
    assert a["frames_offered"] > 0
    assert a["settings"]["workload.load_rps"] == pytest.approx(2500 * 4 ** (2 / 3))
    assert a["hazard_per_h"] >= 0.0


def test_one_at_a_time_table_maps_the_survival_interval_to_the_hazard(tmp_path) -> None:
    assert sens.oat_values("driver.publish_window_max_ns", 100.0) == {
        "driver.publish_window_max_ns": 100.0,
        "driver.publish_window_min_ns": 25.0,
    }
    assert sens.oat_values("workload.http_connections", 100.4) == {"workload.http_connections": 100}
    path = tmp_path / "oat-x-old.jsonl"
    surv = {10.0: [0.5, 0.7, 0.6], 20.0: [1.0, 1.0, 1.0]}
    with open(path, "w") as fh:
        for v, ss in surv.items():
            for j, s in enumerate(ss):
                row = {
                    "point": 0,
                    "trajectory": j,
                    "seed_key": 2,
                    "settings": {"x": v},
                    "survival": s,
                    "horizon_s": 60.0,
                    "mb_batches_per_s": 1.0,
                }
                fh.write(json.dumps(row) + "\n")
    t = sens.oat_table(path, "x").set_index("value")
    from scipy import stats

    half = stats.t.ppf(0.975, 2) * 0.1 / math.sqrt(3)
    assert t.loc[10.0, "survival"] == pytest.approx(0.6)
    assert t.loc[10.0, "survival_ci_lower"] == pytest.approx(max(0.6 - half, 0.0))
    assert t.loc[10.0, "hazard_per_h"] == pytest.approx(-math.log(0.6) / 60 * 3600)
    assert t.loc[10.0, "hazard_per_h_ci_lower"] == pytest.approx(-math.log(0.6 + half) / 60 * 3600)
    assert t.loc[10.0, "hazard_per_h_ci_upper"] == pytest.approx(-math.log(0.6 - half) / 60 * 3600)
    assert t.loc[20.0, "hazard_per_h"] == 0.0


def test_a_runs_outage_rate_is_expected_outages_over_expected_time_at_risk() -> None:
    # half the paths fail at t = 10 of a 40 s run: lost 0.5, area 10 + 30 * 0.5 = 25
    assert sens.lost_and_area([[10.0, 0.5, 20]], 40.0, math.nan, False) == (0.5, 25.0)
    # every replay failed at t = 10 (the run stopped there): rate 1 / 10 s, finite
    assert sens.lost_and_area([[10.0, 1.0, 20]], 10.0, 10.0, False) == (1.0, 10.0)
    # the path's own outage at t = 30 ends it: everything lost, area to 30
    assert sens.lost_and_area([[10.0, 0.5, 20]], 30.0, math.nan, True) == (1.0, 20.0)
    assert sens.lost_and_area([], 60.0, math.nan, False) == (0.0, 60.0)
