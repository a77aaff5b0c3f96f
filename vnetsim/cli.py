"""Command line: ``vnetsim run | demo | sweep | analyze | figures | designs | scenarios``.

All argument parsing lives here. Bad input (unknown scenario, design or field, a value out of
range) prints one line naming the field and what is allowed, and exits with status 2.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from vnetsim.config import ConfigError, ScenarioConfig, field_table, shell_word, shown
from vnetsim.drivers import ALIASES, DESIGNS
from vnetsim.records import RunResult
from vnetsim.scenario import ModelError, check, load_scenario, simulate
from vnetsim.scenario.presets import PRESETS, preset
from vnetsim.sweep import StorageError, SweepWarning
from vnetsim.sweep.runner import DEFAULT_WAVE, check_wave
from vnetsim.version import __version__

if TYPE_CHECKING:  # the sweep layer and pandas load only for the commands that need them
    from vnetsim.sweep import LoadedSweep, SweepSpec


def _scenario_from_args(args: argparse.Namespace) -> ScenarioConfig:
    cfg = load_scenario(args.config) if args.config else preset(args.scenario)
    sets: list[str] = []
    if args.design is not None:
        sets.append(f"driver.design={json.dumps(args.design)}")  # escaped as a TOML string
    if args.smp is not None:
        sets.append(f"guest.smp={args.smp}")
    if args.horizon is not None:
        sets.append(f"run.horizon_s={args.horizon}")
    if args.load is not None:
        sets.append(f"workload.load_rps={args.load}")
    if args.trace is not None:
        sets.append(f"run.trace_events={args.trace}")
    return check(cfg.with_overrides([*sets, *(args.set or [])]), source="--set")


def _print_trace(result: RunResult, limit: int = 40) -> None:
    """The traced events around the misframe that started the first swallow (or the last)."""
    if not result.trace:
        return
    events = list(result.trace)
    names = [e[2] for e in events]
    if "swallow" in names:
        i = names.index("swallow")
        j = max((k for k in range(i) if names[k] == "misframe"), default=i)
        shown = events[max(0, j - (limit - 8)) : i + 8]
        print("\ntraced events around the misframe that started the swallow:")
    else:
        shown = events[-limit:]
        print(f"\nlast {len(shown)} traced events:")
    for t, cpu, event, detail in shown:
        who = f"vCPU {cpu}" if cpu >= 0 else "kernel"
        print(f"  {t:14.9f} s  {who:>7}  {event:<12} {detail}")


def _json_default(obj: object) -> object:
    if isinstance(obj, float) and math.isnan(obj):
        return None
    raise TypeError(repr(obj))


def _dumps(d: dict[str, object]) -> str:
    clean = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in d.items()}
    return json.dumps(clean, default=_json_default, sort_keys=False)


def _progress_stream(args: argparse.Namespace) -> Any:
    """stderr when it is a terminal and ``--no-progress`` was not given (quiet when piped)."""
    return sys.stderr if sys.stderr.isatty() and not args.no_progress else None


def cmd_run(args: argparse.Namespace) -> int:
    cfg = _scenario_from_args(args)
    result = simulate(cfg, seed=args.seed, progress=_progress_stream(args))
    if args.json:
        record = result.to_dict(with_trace=bool(result.trace))
        print(_dumps({**record, "config": cfg.to_dict()}))  # what ran, in full
    else:
        print(result.summary())
        _print_trace(result)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """The incident in two runs with the same workload randomness: old fails, new does not."""
    base = preset("nanos-2099").with_overrides(
        [f"run.horizon_s={args.horizon}", "run.recovery_horizon_s=60", "run.trace_events=4000"]
    )
    print(
        "nanos-2099: 8 vCPUs, 5,000 HTTP req/s, each written to 3 Redis servers "
        f"(seed {args.seed}, horizon {args.horizon:g} s)\n"
    )
    bar = _progress_stream(args)
    old = simulate(base.with_overrides(['driver.design="old"']), seed=args.seed, progress=bar)
    print("== old driver (nanos-0.1.54) ==")
    print(old.summary())
    _print_trace(old, limit=12)
    horizon = old.duration_s + 60.0 if old.event_observed else args.horizon
    new_cfg = base.with_overrides(
        ['driver.design="new"', f"run.horizon_s={horizon}", "run.trace_events=0"]
    )
    new = simulate(new_cfg, seed=args.seed, progress=bar)
    print("\n== fixed driver (nanos-0.1.55), same seed ==")
    print(new.summary())
    return 0


def _status_lines(
    spec: SweepSpec, states: dict[str, bool], stopped: dict[str, int] | None = None
) -> tuple[list[str], int]:
    from vnetsim.sweep.status import point_status

    rows = point_status(spec, states, stopped)
    lines = [
        "  ".join(f"{k}={v}" for k, v in p.point.items())
        + f": {p.done} done, {p.errors} errors, {p.missing} missing"
        + (f" (the early-stop rule ended it at {p.stopped_at})" if p.stopped_at else "")
        for p in rows
    ]
    missing = sum(p.missing for p in rows)
    done, errors = sum(p.done for p in rows), sum(p.errors for p in rows)
    lines.append(
        f"{spec.name}: {len(rows)} points x {spec.replicates} replicates = "
        f"{len(rows) * spec.replicates} runs: {done} done, {errors} errors, {missing} missing"
    )
    return lines, missing


def _print_plan(spec: SweepSpec, out: Path) -> int:
    """``sweep --dry-run``: what the command would run, and what that costs (the stored
    runs' ids and error flags, and the rate of up to 1,000 finished runs: never the whole
    table)."""
    from vnetsim.sweep import SweepStore
    from vnetsim.sweep.status import early_stops

    store = SweepStore(out)
    manifest = store.read_manifest()
    states = store.states(_export_record(manifest)) if manifest is not None else {}
    stopped = early_stops(manifest) if manifest is not None and states else {}
    lines, missing = _status_lines(spec, states, stopped)
    print("\n".join(lines))
    simulated = missing * spec.horizon_s
    cost = f"{missing} runs to go, {simulated:g} simulated s at most"
    wall, sim = store.recent_rate() if states else (0.0, 0.0)
    if sim > 0:
        cost += f", about {simulated * wall / sim / 3600:.2g} CPU-hours at the finished runs' rate"
    else:
        cost += " (no finished run here to estimate the CPU time from)"
    print(cost + "; nothing was run (--dry-run)")
    return 0


def _export_record(manifest: dict[str, Any]) -> dict[str, Any] | None:
    """The manifest's record of the export (lets ``states`` read the export alone)."""
    record = manifest.get("export")
    return record if isinstance(record, dict) else None


