"""Scenario configuration: one frozen, validated dataclass per modelled component.

Time unit: the simulation clock runs in **seconds** (float). Every field carries its unit in
its name (``_ns``, ``_us``, ``_ms``, ``_s``, ``_per_s``, ``_bytes``, ``_mib``); components
convert once when they are built.

Every field has an allowed range in its metadata. ``__post_init__`` checks type and range and
raises ``ConfigError`` (a ``ValueError``) naming ``section.field``, the value and what is allowed.
``ScenarioConfig.from_dict`` rejects unknown keys with a "did you mean" suggestion, and
``with_overrides`` applies ``--set path.to.field=value`` strings with the same checks.
This module is the schema only: it imports nothing from vnetsim. Which design names exist and
what ``base = "preset"`` means are questions for ``vnetsim.scenario.inputs``.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar


class ConfigError(ValueError):
    """Invalid scenario input; the message names the field, the value and the allowed range."""


def _f(
    default: Any,
    lo: float | None = None,
    hi: float | None = None,
    *,
    choices: tuple[str, ...] | None = None,
    doc: str = "",
) -> Any:
    return field(default=default, metadata={"lo": lo, "hi": hi, "choices": choices, "doc": doc})


def _validate(obj: Any, section: str) -> None:
    for f in fields(obj):
        value = getattr(obj, f.name)
        name = f"{section}.{f.name}"
        expected = type(f.default)
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            try:
                value = float(value)
            except OverflowError:
                raise ConfigError(
                    f"{name}: {value} is out of range [{f.metadata.get('lo')}, "
                    f"{f.metadata.get('hi')}]"
                ) from None
            object.__setattr__(obj, f.name, value)
        if not isinstance(value, expected) or (expected is not bool and isinstance(value, bool)):
            raise ConfigError(
                f"{name}: expected {expected.__name__}, got {type(value).__name__} {value!r}"
            )
        meta = f.metadata
        if meta.get("choices") and value not in meta["choices"]:
            raise ConfigError(f"{name}: {value!r} is not one of {list(meta['choices'])}")
        if expected in (int, float):
            if isinstance(value, float) and not math.isfinite(value):
                raise ConfigError(f"{name}: must be finite, got {value!r}")
            lo, hi = meta.get("lo"), meta.get("hi")
            if (lo is not None and value < lo) or (hi is not None and value > hi):
                raise ConfigError(f"{name}: {value!r} is out of range [{lo}, {hi}]")


@dataclass(frozen=True, kw_only=True, slots=True)
class HostConfig:
    """Host back end (tap + vhost-net), interrupt delivery and host-side vCPU preemption."""

    mrg_rxbuf: bool = _f(True, doc="offer VIRTIO_NET_F_MRG_RXBUF")
    guest_tso: bool = _f(True, doc="offer guest TSO4/6/UFO (GSO super-frames to the guest)")
    tap_queue_frames: int = _f(500, 1, 1_000_000, doc="tap ptr_ring length (TUN_READQ_SIZE)")
    gso_max_bytes: int = _f(65535, 1514, 65535, doc="largest GSO super-frame")
    vhost_frame_us: float = _f(1.0, 0.0, 1000.0, doc="vhost per-frame copy cost")
    vhost_wakeup_us: float = _f(20.0, 0.0, 100_000.0, doc="mean wake-up latency of idle vhost")
    vhost_signal_batch: int = _f(64, 1, 4096, doc="vhost signals after this many used heads")
    vhost_weight_frames: int = _f(256, 1, 65536, doc="frames per vhost run before requeue")
    notf_coal_frames: int = _f(0, 0, 65536, doc="NOTF_COAL max_packets (0 = off)")
    notf_coal_usecs: float = _f(0.0, 0.0, 1e6, doc="NOTF_COAL max_usecs (0 = off)")
    irq_inject_us: float = _f(1.0, 0.0, 10_000.0, doc="MSI injection to handler start")
    kick_us: float = _f(2.0, 0.0, 10_000.0, doc="guest kick to vhost wake-up")
    vmexit_rate_per_s: float = _f(2000.0, 0.0, 1e7, doc="VM exits per vCPU per second")
    vmexit_mean_us: float = _f(2.0, 0.0, 1e5, doc="mean VM exit length")
    preempt_rate_per_s: float = _f(2.0, 0.0, 1e5, doc="host scheduler preemptions per vCPU")
    preempt_mean_ms: float = _f(3.0, 0.0, 1e4, doc="mean host preemption length")
    lan_rtt_us: float = _f(100.0, 1.0, 1e7, doc="round trip host peer <-> guest")

    def __post_init__(self) -> None:
        _validate(self, "host")


@dataclass(frozen=True, kw_only=True, slots=True)
class GuestConfig:
    """Guest kernel: vCPU runloops and per-step CPU costs of the Nanos RX path."""

    smp: int = _f(8, 1, 64, doc="number of vCPUs")
    runloop_passes_per_s: float = _f(
        4000.0, 0.0, 1e7, doc="background runloop passes per vCPU (timers, IPIs, Go runtime)"
    )
    syscalls_per_request: float = _f(
        10.0, 0.0, 1000.0, doc="runloop passes caused per HTTP request served (spread over vCPUs)"
    )
    irq_entry_us: float = _f(1.0, 0.0, 1e4, doc="interrupt entry + vq_interrupt fixed cost")
    dequeue_ns: float = _f(150.0, 0.0, 1e6, doc="runloop dequeue of one completion")
    critical_section_ns: float = _f(40.0, 0.0, 1e6, doc="ticketed critical section, no chain")
    chain_walk_ns: float = _f(20.0, 0.0, 1e4, doc="pbuf_cat cost per chain node")
    stack_us: float = _f(2.0, 0.0, 1e5, doc="lwIP input cost per delivered packet")
    csum_ns_per_kib: float = _f(60.0, 0.0, 1e5, doc="checksum fix-up cost per KiB")
    refill_ns: float = _f(100.0, 0.0, 1e6, doc="post_receive cost per posted buffer")
    pbuf_hold_us: float = _f(30.0, 0.0, 1e7, doc="mean time lwIP/app holds a delivered pbuf")
    app_us: float = _f(40.0, 0.0, 1e7, doc="server CPU time per HTTP request step")

    def __post_init__(self) -> None:
        _validate(self, "guest")


@dataclass(frozen=True, kw_only=True, slots=True)
class VirtqueueConfig:
    """Split virtqueue of the RX queue."""

    ring_size: int = _f(256, 1, 32768, doc="queue size Q (power of two)")
    event_idx: bool = _f(True, doc="VIRTIO_F_EVENT_IDX negotiated")

    def __post_init__(self) -> None:
        _validate(self, "virtqueue")
        if self.ring_size & (self.ring_size - 1):
            raise ConfigError(
                f"virtqueue.ring_size: {self.ring_size} is not a power of two in [1, 32768]"
            )


@dataclass(frozen=True, kw_only=True, slots=True)
class BufPoolConfig:
    """RX objcache: 1,624-byte allocations (88 B xpbuf + 1,536 B buffer) from finite memory."""

    memory_mib: float = _f(1024.0, 0.01, 1e6, doc="memory the RX objcache may take")

    def __post_init__(self) -> None:
        _validate(self, "bufpool")


@dataclass(frozen=True, kw_only=True, slots=True)
class DriverConfig:
    """Driver design and the timing of its race windows."""

    design: str = _f(
        "old", doc="design name or alias from vnetsim.drivers.DESIGNS (checked by scenario.inputs)"
    )
    compiler: str = _f("gcc11", choices=("gcc11", "gcc12"), doc="store order of the old builds")
    publish_window_min_ns: float = _f(50.0, 0.0, 1e6, doc="D2 gap between the two stores, min")
    publish_window_max_ns: float = _f(200.0, 0.0, 1e6, doc="D2 gap between the two stores, max")
    strip_window_ns: float = _f(4.0, 0.0, 1e6, doc="D1 gap between release and header strip")
    line_transfer_ns: float = _f(60.0, 0.0, 1e6, doc="cache-line transfer to a spinning vCPU")
    pause_loop_ns: float = _f(45.0, 0.0, 1e6, doc="one PAUSE spin iteration")
    ple_window_ns: float = _f(1400.0, 0.0, 1e9, doc="spin length before a KVM PAUSE-loop exit")
    ple_exit_us: float = _f(5.0, 0.0, 1e6, doc="mean cost of a PAUSE-loop exit")
    spin_timeout_s: float = _f(200.0, 1e-6, 1e6, doc="2^32 PAUSE iterations")
    csum_fail_prob: float = _f(0.5, 0.0, 1.0, doc="P(csum sanity check fails | NEEDS_CSUM)")
    guard_max_buffers: int = _f(43, 1, 65535, doc="guarded: largest plausible num_buffers")
    watchdog_interval_ms: float = _f(100.0, 0.01, 1e6, doc="watchdog: check period")
    watchdog_stall_ms: float = _f(500.0, 0.01, 1e7, doc="watchdog: RX silence before reset")

    def __post_init__(self) -> None:
        _validate(self, "driver")
        if self.publish_window_max_ns < self.publish_window_min_ns:
            raise ConfigError(
                "driver.publish_window_max_ns: must be >= publish_window_min_ns "
                f"({self.publish_window_min_ns}), got {self.publish_window_max_ns}"
            )


@dataclass(frozen=True, kw_only=True, slots=True)
class WorkloadConfig:
    """HTTP load generator and Redis servers on the host, ping prober, LAN background."""

    load_rps: float = _f(5000.0, 0.0, 200_000.0, doc="offered HTTP requests per second")
    client: str = _f(
        "keepalive",
        choices=("keepalive", "per_request"),
        doc="HTTP client: keep-alive connections that pipeline, or a new connection per request",
    )
    http_connections: int = _f(128, 1, 100_000, doc="keep-alive client connections")
    pipeline_depth: int = _f(4, 1, 1024, doc="max outstanding requests per connection")
    request_header_bytes: int = _f(160, 0, 16384, doc="HTTP request line + headers")
    body_min_bytes: int = _f(200, 1, 65535, doc="JSON body size, min")
    body_max_bytes: int = _f(1000, 1, 65535, doc="JSON body size, max (< 1 KiB in #2099)")
    request_timeout_s: float = _f(5.0, 0.001, 1e5, doc="client request timeout")
    reconnect_delay_s: float = _f(1.0, 0.0, 1e5, doc="client pause before reconnecting")
    redis_servers: int = _f(3, 0, 64, doc="Redis servers written per request (MSET)")
    redis_conns_per_server: int = _f(16, 1, 10_000, doc="guest connection pool per server")
    redis_service_us: float = _f(10.0, 0.0, 1e6, doc="Redis MSET service time")
    payload: str = _f("text", choices=("text", "binary"), doc="payload byte model")
    ping_interval_s: float = _f(1.0, 0.001, 1e5, doc="ICMP prober period")
    broadcast_rate_per_s: float = _f(0.5, 0.0, 1e6, doc="ARP and other LAN broadcasts")
    delayed_ack_ms: float = _f(40.0, 0.0, 1e4, doc="client delayed ACK")
    rto_min_ms: float = _f(200.0, 1.0, 1e5, doc="TCP minimum RTO")
    rto_max_s: float = _f(120.0, 0.001, 1e5, doc="TCP maximum RTO")
    tcp_retries2: int = _f(15, 0, 100, doc="retransmissions before a TCP sender gives up")
    syn_retries: int = _f(6, 0, 100, doc="SYN retransmissions before connect() fails")

    def __post_init__(self) -> None:
        _validate(self, "workload")
        if self.body_max_bytes < self.body_min_bytes:
            raise ConfigError(
                f"workload.body_max_bytes: must be >= body_min_bytes "
                f"({self.body_min_bytes}), got {self.body_max_bytes}"
            )


@dataclass(frozen=True, kw_only=True, slots=True)
class DetectorConfig:
    """Outage detector (an observer: it never changes the dynamics)."""

    silence_s: float = _f(2.0, 0.001, 1e5, doc="no delivery this long while frames arrive")

    def __post_init__(self) -> None:
        _validate(self, "detector")


@dataclass(frozen=True, kw_only=True, slots=True)
class RunConfig:
    """Horizon and observation options applied by ``simulate``."""

    horizon_s: float = _f(900.0, 1e-6, 1e7, doc="censoring time for time to outage")
    recovery_horizon_s: float = _f(
        1800.0, 0.0, 1e7, doc="after an outage, keep simulating this long to see recovery"
    )
    trace_events: int = _f(0, 0, 10_000_000, doc="keep the last N trace events (0 = off)")
    estimator: str = _f(
        "plain",
        choices=("plain", "split"),
        doc="plain: one outcome per run; split: replay every multi-buffer batch (docs/split.md)",
    )
    split_replays: int = _f(40, 1, 100_000, doc="split: replays K of each multi-buffer batch")
    split_follow_s: float = _f(
        60.0, 0.001, 1e7, doc="split: follow a replay's pending hazard at most this long"
    )

    def __post_init__(self) -> None:
        _validate(self, "run")


_SECTIONS: dict[str, type] = {
    "host": HostConfig,
    "guest": GuestConfig,
    "virtqueue": VirtqueueConfig,
    "bufpool": BufPoolConfig,
    "driver": DriverConfig,
    "workload": WorkloadConfig,
    "detector": DetectorConfig,
    "run": RunConfig,
}


@dataclass(frozen=True)
class FieldInfo:
    """One settable field as ``vnetsim fields`` lists it."""

    path: str
    type: str
    default: Any
    allowed: str
    doc: str


def field_table() -> list[FieldInfo]:
    """Every settable ``section.field`` with its type, default, allowed values and doc."""
    out = []
    for sec, cls in _SECTIONS.items():
        for f in fields(cls):
            meta = f.metadata
            if meta.get("choices"):
                allowed = " | ".join(meta["choices"])
            elif meta.get("lo") is not None or meta.get("hi") is not None:
                allowed = f"[{meta.get('lo')}, {meta.get('hi')}]"
            else:
                allowed = "true | false" if isinstance(f.default, bool) else "any"
            out.append(
                FieldInfo(
                    f"{sec}.{f.name}", type(f.default).__name__, f.default, allowed, meta["doc"]
                )
            )
    return out


def suggest(key: str, options: list[str]) -> str:
    """A " (did you mean ...?)" hint for a misspelt key, or ""."""
    hint = difflib.get_close_matches(key, options, n=1)
    return f" (did you mean {hint[0]!r}?)" if hint else ""


@dataclass(frozen=True, kw_only=True, slots=True)
class ScenarioConfig:
    """A whole scenario: every component's configuration."""

    name: str = "custom"
    host: HostConfig = field(default_factory=HostConfig)
    guest: GuestConfig = field(default_factory=GuestConfig)
    virtqueue: VirtqueueConfig = field(default_factory=VirtqueueConfig)
    bufpool: BufPoolConfig = field(default_factory=BufPoolConfig)
    driver: DriverConfig = field(default_factory=DriverConfig)
    workload: WorkloadConfig = field(default_factory=WorkloadConfig)
    detector: DetectorConfig = field(default_factory=DetectorConfig)
    run: RunConfig = field(default_factory=RunConfig)

    SECTIONS: ClassVar[dict[str, type]] = _SECTIONS

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ConfigError(f"name: expected a non-empty string, got {self.name!r}")
        if not is_utf8(self.name):  # it would fail later, when a result is printed or stored
            raise ConfigError(
                f"name: {self.name!r} holds a byte that is not UTF-8 (allowed: UTF-8 text)"
            )
        for sec, cls in _SECTIONS.items():
            if not isinstance(getattr(self, sec), cls):
                raise ConfigError(f"{sec}: expected a {cls.__name__}")

    # -- construction -------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "scenario") -> ScenarioConfig:
        """Build from nested dicts (as TOML gives); unknown keys are errors."""
        if not isinstance(data, dict):
            raise ConfigError(f"{source}: expected a table, got {type(data).__name__}")
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            if key == "name":
                if not isinstance(value, str) or not value:
                    raise ConfigError(f"{source}: name: expected a non-empty string, got {value!r}")
                kwargs["name"] = value
                continue
            if key not in _SECTIONS:
                raise ConfigError(
                    f"{source}: unknown section {key!r}{suggest(key, ['name', *_SECTIONS])}"
                )
            sec_cls = _SECTIONS[key]
            if not isinstance(value, dict):
                raise ConfigError(f"{source}: {key} must be a table, got {value!r}")
            names = [f.name for f in fields(sec_cls)]
            for k in value:
                if k not in names:
                    raise ConfigError(f"{source}: unknown field {key}.{k}{suggest(k, names)}")
            try:
                kwargs[key] = sec_cls(**value)
            except ConfigError as err:
                raise ConfigError(f"{source}: {err}") from None
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def flat(self) -> dict[str, Any]:
        """Every field as ``section.field`` (for tidy result tables)."""
        out: dict[str, Any] = {"name": self.name}
        for sec in _SECTIONS:
            for k, v in dataclasses.asdict(getattr(self, sec)).items():
                out[f"{sec}.{k}"] = v
        return out

    def replace(self, **sections: dict[str, Any]) -> ScenarioConfig:
        """Return a copy with some fields of some sections changed (validated)."""
        d = self.to_dict()
        for sec, changes in sections.items():
            d[sec].update(changes)
        return ScenarioConfig.from_dict(d, source="replace")

    def with_overrides(self, assignments: list[str] | tuple[str, ...]) -> ScenarioConfig:
        """Apply ``section.field=value`` strings; values are parsed as TOML literals."""
        values: dict[str, Any] = {}
        for item in assignments:
            path, sep, raw = item.partition("=")
            path = path.strip()
            if not sep or not path:
                raise ConfigError(f"--set {item!r}: expected path.to.field=value")
            _check_path(path, "--set")  # before parsing the value, as the items come
            values[path] = _parse_literal(raw.strip(), path)  # a repeated path: the last one wins
        return self.with_fields(values, source="--set")

    def with_fields(self, values: Mapping[str, Any], *, source: str = "--set") -> ScenarioConfig:
        """Apply typed ``{"section.field": value, "name": value}`` overrides (validated).

        The checks and messages are those of ``with_overrides`` (which parses its strings and
        delegates here): an unknown path gets a "did you mean", a bad value names the field.
        """
        d = self.to_dict()
        for path, value in values.items():
            _check_path(path, source)
            if path == "name":
                d["name"] = value
                continue
            sec, key = path.split(".")
            d[sec][key] = value
        return ScenarioConfig.from_dict(d, source=source)


