"""What a simulated second of blackout costs against a healthy one (CPU time, one process).

A run of the old driver under the stressed workload (32 connections, 8 vCPUs, 5,000 req/s)
goes silent after a few seconds. The benchmark runs it to the outage, timing the healthy
seconds, then times the blackout that follows, and also times healthy seconds of the calibrated
workload (128 connections, fixed driver) at the same load, which is the issue's reference. HTTP
arrivals for connections that are not up are counted without SimPy events of their own
(``HttpClients._arrive``), which is what makes a blackout cheap.

    python benchmarks/bench_blackout.py --json results/benchmarks/blackout.json

Not a test: it defines no ``test_`` functions. CPU time (``time.process_time``), so another
process on the machine does not count against it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import time
from pathlib import Path

import vnetsim
from vnetsim.scenario.build import build
from vnetsim.scenario.detector import State

STRESSED = (
    'driver.design="old"',
    "workload.http_connections=32",
    "run.horizon_s=60",
)
EARLY_S = 30.0  # the first half minute of a blackout: retransmissions, resets, first SYNs
CALIBRATED = ('driver.design="new"', "run.horizon_s=60")


def _cpu_per_sim_s(overrides: tuple[str, ...], seed: int, blackout_s: float) -> dict[str, float]:
    recovery = f"run.recovery_horizon_s={blackout_s + 60}"
    m = build(vnetsim.preset("nanos-2099").with_overrides([*overrides, recovery]), seed)
    env, det = m.env, m.detector
    c0 = time.process_time()
    while det.state is State.HEALTHY and env.now < 30.0:
        env.run(until=env.now + 0.05)
    c1, t1 = time.process_time(), env.now
    out = {"healthy_sim_s": t1, "healthy_cpu_per_sim_s": (c1 - c0) / t1}
    if det.state is not State.HEALTHY and blackout_s > 0:
        early = min(EARLY_S, blackout_s)
        env.run(until=t1 + early)
        c2 = time.process_time()
        env.run(until=t1 + blackout_s)
        c3 = time.process_time()
        out |= {"blackout_sim_s": blackout_s, "blackout_cpu_per_sim_s": (c3 - c1) / blackout_s}
        if blackout_s > early:  # a long blackout: its steady state, once the clients backed off
            out |= {
                "blackout_first_30s_cpu_per_sim_s": (c2 - c1) / early,
                "blackout_after_30s_cpu_per_sim_s": (c3 - c2) / (blackout_s - early),
                "recovered_within": float(det.state is State.RECOVERED),
            }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=1, help="seed of the stressed run (default 1)")
    ap.add_argument("--blackout", type=float, default=30.0, help="blackout seconds timed")
    ap.add_argument("--healthy", type=float, default=5.0, help="calibrated seconds timed")
    ap.add_argument("--json", type=Path, help="write the figures here")
    a = ap.parse_args()
    stressed = _cpu_per_sim_s(STRESSED, a.seed, a.blackout)
    if "blackout_cpu_per_sim_s" not in stressed:
        raise SystemExit(f"seed {a.seed}: no outage within 30 s; pick another --seed")
    cal = _cpu_per_sim_s((*CALIBRATED, f"run.horizon_s={a.healthy}"), 1, 0.0)
    b = stressed["blackout_cpu_per_sim_s"]
    res = {
        "date": dt.date.today().isoformat(),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "stressed_run": stressed,
        "calibrated_healthy_cpu_per_sim_s": cal["healthy_cpu_per_sim_s"],
        "blackout_over_stressed_healthy": b / stressed["healthy_cpu_per_sim_s"],
        "blackout_over_calibrated_healthy": b / cal["healthy_cpu_per_sim_s"],
        "target": "blackout second <= 1/50 (0.02) of a healthy one",
    }
    for k, v in res.items():
        print(f"{k}: {v}")
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(res, indent=2) + "\n")


if __name__ == "__main__":
    main()
