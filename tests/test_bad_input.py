"""Bad input is refused before any run starts, by every way into vnetsim.

Property tests (Hypothesis) over scenario dicts, ``--set`` strings, scenario and sweep TOML files
and CLI argument lists: each input is either accepted *exactly as written* (no field silently
changed, every number inside its metadata range) or refused with a ``ConfigError`` naming the
file, the field and the value; the CLI exits 2 with one line on stderr and no traceback.
No simulation runs here: the CLI tests replace ``simulate`` and ``run_sweep`` with stubs that
record the validated input instead (one explicit test runs a 0.05 s simulation).

The tests at the end pin bugs this module found (overflow, undecodable files, unnamed files,
silently overridden sweep fields, quoting, trailing text, non-finite options, multi-line
argparse errors); all are fixed, and the property strategies cover those inputs too.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import itertools
import math
import string
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

import vnetsim.cli as cli
import vnetsim.sweep as sweep_mod
from vnetsim.cli import main
from vnetsim.config import ConfigError, ScenarioConfig, shown
from vnetsim.drivers import ALIASES, DESIGNS, resolve_design
from vnetsim.scenario import PRESETS, check, load_scenario, preset, scenario_from_dict
from vnetsim.sweep import AXIS_ALIASES, SweepSpec
from vnetsim.sweep.spec import TOP_KEYS

SECTIONS: dict[str, type] = dict(ScenarioConfig.SECTIONS)
FIELDS: dict[str, dataclasses.Field[Any]] = {
    f"{s}.{f.name}": f for s, c in SECTIONS.items() for f in dataclasses.fields(c)
}
PATHS = sorted(FIELDS)
NAMES = {s: [f.name for f in dataclasses.fields(c)] for s, c in SECTIONS.items()}
PARTNERS = {  # cross-field checks report the other field of the pair
    "driver.publish_window_min_ns": "driver.publish_window_max_ns",
    "driver.publish_window_max_ns": "driver.publish_window_min_ns",
    "workload.body_min_bytes": "workload.body_max_bytes",
    "workload.body_max_bytes": "workload.body_min_bytes",
}
DESIGN_NAMES = sorted(DESIGNS) + sorted(ALIASES)
# Ints above ~1.8e308 crash float() for float fields (test_huge_int_for_a_float_field_...).
HUGE = 10**300
# Paths that a sweep silently overrides (test_sweep_silently_overrides_...).
_NO_SILENT_SWEEP: set[str] = set()  # was {"run.horizon_s", "name"} before they were refused

FAST = settings(max_examples=250, deadline=None)
CLI = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


# -- helpers ---------------------------------------------------------------------------
def _ftype(path: str) -> type:
    return type(FIELDS[path].default)


def _get(cfg: ScenarioConfig, path: str) -> Any:
    sec, name = path.split(".")
    return getattr(getattr(cfg, sec), name)


def _same(given_value: Any, actual: Any, typ: type) -> bool:
    """Nothing silently changed: same type and value (ints for float fields as equal floats)."""
    if typ is float and type(given_value) is int:
        return type(actual) is float and actual == given_value
    return type(actual) is type(given_value) and actual == given_value


def _assert_valid(cfg: ScenarioConfig) -> None:
    """Every field has its declared type and lies in its metadata range / choices."""
    assert isinstance(cfg.name, str)
    assert cfg.name
    for path, f in FIELDS.items():
        v = _get(cfg, path)
        assert type(v) is type(f.default), path
        lo, hi, choices = f.metadata["lo"], f.metadata["hi"], f.metadata["choices"]
        if type(v) in (int, float):
            assert math.isfinite(v), path
            assert lo is None or v >= lo, path
            assert hi is None or v <= hi, path
        if choices:
            assert v in choices, path
    assert cfg.virtqueue.ring_size & (cfg.virtqueue.ring_size - 1) == 0
    assert resolve_design(cfg.driver.design) in DESIGNS
    assert cfg.driver.publish_window_min_ns <= cfg.driver.publish_window_max_ns
    assert cfg.workload.body_min_bytes <= cfg.workload.body_max_bytes


def _event(name: str) -> None:
    """Outcome statistics (``--hypothesis-show-statistics``); a no-op outside Hypothesis."""
    with contextlib.suppress(InvalidArgument):
        event(name)


def _attempt(build: Callable[[], Any]) -> tuple[Any, str | None]:
    """(result, None) or (None, ConfigError message); any other exception propagates."""
    try:
        result = build()
    except ConfigError as err:
        _event("refused")
        return None, str(err)
    _event("accepted")
    return result, None


def _names_one_of(msg: str, labels: list[str]) -> bool:
    return any(lab in msg or repr(lab) in msg for lab in labels)


def toml_literal(v: Any) -> str:
    """A TOML literal whose value is ``v`` (None has none: callers filter it out)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return _toml_str(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_literal(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_toml_str(k)} = {toml_literal(x)}" for k, x in v.items()) + "}"
    raise TypeError(v)


def _toml_str(s: str) -> str:
    """A TOML basic string (json.dumps would write astral characters as surrogate pairs)."""
    out = []
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def toml_doc(d: dict[str, Any]) -> str:
    return "".join(f"{_toml_str(k)} = {toml_literal(v)}\n" for k, v in d.items())


def _toml_ok(v: Any) -> bool:
    if v is None:
        return False
    if isinstance(v, list):
        return all(map(_toml_ok, v))
    if isinstance(v, dict):
        return all(map(_toml_ok, v.values()))
    return True


# -- value strategies --------------------------------------------------------------------
JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.text(max_size=6),
    st.lists(st.integers(-3, 3), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(-3, 3), max_size=2),
    st.sampled_from(
        [
            math.nan,
            math.inf,
            -math.inf,
            -1,
            -1.5,
            0,
            0.5,
            2**63,
            -(2**63),
            HUGE,
            -HUGE,
            1e308,
            -1e-300,
        ]
    ),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-HUGE, HUGE),
)
JUNK_TOML = JUNK.filter(_toml_ok)
KEY = st.one_of(
    st.text(string.ascii_lowercase + "_", min_size=1, max_size=12), st.text(min_size=1, max_size=6)
)


def _typo(name: str, i: int, how: str) -> str:
    i %= len(name)
    if how == "del":
        return name[:i] + name[i + 1 :]
    if how == "dup":
        return name[:i] + name[i] + name[i:]
    if how == "swap" and i + 1 < len(name):
        return name[:i] + name[i + 1] + name[i] + name[i + 2 :]
    return name.upper() if how == "upper" else name + "s"


def typos(names: list[str]) -> st.SearchStrategy[str]:
    return st.builds(
        _typo,
        st.sampled_from(names),
        st.integers(0, 30),
        st.sampled_from(["del", "dup", "swap", "upper", "plural"]),
    )


