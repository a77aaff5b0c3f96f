"""How far a sweep is: per point, the runs done, failed and missing; and what is left to run.

``vnetsim status DIR`` and ``vnetsim sweep FILE --dry-run`` print these tables; ``analyze``
uses :func:`missing_runs` to warn about an incomplete sweep. The sweep is rebuilt from the
sweep file its manifest records, so a status never depends on the file still existing.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from vnetsim.config import ConfigError
from vnetsim.sweep.spec import SweepSpec
from vnetsim.sweep.store import LoadedSweep, SweepStore

__all__ = ["PointStatus", "missing_runs", "point_status", "spec_of"]


@dataclass(frozen=True)
class PointStatus:
    """One point of a sweep: its axis values and how many of its replicates are where."""

    point: dict[str, object]
    done: int
    errors: int
    missing: int


def spec_of(sweep: LoadedSweep) -> SweepSpec:
    """The sweep's spec, from the sweep file recorded in its manifest."""
    text = sweep.manifest.get("sweep_file")
    if not isinstance(text, str):
        raise ConfigError(f"{sweep.path}/manifest.json: no sweep_file recorded")
    return SweepSpec.from_dict(
        tomllib.loads(text), source=f"{sweep.path}/manifest.json", text=text, root=sweep.path
    )


def point_status(spec: SweepSpec, runs: pd.DataFrame) -> list[PointStatus]:
    """Per point of ``spec`` (in its order): replicates done, stored as errors, and missing.

    Early-stopped sweeps (``--min-events``) count missing against ``spec.replicates``, the
    most a point can get.
    """
    errors: set[str] = set()
    done: set[str] = set()
    if not runs.empty:
        failed = runs["error"].fillna("").astype(str).str.strip() != ""
        errors = set(runs.loc[failed, "run_id"])
        done = set(runs.loc[~failed, "run_id"])
    out = []
    for point in spec.points():
        ids = {spec.run_id(point, r) for r in range(spec.replicates)}
        n_done, n_err = len(ids & done), len(ids & errors)
        out.append(PointStatus(point, n_done, n_err, len(ids) - n_done - n_err))
    return out


def missing_runs(sweep: LoadedSweep) -> int:
    """How many of the sweep's runs are not stored yet (errors count as stored)."""
    return sum(p.missing for p in point_status(spec_of(sweep), sweep.runs))


def stored_runs(out: str | Path) -> pd.DataFrame:
    """What ``out`` holds so far (empty when nothing was run there)."""
    store = SweepStore(out)
    return store.load() if store.read_manifest() is not None else pd.DataFrame()
