"""Speed benchmark for vnetsim: simulated inbound frames per wall second.

Runs the ``nanos-2099`` preset (driver design "new", so no outage ends a run
early) at 1, 8 and 16 vCPUs and, in the same process, a bare SimPy
``yield env.timeout(...)`` loop.  Rounds are interleaved
(bare, smp1, smp8, smp16, bare, ...) so that every round sees the same machine
state; the ratios reported are computed per round (paired) and then summarised
by their median, which is what stays stable on a noisy machine.  Absolute
rates are printed too, but expect them to swing by a third between runs.

    python benchmarks/bench_speed.py --rounds 3
    python benchmarks/bench_speed.py --rounds 5 --horizon 5 --json results/benchmarks/speed.json

Not a test: it lives outside ``tests/`` and defines no ``test_`` functions.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import platform
import statistics
import sys
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import simpy

import vnetsim

SCENARIO = "nanos-2099"
DESIGN = "new"
SMPS = (1, 8, 16)

# Targets from the issue.  Printed next to the numbers; never fail the run.
TARGET_RATIO_SMP = 8
TARGET_RATIO_MIN = 0.5  # frames/s at 8 vCPUs divided by bare SimPy events/s
TARGET_COST16_MAX = 1.5  # wall cost per frame at 16 vCPUs / at 1 vCPU


# --------------------------------------------------------------------------- workloads


def bare_simpy(n_events: int) -> float:
    """Wall seconds for ``n_events`` timeouts of one process in a fresh Environment."""

    def ticker(env: simpy.Environment, n: int):
        timeout = env.timeout
        for _ in range(n):
            yield timeout(1e-6)

    env = simpy.Environment()
    env.process(ticker(env, n_events))
    t0 = time.perf_counter()
    env.run()
    return time.perf_counter() - t0


def scenario_cfg(smp: int, horizon_s: float) -> vnetsim.ScenarioConfig:
    return vnetsim.preset(SCENARIO).replace(
        driver={"design": DESIGN}, guest={"smp": smp}, run={"horizon_s": horizon_s}
    )


def timed_simulate(cfg: vnetsim.ScenarioConfig, seed: int) -> tuple[float, vnetsim.RunResult]:
    """Wall seconds of one ``vnetsim.simulate`` call (as users call it), and its result."""
    t0 = time.perf_counter()
    res = vnetsim.simulate(cfg, seed=seed)
    return time.perf_counter() - t0, res


def count_events(cfg: vnetsim.ScenarioConfig, seed: int) -> tuple[int, int] | None:
    """(SimPy events processed, frames offered) of one *untimed* run, or None.

    ``simulate`` does not expose its Environment, so this repeats its core with
    the public ``vnetsim.build`` and reads SimPy's event-id counter afterwards
    (every scheduled event takes an id; those still queued were not processed).
    ``Environment._eid`` is a SimPy 4 internal, hence the fallback to None.
    """
    from vnetsim.rng import seed_sequence

    m = vnetsim.build(cfg, seed_sequence(seed))
    env = m.env
    if not hasattr(env, "_eid") or not hasattr(env, "_queue"):
        return None
    env.run(until=m.detector.done)
    processed = next(env._eid) - len(env._queue)
    return processed, m.counters.frames_offered


def probe_s() -> float:
    """Wall seconds of a fixed pure-Python loop: tells a slow machine phase from a fast one."""
    t0 = time.perf_counter()
    acc = 0
    for i in range(500_000):
        acc += i
    return time.perf_counter() - t0


# --------------------------------------------------------------------------- helpers


def fmt_rate(x: float) -> str:
    if x >= 1e6:
        return f"{x / 1e6:.3f} M"
    if x >= 1e3:
        return f"{x / 1e3:.1f} k"
    return f"{x:.1f}"


def summary(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def versions() -> dict[str, str]:
    out = {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpu_count": str(os.cpu_count()),
    }
    for dist in ("simpy", "numpy", "vnetsim"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = "not installed"
    return out


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    ap.add_argument(
        "--horizon",
        type=float,
        default=5.0,
        help="simulated seconds per run, run.horizon_s (default 5.0)",
    )
    ap.add_argument(
        "--bare-events",
        type=int,
        default=500_000,
        help="timeouts in the bare SimPy loop per round (default 500000)",
    )
    ap.add_argument(
        "--seed",
        type=int,
        default=1,
        help="seed of round 0; round r uses seed + r for every config (default 1)",
    )
    ap.add_argument(
        "--no-event-count",
        action="store_true",
        help="skip the extra untimed run per config that counts SimPy events",
    )
    ap.add_argument("--json", type=Path, metavar="PATH", help="also write the numbers as JSON")
    args = ap.parse_args(argv)
    if args.rounds < 1 or args.horizon <= 0 or args.bare_events < 1:
        ap.error("--rounds, --horizon and --bare-events must be positive")

    t_start = time.perf_counter()
    cfgs = {n: scenario_cfg(n, args.horizon) for n in SMPS}
    labels = ["bare"] + [f"smp{n}" for n in SMPS]

    # Warm-up (imports, numpy/SimPy first-call costs); not timed.
    bare_simpy(min(args.bare_events, 50_000))
    for n in SMPS:
        vnetsim.simulate(scenario_cfg(n, min(args.horizon, 0.2)), seed=args.seed)

    rounds: list[dict] = []
    print(
        f"vnetsim speed: {SCENARIO}, design {DESIGN!r}, horizon {args.horizon:g} s, "
        f"{args.rounds} rounds, bare loop {args.bare_events:,} timeouts",
        flush=True,
    )
    for r in range(args.rounds):
        seed = args.seed + r
        row: dict = {"round": r, "seed": seed, "probe_s": probe_s()}
        gc.collect()
        wall = bare_simpy(args.bare_events)
        row["bare"] = {
            "wall_s": wall,
            "events": args.bare_events,
            "events_per_s": args.bare_events / wall,
        }
        for n in SMPS:
            gc.collect()
            wall, res = timed_simulate(cfgs[n], seed)
            row[f"smp{n}"] = {
                "wall_s": wall,
                "frames_offered": res.frames_offered,
                "frames_per_s": res.frames_offered / wall,
                "sim_time_s": res.sim_time_s,
                "event_observed": res.event_observed,
            }
        bare_rate = row["bare"]["events_per_s"]
        row["ratio"] = {f"smp{n}": row[f"smp{n}"]["frames_per_s"] / bare_rate for n in SMPS}
        # cost per frame = wall / frames; 16 vs 1 within the same round
        row["cost16_over_cost1"] = row["smp1"]["frames_per_s"] / row["smp16"]["frames_per_s"]
        rounds.append(row)
        print(
            f"  round {r} (seed {seed}, probe {row['probe_s'] * 1e3:.0f} ms): "
            + ", ".join(f"{lab} {row[lab]['wall_s']:.2f} s" for lab in labels),
            flush=True,
        )

    events: dict[str, dict | None] = {}
    if not args.no_event_count:
        for n in SMPS:
            got = count_events(cfgs[n], args.seed)
            if got is None:
                events[f"smp{n}"] = None
                continue
            ev, frames = got
            same = frames == rounds[0][f"smp{n}"]["frames_offered"]
            events[f"smp{n}"] = {
                "events": ev,
                "frames_offered": frames,
                "events_per_frame": ev / frames if frames else float("nan"),
                "matches_timed_run": same,
            }

    rates = {"bare": summary([x["bare"]["events_per_s"] for x in rounds])}
    for n in SMPS:
        rates[f"smp{n}"] = summary([x[f"smp{n}"]["frames_per_s"] for x in rounds])
    ratios = {f"smp{n}": summary([x["ratio"][f"smp{n}"] for x in rounds]) for n in SMPS}
    cost16 = summary([x["cost16_over_cost1"] for x in rounds])
    ratio8 = ratios[f"smp{TARGET_RATIO_SMP}"]["median"]
    targets = {
        "ratio_smp8_ge_0.5": {
            "value": ratio8,
            "target": TARGET_RATIO_MIN,
            "met": ratio8 >= TARGET_RATIO_MIN,
        },
        "cost16_over_cost1_le_1.5": {
            "value": cost16["median"],
            "target": TARGET_COST16_MAX,
            "met": cost16["median"] <= TARGET_COST16_MAX,
        },
    }

    # ---- table
    print()
    print(
        f"{'config':<7} {'rate/s median [min..max]':<32} {'units':<8} "
        f"{'ratio to bare [min..max]':<26} {'events/frame':>12}"
    )
    b = rates["bare"]
    print(
        f"{'bare':<7} {fmt_rate(b['median']):>9} "
        f"[{fmt_rate(b['min'])}..{fmt_rate(b['max'])}]".ljust(40)
        + f"{'events':<8} {'1':<26} {'1':>12}"
    )
    for n in SMPS:
        lab = f"smp{n}"
        f, q = rates[lab], ratios[lab]
        ev = events.get(lab)
        ev_txt = f"{ev['events_per_frame']:.2f}" if ev else "n/a"
        print(
            f"{lab:<7} {fmt_rate(f['median']):>9} "
            f"[{fmt_rate(f['min'])}..{fmt_rate(f['max'])}]".ljust(40)
            + f"{'frames':<8} "
            + f"{q['median']:.3f} [{q['min']:.3f}..{q['max']:.3f}]".ljust(26)
            + f" {ev_txt:>12}"
        )
    print(
        f"cost per frame, 16 vCPU / 1 vCPU (paired): {cost16['median']:.3f} "
        f"[{cost16['min']:.3f}..{cost16['max']:.3f}]"
    )
    frames_txt = ", ".join(f"smp{n} {rounds[0][f'smp{n}']['frames_offered']:,}" for n in SMPS)
    print(
        f"frames offered per run (round 0): {frames_txt}; simulated "
        f"{rounds[0]['smp1']['sim_time_s']:g} s per run (horizon + detector settle)"
    )
    if args.no_event_count:
        print("events/frame: skipped (--no-event-count)")
    elif any(v is None for v in events.values()):
        print("events/frame: n/a (this SimPy has no Environment._eid counter)")
    else:
        ok = all(v["matches_timed_run"] for v in events.values())
        print(
            "events/frame: SimPy events processed / frames offered, from one extra untimed "
            f"run per config (seed {args.seed}; same frames as timed run: {ok})"
        )
    print("targets (issue; reported, never enforced):")
    print(
        f"  frames/s / bare events/s at {TARGET_RATIO_SMP} vCPUs >= {TARGET_RATIO_MIN}: "
        f"{ratio8:.3f} -> {verdict(targets['ratio_smp8_ge_0.5']['met'])}"
    )
    print(
        f"  cost/frame at 16 vCPUs <= {TARGET_COST16_MAX} x cost at 1 vCPU: "
        f"{cost16['median']:.3f} -> {verdict(targets['cost16_over_cost1_le_1.5']['met'])}"
    )
    total = time.perf_counter() - t_start
    print(f"total wall time {total:.1f} s")

    if args.json:
        out = {
            "benchmark": "bench_speed",
            "scenario": SCENARIO,
            "design": DESIGN,
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "environment": versions(),
            "args": {
                "rounds": args.rounds,
                "horizon_s": args.horizon,
                "bare_events": args.bare_events,
                "seed": args.seed,
            },
            "rates_per_s": rates,
            "ratio_to_bare": ratios,
            "cost16_over_cost1": cost16,
            "events_per_frame": events,
            "targets": targets,
            "rounds": rounds,
            "total_wall_s": total,
            "note": (
                "rates are per wall second on a noisy shared machine; compare the "
                "paired ratios, not absolute rates, across runs"
            ),
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=1) + "\n")
        print(f"-> {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