@functools.cache
def values_for(path: str) -> st.SearchStrategy[Any]:
    """Good, borderline and wrong values for one field."""
    return st.one_of(*_good_near(path), JUNK)


@functools.cache
def good_for(path: str) -> st.SearchStrategy[Any]:
    """Values the field's own check accepts (cross-field checks may still refuse them)."""
    return _good_near(path)[0]


def _good_near(path: str) -> tuple[st.SearchStrategy[Any], ...]:
    f = FIELDS[path]
    typ, meta = type(f.default), f.metadata
    if typ is bool:
        good: st.SearchStrategy[Any] = st.booleans()
        near: st.SearchStrategy[Any] = st.sampled_from([0, 1, "true", "false", "yes"])
    elif typ is str and meta["choices"]:
        good = st.sampled_from(meta["choices"])
        near = st.one_of(typos(list(meta["choices"])), st.sampled_from(["", " gcc11", "ascii"]))
    elif typ is str:  # design
        good = st.sampled_from(DESIGN_NAMES)
        near = st.one_of(typos(DESIGN_NAMES), st.sampled_from(["", "nanos", "OLD", "new "]))
    elif path == "virtqueue.ring_size":
        good = st.integers(0, 15).map(lambda k: 2**k)
        near = st.one_of(st.integers(-3, 40000), st.sampled_from([65536, 256.0]))
    elif typ is int:
        lo, hi = meta["lo"], meta["hi"]
        good = st.integers(lo, hi)
        near = st.sampled_from([lo - 1, hi + 1, float(lo), float(hi), lo + 0.5, -hi])
    else:
        lo, hi = meta["lo"], meta["hi"]
        good = st.one_of(st.floats(lo, hi), st.integers(math.ceil(lo), math.floor(hi)))
        near = st.sampled_from(
            [
                math.nextafter(lo, -math.inf),
                math.nextafter(hi, math.inf),
                lo - 1,
                hi * 2 + 1,
                -hi,
                int(hi) + 1,
            ]
        )
    return good, good, near  # good twice: accepted inputs get checked too


# -- 1. scenario dicts -------------------------------------------------------------------
def mutation(file: bool = False) -> st.SearchStrategy[tuple[Any, ...]]:
    vals = (lambda p: values_for(p).filter(_toml_ok)) if file else values_for
    junk = JUNK_TOML if file else JUNK
    name_values = st.text(min_size=1, max_size=6) if file else st.one_of(st.text(max_size=6), JUNK)
    return st.one_of(
        st.sampled_from(PATHS).flatmap(lambda p: st.tuples(st.just("set"), st.just(p), vals(p))),
        st.tuples(st.just("drop"), st.sampled_from(PATHS + list(SECTIONS))),
        st.tuples(st.just("rename"), st.sampled_from(PATHS), st.one_of(KEY, typos(PATHS))),
        st.tuples(st.just("extra_field"), st.sampled_from(list(SECTIONS)), KEY, junk),
        st.tuples(
            st.just("extra_section"),
            st.one_of(KEY, typos(list(SECTIONS))),
            st.one_of(junk, st.dictionaries(KEY, junk, max_size=2)),
        ),
        st.tuples(
            st.just("section_type"),
            st.sampled_from(list(SECTIONS)),
            junk.filter(lambda v: not isinstance(v, dict)),
        ),
        st.tuples(st.just("name"), name_values),
    )


def apply_mutations(d: dict[str, Any], muts: list[tuple[Any, ...]]) -> list[str]:
    """Mutate ``d`` in place; return what an error message may name (any one of them)."""
    labels: list[str] = []
    for kind, *rest in muts:
        if kind == "set":
            path, value = rest
            sec, key = path.split(".")
            if isinstance(d.get(sec), dict):
                d[sec][key] = value
                labels += [path, PARTNERS.get(path, path)]
        elif kind == "drop":
            sec, _, key = rest[0].partition(".")
            if not key:
                d.pop(sec, None)
            elif isinstance(d.get(sec), dict):
                d[sec].pop(key, None)
        elif kind == "rename":
            path, new = rest
            sec, key = path.split(".")
            new = new.rpartition(".")[2] or "x"
            if isinstance(d.get(sec), dict) and key in d[sec] and new not in NAMES[sec]:
                d[sec][new] = d[sec].pop(key)
                labels.append(f"{sec}.{new}")
        elif kind == "extra_field":
            sec, key, value = rest
            if isinstance(d.get(sec), dict) and key not in NAMES[sec]:
                d[sec][key] = value
                labels.append(f"{sec}.{key}")
        elif kind == "extra_section":
            key, value = rest
            if key not in SECTIONS and key not in ("name", "base"):
                d[key] = value
                labels.append(key)
        elif kind == "section_type":
            sec, value = rest
            d[sec] = value
            labels.append(sec)
        elif kind == "name":
            d["name"] = rest[0]
            labels.append("name")
    return labels


def check_accepted_as_written(cfg: ScenarioConfig, d: dict[str, Any]) -> None:
    """``d`` had no unknown key and every value it gave is in ``cfg`` unchanged."""
    for key, value in d.items():
        if key == "name":
            assert type(value) is str
            assert cfg.name == value
            continue
        assert key in SECTIONS, f"unknown section {key!r} accepted"
        assert isinstance(value, dict)
        for k, v in value.items():
            assert k in NAMES[key], f"unknown field {key}.{k} accepted"
            path = f"{key}.{k}"
            assert _same(v, _get(cfg, path), _ftype(path)), (
                f"{path}: gave {v!r}, config has {_get(cfg, path)!r}"
            )
    _assert_valid(cfg)


@FAST
@given(muts=st.lists(mutation(), min_size=1, max_size=4))
def test_scenario_dict_is_taken_as_written_or_refused_naming_the_field(muts) -> None:
    d = ScenarioConfig().to_dict()
    labels = apply_mutations(d, muts)
    cfg, msg = _attempt(lambda: scenario_from_dict(d))
    if msg is not None:
        assert labels, f"valid dict refused: {msg}"
        assert _names_one_of(msg, labels), (msg, labels)
        return
    check_accepted_as_written(cfg, d)


@FAST
@given(path=st.sampled_from(PATHS), data=st.data())
def test_every_field_alone_takes_good_values_and_refuses_bad_ones(path, data) -> None:
    value = data.draw(values_for(path))
    sec, key = path.split(".")
    d = {sec: {key: value}}
    cfg, msg = _attempt(lambda: scenario_from_dict(d))
    if msg is not None:
        assert path in msg or PARTNERS.get(path, path) in msg, msg
        return
    check_accepted_as_written(cfg, d)


