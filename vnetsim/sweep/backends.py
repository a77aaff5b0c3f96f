"""Where runs execute: local forked processes (one per run) or a Dask cluster.

A backend takes a top-level function and its arguments (``submit``), says which of the
submitted runs have finished (``wait_any``), and hands back each run's row (``result()`` of
what ``submit`` returned). A run that produced no row raises from ``result()``: locally
``WorkerDied`` (its process ended: segfault, OOM, SIGKILL, an exception outside the task) or
``RunTimeout`` (more CPU seconds than the run timeout, or no CPU at all for that long); on
Dask whatever the scheduler gave up with. On Dask, a lost worker's runs are redone elsewhere
by the scheduler.
"""

from __future__ import annotations

import math
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar

from vnetsim.config import ConfigError, shown
from vnetsim.sweep.store import Row

TaskFn = Callable[..., Row]


class RunFuture(Protocol):
    """A submitted run."""

    def result(self) -> Row: ...


F = TypeVar("F", bound=RunFuture)


class Backend(Protocol[F]):
    """What ``run_sweep`` needs of an executor."""

    slots: int  # runs that can execute at once
    in_flight: int  # runs submitted at once: local, the slots (each is a process); Dask, more

    def submit(self, fn: TaskFn, *args: Any) -> F: ...

    def wait_any(self, futures: set[F]) -> set[F]: ...

    def close(self, wait: bool = True) -> None: ...


class WorkerDied(RuntimeError):
    """A local run's process ended without sending a row."""


class BackendLost(RuntimeError):
    """The cluster itself went away (its scheduler died or cannot be reached): no run's
    fault, so no run gets an error row; the sweep stops and a rerun continues."""


class NoProcess(RuntimeError):
    """The system refused to start another run process (fork failed: a process limit)."""


class RunTimeout(RuntimeError):
    """A local run used more CPU time than the run timeout, or hung, and was killed."""


def cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) a live process has used, from ``/proc`` (None if gone).

    Linux only, like the fork this backend needs; no library call gives another process's
    CPU time without a dependency (psutil), and this is two fields of one file.
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat[stat.rindex(b")") + 2 :].split()  # after "(comm)", which may hold spaces
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _child_main(
    send: Any, fn: TaskFn, args: tuple[Any, ...], cpu_limit: float | None = None
) -> None:
    import tracemalloc

    # Ctrl-C reaches the whole process group; the parent alone answers it (and kills the
    # runs), so a run neither prints a traceback nor leaves a half row.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The parent's SIGTERM handler (which stops the sweep) is not the run's: a run told to
    # terminate just ends, as it would without vnetsim.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    # ...and it must reach the run: the parent holds it back while it forks
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
    if cpu_limit is not None:
        import resource

        # The kernel counts this process's CPU time (a fork starts at 0) and sends SIGXCPU at
        # the soft limit: a loaded machine slows the run but does not bring its end nearer.
        soft = math.ceil(cpu_limit)
        resource.setrlimit(resource.RLIMIT_CPU, (soft, soft + 5))
    if tracemalloc.is_tracing():  # a parent measuring its own memory: not the runs'
        tracemalloc.stop()
    send.send(fn(*args))
    send.close()


