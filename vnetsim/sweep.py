"""Parameter sweeps: many runs of ``simulate``, seeded, resumable, on local processes or Dask.

A sweep file (TOML) names a base scenario, fixed overrides, axes, replicates, a horizon and a
root seed::

    name = "nanos-2099-quick"
    base = "nanos-2099"            # a preset, or a scenario file relative to this file
    replicates = 4
    root_seed = 2099
    horizon_s = 120
    [set]                          # applied to every point
    "workload.http_connections" = 32
    [axes]                         # cartesian product; short names or any section.field
    design = ["nanos-0.1.48", "old", "new"]
    smp = [1, 4, 8, 16]

Seeds. Every (point, replicate) gets ``SeedSequence(root_seed, spawn_key=(replicate, k))``
where ``k`` is a hash of the point's axis values *without the design*: it does not depend on
worker count, order or on which other points exist, and every design sees the same workload
randomness at the same replicate (common random numbers, paired comparisons). Raising
``replicates`` later only adds runs.

Storage. ``DIR/manifest.json`` (the sweep file and its hash, versions, git commit, host, start
and end times) and one Parquet file per finished run under ``DIR/runs/``, written to a temporary
name and renamed, so a kill at any point loses at most the runs in progress and never leaves a
partial file under a final name. Rerunning the same command runs only what is missing.
``DIR/runs.parquet`` is the consolidated table (rebuilt at the end, and by ``load_runs``).
A run that raises is stored with its error and the sweep goes on.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import math
import os
import platform
import socket
import subprocess
import time
import tomllib
import traceback
from collections.abc import Callable, Iterator
from itertools import product
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from vnetsim.config import ConfigError, ScenarioConfig, suggest
from vnetsim.records import RESULT_FIELDS
from vnetsim.scenario import check, load_scenario, preset

AXIS_ALIASES = {"smp": "guest.smp", "load_rps": "workload.load_rps", "design": "driver.design"}
_TOP_KEYS = ("name", "base", "replicates", "root_seed", "horizon_s", "set", "axes")
SCHEMA_VERSION = 1


@dataclasses.dataclass(frozen=True)
class SweepSpec:
    """A validated sweep declaration."""

    name: str
    base: ScenarioConfig
    fixed: tuple[tuple[str, Any], ...]
    axes: tuple[tuple[str, tuple[Any, ...]], ...]
    replicates: int
    root_seed: int
    horizon_s: float
    text: str = ""

    # -- loading ----------------------------------------------------------------------
    @classmethod
    def from_toml(cls, path: str | Path) -> SweepSpec:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
            data = tomllib.loads(text)
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
            raise ConfigError(f"{path}: {err}") from None
        return cls.from_dict(data, source=str(path), text=text, root=path.parent)

    @classmethod
    def from_dict(
        cls,
        data: dict[str, Any],
        *,
        source: str = "sweep",
        text: str = "",
        root: Path | None = None,
    ) -> SweepSpec:
        for key in data:
            if key not in _TOP_KEYS:
                raise ConfigError(f"{source}: unknown key {key!r}{suggest(key, list(_TOP_KEYS))}")
        name = data.get("name", Path(source).stem)
        base_name = data.get("base", "nanos-2099")
        if not isinstance(base_name, str):
            raise ConfigError(f"{source}: base must be a preset name or a scenario file")
        base_file = (root or Path(".")) / base_name
        try:
            base = load_scenario(base_file) if base_name.endswith(".toml") else preset(base_name)
        except ConfigError as err:
            raise ConfigError(f"{source}: base: {err}") from None
        replicates = data.get("replicates", 1)
        if isinstance(replicates, bool) or not isinstance(replicates, int) or replicates < 1:
            raise ConfigError(f"{source}: replicates must be an integer >= 1, got {replicates!r}")
        root_seed = data.get("root_seed", 0)
        if isinstance(root_seed, bool) or not isinstance(root_seed, int) or root_seed < 0:
            raise ConfigError(f"{source}: root_seed must be an integer >= 0, got {root_seed!r}")
        horizon = data.get("horizon_s", base.run.horizon_s)
        if (
            isinstance(horizon, bool)
            or not isinstance(horizon, int | float)
            or not 0 < horizon <= 1e7
            or horizon != horizon
        ):
            raise ConfigError(f"{source}: horizon_s must be a number in (0, 1e7], got {horizon!r}")
        if not isinstance(name, str) or not name or '"' in name or "\\" in name:
            raise ConfigError(
                f"{source}: name must be a non-empty string without quotes or "
                f"backslashes, got {name!r}"
            )
        fixed = data.get("set", {})
        axes = data.get("axes", {})
        if not isinstance(fixed, dict) or not isinstance(axes, dict):
            raise ConfigError(f"{source}: [set] and [axes] must be tables")
        reserved = {"run.horizon_s": "horizon_s", "name": "name"}
        seen: dict[str, str] = {}
        for key in [*fixed, *axes]:
            path = _path(key)
            if path in reserved:
                raise ConfigError(
                    f"{source}: {key} cannot be set or swept here; use the "
                    f"top-level key {reserved[path]!r}"
                )
            if path in seen:
                raise ConfigError(f"{source}: {key} and {seen[path]} name the same field {path}")
            seen[path] = key
        for axis, values in axes.items():
            if not isinstance(values, list) or not values:
                raise ConfigError(f"{source}: axes.{axis} must be a non-empty list, got {values!r}")
            if len(set(map(repr, values))) != len(values):
                raise ConfigError(f"{source}: axes.{axis} has repeated values {values!r}")
        spec = cls(
            name=str(name),
            base=base,
            fixed=tuple((_path(k), v) for k, v in fixed.items()),
            axes=tuple((k, tuple(v)) for k, v in axes.items()),
            replicates=replicates,
            root_seed=root_seed,
            horizon_s=float(horizon),
            text=text,
        )
        for point in spec.points():  # validate every point's scenario before anything runs
            try:
                spec.config_for(point)
            except ConfigError as err:
                raise ConfigError(f"{source}: point {point}: {err}") from None
        return spec

    # -- points, seeds, configs ---------------------------------------------------------
    def points(self) -> list[dict[str, Any]]:
        names = [a for a, _ in self.axes]
        return [
            dict(zip(names, combo, strict=True)) for combo in product(*(v for _, v in self.axes))
        ]

    def config_for(self, point: dict[str, Any]) -> ScenarioConfig:
        sets = [f"{k}={_literal(v)}" for k, v in self.fixed]
        sets += [f"{_path(k)}={_literal(v)}" for k, v in point.items()]
        sets.append(f"run.horizon_s={_literal(self.horizon_s)}")
        sets.append(f"name={json.dumps(self.name)}")
        return check(self.base.with_overrides(sets), source="--set")

    def workload_key(self, point: dict[str, Any]) -> int:
        """Hash of the point without its design: equal for designs compared at one point."""
        shared = {k: v for k, v in point.items() if _path(k) != "driver.design"}
        blob = json.dumps(shared, sort_keys=True, default=str).encode()
        return int.from_bytes(hashlib.sha256(blob).digest()[:8], "little")

    def seed_for(self, point: dict[str, Any], replicate: int) -> np.random.SeedSequence:
        return np.random.SeedSequence(
            self.root_seed, spawn_key=(replicate, self.workload_key(point))
        )

    def point_key(self, point: dict[str, Any]) -> str:
        blob = json.dumps(point, sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:12]

    def run_id(self, point: dict[str, Any], replicate: int) -> str:
        return f"{self.point_key(point)}-r{replicate:05d}"

    def identity(self) -> str:
        """Hash of everything that decides a run's result (not the replicate count)."""
        d = {
            "name": self.name,
            "base": self.base.to_dict(),
            "fixed": self.fixed,
            "axes": self.axes,
            "root_seed": self.root_seed,
            "horizon_s": self.horizon_s,
            "schema": SCHEMA_VERSION,
        }
        return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()

    def tasks(self, replicates: range | None = None) -> Iterator[Task]:
        reps = replicates if replicates is not None else range(self.replicates)
        for rep in reps:
            for point in self.points():
                yield Task(self.run_id(point, rep), point, rep)

    @property
    def axis_names(self) -> list[str]:
        return [a for a, _ in self.axes]


