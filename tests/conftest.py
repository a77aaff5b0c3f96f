"""Shared fakes and fixtures of the test suite.

The fakes stand in for the parts a component talks to, so a unit test can drive it by hand and
compute every expected value from the component's documented semantics:

* ``Scripted``: draws (``vnetsim.rng.Draws``) from scripted lists.
* ``NoPreemption``: a vCPU's host preemption timeline with no episode ever.
* ``Stack``: the lwIP/application side of a driver, recording what is delivered and when.
* ``RecordingDriver``: the ``VnetInput`` the runloop hands completions to, recording its calls.
* ``SeededStreams``: ``vnetsim.rng.Streams`` from fixed-seed ``default_rng`` generators.

Test modules get them through fixtures (``--import-mode=importlib`` does not let a test module
import this file): the class-valued fixtures (``scripted``, ``seeded_streams``) are factories.

Whole-model runs are expensive, so every simulation result used by more than one test comes
from the session-scoped ``design_runs`` cache, which runs each (design, seed) once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import simpy

import vnetsim
from vnetsim.clock import Signal
from vnetsim.config import DriverConfig, GuestConfig, HostConfig, ScenarioConfig
from vnetsim.drivers import DriverParts
from vnetsim.frames import MRG_BUFFER_BYTES, Frame
from vnetsim.guest.bufpool import BufferPool
from vnetsim.guest.vcpu import VCpu
from vnetsim.records import Counters, RunResult, Trace
from vnetsim.rng import seed_sequence
from vnetsim.scenario import build, check_invariants, result_of
from vnetsim.scenario.run import Census
from vnetsim.virtio.rxring import RxRing
from vnetsim.virtio.virtqueue import SplitVirtqueue


def pytest_report_header() -> str:
    """Which build of vnetsim the tests import: the compiled (mypyc) one or the pure one."""
    import importlib.machinery

    import vnetsim.guest.vcpu

    where = vnetsim.guest.vcpu.__file__ or ""
    compiled = where.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))
    return f"vnetsim build: {'compiled (mypyc)' if compiled else 'pure Python'} ({where})"


# -------------------------------------------------------------------------------------------
# Fakes
# -------------------------------------------------------------------------------------------


class Scripted:
    """Draws from scripted lists, in order.

    Once a list is used up a draw returns the default (U = 0.5, Exp = 1.0), or, with ``strict``,
    fails the test: a strict fake checks that the component draws exactly what was scripted.
    """

    def __init__(
        self,
        uniform: list[float] | None = None,
        exp: list[float] | None = None,
        *,
        strict: bool = False,
    ) -> None:
        self.u = list(uniform or [])
        self.e = list(exp or [])
        self.strict = strict

    def uniform(self) -> float:
        if self.u:
            return self.u.pop(0)
        if self.strict:
            raise AssertionError("an unscripted uniform draw")
        return 0.5

    def exp(self) -> float:
        if self.e:
            return self.e.pop(0)
        if self.strict:
            raise AssertionError("an unscripted exponential draw")
        return 1.0


class NoPreemption:
    """A preemption timeline without episodes: work is never stretched."""

    next = float("inf")

    def stretch(self, start: float, work: float) -> float:
        return start + work


class Stack:
    """The driver's ``Stack``: records (time, frame id) of every delivered packet."""

    def __init__(self) -> None:
        self.delivered: list[tuple[float, int]] = []

    def deliver(self, t: float, frame: Frame) -> None:
        self.delivered.append((t, frame.fid))


class RecordingDriver:
    """A ``VnetInput`` for the runloop: every completion costs ``service_s``; calls recorded."""

    def __init__(self, service_s: float) -> None:
        self.service_s = service_s
        self.halted = False
        # (vCPU index, dequeue time, buffer id, frame id, position), in call order
        self.calls: list[tuple[int, float, int, int, int]] = []

    def process(self, cpu: VCpu, t: float, buf: int, frame: Frame, pos: int) -> float:
        self.calls.append((cpu.index, t, buf, frame.fid, pos))
        return t + self.service_s


class SeededStreams:
    """``Streams`` fake: fixed-seed generators (``guest.runloop``; ``host.preempt`` per vCPU)."""

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def __getitem__(self, name: str) -> np.random.Generator:
        assert name == "guest.runloop"
        return np.random.default_rng(self.seed)

    def per_vcpu(self, name: str, index: int) -> np.random.Generator:
        assert name == "host.preempt"
        return np.random.default_rng([self.seed, index])


# -------------------------------------------------------------------------------------------
# Fakes as fixtures
# -------------------------------------------------------------------------------------------


@pytest.fixture
def scripted() -> type[Scripted]:
    """The ``Scripted`` draws class (a factory: ``scripted(uniform=[...], exp=[...])``)."""
    return Scripted


@pytest.fixture
def seeded_streams() -> type[SeededStreams]:
    """The ``SeededStreams`` class (a factory: ``seeded_streams(seed)``)."""
    return SeededStreams


