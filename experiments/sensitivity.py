"""Morris screening of the unpinned parameters (issue 11; docs/sensitivity.md).

    python experiments/sensitivity.py run --design old --trajectories 6 --horizon 60
    python experiments/sensitivity.py run --design new --trajectories 6 --horizon 60
    python experiments/sensitivity.py analyze

Every parameter of ``PARAMETERS`` moves over its documented range (docs/sensitivity.md says
where each range comes from); everything else stays at the ``nanos-2099`` defaults (8 vCPUs).
SALib draws a Morris design of ``--trajectories`` one-at-a-time paths through the unit cube
(4 levels); each point is one split-estimator run (docs/split.md), whose replays give the
run's cumulative hazard directly, so a short run measures a hazard the plain estimator would
need many outages for. All points of one trajectory share one seed, and the designs share
them too (common random numbers: an elementary effect is a paired difference).

Outputs per run (one JSON line in ``results/sensitivity/<design>.jsonl``; a rerun skips the
points already there, so an interrupted screening continues):

* ``hazard_per_h``: the split run's outage rate, expected outages over expected time at risk
  (``lost_and_area``), per hour; the screened response is ``log10(hazard_per_h + 1)`` (the
  +1 /h keeps immune points finite and is below the resolution of one run: a single failing
  replay of K = 20 in 60 s is ~3 /h);
* ``mb_batches_per_s`` (how often a multi-buffer batch occurs) and ``p_batch`` (the mean
  p̂ of those batches): the hazard is their product, so the two say whether a parameter acts
  through the traffic or through the race;
* the race counters (D2 stale reads, misframed buffers) for the immune designs.

``--noise`` adds one run per trajectory at its starting point with another seed: the spread
between seeds at fixed parameters gives the μ* that pure simulation noise would produce (the
"noise floor" of the table).

This is a script over ``vnetsim.simulate`` rather than a sweep file: a Morris design is a list
of points, not the grid a sweep file declares.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np

OUT = Path(__file__).resolve().parent.parent / "results" / "sensitivity"
ROOT_SEED = 2099_11
NUM_LEVELS = 4  # Morris grid levels; SALib's default


@dataclasses.dataclass(frozen=True)
class Param:
    """One screened parameter: the config field, its range and how the unit interval maps."""

    field: str
    low: float
    high: float
    scale: str = "log"  # "log": geometric between low and high; "lin"; "int"; "choice"
    choices: tuple[str, ...] = ()

    def value(self, u: float) -> Any:
        """The field's value at ``u`` in [0, 1]."""
        if self.scale == "choice":
            return self.choices[min(int(u * len(self.choices)), len(self.choices) - 1)]
        if self.scale == "log":
            x = self.low * (self.high / self.low) ** u
        else:
            x = self.low + (self.high - self.low) * u
        if self.scale == "int" or self.field in INTEGER_FIELDS:
            return round(x)
        return x


INTEGER_FIELDS = {"workload.http_connections", "workload.pipeline_depth"}

# Ranges and their reasons: docs/sensitivity.md (one row each, same order).
PARAMETERS: tuple[Param, ...] = (
    Param("driver.publish_window_max_ns", 20.0, 400.0),  # min stays max / 4, as 50/200
    Param("driver.line_transfer_ns", 20.0, 150.0),
    Param("driver.pause_loop_ns", 3.0, 50.0),
    Param("driver.ple_window_ns", 700.0, 5600.0),
    Param("driver.ple_exit_us", 1.0, 20.0),
    Param("driver.strip_window_ns", 2.0, 5.0, "lin"),
    Param("driver.compiler", 0.0, 1.0, "choice", ("gcc11", "gcc12")),
    Param("guest.runloop_passes_per_s", 1000.0, 16000.0),
    Param("guest.stack_us", 1.0, 5.0, "lin"),
    Param("guest.dequeue_ns", 50.0, 400.0),
    Param("guest.app_us", 20.0, 80.0),
    Param("host.preempt_rate_per_s", 0.2, 20.0),
    Param("host.preempt_mean_ms", 1.0, 10.0),
    Param("host.vhost_frame_us", 0.5, 2.0),
    Param("host.vhost_wakeup_us", 5.0, 50.0),
    Param("workload.pipeline_depth", 2.0, 8.0, "int"),
    Param("workload.http_connections", 64.0, 256.0),
    Param("workload.load_rps", 2500.0, 10000.0),
)