def cmd_status(args: argparse.Namespace) -> int:
    from vnetsim.sweep import SweepStore
    from vnetsim.sweep.status import early_stops, spec_from_manifest

    # the stored runs' ids and error flags only: one query, whatever the sweep's size
    store = SweepStore(args.dir)
    manifest = store.read_manifest()
    if manifest is None:
        raise ConfigError(f"{shown(args.dir)}: no manifest.json: not a sweep directory")
    spec = spec_from_manifest(manifest, args.dir)
    lines, _ = _status_lines(spec, store.states(_export_record(manifest)), early_stops(manifest))
    print("\n".join(lines))
    return 0


def _quiet_dask_logs() -> None:
    """Keep distributed's own log records (reconnect attempts, tracebacks) off the terminal:
    the sweep reports what matters, a lost scheduler included, in one line."""
    import logging

    import distributed  # noqa: F401  (its import configures its loggers)

    for name in list(logging.root.manager.loggerDict):
        if name == "distributed" or name.startswith("distributed."):
            logging.getLogger(name).setLevel(logging.CRITICAL)


def cmd_sweep(args: argparse.Namespace) -> int:
    from vnetsim.sweep import SweepSpec, SweepStore, run_sweep

    spec = SweepSpec.from_toml(args.file)
    if args.workers is not None and args.workers < 1:
        raise ConfigError(f"--workers: must be >= 1, got {args.workers}")
    for name, value in (
        ("--min-events", args.min_events),
        ("--target-ci-width", args.target_ci_width),
        ("--run-timeout", args.run_timeout),
    ):
        if value is not None and not (math.isfinite(value) and value > 0):
            raise ConfigError(f"{name}: must be a finite number > 0, got {value}")
    h = args.target_halfwidth
    if h is not None and not (math.isfinite(h) and 0 < h < 1):
        raise ConfigError(f"--target-halfwidth: must be a number in (0, 1), got {h}")
    check_wave(args.wave)
    if args.dry_run:
        return _print_plan(spec, args.out)
    if args.scheduler or args.scheduler_file:
        _quiet_dask_logs()
    try:
        run_sweep(
            spec,
            args.out,
            workers=args.workers,
            scheduler=args.scheduler,
            scheduler_file=args.scheduler_file,
            progress=_progress_stream(args) is not None,  # a bar on a terminal only
            min_events=args.min_events,
            target_ci_width=args.target_ci_width,
            target_halfwidth=args.target_halfwidth,
            wave=args.wave,
            run_timeout=args.run_timeout,
            replace=args.replace,
            retry_errors=args.retry_errors,
            table=False,  # the summary below reads four columns of the export instead
        )
    except KeyboardInterrupt as err:
        from vnetsim.sweep.runner import Terminated

        safe = len(SweepStore(args.out).done_ids())
        again = f"vnetsim sweep {shell_word(args.file)} --out {shell_word(args.out)}"
        how = "terminated (SIGTERM)" if isinstance(err, Terminated) else "interrupted"
        _error(
            f"vnetsim: {how}: {safe} finished runs are safe in {shown(args.out)}; "
            f"`{again}` (with the same options) continues"
        )
        return 143 if isinstance(err, Terminated) else 130
    n = SweepStore(args.out).counts()  # no pandas: a rerun of a finished sweep stays cheap
    counts = f"{int(n['outages'])} outages, {int(n['censored'])} censored"
    if n["split"]:  # a split run's own path survives by construction: count what it measured
        counts += (
            f", {int(n['split'])} split runs with {n['expected_outages']:.3g} expected outages"
        )
    errors = int(n["errors"])
    print(f"{spec.name}: {int(n['runs'])} runs in {shown(args.out)} ({counts}, {errors} errors)")
    if errors:
        print(f"rerun with --retry-errors to simulate the {errors} failed runs again")
    return 0


