"""Running a sweep: one run's row, the early-stop rule, and the loop that feeds a backend.

``run_sweep`` runs what is missing of a ``SweepSpec`` into a ``SweepStore``: rerunning the same
command runs only what is missing, and a run that raises, crashes or times out is stored with
its error while the sweep goes on. A full or read-only disk stops the sweep (``StorageError``)
with every finished run safe on disk.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import signal
import threading
import traceback
import warnings
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from vnetsim.config import ConfigError, ScenarioConfig, shown
from vnetsim.scenario.split import conditional_survival
from vnetsim.sweep.backends import BackendLost, NoProcess, open_backend
from vnetsim.sweep.spec import SweepSpec, Task, point_key_of
from vnetsim.sweep.store import Row, StorageError, SweepStore, now

if TYPE_CHECKING:  # loaded when a table is read, not for every command
    import pandas as pd

TaskArgs = tuple[dict[str, Any], int, tuple[int, ...], dict[str, Any]]
"""What ``run_task`` takes: the point's scenario as a dict, root seed, spawn key, row meta."""


class SweepWarning(UserWarning):
    """Something a sweep worked around and the user should know (the CLI prints it in one
    line)."""


class Terminated(KeyboardInterrupt):
    """The sweep's process got SIGTERM: answered like Ctrl-C (the runs in progress are
    killed, every finished row is kept, the same command continues)."""


class _StopFlag:
    """Whether SIGTERM arrived during the sweep (``run_sweep`` raises ``Terminated`` at its
    next check even if the handler's own raise was swallowed, as Python does for an
    exception raised inside a finaliser or an at-fork hook)."""

    def __init__(self, active: bool) -> None:
        self.active = active  # a handler is installed (the main thread)
        self.requested = False

    def __bool__(self) -> bool:
        return self.requested

    def check(self) -> None:
        if self.requested:
            raise Terminated("SIGTERM")

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """SIGTERM and SIGINT wait (blocked, not lost) while a run's process is forked: an
        exception raised in the fork's hooks would be swallowed and the child would start
        with the parent's handler."""
        if not self.active:
            yield
            return
        held = {signal.SIGTERM, signal.SIGINT}
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
        try:
            yield
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)  # a held one is delivered now


@contextlib.contextmanager
def _sigterm_stops_the_sweep() -> Iterator[_StopFlag]:
    """While a sweep runs, SIGTERM raises ``Terminated`` in it and sets the flag this
    yields (main thread only: elsewhere Python takes no handler); the previous handler is
    restored after."""
    if threading.current_thread() is not threading.main_thread():
        yield _StopFlag(active=False)
        return
    flag = _StopFlag(active=True)

    def stop(signum: int, _frame: object) -> None:
        flag.requested = True
        raise Terminated(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGTERM, previous)


class _Pending:
    """The runs still to submit, in order: those given up front (``source``, drawn lazily,
    so a sweep of 10^7 runs holds a handful of tasks, not gigabytes, before its first run)
    followed by those appended (the waves of an early-stop rule)."""

    def __init__(self, source: Iterator[Task] | None = None) -> None:
        self._source = source
        self._queue: deque[Task] = deque()

    def _fill(self) -> bool:
        if not self._queue and self._source is not None:
            task = next(self._source, None)
            if task is None:
                self._source = None
            else:
                self._queue.append(task)
        return bool(self._queue)

    def __bool__(self) -> bool:
        return self._fill()

    def peek(self) -> Task:
        self._fill()
        return self._queue[0]

    def pop(self) -> Task:
        self._fill()
        return self._queue.popleft()

    def append(self, task: Task) -> None:
        self._queue.append(task)


def _stored_of(spec: SweepSpec, run_ids: set[str]) -> int:
    """How many of ``run_ids`` are runs of ``spec`` (its points, replicates below its count),
    counted over the ids, not over the spec's runs."""
    keys = {spec.point_key(p) for p in spec.points()}
    width = len(next(iter(keys)))  # every point key has the same length
    n = 0
    for rid in run_ids:
        # ``{point_key}-r{replicate:05d}``: sliced, not split (10^5 ids in a resume)
        rep = rid[width + 2 :]
        n += (
            rid[:width] in keys
            and rid[width : width + 2] == "-r"
            and rep.isdigit()
            and (int(rep) < spec.replicates)
        )
    return n


