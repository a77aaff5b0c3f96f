"""Scenario validation: every bad input names the field, the value and what is allowed."""

from __future__ import annotations

import pytest

from vnetsim.config import ConfigError, ScenarioConfig
from vnetsim.scenario import PRESETS, check, load_scenario, preset


def test_every_preset_builds_and_differs_from_the_defaults_only_where_stated() -> None:
    base = ScenarioConfig().flat()
    for name, (_, changes) in PRESETS.items():
        flat = preset(name).flat()
        changed = {k for k in flat if k != "name" and flat[k] != base[k]}
        assert changed == {f"{s}.{k}" for s, ch in changes.items() for k in ch}


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        ("guest.smp=0", r"guest\.smp: 0 is out of range \[1, 64\]"),
        ("guest.smp=65", r"guest\.smp: 65 is out of range"),
        ("virtqueue.ring_size=300", r"virtqueue\.ring_size: 300 is not a power of two"),
        ("virtqueue.ring_size=65536", r"virtqueue\.ring_size: 65536 is out of range"),
        ("workload.load_rps=-5", r"workload\.load_rps: -5\.0 is out of range"),
        ("run.horizon_s=0", r"run\.horizon_s: 0\.0 is out of range"),
        ("host.mrg_rxbuf=3", r"host\.mrg_rxbuf: expected bool, got int"),
        ("guest.smp=2.5", r"guest\.smp: expected int, got float"),
        ('driver.design="nanos-0.1.99"', r"unknown design 'nanos-0\.1\.99'"),
        ('driver.compiler="clang"', r"driver\.compiler: 'clang' is not one of"),
        ("host.mrg_rxbf=false", r"unknown field \(did you mean 'host\.mrg_rxbuf'\?\)"),
        ("smp=4", r"unknown field"),
        ("nonsense", r"expected path\.to\.field=value"),
    ],
)
def test_bad_overrides_are_rejected_with_the_field_and_range(assignment: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        check(preset("nanos-2099").with_overrides([assignment]))


def test_the_schema_alone_knows_no_designs_and_simulate_checks_the_name() -> None:
    from vnetsim import simulate

    cfg = ScenarioConfig().with_overrides(['driver.design="nanos-0.1.99"'])  # schema: a string
    with pytest.raises(ConfigError, match=r"driver\.design: unknown design 'nanos-0\.1\.99'"):
        simulate(cfg, seed=1)


def test_overrides_parse_toml_literals_and_keep_everything_else() -> None:
    cfg = preset("nanos-2099").with_overrides(
        ["host.mrg_rxbuf=false", "guest.smp=16", 'driver.design="new"']
    )
    assert cfg.host.mrg_rxbuf is False
    assert cfg.guest.smp == 16
    assert cfg.driver.design == "new"
    assert cfg.workload == preset("nanos-2099").workload


def test_toml_file_with_a_base_preset(tmp_path) -> None:
    path = tmp_path / "s.toml"
    path.write_text('base = "nanos-2099"\nname = "mine"\n[guest]\nsmp = 4\n')
    cfg = load_scenario(path)
    assert cfg.name == "mine"
    assert cfg.guest.smp == 4
    assert cfg.host == preset("nanos-2099").host


def test_toml_unknown_section_and_field_name_the_file(tmp_path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[gust]\nsmp = 4\n")
    with pytest.raises(ConfigError, match=r"bad\.toml: unknown section 'gust' \(did you mean"):
        load_scenario(path)
    path.write_text("[guest]\nsmpp = 4\n")
    with pytest.raises(ConfigError, match=r"unknown field guest\.smpp \(did you mean 'smp'"):
        load_scenario(path)
    path.write_text("[guest\n")
    with pytest.raises(ConfigError, match=r"bad\.toml"):
        load_scenario(path)


def test_unknown_preset_suggests_the_closest_name() -> None:
    with pytest.raises(ConfigError, match=r"did you mean 'nanos-2099'"):
        preset("nanos2099")


def test_cross_field_checks() -> None:
    with pytest.raises(ConfigError, match="body_max_bytes"):
        preset("nanos-2099").with_overrides(["workload.body_max_bytes=100"])
    with pytest.raises(ConfigError, match="publish_window_max_ns"):
        preset("nanos-2099").with_overrides(["driver.publish_window_max_ns=10"])


def test_flat_names_every_field_with_its_section() -> None:
    flat = ScenarioConfig().flat()
    assert flat["host.mrg_rxbuf"] is True
    assert flat["virtqueue.ring_size"] == 256
    assert all("." in k for k in flat if k != "name")
