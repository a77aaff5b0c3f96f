"""What a sweep is: the validated declaration, its points, tasks, seeds and run ids.

A sweep file (TOML) names a base scenario, fixed overrides, axes, replicates, a horizon and a
root seed::

    name = "nanos-2099-quick"
    base = "nanos-2099"            # a preset, or a scenario file relative to this file
    replicates = 4
    root_seed = 2099
    horizon_s = 120
    [set]                          # applied to every point
    workload.http_connections = 32 # or "workload.http_connections", or [set.workload]
    [axes]                         # cartesian product; short names or any section.field
    design = ["nanos-0.1.48", "old", "new"]
    smp = [1, 4, 8, 16]

Seeds. Every (point, replicate) gets ``SeedSequence(root_seed, spawn_key=(replicate, k))``
where ``k`` is a hash of the point's axis values *without the design and the compiler*
(``PAIRED_FIELDS``): it does not depend on worker count, order or on which other points
exist, and every design and compiler sees the same workload randomness at the same replicate
(common random numbers, paired comparisons). Raising
``replicates`` later only adds runs.

A point's scenario is the base with the typed values of ``[set]``, the point, the horizon and
the name laid on it (``ScenarioConfig.with_fields``), validated like a ``--set`` on the command
line, and every point is checked when the sweep is loaded, before anything runs. Every key
is described in docs/sweep-files.md.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Container, Iterator
from itertools import product
from pathlib import Path
from typing import Any

import numpy as np

from vnetsim.config import ConfigError, ScenarioConfig, read_toml, shown, suggest
from vnetsim.drivers.registry import resolve_design
from vnetsim.scenario import check, load_scenario, preset

AXIS_ALIASES: dict[str, str] = {
    "smp": "guest.smp",
    "load_rps": "workload.load_rps",
    "design": "driver.design",
    "compiler": "driver.compiler",
}
# Axes that pick the driver build rather than the workload: points that differ only in these
# share their seeds, so designs and compilers are compared on common random numbers.
PAIRED_FIELDS: frozenset[str] = frozenset({"driver.design", "driver.compiler"})
# A million runs per point is past any study here; the bound stops a typo (10**9) from
# building a task list of hundreds of GB before the first run.
MAX_REPLICATES = 1_000_000
# Runs store their seed in a 64-bit signed Parquet column.
MAX_ROOT_SEED = 2**63 - 1


def _flat(table: dict[str, Any], source: str, prefix: str = "") -> dict[str, Any]:
    """``{"host": {"mrg_rxbuf": False}}`` as ``{"host.mrg_rxbuf": False}`` (lists stay);
    ``ConfigError`` when two spellings (``host.mrg_rxbuf`` and ``"host.mrg_rxbuf"``) meet."""
    out: dict[str, Any] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        # An empty table stays a value: it names no field, and the field check refuses it.
        nested = isinstance(value, dict) and value
        parts = _flat(value, source, f"{name}.") if nested else {name: value}
        for path, v in parts.items():
            if path in out:
                raise ConfigError(
                    f"{source}: {shown(path)} is given twice (two TOML spellings){SEE_DOC}"
                )
            out[path] = v
    return out


def _int_in(value: object, lo: int, hi: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and lo <= value <= hi


# Every sweep-file error ends by pointing at the format's description.
SEE_DOC = " (every key: docs/sweep-files.md)"
TOP_KEYS: tuple[str, ...] = ("name", "base", "replicates", "root_seed", "horizon_s", "set", "axes")
SCHEMA_VERSION = 1
# Set by the top-level keys of a sweep file only (a [set] or an axis naming them is refused).
_RESERVED = {"run.horizon_s": "horizon_s", "name": "name"}
# How a point's scenario is validated; its errors read like those of ``--set`` on the CLI.
_SOURCE = "--set"


def field_path(axis: str) -> str:
    """The ``section.field`` an axis or ``[set]`` key names (short aliases resolved)."""
    return AXIS_ALIASES.get(axis, axis)


def point_key_of(run_id: str) -> str:
    """The point key in a run id (``SweepSpec.run_id`` is ``{point_key}-r{replicate}``)."""
    return run_id.rsplit("-r", 1)[0]


@dataclasses.dataclass(frozen=True)
class Task:
    """One (point, replicate) of a sweep."""

    run_id: str
    point: dict[str, Any]
    replicate: int


@dataclasses.dataclass(frozen=True)
class SweepSpec:
    """A validated sweep declaration."""

    name: str
    base: ScenarioConfig
    fixed: tuple[tuple[str, Any], ...]
    axes: tuple[tuple[str, tuple[Any, ...]], ...]
    replicates: int
    root_seed: int
    horizon_s: float
    text: str = ""

    # -- loading ----------------------------------------------------------------------
    @classmethod
    def from_toml(cls, path: str | Path) -> SweepSpec:
        path = Path(path)
        data, text = read_toml(path)
        # messages show the path on one line (quoted if it holds a line break); the name
        # a sweep without ``name`` gets is the file's stem as it is
        return cls.from_dict(
            data, source=shown(path), text=text, root=path.parent, default_name=path.stem
        )

    @classmethod
    def from_dict(
        cls,
        data: dict[str, Any],
        *,
        source: str = "sweep",
        text: str = "",
        root: Path | None = None,
        default_name: str | None = None,
    ) -> SweepSpec:
        """The spec of a sweep file's table ``data``; ``ConfigError`` naming ``source`` and
        the key. ``name`` defaults to ``default_name``, else to the stem of ``source``."""
        for key in data:
            if key not in TOP_KEYS:
                raise ConfigError(
                    f"{source}: unknown key {key!r}{suggest(key, list(TOP_KEYS))}{SEE_DOC}"
                )
        if not text:  # built in Python: record the dict (JSON: never valid TOML, so unambiguous)
            text = json.dumps(data, sort_keys=True, default=str)
        name = data.get("name", Path(source).stem if default_name is None else default_name)
        base_name = data.get("base", "nanos-2099")
        if not isinstance(base_name, str):
            raise ConfigError(
                f"{source}: base must be a preset name or a scenario file, got {base_name!r}"
                f"{SEE_DOC}"
            )
        base_file = (root or Path(".")) / base_name
        try:
            base = load_scenario(base_file) if base_name.endswith(".toml") else preset(base_name)
        except ConfigError as err:
            raise ConfigError(f"{source}: base: {err}{SEE_DOC}") from None
        replicates = data.get("replicates", 1)
        if not _int_in(replicates, 1, MAX_REPLICATES):
            raise ConfigError(
                f"{source}: replicates must be an integer in [1, {MAX_REPLICATES}], "
                f"got {replicates!r}{SEE_DOC}"
            )
        root_seed = data.get("root_seed", 0)
        if not _int_in(root_seed, 0, MAX_ROOT_SEED):
            raise ConfigError(
                f"{source}: root_seed must be an integer in [0, 2**63 - 1], got "
                f"{root_seed!r}{SEE_DOC}"
            )
        horizon = data.get("horizon_s", base.run.horizon_s)
        if (
            isinstance(horizon, bool)
            or not isinstance(horizon, int | float)
            or not 0 < horizon <= 1e7
            or horizon != horizon
        ):
            raise ConfigError(
                f"{source}: horizon_s must be a number in (0, 1e7], got {horizon!r}{SEE_DOC}"
            )
        if not isinstance(name, str) or not name or '"' in name or "\\" in name:
            raise ConfigError(
                f"{source}: name must be a non-empty string without quotes or "
                f"backslashes, got {name!r}{SEE_DOC}"
            )
        fixed = data.get("set", {})
        axes = data.get("axes", {})
        if not isinstance(fixed, dict) or not isinstance(axes, dict):
            raise ConfigError(f"{source}: [set] and [axes] must be tables{SEE_DOC}")
        # Ordinary TOML nesting ([set.host], or host.mrg_rxbuf = false unquoted) and the
        # quoted "host.mrg_rxbuf" form name the same field.
        fixed, axes = _flat(fixed, source), _flat(axes, source)
        seen: dict[str, str] = {}
        for key in [*fixed, *axes]:
            path = field_path(key)
            if path in _RESERVED:
                raise ConfigError(
                    f"{source}: {key} cannot be set or swept here; use the "
                    f"top-level key {_RESERVED[path]!r}{SEE_DOC}"
                )
            if path in seen:
                raise ConfigError(
                    f"{source}: {shown(key)} and {shown(seen[path])} name the same field "
                    f"{shown(path)}{SEE_DOC}"
                )
            seen[path] = key
        for axis, values in axes.items():
            if not isinstance(values, list) or not values:
                raise ConfigError(
                    f"{source}: axes.{shown(axis)} must be a non-empty list, got {values!r}"
                    f"{SEE_DOC}"
                )
            if len(set(map(repr, values))) != len(values):
                raise ConfigError(
                    f"{source}: axes.{shown(axis)} has repeated values {values!r}{SEE_DOC}"
                )
        spec = cls(
            name=str(name),
            base=base,
            fixed=tuple((field_path(k), v) for k, v in fixed.items()),
            axes=tuple((k, tuple(v)) for k, v in axes.items()),
            replicates=replicates,
            root_seed=root_seed,
            horizon_s=float(horizon),
            text=text,
        )
        resolved: dict[str, dict[str, Any]] = {}
        for point in spec.points():  # validate every point's scenario before anything runs
            try:
                cfg = spec.config_for(point).to_dict()
            except ConfigError as err:
                raise ConfigError(f"{source}: point {point}: {err}") from None
            # Two axis values that differ only in type or alias (2 and 2.0, "old" and
            # "nanos-0.1.54") give the same scenario: the sweep would run it twice.
            cfg["driver"]["design"] = resolve_design(cfg["driver"]["design"])
            key = repr(sorted((k, repr(v)) for k, v in cfg.items() if k != "name"))
            if key in resolved:
                raise ConfigError(
                    f"{source}: points {resolved[key]} and {point} are the same scenario "
                    "(axis values that differ only by type or design alias); list each once"
                    f"{SEE_DOC}"
                )
            resolved[key] = point
        return spec

    # -- points, seeds, configs ---------------------------------------------------------
    def points(self) -> list[dict[str, Any]]:
        names = self.axis_names
        return [
            dict(zip(names, combo, strict=True)) for combo in product(*(v for _, v in self.axes))
        ]

    def overrides_for(self, point: dict[str, Any]) -> dict[str, Any]:
        """The typed values a point lays on the base: ``[set]``, the point, horizon, name."""
        values: dict[str, Any] = dict(self.fixed)
        values.update((field_path(k), v) for k, v in point.items())
        values["run.horizon_s"] = self.horizon_s
        values["name"] = self.name
        return values

    def config_for(self, point: dict[str, Any]) -> ScenarioConfig:
        """The point's validated scenario (``ConfigError`` naming the field if it has none)."""
        cfg = self.base.with_fields(self.overrides_for(point), source=_SOURCE)
        return check(cfg, source=_SOURCE)

    def workload_key(self, point: dict[str, Any]) -> int:
        """Hash of the point without its driver build: equal for the designs and compilers
        compared at one point."""
        shared = {k: v for k, v in point.items() if field_path(k) not in PAIRED_FIELDS}
        blob = json.dumps(shared, sort_keys=True, default=str).encode()
        return int.from_bytes(hashlib.sha256(blob).digest()[:8], "little")

    def seed_for(self, point: dict[str, Any], replicate: int) -> np.random.SeedSequence:
        return np.random.SeedSequence(
            self.root_seed, spawn_key=(replicate, self.workload_key(point))
        )

    def point_key(self, point: dict[str, Any]) -> str:
        blob = json.dumps(point, sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:12]

    def run_id(self, point: dict[str, Any], replicate: int) -> str:
        return f"{self.point_key(point)}-r{replicate:05d}"

    def identity(self) -> str:
        """Hash of everything that decides a run's result (not the replicate count)."""
        d = {
            "name": self.name,
            "base": self.base.to_dict(),
            "fixed": self.fixed,
            "axes": self.axes,
            "root_seed": self.root_seed,
            "horizon_s": self.horizon_s,
            "schema": SCHEMA_VERSION,
        }
        return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()

    def tasks(
        self, replicates: range | None = None, *, skip: Container[str] = ()
    ) -> Iterator[Task]:
        """Every (point, replicate) whose run id is not in ``skip``, in replicate order:
        every point's replicate 0, then every point's replicate 1, ... (a sweep stopped
        part-way is balanced across points and designs). A generator: nothing is built
        for the runs not yet reached."""
        reps = replicates if replicates is not None else range(self.replicates)
        keyed = [(self.point_key(p), p) for p in self.points()]  # one hash per point
        for rep in reps:
            for key, point in keyed:
                run_id = f"{key}-r{rep:05d}"
                if run_id not in skip:
                    yield Task(run_id, point, rep)

    @property
    def axis_names(self) -> list[str]:
        return [a for a, _ in self.axes]
