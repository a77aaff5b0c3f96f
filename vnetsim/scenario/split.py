"""The split estimator: every interrupt batch that can race is replayed K times (docs/split.md).

The race of a whole interrupt batch is resolved synchronously in ``Runloop.submit``, so the
batch can be replayed in process: save the state the resolution touches (driver, ring, buffer
pool, vCPUs, counters), resolve the batch with fresh race randomness (the driver's race and
payload draws and the runloop's pick-up draws, keyed by batch and replay), look at what it left,
load the saved state, and repeat. Each replay ends in one of three states:

* **crash**: the kernel halted inside the batch (an outage, certainly);
* **clean**: no hazard is left (whatever was dropped or leaked, no outage can follow from it);
* **pending**: a bogus chain, a corrupted head or a corrupted buffer in the ring is left, whose
  outcome only the future decides. Such a replay is followed in a forked copy of the whole
  simulation until the detector sees an outage or the hazard is gone (``run.split_follow_s`` at
  most).

p̂ = (crashes + pending replays that ended in an outage) / K is then an unbiased estimate of the
probability that this batch starts an outage, given the path so far. The run continues along the
first surviving replay (among i.i.d. replays, the first survivor is a draw from the survivors'
distribution), so the product of (1 − p̂) over a run's batches is an unbiased estimate of the
survival function (fixed-effort splitting with one continuing path). A run whose replays all fail
has Ŝ = 0 from then on and stops.

Approximations, stated where they act: while a followed replay's hazard is pending, later batches
in that copy continue along their first replay that adds no new hazard (``_first_harmless``); a
batch that starts while a hazard is already pending on the main path is not split (it cannot
start the outage, which is already decided by the pending hazard).

Post-outage behaviour comes from one failing replay per run, continued in a forked copy to the
end of the detector's recovery horizon; its weight is Ŝ just before that batch times p̂ / K·(number
of failing replays), so weighted blackout statistics stay available.

Needs ``os.fork`` (POSIX) to follow pending replays.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from vnetsim.clock import Signal
from vnetsim.guest.runloop import Runloop
from vnetsim.records import load_counters, save_counters
from vnetsim.rng import Draws
from vnetsim.scenario.detector import State

if TYPE_CHECKING:
    import simpy

    from vnetsim.drivers import RxDriver
    from vnetsim.frames import Frame
    from vnetsim.guest.bufpool import BufferPool
    from vnetsim.guest.vcpu import VCpuSet
    from vnetsim.records import Counters, Trace
    from vnetsim.scenario.detector import OutageDetector
    from vnetsim.virtio.rxring import RxRing

Batch = list[tuple[int, "Frame", int]]  # (buffer, frame, position) as the runloop gets them
SPLIT_KEY = 7919  # first element of the replays' spawn keys: never a stream index (rng.STREAMS)
CLEAN, CRASH, PENDING = 0, 1, 2
MAIN, FOLLOW, RECORD = "main", "follow", "record"
_DRAW_BLOCK = 64  # a replay draws a few dozen numbers: small blocks keep it cheap


class _NullStack:
    """A replay's deliveries go nowhere: only the driver's state decides its outcome."""

    def deliver(self, t: float, frame: Frame) -> None:
        pass


def conditional_survival(
    batch_t: np.ndarray, batch_p: np.ndarray, own: float, times: np.ndarray
) -> np.ndarray:
    """A split run's S_r at ``times``: Π(1 − p̂ᵢ) over its batches with tᵢ ≤ t (right-
    continuous), and 0 from its path's own outage ``own`` on (inf: none). Used by the sweep's
    stopping rule and by the analysis."""
    cum = np.concatenate([[1.0], np.cumprod(1.0 - batch_p)])
    s = cum[np.searchsorted(batch_t, times, side="right")]
    return np.asarray(np.where(times >= own, 0.0, s), dtype=float)


@dataclass
class SplitRecord:
    """What a split run measured: one (t, p̂, K) per split batch, and its failing copy."""

    batches: list[tuple[float, float, int]] = field(default_factory=list)
    replays: int = 0
    pending: int = 0  # replays followed in a forked copy
    unresolved: int = 0  # followed replays still pending after ``run.split_follow_s`` (safe)
    inherited: int = 0  # batches not split because a hazard was already pending
    stopped_at: float = float("nan")  # every replay failed: Ŝ = 0 from here
    failed: dict[str, Any] = field(default_factory=dict)  # the continued failing replay

    def survival(self) -> float:
        s = 1.0
        for _, p, _ in self.batches:
            s *= 1.0 - p
        return s


class SplitRunloop(Runloop):
    """``Runloop`` that splits every batch carrying a multi-buffer frame (module docstring)."""

    def __init__(
        self,
        vcpus: VCpuSet,
        driver: RxDriver,
        *,
        env: simpy.Environment,
        ring: RxRing,
        pool: BufferPool,
        counters: Counters,
        trace: Trace,
        seed: np.random.SeedSequence,
        replays: int,
        follow_s: float,
        horizon_s: float,
        silence_s: float,
    ) -> None:
        super().__init__(vcpus, driver)
        if not hasattr(os, "fork"):
            raise RuntimeError("run.estimator = 'split' needs os.fork (a POSIX system)")
        self.env = env
        self.rx = driver  # the whole driver contract (``Runloop.driver`` is only ``VnetInput``)
        self.vcpu_set = vcpus  # the whole VCpuSet (``Runloop.vcpus`` is only ``Takers``)
        self.ring = ring
        self.pool = pool
        self.counters = counters
        self.trace = trace
        self.seed = seed
        self.replays = replays
        self.follow_s = follow_s
        self.horizon = horizon_s
        self.silence = silence_s
        self.detector: OutageDetector | None = None  # set by ``build`` once it exists
        self.record = SplitRecord()
        self.mode = MAIN
        self._index = 0  # split batches so far (keys the replays' draws)
        self._main = (driver.draws, driver.payload_draws, vcpus._pass_draws)
        self._stack = driver.stack
        self._halt = driver.halt
        self._null_stack = _NullStack()
        self._null_halt = Signal()
        self._report: Callable[[dict[str, Any]], None] | None = None  # in a forked copy

    # -- state ------------------------------------------------------------------------
    def _save(self) -> tuple[object, ...]:
        return (
            self.rx.save_state(),
            self.ring.save_state(),
            self.pool.save_state(),
            self.vcpu_set.save_state(),
            save_counters(self.counters),
            self.save_state(),
        )

    def _load(self, s: tuple[object, ...]) -> None:
        self.rx.load_state(s[0])
        self.ring.load_state(s[1])  # type: ignore[arg-type]
        self.pool.load_state(s[2])  # type: ignore[arg-type]
        self.vcpu_set.load_state(s[3])  # type: ignore[arg-type]
        load_counters(self.counters, s[4])  # type: ignore[arg-type]
        self.load_state(s[5])  # type: ignore[arg-type]

    def _use_draws(self, index: int, replay: int) -> None:
        seq = np.random.SeedSequence(
            self.seed.entropy, spawn_key=(*self.seed.spawn_key, SPLIT_KEY, index, replay)
        )
        rng = np.random.default_rng(seq)
        d = self.rx
        d.draws = Draws(rng, _DRAW_BLOCK)
        d.payload_draws = Draws(rng, _DRAW_BLOCK)
        self.vcpu_set._pass_draws = Draws(rng, _DRAW_BLOCK)

    def _main_draws(self) -> None:
        d = self.rx
        d.draws, d.payload_draws, self.vcpu_set._pass_draws = self._main

    # -- one replay, in process ----------------------------------------------------------
    def _replay(self, t: float, batch: Batch, irq: int, key: tuple[int, int]) -> int:
        """Resolve the batch once with replay ``key``'s draws and no effect outside the
        driver's state; classify what it left. The caller loads the saved state after."""
        d, ring, trace = self.rx, self.ring, self.trace
        waiter, traced = ring.post_waiter, trace.enabled
        ring.post_waiter, trace.enabled = None, False
        d.stack, d.halt = self._null_stack, self._null_halt
        self._use_draws(*key)
        try:
            Runloop.submit(self, t, batch, irq)
            if d.halted:
                return CRASH
            return PENDING if d.pending_hazards() else CLEAN
        finally:
            ring.post_waiter, trace.enabled = waiter, traced
            d.stack, d.halt = self._stack, self._halt
            self._main_draws()

    def _apply(self, t: float, batch: Batch, irq: int, key: tuple[int, int]) -> None:
        """Resolve the batch for real with replay ``key``'s draws."""
        self._use_draws(*key)
        try:
            Runloop.submit(self, t, batch, irq)
        finally:
            self._main_draws()

    # -- the runloop entry point -------------------------------------------------------
    def submit(self, t_queued: float, batch: list[tuple[int, Frame, int]], irq_cpu: int) -> None:
        if (
            self.mode == RECORD
            or t_queued > self.horizon
            or not any(frame.nbuf > 1 for _, frame, _ in batch)
        ):
            Runloop.submit(self, t_queued, batch, irq_cpu)
            return
        index = self._index
        self._index += 1
        if self.mode == FOLLOW:
            choice = self._first_harmless(t_queued, batch, irq_cpu, index)
            self._apply(t_queued, batch, irq_cpu, (index, choice))
            return
        if self.rx.pending_hazards():
            self.record.inherited += 1
            self._apply(t_queued, batch, irq_cpu, (index, 0))
            return
        s0 = self._save()
        k = self.replays
        outcomes = []
        for j in range(k):
            outcomes.append(self._replay(t_queued, batch, irq_cpu, (index, j)))
            self._load(s0)
        failed: list[int] = []
        survivor = -1
        for j, out in enumerate(outcomes):
            if out == PENDING:
                self.record.pending += 1
                res = self._fork(t_queued, batch, irq_cpu, (index, j), FOLLOW)
                if res is None:
                    return  # this is the forked copy: it goes on as the followed replay
                out = CRASH if res["outage"] else CLEAN
                self.record.unresolved += int(res.get("unresolved", False))
            if out == CRASH:
                failed.append(j)
            elif survivor < 0:
                survivor = j
        rec = self.record
        s_before = rec.survival()
        p = len(failed) / k
        rec.batches.append((t_queued, p, k))
        rec.replays += k
        if failed and not rec.failed:
            res = self._fork(t_queued, batch, irq_cpu, (index, failed[0]), RECORD)
            if res is None:
                return
            rec.failed = {**res, "batch_s": t_queued, "weight": s_before * p}
        if survivor < 0:
            rec.stopped_at = t_queued
            self._apply(t_queued, batch, irq_cpu, (index, failed[0]))
            assert self.detector is not None
            self.detector.stop()  # Ŝ = 0: nothing more to learn on this path
            return
        self._apply(t_queued, batch, irq_cpu, (index, survivor))

    def _first_harmless(self, t: float, batch: Batch, irq: int, index: int) -> int:
        """In a followed copy: the first replay that neither crashes nor adds a hazard to the
        one being followed (else the first that does not crash, else replay 0), so that the
        copy's outcome is the followed hazard's, not a later batch's."""
        d = self.rx
        before = d.pending_hazards()
        s0 = self._save()
        fallback = -1
        for j in range(self.replays):
            out = self._replay(t, batch, irq, (index, j))
            added = d.pending_hazards() > before
            self._load(s0)
            if out != CRASH and not added:
                return j
            if out != CRASH and fallback < 0:
                fallback = j
        return max(fallback, 0)

    # -- forked copies -----------------------------------------------------------------
    def _fork(
        self,
        t: float,
        batch: list[tuple[int, Frame, int]],
        irq: int,
        key: tuple[int, int],
        mode: str,
    ) -> dict[str, Any] | None:
        """Run replay ``key`` for real in a forked copy; return its report (None in the copy)."""
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the copy: it never returns to the caller of ``simulate``
            os.close(r)
            self._become_copy(w, mode, t)
            self._apply(t, batch, irq, key)
            return None
        os.close(w)
        chunks = []
        while chunk := os.read(r, 65536):
            chunks.append(chunk)
        os.close(r)
        _, status = os.waitpid(pid, 0)
        if not chunks:
            raise RuntimeError(f"split: a forked replay ended without a report (status {status})")
        report: dict[str, Any] = json.loads(b"".join(chunks))
        if "error" in report:
            raise RuntimeError(f"split: a forked replay failed: {report['error']}")
        return report

    def _become_copy(self, fd: int, mode: str, t0: float) -> None:
        env, det = self.env, self.detector
        assert det is not None
        self.mode = mode

        def report(d: dict[str, Any]) -> None:
            os.write(fd, json.dumps(d).encode())
            os._exit(0)

        self._report = report
        # Report before ``env.run(until=detector.done)`` returns to ``simulate``'s caller.
        done_cb: Callable[[Any], None] = lambda _ev: report(self._final())  # noqa: E731
        det.done.callbacks.insert(0, done_cb)
        if mode == FOLLOW:
            env.process(self._watch(t0))

    def leave_copy(self, exc: BaseException | None = None) -> None:
        """Called when ``env.run`` returns or raises: in a forked copy it reports (the error,
        or the outcome so far) and exits, so a copy never runs its parent's caller's code.
        In the parent it does nothing."""
        if self._report is None:
            return
        self._report({"error": repr(exc)} if exc is not None else self._final())

    def _final(self) -> dict[str, Any]:
        det = self.detector
        assert det is not None
        observed = det.state is not State.HEALTHY
        recovered = det.state is State.RECOVERED
        onset = det.onset if observed and det.onset is not None else float("nan")
        end = det.end if recovered and det.end is not None else self.env.now
        return {
            "outage": observed,
            "onset_s": onset,
            "recovered": recovered,
            "blackout_s": max(0.0, end - onset) if observed else 0.0,
            "cause": det.cause if observed else "",
        }

    def _watch(self, t0: float) -> simpy.events.ProcessGenerator:
        """A followed copy ends when its outcome is known."""
        env, d, det = self.env, self.rx, self.detector
        assert det is not None
        assert self._report is not None
        while True:
            yield env.timeout(0.01)
            now = env.now
            if det.state is not State.HEALTHY or d.halted:
                self._report(
                    {
                        "outage": True,
                        "onset_s": det.onset if det.onset is not None else d.last_delivery,
                    }
                )
            if not d.pending_hazards() and now - d.last_delivery < self.silence:
                self._report({"outage": False})
            if now - t0 > self.follow_s:
                self._report({"outage": False, "unresolved": True})