def cmd_analyze(args: argparse.Namespace) -> int:
    from vnetsim.analysis.report import analyze_dir, format_summary
    from vnetsim.sweep import load_sweep

    r = args.target_ratio
    if not (math.isfinite(r) and 0 < r < 1):
        raise ConfigError(f"--target-ratio: must be a number in (0, 1), got {r}")
    sweep = load_sweep(args.dir)
    tables = analyze_dir(sweep, median_rule=args.median_rule, target_ratio=r)
    print(format_summary(tables, sweep.axes, sweep.horizon_s or 900.0))
    print(f"\ntables written to {sweep.path / 'analysis'} (CSV and Parquet)")
    _warn_if_incomplete(sweep)
    return 0


def _warn_if_incomplete(sweep: LoadedSweep) -> None:
    from vnetsim.sweep.status import missing_runs

    missing = missing_runs(sweep)
    if missing:
        print(
            f"vnetsim: warning: {missing} runs of this sweep are not done yet; these tables "
            f"cover what has finished (`vnetsim status {sweep.path}` says which)",
            file=sys.stderr,
        )


def cmd_figures(args: argparse.Namespace) -> int:
    from vnetsim.analysis.report import draw_figures
    from vnetsim.sweep import load_sweep

    sweep = load_sweep(args.dir)
    written = draw_figures(sweep, sweep.path / "figures")
    for path in written.paths:
        print(path)
    for name, reason in written.skipped.items():
        print(f"vnetsim: skipped figure {name}: {reason}", file=sys.stderr)
    _warn_if_incomplete(sweep)
    return 0


