"""Sweeps: seeding, storage, resume after kill -9, extension, early stop, local vs Dask."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from vnetsim.config import ConfigError, ScenarioConfig
from vnetsim.scenario import check
from vnetsim.sweep import AXIS_ALIASES, SweepSpec, SweepStore, run_sweep, run_task

MINI = """
name = "mini"
base = "nanos-2099"
replicates = {reps}
root_seed = 11
horizon_s = {horizon}
[set]
"workload.http_connections" = 32
"run.recovery_horizon_s" = 2
[axes]
design = ["old", "new"]
smp = [1, 8]
"""


def mini(tmp_path: Path, reps: int = 2, horizon: float = 0.6, name: str = "mini.toml") -> Path:
    p = tmp_path / name
    p.write_text(MINI.format(reps=reps, horizon=horizon))
    return p


def stable(df: pd.DataFrame) -> pd.DataFrame:
    return df.drop(columns=["wall_time_s"]).sort_values("run_id").reset_index(drop=True)


def test_seeds_depend_only_on_the_point_and_replicate(tmp_path: Path) -> None:
    spec = SweepSpec.from_toml(mini(tmp_path))
    other = SweepSpec.from_dict(
        {
            "base": "nanos-2099",
            "root_seed": 11,
            "replicates": 5,
            "axes": {"smp": [8, 2, 1], "design": ["new"]},
        }
    )
    point = {"design": "new", "smp": 8}
    for rep in range(2):
        assert (
            spec.seed_for(point, rep).spawn_key
            == other.seed_for({"smp": 8, "design": "new"}, rep).spawn_key
        )
    # common random numbers: designs share the workload stream at a replicate
    assert (
        spec.seed_for({"design": "old", "smp": 8}, 0).spawn_key
        == spec.seed_for({"design": "new", "smp": 8}, 0).spawn_key
    )
    assert (
        spec.seed_for({"design": "new", "smp": 1}, 0).spawn_key
        != spec.seed_for({"design": "new", "smp": 8}, 0).spawn_key
    )
    # ... and so do compilers, under the short name or the full one: a compiler axis added to a
    # sweep keeps the seeds its points had without it
    for compiler in ("compiler", "driver.compiler"):
        assert (
            spec.seed_for({"design": "old", compiler: "gcc12", "smp": 8}, 0).spawn_key
            == spec.seed_for({"design": "old", "smp": 8}, 0).spawn_key
        )
    assert spec.seed_for(point, 0).spawn_key != spec.seed_for(point, 1).spawn_key
    # raising replicates keeps every existing run id and seed
    more = SweepSpec.from_toml(mini(tmp_path, reps=4, name="more.toml"))
    old_ids = {t.run_id for t in spec.tasks()}
    assert old_ids < {t.run_id for t in more.tasks()}
    assert spec.identity() == more.identity()


def test_sweep_file_errors_name_the_file_and_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("replicate = 3\n[axes]\nsmp = [1]\n")
    with pytest.raises(ConfigError, match=r"bad\.toml: unknown key 'replicate' \(did you mean"):
        SweepSpec.from_toml(bad)
    bad.write_text("[axes]\nsmp = []\n")
    with pytest.raises(ConfigError, match=r"axes\.smp must be a non-empty list"):
        SweepSpec.from_toml(bad)
    bad.write_text("[axes]\nsmp = [1, 0]\n")
    with pytest.raises(ConfigError, match=r"guest\.smp: 0 is out of range"):
        SweepSpec.from_toml(bad)


def _literal(v: object) -> str:
    """A value as the sweep used to write it into a ``--set`` string."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return json.dumps(v)
    return repr(v)


def _string_route(spec: SweepSpec, point: dict) -> ScenarioConfig:
    """``config_for`` as it was: typed values turned into ``--set`` strings, parsed back."""
    sets = [f"{k}={_literal(v)}" for k, v in spec.fixed]
    sets += [f"{AXIS_ALIASES.get(k, k)}={_literal(v)}" for k, v in point.items()]
    sets.append(f"run.horizon_s={_literal(spec.horizon_s)}")
    sets.append(f"name={json.dumps(spec.name)}")
    return check(spec.base.with_overrides(sets), source="--set")


def _outcome(build) -> ScenarioConfig | str:
    try:
        return build()
    except ConfigError as err:
        return f"ConfigError: {err}"


