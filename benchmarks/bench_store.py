"""Run-store benchmark: what a resume and ``vnetsim status`` cost at 10^3, 10^4, 10^5 rows.

For each size N it writes a real sweep directory (manifest from ``SweepStore.open_session``)
under a temporary directory and fills ``DIR/runs.sqlite`` with N rows copied from one real
``run_task`` row (run id, replicate, axis values, seed and point config set per run; every
50th row an error).  It then times, over interleaved rounds:

- resume: ``SweepStore(out).done_ids()`` and the pending task list, as ``run_sweep`` does;
- status: ``read_manifest``, ``spec_from_manifest``, ``states``, ``point_status``, as
  ``vnetsim status`` does;
- ``states()`` alone, and ``load()`` (the full table ``analyze`` reads; no target);
- the same four after ``consolidate()`` (timed once) has written ``runs.parquet``, as every
  sweep session leaves the directory (``--no-export`` skips this);
- the command line end to end, each command a fresh ``python -m vnetsim`` process (start-up
  and imports included), on the directory a finished session leaves (export written and
  recorded in the manifest: one untimed ``vnetsim sweep`` first): ``vnetsim sweep FILE --out
  DIR`` (the rerun of a finished sweep), ``vnetsim status DIR`` and ``vnetsim sweep FILE --out
  DIR --dry-run``; CPU seconds of the child (user + system, ``RUSAGE_CHILDREN``)
  (``--no-cli`` skips this). There the manifest records the export, so ``states`` reads
  the export's two columns alone; the in-process rounds above run before that record
  exists and read the database and the export;
- for N <= ``--legacy-max``: ``done_ids()`` on the old layout (one Parquet file per run).

CPU seconds of this process (``time.process_time``) are the headline: other load on this
shared machine does not count.  Wall seconds (``time.perf_counter``) are reported too.  The
issue's target: resume and status under 2 s at 10^5 rows (in process and end to end);
reported, never enforced.

    python benchmarks/bench_store.py
    python benchmarks/bench_store.py --json results/benchmarks/store.json

Not a test: it lives outside ``tests/`` and defines no ``test_`` functions.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import importlib.util
import itertools
import json
import os
import platform
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable, Iterator
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

# A script's own directory is on sys.path, not the checkout: without an installed vnetsim
# (or with a stale editable install) ``import vnetsim`` would fail from benchmarks/.
if importlib.util.find_spec("vnetsim") is None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pandas as pd

from vnetsim.sweep import SweepSpec, SweepStore
from vnetsim.sweep.rowdb import RowDB
from vnetsim.sweep.runner import run_task, task_args
from vnetsim.sweep.status import point_status, spec_from_manifest
from vnetsim.sweep.store import Row, now

SIZES = (1_000, 10_000, 100_000)
AXES: dict[str, list[int]] = {"smp": [1, 2, 4, 8, 16], "load_rps": [2500, 5000]}
N_POINTS = 10  # len(smp) x len(load_rps)
ERROR_EVERY = 50
INJECTED = "RuntimeError: injected"
# What run_task stores for a raising run, so an error row is as long as a real one.
TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "vnetsim/sweep/runner.py", line 43, in run_task\n'
    "    result = simulate(cfg, np.random.SeedSequence(root_seed, spawn_key=spawn_key))\n"
    '  File "vnetsim/scenario/run.py", line 120, in simulate\n'
    "    raise RuntimeError('injected')\n"
    "RuntimeError: injected\n"
)
CHUNK = 10_000  # rows per put(): bounds memory, the 10^5 table is a few hundred MB as JSON
LOAD_MAX = 100_000  # load() is timed up to this size only
TARGET_N = 100_000
TARGET_S = 2.0  # resume and status, CPU seconds, at TARGET_N rows

# The timed operations, in the order they run within a round.
OPS = ("resume", "status", "states", "load")
# The timed commands (a fresh process each), in the order they run within a round.
CLI_OPS = ("resume", "status", "dry_run")
ROOT = Path(__file__).resolve().parent.parent  # the checkout the commands import


# --------------------------------------------------------------------------- the sweep


def sweep_text(n: int) -> str:
    """The sweep file of an N-run sweep: the manifest records it and status rebuilds the
    spec from it, so it must be the real TOML, not only a dict."""
    axes = "\n".join(f"{k} = {json.dumps(v)}" for k, v in AXES.items())
    return (
        'name = "bench-store"\n'
        'base = "nanos-2099"\n'
        f"replicates = {n // N_POINTS}\n"
        "root_seed = 1\n"
        "horizon_s = 1\n"
        f"[axes]\n{axes}\n"
    )


def make_spec(n: int) -> SweepSpec:
    text = sweep_text(n)
    return SweepSpec.from_dict(tomllib.loads(text), source="bench_store", text=text)


def new_sweep_dir(spec: SweepSpec, out: Path) -> None:
    """A directory as a finished ``vnetsim sweep`` session leaves it (before its rows)."""
    store = SweepStore(out)
    store.check_target(replace=False)
    manifest = store.open_session(spec, "local")
    manifest["sessions"][-1]["end"] = now()
    store.write_manifest(manifest)


def real_row(spec: SweepSpec) -> Row:
    """One simulated row (the spec's first task); every stored row is a copy of it."""
    task = next(spec.tasks())
    row = run_task(*task_args(spec, task))
    if row.get("error"):
        raise SystemExit(f"bench_store: the template run failed: {row['error']}")
    return row


def bench_rows(spec: SweepSpec, template: Row) -> Iterator[Row]:
    """Every task's row: the template with its own meta, seed and point config; every
    ``ERROR_EVERY``-th an error row shaped like run_task's (no result fields)."""
    per_point = {
        spec.point_key(p): (
            json.dumps(spec.config_for(p).to_dict(), sort_keys=True),
            spec.workload_key(p),
        )
        for p in spec.points()
    }
    for i, task in enumerate(spec.tasks()):
        config, wkey = per_point[task.run_id.rsplit("-r", 1)[0]]
        meta: Row = {
            "run_id": task.run_id,
            "sweep": spec.name,
            "replicate": task.replicate,
            **task.point,
            "config_json": config,
        }
        spawn_key = f"{task.replicate},{wkey}"
        if i % ERROR_EVERY == ERROR_EVERY - 1:
            yield {
                **meta,
                "seed_entropy": spec.root_seed,
                "spawn_key": spawn_key,
                "error": INJECTED,
                "traceback": TRACEBACK,
            }
        else:
            row = dict(template)
            row.update(meta)  # existing keys keep their place: same column order as a real row
            row["spawn_key"] = spawn_key
            yield row


def injected_errors(n: int) -> int:
    return n // ERROR_EVERY


def chunks(rows: Iterator[Row], size: int) -> Iterator[list[Row]]:
    while chunk := list(itertools.islice(rows, size)):
        yield chunk


def fill_db(out: Path, rows: Iterator[Row]) -> int:
    db = RowDB(SweepStore(out).db_path, writable=True)
    try:
        return sum(db.put(chunk) for chunk in chunks(rows, CHUNK))
    finally:
        db.close()  # folds the WAL back: the file size below is the whole database


def fill_legacy(out: Path, rows: Iterator[Row]) -> int:
    """The layout before the database: ``DIR/runs/<run_id>.parquet``, one row each."""
    runs = SweepStore(out).runs_dir
    runs.mkdir(parents=True, exist_ok=True)
    n = 0
    for row in rows:
        pd.DataFrame([row]).to_parquet(runs / f"{row['run_id']}.parquet", index=False)
        n += 1
    return n


# --------------------------------------------------------------------------- timed operations


def op_resume(out: Path, spec: SweepSpec) -> int:
    """What ``run_sweep`` computes before it submits anything (the stored ids, then a pass
    over the pending tasks, which it draws one at a time); returns the pending count."""
    store = SweepStore(out)
    manifest = store.read_manifest() or {}
    done = store.done_ids(manifest.get("export"))  # no record here: database and export
    return sum(1 for _ in spec.tasks(skip=done))


def op_status(out: Path) -> tuple[int, int]:
    """``cmd_status`` without printing; returns (stored runs, errors)."""
    store = SweepStore(out)
    manifest = store.read_manifest()
    assert manifest is not None
    spec = spec_from_manifest(manifest, out)
    points = point_status(spec, store.states(manifest.get("export")))
    return sum(p.done + p.errors for p in points), sum(p.errors for p in points)


def op_states(out: Path) -> int:
    return len(SweepStore(out).states())


def op_load(out: Path) -> int:
    return len(SweepStore(out).load())


def timed(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """(CPU s, wall s, result); a collection beforehand so one op does not pay for the
    previous op's garbage."""
    gc.collect()
    w0, c0 = time.perf_counter(), time.process_time()
    result = fn()
    return time.process_time() - c0, time.perf_counter() - w0, result


def summary(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def summarise(raw: list[dict[str, dict[str, float]]], ops: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for op in ops:
        if op in raw[0]:
            out[op] = {
                clock: summary([r[op][f"{clock}_s"] for r in raw]) for clock in ("cpu", "wall")
            }
    return out


def run_cli(argv: list[str], cwd: Path) -> tuple[float, float, str]:
    """``python -m vnetsim ARGV`` in a fresh process: (its CPU s, wall s, stdout)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    w0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "vnetsim", *argv],
        cwd=cwd, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    wall = time.perf_counter() - w0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"bench_store: `vnetsim {' '.join(argv)}` failed: {done.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall, done.stdout


def bench_cli(n: int, out: Path, rounds: int) -> dict[str, Any]:
    """The three commands on a directory as a finished session leaves it."""
    sweep_file = out.parent / f"sweep-{n}.toml"
    sweep_file.write_text(sweep_text(n))
    argv = {
        "resume": ["sweep", str(sweep_file), "--out", str(out), "--no-progress"],
        "status": ["status", str(out)],
        "dry_run": ["sweep", str(sweep_file), "--out", str(out), "--dry-run"],
    }
    errors = injected_errors(n)
    # A session that ran nothing but finds the export unrecorded writes and records it.
    f_cpu, f_wall, first = run_cli(argv["resume"], out.parent)
    assert f"{n} runs in" in first, first
    assert f"{errors} errors" in first, first
    print(f"  first rerun (writes and records the export): {f_cpu:.3f}/{f_wall:.3f} s")
    tail = f"{n} runs: {n - errors} done, {errors} errors, 0 missing"
    raw: list[dict[str, dict[str, float]]] = []
    for r in range(rounds):
        row: dict[str, dict[str, float]] = {}
        for op in CLI_OPS:
            cpu, wall, text = run_cli(argv[op], out.parent)
            if op == "resume":
                assert f"{n} runs in" in text, text
            else:
                assert tail in text, text
            row[op] = {"cpu_s": cpu, "wall_s": wall}
        raw.append(row)
        print(
            f"  command line round {r}: "
            + ", ".join(f"{k} {v['cpu_s']:.3f}/{v['wall_s']:.3f}" for k, v in row.items())
            + " s (CPU/wall)",
            flush=True,
        )
    return {
        "first_resume_cpu_s": f_cpu,
        "first_resume_wall_s": f_wall,
        "timings": summarise(raw, CLI_OPS),
        "rounds": raw,
    }


# --------------------------------------------------------------------------- one size


def run_rounds(
    ops: dict[str, Callable[[], Any]], rounds: int, label: str
) -> list[dict[str, dict[str, float]]]:
    """Every op once per round, interleaved: a slow phase of the machine hits all of them."""
    raw: list[dict[str, dict[str, float]]] = []
    for r in range(rounds):
        row: dict[str, dict[str, float]] = {}
        for name, fn in ops.items():
            cpu, wall, _ = timed(fn)
            row[name] = {"cpu_s": cpu, "wall_s": wall}
        raw.append(row)
        print(
            f"  {label}round {r}: "
            + ", ".join(f"{k} {v['cpu_s']:.3f}/{v['wall_s']:.3f}" for k, v in row.items())
            + " s (CPU/wall)",
            flush=True,
        )
    return raw


def bench_size(
    n: int, rounds: int, legacy_max: int, export: bool, cli: bool, tmp: Path, template: Row
) -> dict[str, Any]:
    spec = make_spec(n)
    total = spec.replicates * len(spec.points())
    assert total == n, f"--sizes: {n} is not a multiple of {N_POINTS}"
    errors = injected_errors(n)
    out = tmp / f"sweep-{n}"
    new_sweep_dir(spec, out)
    print(f"N = {n:,}: filling {out} ...", flush=True)
    fill_cpu, fill_wall, stored = timed(lambda: fill_db(out, bench_rows(spec, template)))
    assert stored == n
    db_bytes = SweepStore(out).db_path.stat().st_size
    print(f"  filled in {fill_wall:.2f} s wall ({fill_cpu:.2f} s CPU), {db_bytes / 1e6:.1f} MB")

    def check_resume() -> None:
        pending = op_resume(out, spec)
        assert pending == 0, f"resume found {pending} pending runs of {n}"

    def check_status() -> None:
        stored, failed = op_status(out)
        assert stored == n, f"status counts {stored} stored runs of {n}"
        assert failed == errors, f"status counts {failed} errors, {errors} were injected"

    ops: dict[str, Callable[[], Any]] = {
        "resume": check_resume,
        "status": check_status,
        "states": lambda: op_states(out),
    }
    if n <= LOAD_MAX:
        ops["load"] = lambda: op_load(out)
    raw = run_rounds(ops, rounds, "")
    result: dict[str, Any] = {
        "n": n,
        "points": len(spec.points()),
        "replicates": spec.replicates,
        "errors_injected": errors,
        "db_bytes": db_bytes,
        "fill_s": fill_wall,
        "fill_cpu_s": fill_cpu,
        "timings": summarise(raw, OPS),
        "rounds": raw,
        "legacy": None,
        "export": None,
        "cli": None,
    }
    if export:
        # Every session ends with consolidate(), so a directory at rest also holds
        # runs.parquet, and states() and load() read it too: time that state as well.
        store = SweepStore(out)
        c_cpu, c_wall, _ = timed(store.consolidate)
        export_bytes = (out / "runs.parquet").stat().st_size
        print(
            f"  consolidate (writes runs.parquet, {export_bytes / 1e6:.1f} MB): "
            f"{c_cpu:.3f}/{c_wall:.3f} s (CPU/wall)",
            flush=True,
        )
        raw_x = run_rounds(ops, rounds, "with runs.parquet ")
        result["export"] = {
            "consolidate_cpu_s": c_cpu,
            "consolidate_wall_s": c_wall,
            "export_bytes": export_bytes,
            "timings": summarise(raw_x, OPS),
            "rounds": raw_x,
        }
    if cli:
        result["cli"] = bench_cli(n, out, rounds)
    if n <= legacy_max:
        result["legacy"] = bench_legacy(n, spec, rounds, tmp, template)
    return result


def bench_legacy(n: int, spec: SweepSpec, rounds: int, tmp: Path, template: Row) -> dict[str, Any]:
    out = tmp / f"legacy-{n}"
    new_sweep_dir(spec, out)
    print(f"  legacy layout: writing {n:,} Parquet files ...", flush=True)
    fill_cpu, fill_wall, _ = timed(lambda: fill_legacy(out, bench_rows(spec, template)))
    files_bytes = sum(p.stat().st_size for p in SweepStore(out).runs_dir.iterdir())
    print(f"  legacy files written in {fill_wall:.1f} s wall, {files_bytes / 1e6:.1f} MB")
    raw = []
    for r in range(rounds):
        cpu, wall, done = timed(lambda: SweepStore(out).done_ids())
        assert len(done) == n
        raw.append({"resume": {"cpu_s": cpu, "wall_s": wall}})
        print(f"  legacy round {r}: done_ids {cpu:.3f}/{wall:.3f} s (CPU/wall)", flush=True)
    t = summarise(raw, ("resume",))["resume"]
    return {
        "fill_s": fill_wall,
        "fill_cpu_s": fill_cpu,
        "files_bytes": files_bytes,
        "legacy_resume_cpu_s": t["cpu"],
        "legacy_resume_wall_s": t["wall"],
        "rounds": raw,
    }


# --------------------------------------------------------------------------- report


def versions() -> dict[str, str]:
    out = {
        "python": platform.python_version(),
        "sqlite3": sqlite3.sqlite_version,
        "platform": platform.platform(),
        "machine": platform.machine(),
    }
    for pkg in ("vnetsim", "pandas", "pyarrow", "numpy"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = ""
    return out


def verdict(met: bool) -> str:
    return "met" if met else "NOT met"


def med(timings: dict[str, Any], op: str, clock: str) -> str:
    t = timings.get(op)
    return f"{t[clock]['median']:.3f}" if t else "-"


def _medians(timings: dict[str, Any], clock: str) -> str:
    return " ".join(f"{med(timings, op, clock):>7}" for op in OPS)


def _print_table(title: str, head: str, lines: list[str]) -> None:
    print(f"\n{title}")
    print(head)
    print("-" * len(head))
    print("\n".join(lines))


def print_table(results: list[dict[str, Any]]) -> None:
    head = (
        f"{'N':>8} | {'resume':>7} {'status':>7} {'states':>7} {'load':>7} | "
        f"{'resume':>7} {'status':>7} {'states':>7} {'load':>7} | {'db MB':>7} "
        f"{'fill s':>7} | {'legacy':>7}"
    )
    lines = []
    for res in results:
        legacy = res["legacy"]
        leg = f"{legacy['legacy_resume_cpu_s']['median']:.3f}" if legacy else "-"
        lines.append(
            f"{res['n']:>8,} | {_medians(res['timings'], 'cpu')} | "
            f"{_medians(res['timings'], 'wall')}"
            f" | {res['db_bytes'] / 1e6:>7.1f} {res['fill_s']:>7.2f} | {leg:>7}"
        )
    _print_table(
        "medians over rounds, seconds: CPU (headline) | wall | size | legacy resume CPU",
        head,
        lines,
    )


def print_export_table(results: list[dict[str, Any]]) -> None:
    rows = [r for r in results if r["export"]]
    if not rows:
        return
    head = (
        f"{'N':>8} | {'resume':>7} {'status':>7} {'states':>7} {'load':>7} | "
        f"{'consol.':>7} {'exp. MB':>7}"
    )
    lines = [
        f"{res['n']:>8,} | {_medians(res['export']['timings'], 'cpu')}"
        f" | {res['export']['consolidate_cpu_s']:>7.3f} {res['export']['export_bytes'] / 1e6:>7.1f}"
        for res in rows
    ]
    _print_table(
        "with runs.parquet (as a session leaves the directory): CPU s medians | consolidate",
        head,
        lines,
    )


def print_cli_table(results: list[dict[str, Any]]) -> None:
    rows = [r for r in results if r["cli"]]
    if not rows:
        return
    head = (
        f"{'N':>8} | {'resume':>7} {'status':>7} {'dry-run':>7} | "
        f"{'resume':>7} {'status':>7} {'dry-run':>7} | {'1st run':>7}"
    )
    lines = [
        f"{res['n']:>8,} | "
        + " ".join(f"{med(res['cli']['timings'], op, 'cpu'):>7}" for op in CLI_OPS)
        + " | "
        + " ".join(f"{med(res['cli']['timings'], op, 'wall'):>7}" for op in CLI_OPS)
        + f" | {res['cli']['first_resume_cpu_s']:>7.3f}"
        for res in rows
    ]
    _print_table(
        "command line, a fresh process each (finished sweep): CPU s | wall s medians | "
        "CPU s of the first rerun (writes the export)",
        head,
        lines,
    )


def targets(results: list[dict[str, Any]]) -> dict[str, Any]:
    at = next((r for r in results if r["n"] == TARGET_N), None)
    out: dict[str, Any] = {}
    for op in ("resume", "status"):
        key = f"{op}_cpu_lt_{TARGET_S:g}s_at_{TARGET_N}"
        if at is None:
            out[key] = {"value_cpu_s": None, "met": None}
        else:
            value = at["timings"][op]["cpu"]["median"]
            out[key] = {"value_cpu_s": value, "met": value < TARGET_S}
    for op in ("resume", "status"):  # end to end: what a user waits for
        key = f"cli_{op}_cpu_lt_{TARGET_S:g}s_at_{TARGET_N}"
        if at is None or not at.get("cli"):
            out[key] = {"value_cpu_s": None, "met": None}
        else:
            value = at["cli"]["timings"][op]["cpu"]["median"]
            out[key] = {"value_cpu_s": value, "met": value < TARGET_S}
    return out


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=list(SIZES),
        metavar="N",
        help=f"stored rows, multiples of {N_POINTS} (default 1000 10000 100000)",
    )
    ap.add_argument("--rounds", type=int, default=3, help="timed rounds per size (default 3)")
    ap.add_argument("--json", type=Path, metavar="PATH", help="also write the numbers as JSON")
    ap.add_argument("--keep", action="store_true", help="keep the temporary sweep directories")
    ap.add_argument(
        "--legacy-max",
        type=int,
        default=10_000,
        metavar="N",
        help="time the one-Parquet-file-per-run layout up to this size (default 10000)",
    )
    ap.add_argument(
        "--no-export",
        action="store_true",
        help="skip consolidate() and the timings with runs.parquet present",
    )
    ap.add_argument(
        "--no-cli",
        action="store_true",
        help="skip the end-to-end timings of `vnetsim sweep`, `status` and `--dry-run`",
    )
    args = ap.parse_args(argv)
    if args.rounds < 1:
        ap.error("--rounds must be >= 1")
    bad = [n for n in args.sizes if n < N_POINTS or n % N_POINTS]
    if bad:
        ap.error(f"--sizes: every size must be a positive multiple of {N_POINTS}, got {bad}")

    t_start = time.perf_counter()
    env = versions()
    print(
        f"vnetsim run store: sizes {args.sizes}, {args.rounds} rounds, legacy layout up to "
        f"{args.legacy_max:,}; python {env['python']}, sqlite {env['sqlite3']}, "
        f"pandas {env['pandas']}",
        flush=True,
    )
    tmp = Path(tempfile.mkdtemp(prefix="bench_store-", dir="/tmp"))
    results: list[dict[str, Any]] = []
    try:
        # One simulation serves every size: point keys and configs do not depend on N.
        template_cpu, _, template = timed(lambda: real_row(make_spec(N_POINTS)))
        print(f"template row: {len(template)} fields, simulated in {template_cpu:.2f} CPU s")
        for n in sorted(args.sizes):
            results.append(
                bench_size(
                    n,
                    args.rounds,
                    args.legacy_max,
                    not args.no_export,
                    not args.no_cli,
                    tmp,
                    template,
                )
            )
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    print_table(results)
    print_export_table(results)
    print_cli_table(results)
    tg = targets(results)
    print(f"targets (issue; CPU time, median; reported, never enforced): < {TARGET_S:g} s")
    for key, t in tg.items():
        op = key.split("_cpu")[0].replace("cli_", "command line ")
        if t["met"] is None:
            print(f"  {op} at {TARGET_N:,} rows: n/a ({TARGET_N:,} not among --sizes)")
        else:
            print(f"  {op} at {TARGET_N:,} rows: {t['value_cpu_s']:.3f} s -> {verdict(t['met'])}")
    total = time.perf_counter() - t_start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"total wall time {total:.1f} s, peak RSS {peak_mb:.0f} MB")

    if args.json:
        doc = {
            "benchmark": "bench_store",
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "environment": env,
            "args": {
                "sizes": sorted(args.sizes),
                "rounds": args.rounds,
                "legacy_max": args.legacy_max,
                "export": not args.no_export,
                "cli": not args.no_cli,
            },
            "sweep": {"axes": AXES, "horizon_s": 1, "root_seed": 1, "base": "nanos-2099"},
            "error_every": ERROR_EVERY,
            "template_fields": len(template),
            "results": results,
            "targets": tg,
            "total_wall_s": total,
            "peak_rss_mb": peak_mb,
            "note": (
                "cpu: time.process_time of this process (headline); wall: time.perf_counter. "
                "The database is in the page cache (just written): warm-cache numbers. "
                "fill_s is wall time of building and inserting the rows (not the headline). "
                "cli: each command a fresh `python -m vnetsim` process on the directory a "
                "finished session leaves; cpu is the child's user + system time "
                "(RUSAGE_CHILDREN), start-up and imports included."
            ),
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(doc, indent=1) + "\n")
        print(f"-> {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
