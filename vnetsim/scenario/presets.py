"""Named scenarios. Each is a set of changes to the defaults, with where its numbers come from.

``nanos-2099`` is the incident of nanovms/nanos#2099 as reported: Proxmox 7 (KVM, bridged
virtio NIC with vhost-net), a q35 VM with 8 cores and 4 GiB, a Go HTTP service receiving JSON
POSTs under 1 KiB and writing each to several Redis servers on the host, the old driver. The
defaults in ``vnetsim.config`` already describe it; calibrated values are documented in
``docs/calibration.md``.
"""

from __future__ import annotations

from typing import Any

from vnetsim.config import ConfigError, ScenarioConfig, suggest

PRESETS: dict[str, tuple[str, dict[str, Any]]] = {
    "nanos-2099": (
        "the reported incident: Proxmox-like host, 8 vCPUs, 5,000 req/s, old driver",
        {},
    ),
    "plain-host-ops-run": (
        "the reporter's control run: `ops run` without a CPU option (1 vCPU), idle host",
        {"guest": {"smp": 1}, "host": {"preempt_rate_per_s": 0.2, "vhost_wakeup_us": 10.0}},
    ),
    "overcommitted-16": (
        "16 vCPUs on a busier host (more and longer preemption)",
        {"guest": {"smp": 16}, "host": {"preempt_rate_per_s": 10.0, "preempt_mean_ms": 5.0}},
    ),
    "small-memory": (
        "the absorbing variant: an RX objcache too small to hold a swallow chain",
        {"bufpool": {"memory_mib": 1.0}},
    ),
}


def preset(name: str) -> ScenarioConfig:
    """The named scenario (``ConfigError`` naming the allowed names otherwise)."""
    if name not in PRESETS:
        raise ConfigError(
            f"scenario: unknown preset {name!r}{suggest(name, list(PRESETS))}; "
            f"allowed: {sorted(PRESETS)}"
        )
    d = ScenarioConfig().to_dict()
    d["name"] = name
    for sec, changes in PRESETS[name][1].items():
        d[sec].update(changes)
    return ScenarioConfig.from_dict(d, source=f"preset {name}")
