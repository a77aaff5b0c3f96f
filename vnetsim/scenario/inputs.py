"""From what a user writes to a checked ``ScenarioConfig``: scenario files, presets, design names.

``vnetsim.config`` is the schema alone; what needs the rest of vnetsim lives here: whether
``driver.design`` names a registered design (or an alias), and what ``base = "preset"`` in a
scenario file means. Every entry point (``simulate``, the CLI, sweeps) goes through ``check``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vnetsim.config import ConfigError, ScenarioConfig, deep_merge, read_toml, shown, suggest
from vnetsim.drivers import ALIASES, DESIGNS, resolve_design
from vnetsim.scenario.presets import preset


def check(cfg: ScenarioConfig, *, source: str = "") -> ScenarioConfig:
    """``cfg`` if its design is registered; ``ConfigError`` naming the allowed designs if not."""
    design = cfg.driver.design
    if resolve_design(design) not in DESIGNS:
        names = sorted(DESIGNS)
        prefix = f"{source}: " if source else ""
        raise ConfigError(
            f"{prefix}driver.design: unknown design {design!r}"
            f"{suggest(design, [*names, *ALIASES])}; allowed: {names} or aliases old/new"
        )
    return cfg


def scenario_from_dict(data: dict[str, Any], *, source: str = "scenario") -> ScenarioConfig:
    """``ScenarioConfig.from_dict`` plus the design check."""
    return check(ScenarioConfig.from_dict(data, source=source), source=source)


def load_scenario(path: str | Path) -> ScenarioConfig:
    """A scenario file; a ``base = "preset"`` key starts from a named preset."""
    path = Path(path)
    data, _ = read_toml(path)
    where = shown(path)  # one line in every message, whatever the path holds
    base = data.pop("base", None)
    if base is None:
        return scenario_from_dict(data, source=where)
    if not isinstance(base, str):
        raise ConfigError(f"{where}: base must be the name of a preset, got {base!r}")
    try:
        merged = deep_merge(preset(base).to_dict(), data)
    except ConfigError as err:
        raise ConfigError(f"{where}: {err}") from None
    return scenario_from_dict(merged, source=where)