# -- 2. --set strings --------------------------------------------------------------------
# "name" is not a section.field path; its quoting is covered by a regression test below.
_SET_PATHS = PATHS
_PAD = st.sampled_from(["", " ", "  "])


@FAST
@given(path=st.sampled_from(_SET_PATHS), data=st.data(), pads=st.tuples(_PAD, _PAD, _PAD))
def test_set_typed_literal_is_taken_as_written_or_refused_naming_the_path(path, data, pads) -> None:
    value = data.draw(values_for(path).filter(_toml_ok))
    item = f"{pads[0]}{path}{pads[1]}={pads[2]}{toml_literal(value)}"
    cfg, msg = _attempt(lambda: check(ScenarioConfig().with_overrides([item])))
    if msg is not None:
        assert path in msg or PARTNERS.get(path, path) in msg, (item, msg)
        return
    assert _same(value, _get(cfg, path), _ftype(path)), (item, _get(cfg, path))
    _assert_valid(cfg)


_GARBAGE_ITEM = st.one_of(
    st.text(max_size=20),
    st.builds(
        lambda p, v: f"{p}={v}",
        st.one_of(st.sampled_from(PATHS), typos(PATHS), KEY, st.just("")),
        st.text(max_size=12),
    ),
    st.builds(
        lambda p, v: f"{p}={v}",
        st.sampled_from(PATHS),
        st.sampled_from(
            [
                "",
                "=",
                "[1,",
                "{",
                "'",
                '"',
                "0x10",
                "1_0",
                "08",
                "1e400",
                "-nan",
                "+inf",
                "true false",
                "[]",
                "{}",
                "1979-05-27",
                "07:32:00",
                "'old'",
                '"""x"""',
                "old",
                "gcc12",
            ]
        ),
    ),
)


@FAST
@given(items=st.lists(_GARBAGE_ITEM, min_size=1, max_size=3))
def test_set_garbage_is_refused_naming_the_path_or_yields_a_valid_config(items) -> None:
    cfg, msg = _attempt(lambda: check(ScenarioConfig().with_overrides(items)))
    if msg is not None:
        named = [it.partition("=")[0].strip() for it in items]
        named += [PARTNERS[p] for p in named if p in PARTNERS]
        named += [shown(p) for p in named]  # a path with a line break is shown quoted
        assert any((p and p in msg) for p in named) or any(repr(it) in msg for it in items), (
            items,
            msg,
        )
        return
    _assert_valid(cfg)


# -- 3. files ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Any:
    """A directory and a counter: one new file name per Hypothesis example."""
    root = tmp_path_factory.mktemp("bad_input")
    (root / "scen.toml").write_text("[guest]\nsmp = 2\n[host]\nkick_us = 3.5\n")
    counter = itertools.count()

    def new(stem: str, content: str | bytes) -> Path:
        p = root / f"{stem}_{next(counter)}.toml"
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content, encoding="utf-8")
        return p

    new.root = root  # type: ignore[attr-defined]
    return new


# Non-UTF-8 bytes crash the loaders (test_non_utf8_file_...): keep random bytes ASCII here.
_ASCII_BYTES = st.binary(max_size=60).map(lambda b: bytes(x & 0x7F for x in b))
_RANDOM_TEXT = st.one_of(
    st.text(max_size=60).map(lambda s: s.encode()),
    _ASCII_BYTES,
    st.lists(
        st.sampled_from(
            [
                "[host]",
                "[[guest]]",
                "smp = 1",
                "x = ",
                '"a" = 1',
                "= 2",
                "[run]",
                "horizon_s = 0",
                "name = 'n'",
                "[axes]",
                "smp = []",
                "replicates = 0",
                "#",
                "[set]",
                '"guest.smp" = 2',
                "[x.y]",
                "a.b.c = 1",
                "\t",
                "'''",
                "inf",
            ]
        ),
        max_size=6,
    ).map(lambda lines: "\n".join(lines).encode()),
)


@FAST
@given(content=_RANDOM_TEXT)
def test_random_scenario_file_is_refused_naming_the_file(files, content) -> None:
    p = files("scenario", content)
    cfg, msg = _attempt(lambda: load_scenario(p))
    if msg is not None:
        assert p.name in msg, msg
        return
    _assert_valid(cfg)


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in base.items()}
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k].update(v)
        else:
            out[k] = v
    return out


@FAST
@given(
    keep=st.sets(st.sampled_from(list(SECTIONS))),
    base=st.one_of(st.none(), st.sampled_from(sorted(PRESETS))),
    muts=st.lists(mutation(file=True), max_size=4),
)
def test_scenario_file_is_taken_as_written_or_refused_naming_file_and_field(
    files, keep, base, muts
) -> None:
    d = {k: v for k, v in ScenarioConfig().to_dict().items() if k in keep}
    labels = apply_mutations(d, muts)
    doc = ({"base": base} if base else {}) | d
    p = files("scenario", toml_doc(doc))
    cfg, msg = _attempt(lambda: load_scenario(p))
    if msg is not None:
        assert p.name in msg, msg
        assert labels, msg
        assert _names_one_of(msg, labels), (msg, labels)
        return
    expected = _merge(preset(base).to_dict(), d) if base else d
    check_accepted_as_written(cfg, expected)


def _path(axis: str) -> str:
    return AXIS_ALIASES.get(axis, axis)


_SWEEP_KEYS = sorted(set(PATHS) - _NO_SILENT_SWEEP) + sorted(AXIS_ALIASES)
_SWEEP_KEY = st.one_of(
    st.sampled_from(_SWEEP_KEYS),
    typos(_SWEEP_KEYS),
    KEY.filter(lambda k: k not in _NO_SILENT_SWEEP),
)


def _value_for_key(key: str) -> st.SearchStrategy[Any]:
    p = _path(key)
    return values_for(p).filter(_toml_ok) if p in FIELDS else JUNK_TOML


def _good_axis(key: str) -> st.SearchStrategy[Any]:
    p = _path(key)
    if p not in FIELDS:
        return st.nothing()
    return st.lists(good_for(p), min_size=1, max_size=3, unique_by=repr)


