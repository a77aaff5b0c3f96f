"""Measure time to outage per vCPU count by brute force (used for the calibration record).

    python experiments/measure_mttf.py --smp 2 4 8 16 --runs 6 --horizon 900 --workers 2

Prints one line per run and, per vCPU count, the exponential MLE of the mean time to outage
(total exposure / outages, right-censored runs included) with its chi-square 95 % interval
(NIST/SEMATECH handbook 8.4.1.2, as in VIRTIO.md 5.10). The full sweep machinery comes later;
this script only needs ``vnetsim.simulate``.
"""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ProcessPoolExecutor

from scipy.stats import chi2

import vnetsim


def one(args: tuple[int, int, float, str, list[str]]) -> dict:
    smp, seed, horizon, design, sets = args
    cfg = vnetsim.preset("nanos-2099").with_overrides(
        [
            f"guest.smp={smp}",
            f"run.horizon_s={horizon}",
            "run.recovery_horizon_s=30",
            f'driver.design="{design}"',
            *sets,
        ]
    )
    r = vnetsim.simulate(cfg, seed=seed)
    return {
        k: getattr(r, k)
        for k in (
            "smp",
            "seed",
            "duration_s",
            "event_observed",
            "cause",
            "recovered",
            "blackout_s",
            "multi_buffer_frames",
            "misframed_buffers",
            "sim_time_s",
            "wall_time_s",
        )
    }


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--smp", type=int, nargs="+", default=[2, 4, 8, 16])
    p.add_argument("--runs", type=int, default=6)
    p.add_argument("--first-seed", type=int, default=1)
    p.add_argument("--horizon", type=float, default=900.0)
    p.add_argument("--design", default="old")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--set", action="append", default=[])
    p.add_argument("--out", help="write all rows as JSON lines here")
    a = p.parse_args()
    jobs = [
        (n, s, a.horizon, a.design, a.set)
        for n in a.smp
        for s in range(a.first_seed, a.first_seed + a.runs)
    ]
    t0 = time.time()
    rows = []
    with ProcessPoolExecutor(a.workers) as ex:
        for row in ex.map(one, jobs):
            rows.append(row)
            print(json.dumps(row), flush=True)
            if a.out:
                with open(a.out, "a") as fh:
                    fh.write(json.dumps(row) + "\n")
    for n in a.smp:
        mine = [r for r in rows if r["smp"] == n]
        events = sum(r["event_observed"] for r in mine)
        exposure = sum(r["duration_s"] for r in mine)
        if events:
            lo = 2 * exposure / chi2.ppf(0.975, 2 * events + 2)
            hi = 2 * exposure / chi2.ppf(0.025, 2 * events)
            print(
                f"smp {n}: {events}/{len(mine)} outages, exposure {exposure:.0f} s, "
                f"MTTF {exposure / events:.0f} s (95% CI {lo:.0f}-{hi:.0f} s)"
            )
        else:
            print(f"smp {n}: 0/{len(mine)} outages in {exposure:.0f} s of exposure")
    print(f"wall {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
