"""Composition: named presets, checked inputs, the wiring of one run, the detector, ``simulate``."""

from vnetsim.scenario.build import Model, build
from vnetsim.scenario.inputs import check, load_scenario, scenario_from_dict
from vnetsim.scenario.presets import PRESETS, preset
from vnetsim.scenario.run import DERIVED, ModelError, check_invariants, result_of, simulate

__all__ = [
    "DERIVED",
    "PRESETS",
    "Model",
    "ModelError",
    "build",
    "check",
    "check_invariants",
    "load_scenario",
    "preset",
    "result_of",
    "scenario_from_dict",
    "simulate",
]