# -- one run (runs in a worker process: a top-level function) ---------------------------
def run_task(
    cfg_dict: dict[str, Any], root_seed: int, spawn_key: tuple[int, ...], meta: dict[str, Any]
) -> Row:
    """Simulate one (point, replicate); never raises: errors become a row."""
    from vnetsim.scenario import simulate  # a worker process imports the model only here

    row: Row = dict(meta)
    # The whole resolved scenario, so a row says what ran without the sweep file or presets.
    row["config_json"] = json.dumps(cfg_dict, sort_keys=True)
    try:
        cfg = ScenarioConfig.from_dict(cfg_dict, source="sweep point")
        result = simulate(cfg, np.random.SeedSequence(root_seed, spawn_key=spawn_key))
        d = result.to_dict()
        row["seed_entropy"] = d.pop("seed")  # the run's own record of its SeedSequence
        row["spawn_key"] = d.pop("spawn_key")
        row["design_resolved"] = d.pop("design")
        row.update(d)
        row["error"] = ""
    except Exception as err:  # recorded, never lost: the sweep goes on
        row.update(_seed_columns(root_seed, spawn_key))
        row["error"] = f"{type(err).__name__}: {err}"
        row["traceback"] = traceback.format_exc(limit=8)
    return row


def _seed_columns(root_seed: int, spawn_key: tuple[int, ...]) -> Row:
    """A run's seed columns when it has no result to take them from."""
    return {"seed_entropy": root_seed, "spawn_key": ",".join(map(str, spawn_key))}


def failed_row(args: TaskArgs, error: str) -> Row:
    """The row of a run that produced no result (worker killed, timed out, lost)."""
    _, root_seed, spawn_key, meta = args
    row: Row = dict(meta)
    row.update(_seed_columns(root_seed, spawn_key))
    row["error"] = error
    return row


def task_args(spec: SweepSpec, task: Task) -> TaskArgs:
    """``run_task``'s arguments for a task (plain data: it may cross to another machine)."""
    seq = spec.seed_for(task.point, task.replicate)
    meta = {
        "run_id": task.run_id,
        "sweep": spec.name,
        "replicate": task.replicate,
        **task.point,
    }
    return (spec.config_for(task.point).to_dict(), spec.root_seed, tuple(seq.spawn_key), meta)


# -- early stop ------------------------------------------------------------------------
def stop_point(
    rows: list[Row],
    min_events: int | None,
    target_ci_width: float | None,
    target_halfwidth: float | None = None,
) -> bool:
    """Early-stop rule on a point's completed replicate prefix.

    Plain rows: stop once the point has ``min_events`` outages, or once the exact (chi-square)
    95 % interval of its constant hazard is at most ``target_ci_width`` times the estimate.
    Split rows (``estimator == "split"``): the same rules on the expected outages Σ(1 − S_r)
    and on the outage rate Σ(1 − S_r) / Σ∫S_r (expected outages over expected time at risk,
    the analogue of events / exposure), whose 95 % interval is the normal one of a ratio
    estimator over runs (runs are independent; the p̂ within a run are not), used from 10
    runs on. A point whose replays never fail stops only by ``target_halfwidth``.

    ``target_halfwidth``: stop once, at every time up to the horizon, every point of the 95 %
    interval of S(t) is within this distance of the estimate (``survival_halfwidth``).
    """
    ok = [r for r in rows if not r.get("error")]
    if ok and target_halfwidth is not None and survival_halfwidth(ok) <= target_halfwidth:
        return True
    if ok and all(r.get("estimator") == "split" for r in ok):
        return _stop_split(ok, min_events, target_ci_width)
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


SPLIT_MIN_RUNS = 10  # below this the normal interval of a ratio over runs is not trusted


HALFWIDTH_CHECKS = 20  # S(t) is checked at horizon·j/20, j = 1..20: the whole curve

# The t interval over runs stops a point only from this many runs: with n runs the spread's
# estimate is off by ~1/sqrt(2(n - 1)) relative (27 % at 8), and checking after every small
# wave would otherwise stop on a prefix whose spread is low by chance.
HALFWIDTH_MIN_RUNS = 8

DEFAULT_WAVE = 2  # replicates per point per wave: the fewest an interval over runs needs
MAX_WAVE = 10_000


def check_wave(wave: object) -> None:
    """``ConfigError`` unless ``wave`` is an allowed wave size."""
    if not (isinstance(wave, int) and not isinstance(wave, bool) and 1 <= wave <= MAX_WAVE):
        raise ConfigError(f"--wave: must be an integer in [1, {MAX_WAVE}], got {wave}")


