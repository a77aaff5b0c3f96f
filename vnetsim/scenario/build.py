"""Composition: wire one simulated VM and its host peers from a ``ScenarioConfig``.

``build`` constructs each part, in dataflow order, with everything it needs; nothing is patched
afterwards. The data path is a loop (peers -> tap -> vhost -> ring -> guest -> peers); it is
closed by two callback lists the parts subscribe to when they are built:

    device side    virtqueue, RX ring, buffer pool -> notifier (fires irqfd) -> vhost (+ tap)
    host peers     TCP senders into the tap; HTTP clients, Redis, ping prober, LAN (registry)
    guest side     application (answers the peers) -> driver (delivers to it) -> vCPUs
                   -> runloop (hands completions to the driver) -> MSI-X handler (on irqfd)
    observer       outage detector (on the observation tick)

``halt`` is fired by the driver when the kernel halts (vhost stops, the application goes
silent); ``ticks`` is fired by the ping prober once per interval (the vCPU model samples the
server's request rate, then the detector looks).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import simpy

from vnetsim.clock import Signal
from vnetsim.config import ScenarioConfig  # at run time: compiled (mypyc), Model evaluates it
from vnetsim.drivers import DriverParts, RxDriver, get_design
from vnetsim.frames import BIG_BUFFER_BYTES, MRG_BUFFER_BYTES
from vnetsim.guest.bufpool import BufferPool
from vnetsim.guest.irq import IrqHandler
from vnetsim.guest.runloop import Runloop
from vnetsim.guest.server import EchoPeer, GuestApp, HttpPeer, StorePeer
from vnetsim.guest.vcpu import VCpuSet
from vnetsim.host.notify import Notifier
from vnetsim.host.vhost import HostBackend
from vnetsim.records import Counters, Trace
from vnetsim.rng import Draws, Streams
from vnetsim.scenario.detector import OutageDetector
from vnetsim.scenario.inputs import check
from vnetsim.scenario.split import SplitRunloop
from vnetsim.virtio.rxring import RxRing
from vnetsim.virtio.virtqueue import SplitVirtqueue
from vnetsim.workloads import PeerContext, build_peers
from vnetsim.workloads.tcp import Network

if TYPE_CHECKING:
    import numpy as np


@dataclass
class Model:
    """Every component of one run (for tests and tools that look inside)."""

    cfg: ScenarioConfig
    env: simpy.Environment
    counters: Counters
    trace: Trace
    vq: SplitVirtqueue[int]
    pool: BufferPool
    ring: RxRing
    notifier: Notifier
    backend: HostBackend
    net: Network
    peers: dict[str, object]
    app: GuestApp
    driver: RxDriver
    vcpus: VCpuSet
    runloop: Runloop
    irq: IrqHandler
    detector: OutageDetector
    halt: Signal
    ticks: Signal
    mrg: bool
    tso: bool


def _peer(peers: dict[str, object], name: str, contract: type) -> Any:
    """The registered peer ``name``, checked against the runtime-checkable ``contract``
    (mypy cannot take a Protocol as ``type[T]``; GuestApp's parameters carry the static type)."""
    peer = peers.get(name)
    if not isinstance(peer, contract):
        raise TypeError(f"the guest application needs a {name!r} peer ({contract.__name__})")
    return peer


def build(cfg: ScenarioConfig, seed: int | np.random.SeedSequence) -> Model:
    """Wire one simulated VM and its host peers."""
    check(cfg)
    streams = Streams(seed)
    env = simpy.Environment()
    counters = Counters()
    trace = Trace(cfg.run.trace_events)
    halt, ticks, irqfd = Signal(), Signal(), Signal()
    spec = get_design(cfg.driver.design)
    mrg = spec.wants_mrg_rxbuf and cfg.host.mrg_rxbuf
    tso = spec.wants_guest_tso and cfg.host.guest_tso
    if mrg or not tso or not spec.big_buffers_without_mrg:
        buffer_bytes = MRG_BUFFER_BYTES
    else:
        buffer_bytes = BIG_BUFFER_BYTES

    # The device side.
    vq: SplitVirtqueue[int] = SplitVirtqueue(
        cfg.virtqueue.ring_size, event_idx=cfg.virtqueue.event_idx
    )
    pool = BufferPool(cfg.bufpool.memory_mib, buffer_bytes)
    ring = RxRing(vq)
    notifier = Notifier(env, cfg.host, vq, irqfd)
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
        halt=halt,
    )
    # The host peers.
    net = Network(env, cfg.host, cfg.workload, backend, tso=tso)
    peers = build_peers(PeerContext(env, cfg, net, streams, counters, ticks))
    # The guest side, from the application down to the interrupt.
    app = GuestApp(
        env,
        cfg.guest,
        net,
        _peer(peers, "http", HttpPeer),
        _peer(peers, "redis", StorePeer),
        _peer(peers, "ping", EchoPeer),
        halt,
    )
    parts = DriverParts(
        env=env,
        guest=cfg.guest,
        driver=cfg.driver,
        ring=ring,
        pool=pool,
        stack=app,
        counters=counters,
        trace=trace,
        draws=Draws(streams["driver.race"]),
        payload_draws=Draws(streams["driver.payload"]),
        mrg=mrg,
        halt=halt,
        gap_threshold_s=cfg.detector.silence_s,
    )
    driver = spec.factory(parts)
    vcpus = VCpuSet(
        cfg.guest,
        cfg.host,
        streams,
        load=app,
        ticks=ticks,
        tick_interval_s=cfg.workload.ping_interval_s,
        initial_rate=cfg.workload.load_rps,  # the server starts at its offered load
    )
    runloop: Runloop
    if cfg.run.estimator == "split":
        runloop = SplitRunloop(
            vcpus,
            driver,
            env=env,
            ring=ring,
            pool=pool,
            counters=counters,
            trace=trace,
            seed=streams.seed_seq,
            replays=cfg.run.split_replays,
            follow_s=cfg.run.split_follow_s,
            horizon_s=cfg.run.horizon_s,
            silence_s=cfg.detector.silence_s,
        )
    else:
        runloop = Runloop(vcpus, driver)
    irq = IrqHandler(env, cfg.host, cfg.guest, ring, runloop, vcpus, 0, counters, trace, irqfd)
    detector = OutageDetector(
        env,
        silence_s=cfg.detector.silence_s,
        horizon_s=cfg.run.horizon_s,
        recovery_horizon_s=cfg.run.recovery_horizon_s,
        ping_interval_s=cfg.workload.ping_interval_s,
        driver=driver,
        ring=ring,
        counters=counters,
        ticks=ticks,
        on_blackout=trace.take_snapshot if trace.enabled else None,
    )
    if isinstance(runloop, SplitRunloop):
        runloop.detector = detector

    # The guest fills its RX ring before the device starts.
    for _ in range(vq.size):
        buf = pool.alloc(0.0)
        if buf is None:
            break
        ring.post(0.0, buf)
    ring.flush(0.0)
    vq.enable_cb()
    return Model(
        cfg=cfg,
        env=env,
        counters=counters,
        trace=trace,
        vq=vq,
        pool=pool,
        ring=ring,
        notifier=notifier,
        backend=backend,
        net=net,
        peers=peers,
        app=app,
        driver=driver,
        vcpus=vcpus,
        runloop=runloop,
        irq=irq,
        detector=detector,
        halt=halt,
        ticks=ticks,
        mrg=mrg,
        tso=tso,
    )