@pytest.fixture
def cpus() -> list[VCpu]:
    """Four vCPUs that are never preempted."""
    return [VCpu(i, NoPreemption()) for i in range(4)]  # type: ignore[arg-type]


@pytest.fixture
def recording_driver() -> RecordingDriver:
    """A runloop driver whose every completion takes 5 time units (the runloop has no unit of
    its own; whole numbers keep sums exact, so ties between vCPUs can be worked out by hand)."""
    return RecordingDriver(service_s=5.0)


@pytest.fixture
def env() -> simpy.Environment:
    return simpy.Environment()


# -------------------------------------------------------------------------------------------
# Small configurations
# -------------------------------------------------------------------------------------------


@pytest.fixture
def quiet_host() -> HostConfig:
    """A host that never preempts a vCPU (no VM exits, no scheduler preemption)."""
    return HostConfig(vmexit_rate_per_s=0.0, preempt_rate_per_s=0.0)


@pytest.fixture
def no_pass_guest() -> Callable[[int], GuestConfig]:
    """``no_pass_guest(smp)``: vCPUs that never pass through their runloop on their own, so
    only the IRQ vCPU and vCPUs put in the runloop by hand take completions."""

    def make(smp: int) -> GuestConfig:
        return GuestConfig(smp=smp, runloop_passes_per_s=0.0, syscalls_per_request=0.0)

    return make


@pytest.fixture
def make_parts(env: simpy.Environment) -> Callable[..., DriverParts]:
    """``make_parts(payload=None, **overrides)``: the ``DriverParts`` of a driver tested by hand.

    Default configs, a 256-entry ring with nothing posted, a 64 MiB pool of 1,536-byte buffers,
    a recording ``Stack``, a 1,000-event trace, scripted draws (race timing U = 0.5, Exp = 1;
    payload draws from ``payload``), mergeable buffers negotiated, a fresh halt ``Signal``.
    """

    def make(payload: list[float] | None = None, **overrides: Any) -> DriverParts:
        fields: dict[str, Any] = {
            "env": env,
            "guest": GuestConfig(),
            "driver": DriverConfig(),
            "ring": RxRing(SplitVirtqueue(256)),
            "pool": BufferPool(64.0, MRG_BUFFER_BYTES),
            "stack": Stack(),
            "counters": Counters(),
            "trace": Trace(1000),
            "draws": Scripted(),
            "payload_draws": Scripted(uniform=payload),
            "mrg": True,
            "halt": Signal(),
        }
        fields.update(overrides)
        return DriverParts(**fields)

    return make


# -------------------------------------------------------------------------------------------
# Whole-model runs
# -------------------------------------------------------------------------------------------

# A short stressed variant of the incident: 16 client connections (the calibrated default is
# 128) make pipelined multi-buffer frames frequent; a 0.5 s horizon, and a detector that looks
# every 0.1 s for 0.25 s of silence, end a healthy run at its first tick after
# 0.5 + 0.25 + 2 * 0.1 = 0.95 s and an outage 0.25 s after its onset.
STRESSED_CHANGES: dict[str, dict[str, Any]] = {
    "workload": {"http_connections": 16, "ping_interval_s": 0.1},
    "detector": {"silence_s": 0.25},
    "run": {"horizon_s": 0.5, "recovery_horizon_s": 0.25},
}


@pytest.fixture(scope="session")
def stressed() -> ScenarioConfig:
    """Preset ``nanos-2099`` with 16 connections and a short horizon (see ``STRESSED_CHANGES``)."""
    return vnetsim.preset("nanos-2099").replace(**STRESSED_CHANGES)


@dataclass(frozen=True)
class DesignRun:
    """One finished run: its result and where every buffer and frame was at the end."""

    result: RunResult
    census: Census
    buffers_allocated: int
    buffers_leaked: int
    ring_size: int


class DesignRuns:
    """Runs of the stressed scenario, one per (design name as given, seed), made on demand."""

    def __init__(self, cfg: ScenarioConfig) -> None:
        self.cfg = cfg
        self._runs: dict[tuple[str, int], DesignRun] = {}

    def config(self, design: str) -> ScenarioConfig:
        return self.cfg.replace(driver={"design": design})

    def get(self, design: str, seed: int) -> DesignRun:
        key = (design, seed)
        if key not in self._runs:
            # What ``simulate`` does, keeping the census (check_invariants raises ModelError
            # if a buffer or a frame is unaccounted for).
            seq = seed_sequence(seed)
            m = build(self.config(design), seq)
            m.env.run(until=m.detector.done)
            census = check_invariants(m)
            self._runs[key] = DesignRun(
                result=result_of(m, seq, census, 0.0),
                census=census,
                buffers_allocated=m.pool.live,
                buffers_leaked=m.pool.leaked,
                ring_size=m.vq.size,
            )
        return self._runs[key]


@pytest.fixture(scope="session")
def design_runs(stressed: ScenarioConfig) -> DesignRuns:
    """The session's cache of stressed-scenario runs: ``design_runs.get(design, seed)``."""
    return DesignRuns(stressed)
