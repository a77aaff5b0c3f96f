"""Composition: build one simulated VM and its peers from a ``ScenarioConfig``; ``simulate``.

``build`` wires the components in dataflow order, so reading it shows the architecture:

    host peers (HTTP clients, Redis, ping, LAN) -> tap + vhost -> virtqueue -> notifier
    -> MSI-X handler on the IRQ vCPU -> completion FIFO -> vCPUs -> driver (vnet_input)
    -> lwIP + guest application -> host peers (responses, Redis writes, ACKs)

with the buffer pool feeding the ring and the outage detector watching deliveries and pings.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import simpy

from vnetsim.bufpool import BufferPool
from vnetsim.config import ScenarioConfig
from vnetsim.detector import OutageDetector, State
from vnetsim.drivers import get_design, resolve_design
from vnetsim.frames import BIG_BUFFER_BYTES, MRG_BUFFER_BYTES
from vnetsim.hostbackend import HostBackend
from vnetsim.interrupts import IrqHandler, Notifier
from vnetsim.records import Counters, RunResult, Trace
from vnetsim.rng import Draws, Streams, seed_sequence
from vnetsim.runloop import Runloop
from vnetsim.rxring import RxRing
from vnetsim.vcpu import VCpuSet
from vnetsim.virtqueue import SplitVirtqueue
from vnetsim.workloads.app import GuestApp
from vnetsim.workloads.http import HttpClients
from vnetsim.workloads.probes import LanBackground, PingProber
from vnetsim.workloads.redis import RedisServers
from vnetsim.workloads.tcp import Network


@dataclass
class Model:
    """Every component of one run (for tests and tools that look inside)."""

    cfg: ScenarioConfig
    env: simpy.Environment
    counters: Counters
    trace: Trace
    vq: SplitVirtqueue
    pool: BufferPool
    ring: RxRing
    driver: Any
    vcpus: VCpuSet
    runloop: Runloop
    irq: IrqHandler
    notifier: Notifier
    backend: HostBackend
    net: Network
    clients: HttpClients
    redis: RedisServers
    prober: PingProber
    lan: LanBackground
    app: GuestApp
    detector: OutageDetector
    mrg: bool
    tso: bool


def build(cfg: ScenarioConfig, seed: int | np.random.SeedSequence) -> Model:
    """Wire one simulated VM and its host peers."""
    streams = Streams(seed)
    env = simpy.Environment()
    counters = Counters()
    trace = Trace(cfg.run.trace_events)
    spec = get_design(cfg.driver.design)
    mrg = spec.wants_mrg_rxbuf and cfg.host.mrg_rxbuf
    tso = spec.wants_guest_tso and cfg.host.guest_tso
    if mrg or not tso or not spec.big_buffers_without_mrg:
        buffer_bytes = MRG_BUFFER_BYTES
    else:
        buffer_bytes = BIG_BUFFER_BYTES

    vq = SplitVirtqueue(cfg.virtqueue.ring_size, event_idx=cfg.virtqueue.event_idx)
    pool = BufferPool(cfg.bufpool.memory_mib, buffer_bytes)
    ring = RxRing(env, vq, pool)
    driver = spec.factory(
        env=env,
        guest=cfg.guest,
        driver=cfg.driver,
        ring=ring,
        pool=pool,
        stack=None,
        counters=counters,
        trace=trace,
        draws=Draws(streams["driver.race"]),
        payload_draws=Draws(streams["driver.payload"]),
        mrg=mrg,
    )
    vcpus = VCpuSet(cfg.guest, cfg.host, streams)
    runloop = Runloop(vcpus, driver)
    irq = IrqHandler(
        env, cfg.host, cfg.guest, ring, runloop, irq_cpu=0, counters=counters, trace=trace
    )
    notifier = Notifier(env, cfg.host, vq, irq)
    backend = HostBackend(
        env,
        cfg.host,
        ring,
        notifier,
        counters,
        trace,
        Draws(streams["host.vhost"]),
        mrg=mrg,
        buffer_bytes=buffer_bytes,
    )
    net = Network(env, cfg.host, cfg.workload, backend, tso=tso)
    backend.on_drop = lambda frame, _t: frame.flow.dropped(frame) if frame.flow else None
    clients = HttpClients(
        env, cfg.workload, net, Draws(streams["workload.arrivals"]), Draws(streams["workload.http"])
    )
    redis = RedisServers(env, cfg.workload, net, Draws(streams["workload.redis"]))

    detector_ref: list[OutageDetector] = []
    served = [0]

    def on_tick(now: float, ping_ok: bool) -> None:
        # Hand the server's request rate to the vCPU model, then let the detector look.
        vcpus.app_rate = (app.requests_served - served[0]) / cfg.workload.ping_interval_s
        served[0] = app.requests_served
        detector_ref[0].tick(now, ping_ok)

    prober = PingProber(env, cfg.workload, net, on_tick)
    lan = LanBackground(env, cfg.workload, net, Draws(streams["workload.lan"]))
    app = GuestApp(env, cfg.guest, net, clients, redis, prober)
    driver.stack = app  # lwIP's input hands packets to the application
    vcpus.app_rate = cfg.workload.load_rps  # the server starts at its offered load

    def on_crash(_t: float) -> None:  # the VM powers off: no RX, no TX
        backend.stopped = True
        app.halted = True

    driver.on_crash = on_crash
    detector = OutageDetector(
        env,
        silence_s=cfg.detector.silence_s,
        horizon_s=cfg.run.horizon_s,
        recovery_horizon_s=cfg.run.recovery_horizon_s,
        ping_interval_s=cfg.workload.ping_interval_s,
        driver=driver,
        ring=ring,
        counters=counters,
    )
    detector_ref.append(detector)
    if trace.enabled:

        def snapshot(_now: float) -> None:
            trace.snapshot = trace.freeze_before(float("inf"))

        detector.on_blackout = snapshot

    # The guest fills its RX ring before the device starts.
    for _ in range(vq.size):
        buf = pool.alloc(0.0)
        if buf is None:
            break
        ring.post(0.0, buf)
    ring.flush(0.0)
    vq.enable_cb()
    return Model(
        cfg,
        env,
        counters,
        trace,
        vq,
        pool,
        ring,
        driver,
        vcpus,
        runloop,
        irq,
        notifier,
        backend,
        net,
        clients,
        redis,
        prober,
        lan,
        app,
        detector,
        mrg,
        tso,
    )


class ModelError(RuntimeError):
    """The model broke one of its own invariants: a bug in vnetsim, never an outage."""


def check_invariants(m: Model) -> dict[str, int]:
    """Buffer and frame conservation; raises ``ModelError`` naming what broke."""
    c, vq, ring, pool, driver = m.counters, m.vq, m.ring, m.pool, m.driver
    in_ring = vq.avail_pending() + ring.pending_count()
    in_flight = len(m.backend.unpublished) + vq.used_pending() + driver.held
    free = pool.free_count()
    if pool.live != in_ring + in_flight + free + pool.leaked:
        raise ModelError(
            f"buffer conservation: allocated {pool.live} != in ring {in_ring} + in flight "
            f"{in_flight} + free {free} + leaked {pool.leaked}"
        )
    resolved = c.frames_delivered + c.frames_dropped + c.frames_swallowed
    frames_in_flight = c.frames_offered - resolved
    firsts_pending = (
        len(m.backend.tap)
        + sum(1 for _, _, p in m.backend.unpublished if p == 0)
        + sum(1 for _, p in ring.used_meta if p == 0)
    )
    live_heads = _live_genuine_heads(driver)
    if not driver.halted and frames_in_flight != firsts_pending + live_heads:
        raise ModelError(
            f"frame conservation: offered {c.frames_offered} - delivered {c.frames_delivered} "
            f"- dropped {c.frames_dropped} - swallowed {c.frames_swallowed} = "
            f"{frames_in_flight} != in tap/ring {firsts_pending} + heads {live_heads}"
        )
    if c.frames_dropped != c.frames_dropped_tap + c.frames_dropped_guest:
        raise ModelError("frames_dropped != tap drops + guest drops")
    return {
        "in_ring": in_ring,
        "in_flight": in_flight,
        "free": free,
        "frames_in_flight": frames_in_flight,
    }


def _live_genuine_heads(driver: Any) -> int:
    heads = {id(h): h for h in ([driver.hdr] if getattr(driver, "hdr", None) else [])}
    for _, _, h, _ in getattr(driver, "_stores", []):
        if h is not None:
            heads[id(h)] = h
    return sum(1 for h in heads.values() if not h.done and h.frame is not None)


def simulate(
    cfg: ScenarioConfig, seed: int | np.random.SeedSequence = 0, *, check: bool = True
) -> RunResult:
    """Run one scenario to its time to outage (or the horizon) and summarise it."""
    seq = seed_sequence(seed)
    wall0 = time.perf_counter()
    m = build(cfg, seq)
    m.env.run(until=m.detector.done)
    wall = time.perf_counter() - wall0
    counts = check_invariants(m) if check else {}
    if not counts:
        counts = {
            "in_ring": m.vq.avail_pending() + m.ring.pending_count(),
            "in_flight": len(m.backend.unpublished) + m.vq.used_pending() + m.driver.held,
            "free": m.pool.free_count(),
            "frames_in_flight": 0,
        }
    return _result(cfg, seq, m, counts, wall)


def _result(
    cfg: ScenarioConfig, seq: np.random.SeedSequence, m: Model, counts: dict[str, int], wall: float
) -> RunResult:
    c, det, driver = m.counters, m.detector, m.driver
    observed = det.state is not State.HEALTHY
    onset = det.onset if observed and det.onset is not None else cfg.run.horizon_s
    recovered = det.state is State.RECOVERED
    if observed:
        end = det.end if recovered and det.end is not None else m.env.now
        blackout = max(0.0, end - onset)
    else:
        blackout = 0.0
    first = getattr(driver, "first_swallow", None)
    trace: tuple[tuple[float, int, str, str], ...] = ()
    if m.trace.enabled:
        if m.trace.prefix:
            events = m.trace.around_onset()
        else:
            events = m.trace.snapshot if observed and m.trace.snapshot else list(m.trace.events)
        cut = onset + cfg.detector.silence_s if observed else float("inf")
        trace = tuple(e for e in events if e[0] <= cut)
    entropy = seq.entropy if isinstance(seq.entropy, int) else 0
    return RunResult(
        scenario=cfg.name,
        design=resolve_design(cfg.driver.design),
        smp=cfg.guest.smp,
        seed=int(entropy),
        horizon_s=cfg.run.horizon_s,
        duration_s=float(onset),
        event_observed=observed,
        recovered=recovered,
        blackout_s=float(blackout),
        cause=det.cause if observed else "",
        crash_reason=c.crash_reason,
        mechanism_onset_s=float(first[0]) if first else float("nan"),
        swallow_v=int(first[1]) if first else 0,
        frames_offered=c.frames_offered,
        frames_delivered=c.frames_delivered,
        frames_dropped=c.frames_dropped,
        frames_dropped_tap=c.frames_dropped_tap,
        frames_dropped_guest=c.frames_dropped_guest,
        frames_swallowed=c.frames_swallowed,
        frames_in_flight=counts["frames_in_flight"],
        multi_buffer_frames=c.multi_buffer_frames,
        buffers_allocated=m.pool.live,
        buffers_in_ring=counts["in_ring"],
        buffers_in_flight=counts["in_flight"],
        buffers_free=counts["free"],
        buffers_leaked=m.pool.leaked,
        buffers_swallowed=c.buffers_swallowed,
        misframed_buffers=c.misframed_buffers,
        d2_stale_reads=c.d2_stale_reads,
        d1_late_strip=c.d1_late_strip,
        orphaned_heads=c.orphaned_heads,
        ticket_spins=c.ticket_spins,
        interrupts=c.interrupts,
        runloop_passes=m.vcpus.passes,
        swallows=c.swallows,
        max_swallow_chain=c.max_swallow_chain,
        alloc_failures=c.alloc_failures,
        watchdog_resets=c.watchdog_resets,
        http_requests_sent=m.clients.sent,
        http_responses=m.clients.responses,
        http_timeouts=m.clients.timeouts + m.clients.failed,
        pings_sent=m.prober.sent,
        pings_answered=m.prober.answered_count,
        sim_time_s=float(m.env.now),
        wall_time_s=wall,
        trace=trace,
    )
