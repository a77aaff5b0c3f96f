"""vnetsim: a mechanistic SimPy model of virtio-net RX paths and the time until they go silent.

Quick start::

    >>> import vnetsim
    >>> cfg = vnetsim.preset("nanos-2099").replace(run={"horizon_s": 0.2})
    >>> result = vnetsim.simulate(cfg, seed=1)
    >>> result.frames_delivered > 0
    True
"""

from vnetsim.config import ConfigError, ScenarioConfig
from vnetsim.drivers import DESIGNS, get_design
from vnetsim.records import RunResult
from vnetsim.scenario import PRESETS, ModelError, build, load_scenario, preset, simulate
from vnetsim.version import __version__

__all__ = [
    "DESIGNS",
    "PRESETS",
    "ConfigError",
    "ModelError",
    "RunResult",
    "ScenarioConfig",
    "__version__",
    "build",
    "get_design",
    "load_scenario",
    "preset",
    "simulate",
]