def survival_halfwidth(rows: list[Row], confidence: float = 0.95) -> float:
    """Largest distance from the estimate of S(t) to an end of its interval, over t on a grid
    of ``HALFWIDTH_CHECKS`` times up to the common horizon (so S at 1 and at 5 minutes are
    both known to within the result).

    Plain rows: S(t) = 1 − k(t)/n with the exact (Clopper–Pearson) interval (every run is
    watched to the horizon or its outage). Split rows: the mean of the runs' S_r(t) with the t
    interval over runs; when no replay of any run failed and no path had an outage of its own,
    the exact one-sided bound instead: with N replays at risk, none failed, p ≤ 1 − α^(1/N) per
    batch, and S(t) ≥ (1 − p)^B̄(t) over the mean B̄(t) batches a run had by t
    (E[(1 − p)^B] ≥ (1 − p)^E[B] by Jensen), largest at the horizon: the bound
    ``split_summary`` reports. No batch at all: nothing could race, 0. Fewer than
    ``HALFWIDTH_MIN_RUNS`` split rows with a failing replay, mixed plain and split rows, or rows
    with different horizons: inf (never stops).
    """
    from scipy import stats

    horizons = {float(r["horizon_s"]) for r in rows}
    if len(horizons) != 1:
        return math.inf
    grid = horizons.pop() * np.arange(1, HALFWIDTH_CHECKS + 1) / HALFWIDTH_CHECKS
    n = len(rows)
    alpha = 1.0 - confidence
    split = [r.get("estimator") == "split" for r in rows]
    if not any(split):
        ends = [float(r["duration_s"]) for r in rows if r["event_observed"]]
        worst = 0.0
        for k in sorted({sum(e <= t for e in ends) for t in grid}):
            ci = stats.binomtest(k, n).proportion_ci(confidence_level=confidence, method="exact")
            worst = max(worst, k / n - ci.low, ci.high - k / n)
        return worst
    if not all(split):
        return math.inf
    paths = [_risk_series(r) for r in rows]
    if not any(p for series in paths for _, p, _ in series) and not any(
        r.get("event_observed") for r in rows
    ):
        trials = sum(k for series in paths for _, _, k in series)
        if trials == 0:
            return 0.0
        p_up = 1.0 - alpha ** (1.0 / trials)
        mean_batches = sum(len(series) for series in paths) / n
        return 1.0 - (1.0 - p_up) ** mean_batches
    if n < HALFWIDTH_MIN_RUNS:
        return math.inf
    surv = np.array(
        [_path_survival(r, series, grid) for r, series in zip(rows, paths, strict=True)]
    )
    sd = surv.std(axis=0, ddof=1)
    return float(stats.t.ppf(1.0 - alpha / 2, n - 1)) * float(sd.max()) / math.sqrt(n)


def _path_survival(
    row: Row, series: list[tuple[float, float, float]], times: np.ndarray
) -> np.ndarray:
    """S_r at ``times`` of a split row whose batches at risk are ``series``."""
    arr = np.asarray(series, dtype=float).reshape(-1, 3)
    own = float(row["duration_s"]) if row.get("event_observed") else math.inf
    return conditional_survival(arr[:, 0], arr[:, 1], own, times)


def _risk_series(row: Row) -> list[tuple[float, float, float]]:
    """A split run's batches while its own path was at risk."""
    end = split_exposure(row)
    return [(t, p, k) for t, p, k in json.loads(str(row["split_series"])) if t <= end]


def split_exposure(row: Row) -> float:
    """Seconds a split run's own path was observed: to its end, or to where Ŝ reached 0."""
    stopped = float(row.get("split_stopped_s", math.nan))
    return stopped if math.isfinite(stopped) else float(row["duration_s"])


def lost_and_area(row: Row) -> tuple[float, float]:
    """A split run's expected outages 1 − S_r and expected time at risk ∫ S_r to its end."""
    end = split_exposure(row)
    t_prev, surv, area = 0.0, 1.0, 0.0
    for t, p, _ in json.loads(str(row["split_series"])):
        if t > end:
            break
        area += (t - t_prev) * surv
        t_prev, surv = t, surv * (1.0 - p)
    area += (end - t_prev) * surv
    if row.get("event_observed"):
        surv = 0.0  # the path's own outage ends it
    return 1.0 - surv, area


