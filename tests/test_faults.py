"""Faults during a sweep: runs that raise, hang or die; a lost Dask worker; a full or
read-only disk.

Local runs execute in forked processes, so a fault injected here by replacing
``vnetsim.sweep.runner.run_task`` (the function ``run_sweep`` submits) in this process reaches
the children.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest

import vnetsim.sweep.runner as runner_mod
from vnetsim.sweep import StorageError, SweepSpec, SweepStore, run_sweep

SPEC = {
    "name": "faults",
    "base": "nanos-2099",
    "replicates": 2,
    "root_seed": 5,
    "horizon_s": 0.4,
    "set": {"workload.http_connections": 32, "run.recovery_horizon_s": 1},
    "axes": {"design": ["old", "new"], "smp": [1, 4]},
}


def stable(df: pd.DataFrame) -> pd.DataFrame:
    return df.drop(columns=["wall_time_s"]).sort_values("run_id").reset_index(drop=True)


def test_raising_hanging_and_self_killing_runs_become_error_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = SweepSpec.from_dict(SPEC)
    clean = run_sweep(spec, tmp_path / "clean", workers=2, progress=False)
    ids = sorted(clean["run_id"])
    victims = {ids[0]: "kill", ids[1]: "hang", ids[2]: "raise", ids[3]: "spin"}
    slow = ids[4]  # a healthy run on a "loaded machine": 16 wall s, about 2 CPU s
    real = runner_mod.run_task

    def faulty(cfg, root_seed, spawn_key, meta):
        fault = victims.get(meta["run_id"])
        if fault == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        if fault == "hang":
            time.sleep(600)
        if fault == "raise":
            raise MemoryError("injected")
        if fault == "spin":
            while True:
                pass
        if meta["run_id"] == slow:
            for _ in range(40):  # mostly waiting, as a run does when others hold the CPU
                time.sleep(0.35)
                spin_until = time.process_time() + 0.02
                while time.process_time() < spin_until:
                    pass
        return real(cfg, root_seed, spawn_key, meta)

    monkeypatch.setattr(runner_mod, "run_task", faulty)
    df = run_sweep(spec, tmp_path / "faulty", workers=2, progress=False, run_timeout=10)
    errors = df.set_index("run_id")["error"]
    assert errors[ids[0]].startswith("WorkerDied")
    assert "signal 9" in errors[ids[0]]
    # the timeout counts CPU seconds: the spinning run met the kernel's CPU limit, the
    # sleeping one used no CPU for a whole 10 s check, and the slow one (more than 10 wall
    # s, under 10 CPU s) is a result like the others
    assert errors[ids[1]] == "RunTimeout: hung: no CPU time used in 10 s"
    assert errors[ids[3]] == "RunTimeout: more than 10 CPU s"
    assert errors[slow] == ""
    # a raise inside the simulation is caught by run_task itself; here the replacement
    # raises outside it, so the child dies with a traceback and a non-zero exit code
    assert errors[ids[2]].startswith("WorkerDied")
    seeds = ["seed_entropy", "spawn_key"]  # error rows carry the task's seed
    pd.testing.assert_frame_equal(
        df.set_index("run_id").loc[list(victims), seeds],
        clean.set_index("run_id").loc[list(victims), seeds],
    )
    others = df[~df["run_id"].isin(victims)]
    assert (others["error"] == "").all()
    # error rows hold NaN counters, so the integer columns of this table are floats
    pd.testing.assert_frame_equal(
        stable(others), stable(clean[~clean["run_id"].isin(victims)]), check_dtype=False
    )
    # the rerun redoes nothing: error rows are results too
    monkeypatch.setattr(runner_mod, "run_task", real)
    again = run_sweep(spec, tmp_path / "faulty", workers=2, progress=False)
    assert len(again) == len(df)


def test_a_lost_dask_worker_changes_no_row(tmp_path: Path) -> None:
    from distributed import Client, LocalCluster

    spec = SweepSpec.from_dict({**SPEC, "replicates": 3, "horizon_s": 0.8})
    clean = run_sweep(spec, tmp_path / "clean", workers=2, progress=False)
    with LocalCluster(
        n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        # Closed before the sweep: a second live Client in this process shares its futures'
        # events across event loops (distributed 2026.8 then fails a lost run's result() with
        # "bound to a different event loop"); a user's sweep has the only Client.
        with Client(cluster) as client:
            pids = list(client.run(os.getpid).values())
        killed: list[int] = []

        def kill_one(_row: dict) -> None:
            if not killed:
                os.kill(pids[0], signal.SIGKILL)  # its nanny restarts it; its runs are redone
                killed.append(pids[0])

        df = run_sweep(
            spec,
            tmp_path / "dask",
            scheduler=cluster.scheduler_address,
            progress=False,
            on_row=kill_one,
        )
    assert killed
    assert (df["error"] == "").all(), sorted(set(df["error"]))
    pd.testing.assert_frame_equal(stable(df), stable(clean))


def _mount_tmpfs(path: Path, size_bytes: int) -> None:
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_bytes}", "tmpfs", str(path)],
        check=True,
        capture_output=True,
    )


def _remount(path: Path, options: str) -> None:
    subprocess.run(
        ["mount", "-o", f"remount,{options}", str(path)], check=True, capture_output=True
    )


def test_full_disk_then_read_only_then_rerun_loses_nothing(tmp_path: Path, capsys) -> None:
    """A real small filesystem (tmpfs; the project's machines run tests as root)."""
    from vnetsim.cli import main

    spec = SweepSpec.from_dict({**SPEC, "replicates": 3})
    clean = run_sweep(spec, tmp_path / "clean", workers=2, progress=False)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    # 160 KiB: the manifest, the database's first page and 32 KiB WAL index, and a WAL that
    # grows by a few 4 KiB pages per committed run: room for a few of the twelve runs
    _mount_tmpfs(mnt, 160 * 1024)
    try:
        out = mnt / "out"
        with pytest.raises(StorageError, match=r"database or disk is full|No space left"):
            run_sweep(spec, out, workers=2, progress=False)
        written = SweepStore(out).states()
        assert 0 < len(written) < 12
        # every committed row is whole: it reads back equal to the clean sweep's row
        partial = SweepStore(out).load()
        assert sorted(partial["run_id"]) == sorted(written)
        pd.testing.assert_frame_equal(
            stable(partial), stable(clean[clean["run_id"].isin(written)].reset_index(drop=True))
        )
        _remount(mnt, "ro")
        argv = ["sweep", "--out", str(out), "--workers", "2", "--no-progress"]
        spec_file = tmp_path / "faults.toml"
        spec_file.write_text(
            'name = "faults"\nbase = "nanos-2099"\nreplicates = 3\nroot_seed = 5\n'
            'horizon_s = 0.4\n[set]\n"workload.http_connections" = 32\n'
            '"run.recovery_horizon_s" = 1\n[axes]\ndesign = ["old", "new"]\nsmp = [1, 4]\n'
        )
        assert main([argv[0], str(spec_file), *argv[1:]]) == 1
        err = capsys.readouterr().err
        assert "Read-only file system" in err
        assert f"the {len(written)} runs finished so far are safe" in err
        assert "Traceback" not in err
        _remount(mnt, "rw,size=64m")
        assert main([argv[0], str(spec_file), *argv[1:]]) == 0
        resumed = pd.read_parquet(out / "runs.parquet")
        assert resumed["run_id"].is_unique
        pd.testing.assert_frame_equal(stable(resumed), stable(clean))
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False, capture_output=True)


