"""The registry of driver designs: name -> ``DesignSpec`` (what it negotiates, how to build it).

A design module calls ``register`` once per design at import; ``vnetsim.drivers`` imports every
design module, so the registry is complete once the package is imported. ``old`` and ``new``
are aliases of the Nanos releases just before and at the fix of nanovms/nanos#2099.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

# Imported at run time: compiled (mypyc), DesignSpec evaluates its annotations.
from vnetsim.drivers.base import DriverParts, RxDriver

ALIASES: dict[str, str] = {"old": "nanos-0.1.54", "new": "nanos-0.1.55"}


@dataclass(frozen=True, slots=True)
class DesignSpec:
    """One registered driver design."""

    name: str
    mechanism: str
    summary: str
    wants_mrg_rxbuf: bool
    wants_guest_tso: bool
    factory: Callable[[DriverParts], RxDriver]
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
