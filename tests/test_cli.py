"""Every CLI command, its output shape, and its refusal of bad input (exit 2, no traceback)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from vnetsim.cli import main
from vnetsim.config import ScenarioConfig
from vnetsim.records import RESULT_FIELDS


def test_run_json_prints_one_object_with_every_result_field(capsys) -> None:
    assert (
        main(
            [
                "run",
                "--scenario",
                "nanos-2099",
                "--design",
                "old",
                "--smp",
                "8",
                "--horizon",
                "0.5",
                "--seed",
                "1",
                "--json",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    d = json.loads(out)
    assert set(RESULT_FIELDS) <= set(d)
    assert d["design"] == "nanos-0.1.54"
    assert d["smp"] == 8
    assert d["horizon_s"] == 0.5
    assert d["event_observed"] is False
    assert d["frames_offered"] > 0
    assert d["config"]["guest"]["smp"] == 8  # the full resolved scenario rides along
    assert d["config"]["driver"]["design"] == "old"


def test_run_set_override_reaches_the_model(capsys) -> None:
    assert (
        main(
            [
                "run",
                "--horizon",
                "0.5",
                "--set",
                "host.mrg_rxbuf=false",
                "--set",
                "workload.http_connections=16",
                "--json",
            ]
        )
        == 0
    )
    d = json.loads(capsys.readouterr().out)
    assert d["multi_buffer_frames"] == 0


def test_run_human_summary(capsys) -> None:
    assert main(["run", "--horizon", "0.3", "--seed", "2"]) == 0
    out = capsys.readouterr().out
    assert "no outage within 0.3 s (censored)" in out
    assert "frames offered" in out


def test_run_with_trace_reports_the_interleaving_of_an_outage(capsys) -> None:
    assert (
        main(
            [
                "run",
                "--horizon",
                "30",
                "--seed",
                "1",
                "--trace",
                "3000",
                "--set",
                "workload.http_connections=32",
                "--set",
                "run.recovery_horizon_s=3",
                "--json",
            ]
        )
        == 0
    )
    d = json.loads(capsys.readouterr().out)
    assert d["event_observed"] is True
    events = [e[2] for e in d["trace"]]
    assert "misframe" in events
    assert "swallow" in events


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["run", "--smp", "0"], "guest.smp: 0 is out of range [1, 64]"),
        (["run", "--design", "olt"], "did you mean 'old'"),
        (["run", "--scenario", "nanos2099"], "did you mean 'nanos-2099'"),
        (["run", "--set", "host.mrg_rxbf=false"], "did you mean 'host.mrg_rxbuf'"),
        (["run", "--seed", "-1"], "--seed: must be a non-negative integer"),
        (["run", "--horizon", "0"], "run.horizon_s: 0.0 is out of range"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_no_traceback(capsys, argv, needle) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert needle in err
    assert "Traceback" not in err


def test_designs_and_scenarios_list_what_exists(capsys) -> None:
    assert main(["designs"]) == 0
    out = capsys.readouterr().out
    for name in (
        "nanos-0.1.48",
        "nanos-0.1.49",
        "nanos-0.1.54 (alias: old)",
        "nanos-0.1.55 (alias: new)",
        "guarded",
        "watchdog",
    ):
        assert name in out
    assert main(["scenarios"]) == 0
    assert "nanos-2099" in capsys.readouterr().out


def test_sweep_analyze_and_figures_commands(tmp_path, capsys) -> None:
    sweep = tmp_path / "s.toml"
    sweep.write_text(
        'name = "t"\nbase = "nanos-2099"\nreplicates = 1\nroot_seed = 1\n'
        'horizon_s = 0.4\n[set]\n"workload.http_connections" = 32\n'
        '"run.recovery_horizon_s" = 1\n[axes]\ndesign = ["old", "new"]\n'
        "smp = [1, 8]\nload_rps = [2500, 5000]\n"
    )
    out = tmp_path / "out"
    assert main(["sweep", str(sweep), "--out", str(out), "--workers", "1", "--no-progress"]) == 0
    assert "t: 8 runs" in capsys.readouterr().out
    assert main(["analyze", str(out)]) == 0
    text = capsys.readouterr().out
    assert "median_label" in text
    assert "log-rank tests between values of design" in text
    for name in ("summary", "km", "censor", "logrank", "pooled", "trend", "certification"):
        assert (out / "analysis" / f"{name}.csv").exists()
        assert (out / "analysis" / f"{name}.parquet").exists()
    tables = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in (out / "analysis").iterdir()}
    assert main(["figures", str(out)]) == 0
    captured = capsys.readouterr()
    written = captured.out.split()
    names = {Path(p).name for p in written}
    for stem in (
        "km_load_rps-2500",
        "km_load_rps-5000",
        "km_grid",
        "hazard_vs_smp",
        "rmst_vs_smp",
        "p_outage_heatmap",
    ):
        assert {f"{stem}.png", f"{stem}.pdf"} <= names
    assert {"blackout.png", "blackout.pdf"} <= names
    assert all(Path(p).exists() for p in written)
    # every declared figure drawn but recovery_km: no run of this short sweep had an outage,
    # so there is no blackout whose length it could show
    assert (out / "analysis" / "recovery_km.csv").read_text().count("\n") == 1  # header only
    assert captured.err == "vnetsim: skipped figure recovery_km: the recovery_km table is empty\n"
    # figures computes its tables in memory: DIR/analysis is left as analyze wrote it
    assert {
        p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in (out / "analysis").iterdir()
    } == tables


def test_sweep_bad_input_exits_2(tmp_path, capsys) -> None:
    sweep = tmp_path / "bad.toml"
    sweep.write_text("[axes]\nsmp = [1, 99]\n")
    assert main(["sweep", str(sweep), "--out", str(tmp_path / "o")]) == 2
    assert "guest.smp: 99 is out of range" in capsys.readouterr().err
    assert main(["analyze", str(tmp_path / "nowhere")]) == 2
    assert "not a sweep directory" in capsys.readouterr().err


def test_demo_runs_old_then_new_on_the_same_seed(capsys) -> None:
    assert main(["demo", "--horizon", "1", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "== old driver (nanos-0.1.54) ==" in out
    assert "== fixed driver (nanos-0.1.55), same seed ==" in out
    assert out.count("seed 3") >= 2


def test_version_and_help_show_the_version_and_defaults(capsys) -> None:
    from vnetsim.version import __version__

    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"vnetsim {__version__}"
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    out = capsys.readouterr().out
    assert "(default: nanos-2099)" in out  # --scenario
    assert "(default: 0)" in out  # --seed
    assert "(default: None)" not in out


def test_fields_lists_every_settable_field_and_a_presets_changes(capsys) -> None:
    from vnetsim.config import field_table

    assert main(["fields"]) == 0
    lines = capsys.readouterr().out.splitlines()
    paths = [line.split(" = ")[0] for line in lines if not line.startswith(" ")]
    assert paths == [f.path for f in field_table()]
    assert len(paths) == len(set(paths))
    assert "guest.smp = 8" in lines
    every = {f.path for f in field_table()}
    for path in every:  # each listed field is one --set accepts
        sec, key = path.split(".")
        value = ScenarioConfig().to_dict()[sec][key]
        ScenarioConfig().with_fields({path: value})
    assert main(["fields", "--scenario", "plain-host-ops-run"]) == 0
    out = capsys.readouterr().out
    assert "guest.smp = 1 (default 8)" in out
    assert "host.preempt_rate_per_s = 0.2 (default " in out


def test_status_dry_run_and_the_incomplete_sweep_warning(tmp_path, capsys) -> None:
    spec_file = tmp_path / "s.toml"
    spec_file.write_text('name = "st"\nreplicates = 2\nhorizon_s = 1\n[axes]\nsmp = [1, 2]\n')
    out = tmp_path / "out"
    assert main(["sweep", str(spec_file), "--out", str(out), "--dry-run"]) == 0
    plan = capsys.readouterr().out
    assert "smp=1: 0 done, 0 errors, 2 missing" in plan
    assert "2 points x 2 replicates = 4 runs: 0 done, 0 errors, 4 missing" in plan
    assert "4 runs to go, 4 simulated s at most" in plan
    assert not out.exists()  # a dry run writes nothing
    # Run half of it (one replicate), then ask.
    spec_file.write_text(spec_file.read_text().replace("replicates = 2", "replicates = 1"))
    assert main(["sweep", str(spec_file), "--out", str(out), "--no-progress"]) == 0
    spec_file.write_text(spec_file.read_text().replace("replicates = 1", "replicates = 2"))
    assert main(["sweep", str(spec_file), "--out", str(out), "--dry-run"]) == 0
    plan = capsys.readouterr().out
    assert "2 done, 0 errors, 2 missing" in plan
    assert "CPU-hours at the finished runs' rate" in plan
    assert main(["status", str(out)]) == 0
    assert "smp=2: 1 done, 0 errors, 0 missing" in capsys.readouterr().out
    assert main(["analyze", str(out)]) == 0
    assert "warning" not in capsys.readouterr().err  # complete for the sweep it recorded
    # Lose one stored run: analyze still works on the rest, and says what is missing.
    import pandas as pd

    for p in out.glob("runs.sqlite*"):  # the export alone, as in a fresh clone
        p.unlink()
    runs = pd.read_parquet(out / "runs.parquet")
    runs.iloc[1:].to_parquet(out / "runs.parquet", index=False)
    assert main(["analyze", str(out)]) == 0
    err = capsys.readouterr().err
    assert "warning: 1 runs of this sweep are not done yet" in err
    assert f"vnetsim status {out}" in err


# --- analyze: estimator columns, options (issue 9, audit gaps 1, 5, 6) ----------------------

RESULTS = Path(__file__).resolve().parent.parent / "results"


def _committed_copy(name: str, tmp_path: Path) -> Path:
    """A committed sweep's runs and manifest in ``tmp_path`` (results/ itself is not written)."""
    import shutil

    out = tmp_path / name
    out.mkdir()
    for f in ("manifest.json", "runs.parquet"):
        shutil.copy(RESULTS / name / f, out / f)
    return out


