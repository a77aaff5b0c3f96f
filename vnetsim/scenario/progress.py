"""A progress bar for one run: simulated time, frames per second, ETA (tqdm).

A daemon thread reads ``env.now`` and the frame counter a few times a second and updates the
bar; it adds no event to the simulation and touches no model state, so a run with progress
gives the same result as one without (the fingerprints hold either way). The bar's total is
the horizon plus the detector's settle time while the interface is healthy, then the onset
plus the recovery horizon once an outage began (the run follows the blackout that long).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, TextIO

from vnetsim.scenario.detector import State

if TYPE_CHECKING:
    from vnetsim.scenario.build import Model

INTERVAL_S = 0.25  # wall seconds between updates: smooth enough, costs nothing


class RunProgress:
    """Show ``m``'s progress on ``stream`` from a background thread until :meth:`close`."""

    def __init__(self, m: Model, stream: TextIO, label: str = "run") -> None:
        from tqdm import tqdm

        self.m = m
        self._stop = threading.Event()
        self.bar = tqdm(
            total=round(self._total(), 3),
            desc=label,
            unit="sim s",
            file=stream,
            dynamic_ncols=True,
            bar_format="{desc}: {n:.1f}/{total:.0f} sim s {bar} [{elapsed}<{remaining}{postfix}]",
        )
        self._thread = threading.Thread(target=self._loop, name="vnetsim-progress", daemon=True)
        self._thread.start()

    def _total(self) -> float:
        det = self.m.detector
        if det.state is not State.HEALTHY and det.onset is not None:
            return det.onset + det.recovery_horizon
        return det.settle

    def _update(self) -> None:
        now = float(self.m.env.now)
        elapsed = max(self.bar.format_dict["elapsed"], 1e-9)
        self.bar.total = round(max(self._total(), now), 3)
        self.bar.n = round(now, 3)
        frames = self.m.counters.frames_offered
        state = self.m.detector.state.name.lower()
        self.bar.set_postfix_str(f"{frames / elapsed:,.0f} frames/s, {state}", refresh=False)
        self.bar.refresh()

    def _loop(self) -> None:
        while not self._stop.wait(INTERVAL_S):
            self._update()

    def close(self) -> None:
        """Stop the thread and leave the bar at the run's final state."""
        self._stop.set()
        self._thread.join()
        self._update()
        self.bar.close()