def test_a_sweep_whose_every_run_errors_reports_it_and_analyze_refuses_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import vnetsim.scenario as scenario_mod
    from vnetsim.cli import main

    def broken(cfg, seed):
        raise RuntimeError("injected model failure")

    monkeypatch.setattr(scenario_mod, "simulate", broken)
    spec_file = tmp_path / "s.toml"
    spec_file.write_text(
        'name = "all-errors"\nreplicates = 1\nhorizon_s = 2\n[axes]\nsmp = [1, 2]\n'
    )
    out = tmp_path / "out"
    argv = ["sweep", str(spec_file), "--out", str(out), "--workers", "1", "--no-progress"]
    assert main(argv) == 0
    assert "2 runs" in capsys.readouterr().out
    for command in ("analyze", "figures"):
        assert main([command, str(out)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1
        assert "every one of the 2 runs ended in an error" in err
        assert "injected model failure" in err
    # A plain rerun keeps the error rows (they are results); --retry-errors redoes them.
    monkeypatch.undo()
    assert main(argv) == 0
    assert "2 errors" in capsys.readouterr().out
    assert main([*argv, "--retry-errors"]) == 0
    assert "0 errors" in capsys.readouterr().out
    assert main(["analyze", str(out)]) == 0
    runs = pd.read_parquet(out / "runs.parquet")
    assert len(runs) == 2
    assert (runs["error"] == "").all()
    assert main([*argv, "--retry-errors", "--min-events", "1"]) == 2
    assert "--retry-errors: not available" in capsys.readouterr().err


def test_workers_n_runs_at_most_n_processes_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import vnetsim.sweep.backends as backends_mod

    alive: list[int] = []
    real_submit = backends_mod.LocalBackend.submit

    def counting_submit(self, fn, *args):
        child = real_submit(self, fn, *args)
        alive.append(len(self.running))  # submitted runs the sweep has not collected yet
        return child

    monkeypatch.setattr(backends_mod.LocalBackend, "submit", counting_submit)
    spec = SweepSpec.from_dict({**SPEC, "replicates": 2})  # 8 runs
    run_sweep(spec, tmp_path / "out", workers=2, progress=False)
    assert len(alive) == 8
    assert max(alive) == 2


def test_ctrl_c_prints_one_line_with_the_safe_runs_and_the_command_that_continues(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import vnetsim.sweep as sweep_pkg
    from vnetsim.cli import main

    real = sweep_pkg.run_sweep

    def interrupted(*args, **kwargs):
        real(*args, **kwargs)  # every run finishes and is stored, then the user presses Ctrl-C
        raise KeyboardInterrupt

    monkeypatch.setattr(sweep_pkg, "run_sweep", interrupted)
    spec_file = tmp_path / "s.toml"
    spec_file.write_text('name = "c"\nreplicates = 1\nhorizon_s = 1\n[axes]\nsmp = [1, 2]\n')
    out = tmp_path / "out"
    argv = ["sweep", str(spec_file), "--out", str(out), "--workers", "1", "--no-progress"]
    assert main(argv) == 130
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "Traceback" not in err
    assert "2 finished runs are safe" in err
    assert f"`vnetsim sweep {spec_file} --out {out}`" in err


def _tiny_sweep_file(tmp_path: Path, name: str = "t") -> Path:
    f = tmp_path / f"{name}.toml"
    f.write_text(f'name = "{name}"\nreplicates = 1\nhorizon_s = 1\n[axes]\nsmp = [1, 2]\n')
    return f


def test_a_second_sweep_on_a_locked_directory_is_refused(tmp_path: Path) -> None:
    from vnetsim.config import ConfigError
    from vnetsim.sweep import SweepStore

    spec = SweepSpec.from_toml(_tiny_sweep_file(tmp_path))
    out = tmp_path / "out"
    busy = pytest.raises(ConfigError, match="another vnetsim sweep is running")
    with SweepStore(out).locked(), busy:  # as a sweep running in another process holds it
        run_sweep(spec, out, workers=1, progress=False)
    assert not SweepStore(out).holds_runs()  # the refused sweep ran nothing
    assert len(run_sweep(spec, out, workers=1, progress=False)) == 2  # released: it runs


def test_replace_keeps_the_new_directory_locked(tmp_path: Path) -> None:
    from vnetsim.config import ConfigError

    out = tmp_path / "out"
    run_sweep(SweepSpec.from_toml(_tiny_sweep_file(tmp_path, "first")), out, progress=False)
    refused: list[bool] = []

    def second_sweep_tries(_row: dict) -> None:
        # the directory --replace made anew is the session's: another sweep must wait
        try:
            with SweepStore(out).locked():
                refused.append(False)
        except ConfigError:
            refused.append(True)

    other = SweepSpec.from_toml(_tiny_sweep_file(tmp_path, "second"))
    run_sweep(other, out, workers=1, progress=False, replace=True, on_row=second_sweep_tries)
    assert refused == [True, True]
    assert len(list(tmp_path.glob("out.replaced-*"))) == 1


def test_foreign_rows_and_damaged_files_are_refused_in_one_line_and_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from vnetsim.cli import main

    out = tmp_path / "out"
    argv = ["sweep", str(_tiny_sweep_file(tmp_path)), "--out", str(out), "--no-progress"]
    assert main([*argv, "--workers", "1"]) == 0
    capsys.readouterr()
    good_manifest = (out / "manifest.json").read_bytes()
    # Rows without a manifest: another sweep's, or unknown; never adopted.
    (out / "manifest.json").unlink()
    assert main(argv) == 2
    assert "holds run rows but no manifest.json" in capsys.readouterr().err
    # A damaged manifest: sweep, analyze and figures say so in one line; --replace starts over.
    (out / "manifest.json").write_text("{not json")
    for command in (argv, ["analyze", str(out)], ["figures", str(out)]):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1
        assert "manifest.json: damaged" in err
    # A damaged consolidated table: named, with the way out; the file is left where it is.
    (out / "manifest.json").write_bytes(good_manifest)
    (out / "runs.parquet").write_bytes(b"PAR1 garbage")
    for command in (argv, ["analyze", str(out)]):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1
        assert "runs.parquet: damaged" in err
    assert (out / "runs.parquet").read_bytes() == b"PAR1 garbage"
    # Doing what the message says resumes from the database: nothing to redo.
    (out / "runs.parquet").rename(out / "runs.parquet.damaged")
    assert main(argv) == 0
    assert "2 runs" in capsys.readouterr().out
    # A damaged database: status, sweep and analyze name it and the way out, in one line.
    (out / "runs.sqlite").write_bytes(b"SQLite format 3\x00" + b"\x07" * 4000)
    for command in (["status", str(out)], argv, ["analyze", str(out)]):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1, err
        assert "runs.sqlite" in err
        assert "move it aside" in err
    # ...and after moving it aside, the export (rewritten by the last session) is the rows
    (out / "runs.sqlite").rename(out / "runs.sqlite.damaged")
    assert main(argv) == 0
    assert "2 runs" in capsys.readouterr().out
    # A damaged manifest and --replace: the directory is moved aside, not deleted.
    (out / "manifest.json").write_text("[]")
    assert main([*argv, "--replace"]) == 0
    assert len(list(tmp_path.glob("out.replaced-*"))) == 1


@pytest.mark.parametrize(
    ("flag", "value", "needle"),
    [
        ("--scheduler-file", "missing.json", "no such file"),
        ("--scheduler-file", "bad.json", "not a Dask scheduler file"),
        ("--scheduler", "nonsense", "not a scheduler address"),
        ("--scheduler", "tcp://127.0.0.1:1", "no Dask scheduler answered"),
    ],
)
def test_a_bad_dask_scheduler_is_one_line_not_a_hang_or_traceback(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    flag: str,
    value: str,
    needle: str,
) -> None:
    import vnetsim.sweep.backends as backends_mod
    from vnetsim.cli import main

    monkeypatch.setattr(backends_mod, "CONNECT_TIMEOUT_S", 0.5)  # port 1: nobody listens
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.json").write_text('{"type": "Scheduler"}')
    argv = ["sweep", str(_tiny_sweep_file(tmp_path)), "--out", "out", flag, value]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert needle in err


def test_every_row_stores_the_full_resolved_scenario(tmp_path: Path) -> None:
    import json

    from vnetsim.config import ScenarioConfig

    spec = SweepSpec.from_toml(_tiny_sweep_file(tmp_path))
    df = run_sweep(spec, tmp_path / "out", workers=1, progress=False)
    for row in df.itertuples():
        cfg = ScenarioConfig.from_dict(json.loads(row.config_json))
        assert cfg == spec.config_for({"smp": row.smp})  # what ran, rebuilt from the row alone


def test_out_that_is_no_results_directory_is_refused_before_anything_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from vnetsim.cli import main

    sweep_file = _tiny_sweep_file(tmp_path)
    home = tmp_path / "home"
    (home / "work").mkdir(parents=True)
    (home / "notes.txt").write_text("mine\n")
    monkeypatch.chdir(home / "work")
    cases = [
        ([str(home)], "holds 2 other files and no sweep"),
        ([str(home / "notes.txt")], "not a directory"),
        ([".", "--replace"], "would move"),
        ([str(home), "--replace"], "would move"),  # a parent of the current directory
        (["/", "--replace"], "would move"),
    ]
    for out, needle in cases:
        assert main(["sweep", str(sweep_file), "--out", *out, "--no-progress"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1
        assert needle in err
    assert sorted(p.name for p in home.iterdir()) == ["notes.txt", "work"]  # nothing written
    assert list((home / "work").iterdir()) == []


def _fork_limited_to(limit: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """``fork`` fails with EAGAIN once ``limit`` children are alive, as under ``ulimit -u``
    (which root, who runs these tests, is exempt from)."""
    import errno
    import multiprocessing

    real_fork = os.fork

    def fork() -> int:
        if len(multiprocessing.active_children()) >= limit:
            raise BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")
        return real_fork()

    monkeypatch.setattr(os, "fork", fork)


def test_a_process_limit_below_workers_runs_what_it_allows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vnetsim.sweep import SweepWarning

    spec = SweepSpec.from_dict(SPEC)
    clean = run_sweep(spec, tmp_path / "clean", workers=2, progress=False)
    _fork_limited_to(2, monkeypatch)
    with pytest.warns(SweepWarning, match="going on with 2 runs at once"):
        df = run_sweep(spec, tmp_path / "limited", workers=8, progress=False)
    assert (df["error"] == "").all()
    pd.testing.assert_frame_equal(stable(df), stable(clean))


def test_no_process_at_all_is_one_line_and_loses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from vnetsim.cli import main

    spec_file = tmp_path / "s.toml"
    spec_file.write_text(
        'name = "nofork"\nbase = "nanos-2099"\nreplicates = 1\nroot_seed = 5\n'
        'horizon_s = 0.4\n[set]\n"workload.http_connections" = 32\n'
        '"run.recovery_horizon_s" = 1\n[axes]\nsmp = [1, 4]\n'
    )
    out = tmp_path / "out"
    argv = ["sweep", str(spec_file), "--out", str(out), "--workers", "4", "--no-progress"]
    assert main([*argv[:-3], "--workers", "1", "--no-progress"]) == 0  # one run stored...
    spec_file.write_text(spec_file.read_text().replace("replicates = 1", "replicates = 2"))
    with monkeypatch.context() as m:
        _fork_limited_to(0, m)
        assert main(argv) == 1  # ...then no process can start
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "cannot start a run's process: Resource temporarily unavailable" in err
    assert "lower --workers" in err
    assert len(SweepStore(out).states()) == 2  # the first session's runs are intact
    assert main(argv) == 0  # with processes again, the same command finishes
    assert len(SweepStore(out).states()) == 4


def test_a_dask_scheduler_killed_mid_sweep_is_one_line_and_loses_nothing(tmp_path: Path) -> None:
    """A real cluster in other processes (``dask scheduler`` and ``dask worker``), as a user
    runs one; the scheduler is killed with SIGKILL once a few rows are stored."""
    import sys

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    spec_file = tmp_path / "s.toml"
    spec_file.write_text(
        'name = "lost-scheduler"\nbase = "nanos-2099"\nreplicates = 3\nroot_seed = 5\n'
        'horizon_s = 0.8\n[set]\n"workload.http_connections" = 32\n'
        '"run.recovery_horizon_s" = 1\n[axes]\nsmp = [1, 4]\ndesign = ["old", "new"]\n'
    )
    scheduler_file = tmp_path / "scheduler.json"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": env}
    py_m = [sys.executable, "-m"]
    scheduler = subprocess.Popen(
        [*py_m, "distributed.cli.dask_scheduler", "--port", "0", "--no-dashboard",
         "--scheduler-file", str(scheduler_file)],
        start_new_session=True, **quiet,
    )  # fmt: skip
    worker = None
    try:
        deadline = time.time() + 60
        while not scheduler_file.exists() and time.time() < deadline:
            time.sleep(0.1)
        worker = subprocess.Popen(
            [*py_m, "distributed.cli.dask_worker", "--scheduler-file", str(scheduler_file),
             "--nworkers", "2", "--nthreads", "1", "--no-dashboard"],
            start_new_session=True, **quiet,
        )  # fmt: skip
        out = tmp_path / "out"
        sweep = subprocess.Popen(
            [sys.executable, "-m", "vnetsim", "sweep", str(spec_file), "--out", str(out),
             "--scheduler-file", str(scheduler_file), "--no-progress"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )  # fmt: skip
        while time.time() < deadline + 120 and len(SweepStore(out).states()) < 3:
            time.sleep(0.05)
        os.killpg(scheduler.pid, signal.SIGKILL)
        _, err = sweep.communicate(timeout=180)
    finally:
        for proc in (scheduler, worker):
            if proc is not None and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
    assert sweep.returncode == 1
    assert err.count("\n") == 1, err
    assert "lost the Dask scheduler" in err
    stored = SweepStore(out).states()
    assert 3 <= len(stored) < 12
    assert f"the {len(stored)} runs finished so far are safe" in err
    assert not any(stored.values())  # the lost cluster left no error row
    # the same sweep, locally now, runs only what is missing and matches a clean sweep
    again = run_sweep(SweepSpec.from_toml(spec_file), out, workers=2, progress=False)
    clean = run_sweep(SweepSpec.from_toml(spec_file), tmp_path / "clean", workers=2, progress=False)
    pd.testing.assert_frame_equal(stable(again), stable(clean))


@pytest.mark.parametrize("target", ["process", "group"])
def test_sigterm_stops_a_local_sweep_in_one_line_and_a_rerun_duplicates_nothing(
    tmp_path: Path, target: str
) -> None:
    """``kill PID`` (the sweep alone) or ``kill -TERM -PGID`` (it and its runs, as a batch
    system stops a job): the runs in progress are killed, none of them becomes an error row,
    every finished row stays, and the same command finishes the rest."""
    import sys

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    spec_file = tmp_path / "s.toml"
    spec_file.write_text(
        'name = "term"\nbase = "nanos-2099"\nreplicates = 2\nroot_seed = 5\n'
        'horizon_s = 0.8\n[set]\n"workload.http_connections" = 32\n'
        '"run.recovery_horizon_s" = 1\n[axes]\nsmp = [1, 4]\ndesign = ["old", "new"]\n'
    )
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "vnetsim", "sweep", str(spec_file), "--out", str(out),
           "--workers", "2", "--no-progress"]  # fmt: skip
    proc = subprocess.Popen(
        cmd, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=env,
    )  # fmt: skip
    deadline = time.time() + 120
    while time.time() < deadline and len(SweepStore(out).states()) < 2:
        time.sleep(0.05)
    if target == "group":
        os.killpg(proc.pid, signal.SIGTERM)
    else:
        os.kill(proc.pid, signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert err.count("\n") == 1, err
    assert "terminated (SIGTERM)" in err
    stored = SweepStore(out).states()
    assert 2 <= len(stored) < 8
    assert f"{len(stored)} finished runs are safe" in err
    assert not any(stored.values())  # a run killed with the sweep is no error row
    with SweepStore(out).locked():  # its runs ended with it: nothing holds the directory
        pass
    before = SweepStore(out).load()
    subprocess.run(cmd, check=True, capture_output=True, env=env, timeout=300)
    after = pd.read_parquet(out / "runs.parquet")
    assert after["run_id"].is_unique
    assert len(after) == 8
    assert (after["error"] == "").all()
    kept = after[after["run_id"].isin(before["run_id"])].reset_index(drop=True)
    pd.testing.assert_frame_equal(
        kept[before.columns], before.sort_values("run_id").reset_index(drop=True),
        check_dtype=False,
    )  # fmt: skip


def _fast_task(cfg: dict, root_seed: int, spawn_key: tuple, meta: dict) -> dict:
    """A run's row without its simulation (forked children inherit the replacement)."""
    return {
        **meta,
        "seed_entropy": root_seed,
        "spawn_key": ",".join(map(str, spawn_key)),
        "error": "",
        "estimator": "plain",
        "event_observed": False,
        "duration_s": cfg["run"]["horizon_s"],
        "horizon_s": cfg["run"]["horizon_s"],
        "sim_time_s": cfg["run"]["horizon_s"],
        "wall_time_s": 0.01,
    }


@pytest.mark.parametrize(
    ("code", "needle"),
    [("EPERM", "write and search permission on"), ("EXDEV", "on the same filesystem as")],
)
def test_replace_that_cannot_move_the_old_directory_is_one_line_and_keeps_it(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    code: str,
    needle: str,
) -> None:
    import errno

    import vnetsim.sweep.store as store_mod
    from vnetsim.cli import main

    monkeypatch.setattr(runner_mod, "run_task", _fast_task)
    out = tmp_path / "out"
    base = ["--out", str(out), "--workers", "1", "--no-progress"]
    assert main(["sweep", str(_tiny_sweep_file(tmp_path, "first")), *base]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    real = os.replace
    number = getattr(errno, code)

    def refusing(src: object, dst: object) -> None:
        if Path(str(src)) == out:  # the move aside; the manifest's own renames go through
            raise OSError(number, os.strerror(number), str(src))
        real(src, dst)

    monkeypatch.setattr(store_mod.os, "replace", refusing)
    capsys.readouterr()
    assert main(["sweep", str(_tiny_sweep_file(tmp_path, "second")), *base, "--replace"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert "Traceback" not in err
    assert "--replace: cannot move it aside" in err
    assert needle in err
    assert str(tmp_path) in err  # the parent that the move needs
    assert not list(tmp_path.glob("out.replaced-*"))
    after = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    assert after == before  # the old results as they were


def test_an_out_that_cannot_be_listed_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from vnetsim.cli import main

    out = tmp_path / "out"
    out.mkdir()
    real = Path.iterdir

    def unreadable(self: Path):  # type: ignore[no-untyped-def]
        if self == out:
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "iterdir", unreadable)
    argv = ["sweep", str(_tiny_sweep_file(tmp_path)), "--out", str(out), "--no-progress"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert f"--out {out}: cannot be read (Permission denied)" in err
    assert list(real(out)) == []  # nothing written


def test_figures_on_a_damaged_export_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from vnetsim.cli import main

    monkeypatch.setattr(runner_mod, "run_task", _fast_task)
    out = tmp_path / "out"
    argv = ["sweep", str(_tiny_sweep_file(tmp_path)), "--out", str(out), "--no-progress"]
    assert main([*argv, "--workers", "1"]) == 0
    (out / "runs.parquet").write_bytes(b"PAR1 garbage")
    capsys.readouterr()
    code = main(["figures", str(out)])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    if code != 0:  # refused, naming the file and the way out; or repaired from the database
        assert code == 2
        assert err.count("\n") == 1, err
        assert "runs.parquet: damaged" in err
        assert "move it aside" in err
        assert (out / "runs.parquet").read_bytes() == b"PAR1 garbage"  # left for the user
