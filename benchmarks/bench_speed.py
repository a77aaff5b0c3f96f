"""Speed benchmark for vnetsim: simulated inbound frames per CPU second.

Runs the ``nanos-2099`` preset (driver design "new", so no outage ends a run
early) at 1, 8 and 16 vCPUs and, in the same process, a bare SimPy
``yield env.timeout(...)`` loop.  Rounds are interleaved
(bare, smp1, smp8, smp16, bare, ...) so that every round sees the same machine
state; the ratios reported are computed per round (paired) and then summarised
by their median, which is what stays stable on a noisy machine.  Every piece is
timed in CPU seconds of this process (``time.process_time``, the headline: a
shared machine's other load does not count) and in wall seconds
(``time.perf_counter``).  Absolute rates are printed too, but expect them to
swing by a third between runs.  The JSON says which build ran: ``compiled``
(the model's modules are mypyc extension modules) or ``pure``.

    python benchmarks/bench_speed.py --rounds 3
    python benchmarks/bench_speed.py --rounds 5 --horizon 5 --json results/benchmarks/speed.json

Not a test: it lives outside ``tests/`` and defines no ``test_`` functions.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import importlib
import importlib.machinery
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
TARGET_RATIO_MIN = 0.25  # frames/s at 8 vCPUs divided by bare SimPy events/s (issue 8)
TARGET_RATIO_STRETCH = 0.5  # the stretch goal
TARGET_COST16_MAX = 1.5  # CPU cost per frame at 16 vCPUs / at 1 vCPU

# Modules on the hot path: the build is "compiled" when they are all extension modules.
HOT_MODULES = (
    "vnetsim.clock",
    "vnetsim.rng",
    "vnetsim.virtio.virtqueue",
    "vnetsim.host.vhost",
    "vnetsim.guest.vcpu",
    "vnetsim.guest.runloop",
    "vnetsim.drivers.ticketed",
    "vnetsim.workloads.http",
    "vnetsim.scenario.run",
)


# --------------------------------------------------------------------------- workloads


def bare_simpy(n_events: int) -> tuple[float, float]:
    """(wall, CPU) seconds for ``n_events`` timeouts of one process in a fresh Environment."""

    def ticker(env: simpy.Environment, n: int):
        timeout = env.timeout
        for _ in range(n):
            yield timeout(1e-6)

    env = simpy.Environment()
    env.process(ticker(env, n_events))
    t0, c0 = time.perf_counter(), time.process_time()
    env.run()
    return time.perf_counter() - t0, time.process_time() - c0


def scenario_cfg(smp: int, horizon_s: float) -> vnetsim.ScenarioConfig:
    return vnetsim.preset(SCENARIO).replace(
        driver={"design": DESIGN}, guest={"smp": smp}, run={"horizon_s": horizon_s}
    )


def timed_simulate(
    cfg: vnetsim.ScenarioConfig, seed: int
) -> tuple[float, float, vnetsim.RunResult]:
    """(wall, CPU) seconds of one ``vnetsim.simulate`` call (as users call it), and its result."""
    t0, c0 = time.perf_counter(), time.process_time()
    res = vnetsim.simulate(cfg, seed=seed)
    return time.perf_counter() - t0, time.process_time() - c0, res


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


def build_kind() -> dict:
    """Which build runs: each hot module's file, and ``compiled`` / ``pure`` / ``mixed``."""
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    files = {name: importlib.import_module(name).__file__ or "" for name in HOT_MODULES}
    compiled = [name for name, f in files.items() if f.endswith(suffixes)]
    if len(compiled) == len(files):
        kind = "compiled"
    elif not compiled:
        kind = "pure"
    else:
        kind = "mixed"
    return {"kind": kind, "compiled_modules": len(compiled), "hot_modules": files}


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
    for dist in ("simpy", "numpy", "vnetsim", "mypy"):
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
    build = build_kind()
    cfgs = {n: scenario_cfg(n, args.horizon) for n in SMPS}
    labels = ["bare"] + [f"smp{n}" for n in SMPS]

    # Warm-up (imports, numpy/SimPy first-call costs); not timed.
    bare_simpy(min(args.bare_events, 50_000))
    for n in SMPS:
        vnetsim.simulate(scenario_cfg(n, min(args.horizon, 0.2)), seed=args.seed)

    rounds: list[dict] = []
    print(
        f"vnetsim speed: {SCENARIO}, design {DESIGN!r}, horizon {args.horizon:g} s, "
        f"{args.rounds} rounds, bare loop {args.bare_events:,} timeouts; build {build['kind']} "
        f"({build['compiled_modules']}/{len(HOT_MODULES)} hot modules compiled)",
        flush=True,
    )
    for r in range(args.rounds):
        seed = args.seed + r
        row: dict = {"round": r, "seed": seed, "probe_s": probe_s()}
        gc.collect()
        wall, cpu = bare_simpy(args.bare_events)
        row["bare"] = {
            "wall_s": wall,
            "cpu_s": cpu,
            "events": args.bare_events,
            "events_per_wall_s": args.bare_events / wall,
            "events_per_cpu_s": args.bare_events / cpu,
        }
        for n in SMPS:
            gc.collect()
            wall, cpu, res = timed_simulate(cfgs[n], seed)
            row[f"smp{n}"] = {
                "wall_s": wall,
                "cpu_s": cpu,
                "frames_offered": res.frames_offered,
                "frames_per_wall_s": res.frames_offered / wall,
                "frames_per_cpu_s": res.frames_offered / cpu,
                "sim_time_s": res.sim_time_s,
                "event_observed": res.event_observed,
            }
        for clock in ("cpu", "wall"):
            bare_rate = row["bare"][f"events_per_{clock}_s"]
            row[f"ratio_{clock}"] = {
                f"smp{n}": row[f"smp{n}"][f"frames_per_{clock}_s"] / bare_rate for n in SMPS
            }
            # cost per frame = seconds / frames; 16 vs 1 within the same round
            row[f"cost16_over_cost1_{clock}"] = (
                row["smp1"][f"frames_per_{clock}_s"] / row["smp16"][f"frames_per_{clock}_s"]
            )
        rounds.append(row)
        print(
            f"  round {r} (seed {seed}, probe {row['probe_s'] * 1e3:.0f} ms): "
            + ", ".join(
                f"{lab} {row[lab]['cpu_s']:.2f} s CPU / {row[lab]['wall_s']:.2f} s wall"
                for lab in labels
            ),
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

    rates: dict[str, dict[str, dict[str, float]]] = {}
    ratios: dict[str, dict[str, dict[str, float]]] = {}
    cost16: dict[str, dict[str, float]] = {}
    for clock in ("cpu", "wall"):
        rates[clock] = {"bare": summary([x["bare"][f"events_per_{clock}_s"] for x in rounds])}
        for n in SMPS:
            rates[clock][f"smp{n}"] = summary(
                [x[f"smp{n}"][f"frames_per_{clock}_s"] for x in rounds]
            )
        ratios[clock] = {
            f"smp{n}": summary([x[f"ratio_{clock}"][f"smp{n}"] for x in rounds]) for n in SMPS
        }
        cost16[clock] = summary([x[f"cost16_over_cost1_{clock}"] for x in rounds])
    ratio8 = ratios["cpu"][f"smp{TARGET_RATIO_SMP}"]["median"]
    targets = {
        "ratio_smp8_ge_0.25": {
            "value": ratio8,
            "target": TARGET_RATIO_MIN,
            "met": ratio8 >= TARGET_RATIO_MIN,
            "clock": "cpu",
        },
        "ratio_smp8_ge_0.5_stretch": {
            "value": ratio8,
            "target": TARGET_RATIO_STRETCH,
            "met": ratio8 >= TARGET_RATIO_STRETCH,
            "clock": "cpu",
        },
        "cost16_over_cost1_le_1.5": {
            "value": cost16["cpu"]["median"],
            "target": TARGET_COST16_MAX,
            "met": cost16["cpu"]["median"] <= TARGET_COST16_MAX,
            "clock": "cpu",
        },
    }

    # ---- table
    print()
    print(
        f"{'config':<7} {'rate per CPU s median [min..max]':<34} {'units':<8} "
        f"{'ratio to bare, CPU [min..max]':<30} {'wall':>6} {'events/frame':>13}"
    )
    b = rates["cpu"]["bare"]
    print(
        f"{'bare':<7} {fmt_rate(b['median']):>9} "
        f"[{fmt_rate(b['min'])}..{fmt_rate(b['max'])}]".ljust(42)
        + f"{'events':<8} {'1':<30} {'1':>6} {'1':>13}"
    )
    for n in SMPS:
        lab = f"smp{n}"
        f, q, w = rates["cpu"][lab], ratios["cpu"][lab], ratios["wall"][lab]
        ev = events.get(lab)
        ev_txt = f"{ev['events_per_frame']:.2f}" if ev else "n/a"
        print(
            f"{lab:<7} {fmt_rate(f['median']):>9} "
            f"[{fmt_rate(f['min'])}..{fmt_rate(f['max'])}]".ljust(42)
            + f"{'frames':<8} "
            + f"{q['median']:.3f} [{q['min']:.3f}..{q['max']:.3f}]".ljust(30)
            + f" {w['median']:>6.3f} {ev_txt:>13}"
        )
    c16 = cost16["cpu"]
    print(
        f"cost per frame, 16 vCPU / 1 vCPU (paired, CPU): {c16['median']:.3f} "
        f"[{c16['min']:.3f}..{c16['max']:.3f}]; wall {cost16['wall']['median']:.3f}"
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
    print("targets (issue; CPU time; reported, never enforced):")
    print(
        f"  frames/s / bare events/s at {TARGET_RATIO_SMP} vCPUs >= {TARGET_RATIO_MIN}: "
        f"{ratio8:.3f} -> {verdict(targets['ratio_smp8_ge_0.25']['met'])} "
        f"(stretch {TARGET_RATIO_STRETCH}: {verdict(targets['ratio_smp8_ge_0.5_stretch']['met'])})"
    )
    print(
        f"  cost/frame at 16 vCPUs <= {TARGET_COST16_MAX} x cost at 1 vCPU: "
        f"{c16['median']:.3f} -> {verdict(targets['cost16_over_cost1_le_1.5']['met'])}"
    )
    total = time.perf_counter() - t_start
    print(f"total wall time {total:.1f} s")

    if args.json:
        out = {
            "benchmark": "bench_speed",
            "scenario": SCENARIO,
            "design": DESIGN,
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "build": build,
            "environment": versions(),
            "args": {
                "rounds": args.rounds,
                "horizon_s": args.horizon,
                "bare_events": args.bare_events,
                "seed": args.seed,
            },
            "rates_per_cpu_s": rates["cpu"],
            "rates_per_wall_s": rates["wall"],
            "ratio_to_bare_cpu": ratios["cpu"],
            "ratio_to_bare_wall": ratios["wall"],
            "cost16_over_cost1_cpu": cost16["cpu"],
            "cost16_over_cost1_wall": cost16["wall"],
            "events_per_frame": events,
            "targets": targets,
            "rounds": rounds,
            "total_wall_s": total,
            "note": (
                "cpu: time.process_time of this process; wall: time.perf_counter. Rates are "
                "noisy on a shared machine; compare the paired ratios, not absolute rates, "
                "across runs and builds (the bare SimPy loop is the same code in both builds)"
            ),
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=1) + "\n")
        print(f"-> {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
