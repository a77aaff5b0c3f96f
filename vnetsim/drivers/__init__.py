"""Driver designs: a registry named by version and mechanism.

A design is a ``DesignSpec``: a name, the mechanism it implements, what it negotiates, and a
factory that builds the driver object for one RX queue. Designs register themselves with
``register``; adding one touches no other. ``old`` and ``new`` are aliases of the Nanos releases
just before and at the fix of nanovms/nanos#2099.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from vnetsim.frames import Frame
    from vnetsim.vcpu import VCpu

ALIASES: dict[str, str] = {"old": "nanos-0.1.54", "new": "nanos-0.1.55"}


class RxDriver(Protocol):
    """What the runloop needs from a driver: process one used buffer on one vCPU."""

    halted: bool

    def process(self, cpu: VCpu, t: float, buf: int, frame: Frame, pos: int) -> float:
        """Run ``vnet_input`` for one buffer dequeued at ``t``; return when the vCPU is free."""
        ...


@dataclass(frozen=True, slots=True)
class DesignSpec:
    """One registered driver design."""

    name: str
    mechanism: str
    summary: str
    wants_mrg_rxbuf: bool
    wants_guest_tso: bool
    factory: Callable[..., Any]
    big_buffers_without_mrg: bool = True  # 65,528-byte buffers with TSO, no MRG (0.1.50+)


DESIGNS: dict[str, DesignSpec] = {}


def register(spec: DesignSpec) -> DesignSpec:
    if spec.name in DESIGNS or spec.name in ALIASES:
        raise ValueError(f"design {spec.name!r} is already registered")
    DESIGNS[spec.name] = spec
    return spec


def resolve_design(name: str) -> str:
    return ALIASES.get(name, name)


def get_design(name: str) -> DesignSpec:
    key = resolve_design(name)
    if key not in DESIGNS:
        raise KeyError(f"unknown design {name!r}; known: {sorted(DESIGNS)} and {sorted(ALIASES)}")
    return DESIGNS[key]


# Registration happens on import of the design modules.
from vnetsim.drivers import guarded, single_buffer, ticketed, watchdog  # noqa: E402

__all__ = [
    "ALIASES",
    "DESIGNS",
    "DesignSpec",
    "RxDriver",
    "get_design",
    "guarded",
    "register",
    "resolve_design",
    "single_buffer",
    "ticketed",
    "watchdog",
]