@dataclasses.dataclass(frozen=True)
class Task:
    run_id: str
    point: dict[str, Any]
    replicate: int


def _path(axis: str) -> str:
    return AXIS_ALIASES.get(axis, axis)


def _literal(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return json.dumps(v)
    return repr(v)


# -- one run (runs in a worker process: a top-level function) ---------------------------
def run_task(
    cfg_dict: dict[str, Any], root_seed: int, spawn_key: tuple[int, ...], meta: dict[str, Any]
) -> dict[str, Any]:
    """Simulate one (point, replicate); never raises: errors become a row."""
    from vnetsim.scenario import simulate  # a worker process imports the model only here

    row = _base_row(root_seed, spawn_key, meta)
    try:
        cfg = ScenarioConfig.from_dict(cfg_dict, source="sweep point")
        result = simulate(cfg, np.random.SeedSequence(root_seed, spawn_key=spawn_key))
        d = result.to_dict()
        d["design_resolved"] = d.pop("design")
        d.pop("seed", None)
        row.update(d)
        row["error"] = ""
    except Exception as err:  # recorded, never lost: the sweep goes on
        row["error"] = f"{type(err).__name__}: {err}"
        row["traceback"] = traceback.format_exc(limit=8)
    return row


def _base_row(root_seed: int, spawn_key: tuple[int, ...], meta: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = dict(meta)
    row["seed_entropy"] = root_seed
    row["spawn_key"] = ",".join(map(str, spawn_key))
    return row


def failed_row(args: tuple[Any, ...], error: str) -> dict[str, Any]:
    """The row of a run that produced no result (worker killed, timed out, lost)."""
    _, root_seed, spawn_key, meta = args
    row = _base_row(root_seed, spawn_key, meta)
    row["error"] = error
    return row


def _task_args(spec: SweepSpec, task: Task) -> tuple[Any, ...]:
    seq = spec.seed_for(task.point, task.replicate)
    meta = {
        "run_id": task.run_id,
        "sweep": spec.name,
        "replicate": task.replicate,
        **{k: v for k, v in task.point.items()},
    }
    return (spec.config_for(task.point).to_dict(), spec.root_seed, tuple(seq.spawn_key), meta)


# -- storage ---------------------------------------------------------------------------
def _discard(path: Path) -> None:
    with contextlib.suppress(OSError):  # may itself fail on a read-only filesystem
        path.unlink(missing_ok=True)


class StorageError(RuntimeError):
    """The sweep directory cannot be written (disk full, read-only, permissions)."""


class SweepStore:
    """A sweep's directory: manifest, one Parquet file per run, consolidated table."""

    def __init__(self, out: str | Path) -> None:
        self.out = Path(out)
        self.runs_dir = self.out / "runs"

    def done_ids(self) -> set[str]:
        ids = self._consolidated_ids()
        if not self.runs_dir.exists():
            return ids
        for p in self.runs_dir.glob("*.parquet"):
            try:
                if pd.read_parquet(p, columns=["run_id"]).shape[0] == 1:
                    ids.add(p.stem)
            except Exception:  # a damaged file: its run is redone
                _discard(p)
        return ids

    def _consolidated(self) -> pd.DataFrame:
        p = self.out / "runs.parquet"
        return pd.read_parquet(p) if p.exists() else pd.DataFrame()

    def _consolidated_ids(self) -> set[str]:
        df = self._consolidated()
        return set(df["run_id"]) if not df.empty else set()

    def write_row(self, row: dict[str, Any]) -> None:
        final = self.runs_dir / f"{row['run_id']}.parquet"
        tmp = final.with_suffix(f".tmp{os.getpid()}")
        try:
            self.runs_dir.mkdir(parents=True, exist_ok=True)
            pd.DataFrame([row]).to_parquet(tmp, index=False)
            os.replace(tmp, final)
        except OSError as err:
            _discard(tmp)
            raise self._storage_error(err) from None

    def _storage_error(self, err: OSError) -> StorageError:
        n = len(list(self.runs_dir.glob("*.parquet"))) if self.runs_dir.exists() else 0
        return StorageError(
            f"cannot write results to {self.out}: {err.strerror or err}; the {n} runs "
            f"finished so far are safe in {self.runs_dir}; make room (or make it writable) "
            "and rerun the same command to go on"
        )

    def load(self) -> pd.DataFrame:
        """Every finished run: per-run files plus the consolidated table (which lets a
        committed result directory without ``runs/`` be resumed or extended)."""
        files = sorted(self.runs_dir.glob("*.parquet")) if self.runs_dir.exists() else []
        parts = [pd.read_parquet(p) for p in files]
        old = self._consolidated()
        if not old.empty:
            parts.append(old)
        if not parts:
            return pd.DataFrame()
        df = pd.concat(parts, ignore_index=True).drop_duplicates("run_id", keep="first")
        df = df[_canonical_columns(list(df.columns))]
        return df.sort_values("run_id", kind="stable").reset_index(drop=True)

    def manifest_path(self) -> Path:
        return self.out / "manifest.json"

    def read_manifest(self) -> dict[str, Any] | None:
        p = self.manifest_path()
        return json.loads(p.read_text()) if p.exists() else None

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        tmp = self.manifest_path().with_suffix(".tmp")
        try:
            self.out.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True, default=str))
            os.replace(tmp, self.manifest_path())
        except OSError as err:
            _discard(tmp)
            raise self._storage_error(err) from None

    def consolidate(self) -> pd.DataFrame:
        df = self.load()
        if not df.empty:
            tmp = self.out / "runs.parquet.tmp"
            try:
                df.to_parquet(tmp, index=False)
                os.replace(tmp, self.out / "runs.parquet")
            except OSError as err:
                _discard(tmp)
                raise self._storage_error(err) from None
        return df


