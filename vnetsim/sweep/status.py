"""How far a sweep is: per point, the runs done, failed and missing; and what is left to run.

``vnetsim status DIR`` and ``vnetsim sweep FILE --dry-run`` print these tables; ``analyze``
uses :func:`missing_runs` to warn about an incomplete sweep. The sweep is rebuilt from the
sweep file its manifest records, so a status never depends on the file still existing.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from vnetsim.config import ConfigError, shown
from vnetsim.sweep.spec import SweepSpec
from vnetsim.sweep.store import LoadedSweep, SweepStore

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "PointStatus",
    "early_stops",
    "missing_runs",
    "point_status",
    "spec_from_manifest",
    "spec_of",
    "states_of",
    "stored_runs",
    "stored_states",
]


@dataclass(frozen=True)
class PointStatus:
    """One point of a sweep: its axis values and how many of its replicates are where."""

    point: dict[str, object]
    done: int
    errors: int
    missing: int
    stopped_at: int | None = None  # an early-stop rule ended the point after this many


def early_stops(manifest: Mapping[str, object]) -> dict[str, int]:
    """Point key → replicates after which the last sweep's early-stop rule ended that point
    (the manifest's ``early_stop.stopped``; empty for a sweep with a fixed replicate count)."""
    record = manifest.get("early_stop")
    stopped = record.get("stopped") if isinstance(record, dict) else None
    return {str(k): int(v) for k, v in stopped.items()} if isinstance(stopped, dict) else {}


def spec_of(sweep: LoadedSweep) -> SweepSpec:
    """The sweep's spec, from the sweep file recorded in its manifest."""
    return spec_from_manifest(sweep.manifest, sweep.path)


def spec_from_manifest(manifest: dict[str, object], path: Path) -> SweepSpec:
    """The spec of the sweep whose manifest (in directory ``path``) is ``manifest``."""
    text = manifest.get("sweep_file")
    where = shown(Path(path) / "manifest.json")
    if not isinstance(text, str):
        raise ConfigError(f"{where}: no sweep_file recorded")
    # a spec built in Python (SweepSpec.from_dict) records its dict as JSON
    data = json.loads(text) if text.lstrip().startswith("{") else tomllib.loads(text)
    # a sweep file without ``name`` took its file's stem: the manifest recorded it
    name = manifest.get("name")
    default = name if isinstance(name, str) else None
    return SweepSpec.from_dict(data, source=where, text=text, root=path, default_name=default)


def states_of(runs: pd.DataFrame) -> dict[str, bool]:
    """``run_id`` → whether the row is an error, from a run table."""
    if runs.empty:
        return {}
    failed = runs["error"].fillna("").astype(str).str.strip() != ""
    return dict(zip(runs["run_id"].astype(str), failed, strict=True))


def point_status(
    spec: SweepSpec, states: Mapping[str, bool], stopped: Mapping[str, int] | None = None
) -> list[PointStatus]:
    """Per point of ``spec`` (in its order): replicates done, stored as errors, and missing.

    ``states`` maps each stored ``run_id`` to whether its row is an error
    (:meth:`SweepStore.states`, or :func:`states_of` a run table). ``stopped``
    (:func:`early_stops`): points an early-stop rule ended count missing only below where it
    ended them; other points count against ``spec.replicates``, the most a point can get.
    """
    stopped = stopped or {}
    out = []
    for point in spec.points():
        key = spec.point_key(point)
        n_done = n_err = 0
        for r in range(spec.replicates):
            failed = states.get(f"{key}-r{r:05d}")
            if failed is None:
                continue
            n_err += failed
            n_done += not failed
        end = stopped.get(key)
        want = spec.replicates if end is None else min(end, spec.replicates)
        out.append(PointStatus(point, n_done, n_err, max(0, want - n_done - n_err), end))
    return out


def missing_runs(sweep: LoadedSweep) -> int:
    """How many of the sweep's runs are not stored yet (errors count as stored)."""
    stopped = early_stops(sweep.manifest)
    return sum(p.missing for p in point_status(spec_of(sweep), states_of(sweep.runs), stopped))


def stored_states(out: str | Path) -> dict[str, bool]:
    """What ``out`` holds so far, as :meth:`SweepStore.states` (empty when nothing ran)."""
    store = SweepStore(out)
    return store.states() if store.read_manifest() is not None else {}


def stored_runs(out: str | Path) -> pd.DataFrame:
    """What ``out`` holds so far (empty when nothing was run there)."""
    store = SweepStore(out)
    if store.read_manifest() is not None:
        return store.load()
    import pandas as pd

    return pd.DataFrame()