TYPED = SweepSpec.from_dict(
    {
        "name": "typed",
        "horizon_s": 7,  # an int for a float field
        "set": {"host.mrg_rxbuf": False, "workload.payload": "binary", "driver.compiler": "gcc12"},
        "axes": {"design": ["nanos-0.1.48", "new"], "smp": [1, 16], "load_rps": [2500, 99.5]},
    }
)


@pytest.mark.parametrize(
    "point",
    [
        *TYPED.points(),
        {"virtqueue.event_idx": False, "bufpool.memory_mib": 0.5, "run.trace_events": 3},
        {"design": 'ol"d'},  # quotes and backslashes: refused by the design check
        {"design": "ol\\d"},
        {"design": "\\u006fld"},
        {"workload.payload": 'te"xt\\'},
        {"guest.smp": 0},  # out of range
        {"guest.smp": 2.0},  # a float for an int field
        {"host.mrg_rxbuf": 1},  # an int for a bool field
        {"workload.load_rps": True},
        {"smp": "8"},
        {"guest.smpp": 2},  # unknown field: did you mean
        {"workload.body_min_bytes": 5000},  # cross-field check names its partner
    ],
)
def test_typed_overrides_give_the_scenario_or_error_of_the_string_route(point: dict) -> None:
    typed = _outcome(lambda: TYPED.config_for(point))
    assert typed == _outcome(lambda: _string_route(TYPED, point))
    if isinstance(typed, str):  # one line naming the field
        assert len(typed.splitlines()) == 1
        (key,) = point
        assert AXIS_ALIASES.get(key, key).split(".")[1] in typed, typed
    else:
        for k, v in point.items():
            sec, name = AXIS_ALIASES.get(k, k).split(".")
            assert getattr(getattr(typed, sec), name) == v


@pytest.mark.parametrize("name", ["plain", 'quo"ted', "back\\slash", "tab\tnl\n", "ünï"])
def test_with_fields_name_is_the_parsed_string_of_with_overrides(name: str) -> None:
    base = ScenarioConfig()
    assert base.with_fields({"name": name}).name == name
    assert base.with_fields({"name": name}) == base.with_overrides([f"name={json.dumps(name)}"])
    bad = _outcome(lambda: base.with_fields({"name": ""}))
    assert bad == _outcome(lambda: base.with_overrides(['name=""']))


def test_rows_are_tidy_and_carry_axes_seed_and_every_counter(tmp_path: Path) -> None:
    df = run_sweep(SweepSpec.from_toml(mini(tmp_path)), tmp_path / "out", workers=2, progress=False)
    assert len(df) == 8
    assert df["run_id"].is_unique
    for col in (
        "design",
        "smp",
        "replicate",
        "seed_entropy",
        "spawn_key",
        "duration_s",
        "event_observed",
        "frames_offered",
        "buffers_leaked",
        "error",
        "design_resolved",
    ):
        assert col in df.columns
    assert set(df["design_resolved"]) == {"nanos-0.1.54", "nanos-0.1.55"}
    # the seed columns come from each run's own result, once: no duplicated or "seed" column
    assert df.columns.is_unique
    assert "seed" not in df.columns
    spec = SweepSpec.from_toml(mini(tmp_path))
    for task in spec.tasks():
        row = df.set_index("run_id").loc[task.run_id]
        seq = spec.seed_for(task.point, task.replicate)
        assert row["seed_entropy"] == seq.entropy == 11
        assert row["spawn_key"] == ",".join(map(str, seq.spawn_key))
    manifest = SweepStore(tmp_path / "out").read_manifest()
    assert manifest is not None
    assert manifest["sweep_hash"]
    assert manifest["versions"]["vnetsim"]
    assert manifest["sessions"][-1]["end"]