def cmd_designs(_args: argparse.Namespace) -> int:
    rev = {v: k for k, v in ALIASES.items()}
    for name, spec in sorted(DESIGNS.items()):
        alias = f" (alias: {rev[name]})" if name in rev else ""
        print(f"{name}{alias}\n    mechanism: {spec.mechanism}\n    {spec.summary}")
    return 0


def cmd_fields(args: argparse.Namespace) -> int:
    """Every settable field: its value in the scenario (default: the defaults), range, doc."""
    values = preset(args.scenario).to_dict() if args.scenario else ScenarioConfig().to_dict()
    for info in field_table():
        sec, key = info.path.split(".")
        value = values[sec][key]
        changed = "" if value == info.default else f" (default {_toml_value(info.default)})"
        print(f"{info.path} = {_toml_value(value)}{changed}")
        print(f"    {info.type}, allowed {info.allowed}" + (f": {info.doc}" if info.doc else ""))
    return 0


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value) if isinstance(value, str) else repr(value)


def cmd_scenarios(_args: argparse.Namespace) -> int:
    for name, (summary, changes) in PRESETS.items():
        detail = ", ".join(f"{s}.{k}={v}" for s, ch in changes.items() for k, v in ch.items())
        print(f"{name}: {summary}" + (f"\n    changes: {detail}" if detail else ""))
    return 0