def _unique_by_path(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # One entry per resolved path (both "smp" and "guest.smp" is refused: tested below).
    out: dict[str, Any] = {}
    seen: set[str] = set()
    for k, v in pairs:
        if _path(k) not in seen:
            seen.add(_path(k))
            out[k] = v
    return out


_AXES = st.lists(
    _SWEEP_KEY.flatmap(
        lambda k: st.tuples(
            st.just(k),
            st.one_of(
                st.lists(_value_for_key(k), max_size=3), _good_axis(k), _good_axis(k), JUNK_TOML
            ),
        )
    ),
    max_size=3,
).map(_unique_by_path)
_SET = st.lists(
    _SWEEP_KEY.flatmap(lambda k: st.tuples(st.just(k), _value_for_key(k))), max_size=3
).map(_unique_by_path)
# Known keys and non-empty value lists: the per-point checks of values get exercised.
_KNOWN_KEY = st.sampled_from(_SWEEP_KEYS)
_AXES_KNOWN = st.lists(
    _KNOWN_KEY.flatmap(
        lambda k: st.tuples(
            st.just(k),
            st.one_of(
                st.lists(_value_for_key(k), min_size=1, max_size=3, unique_by=repr), _good_axis(k)
            ),
        )
    ),
    max_size=3,
).map(_unique_by_path)
_SET_KNOWN = st.lists(
    _KNOWN_KEY.flatmap(lambda k: st.tuples(st.just(k), _value_for_key(k))), max_size=2
).map(_unique_by_path)
_COUNT = st.one_of(
    st.integers(0, 4), st.integers(-3, 0), st.sampled_from([10**20, 1.0, 2.5, True, False, "3", []])
)
_GOOD_HORIZON = st.sampled_from([1e-6, 0.05, 60, 1e7])
_HORIZON = st.one_of(
    _GOOD_HORIZON,
    st.sampled_from([0, 0.0, -1, 1e-7, 1e8, HUGE, True, "60", math.nan, math.inf, -math.inf]),
    st.floats(allow_nan=True, allow_infinity=True),
)
# Bases here are presets, a real file, or not strings; bad preset names and missing base
# files are covered by the regression tests below.
_GOOD_BASE = st.sampled_from([*sorted(PRESETS), "scen.toml"])
_ANY_TOP = st.builds(
    lambda known, extra: known | extra,
    st.fixed_dictionaries(
        {},
        optional={
            "name": st.one_of(st.text(max_size=8), st.integers(), st.booleans()),
            "base": st.one_of(_GOOD_BASE, st.sampled_from([1, True, [], ["nanos-2099"]])),
            "replicates": _COUNT,
            "root_seed": _COUNT,
            "horizon_s": _HORIZON,
            "set": st.one_of(_SET, JUNK_TOML),
            "axes": st.one_of(_AXES, JUNK_TOML),
        },
    ),
    st.dictionaries(KEY.filter(lambda k: k not in TOP_KEYS), JUNK_TOML, max_size=1),
)
# Valid top-level keys, so that the per-point checks ([set], [axes]) get exercised too.
_CLEAN_TOP = st.fixed_dictionaries(
    {"set": _SET_KNOWN, "axes": _AXES_KNOWN},
    optional={
        "name": st.text(max_size=8),
        "base": _GOOD_BASE,
        "replicates": st.integers(1, 4),
        "root_seed": st.integers(0, 2**64),
        "horizon_s": _GOOD_HORIZON,
    },
)
SWEEP_DOC = st.one_of(_CLEAN_TOP, _ANY_TOP)


def check_sweep_as_written(spec: SweepSpec, doc: dict[str, Any], root: Path) -> None:
    for key, typ in (("replicates", int), ("root_seed", int)):
        if key in doc:
            assert type(doc[key]) is typ
            assert getattr(spec, key) == doc[key]
    assert spec.replicates >= 1
    assert spec.root_seed >= 0
    base_name = doc.get("base", "nanos-2099")
    base = load_scenario(root / base_name) if base_name.endswith(".toml") else preset(base_name)
    assert spec.base == base
    horizon = doc.get("horizon_s", base.run.horizon_s)
    assert type(horizon) in (int, float)
    assert math.isfinite(horizon)
    assert horizon > 0
    axes, fixed = doc.get("axes", {}), doc.get("set", {})
    axis_paths = {_path(k) for k in axes}
    points = spec.points()
    assert points
    assert len(points) == math.prod(len(v) for v in axes.values())
    for point in points:
        cfg = spec.config_for(point)
        _assert_valid(cfg)
        assert cfg.run.horizon_s == float(horizon)
        for k, v in point.items():
            assert _same(v, _get(cfg, _path(k)), _ftype(_path(k))), (k, v)
        for k, v in fixed.items():
            if _path(k) not in axis_paths:
                assert _same(v, _get(cfg, _path(k)), _ftype(_path(k))), (k, v)


@settings(max_examples=400, deadline=None)
@given(doc=SWEEP_DOC)
def test_sweep_file_is_taken_as_written_or_refused_naming_the_file(files, doc) -> None:
    p = files("sweep", toml_doc(doc))
    spec, msg = _attempt(lambda: SweepSpec.from_toml(p))
    if msg is not None:
        assert p.name in msg, msg
        return
    check_sweep_as_written(spec, doc, p.parent)


@FAST
@given(content=_RANDOM_TEXT)
def test_random_sweep_file_is_refused_naming_the_file(files, content) -> None:
    p = files("sweep", content)
    spec, msg = _attempt(lambda: SweepSpec.from_toml(p))
    if msg is not None:
        assert p.name in msg, msg
        return
    assert spec.points()
    for point in spec.points():
        _assert_valid(spec.config_for(point))


# -- 4. CLI ------------------------------------------------------------------------------
class _Started(Exception):
    """Raised by the stubs: validation passed and a run or sweep would have started."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__("started")
        self.args_ = args
        self.kwargs = kwargs


def _stub(*args: Any, **kwargs: Any) -> Any:
    raise _Started(*args, **kwargs)


@pytest.fixture
def no_runs(monkeypatch) -> None:
    monkeypatch.setattr(cli, "simulate", _stub)
    monkeypatch.setattr(sweep_mod, "run_sweep", _stub)


def _call(argv: list[str], capsys) -> tuple[str, Any, str]:
    """('rc', code, stderr) | ('argparse', code, stderr) | ('started', _Started, stderr)."""
    capsys.readouterr()
    try:
        rc = main(argv)
    except SystemExit as e:
        _event("argparse error")
        return "argparse", e.code, capsys.readouterr().err
    except _Started as s:
        _event("started")
        return "started", s, capsys.readouterr().err
    _event("refused")
    return "rc", rc, capsys.readouterr().err


def _assert_refused_cleanly(kind: str, code: Any, err: str) -> None:
    assert "Traceback" not in err
    if kind == "argparse":  # argparse's own errors: also one line, exit 2
        assert code == 2
        assert len(err.strip().splitlines()) == 1, err
        assert "error:" in err
        return
    assert kind == "rc", (kind, code, err)
    assert code == 2, err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert "error" in lines[0]


RUN_OPTS = st.fixed_dictionaries(
    {},
    optional={
        "--scenario": st.one_of(st.sampled_from(sorted(PRESETS)), typos(sorted(PRESETS)), KEY),
        "--config": st.sampled_from(["missing", "garbage", "valid", "badfield", "badrange"]),
        # any text, quotes and backslashes included: it is escaped, never spliced into TOML
        "--design": st.one_of(
            st.sampled_from(DESIGN_NAMES), typos(DESIGN_NAMES), st.text(max_size=10)
        ),
        "--smp": st.one_of(st.integers(-3, 70).map(str), st.sampled_from(["abc", "1.5", "", "8x"])),
        "--horizon": st.sampled_from(
            ["0", "-1", "nan", "inf", "-inf", "1e8", "abc", "0.05", "1e-7", "", "1e400"]
        ),
        "--load": st.sampled_from(["-1", "abc", "1e9", "nan", "100", "200001"]),
        "--seed": st.sampled_from(["-1", "abc", "1.5", "0", "7", "-0"]),
        "--trace": st.sampled_from(["-1", "x", "10", "20000000"]),
        "--set": st.lists(
            st.one_of(
                _GARBAGE_ITEM,
                st.sampled_from(PATHS).flatmap(
                    lambda p: values_for(p).filter(_toml_ok).map(lambda v: f"{p}={toml_literal(v)}")
                ),
            ),
            max_size=2,
        ),
    },
)
_CONFIG_FILES = {
    "garbage": "[host\nsmp = ",
    "valid": "[guest]\nsmp = 2\n",
    "badfield": "[guest]\nsmpp = 2\n",
    "badrange": "[guest]\nsmp = 65\n",
}


@CLI
@given(opts=RUN_OPTS)
def test_cli_run_refuses_bad_input_with_one_line_or_starts_the_given_scenario(
    files, no_runs, capsys, opts
) -> None:
    argv = ["run"]
    for flag, value in opts.items():
        if flag == "--set":
            for item in value:
                argv += ["--set", item]
        elif flag == "--config":
            path = (
                files.root / "no_such_file.toml"
                if value == "missing"
                else files("cli", _CONFIG_FILES[value])
            )
            argv += ["--config", str(path)]
        else:
            argv += [flag, value]
    kind, code, err = _call(argv, capsys)
    if kind != "started":
        _assert_refused_cleanly(kind, code, err)
        return
    cfg, seed = code.args_[0], code.kwargs["seed"]
    assert err == ""
    _assert_valid(cfg)
    assert isinstance(seed, int)
    assert seed >= 0
    # flags are applied before --set: a flag's value must be in the config unless --set wins
    set_paths = {it.partition("=")[0].strip() for it in opts.get("--set", [])}
    for flag, path, conv in (
        ("--smp", "guest.smp", int),
        ("--horizon", "run.horizon_s", float),
        ("--load", "workload.load_rps", float),
        ("--design", "driver.design", str),
        ("--trace", "run.trace_events", int),
    ):
        if flag in opts and path not in set_paths:
            assert _get(cfg, path) == conv(opts[flag]), (flag, opts[flag], _get(cfg, path))


SWEEP_OPTS = st.fixed_dictionaries(
    {},
    optional={
        "--workers": st.sampled_from(["0", "-1", "x", "2", "1.5"]),
        "--min-events": st.sampled_from(["0", "-3", "x", "5"]),
        "--target-ci-width": st.sampled_from(["0", "-0.5", "x", "0.3", "-inf", "nan", "inf"]),
        "--run-timeout": st.sampled_from(["0", "-1", "x", "30", "nan", "inf"]),
        "--no-progress": st.just(None),
        "--out": st.sampled_from(["out", None]),
    },
)


@CLI
@given(doc=st.one_of(SWEEP_DOC, _RANDOM_TEXT, st.just(None)), opts=SWEEP_OPTS)
def test_cli_sweep_refuses_bad_input_with_one_line_or_starts_a_valid_sweep(
    files, no_runs, capsys, doc, opts
) -> None:
    if doc is None:
        path = files.root / "missing_sweep.toml"
    else:
        path = files("cli_sweep", doc if isinstance(doc, bytes) else toml_doc(doc))
    argv = ["sweep", str(path)]
    for flag, value in opts.items():
        if flag == "--out":
            argv += ["--out", str(files.root / "out")] if value else []
        else:
            argv += [flag] + ([value] if value is not None else [])
    if "--out" not in opts:
        argv += ["--out", str(files.root / "out")]
    kind, code, err = _call(argv, capsys)
    if kind != "started":
        _assert_refused_cleanly(kind, code, err)
        if kind == "rc":
            assert path.name in err or any(
                f in err
                for f in ("--workers", "--min-events", "--target-ci-width", "--run-timeout")
            ), err
        return
    spec, kw = code.args_[0], code.kwargs
    assert err == ""
    if isinstance(doc, dict):
        check_sweep_as_written(spec, doc, path.parent)
    else:
        for point in spec.points():
            _assert_valid(spec.config_for(point))
    assert kw["workers"] is None or kw["workers"] >= 1
    assert kw["min_events"] is None or kw["min_events"] > 0
    t = kw["target_ci_width"]
    assert t is None or (math.isfinite(t) and t > 0)
    rt = kw.get("run_timeout")
    assert rt is None or rt > 0


def test_cli_run_valid_short_run_exits_0(capsys) -> None:
    assert (
        main(["run", "--horizon", "0.05", "--set", "run.recovery_horizon_s=0", "--seed", "3"]) == 0
    )
    captured = capsys.readouterr()
    assert captured.err == ""
    assert "censored" in captured.out or "outage" in captured.out


# -- 5. messages -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("build", "needle"),
    [
        (
            lambda: scenario_from_dict({"host": {"mrg_rxbf": False}}),
            "unknown field host.mrg_rxbf (did you mean 'mrg_rxbuf'?)",
        ),
        (lambda: scenario_from_dict({"hots": {}}), "did you mean 'host'"),
        (lambda: scenario_from_dict({"driver": {"design": "olt"}}), "did you mean 'old'"),
        (lambda: ScenarioConfig().with_overrides(["guest.smpp=2"]), "did you mean 'guest.smp'"),
        (
            lambda: scenario_from_dict({"workload": {"payload": "txt"}}),
            "workload.payload: 'txt' is not one of ['text', 'binary']",
        ),
        (lambda: SweepSpec.from_dict({"replicate": 2}), "did you mean 'replicates'"),
        (lambda: preset("nanos2099"), "did you mean 'nanos-2099'"),
    ],
)
def test_unknown_names_get_a_did_you_mean(build, needle) -> None:
    with pytest.raises(ConfigError) as info:
        build()
    assert needle in str(info.value)


_NUMERIC = [p for p in PATHS if _ftype(p) in (int, float)]


@pytest.mark.parametrize("path", _NUMERIC)
@pytest.mark.parametrize("side", ["below", "above"])
def test_out_of_range_names_field_value_and_range(path, side) -> None:
    meta = FIELDS[path].metadata
    lo, hi = meta["lo"], meta["hi"]
    if _ftype(path) is int:
        value: float = lo - 1 if side == "below" else hi + 1
    else:
        value = math.nextafter(lo, -math.inf) if side == "below" else hi * 2 + 1
    sec, key = path.split(".")
    with pytest.raises(ConfigError) as info:
        scenario_from_dict({sec: {key: value}})
    msg = str(info.value)
    assert path in msg
    assert repr(value) in msg
    assert f"[{lo}, {hi}]" in msg
    with pytest.raises(ConfigError, match=r"\[.*, .*\]"):
        check(ScenarioConfig().with_overrides([f"{path}={toml_literal(value)}"]))


@pytest.mark.parametrize(
    ("loader", "content", "needle"),
    [
        (load_scenario, "[guest]\nsmp = 0\n", "guest.smp: 0 is out of range [1, 64]"),
        (load_scenario, "[guest\n", ""),
        (load_scenario, "[gest]\n", "did you mean 'guest'"),
        (SweepSpec.from_toml, "replicates = 0\n", "replicates must be an integer in [1, "),
        (SweepSpec.from_toml, "replicates = 1000000000\n", "replicates must be an integer in"),
        (SweepSpec.from_toml, '[axes]\ndesign = ["old", "nanos-0.1.54"]\n', "same scenario"),
        (SweepSpec.from_toml, "[axes]\n'host.vhost_frame_us' = [2, 2.0]\n", "same scenario"),
        (
            SweepSpec.from_toml,
            f"root_seed = {2**64}\n",
            "root_seed must be an integer in [0, 2**63",
        ),
        (SweepSpec.from_toml, "root_seed = " + "9" * 5000 + "\n", "more than 4300 digits"),
        (load_scenario, "[guest]\nsmp = " + "9" * 5000 + "\n", "more than 4300 digits"),
        (SweepSpec.from_toml, "x = " + "[" * 5000 + "]" * 5000 + "\n", "nested too deeply"),
        (load_scenario, "x = " + "{a = " * 5000 + "1" + "}" * 5000 + "\n", "nested too deeply"),
        (SweepSpec.from_toml, "[axes]\nsmp = []\n", "axes.smp must be a non-empty list"),
        (SweepSpec.from_toml, "[axes]\nsmp = [0, 1]\n", "guest.smp: 0 is out of range"),
        (SweepSpec.from_toml, "horizon_s = 0\n", "horizon_s must be a number in"),
        (SweepSpec.from_toml, '[set]\n"host.mrg_rxbf" = false\n', "did you mean 'host.mrg_rxbuf'"),
        (SweepSpec.from_toml, "name = 'x'\nname = 'y'\n", ""),
    ],
)
def test_file_errors_name_the_file(tmp_path, loader, content, needle) -> None:
    p = tmp_path / "input_file.toml"
    p.write_text(content)
    with pytest.raises(ConfigError) as info:
        loader(p)
    assert str(p) in str(info.value)
    assert needle in str(info.value)


def test_endless_or_huge_input_file_is_refused_in_one_line(tmp_path) -> None:
    big = tmp_path / "big.toml"
    big.write_text("# padding\n" * 200_000)  # 2 MB of comments
    for path in (Path("/dev/zero"), big):
        for loader in (load_scenario, SweepSpec.from_toml):
            with pytest.raises(ConfigError, match="larger than 1048576 bytes") as info:
                loader(path)
            assert "\n" not in str(info.value)


def test_newline_in_a_path_or_set_key_keeps_the_message_on_one_line(tmp_path) -> None:
    with pytest.raises(ConfigError) as info:
        load_scenario(tmp_path / "a\nb.toml")
    assert "\n" not in str(info.value)
    assert "a\\nb.toml" in str(info.value)  # shown quoted, with the escape
    with pytest.raises(ConfigError) as info:
        ScenarioConfig().with_overrides(["guest.s\nmp=2"])
    assert "\n" not in str(info.value)
    with pytest.raises(ConfigError, match="more than 4300 digits"):
        ScenarioConfig().with_overrides(["guest.smp=" + "9" * 5000])


def test_missing_file_is_a_config_error_naming_it(tmp_path) -> None:
    for loader in (load_scenario, SweepSpec.from_toml):
        with pytest.raises(ConfigError, match=r"nope\.toml"):
            loader(tmp_path / "nope.toml")


# -- bugs found by this module, now fixed (regression tests) ---------------------------
@pytest.mark.parametrize("how", ["from_dict", "set", "file", "sweep_horizon"])
def test_huge_int_for_a_float_field_is_a_config_error(tmp_path, how) -> None:
    big = 10**400
    (tmp_path / "s.toml").write_text(f"[host]\nvhost_frame_us = {big}\n")
    (tmp_path / "w.toml").write_text(f"horizon_s = {big}\n")
    build = {
        "from_dict": lambda: scenario_from_dict({"host": {"vhost_frame_us": big}}),
        "set": lambda: ScenarioConfig().with_overrides([f"host.vhost_frame_us={big}"]),
        "file": lambda: load_scenario(tmp_path / "s.toml"),
        "sweep_horizon": lambda: SweepSpec.from_toml(tmp_path / "w.toml"),
    }[how]
    with pytest.raises(ConfigError):
        build()


def test_cli_huge_int_set_exits_2(capsys) -> None:
    try:
        rc = main(["run", "--set", f"host.vhost_frame_us={10**400}"])
    except OverflowError:
        rc = -1
    assert rc == 2


@pytest.mark.parametrize("how", ["scenario", "sweep", "cli_run", "cli_sweep"])
def test_non_utf8_file_is_a_config_error_naming_it(tmp_path, no_runs, capsys, how) -> None:
    p = tmp_path / "binary.toml"
    p.write_bytes(b"\xff\xfe=1")
    if how in ("scenario", "sweep"):
        loader = load_scenario if how == "scenario" else SweepSpec.from_toml
        with pytest.raises(ConfigError, match=r"binary\.toml"):
            loader(p)
        return
    argv = (
        ["run", "--config", str(p)]
        if how == "cli_run"
        else ["sweep", str(p), "--out", str(tmp_path / "o")]
    )
    try:
        kind, code, err = _call(argv, capsys)
    except UnicodeDecodeError:
        pytest.fail("traceback")
    _assert_refused_cleanly(kind, code, err)


@pytest.mark.parametrize("base", ["1", "[1]", "true"])
def test_scenario_file_non_string_base_is_a_config_error(tmp_path, base) -> None:
    p = tmp_path / "s.toml"
    p.write_text(f"base = {base}\n")
    with pytest.raises(ConfigError, match=r"s\.toml"):
        load_scenario(p)


@pytest.mark.parametrize(
    ("loader", "content"),
    [
        (load_scenario, 'base = "nosuch"\n'),
        (load_scenario, "name = 1\n"),
        (load_scenario, 'name = ""\n'),
        (SweepSpec.from_toml, 'base = "nosuch"\n'),
        (SweepSpec.from_toml, 'base = "missing.toml"\n'),
    ],
)
def test_every_file_error_names_the_file(tmp_path, loader, content) -> None:
    p = tmp_path / "named_input.toml"
    p.write_text(content)
    with pytest.raises(ConfigError, match=r"named_input\.toml"):
        loader(p)


@pytest.mark.parametrize(
    "doc",
    [
        {"set": {"run.horizon_s": 5}},
        {"axes": {"run.horizon_s": [5, 10]}},
        {"set": {"run.horizon_s": 5}, "horizon_s": 7},
        {"axes": {"smp": [1, 2], "guest.smp": [4]}},
        {"set": {"smp": 1, "guest.smp": 4}},
        {"set": {"name": "mine"}},
    ],
)
def test_sweep_silently_overrides_set_and_axes(doc) -> None:
    try:
        spec = SweepSpec.from_dict(doc)
    except ConfigError:
        return  # refusing the ambiguity is fine
    for point in spec.points():
        cfg = spec.config_for(point)
        given_values = [*doc.get("set", {}).items(), *point.items()]
        for k, v in given_values:
            actual = cfg.name if k == "name" else _get(cfg, _path(k))
            assert actual == v, (k, v, actual)


def test_name_override_parses_like_every_other_value() -> None:
    assert ScenarioConfig().with_overrides(['name="x"']).name == "x"
    spec = SweepSpec.from_dict({"name": "quick"})
    assert spec.config_for(spec.points()[0]).name == "quick"


def test_set_value_with_trailing_toml_is_refused() -> None:
    with pytest.raises(ConfigError):
        ScenarioConfig().with_overrides(["guest.smp=4\nguest.smp=5"])


@pytest.mark.parametrize("design", ['nanos-0.1.55" #', "\\u006fld"])
def test_cli_design_text_is_taken_literally(no_runs, capsys, design) -> None:
    kind, code, err = _call(["run", "--design", design], capsys)
    if kind == "started":
        assert code.args_[0].driver.design == design
    else:
        _assert_refused_cleanly(kind, code, err)


@pytest.mark.parametrize(
    ("flag", "value"),
    [
        ("--target-ci-width", "nan"),
        ("--target-ci-width", "inf"),
        ("--run-timeout", "nan"),
        ("--target-halfwidth", "nan"),
        ("--target-halfwidth", "0"),
        ("--target-halfwidth", "1"),
        ("--target-halfwidth", "-0.1"),
        ("--wave", "0"),
        ("--wave", "100000"),
    ],
)
def test_cli_sweep_non_finite_options_exit_2(files, no_runs, capsys, flag, value) -> None:
    p = files("cli_sweep", "replicates = 1\n[axes]\nsmp = [1]\n")
    kind, code, err = _call(["sweep", str(p), "--out", str(files.root / "o"), flag, value], capsys)
    _assert_refused_cleanly(kind, code, err)


def test_cli_argparse_errors_are_one_line(capsys) -> None:
    _kind, code, err = _call(["run", "--smp", "abc"], capsys)
    assert code == 2
    assert len(err.splitlines()) == 1, err


def test_sweep_set_and_axes_take_every_toml_spelling_of_a_field(tmp_path) -> None:
    spellings = [
        "[set]\nworkload.http_connections = 16\n[axes]\nguest.smp = [1, 2]\n",
        '[set]\n"workload.http_connections" = 16\n[axes]\nsmp = [1, 2]\n',
        "[set.workload]\nhttp_connections = 16\n[axes.guest]\nsmp = [1, 2]\n",
    ]
    specs = []
    for i, body in enumerate(spellings):
        p = tmp_path / f"s{i}.toml"
        p.write_text('name = "n"\n' + body)
        specs.append(SweepSpec.from_toml(p))
    assert {s.fixed for s in specs} == {(("workload.http_connections", 16),)}
    assert [s.config_for(s.points()[1]).guest.smp for s in specs] == [2, 2, 2]
    p = tmp_path / "twice.toml"
    p.write_text('name = "n"\n[set]\nguest.smp = 2\n"guest.smp" = 4\n')
    with pytest.raises(ConfigError, match=r"guest\.smp is given twice"):
        SweepSpec.from_toml(p)
    p.write_text('name = "n"\n[set]\nguest.smp = 2\n[axes]\nsmp = [1, 2]\n')
    with pytest.raises(ConfigError, match=r"name the same field guest\.smp"):
        SweepSpec.from_toml(p)


# -- bytes that are not UTF-8 (how Python hands over an undecodable byte: a lone surrogate)
BAD_BYTE = b"a\xffb".decode("utf-8", "surrogateescape")


def _one_line_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str], needle: str) -> None:
    assert main(argv) == 2
    out = capsys.readouterr()
    assert out.err.count("\n") == 1, out.err
    assert needle in out.err
    assert out.err.encode("utf-8")  # printable: the byte is shown escaped
    assert out.out == ""  # refused before any run


def test_a_name_with_an_undecodable_byte_is_refused_before_the_run(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["run", "--horizon", "0.5", "--set", f'name="{BAD_BYTE}"']
    _one_line_exit_2(argv, capsys, "name: 'a\\udcffb' holds a byte that is not UTF-8")


def test_a_sweep_file_whose_file_name_has_an_undecodable_byte_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / f"{BAD_BYTE}.toml"  # the sweep's name defaults to the file's stem
    spec.write_text("replicates = 1\nhorizon_s = 0.5\n[axes]\nsmp = [1]\n")
    _one_line_exit_2(
        ["sweep", str(spec), "--out", str(tmp_path / "o"), "--no-progress"],
        capsys,
        "holds a byte that is not UTF-8",
    )
    assert not (tmp_path / "o").exists()


def test_an_out_path_with_an_undecodable_byte_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "s.toml"
    spec.write_text('name = "s"\nreplicates = 1\nhorizon_s = 0.5\n[axes]\nsmp = [1]\n')
    out = tmp_path / BAD_BYTE
    _one_line_exit_2(
        ["sweep", str(spec), "--out", str(out), "--no-progress"],
        capsys,
        "the path holds a byte that is not UTF-8",
    )
    assert not out.exists()


def test_shown_quotes_an_undecodable_byte() -> None:
    assert shown(BAD_BYTE) == "'a\\udcffb'"
    assert shown("plain") == "plain"


# -- a line break in a path, where the file exists and its content is refused --------------
NL = "nl\nscen.toml"


def _quoted(path: Path) -> str:
    """How a message shows a path with a line break: quoted, the break escaped."""
    return repr(str(path))


def test_an_existing_file_whose_path_has_a_newline_gets_a_one_line_field_error(
    tmp_path: Path,
) -> None:
    scen = tmp_path / NL
    scen.write_text("[guest]\nsmp = 0\n")
    with pytest.raises(ConfigError) as info:
        load_scenario(scen)
    assert "\n" not in str(info.value)
    assert _quoted(scen) in str(info.value)
    assert "guest.smp" in str(info.value)
    scen_b = tmp_path / "nl\nbased.toml"  # the base-preset route of a scenario file
    scen_b.write_text('base = "nanos-2099"\n[guest]\nsmp = 0\n')
    with pytest.raises(ConfigError) as info:
        load_scenario(scen_b)
    assert "\n" not in str(info.value)
    assert "guest.smp" in str(info.value)
    # a sweep file: a bad top-level value, a bad point, a base file that is bad
    sweep = tmp_path / "nl\nsweep.toml"
    for text, needle in [
        ("replicates = 0\n", "replicates"),
        ("[axes]\nsmp = [1, 0]\n", "guest.smp"),
        (f"base = {json_str(NL)}\n", "guest.smp"),
        ('[axes]\n"sm\\np" = [1]\n', "unknown field"),
    ]:
        sweep.write_text(text)
        with pytest.raises(ConfigError) as info:
            SweepSpec.from_toml(sweep)
        assert "\n" not in str(info.value), text
        assert _quoted(sweep) in str(info.value)
        assert needle in str(info.value)


def json_str(s: str) -> str:
    import json

    return json.dumps(s)


def test_cli_run_and_sweep_with_a_newline_in_an_existing_files_path_exit_2_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scen = tmp_path / NL
    scen.write_text("[guest]\nsmp = 0\n")
    _one_line_exit_2(["run", "--config", str(scen)], capsys, "guest.smp")
    sweep = tmp_path / "nl\nsweep.toml"
    sweep.write_text("replicates = 1\nhorizon_s = 1\n[axes]\nsmp = [0]\n")
    _one_line_exit_2(["sweep", str(sweep), "--out", str(tmp_path / "o")], capsys, "guest.smp")
    assert not (tmp_path / "o").exists()


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


def _sweep_file(path: Path, name: str) -> Path:
    path.write_text(f'name = "{name}"\nreplicates = 1\nhorizon_s = 1\n[axes]\nsmp = [1, 2]\n')
    return path


def test_the_stores_messages_about_an_out_with_a_newline_are_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sqlite3

    import vnetsim.sweep.rowdb as rowdb_mod
    import vnetsim.sweep.runner as runner_mod
    from vnetsim.sweep import SweepStore

    monkeypatch.setattr(runner_mod, "run_task", _fast_task)
    out = tmp_path / "res\nult"
    first = _sweep_file(tmp_path / "first.toml", "first")
    other = _sweep_file(tmp_path / "other.toml", "other")
    base = ["--out", str(out), "--workers", "1", "--no-progress"]
    assert main(["sweep", str(first), *base]) == 0
    assert capsys.readouterr().out.count("\n") == 1  # the summary names DIR on its one line
    # a different sweep in DIR
    _one_line_exit_2(["sweep", str(other), *base], capsys, "holds a different sweep")
    # DIR locked by a sweep running elsewhere
    with SweepStore(out).locked():
        _one_line_exit_2(["sweep", str(first), *base], capsys, "another vnetsim sweep")
    # a storage error while storing a row: exit 1, one line
    more = tmp_path / "first-more.toml"
    more.write_text(first.read_text().replace("replicates = 1", "replicates = 2"))

    def full(*_args: Any, **_kwargs: Any) -> int:
        raise sqlite3.OperationalError("database or disk is full")

    with monkeypatch.context() as m:
        m.setattr(rowdb_mod.RowDB, "put", full)
        assert main(["sweep", str(more), *base]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert "cannot write results to" in err
    # interrupted: the command that continues is one line and names the same directory
    with monkeypatch.context() as m:

        def interrupted(*_args: Any, **_kwargs: Any) -> Any:
            raise KeyboardInterrupt

        m.setattr(sweep_mod, "run_sweep", interrupted)
        assert main(["sweep", str(first), *base]) == 130
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert f"--out $'{tmp_path}/res\\x0ault'" in err  # bash's $'...' spelling of DIR
    # a damaged database: status and sweep say so, and how to move it aside, in one line
    (out / "runs.sqlite").write_bytes(b"SQLite format 3\x00" + b"\x07" * 4000)
    for argv in (["status", str(out)], ["sweep", str(first), *base]):
        _one_line_exit_2(argv, capsys, "move it aside")
    # a damaged export
    (out / "runs.sqlite").unlink()
    (out / "runs.parquet").write_bytes(b"PAR1 garbage")
    _one_line_exit_2(["sweep", str(first), *base], capsys, "runs.parquet")
    # a damaged manifest
    (out / "manifest.json").write_text("{not json")
    _one_line_exit_2(["status", str(out)], capsys, "manifest.json")
    _one_line_exit_2(["sweep", str(first), *base], capsys, "manifest.json")


# -- sweep-file value errors point at the format's description ------------------------------
@pytest.mark.parametrize(
    "doc",
    [
        {"base": 1},
        {"base": "no-such-preset"},
        {"replicates": 0},
        {"root_seed": -1},
        {"horizon_s": 0},
        {"name": ""},
        {"set": [1]},
        {"set": {"run.horizon_s": 5}},
        {"set": {"smp": 1, "guest.smp": 4}},
        {"axes": {"smp": []}},
        {"axes": {"smp": [2, 2]}},
        {"axes": {"load_rps": [2500, 2500.0]}},
        {"axes": {"design": ["old", "nanos-0.1.54"]}},
        {"set": {"host": {"mrg_rxbuf": True}, "host.mrg_rxbuf": False}},
    ],
)
def test_sweep_file_value_errors_point_at_the_format_doc(doc: dict[str, Any]) -> None:
    with pytest.raises(ConfigError) as info:
        SweepSpec.from_dict(doc, source="s.toml")
    assert "docs/sweep-files.md" in str(info.value)
    assert (Path(__file__).parents[1] / "docs" / "sweep-files.md").exists()


def test_the_doc_says_name_defaults_to_the_files_stem(tmp_path: Path) -> None:
    doc = (Path(__file__).parents[1] / "docs" / "sweep-files.md").read_text()
    row = next(line for line in doc.splitlines() if line.startswith("| `name` |"))
    assert "required" not in row
    assert "stem" in row
    f = tmp_path / "quick-look.toml"
    f.write_text("replicates = 1\n")
    assert SweepSpec.from_toml(f).name == "quick-look"
