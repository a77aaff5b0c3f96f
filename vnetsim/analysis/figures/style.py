"""The paper look: rcParams, colours, line styles, hatches, markers, labels and number formats."""

from __future__ import annotations

import contextlib
import re
import zlib
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import matplotlib as mpl
import numpy as np
from matplotlib.colors import to_hex
from matplotlib.rcsetup import cycler

if TYPE_CHECKING:
    from matplotlib.typing import LineStyleType, MarkerType, RcKeyType

OKABE_ITO: tuple[str, ...] = (
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#009E73",  # bluish green
    "#E69F00",  # orange
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#000000",  # black
    "#F0E442",  # yellow (last: poor contrast on white)
)
"""Okabe & Ito (2008) colour-blind-safe palette: the design colours (:func:`design_colour`),
and only theirs. Any other hue (load, SMP, no hue at all) takes the neutral greys of
:func:`sequential_palette`, so that a colour in any figure means one design."""

NEUTRAL_GREYS = (0.62, 0.12)
"""Grey levels (0 black, 1 white) of the lightest and the darkest level of a non-design hue;
the darkest is not black, which is a design colour."""
NEUTRAL = to_hex((0.3, 0.3, 0.3))
"""The colour of a single series without hue, and of the default colour cycle."""

MARKERS: tuple[MarkerType, ...] = ("o", "s", "^", "D", "v", "P", "X", "*")
HEATMAP_CMAP = "cividis"
MINUTES_FROM_S = 600.0
"""Horizons from this length on are drawn and written in minutes."""

LABELS = {
    "smp": "vCPUs (SMP)",
    "load_rps": "Load (req/s)",
    "design": "Design",
    "time_s": "Time (s)",
    "rmst_s": "RMST (s)",
    "median_s": "Median time to outage (s)",
    "blackout_s": "Blackout (s)",
    "blackout_median_s": "Median blackout (s)",
}

PAPER_RC: dict[RcKeyType, Any] = {
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Arial", "Helvetica"],
    "font.size": 8,
    "axes.titlesize": 8,
    "axes.labelsize": 8,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "legend.fontsize": 7,
    "legend.title_fontsize": 7,
    "figure.titlesize": 8,
    "axes.linewidth": 0.6,
    "axes.titlepad": 3.0,
    "axes.labelpad": 2.0,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.prop_cycle": cycler(color=[NEUTRAL]),  # figures pass colours; never a design's
    "grid.linewidth": 0.4,
    "lines.linewidth": 1.0,
    "lines.markersize": 3.5,
    "patch.linewidth": 0.5,
    "xtick.major.width": 0.6,
    "ytick.major.width": 0.6,
    "xtick.minor.width": 0.4,
    "ytick.minor.width": 0.4,
    "xtick.major.size": 2.5,
    "ytick.major.size": 2.5,
    "xtick.minor.size": 1.5,
    "ytick.minor.size": 1.5,
    "xtick.major.pad": 2.0,
    "ytick.major.pad": 2.0,
    "legend.frameon": False,
    "legend.handlelength": 1.6,
    "legend.columnspacing": 1.2,
    "legend.borderaxespad": 0.2,
    "errorbar.capsize": 1.5,
    "image.cmap": HEATMAP_CMAP,
    "figure.dpi": 100,
    "figure.constrained_layout.use": True,
    "figure.constrained_layout.h_pad": 0.02,
    "figure.constrained_layout.w_pad": 0.02,
    "figure.constrained_layout.wspace": 0.05,
    "savefig.dpi": 300,
    "savefig.bbox": None,  # keep the exact paper width
    "pdf.fonttype": 42,
    "ps.fonttype": 42,
    "svg.fonttype": "none",
}


@contextlib.contextmanager
def paper_style() -> Iterator[dict[str, Any]]:
    """Apply the paper rcParams for the duration of a ``with`` block.

    8 pt text (7 pt tick labels and legends), thin lines and spines, no top/right spines,
    a neutral grey colour cycle (design colours are given explicitly), constrained layout,
    TrueType (Type 42) fonts in PDF and PS, and 300 dpi raster output.  The previous
    rcParams are restored on exit.

    Yields
    ------
    dict
        The rcParams that were applied (a copy).
    """
    with mpl.rc_context(PAPER_RC):
        yield {str(k): v for k, v in PAPER_RC.items()}


def sequential_palette(levels: Sequence[Any]) -> dict[Any, str]:
    """A neutral grey for each level, light to dark in the order given (e.g. rising load).

    The colours of every hue that is not the design: greys are no design's colour, so the
    fixed colour per design holds across every figure. One level is :data:`NEUTRAL`. Markers
    and line styles (:func:`hue_markers`, :func:`hue_linestyles`) tell the levels apart
    where greys come close.
    """
    lvs = list(levels)
    if len(lvs) <= 1:
        return dict.fromkeys(lvs, NEUTRAL)
    light, dark = NEUTRAL_GREYS
    shades = np.linspace(light, dark, len(lvs))
    return {lv: to_hex((g, g, g)) for lv, g in zip(lvs, shades, strict=True)}


DESIGN_ORDER: tuple[str, ...] = ("nanos-0.1.48", "old", "new")
"""The designs of the incident, in the order every figure shows them."""
DESIGN_LABELS: dict[str, str] = {
    "nanos-0.1.48": "0.1.48 (before the bug)",
    "old": "0.1.49–0.1.54 (racy)",
    "new": "0.1.55 (fixed)",
}
"""Readable names of the designs of :data:`DESIGN_ORDER` in legends and panel titles."""
_OTHER_DESIGN_COLOURS = OKABE_ITO[len(DESIGN_ORDER) :]