def _stop_split(rows: list[Row], min_events: int | None, target_ci_width: float | None) -> bool:
    expected = sum(1.0 - float(r["split_survival"]) for r in rows)
    if min_events is not None and expected >= min_events:
        return True
    n = len(rows)
    if target_ci_width is None or n < SPLIT_MIN_RUNS:
        return False
    lost_area = np.array([lost_and_area(r) for r in rows])
    h, e = lost_area[:, 0], lost_area[:, 1]
    rate = h.sum() / e.sum()
    if rate <= 0.0:
        return False
    # delta method for a ratio of sums: var ≈ Σ(h - rate·e)² / (n(n-1)) / ē²
    se = math.sqrt(float(((h - rate * e) ** 2).sum()) / (n * (n - 1))) / float(e.mean())
    from scipy.stats import norm

    return 2 * float(norm.ppf(0.975)) * se / rate <= target_ci_width


# -- progress --------------------------------------------------------------------------
@dataclasses.dataclass
class Progress:
    """Counts shown on the progress bar."""

    total: int
    done: int = 0
    outages: float = 0  # a split run adds its expected outages, 1 - Ŝ
    censored: int = 0
    errors: int = 0

    def add(self, row: Row) -> None:
        self.done += 1
        if row.get("error"):
            self.errors += 1
        elif row.get("estimator") == "split":
            self.outages += 1.0 - float(row.get("split_survival", 1.0))  # expected outages
        elif row.get("event_observed"):
            self.outages += 1
        else:
            self.censored += 1


def _bar(prog: Progress, enabled: bool) -> Any:
    """A bar on stderr when ``enabled`` (the CLI enables it only when stderr is a terminal)."""
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=prog.total, initial=prog.done, unit="run", dynamic_ncols=True, desc="sweep")