def problem() -> dict[str, Any]:
    """SALib's problem: every parameter on the unit interval (the maps above do the rest)."""
    return {
        "num_vars": len(PARAMETERS),
        "names": [p.field for p in PARAMETERS],
        "bounds": [[0.0, 1.0]] * len(PARAMETERS),
    }


def settings(u: np.ndarray) -> dict[str, Any]:
    """The config fields of one design point ``u`` (unit coordinates)."""
    out = {p.field: p.value(float(x)) for p, x in zip(PARAMETERS, u, strict=True)}
    out["driver.publish_window_min_ns"] = out["driver.publish_window_max_ns"] / 4.0
    return out


def design_matrix(trajectories: int, out: Path) -> np.ndarray:
    """The Morris design, drawn once and kept in ``out/design.csv`` so reruns and the other
    designs use the same points (SALib's sampler may change between versions; the file not)."""
    path = out / "design.csv"
    if path.exists():
        x = np.loadtxt(path, delimiter=",", ndmin=2)
        if x.shape == (trajectories * (len(PARAMETERS) + 1), len(PARAMETERS)):
            return x
        raise SystemExit(
            f"{path}: holds a design of {x.shape[0]} points, not {trajectories} trajectories "
            f"of {len(PARAMETERS) + 1}; use its trajectory count or another --out"
        )
    from SALib.sample import morris as morris_sample

    x = morris_sample.sample(problem(), trajectories, num_levels=NUM_LEVELS, seed=ROOT_SEED)
    out.mkdir(parents=True, exist_ok=True)
    np.savetxt(path, x, delimiter=",", fmt="%.17g")
    return x


@dataclasses.dataclass(frozen=True)
class Job:
    point: int  # row of the design matrix; -1 - j for the noise run of trajectory j
    trajectory: int
    design: str
    u: tuple[float, ...]
    horizon_s: float
    replays: int
    seed_key: int  # 0: the trajectory's seed; 1: the noise run's; 2: a one-at-a-time run's
    fixed: tuple[tuple[str, Any], ...] = ()  # one-at-a-time: the fields set (u is empty)


