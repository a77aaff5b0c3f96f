"""Random streams: every draw in a run flows from one ``numpy.random.SeedSequence``.

A run's seed material is spawned into named child streams in the fixed, append-only order of
``STREAMS``. Adding a stream at the end never shifts the draws of existing ones, and the workload
streams do not depend on the driver design, so two designs run with the same seed see the same
offered traffic (common random numbers). Per-vCPU streams are spawned for ``MAX_VCPUS`` vCPUs
whatever ``guest.smp`` is, so vCPU 3 draws the same numbers on an 8- and a 16-vCPU run.

Draws are made in numpy blocks and handed out one by one from Python lists: one numpy scalar draw
per event costs more than the event itself (measured in ``shared/perf-levers``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, Protocol

import numpy as np

STREAMS: Final = (
    "workload.arrivals",
    "workload.http",
    "workload.redis",
    "workload.lan",
    "host.vhost",
    "host.preempt",
    "guest.runloop",
    "guest.app",
    "driver.race",
    "driver.payload",
)
MAX_VCPUS: Final = 64
PER_VCPU: Final = ("host.preempt", "guest.runloop")


def seed_sequence(seed: int | np.random.SeedSequence) -> np.random.SeedSequence:
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed: expected a non-negative integer, got {seed!r}")
    return np.random.SeedSequence(int(seed))


class Streams:
    """Named generators of one run; ``per_vcpu(name, i)`` for vCPU-local streams."""

    def __init__(self, seed: int | np.random.SeedSequence) -> None:
        self.seed_seq = seed_sequence(seed)
        children = self.seed_seq.spawn(len(STREAMS))
        self._seqs = dict(zip(STREAMS, children, strict=True))
        self._gens: dict[str, np.random.Generator] = {}
        self._vcpu: dict[str, list[np.random.SeedSequence]] = {}

    def __getitem__(self, name: str) -> np.random.Generator:
        if name not in self._gens:
            self._gens[name] = np.random.default_rng(self._seqs[name])
        return self._gens[name]

    def per_vcpu(self, name: str, index: int) -> np.random.Generator:
        if name not in PER_VCPU:
            raise KeyError(f"{name} is not a per-vCPU stream")
        if name not in self._vcpu:
            self._vcpu[name] = self._seqs[name].spawn(MAX_VCPUS)
        return np.random.default_rng(self._vcpu[name][index])


class Variates(Protocol):
    """What a component draws from: ``Draws``, or scripted values in the tests.

    Components take this contract, not ``Draws``: the compiled build (mypyc) checks a concrete
    class annotation at run time and would refuse a fake.
    """

    def exp(self) -> float: ...

    def uniform(self) -> float: ...


DrawsState = tuple[list[float], list[float], Mapping[str, Any]]


class SavedVariates(Variates, Protocol):
    """``Variates`` whose state can be saved and loaded (the split estimator replays from it)."""

    def save_state(self) -> DrawsState: ...

    def load_state(self, state: DrawsState) -> None: ...


class Draws:
    """Block-buffered standard draws from one generator: exponential(1) and uniform[0, 1)."""

    __slots__ = ("_block", "_exp", "_rng", "_uni")

    def __init__(self, rng: np.random.Generator, block: int = 2048) -> None:
        self._rng = rng
        self._block = block
        self._exp: list[float] = []
        self._uni: list[float] = []

    def exp(self) -> float:
        """One Exp(1) variate; scale by the mean."""
        if not self._exp:
            self._exp = self._rng.standard_exponential(self._block).tolist()
        return self._exp.pop()

    def uniform(self) -> float:
        """One U[0, 1) variate."""
        if not self._uni:
            self._uni = self._rng.random(self._block).tolist()
        return self._uni.pop()

    def save_state(self) -> DrawsState:
        """Everything that decides the next draws (for the split estimator's replays)."""
        return list(self._exp), list(self._uni), self._rng.bit_generator.state

    def load_state(self, state: DrawsState) -> None:
        self._exp, self._uni = list(state[0]), list(state[1])
        self._rng.bit_generator.state = state[2]