# -- a sweep ---------------------------------------------------------------------------
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
    target_halfwidth: float | None = None,
    wave: int = DEFAULT_WAVE,
    run_timeout: float | None = None,
    replace: bool = False,
    retry_errors: bool = False,
    on_row: Callable[[Row], None] | None = None,
    table: bool = True,
) -> pd.DataFrame | None:
    """Run what is missing of ``spec`` into ``out`` and return the consolidated table
    (None with ``table=False``: a caller that wants the rows stored, not read back, such as
    the CLI, which prints ``SweepStore.counts``; a rerun that stored nothing then reads
    nothing).

    With ``min_events``, ``target_ci_width`` or ``target_halfwidth`` set, replicates are added
    per point in waves of ``wave`` and a point stops once its completed replicates meet the
    rule; which replicates exist therefore depends only on the results (and ``wave``), not on
    timing or worker count.

    Locally every run has its own process: a run that raises, is killed (segfault, OOM,
    SIGKILL) or exceeds ``run_timeout`` seconds becomes a row with its error, and the others go
    on. On Dask, a lost worker's runs are redone elsewhere by the scheduler. Error rows count
    as done unless ``retry_errors``: then those runs are simulated again and their new rows
    replace the old ones (not with the early-stopping rules, whose waves already used them).

    Runs go in replicate order (every point's replicate 0, then every point's replicate 1,
    ...), drawn one at a time, so a partial sweep is balanced across points and designs.
    SIGTERM stops the sweep like Ctrl-C: ``Terminated`` (a ``KeyboardInterrupt``) is raised
    after the runs in progress are killed. The export ``runs.parquet`` is rewritten only
    when rows were stored since it was last written (the manifest's ``export`` record).
    """
    early = any(x is not None for x in (min_events, target_ci_width, target_halfwidth))
    check_wave(wave)
    if retry_errors and early:
        raise ConfigError(
            "--retry-errors: not available with --min-events, --target-ci-width or "
            "--target-halfwidth (allowed: a sweep with a fixed replicate count)"
        )
    store = SweepStore(out)
    store.check_target(replace=replace)
    with store.locked(), _sigterm_stops_the_sweep() as stop:
        backend_name = "dask" if (scheduler or scheduler_file) else "local"
        manifest = store.open_session(spec, backend_name, replace=replace)
        store.write_manifest(manifest)
        store.adopt_legacy_files()
        recorded = manifest.get("export")
        # the export's record: while it holds, the export alone lists every stored run
        done = store.done_ids(recorded if isinstance(recorded, dict) else None)
        if retry_errors:
            done -= store.error_ids()
        existing = store.load() if early and done else None
        by_point: dict[str, list[Row]] = {}
        if existing is not None and not existing.empty:
            for row in existing.to_dict("records"):
                by_point.setdefault(point_key_of(str(row["run_id"])), []).append(row)

        backend = open_backend(
            workers=workers,
            run_timeout=run_timeout,
            scheduler=scheduler,
            scheduler_file=scheduler_file,
        )
        total = spec.replicates * len(spec.points())
        pending = _Pending(None if early else spec.tasks(skip=done))
        # the total is only shown on the bar: without one, no pass over the stored ids
        prog = Progress(total=total if early or not progress else total - _stored_of(spec, done))
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
                if next_rep[key] and stop_point(
                    complete, min_events, target_ci_width, target_halfwidth
                ):
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
                    r in have
                    for r in range(next_rep[key], min(spec.replicates, next_rep[key] + wave))
                ):
                    rows = [r for r in by_point.get(key, []) if r["replicate"] < next_rep[key]]
                    if next_rep[key] and stop_point(
                        rows, min_events, target_ci_width, target_halfwidth
                    ):
                        break
                    next_rep[key] = min(spec.replicates, next_rep[key] + wave)
            refill_waves()

        futures: dict[Any, tuple[Task, TaskArgs]] = {}
        interrupted = False
        try:
            if hasattr(backend, "interrupted"):  # the local backend's wait checks it too
                backend.interrupted = stop.__bool__
            while pending or futures:
                stop.check()
                while len(futures) < backend.in_flight and pending:
                    task = pending.peek()
                    args = task_args(spec, task)
                    try:
                        with stop.held():
                            fut = backend.submit(run_task, *args)
                    except NoProcess as err:
                        if not futures:  # not even one run can start: nothing to wait for
                            raise StorageError(
                                f"{err}; no run is running, so the sweep cannot go on; lower "
                                "--workers or raise the process limit (ulimit -u) and rerun "
                                "the same command"
                            ) from None
                        # the system's limit is below --workers: go on with the runs it allows
                        if backend.in_flight > len(futures):
                            warnings.warn(
                                f"{err}; going on with {len(futures)} runs at once instead "
                                "of the requested --workers",
                                SweepWarning,
                                stacklevel=2,
                            )
                        backend.in_flight = len(futures)
                        break
                    pending.pop()
                    futures[fut] = (task, args)
                for fut in backend.wait_any(set(futures)):
                    task, args = futures.pop(fut)
                    try:
                        row = fut.result()
                    except BackendLost:
                        raise
                    except Exception as err:  # died, timed out, or Dask gave up after lost workers
                        row = failed_row(args, f"{type(err).__name__}: {err}")
                    store.write_row(row)
                    prog.add(row)
                    if on_row is not None:
                        on_row(row)
                    if bar is not None:
                        bar.update(1)
                        bar.set_postfix(
                            outages=f"{prog.outages:.3g}",
                            censored=prog.censored,
                            errors=prog.errors,
                            refresh=False,
                        )
                    if early:
                        key = point_key_of(task.run_id)
                        by_point.setdefault(key, []).append(row)
                        in_wave[key] -= 1
                        if not in_wave[key]:
                            refill_waves()
        except (KeyboardInterrupt, StorageError):
            interrupted = True  # finished runs are on disk; rerun the command to go on
            raise
        except BackendLost as err:
            interrupted = True
            raise StorageError(
                f"{err}; the {len(store.states())} runs finished so far are safe in "
                f"{shown(store.out)}; start the cluster again and rerun the same command to go on"
            ) from None
        finally:
            backend.close(wait=not interrupted)
            store.close()
            if bar is not None:
                bar.close()
        manifest["sessions"][-1]["end"] = now()
        manifest["early_stop"] = None
        if early:  # which points the rule ended, so status and analyze do not call them short
            rule = {
                "min_events": min_events,
                "target_ci_width": target_ci_width,
                "target_halfwidth": target_halfwidth,
                "wave": wave,
            }
            stopped = {
                key: next_rep[key]
                for key in point_of
                if next_rep[key] < spec.replicates
                and stop_point(
                    [r for r in by_point.get(key, []) if r["replicate"] < next_rep[key]],
                    min_events,
                    target_ci_width,
                    target_halfwidth,
                )
            }
            manifest["early_stop"] = {"rule": rule, "stopped": stopped}
        store.write_manifest(manifest)
        recorded = manifest.get("export")
        df, record = store.export(recorded if isinstance(recorded, dict) else None, table=table)
        if record != recorded:  # the export was rewritten: say which rows it holds
            manifest["export"] = record
            store.write_manifest(manifest)
        return df