def test_extension_adds_runs_and_keeps_existing_rows(tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = run_sweep(SweepSpec.from_toml(mini(tmp_path, reps=1)), out, workers=2, progress=False)
    second = run_sweep(SweepSpec.from_toml(mini(tmp_path, reps=2)), out, workers=2, progress=False)
    assert len(first) == 4
    assert len(second) == 8
    kept = stable(second).set_index("run_id").loc[first["run_id"]]
    pd.testing.assert_frame_equal(kept.reset_index(), stable(first), check_like=True)


def test_a_directory_holding_another_sweep_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "out"
    run_sweep(SweepSpec.from_toml(mini(tmp_path, reps=1)), out, workers=1, progress=False)
    other = SweepSpec.from_toml(mini(tmp_path, reps=1, horizon=0.7, name="other.toml"))
    with pytest.raises(ConfigError, match="holds a different sweep"):
        run_sweep(other, out, workers=1, progress=False)
    df = run_sweep(other, out, workers=1, progress=False, replace=True)
    assert len(df) == 4
    aside = list(tmp_path.glob("out.replaced-*"))
    assert len(aside) == 1
    assert len(pd.read_parquet(aside[0] / "runs.parquet")) == 4  # the old results are kept


def test_a_failing_run_becomes_a_row_with_its_error() -> None:
    row = run_task({"guest": {"smp": 0}}, 1, (0, 1), {"run_id": "x-r00000"})
    assert row["error"].startswith("ConfigError")
    assert "guest.smp" in row["error"]
    assert (row["seed_entropy"], row["spawn_key"]) == (1, "0,1")  # from the task: no result


def test_kill_9_then_rerun_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    spec_path = mini(tmp_path, reps=3, horizon=0.8)
    out = tmp_path / "killed"
    cmd = [
        sys.executable,
        "-m",
        "vnetsim",
        "sweep",
        str(spec_path),
        "--out",
        str(out),
        "--workers",
        "2",
        "--no-progress",
    ]
    proc = subprocess.Popen(
        cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.time() + 120
    while time.time() < deadline:  # polls the database as a second reader would
        if len(SweepStore(out).states()) >= 3:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the sweep and its workers, mid-commit or not
    proc.wait()
    killed_at = len(SweepStore(out).states())
    assert 3 <= killed_at < 12
    # A torn last write: garbage after the WAL's committed frames (their checksums reject
    # it), and a torn per-run file of the layout before the database (discarded on adoption).
    with open(out / "runs.sqlite-wal", "ab") as wal:
        wal.write(bytes(range(256)) * 20)
    (out / "runs").mkdir(exist_ok=True)
    (out / "runs" / "deadbeef0000-r00000.parquet").write_bytes(b"PAR1 torn write")
    assert len(SweepStore(out).states()) == killed_at
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    resumed = pd.read_parquet(out / "runs.parquet")
    clean = run_sweep(SweepSpec.from_toml(spec_path), tmp_path / "clean", workers=2, progress=False)
    assert resumed["run_id"].is_unique
    assert len(resumed) == 12
    pd.testing.assert_frame_equal(stable(resumed), stable(clean))


def test_early_stop_is_decided_by_results_not_by_timing(tmp_path: Path) -> None:
    spec = SweepSpec.from_dict(
        {
            "name": "early",
            "base": "nanos-2099",
            "replicates": 6,
            "root_seed": 3,
            "horizon_s": 3.0,
            "set": {"workload.http_connections": 16, "run.recovery_horizon_s": 1},
            "axes": {"design": ["old", "new"], "smp": [8]},
        }
    )
    a = run_sweep(spec, tmp_path / "a", workers=1, progress=False, min_events=1, wave=2)
    b = run_sweep(spec, tmp_path / "b", workers=2, progress=False, min_events=1, wave=2)
    pd.testing.assert_frame_equal(stable(a), stable(b))
    per_point = a.groupby("design").size()
    assert per_point["new"] == 6  # never an outage: all replicates
    assert per_point["old"] < 6  # an outage in its first wave(s): stopped early
    assert a[a["design"] == "old"]["event_observed"].any()


def test_a_split_point_whose_replays_never_fail_stops_by_the_survival_halfwidth(
    tmp_path: Path,
) -> None:
    """``--target-halfwidth`` stops an immune split point once the exact zero-failure bound on
    S(horizon) is close enough, which the hazard-width rule never does (a zero hazard has no
    relative interval)."""
    from vnetsim.sweep.runner import survival_halfwidth

    path = tmp_path / "halfwidth.toml"
    path.write_text(
        'name = "halfwidth"\nbase = "nanos-2099"\nreplicates = 6\nroot_seed = 3\n'
        'horizon_s = 2.0\n[set]\n"run.estimator" = "split"\n"run.split_replays" = 10\n'
        'load_rps = 10000\n[axes]\ndesign = ["new"]\nsmp = [8]\n'
    )
    spec = SweepSpec.from_toml(path)
    rows = run_sweep(spec, tmp_path / "h", workers=2, progress=False, target_halfwidth=0.3, wave=2)
    assert len(rows) == 2  # the first wave met it
    assert int(rows["split_batches"].sum()) > 0  # there were batches at risk, none failed
    assert survival_halfwidth(rows.to_dict("records")) <= 0.3
    assert float(rows["split_survival"].min()) == 1.0
    # the manifest records that the rule ended the point, so it is not reported as short
    from vnetsim.sweep import load_sweep
    from vnetsim.sweep.status import early_stops, missing_runs, point_status

    sweep = load_sweep(tmp_path / "h")
    stopped = early_stops(sweep.manifest)
    assert stopped == {spec.point_key(spec.points()[0]): 2}
    assert sweep.manifest["early_stop"]["rule"]["target_halfwidth"] == 0.3
    assert missing_runs(sweep) == 0
    (status,) = point_status(spec, {}, stopped)
    assert (status.missing, status.stopped_at) == (2, 2)  # nothing stored: both still to run


def test_local_and_dask_give_identical_rows(tmp_path: Path) -> None:
    import distributed

    spec = SweepSpec.from_toml(mini(tmp_path))
    local = run_sweep(spec, tmp_path / "local", workers=2, progress=False)
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        dask = run_sweep(
            spec, tmp_path / "dask", scheduler=cluster.scheduler_address, progress=False
        )
    pd.testing.assert_frame_equal(stable(local), stable(dask))


def test_a_directory_of_per_run_files_is_moved_into_the_database(tmp_path: Path) -> None:
    # The layout before the database: one Parquet file per run under runs/, no export yet
    # (a sweep interrupted by an older version). Two of its runs are missing.
    spec = SweepSpec.from_toml(mini(tmp_path, reps=2))
    clean = run_sweep(spec, tmp_path / "clean", workers=2, progress=False)
    out = tmp_path / "old-layout"
    first = run_sweep(spec, out, workers=2, progress=False)
    (out / "runs").mkdir()
    for row in first.iloc[2:].to_dict("records"):
        pd.DataFrame([row]).to_parquet(out / "runs" / f"{row['run_id']}.parquet", index=False)
    for p in [*out.glob("runs.sqlite*"), out / "runs.parquet"]:
        p.unlink()
    torn = out / "runs" / "deadbeef0000-r00000.parquet"
    torn.write_bytes(b"PAR1 torn write")
    assert len(SweepStore(out).states()) == len(first) - 2  # read as it is
    assert torn.exists()  # reading (status, analyze) never deletes
    again = run_sweep(spec, out, workers=2, progress=False)
    assert not (out / "runs").exists()  # every file's row is in the database now
    assert set(SweepStore(out).states()) == set(clean["run_id"])
    pd.testing.assert_frame_equal(stable(again), stable(clean))


def test_a_committed_consolidated_table_alone_is_resumable(tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = run_sweep(SweepSpec.from_toml(mini(tmp_path, reps=1)), out, workers=2, progress=False)
    for p in out.glob("runs.sqlite*"):  # as in a fresh clone: only runs.parquet
        p.unlink()
    again = run_sweep(SweepSpec.from_toml(mini(tmp_path, reps=1)), out, workers=2, progress=False)
    pd.testing.assert_frame_equal(stable(first), stable(again))


def test_a_spec_built_in_python_is_recorded_so_status_can_rebuild_it(tmp_path: Path) -> None:
    from vnetsim.sweep.status import spec_from_manifest

    spec = SweepSpec.from_dict(
        {"name": "py", "replicates": 3, "horizon_s": 2.0, "axes": {"smp": [1, 2]}}
    )
    again = spec_from_manifest({"sweep_file": spec.text}, tmp_path)
    assert again.identity() == spec.identity()
    assert again.replicates == 3
    assert again.points() == spec.points()  # was one empty point: the text was ""


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


@pytest.fixture
def fast_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    import vnetsim.sweep.runner as runner_mod

    monkeypatch.setattr(runner_mod, "run_task", _fast_task)


class _Stop(Exception):
    pass


def test_runs_go_in_replicate_order_so_a_partial_sweep_is_balanced(
    tmp_path: Path, fast_runs: None
) -> None:
    spec = SweepSpec.from_toml(mini(tmp_path, reps=3))  # design x smp: 4 points
    points = spec.points()
    first = list(spec.tasks())[: len(points)]
    assert [t.replicate for t in first] == [0] * len(points)
    assert [t.point for t in first] == points  # every point (every design) once
    order: list[tuple[str, int]] = []

    def record(row: dict) -> None:
        order.append((row["design"], row["replicate"]))
        if len(order) == len(points) + 2:
            raise _Stop  # stopped part-way through the second replicate

    out = tmp_path / "out"
    with pytest.raises(_Stop):
        run_sweep(spec, out, workers=1, progress=False, on_row=record)
    assert [rep for _, rep in order] == [0, 0, 0, 0, 1, 1]
    done = SweepStore(out).states()
    per_point = {spec.point_key(p): 0 for p in points}
    for run_id in done:
        per_point[run_id.rsplit("-r", 1)[0]] += 1
    assert sorted(per_point.values()) == [1, 1, 2, 2]  # balanced: no point is two ahead
    assert {d for d, _ in order[: len(points)]} == {"old", "new"}


def test_a_rerun_that_stores_nothing_does_not_rewrite_the_export(
    tmp_path: Path, fast_runs: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = SweepSpec.from_toml(mini(tmp_path, reps=2))
    out = tmp_path / "out"
    first = run_sweep(spec, out, workers=1, progress=False)
    export = out / "runs.parquet"
    stamp = (export.stat().st_mtime_ns, export.stat().st_ino)
    written: list[int] = []
    real = pd.DataFrame.to_parquet

    def counting(self: pd.DataFrame, *args: object, **kwargs: object) -> None:
        written.append(len(self))
        real(self, *args, **kwargs)

    monkeypatch.setattr(pd.DataFrame, "to_parquet", counting)
    again = run_sweep(spec, out, workers=1, progress=False)  # nothing new: no export
    assert written == []
    assert (export.stat().st_mtime_ns, export.stat().st_ino) == stamp
    pd.testing.assert_frame_equal(stable(again), stable(first), check_dtype=False)
    assert run_sweep(spec, out, workers=1, progress=False, table=False) is None
    assert SweepStore(out).counts()["runs"] == 8  # what the CLI prints, from the export
    # Rows added: the export is rewritten, and holds them.
    more = SweepSpec.from_toml(mini(tmp_path, reps=3))
    assert len(run_sweep(more, out, workers=1, progress=False)) == 12
    assert written == [12]
    assert len(pd.read_parquet(export)) == 12
    # The export replaced or removed by hand: rewritten from the database.
    pd.read_parquet(export).iloc[:3].to_parquet(export, index=False)
    written.clear()
    assert len(run_sweep(more, out, workers=1, progress=False)) == 12
    assert written == [12]  # repaired
    export.unlink()
    assert len(run_sweep(more, out, workers=1, progress=False)) == 12
    assert len(pd.read_parquet(export)) == 12
    # A row replaced (--retry-errors) without changing the count: rewritten.
    import vnetsim.sweep.runner as runner_mod

    def failing_one(cfg: dict, root_seed: int, spawn_key: tuple, meta: dict) -> dict:
        row = _fast_task(cfg, root_seed, spawn_key, meta)
        if meta["replicate"] == 0 and meta["smp"] == 1 and meta["design"] == "old":
            row["error"] = "RuntimeError: injected"
        return row

    fresh = tmp_path / "fresh"
    monkeypatch.setattr(runner_mod, "run_task", failing_one)
    assert (run_sweep(more, fresh, workers=1, progress=False)["error"] != "").sum() == 1
    monkeypatch.setattr(runner_mod, "run_task", _fast_task)
    fixed = run_sweep(more, fresh, workers=1, progress=False, retry_errors=True)
    assert (fixed["error"] == "").all()
    assert (pd.read_parquet(fresh / "runs.parquet")["error"] == "").all()
    # A new database (the old one moved aside as a message says): rewritten.
    for p in fresh.glob("runs.sqlite*"):
        p.rename(p.with_name(p.name + ".damaged"))
    monkeypatch.setattr(runner_mod, "run_task", failing_one)
    bigger = SweepSpec.from_toml(mini(tmp_path, reps=4))
    df = run_sweep(bigger, fresh, workers=1, progress=False)
    assert len(df) == 16
    assert len(pd.read_parquet(fresh / "runs.parquet")) == 16


def test_dry_run_and_status_never_read_the_whole_table(
    tmp_path: Path, fast_runs: None, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    from vnetsim.cli import main

    spec_file = mini(tmp_path, reps=1)
    out = tmp_path / "out"
    assert main(["sweep", str(spec_file), "--out", str(out), "--workers", "1"]) == 0
    spec_file.write_text(spec_file.read_text().replace("replicates = 1", "replicates = 3"))

    def whole_table(*_args: object, **_kwargs: object) -> pd.DataFrame:
        raise AssertionError("read the whole run table")

    monkeypatch.setattr(SweepStore, "load", whole_table)
    monkeypatch.setattr(SweepStore, "consolidate", whole_table)
    capsys.readouterr()
    assert main(["sweep", str(spec_file), "--out", str(out), "--dry-run"]) == 0
    plan = capsys.readouterr().out
    assert "4 points x 3 replicates = 12 runs: 4 done, 0 errors, 8 missing" in plan
    # the finished runs' rate: 0.01 wall s per 0.6 simulated s, over 8 x 0.6 s to go
    rate = f"about {8 * 0.6 * 0.01 / 0.6 / 3600:.2g} CPU-hours at the finished runs' rate"
    assert rate in plan
    assert main(["status", str(out)]) == 0  # the sweep DIR recorded: one replicate
    assert "4 points x 1 replicates = 4 runs: 4 done, 0 errors, 0 missing" in (
        capsys.readouterr().out
    )


def test_a_huge_sweep_starts_its_first_run_without_building_every_task(
    tmp_path: Path, fast_runs: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """20 points x 10^6 replicates: the pending runs are drawn as they are submitted, not
    listed first (that list was ~3.8 GB before the first run)."""
    spec = SweepSpec.from_dict(
        {
            "name": "huge",
            "replicates": 1_000_000,
            "horizon_s": 1,
            "axes": {"smp": list(range(1, 21))},
        }
    )
    assert len(spec.points()) * spec.replicates == 20_000_000
    drawn = [0]
    real_tasks = SweepSpec.tasks

    def counted(self: SweepSpec, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        for task in real_tasks(self, *args, **kwargs):
            drawn[0] += 1
            if drawn[0] > 10_000:
                raise AssertionError("more than 10,000 tasks drawn before 3 runs finished")
            yield task

    monkeypatch.setattr(SweepSpec, "tasks", counted)
    rows: list[dict] = []

    def stop_after_three(row: dict) -> None:
        rows.append(row)
        if len(rows) == 3:
            raise _Stop

    started = time.process_time()
    with pytest.raises(_Stop):
        run_sweep(spec, tmp_path / "out", workers=1, progress=True, on_row=stop_after_three)
    assert time.process_time() - started < 30
    assert drawn[0] <= 4  # three submitted, at most one more looked at
    assert [r["replicate"] for r in rows] == [0, 0, 0]
    assert len(SweepStore(tmp_path / "out").states()) == 3


def test_the_summary_counts_of_the_export_are_those_of_the_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import vnetsim.sweep.runner as runner_mod

    def mixed(cfg: dict, root_seed: int, spawn_key: tuple, meta: dict) -> dict:
        row = _fast_task(cfg, root_seed, spawn_key, meta)
        kind = (meta["replicate"] + meta["smp"]) % 4
        if kind == 0:
            row["error"] = "RuntimeError: injected"
        elif kind == 1:
            row.update(estimator="split", split_survival=0.75)
        elif kind == 2:
            row["event_observed"] = True
        return row

    monkeypatch.setattr(runner_mod, "run_task", mixed)
    df = run_sweep(SweepSpec.from_toml(mini(tmp_path, reps=4)), tmp_path / "o", progress=False)
    ok = df[df["error"] == ""]
    split = ok["estimator"].eq("split")
    plain = ok[~split]
    got = SweepStore(tmp_path / "o").counts()
    assert got == {
        "runs": len(df),
        "errors": len(df) - len(ok),
        "outages": int(plain["event_observed"].sum()),
        "censored": int((~plain["event_observed"].astype(bool)).sum()),
        "split": int(split.sum()),
        "expected_outages": pytest.approx(float((1 - ok.loc[split, "split_survival"]).sum())),
    }
    assert min(got.values()) > 0  # every kind of row is there
