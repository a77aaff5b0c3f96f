"""Parameter sweeps: many runs of ``simulate``, seeded, resumable, on local processes or Dask.

- ``spec``: ``SweepSpec`` (a sweep file, validated point by point), ``Task``, seeds, run ids;
- ``store``: ``SweepStore`` (manifest, the run database of :mod:`.rowdb`, the Parquet export),
  ``LoadedSweep`` / ``load_sweep`` (what analysis and figures take), ``load_runs``;
- ``backends``: local forked processes with a per-run timeout, or a Dask cluster;
- ``runner``: ``run_task`` (one run's row), the early-stop rule, ``run_sweep``.

This layer sits on ``vnetsim.scenario``; a worker imports the model only when it runs a task.
"""

from vnetsim.sweep.runner import SweepWarning, run_sweep, run_task
from vnetsim.sweep.spec import AXIS_ALIASES, SweepSpec, Task
from vnetsim.sweep.store import LoadedSweep, StorageError, SweepStore, load_runs, load_sweep

__all__ = [
    "AXIS_ALIASES",
    "LoadedSweep",
    "StorageError",
    "SweepSpec",
    "SweepStore",
    "SweepWarning",
    "Task",
    "load_runs",
    "load_sweep",
    "run_sweep",
    "run_task",
]
