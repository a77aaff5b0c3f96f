"""Progress of one run (``vnetsim run`` and ``demo``): a bar on a terminal, nothing when
piped, and the same result either way."""

from __future__ import annotations

import io

import pytest

from vnetsim.cli import main
from vnetsim.scenario import simulate
from vnetsim.scenario.presets import preset

SHORT = ["--horizon", "1", "--smp", "2", "--set", "workload.http_connections=32"]
SHORT += ["--set", "run.recovery_horizon_s=1"]


def short_cfg():
    return preset("nanos-2099").with_overrides(
        ["run.horizon_s=1", "workload.http_connections=32", "run.recovery_horizon_s=1"]
    )


def without_wall(d: dict) -> dict:
    return {k: v for k, v in d.items() if k != "wall_time_s"}


def test_a_run_with_progress_gives_the_same_result_and_ends_the_bar_at_its_end() -> None:
    stream = io.StringIO()
    shown = simulate(short_cfg(), seed=3, progress=stream)
    quiet = simulate(short_cfg(), seed=3)
    assert without_wall(shown.to_dict(with_trace=True)) == without_wall(
        quiet.to_dict(with_trace=True)
    )
    last = stream.getvalue().rsplit("\r", 1)[-1]
    # the final update: the run's simulated end, of a total at least that long
    assert f"{shown.sim_time_s:.1f}/" in last
    assert "sim s" in last
    assert "frames/s" in last


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_run_shows_the_bar_on_a_terminal_and_nothing_when_piped(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", *SHORT]) == 0
    assert capsys.readouterr().err == ""  # pytest's capture is not a terminal: no bar
    tty = Terminal()
    monkeypatch.setattr("sys.stderr", tty)
    assert main(["run", *SHORT]) == 0
    assert "sim s" in tty.getvalue()
    tty2 = Terminal()
    monkeypatch.setattr("sys.stderr", tty2)
    assert main(["run", *SHORT, "--no-progress"]) == 0
    assert tty2.getvalue() == ""


def _fast_task(cfg: dict, root_seed: int, spawn_key: tuple, meta: dict) -> dict:
    """A run's row without its simulation (forked children inherit the replacement)."""
    return {
        **meta,
        "seed_entropy": root_seed,
        "spawn_key": ",".join(map(str, spawn_key)),
        "error": "",
        "estimator": "plain",
        "event_observed": False,
        "duration_s": 1.0,
        "horizon_s": 1.0,
        "sim_time_s": 1.0,
        "wall_time_s": 0.01,
    }


def test_sweep_shows_its_bar_on_a_terminal_and_nothing_when_piped(
    tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import vnetsim.sweep.runner as runner_mod

    monkeypatch.setattr(runner_mod, "run_task", _fast_task)
    spec = tmp_path / "s.toml"
    spec.write_text('name = "p"\nreplicates = 1\nhorizon_s = 1\n[axes]\nsmp = [1, 2]\n')

    def sweep(out: str, *more: str) -> list[str]:
        return ["sweep", str(spec), "--out", str(tmp_path / out), "--workers", "1", *more]

    assert main(sweep("piped")) == 0
    captured = capsys.readouterr()
    assert captured.err == ""  # not a terminal: no bar
    assert "p: 2 runs" in captured.out
    tty = Terminal()
    monkeypatch.setattr("sys.stderr", tty)
    assert main(sweep("tty")) == 0
    assert "2/2" in tty.getvalue()  # the bar, at its end
    tty2 = Terminal()
    monkeypatch.setattr("sys.stderr", tty2)
    assert main(sweep("quiet", "--no-progress")) == 0
    assert tty2.getvalue() == ""


def test_demo_is_quiet_when_piped(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--horizon", "1"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    assert "== fixed driver" in captured.out
