"""Driver designs: the ``RxDriver`` contract, per-release records, and the registry.

Importing this package registers every design (``ticketed``: Nanos 0.1.49-0.1.55;
``single_buffer``: 0.1.48; the what-ifs ``guarded`` and ``watchdog``). A new design is one module
that registers a ``DesignSpec`` plus its import here (``docs/extending.md``).
"""

from vnetsim.drivers import guarded, single_buffer, ticketed, watchdog
from vnetsim.drivers.base import DriverParts, RxDriver, Stack
from vnetsim.drivers.registry import (
    ALIASES,
    DESIGNS,
    DesignSpec,
    get_design,
    register,
    resolve_design,
)

__all__ = [
    "ALIASES",
    "DESIGNS",
    "DesignSpec",
    "DriverParts",
    "RxDriver",
    "Stack",
    "get_design",
    "guarded",
    "register",
    "resolve_design",
    "single_buffer",
    "ticketed",
    "watchdog",
]