def jobs(x: np.ndarray, design: str, horizon: float, replays: int, noise: bool) -> Iterator[Job]:
    size = len(PARAMETERS) + 1
    for i, row in enumerate(x):
        yield Job(i, i // size, design, tuple(map(float, row)), horizon, replays, 0)
    if noise:
        for j in range(len(x) // size):
            yield Job(-1 - j, j, design, tuple(map(float, x[j * size])), horizon, replays, 1)


def lost_and_area(
    series: list[list[float]], duration: float, stopped: float, own_outage: bool
) -> tuple[float, float]:
    """A split run's expected outages 1 − S_r(end) and expected time at risk ∫ S_r to its end,
    as the sweep's stopping rule computes them (``vnetsim.sweep.runner.lost_and_area``). Their
    ratio is the run's outage rate: finite where S_r reaches 0, 0 where no replay failed, and
    the cumulative hazard over time while hazards are small."""
    from vnetsim.sweep.runner import lost_and_area as of_row

    row = {
        "split_series": json.dumps(series),
        "duration_s": duration,
        "split_stopped_s": stopped,
        "event_observed": own_outage,
    }
    return of_row(row)


def run_job(job: Job) -> dict[str, Any]:
    import vnetsim
    from vnetsim.scenario import check

    values = settings(np.array(job.u)) if job.u else dict(job.fixed)
    values.update(
        {
            "driver.design": job.design,
            "run.horizon_s": job.horizon_s,
            "run.estimator": "split",
            "run.split_replays": job.replays,
            "run.recovery_horizon_s": 1.0,  # post-outage behaviour is not screened here
        }
    )
    cfg = check(vnetsim.preset("nanos-2099").with_fields(values, source="sensitivity"))
    seed = np.random.SeedSequence(ROOT_SEED, spawn_key=(job.trajectory, job.seed_key))
    r = vnetsim.simulate(cfg, seed=seed)
    series = json.loads(r.split_series) if r.split_series else []
    p = np.array([s[1] for s in series], dtype=float)
    lost, area = lost_and_area(series, r.duration_s, r.split_stopped_s, r.event_observed)
    return {
        "point": job.point,
        "trajectory": job.trajectory,
        "design": job.design,
        "seed_key": job.seed_key,
        "u": list(job.u),
        "settings": {k: v for k, v in values.items() if not k.startswith("run.")},
        "horizon_s": job.horizon_s,
        "duration_s": r.duration_s,
        "event_observed": r.event_observed,
        "hazard_per_h": lost / area * 3600.0,
        "survival": 1.0 - lost,
        "split_series": series,
        "split_stopped_s": r.split_stopped_s,
        "mb_batches_per_s": r.split_batches / r.duration_s,
        "p_batch": float(p.mean()) if len(p) else 0.0,
        "split_batches": r.split_batches,
        "split_replays": r.split_replays,
        "failing_replays": round(float((p * np.array([s[2] for s in series])).sum()))
        if len(p)
        else 0,
        "multi_buffer_frames": r.multi_buffer_frames,
        "d2_stale_reads": r.d2_stale_reads,
        "misframed_buffers": r.misframed_buffers,
        "frames_offered": r.frames_offered,
        "wall_s": r.wall_time_s,
    }


def cmd_run(args: argparse.Namespace) -> int:
    out: Path = args.out
    x = design_matrix(args.trajectories, out)
    path = out / f"{args.design}.jsonl"
    done: set[tuple[int, int]] = set()
    if path.exists():
        for line in path.read_text().splitlines():
            if line.strip():
                row = json.loads(line)
                done.add((row["point"], row["seed_key"]))
    todo = [
        j
        for j in jobs(x, args.design, args.horizon, args.replays, args.noise)
        if (j.point, j.seed_key) not in done
    ]
    print(f"{path}: {len(done)} runs stored, {len(todo)} to go", file=sys.stderr)
    with open(path, "a") as fh, ProcessPoolExecutor(args.workers) as pool:
        futures = [pool.submit(run_job, j) for j in todo]
        for k, fut in enumerate(as_completed(futures), 1):
            row = fut.result()
            if row["horizon_s"] != args.horizon:
                raise AssertionError("a run ignored --horizon")
            fh.write(json.dumps(row, sort_keys=True) + "\n")
            fh.flush()
            print(
                f"[{k}/{len(todo)}] point {row['point']}: {row['hazard_per_h']:.3g} /h, "
                f"{row['split_batches']} batches",
                file=sys.stderr,
            )
    return 0


def load(path: Path) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return sorted(rows, key=lambda r: (r["seed_key"], r["point"]))


def response(rows: list[dict[str, Any]], key: str) -> np.ndarray:
    if key == "hazard":
        return np.array([math.log10(r["hazard_per_h"] + 1.0) for r in rows])
    if key == "traffic":
        return np.array([math.log10(r["mb_batches_per_s"] + 1e-3) for r in rows])
    if key == "race":
        return np.array([math.log10(r["p_batch"] + 1e-3) for r in rows])
    raise ValueError(key)


RESPONSES = {
    "hazard": "log10(hazard per hour + 1)",
    "traffic": "log10(multi-buffer batches per s + 0.001)",
    "race": "log10(mean p per batch + 0.001)",
}


def screen(x: np.ndarray, rows: list[dict[str, Any]], noise_rows: list[dict[str, Any]]) -> Any:
    """Morris μ*, μ, σ per parameter and response, with SALib's bootstrap interval of μ*, and
    the μ* that seed noise alone would give (E|e| for e ~ N(0, 2 s²) / Δ, s the spread of
    the response between two seeds at one point)."""
    import pandas as pd
    from SALib.analyze import morris as morris_analyze

    if [r["point"] for r in rows] != list(range(len(x))):
        raise SystemExit("the design is not complete: run the missing points first")
    delta = NUM_LEVELS / (2.0 * (NUM_LEVELS - 1))
    size = len(PARAMETERS) + 1
    tables = []
    for key, label in RESPONSES.items():
        y = response(rows, key)
        si = morris_analyze.analyze(
            problem(),
            x,
            y,
            num_levels=NUM_LEVELS,
            conf_level=0.95,
            num_resamples=1000,
            seed=ROOT_SEED,
        )
        floor = math.nan
        if noise_rows:
            first = y[[r["trajectory"] * size for r in noise_rows]]
            d = first - response(noise_rows, key)  # difference of two seeds: variance 2 s²
            floor = float(np.sqrt(np.mean(d**2))) * math.sqrt(2.0 / math.pi) / delta
        tables.append(
            pd.DataFrame(
                {
                    "response": key,
                    "response_label": label,
                    "parameter": si["names"],
                    "mu_star": si["mu_star"],
                    "mu_star_conf": si["mu_star_conf"],
                    "mu": si["mu"],
                    "sigma": si["sigma"],
                    "noise_floor": floor,
                }
            )
        )
    out = pd.concat(tables, ignore_index=True)
    out["rank"] = out.groupby("response")["mu_star"].rank(ascending=False, method="min")
    return out.sort_values(["response", "rank"]).reset_index(drop=True)


def immune_check(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """A design that should not fail: every failing replay, and the exact pooled bound on the
    hazard per multi-buffer batch when there is none (0 of N: p ≤ 1 − 0.05^(1/N))."""
    trials = sum(r["split_replays"] for r in rows)
    failing = [r for r in rows if r["failing_replays"] or r["event_observed"]]
    return {
        "points": len(rows),
        "batches": sum(r["split_batches"] for r in rows),
        "replays": trials,
        "points_with_failure": len(failing),
        "failing_replays": sum(r["failing_replays"] for r in rows),
        "d2_stale_reads": sum(r["d2_stale_reads"] for r in rows),
        "misframed_buffers": sum(r["misframed_buffers"] for r in rows),
        "p_batch_upper_95": 1.0 - 0.05 ** (1.0 / trials) if trials and not failing else None,
        "failing_points": [r["settings"] for r in failing[:10]],  # the first ten
    }


def cmd_analyze(args: argparse.Namespace) -> int:
    out: Path = args.out
    x = np.loadtxt(out / "design.csv", delimiter=",", ndmin=2)
    summary: dict[str, Any] = {"parameters": [dataclasses.asdict(p) for p in PARAMETERS]}
    for path in sorted(out.glob("*.jsonl")):
        design = path.stem
        if design.startswith("oat-"):
            continue
        rows = load(path)
        main = [r for r in rows if r["seed_key"] == 0]
        noise = [r for r in rows if r["seed_key"] == 1]
        summary[design] = immune_check(main)
        summary[design]["wall_s"] = sum(r["wall_s"] for r in rows)
        if any(r["hazard_per_h"] > 0 for r in main):
            table = screen(x, main, noise)
            table.insert(0, "design", design)
            table.to_csv(out / f"morris-{design}.csv", index=False)
            print(table[table["response"] == "hazard"].to_string(index=False))
            figure(table, out / f"morris-{design}")
    oat = []
    for path in sorted(out.glob("oat-*-old.jsonl")):
        param = path.stem[len("oat-") : -len("-old")]
        oat.append(oat_table(path, param))
        oat[-1].to_csv(out / f"{path.stem}.csv", index=False)
        print(oat[-1].to_string(index=False))
    if oat:
        oat_figure(oat, out / "oat-old")
    (out / "summary.json").write_text(json.dumps(summary, indent=1, default=str) + "\n")
    print(json.dumps({k: v for k, v in summary.items() if k != "parameters"}, indent=1))
    return 0


def figure(table: Any, stem: Path) -> None:
    """μ* against σ per response, parameters labelled, the noise floor shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = list(RESPONSES)
    fig, axes = plt.subplots(1, len(keys), figsize=(7.0, 2.8), constrained_layout=True)
    for ax, key in zip(axes, keys, strict=True):
        t = table[table["response"] == key]
        ax.scatter(t["mu_star"], t["sigma"], s=12, color="#333333")
        for _, r in t.nsmallest(5, "rank").iterrows():
            ax.annotate(
                str(r["parameter"]).split(".")[-1],
                (r["mu_star"], r["sigma"]),
                fontsize=6,
                xytext=(2, 2),
                textcoords="offset points",
            )
        floor = float(t["noise_floor"].iloc[0])
        if math.isfinite(floor):
            ax.axvspan(0, floor, color="#dddddd", zorder=0, label="seed noise")
            ax.legend(fontsize=6, loc="upper left", frameon=False)
        ax.set_xlabel("μ*", fontsize=8)
        ax.set_ylabel("σ", fontsize=8)
        ax.set_title(RESPONSES[key], fontsize=7)
        ax.tick_params(labelsize=7)
        ax.set_xlim(left=0)
        ax.set_ylim(bottom=0)
    for ext in ("png", "pdf"):
        fig.savefig(f"{stem}.{ext}", dpi=200)
    plt.close(fig)


# -- one at a time ----------------------------------------------------------------------
def oat_values(field: str, value: float) -> dict[str, Any]:
    """The defaults with one field moved (the publish window keeps min = max / 4)."""
    out: dict[str, Any] = {field: round(value) if field in INTEGER_FIELDS else value}
    if field == "driver.publish_window_max_ns":
        out["driver.publish_window_min_ns"] = value / 4.0
    return out


def cmd_oat(args: argparse.Namespace) -> int:
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"oat-{args.param}-{args.design}.jsonl"
    done = (
        {(r["settings"][args.param], r["trajectory"]) for r in load(path)}
        if path.exists()
        else set()
    )
    todo = [
        Job(
            i,
            j,
            args.design,
            (),
            args.horizon,
            args.replays,
            2,
            tuple(sorted(oat_values(args.param, v).items())),
        )
        for i, v in enumerate(args.values)
        for j in range(args.seeds)
        if (oat_values(args.param, v)[args.param], j) not in done
    ]
    print(f"{path}: {len(done)} runs stored, {len(todo)} to go", file=sys.stderr)
    with open(path, "a") as fh, ProcessPoolExecutor(args.workers) as pool:
        for fut in as_completed([pool.submit(run_job, j) for j in todo]):
            row = fut.result()
            fh.write(json.dumps(row, sort_keys=True) + "\n")
            fh.flush()
    return 0


def oat_table(path: Path, param: str) -> Any:
    """Per value: mean S_r(horizon) over seeds with its t interval, and the hazard per hour it
    implies, −ln S / horizon (the interval mapped through the same monotone function)."""
    import pandas as pd
    from scipy import stats

    rows = load(path)
    df = pd.DataFrame(
        {
            "value": [r["settings"][param] for r in rows],
            "survival": [r["survival"] for r in rows],
            "horizon_s": [r["horizon_s"] for r in rows],
            "mb_batches_per_s": [r["mb_batches_per_s"] for r in rows],
        }
    )
    out = []
    for value, g in df.groupby("value"):
        n, h = len(g), float(g["horizon_s"].iloc[0])
        m = float(g["survival"].mean())
        half = float(stats.t.ppf(0.975, n - 1)) * float(g["survival"].std(ddof=1)) / math.sqrt(n)
        lo, hi = max(m - half, 0.0), min(m + half, 1.0)

        def rate(x: float, h: float = h) -> float:
            return 0.0 - math.log(x) / h * 3600.0 if x > 0 else math.inf  # 0.0 - : no -0.0

        out.append(
            {
                "parameter": param,
                "value": value,
                "runs": n,
                "horizon_s": h,
                "survival": m,
                "survival_ci_lower": lo,
                "survival_ci_upper": hi,
                "hazard_per_h": rate(m),
                "hazard_per_h_ci_lower": rate(hi),
                "hazard_per_h_ci_upper": rate(lo),
                "mb_batches_per_s": float(g["mb_batches_per_s"].mean()),
            }
        )
    return pd.DataFrame(out)


def oat_figure(tables: list[Any], stem: Path) -> None:
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(
        1, len(tables), figsize=(3.4 * len(tables), 2.6), squeeze=False, constrained_layout=True
    )
    for ax, t in zip(axes[0], tables, strict=True):
        pos = t[t["hazard_per_h"] > 0]
        mid = pos["hazard_per_h"]
        lo = pos["hazard_per_h_ci_lower"].clip(lower=mid / 100)  # a lower end of 0: off-axis
        hi = pos["hazard_per_h_ci_upper"].clip(upper=mid * 100)  # an upper end of inf: off-axis
        ax.errorbar(
            pos["value"],
            mid,
            yerr=[mid - lo, hi - mid],
            fmt="o-",
            ms=3,
            color="#333333",
            capsize=2,
        )
        zero = t[t["hazard_per_h"] <= 0]
        if len(zero):  # no failing replay at this value: shown at the bottom, not as a rate
            bottom = float(mid.min()) / 10 if len(mid) else 1.0
            ax.plot(
                zero["value"],
                [bottom] * len(zero),
                "v",
                ms=4,
                color="#999999",
                label="no failing replay",
            )
            ax.legend(fontsize=6, frameon=False)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(list(t["value"]))
        ax.xaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_xlabel(str(t["parameter"].iloc[0]), fontsize=8)
        ax.set_ylabel("outages per hour (old, 8 vCPUs)", fontsize=8)
        ax.tick_params(labelsize=7)
    for ext in ("png", "pdf"):
        fig.savefig(f"{stem}.{ext}", dpi=200)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=OUT, help="results directory")
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="run the design points of one driver design")
    r.add_argument("--design", default="old")
    r.add_argument("--trajectories", type=int, default=6)
    r.add_argument("--horizon", type=float, default=60.0, help="simulated seconds per run")
    r.add_argument("--replays", type=int, default=20, help="split replays K per batch")
    r.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    r.add_argument("--noise", action="store_true", help="one more seed per trajectory")
    sub.add_parser("analyze", help="Morris indices, immune-design check, figures")
    o = sub.add_parser("oat", help="one parameter over values, the rest at their defaults")
    o.add_argument("--param", required=True, choices=[q.field for q in PARAMETERS])
    o.add_argument("--values", type=float, nargs="+", required=True)
    o.add_argument("--design", default="old")
    o.add_argument("--seeds", type=int, default=4)
    o.add_argument("--horizon", type=float, default=60.0)
    o.add_argument("--replays", type=int, default=20)
    o.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = p.parse_args(argv)
    if args.cmd == "oat":
        if args.seeds < 2 or args.horizon <= 0 or args.replays < 1 or args.workers < 1:
            p.error("--seeds >= 2, --horizon > 0, --replays >= 1, --workers >= 1")
        return cmd_oat(args)
    if args.cmd == "run":
        if args.trajectories < 2 or args.horizon <= 0 or args.replays < 1 or args.workers < 1:
            p.error("--trajectories >= 2, --horizon > 0, --replays >= 1, --workers >= 1")
        return cmd_run(args)
    return cmd_analyze(args)


if __name__ == "__main__":
    raise SystemExit(main())