def design_order(values: Sequence[Any]) -> list[Any]:
    """The distinct designs of ``values``: those of :data:`DESIGN_ORDER` first, then sorted."""
    present = list(dict.fromkeys(str(v) for v in values))
    known = [d for d in DESIGN_ORDER if d in present]
    return known + sorted(d for d in present if d not in DESIGN_ORDER)


def design_colour(design: Any) -> str:
    """The colour of a design, the same in every figure whatever other designs it shows.

    The designs of :data:`DESIGN_ORDER` take the first Okabe–Ito colours; any other design
    one of the following colours, chosen from its name (a stable hash), so that it does not
    depend on which designs a sweep holds.
    """
    name = str(design)
    if name in DESIGN_ORDER:
        return OKABE_ITO[DESIGN_ORDER.index(name)]
    return _OTHER_DESIGN_COLOURS[zlib.crc32(name.encode()) % len(_OTHER_DESIGN_COLOURS)]


def design_label(design: Any) -> str:
    """Readable name of a design (its own name if it has none)."""
    return DESIGN_LABELS.get(str(design), str(design))


def hue_palette(hue: str | None, levels: Sequence[Any]) -> dict[Any, str]:
    """Colour per hue level: the fixed design colours for ``hue == "design"``, else the
    neutral :func:`sequential_palette` (never a design colour)."""
    if hue == "design":
        return {lv: design_colour(lv) for lv in levels}
    return sequential_palette(levels)


def hue_linestyles(hue: str | None, levels: Sequence[Any]) -> dict[Any, LineStyleType]:
    """Line style per hue level: :func:`linestyles` for designs (their colours tell them
    apart); for a grey hue solid, dashed, dash-dot in turn. Dotted is left out: it marks τ
    and open intervals."""
    if hue == "design":
        return linestyles(levels)
    styles: tuple[LineStyleType, ...] = ("-", "--", "-.")
    return {lv: styles[i % len(styles)] for i, lv in enumerate(levels)}


def hue_markers(hue: str | None, levels: Sequence[Any]) -> dict[Any, MarkerType]:
    """Marker per hue level: fixed per design for ``hue == "design"`` (like its colour)."""
    if hue != "design":
        return markers(levels)
    out: dict[Any, MarkerType] = {}
    for lv in levels:
        name = str(lv)
        i = (
            DESIGN_ORDER.index(name)
            if name in DESIGN_ORDER
            else len(DESIGN_ORDER) + zlib.crc32(name.encode()) % (len(MARKERS) - len(DESIGN_ORDER))
        )
        out[lv] = MARKERS[i]
    return out


def hue_label(hue: str | None, value: Any) -> str:
    """A hue level as legend text: the readable design name, or the value."""
    return design_label(value) if hue == "design" else fmt_value(value)


def hue_levels(hue: str | None, values: Sequence[Any]) -> list[Any]:
    """The distinct values of a hue column in figure order (designs in :data:`DESIGN_ORDER`)."""
    if hue == "design":
        by_name = {str(v): v for v in values}
        return [by_name[d] for d in design_order(list(by_name))]
    distinct = list(dict.fromkeys(v for v in values if v is not None and v == v))
    try:
        return sorted(distinct)
    except TypeError:
        return distinct


def linestyles(levels: Sequence[Any]) -> dict[Any, LineStyleType]:
    """Solid for the first eight levels, then dashed, dotted...: colours repeat after eight."""
    styles: tuple[LineStyleType, ...] = ("-", "--", ":", "-.")
    return {lv: styles[(i // len(OKABE_ITO)) % len(styles)] for i, lv in enumerate(levels)}


def hatches(levels: Sequence[Any]) -> dict[Any, str]:
    """No hatch for the first eight levels, then one per round of colours."""
    patterns = ("", "////", "....", "xxxx")
    return {lv: patterns[(i // len(OKABE_ITO)) % len(patterns)] for i, lv in enumerate(levels)}


def markers(levels: Sequence[Any]) -> dict[Any, MarkerType]:
    return {lv: MARKERS[i % len(MARKERS)] for i, lv in enumerate(levels)}


def label(column: str) -> str:
    """Axis label for a column (the column name if it has none)."""
    return LABELS.get(column, column)


def fmt_value(v: Any) -> str:
    """A level as text: whole floats without their ``.0``."""
    if isinstance(v, float | np.floating) and float(v).is_integer():
        return str(int(v))
    return str(v)


def panel_title(column: str | None, value: Any) -> str:
    """Title of the panel holding ``column == value`` ("" for a figure without facets)."""
    if column is None:
        return ""
    if column == "smp":
        return f"SMP = {fmt_value(value)}"
    if column == "load_rps":
        return f"{fmt_value(value)} req/s"
    if column == "design":
        return design_label(value)
    return f"{column} = {fmt_value(value)}"


def fmt_seconds(t: float) -> str:
    """``"900 s (15 min)"`` from ten minutes on (whole minutes only), else ``"20 s"``."""
    if t >= MINUTES_FROM_S and t % 60 == 0:
        return f"{t:g} s ({t / 60:g} min)"
    return f"{t:g} s"


def percent_label(p: float) -> str:
    """Percentage for a cell: whole percent, but never rounds a non-zero value to 0 or 100."""
    if not np.isfinite(p):
        return ""
    if p == 0:
        return "0%"
    if p == 1:
        return "100%"
    if p < 0.005:
        return "<1%"
    if p > 0.995:
        return ">99%"
    return f"{100 * p:.0f}%"


def outage_column_title(column: str) -> str:
    """``"p_outage_900s"`` -> ``"P(outage within 900 s (15 min))"``."""
    m = re.fullmatch(r"p_outage_(\d+(?:\.\d+)?)s", column)
    if not m:
        return column
    return f"P(outage within {fmt_seconds(float(m.group(1)))})"