# The estimator each table names: the per-cell tables their curve estimator, the tables
# across cells (counts and exposures: pooled, trend, certification, per-cell log-rank) the
# kind of run, "plain" or "split" (docs/statistics.md).
PLAIN_TABLES = {
    "summary": "kaplan-meier",
    "km": "kaplan-meier",
    "censor": "kaplan-meier",
    "recovery_km": "kaplan-meier",
    "logrank": "plain",
    "pooled": "plain",
    "trend": "plain",
    "certification": "plain",
}
SPLIT_TABLES = dict.fromkeys(
    ("split_summary", "split_curves", "split_compare", "pooled", "trend", "certification"),
    "split",
)


@pytest.mark.parametrize(
    ("sweep", "expected"),
    [("nanos-2099-quick", PLAIN_TABLES), ("nanos-2099-split-tiny", SPLIT_TABLES)],
)
def test_every_table_analyze_writes_names_its_estimator(tmp_path, capsys, sweep, expected):
    import warnings

    import pandas as pd

    out = _committed_copy(sweep, tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("always")  # any warning would reach stderr
        assert main(["analyze", str(out)]) == 0
    err = capsys.readouterr().err
    # the split tiny sweep used to print scipy's DegenerateDataWarning (BCa, degenerate data)
    assert "Warning" not in err
    assert err == ""
    written = {p.stem for p in (out / "analysis").glob("*.csv")}
    assert written == set(expected)
    for name, estimator in expected.items():
        for suffix in (".csv", ".parquet"):
            path = out / "analysis" / f"{name}{suffix}"
            table = pd.read_csv(path) if suffix == ".csv" else pd.read_parquet(path)
            assert "estimator" in table.columns, path.name
            assert set(table["estimator"]) == {estimator}, path.name


def test_analyze_median_rule_and_target_ratio(tmp_path, capsys) -> None:
    import pandas as pd

    out = _committed_copy("nanos-2099-quick", tmp_path)
    # old at 2 vCPUs and 5000 req/s: both runs had an outage, at 5.0725 s and 17.1224 s, so
    # the KM curve is flat at exactly 0.5 between them: the first-time rule gives 5.0725 s,
    # R's midpoint rule the middle of the flat, (5.0725 + 17.1224) / 2 = 11.0975 s (the
    # sample median of two values).
    runs = pd.read_parquet(out / "runs.parquet")
    cell = runs[(runs["design"] == "old") & (runs["smp"] == 2) & (runs["load_rps"] == 5000)]
    t = sorted(cell["duration_s"])
    assert cell["event_observed"].all()
    assert t == pytest.approx([5.07245, 17.12243], abs=1e-5)

    def median() -> float:
        s = pd.read_csv(out / "analysis" / "summary.csv")
        pick = (s["design"] == "old") & (s["smp"] == 2) & (s["load_rps"] == 5000)
        return float(s.loc[pick, "median_s"].iloc[0])

    assert main(["analyze", str(out)]) == 0
    assert median() == pytest.approx(t[0])
    default = pd.read_csv(out / "analysis" / "certification.csv")
    assert (default["target_ratio"] == 0.01).all()
    assert main(["analyze", str(out), "--median-rule", "midpoint", "--target-ratio", "0.05"]) == 0
    capsys.readouterr()
    assert median() == pytest.approx((t[0] + t[1]) / 2)
    cert = pd.read_csv(out / "analysis" / "certification.csv")
    assert (cert["target_ratio"] == 0.05).all()
    # hours_needed = ratio bound × exposure / target (docs/inference.md): 5× fewer at 5 %
    ok = default["hours_needed"].notna()
    assert ok.any()
    np.testing.assert_allclose(
        cert.loc[ok, "hours_needed"], default.loc[ok, "hours_needed"] / 5, rtol=1e-12
    )
    # bad values: one line on stderr, exit 2
    for argv in (
        ["--target-ratio", "0"],
        ["--target-ratio", "1"],
        ["--target-ratio", "-0.5"],
        ["--target-ratio", "nan"],
        ["--target-ratio", "abc"],
        ["--median-rule", "mean"],
    ):
        try:  # a value argparse refuses exits from the parser, the others return 2
            status = main(["analyze", str(out), *argv])
        except SystemExit as exc:
            status = exc.code
        assert status == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("vnetsim: error: "), argv
        assert err.count("\n") == 1, argv
        assert argv[0] in err
        assert "Traceback" not in err
    with pytest.raises(SystemExit):
        main(["analyze", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "{first,midpoint}" in text
    assert "(default: first)" in text
    assert "R survival" in text
    assert "(default: 0.01)" in text


def test_analyze_defaults_are_the_reports() -> None:
    from vnetsim.analysis import report
    from vnetsim.cli import _parser

    args = _parser().parse_args(["analyze", "x"])
    assert args.median_rule == report.DEFAULT_MEDIAN_RULE
    assert args.target_ratio == report.DEFAULT_TARGET_RATIO


def test_every_subcommands_help_names_each_options_default(capsys) -> None:
    import argparse

    from vnetsim.cli import _parser

    parser = _parser()
    subs = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert {"run", "demo", "sweep", "status", "analyze", "figures"} <= set(subs.choices)
    for name, sub in subs.choices.items():
        with pytest.raises(SystemExit):
            main([name, "--help"])
        text = " ".join(capsys.readouterr().out.split())  # argparse wraps long lines
        assert "(default: None)" not in text, name
        for action in sub._actions:
            default = action.default
            if not action.option_strings or action.help == argparse.SUPPRESS:
                continue
            if default is None or default is False or default == argparse.SUPPRESS:
                continue
            assert f"(default: {default})" in text, (name, action.option_strings, default)
