"""Fingerprints: exact-reproducibility checks in the spirit of OMNeT++ fingerprints.

A fingerprint is the SHA-256 of a run's result (every field but wall time, floats written
exactly) and of its event trace. ``CASES`` are a few fixed (scenario, design, seed) triples;
``tests/fingerprints.json`` holds their committed fingerprints. Any change to the model's
behaviour changes a fingerprint: update them deliberately, with the reason in the commit message::

    python -m vnetsim.fingerprint --write tests/fingerprints.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path
from typing import Any

from vnetsim.scenario import simulate
from vnetsim.scenario.presets import preset

# name -> (preset, overrides, seed)
CASES: dict[str, tuple[str, tuple[str, ...], int]] = {
    "old-8vcpu-stressed-outage": (
        "nanos-2099",
        (
            'driver.design="old"',
            "workload.http_connections=32",
            "run.horizon_s=10",
            "run.recovery_horizon_s=2",
            "run.trace_events=3000",
        ),
        1,
    ),
    "new-8vcpu-stressed": (
        "nanos-2099",
        (
            'driver.design="new"',
            "workload.http_connections=32",
            "run.horizon_s=2",
            "run.trace_events=3000",
        ),
        1,
    ),
    "old-1vcpu": (
        "nanos-2099",
        ('driver.design="old"', "guest.smp=1", "run.horizon_s=2", "run.trace_events=3000"),
        2,
    ),
    "nanos-0.1.48-16vcpu": (
        "nanos-2099",
        (
            'driver.design="nanos-0.1.48"',
            "guest.smp=16",
            "run.horizon_s=2",
            "run.trace_events=3000",
        ),
        3,
    ),
    "guarded-notf-coal": (
        "nanos-2099",
        (
            'driver.design="guarded"',
            "host.notf_coal_frames=8",
            "host.notf_coal_usecs=50",
            "workload.http_connections=16",
            "run.horizon_s=2",
            "run.trace_events=3000",
        ),
        4,
    ),
}


# The result fields a fingerprint hashes: every field the model computes as of the fingerprints'
# last regeneration. A field added to ``RunResult`` later is not here, so adding one leaves the
# fingerprints as they are; a change in what these fields hold is a change of behaviour.
PINNED_FIELDS: tuple[str, ...] = (
    "alloc_failures", "blackout_s", "buffers_allocated", "buffers_free", "buffers_in_flight",
    "buffers_in_ring", "buffers_leaked", "buffers_swallowed", "cause", "crash_reason",
    "d1_late_strip", "d2_stale_reads", "design", "duration_s", "event_observed",
    "frames_delivered", "frames_dropped", "frames_dropped_guest", "frames_dropped_tap",
    "frames_in_flight", "frames_offered", "frames_swallowed", "horizon_s", "http_requests_sent",
    "http_responses", "http_timeouts", "interrupts", "max_swallow_chain", "mechanism_onset_s",
    "misframed_buffers", "multi_buffer_frames", "orphaned_heads", "pings_answered", "pings_sent",
    "recovered", "runloop_passes", "scenario", "seed", "sim_time_s", "smp", "swallow_v",
    "swallows", "ticket_spins", "watchdog_resets",
)  # fmt: skip


def _exact(v: Any) -> Any:
    return float.hex(v) if isinstance(v, float) else v


def fingerprint(name: str) -> dict[str, str]:
    base, sets, seed = CASES[name]
    result = simulate(preset(base).with_overrides(list(sets)), seed=seed)
    d = result.to_dict()
    fields = {k: _exact(d[k]) for k in PINNED_FIELDS}
    trace = [[float.hex(t), cpu, ev, detail] for t, cpu, ev, detail in result.trace]
    return {
        "result_sha256": hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest(),
        "trace_sha256": hashlib.sha256(json.dumps(trace).encode()).hexdigest(),
        "trace_events": str(len(trace)),
        "cause": result.cause or "none",  # readable, so a fingerprint of nothing shows
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--write", type=Path, required=True, help="fingerprint file to (re)write")
    args = p.parse_args(argv)
    prints = {name: fingerprint(name) for name in CASES}
    args.write.write_text(json.dumps(prints, indent=1, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
