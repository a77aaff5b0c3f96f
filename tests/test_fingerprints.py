"""Committed fingerprints of fixed runs: any change in the model's behaviour shows up here.

If a change is meant to alter behaviour, regenerate with
``python -m vnetsim.fingerprint --write tests/fingerprints.json`` and say why in the commit.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vnetsim.fingerprint import CASES, fingerprint

COMMITTED = json.loads((Path(__file__).parent / "fingerprints.json").read_text())


def test_every_case_has_a_committed_fingerprint() -> None:
    assert set(COMMITTED) == set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_fingerprint_unchanged(name: str) -> None:
    assert fingerprint(name) == COMMITTED[name], (
        f"{name}: the model's behaviour changed; if intended, regenerate the fingerprints "
        "and give the reason in the commit message"
    )


def test_the_cases_exercise_the_race_and_its_absence() -> None:
    # Guards against fingerprints of runs that exercise nothing.
    assert COMMITTED["old-8vcpu-stressed-outage"]["cause"] == "swallow"
    assert all(COMMITTED[n]["cause"] == "none" for n in CASES if n != "old-8vcpu-stressed-outage")
    assert all(int(c["trace_events"]) > 1000 for c in COMMITTED.values())
