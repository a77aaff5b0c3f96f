"""Run one built model to its outcome: ``simulate``, the conservation check, the ``RunResult``.

The result row is the counters (``records.Counters``, copied whole) plus the fields below:
identity, the detector's outcome, and ``DERIVED``, a short table of what is read off the model's
state at the end. A new counter needs no change here; a new end-of-run quantity is one entry.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from typing import Any, TextIO

import numpy as np
from mypy_extensions import mypyc_attr

from vnetsim.config import ScenarioConfig
from vnetsim.drivers import resolve_design
from vnetsim.records import RunResult
from vnetsim.rng import seed_sequence
from vnetsim.scenario.build import Model, build
from vnetsim.scenario.detector import State
from vnetsim.scenario.split import SplitRunloop


@mypyc_attr(native_class=False)  # mypyc: a native class cannot inherit from RuntimeError
class ModelError(RuntimeError):
    """The model broke one of its own invariants: a bug in vnetsim, never an outage."""


@dataclasses.dataclass(frozen=True, slots=True)
class Census:
    """Where every buffer and frame is at the end of a run."""

    in_ring: int
    in_flight: int
    free: int
    frames_in_flight: int


def census(m: Model) -> Census:
    """Buffers in the ring, in flight and free, and frames not yet resolved (unchecked)."""
    c = m.counters
    resolved = c.frames_delivered + c.frames_dropped + c.frames_swallowed
    return Census(
        in_ring=m.vq.avail_pending() + m.ring.pending_count(),
        in_flight=len(m.backend.unpublished) + m.vq.used_pending() + m.driver.held,
        free=m.pool.free_count(),
        frames_in_flight=c.frames_offered - resolved,
    )


def check_invariants(m: Model) -> Census:
    """Buffer and frame conservation; raises ``ModelError`` naming what broke."""
    c, ring, pool, driver = m.counters, m.ring, m.pool, m.driver
    n = census(m)
    if pool.live != n.in_ring + n.in_flight + n.free + pool.leaked:
        raise ModelError(
            f"buffer conservation: allocated {pool.live} != in ring {n.in_ring} + in flight "
            f"{n.in_flight} + free {n.free} + leaked {pool.leaked}"
        )
    firsts_pending = (
        len(m.backend.tap)
        + sum(1 for _, _, p in m.backend.unpublished if p == 0)
        + sum(1 for _, p in ring.used_meta if p == 0)
    )
    live_heads = driver.live_heads()
    if not driver.halted and n.frames_in_flight != firsts_pending + live_heads:
        raise ModelError(
            f"frame conservation: offered {c.frames_offered} - delivered {c.frames_delivered} "
            f"- dropped {c.frames_dropped} - swallowed {c.frames_swallowed} = "
            f"{n.frames_in_flight} != in tap/ring {firsts_pending} + heads {live_heads}"
        )
    if c.frames_dropped != c.frames_dropped_tap + c.frames_dropped_guest:
        raise ModelError("frames_dropped != tap drops + guest drops")
    return n


# End-of-run quantities read off the model: result field -> how.
DERIVED: dict[str, Callable[[Model, Census], Any]] = {
    "frames_in_flight": lambda m, n: n.frames_in_flight,
    "buffers_allocated": lambda m, n: m.pool.live,
    "buffers_in_ring": lambda m, n: n.in_ring,
    "buffers_in_flight": lambda m, n: n.in_flight,
    "buffers_free": lambda m, n: n.free,
    "buffers_leaked": lambda m, n: m.pool.leaked,
    "runloop_passes": lambda m, n: m.vcpus.passes,
    "sim_time_s": lambda m, n: float(m.env.now),
}


def simulate(
    cfg: ScenarioConfig,
    seed: int | np.random.SeedSequence = 0,
    *,
    check: bool = True,
    progress: TextIO | None = None,
) -> RunResult:
    """Run one scenario to its time to outage (or the horizon) and summarise it.

    With ``check`` false the conservation check is skipped and ``frames_in_flight`` is 0.
    With a ``progress`` stream (a terminal), a bar shows simulated time, frames per second
    and the ETA while the run goes; the result is the same either way.
    """
    seq = seed_sequence(seed)
    wall0 = time.perf_counter()
    m = build(cfg, seq)
    copy = m.runloop if isinstance(m.runloop, SplitRunloop) else None
    bar = None
    if progress is not None and copy is None:  # a split run forks: no thread to fork with
        from vnetsim.scenario.progress import RunProgress

        bar = RunProgress(m, progress, label=cfg.name or "run")
    try:
        m.env.run(until=m.detector.done)
    except BaseException as exc:
        if copy is not None:
            copy.leave_copy(exc)  # returns only in the parent
        raise
    finally:
        if bar is not None:
            bar.close()
    if copy is not None:
        copy.leave_copy()
    wall = time.perf_counter() - wall0
    n = check_invariants(m) if check else dataclasses.replace(census(m), frames_in_flight=0)
    return result_of(m, seq, n, wall)


def _trace(m: Model, observed: bool, onset: float) -> tuple[tuple[float, int, str, str], ...]:
    tr = m.trace
    if not tr.enabled:
        return ()
    if tr.prefix:
        events = tr.around_onset()
    else:
        events = tr.snapshot if observed and tr.snapshot else list(tr.events)
    cut = onset + m.cfg.detector.silence_s if observed else float("inf")
    return tuple(e for e in events if e[0] <= cut)


def result_of(m: Model, seq: np.random.SeedSequence, n: Census, wall: float) -> RunResult:
    """The ``RunResult`` of a model that has run."""
    cfg, det = m.cfg, m.detector
    observed = det.state is not State.HEALTHY
    onset = det.onset if observed and det.onset is not None else cfg.run.horizon_s
    recovered = det.state is State.RECOVERED
    blackout = 0.0
    if observed:
        end = det.end if recovered and det.end is not None else m.env.now
        blackout = max(0.0, end - onset)
    first = m.driver.first_swallow
    entropy = seq.entropy if isinstance(seq.entropy, int) else 0
    return RunResult(
        **dataclasses.asdict(m.counters),
        scenario=cfg.name,
        design=resolve_design(cfg.driver.design),
        smp=cfg.guest.smp,
        seed=int(entropy),
        spawn_key=",".join(map(str, seq.spawn_key)),
        horizon_s=cfg.run.horizon_s,
        duration_s=float(onset),
        event_observed=observed,
        recovered=recovered,
        blackout_s=float(blackout),
        cause=det.cause if observed else "",
        mechanism_onset_s=float(first[0]) if first else float("nan"),
        swallow_v=int(first[1]) if first else 0,
        **{name: how(m, n) for name, how in DERIVED.items()},
        wall_time_s=wall,
        trace=_trace(m, observed, onset),
        **_split_fields(m),
    )


def _split_fields(m: Model) -> dict[str, Any]:
    if not isinstance(m.runloop, SplitRunloop):
        return {}
    rec = m.runloop.record
    failed = rec.failed
    nan = float("nan")
    return {
        "estimator": "split",
        "split_batches": len(rec.batches),
        "split_replays": rec.replays,
        "split_zero_batches": sum(1 for _, p, _ in rec.batches if p == 0.0),
        "split_pending": rec.pending,
        "split_unresolved": rec.unresolved,
        "split_inherited": rec.inherited,
        "split_survival": rec.survival(),
        "split_stopped_s": rec.stopped_at,
        "split_series": json.dumps([[t, p, k] for t, p, k in rec.batches]),
        "split_failed_batch_s": float(failed.get("batch_s", nan)),
        "split_failed_weight": float(failed.get("weight", nan)),
        "split_failed_onset_s": float(failed.get("onset_s", nan)),
        "split_failed_blackout_s": float(failed.get("blackout_s", nan)),
        "split_failed_recovered": bool(failed.get("recovered", False)),
        "split_failed_cause": str(failed.get("cause", "")),
    }