class _DefaultsFormatter(argparse.HelpFormatter):
    """``--help`` names each option's default, where it has one worth naming."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if default is None or default is False or default == argparse.SUPPRESS:
            return text
        if "%(default)" in text:
            return text
        if action.option_strings or action.nargs in (argparse.OPTIONAL, argparse.ZERO_OR_MORE):
            return f"{text} (default: %(default)s)"
        return text


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad option in one line (exit 2), like every other bad input,
    and shows every option's default in ``--help``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _DefaultsFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"vnetsim: error: {message} (see `{self.prog} --help`)\n")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="vnetsim", description=__doc__.splitlines()[0])
    p.add_argument("--version", action="version", version=f"vnetsim {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="simulate one scenario and report its time to outage")
    src = run.add_mutually_exclusive_group()
    src.add_argument("--scenario", default="nanos-2099", help="named preset (see `scenarios`)")
    src.add_argument("--config", type=Path, help="scenario TOML file")
    run.add_argument("--design", help="driver design or alias (see `designs`)")
    run.add_argument("--smp", type=int, help="number of vCPUs (1-64)")
    run.add_argument("--horizon", type=float, help="censoring horizon in seconds")
    run.add_argument("--load", type=float, help="offered HTTP requests per second")
    run.add_argument("--seed", type=int, default=0, help="root seed (non-negative integer)")
    run.add_argument(
        "--no-progress", action="store_true", help="no progress bar (none when piped anyway)"
    )
    run.add_argument(
        "--set",
        action="append",
        metavar="PATH=VALUE",
        help="override any field, e.g. host.mrg_rxbuf=false (repeatable)",
    )
    run.add_argument(
        "--trace", type=int, metavar="N", help="keep the last N events before the outage"
    )
    run.add_argument("--json", action="store_true", help="print one JSON object")
    run.set_defaults(func=cmd_run)

    demo = sub.add_parser("demo", help="the incident: old driver vs fixed driver, same seed")
    demo.add_argument("--seed", type=int, default=1, help="root seed of both runs")
    demo.add_argument("--horizon", type=float, default=900.0, help="censoring horizon in seconds")
    demo.add_argument(
        "--no-progress", action="store_true", help="no progress bar (none when piped anyway)"
    )
    demo.set_defaults(func=cmd_demo)

    sweep = sub.add_parser("sweep", help="run a sweep file (resumable)")
    sweep.add_argument("file", type=Path, help="sweep TOML file")
    sweep.add_argument("--out", type=Path, required=True, help="results directory")
    sweep.add_argument("--workers", type=int, help="local worker processes (default: all cores)")
    sweep.add_argument("--scheduler", help="Dask scheduler address, e.g. tcp://HOST:8786")
    sweep.add_argument("--scheduler-file", help="Dask scheduler file")
    sweep.add_argument(
        "--min-events",
        type=int,
        help="stop adding replicates to a point once it has this many outages",
    )
    sweep.add_argument(
        "--target-ci-width",
        type=float,
        help="... or once its hazard's 95%% interval is this narrow (relative)",
    )
    sweep.add_argument(
        "--target-halfwidth",
        type=float,
        metavar="H",
        help="... or once the 95%% interval of its survival S(t) is within +-H of the "
        "estimate at every t up to the horizon (absolute; plain and split runs)",
    )
    sweep.add_argument(
        "--wave",
        type=int,
        default=DEFAULT_WAVE,
        metavar="N",
        help="with an early-stop rule: replicates added to a point at a time, the rule being "
        "checked after each wave (default: %(default)s)",
    )
    sweep.add_argument(
        "--run-timeout",
        type=float,
        metavar="SECONDS",
        help="record a run that uses more CPU seconds, or no CPU for that long, as an "
        "error (local backend)",
    )
    sweep.add_argument(
        "--replace",
        action="store_true",
        help="if --out holds a different sweep, move it aside and start anew",
    )
    sweep.add_argument(
        "--retry-errors",
        action="store_true",
        help="simulate again the runs stored as errors (their new rows replace the old)",
    )
    sweep.add_argument(
        "--dry-run",
        action="store_true",
        help="print the points, the runs still to do and their cost; run nothing",
    )
    sweep.add_argument("--no-progress", action="store_true", help="no progress bar")
    sweep.set_defaults(func=cmd_sweep)

    status = sub.add_parser("status", help="per point: runs done, errors and missing")
    status.add_argument("dir", type=Path)
    status.set_defaults(func=cmd_status)

    analyze = sub.add_parser("analyze", help="survival tables of a sweep directory")
    analyze.add_argument("dir", type=Path)
    analyze.add_argument(
        "--median-rule",
        choices=("first", "midpoint"),
        default="first",
        help="the median where the Kaplan–Meier curve is exactly 0.5: the first such time "
        "(lifelines, scipy) or the middle of the flat (R survival)",
    )
    analyze.add_argument(
        "--target-ratio",
        type=float,
        default=0.01,
        metavar="R",
        help="certification target: the design's hazard below R times the reference's, 0 < R < 1",
    )
    analyze.set_defaults(func=cmd_analyze)

    figs = sub.add_parser("figures", help="publication figures of a sweep directory")
    figs.add_argument("dir", type=Path)
    figs.set_defaults(func=cmd_figures)

    sub.add_parser("designs", help="list driver designs").set_defaults(func=cmd_designs)
    sub.add_parser("scenarios", help="list named scenarios").set_defaults(func=cmd_scenarios)
    fields_cmd = sub.add_parser(
        "fields", help="list every settable field (for --set and [set]) with range and doc"
    )
    fields_cmd.add_argument(
        "--scenario", help="show this preset's values (default: the built-in defaults)"
    )
    fields_cmd.set_defaults(func=cmd_fields)
    return p


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: Any = None,
    line: str | None = None,
) -> None:
    """A sweep's warnings in one line, like its errors; others as Python shows them."""
    if issubclass(category, SweepWarning):
        print(f"vnetsim: warning: {message}", file=sys.stderr)
    else:
        sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        return _main(args)


def _main(args: argparse.Namespace) -> int:
    try:
        seed = getattr(args, "seed", None)
        if seed is not None and seed < 0:
            raise ConfigError(f"--seed: must be a non-negative integer, got {seed}")
        return int(args.func(args))
    except BrokenPipeError:  # `vnetsim fields | head`: the reader left, which is no error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except ConfigError as err:
        _error(f"vnetsim: error: {err}")
        return 2
    except StorageError as err:
        _error(f"vnetsim: error: {err}")
        return 1
    except ModelError as err:  # a vnetsim bug, reported as such (not as an outage)
        _error(f"vnetsim: model error (please report): {err}")
        return 3


def _error(message: str) -> None:
    """Print on stderr whatever bytes a user's path or name held (escaped if not UTF-8)."""
    print(message.encode("utf-8", "backslashreplace").decode("utf-8"), file=sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
