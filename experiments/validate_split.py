"""Validate the split estimator against plain Kaplan–Meier on stressed scenarios (docs/split.md).

For each scenario, ``--plain`` ordinary runs give a Kaplan–Meier curve and ``--split`` split runs
give the mean conditional survival curve with a bootstrap band over runs. The check, per
scenario: the plain KM estimate lies inside the split estimator's 95 % band at every grid time,
and the two restricted means of time to outage (RMST up to the horizon) agree within their
intervals (the difference's 95 % interval contains 0). Seeds: ``SeedSequence(root, spawn_key=
(scenario, estimator, replicate))``, so every run is reproducible on its own.

    python experiments/validate_split.py --plain 200 --split 40 --workers 2
    python experiments/validate_split.py --plain 20 --split 6 --out /tmp/v   # a small check

Outputs in ``--out`` (default ``results/split-validation``): ``runs_plain.parquet``,
``runs_split.parquet``, ``comparison.csv`` (per scenario and grid time), ``summary.csv`` (per
scenario: RMST both ways, max band excess, verdict) and ``curves.png``.
"""

from __future__ import annotations

import argparse
import math
import resource
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm

import vnetsim
from vnetsim.analysis.split import split_curves, split_tables
from vnetsim.analysis.survival import km_curves

ROOT_SEED = 20261202
HORIZON_S = 10.0
# Three stressed operating points that differ in vCPUs, load and client connections.
SCENARIOS: dict[str, tuple[str, ...]] = {
    "smp8-5000rps-32conn": (
        "guest.smp=8",
        "workload.load_rps=5000",
        "workload.http_connections=32",
    ),
    "smp4-8000rps-48conn": (
        "guest.smp=4",
        "workload.load_rps=8000",
        "workload.http_connections=48",
    ),
    "smp16-4000rps-24conn": (
        "guest.smp=16",
        "workload.load_rps=4000",
        "workload.http_connections=24",
    ),
}
GRID_POINTS = 41
Z95 = float(norm.ppf(0.975))
# Simultaneous two-sided 5 % over the grid (Bonferroni: conservative for correlated points).
Z_BONF = float(norm.ppf(1 - 0.025 / GRID_POINTS))
COMMON = ('driver.design="old"', f"run.horizon_s={HORIZON_S}", "run.recovery_horizon_s=1")


def _cfg(scenario: str, estimator: str, replays: int) -> vnetsim.ScenarioConfig:
    extra = (f'run.estimator="{estimator}"', f"run.split_replays={replays}")
    return vnetsim.preset("nanos-2099").with_overrides([*COMMON, *SCENARIOS[scenario], *extra])


def _one(task: tuple[str, str, int, int]) -> dict[str, Any]:
    scenario, estimator, rep, replays = task
    s_index = list(SCENARIOS).index(scenario)
    e_index = ("plain", "split").index(estimator)
    seed = np.random.SeedSequence(ROOT_SEED, spawn_key=(s_index, e_index, rep))
    t0, c0 = time.process_time(), _children_cpu()
    res = vnetsim.simulate(_cfg(scenario, estimator, replays), seed=seed)
    row = res.to_dict()
    own, children = time.process_time() - t0, _children_cpu() - c0
    # A split run's forked copies (followed and failing replays) are waited for, so their CPU
    # shows in RUSAGE_CHILDREN; the cost of a run is both.
    row.update(
        scenario=scenario,
        run=f"{scenario}/{estimator}/{rep}",
        cpu_s=own + children,
        cpu_own_s=own,
        cpu_children_s=children,
    )
    return row


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _run(tasks: list[tuple[str, str, int, int]], workers: int) -> pd.DataFrame:
    with ProcessPoolExecutor(workers) as ex:
        rows = list(ex.map(_one, tasks, chunksize=1))
    return pd.DataFrame(rows)


def _rmst_km(km: pd.DataFrame, tau: float) -> float:
    t = np.append(km["time_s"].to_numpy(), tau)
    s = km["survival"].to_numpy()
    keep = t[:-1] <= tau
    t = np.append(t[:-1][keep], tau)
    return float(np.sum(np.diff(t) * s[keep]))