def _git_commit() -> str:
    try:
        here = Path(__file__).resolve().parent
        return subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for pkg in (
        "vnetsim",
        "simpy",
        "numpy",
        "scipy",
        "pandas",
        "pyarrow",
        "seaborn",
        "dask",
        "distributed",
    ):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = ""
    return out


def _manifest(
    spec: SweepSpec, store: SweepStore, backend: str, replace: bool = False
) -> dict[str, Any]:
    old = store.read_manifest()
    if old is not None and old.get("identity") != spec.identity():
        if not replace:
            raise ConfigError(
                f"{store.out}: holds a different sweep ({old.get('name')!r}, identity "
                f"{str(old.get('identity'))[:12]}); refusing to mix results (use another "
                "--out, or --replace to move the old results aside)"
            )
        aside = store.out.with_name(f"{store.out.name}.replaced-{time.strftime('%Y%m%d-%H%M%S')}")
        os.replace(store.out, aside)  # nothing already computed is lost
        old = None
    now = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    m = old or {"name": spec.name, "identity": spec.identity(), "sessions": []}
    m.update(
        {
            "sweep_file": spec.text,
            "sweep_hash": hashlib.sha256(spec.text.encode()).hexdigest(),
            "identity": spec.identity(),
            "axes": spec.axis_names,
            "replicates": spec.replicates,
            "root_seed": spec.root_seed,
            "horizon_s": spec.horizon_s,
            "versions": _versions(),
            "git_commit": _git_commit(),
            "host": socket.gethostname(),
            "platform": platform.platform(),
        }
    )
    m["sessions"].append({"start": now, "end": None, "backend": backend})
    return m