def _check_path(path: str, source: str) -> None:
    """``ConfigError`` unless ``path`` is ``name`` or an existing ``section.field``."""
    if path == "name":
        return
    parts = path.split(".")
    if (
        len(parts) != 2
        or parts[0] not in _SECTIONS
        or parts[1] not in {f.name for f in fields(_SECTIONS[parts[0]])}
    ):
        raise ConfigError(f"{source} {shown(path)}: unknown field{suggest(path, _all_paths())}")


def _all_paths() -> list[str]:
    return [f"{s}.{f.name}" for s, c in _SECTIONS.items() for f in fields(c)]


MAX_INPUT_BYTES = 1 << 20  # scenario and sweep files are a few KiB; the bound keeps out /dev/zero


def is_utf8(text: str) -> bool:
    """Whether ``text`` can be written as UTF-8: no lone surrogate, which is how Python
    carries an undecodable byte of a command line or a file name."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def shown(text: object) -> str:
    """A user-given name as a message shows it: as typed, or quoted (``repr``) when it holds
    a line break of any kind or a byte that is not UTF-8, so that the message stays one line
    and can be printed on any terminal."""
    s = str(text)
    return s if len((s + "x").splitlines()) == 1 and is_utf8(s) else repr(s)


def shell_word(text: object) -> str:
    """A user-given name as one word of a command a message tells the user to type: quoted
    for a POSIX shell (``shlex.quote``), or, when it holds a line break or a byte that is not
    UTF-8, as bash's ``$'...'`` with escapes, so the command stays on the message's one line
    and still names the same file."""
    import shlex

    s = str(text)
    if s == shown(s):
        return shlex.quote(s)
    out = []
    for ch in s:
        code = ord(ch)
        if ch in "\\'":
            out.append("\\" + ch)
        elif 0xDC80 <= code <= 0xDCFF:  # an undecodable byte (surrogateescape): that byte
            out.append(f"\\x{code - 0xDC00:02x}")
        elif code < 0x20 or code == 0x7F or len((ch + "x").splitlines()) != 1:
            out.append(f"\\x{code:02x}" if code < 0x80 else f"\\u{code:04x}")
        elif 0xD800 <= code <= 0xDFFF:  # any other lone surrogate: no byte to give back
            out.append(f"\\u{code:04x}")
        else:
            out.append(ch)
    return "$'" + "".join(out) + "'"


def read_toml(path: str | Path) -> tuple[dict[str, Any], str]:
    """A scenario or sweep file's table and text; ``ConfigError`` (one line) for a file that
    cannot be read, is over ``MAX_INPUT_BYTES``, is not UTF-8, is not TOML, nests deeper
    than Python can parse, or holds an integer over Python's 4,300-digit limit."""
    path = Path(path)
    where = shown(path)
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_INPUT_BYTES + 1)
    except OSError as err:
        reason = err.strerror or type(err).__name__
        raise ConfigError(f"{where}: cannot be read ({reason})") from None
    if len(raw) > MAX_INPUT_BYTES:
        raise ConfigError(
            f"{where}: larger than {MAX_INPUT_BYTES} bytes (allowed: a TOML file of at most "
            "1 MiB; scenario and sweep files are a few KiB)"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(f"{where}: byte {err.start} is not UTF-8 (allowed: UTF-8 text)") from None
    return _toml(text, where), text


def _toml(text: str, where: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except (RecursionError, ValueError) as err:  # TOMLDecodeError is a ValueError
        raise _toml_error(err, where) from None


def _toml_error(err: Exception, where: str) -> ConfigError:
    if isinstance(err, tomllib.TOMLDecodeError):
        return ConfigError(f"{where}: {err}")
    if isinstance(err, RecursionError):
        return ConfigError(f"{where}: tables or arrays nested too deeply to parse")
    # the other ValueError tomllib raises: Python's limit on converting digits to an int
    return ConfigError(
        f"{where}: an integer with more than {sys.get_int_max_str_digits()} digits "
        "(allowed: every field's range is far smaller)"
    )


def _parse_literal(raw: str, path: str) -> Any:
    """One TOML value; a bare word stays a string for the field's type check to judge."""
    if "\n" in raw or "\r" in raw:
        raise ConfigError(f"--set {path}: value {raw!r}: one value on one line expected")
    try:
        parsed = tomllib.loads(f"v = {raw}")
    except tomllib.TOMLDecodeError:
        return raw
    except (RecursionError, ValueError) as err:
        raise _toml_error(err, f"--set {shown(path)}") from None
    if set(parsed) != {"v"}:
        raise ConfigError(f"--set {path}: value {raw!r}: one value expected")
    return parsed["v"]


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` laid on ``base``, tables merged key by key (as a TOML file on a preset)."""
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = v
    return out