def compare(
    plain: pd.DataFrame, split: pd.DataFrame, *, n_boot: int, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per scenario: KM against the split band on a grid, and the two RMSTs."""
    grid = np.linspace(0.0, HORIZON_S, GRID_POINTS)
    batches, runs = split_tables(split, by=["scenario"])
    curves = split_curves(split, ["scenario"], times=grid, n_boot=n_boot, seed=seed)
    km = km_curves(plain, "scenario")
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    rows, summary = [], []
    for sc in SCENARIOS:
        k = km[km["scenario"] == sc].sort_values("time_s")
        c = curves[curves["scenario"] == sc].set_index("time_s")
        kt, ks = k["time_s"].to_numpy(), k["survival"].to_numpy()
        n_plain = int((plain["scenario"] == sc).sum())
        for t in grid:
            s_km = float(ks[np.searchsorted(kt, t, side="right") - 1])
            lo, hi = float(c.loc[t, "ci_lower"]), float(c.loc[t, "ci_upper"])
            s_split = float(c.loc[t, "survival"])
            # Two-sample z: no plain run is censored before the horizon, so KM is a binomial
            # fraction; the split standard error is read off its 95 % band.
            se = math.hypot(math.sqrt(s_km * (1 - s_km) / n_plain), (hi - lo) / (2 * Z95))
            rows.append(
                {
                    "scenario": sc,
                    "time_s": t,
                    "km": s_km,
                    "split": s_split,
                    "split_lower": lo,
                    "split_upper": hi,
                    "inside": lo - 1e-12 <= s_km <= hi + 1e-12,
                    "z": (s_km - s_split) / se if se > 0 else 0.0,
                }
            )
        # RMST: plain by bootstrap over runs of the KM (no censoring before the horizon, so KM
        # is the empirical survival); split by bootstrap over runs of the mean curve.
        p = plain[plain["scenario"] == sc]
        d = np.where(p["event_observed"], p["duration_s"], HORIZON_S).clip(max=HORIZON_S)
        rm_plain = float(d.mean())
        b_plain = d[rng.integers(0, len(d), (n_boot, len(d)))].mean(axis=1)
        sc_grid = c.index.to_numpy()
        rm_split = float(np.sum(np.diff(sc_grid) * c["survival"].to_numpy()[:-1]))
        b_split = _boot_rmst_split(
            batches[batches["scenario"] == sc], runs[runs["scenario"] == sc], grid, n_boot, rng
        )
        mine = [r for r in rows if r["scenario"] == sc]
        s_end = split.loc[split["scenario"] == sc, "split_survival"].to_numpy()
        diff = b_plain - b_split
        lo, hi = np.quantile(diff, [0.025, 0.975])
        summary.append(
            {
                "scenario": sc,
                "n_plain": len(p),
                "n_split": int((runs["scenario"] == sc).sum()),
                "rmst_plain_s": rm_plain,
                "rmst_plain_lower": float(np.quantile(b_plain, 0.025)),
                "rmst_plain_upper": float(np.quantile(b_plain, 0.975)),
                "rmst_split_s": rm_split,
                "rmst_split_lower": float(np.quantile(b_split, 0.025)),
                "rmst_split_upper": float(np.quantile(b_split, 0.975)),
                "diff_lower": float(lo),
                "diff_upper": float(hi),
                "rmst_agree": bool(lo <= 0.0 <= hi),
                "km_inside_band": bool(all(r["inside"] for r in mine)),
                "grid_points_outside": sum(not r["inside"] for r in mine),
                "max_abs_z": max(abs(r["z"]) for r in mine),
                "z_bonferroni": Z_BONF,
                "curves_agree": max(abs(r["z"]) for r in mine) <= Z_BONF,
                # Work per unit of precision at the horizon: variance of one run's estimate of
                # S(H) times its CPU cost, plain over split (> 1: split is cheaper).
                "var_plain_run": float(np.var(d >= HORIZON_S, ddof=1)),
                "var_split_run": float(np.var(s_end, ddof=1)),
                "efficiency_split_over_plain": float(
                    np.var(d >= HORIZON_S, ddof=1)
                    * p["cpu_s"].mean()
                    / (np.var(s_end, ddof=1) * split.loc[split["scenario"] == sc, "cpu_s"].mean())
                ),
                "cpu_s_plain_run": float(p["cpu_s"].mean()),
                "cpu_s_split_run": float(split.loc[split["scenario"] == sc, "cpu_s"].mean()),
            }
        )
    return pd.DataFrame(rows), pd.DataFrame(summary)


def _boot_rmst_split(
    batches: pd.DataFrame,
    runs: pd.DataFrame,
    grid: np.ndarray,
    n_boot: int,
    rng: np.random.Generator,
) -> np.ndarray:
    ids = runs["run"].to_list()
    m = np.ones((len(ids), len(grid)))
    for i, rid in enumerate(ids):
        b = batches[batches["run"] == rid]
        for t, p in zip(b["t_s"], b["p_hat"], strict=True):
            m[i, grid >= t] *= 1.0 - p
    area = (np.diff(grid) * m[:, :-1]).sum(axis=1)
    return area[rng.integers(0, len(ids), (n_boot, len(ids)))].mean(axis=1)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--plain", type=int, default=200, help="plain runs per scenario")
    ap.add_argument("--split", type=int, default=40, help="split runs per scenario")
    ap.add_argument("--replays", type=int, default=20, help="run.split_replays K")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--n-boot", type=int, default=2000)
    ap.add_argument("--out", type=Path, default=Path("results/split-validation"))
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    plain_path, split_path = args.out / "runs_plain.parquet", args.out / "runs_split.parquet"
    # Each set of runs is reused if its file exists (delete a file to run that set again).
    if split_path.exists():
        split = pd.read_parquet(split_path)
        print(f"reusing {split_path}")
    else:
        tasks = [(sc, "split", r, args.replays) for sc in SCENARIOS for r in range(args.split)]
        split = _run(tasks, args.workers)
        split.to_parquet(split_path)
        print(f"split runs done in {time.time() - t0:.0f} s", flush=True)
    if plain_path.exists():
        plain = pd.read_parquet(plain_path)
        print(f"reusing {plain_path}")
    else:
        tasks = [(sc, "plain", r, args.replays) for sc in SCENARIOS for r in range(args.plain)]
        plain = _run(tasks, args.workers)
        plain.to_parquet(plain_path)
        print(f"plain runs done in {time.time() - t0:.0f} s", flush=True)
    table, summary = compare(plain, split, n_boot=args.n_boot, seed=ROOT_SEED)
    table.to_csv(args.out / "comparison.csv", index=False)
    summary.to_csv(args.out / "summary.csv", index=False)
    _figure(table, args.out / "curves.png")
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        print(summary.to_string(index=False))
    strict = bool(summary["km_inside_band"].all())
    ok = bool(summary["curves_agree"].all() and summary["rmst_agree"].all())
    print(
        "KM inside the split 95 % band at every grid time:",
        "yes" if strict else "no",
        "(that band ignores the KM's own noise, so this can fail by chance)",
    )
    print(
        "validation",
        "PASSED" if ok else "FAILED",
        f"(curves: max |z| <= {Z_BONF:.2f} in every scenario; RMST: the difference's 95 % "
        f"interval contains 0; {time.time() - t0:.0f} s wall)",
    )
    return 0 if ok else 1


def _figure(table: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(
        1, len(SCENARIOS), figsize=(7.0, 2.4), sharey=True, layout="constrained"
    )
    for ax, sc in zip(axes, SCENARIOS, strict=True):
        t = table[table["scenario"] == sc]
        ax.fill_between(
            t["time_s"],
            t["split_lower"],
            t["split_upper"],
            step="post",
            alpha=0.3,
            label="split 95 % band",
        )
        ax.step(t["time_s"], t["split"], where="post", label="split mean")
        ax.step(t["time_s"], t["km"], where="post", color="k", lw=1, label="plain KM")
        ax.set_title(sc, fontsize=7)
        ax.set_xlabel("time (s)")
    axes[0].set_ylabel("P(no outage by t)")
    axes[0].legend(fontsize=6)
    fig.savefig(path, dpi=200)


if __name__ == "__main__":
    sys.exit(main())