class ChildRun:
    """One run in its own forked process: a crash or a hang costs only this run.

    With a ``timeout`` (CPU seconds) the run is killed by the kernel once it has used that
    much CPU time (``RLIMIT_CPU``), and by the parent if it uses no CPU at all for that many
    wall seconds (blocked: a sleep, a deadlock, a stopped process). A run that computes
    gets its CPU time counted however loaded the machine is.
    """

    def __init__(self, ctx: Any, fn: TaskFn, args: tuple[Any, ...], timeout: float | None) -> None:
        self.recv, send = ctx.Pipe(duplex=False)
        self.proc = ctx.Process(target=_child_main, args=(send, fn, args, timeout), daemon=True)
        try:
            self.proc.start()
        except OSError as err:  # EAGAIN / ENOMEM from fork: a process or memory limit
            self.recv.close()
            send.close()
            raise NoProcess(f"cannot start a run's process: {err.strerror or err}") from None
        send.close()
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout if timeout else math.inf  # the next check
        self._cpu = 0.0
        self._row: Row | None = None
        self._failure: Exception | None = None

    def poll(self, now: float) -> bool:
        """True once the run is over (a row, a crash or a timeout)."""
        if self._row is not None or self._failure is not None:
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
            if code == -signal.SIGXCPU:
                self._failure = RunTimeout(f"more than {self.timeout:g} CPU s")
                return True
            how = f"signal {-code}" if code is not None and code < 0 else f"exit code {code}"
            self._failure = WorkerDied(f"the run's process ended ({how}) without a result")
            return True
        if now >= self.deadline and self.timeout:
            cpu = cpu_seconds(self.proc.pid)
            if cpu is not None and cpu <= self._cpu:  # no CPU used since the last check
                self.proc.kill()
                self.proc.join()
                self._failure = RunTimeout(f"hung: no CPU time used in {self.timeout:g} s")
                return True
            self._cpu = cpu if cpu is not None else self._cpu
            self.deadline = now + self.timeout
        return False

    def result(self) -> Row:
        """The run's row; ``WorkerDied`` or ``RunTimeout`` if it has none."""
        self.recv.close()
        if self._failure is not None:
            raise self._failure
        assert self._row is not None, "result() before poll() said the run is over"
        return self._row

    def kill(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join()


class LocalBackend:
    """Local processes, one per run (forked), at most ``workers`` at a time."""

    def __init__(self, workers: int, run_timeout: float | None = None) -> None:
        import multiprocessing as mp

        self.ctx = mp.get_context("fork")
        self.slots = workers
        self.in_flight = workers  # a submitted run is a started process: --workers N is N
        self.run_timeout = run_timeout
        self.running: set[ChildRun] = set()
        # the sweep was asked to stop: ``wait_any`` returns (within a second) with nothing
        self.interrupted: Callable[[], bool] = lambda: False

    def submit(self, fn: TaskFn, *args: Any) -> ChildRun:
        child = ChildRun(self.ctx, fn, args, self.run_timeout)
        self.running.add(child)
        return child

    def wait_any(self, futures: set[ChildRun]) -> set[ChildRun]:
        from multiprocessing.connection import wait as mp_wait

        while True:
            now = time.monotonic()
            done = {f for f in futures if f.poll(now)}
            if done:
                self.running -= done
                return done
            if self.interrupted():
                return set()
            waits = [f.recv for f in futures] + [f.proc.sentinel for f in futures]
            nearest = min(f.deadline for f in futures) - now
            mp_wait(waits, timeout=min(max(nearest, 0.0), 1.0))

    def close(self, wait: bool = True) -> None:
        for child in list(self.running):
            if wait and child.deadline == math.inf:
                child.proc.join()
            child.kill()
        self.running.clear()


class DaskBackend:
    """A Dask cluster: its scheduler's address or scheduler file."""

    def __init__(self, scheduler: str | None, scheduler_file: str | None) -> None:
        from distributed import Client

        address = _scheduler_address(scheduler_file) if scheduler_file else str(scheduler)
        where = (
            f"--scheduler-file {shown(scheduler_file)}"
            if scheduler_file
            else f"--scheduler {shown(address)}"
        )
        try:
            self.client = Client(address, timeout=CONNECT_TIMEOUT_S)
        except (ValueError, TypeError) as err:
            raise ConfigError(
                f"{where}: not a scheduler address ({shown(err)}); allowed: e.g. tcp://HOST:8786"
            ) from None
        except (OSError, TimeoutError) as err:
            raise ConfigError(
                f"{where}: no Dask scheduler answered at {address!r} within "
                f"{CONNECT_TIMEOUT_S:g} s ({type(err).__name__}); allowed: the address of a "
                "running scheduler, e.g. tcp://HOST:8786"
            ) from None
        self.address = address
        self.slots = max(1, sum(self.client.nthreads().values()))
        self.in_flight = 2 * self.slots  # queued at the scheduler, so no worker waits for us

    def submit(self, fn: TaskFn, *args: Any) -> DaskRun:
        return DaskRun(self, self.client.submit(fn, *args, pure=False))

    def wait_any(self, futures: set[DaskRun]) -> set[DaskRun]:
        from concurrent.futures import CancelledError

        from distributed import wait as dwait

        by_future = {run.future: run for run in futures}
        try:
            done = dwait(list(by_future), return_when="FIRST_COMPLETED").done
        except (CancelledError, OSError) as err:
            raise self.lost(err) from None
        return {by_future[f] for f in done}

    def lost(self, err: BaseException) -> BackendLost:
        why = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        return BackendLost(f"lost the Dask scheduler at {self.address} ({why})")

    def close(self, wait: bool = True) -> None:
        import contextlib

        with contextlib.suppress(Exception):  # closing a client whose scheduler is gone
            self.client.close(timeout=5)


class DaskRun:
    """A run submitted to Dask: its future, and a ``result()`` that tells a run's own
    failure (an error row) from the cluster's loss (``BackendLost``)."""

    def __init__(self, backend: DaskBackend, future: Any) -> None:
        self.backend = backend
        self.future = future

    def result(self) -> Row:
        from concurrent.futures import CancelledError

        try:
            row: Row = self.future.result()
        except (CancelledError, OSError) as err:
            if self.backend.client.status != "running":
                raise self.backend.lost(err) from None
            raise
        return row


CONNECT_TIMEOUT_S = 20.0  # a scheduler that is up answers in well under a second


def _scheduler_address(path: str) -> str:
    """The address in a Dask scheduler file; ``ConfigError`` instead of waiting for it."""
    import json

    try:
        info = json.loads(Path(path).read_text(encoding="utf-8"))
        address = info["address"]
    except FileNotFoundError:
        raise ConfigError(
            f"--scheduler-file {shown(path)}: no such file (allowed: the file a running "
            "`dask scheduler --scheduler-file` wrote)"
        ) from None
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as err:
        raise ConfigError(
            f"--scheduler-file {shown(path)}: not a Dask scheduler file ({type(err).__name__})"
        ) from None
    if not isinstance(address, str):
        raise ConfigError(f"--scheduler-file {shown(path)}: its address is not a string")
    return address


def open_backend(
    *,
    workers: int | None = None,
    run_timeout: float | None = None,
    scheduler: str | None = None,
    scheduler_file: str | None = None,
) -> Backend[Any]:
    """Dask if a scheduler is named, else local processes (default: one per core)."""
    if scheduler or scheduler_file:
        return DaskBackend(scheduler, scheduler_file)
    return LocalBackend(workers or os.cpu_count() or 1, run_timeout)