# -- execution -------------------------------------------------------------------------
@dataclasses.dataclass
class Progress:
    """Counts shown on the progress bar."""

    total: int
    done: int = 0
    outages: int = 0
    censored: int = 0
    errors: int = 0

    def add(self, row: dict[str, Any]) -> None:
        self.done += 1
        if row.get("error"):
            self.errors += 1
        elif row.get("event_observed"):
            self.outages += 1
        else:
            self.censored += 1


class _ChildRun:
    """One run in its own forked process: a crash or a hang costs only this run."""

    def __init__(self, ctx: Any, args: tuple[Any, ...], timeout: float | None) -> None:
        self.args = args
        self.recv, send = ctx.Pipe(duplex=False)
        self.proc = ctx.Process(target=_child_main, args=(send, args), daemon=True)
        self.proc.start()
        send.close()
        self.deadline = time.monotonic() + timeout if timeout else math.inf
        self.timeout = timeout
        self._row: dict[str, Any] | None = None

    def poll(self, now: float) -> bool:
        """True once the run has a row (result, crash or timeout)."""
        if self._row is not None:
            return True
        if self.recv.poll():
            try:
                self._row = self.recv.recv()
            except (EOFError, OSError):
                self._row = None
            if self._row is not None:
                self.proc.join()
                return True
        if not self.proc.is_alive():
            self.proc.join()
            code = self.proc.exitcode
            how = f"signal {-code}" if code is not None and code < 0 else f"exit code {code}"
            self._row = failed_row(
                self.args, f"WorkerDied: the run's process ended ({how}) without a result"
            )
            return True
        if now >= self.deadline:
            self.proc.kill()
            self.proc.join()
            self._row = failed_row(self.args, f"RunTimeout: no result after {self.timeout:g} s")
            return True
        return False

    def result(self) -> dict[str, Any]:
        assert self._row is not None
        self.recv.close()
        return self._row

    def kill(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join()


def _child_main(send: Any, args: tuple[Any, ...]) -> None:
    import tracemalloc

    if tracemalloc.is_tracing():  # a parent measuring its own memory: not the runs'
        tracemalloc.stop()
    send.send(run_task(*args))
    send.close()


class _LocalBackend:
    """Local processes, one per run (forked), at most ``workers`` at a time."""

    def __init__(self, workers: int, run_timeout: float | None = None) -> None:
        import multiprocessing as mp

        self.ctx = mp.get_context("fork")
        self.slots = workers
        self.run_timeout = run_timeout
        self.running: set[_ChildRun] = set()

    def submit(self, *args: Any) -> _ChildRun:
        child = _ChildRun(self.ctx, args, self.run_timeout)
        self.running.add(child)
        return child

    def wait_any(self, futures: set[Any]) -> set[Any]:
        from multiprocessing.connection import wait as mp_wait

        while True:
            now = time.monotonic()
            done = {f for f in futures if f.poll(now)}
            if done:
                self.running -= done
                return done
            waits = [f.recv for f in futures] + [f.proc.sentinel for f in futures]
            nearest = min(f.deadline for f in futures) - now
            mp_wait(waits, timeout=min(max(nearest, 0.0), 1.0))

    def close(self, wait: bool = True) -> None:
        for child in list(self.running):
            if wait and child.deadline == math.inf:
                child.proc.join()
            child.kill()
        self.running.clear()


class _DaskBackend:
    def __init__(self, scheduler: str | None, scheduler_file: str | None) -> None:
        from distributed import Client

        self.client = Client(scheduler_file=scheduler_file) if scheduler_file else Client(scheduler)
        self.slots = max(1, sum(self.client.nthreads().values()))

    def submit(self, *args: Any) -> Any:
        return self.client.submit(run_task, *args, pure=False)

    def wait_any(self, futures: set[Any]) -> set[Any]:
        from distributed import wait as dwait

        return set(dwait(list(futures), return_when="FIRST_COMPLETED").done)

    def close(self, wait: bool = True) -> None:
        self.client.close()


def _stop_point(
    rows: list[dict[str, Any]], min_events: int | None, target_ci_width: float | None
) -> bool:
    """Early-stop rule on a point's completed replicate prefix."""
    ok = [r for r in rows if not r.get("error")]
    events = sum(bool(r["event_observed"]) for r in ok)
    if min_events is not None and events >= min_events:
        return True
    if target_ci_width is not None and events > 0:
        from scipy.stats import chi2

        exposure = sum(float(r["duration_s"]) for r in ok)
        lo = chi2.ppf(0.025, 2 * events) / (2 * exposure)
        hi = chi2.ppf(0.975, 2 * events + 2) / (2 * exposure)
        if (hi - lo) / (events / exposure) <= target_ci_width:
            return True
    return False


def run_sweep(
    spec: SweepSpec,
    out: str | Path,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    scheduler_file: str | None = None,
    progress: bool = True,
    min_events: int | None = None,
    target_ci_width: float | None = None,
    wave: int = 4,
    run_timeout: float | None = None,
    replace: bool = False,
    on_row: Callable[[dict[str, Any]], None] | None = None,
) -> pd.DataFrame:
    """Run what is missing of ``spec`` into ``out`` and return the consolidated table.

    With ``min_events`` or ``target_ci_width`` set, replicates are added per point in waves of
    ``wave`` and a point stops once its completed replicates meet the rule; which replicates
    exist therefore depends only on the results, not on timing or worker count.

    Locally every run has its own process: a run that raises, is killed (segfault, OOM,
    SIGKILL) or exceeds ``run_timeout`` seconds becomes a row with its error, and the others go
    on. On Dask, a lost worker's runs are redone elsewhere by the scheduler.
    """
    store = SweepStore(out)
    backend_name = "dask" if (scheduler or scheduler_file) else "local"
    manifest = _manifest(spec, store, backend_name, replace)
    store.write_manifest(manifest)
    done = store.done_ids()
    early = min_events is not None or target_ci_width is not None
    existing = store.load() if early and done else pd.DataFrame()
    by_point: dict[str, list[dict[str, Any]]] = {}
    if not existing.empty:
        for row in existing.to_dict("records"):
            by_point.setdefault(_key_of(str(row["run_id"])), []).append(row)

    backend: Any = (
        _DaskBackend(scheduler, scheduler_file)
        if backend_name == "dask"
        else _LocalBackend(workers or os.cpu_count() or 1, run_timeout)
    )
    pending: list[Task]
    pending = [] if early else [t for t in spec.tasks() if t.run_id not in done]
    prog = Progress(total=len(pending) if not early else spec.replicates * len(spec.points()))
    prog.done = 0 if not early else len(done)
    bar = _bar(prog, progress)

    point_of = {spec.point_key(p): p for p in spec.points()}
    next_rep = dict.fromkeys(point_of, 0)
    in_wave: dict[str, int] = {}

    def refill_waves() -> None:
        for key, point in point_of.items():
            if in_wave.get(key):
                continue
            rows = sorted(by_point.get(key, []), key=lambda r: r["replicate"])
            complete = [r for r in rows if r["replicate"] < next_rep[key]]
            if next_rep[key] and _stop_point(complete, min_events, target_ci_width):
                continue
            start = next_rep[key]
            stop = min(spec.replicates, start + wave)
            if start >= stop:
                continue
            next_rep[key] = stop
            for rep in range(start, stop):
                rid = spec.run_id(point, rep)
                if rid in done:
                    continue
                pending.append(Task(rid, point, rep))
                in_wave[key] = in_wave.get(key, 0) + 1

    if early:
        # replicates already on disk count as finished waves
        for key in point_of:
            have = sorted(r["replicate"] for r in by_point.get(key, []))
            while next_rep[key] < spec.replicates and all(
                r in have for r in range(next_rep[key], min(spec.replicates, next_rep[key] + wave))
            ):
                rows = [r for r in by_point.get(key, []) if r["replicate"] < next_rep[key]]
                if next_rep[key] and _stop_point(rows, min_events, target_ci_width):
                    break
                next_rep[key] = min(spec.replicates, next_rep[key] + wave)
        refill_waves()

    futures: dict[Any, tuple[Task, tuple[Any, ...]]] = {}
    interrupted = False
    try:
        while pending or futures:
            while pending and len(futures) < 2 * backend.slots:
                task = pending.pop(0)
                args = _task_args(spec, task)
                futures[backend.submit(*args)] = (task, args)
            for fut in backend.wait_any(set(futures)):
                task, args = futures.pop(fut)
                try:
                    row = fut.result()
                except Exception as err:  # e.g. Dask gave up on a task after lost workers
                    row = failed_row(args, f"{type(err).__name__}: {err}")
                store.write_row(row)
                prog.add(row)
                if on_row is not None:
                    on_row(row)
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(
                        outages=prog.outages,
                        censored=prog.censored,
                        errors=prog.errors,
                        refresh=False,
                    )
                if early:
                    key = _key_of(task.run_id)
                    by_point.setdefault(key, []).append(row)
                    in_wave[key] -= 1
                    if not in_wave[key]:
                        refill_waves()
    except (KeyboardInterrupt, StorageError):
        interrupted = True  # finished runs are on disk; rerun the command to go on
        raise
    finally:
        backend.close(wait=not interrupted)
        if bar is not None:
            bar.close()
    manifest["sessions"][-1]["end"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    store.write_manifest(manifest)
    return store.consolidate()


_META_COLUMNS = ("run_id", "sweep", "replicate")
_TAIL_COLUMNS = (
    "seed_entropy",
    "spawn_key",
    "error",
    "traceback",
    "design_resolved",
    *(f for f in RESULT_FIELDS if f not in ("design", "seed")),
)


def _canonical_columns(cols: list[str]) -> list[str]:
    """Meta, then axes (as declared), then results: the same order whatever ran first."""
    meta = [c for c in _META_COLUMNS if c in cols]
    tail = [c for c in _TAIL_COLUMNS if c in cols]
    axes = [c for c in cols if c not in meta and c not in tail]
    return meta + axes + tail


def _key_of(run_id: str) -> str:
    return run_id.rsplit("-r", 1)[0]


def _bar(prog: Progress, enabled: bool) -> Any:
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=prog.total, initial=prog.done, unit="run", dynamic_ncols=True, desc="sweep")


@dataclasses.dataclass(frozen=True)
class LoadedSweep:
    """A sweep directory read once: its run table and manifest (what analysis and figures take)."""

    path: Path
    runs: pd.DataFrame
    manifest: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.manifest.get("name", self.path.name))

    @property
    def axes(self) -> list[str]:
        """The sweep's axes (as declared) that the run table has columns for."""
        return [a for a in self.manifest.get("axes", []) if a in self.runs.columns]

    @property
    def horizon_s(self) -> float:
        return float(self.manifest.get("horizon_s") or 0.0)

    @property
    def ok_runs(self) -> pd.DataFrame:
        """Runs that produced a result (no error)."""
        if "error" not in self.runs:
            return self.runs
        return self.runs[self.runs["error"].fillna("") == ""]


def load_sweep(out: str | Path) -> LoadedSweep:
    """Read a sweep directory (``ConfigError`` if it holds no sweep)."""
    runs, manifest = load_runs(out)
    return LoadedSweep(Path(out), runs, manifest)


def load_runs(out: str | Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The run table and manifest of a sweep directory."""
    store = SweepStore(out)
    manifest = store.read_manifest()
    if manifest is None:
        raise ConfigError(f"{out}: no manifest.json: not a sweep directory")
    return store.load(), manifest


__all__ = [
    "LoadedSweep",
    "StorageError",
    "SweepSpec",
    "SweepStore",
    "Task",
    "load_runs",
    "load_sweep",
    "run_sweep",
    "run_task",
]
