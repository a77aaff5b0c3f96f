"""Writing a figure as PNG and PDF, with the sweep's provenance embedded in both."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import matplotlib as mpl
from matplotlib.figure import Figure

from vnetsim.analysis.figures.style import paper_style


def save_figure(fig: Figure, stem: str | Path, *, metadata: Mapping[str, str]) -> tuple[Path, Path]:
    """Write ``<stem>.png`` and ``<stem>.pdf`` with ``metadata`` embedded in both.

    The PNG gets text chunks ``Title`` (``metadata["title"]`` or the file stem),
    ``Description`` (all fields as ``key=value; ...``), ``Software`` and one chunk per field.
    The PDF Info dictionary gets ``Title``, ``Subject`` (the same description), ``Keywords``
    (the fields), ``Creator`` and no ``CreationDate``, so re-running gives identical bytes.

    Parameters
    ----------
    fig : Figure
        The figure to write (at 300 dpi for the PNG).
    stem : str or Path
        Output path without suffix; parent directories are created.
    metadata : mapping of str to str
        Provenance, e.g. ``{"sweep_hash": ..., "vnetsim_version": ...}``.

    Returns
    -------
    tuple of Path
        ``(png_path, pdf_path)``.

    Raises
    ------
    TypeError
        A metadata key or value is not a string.
    ValueError
        A key is not usable as a PNG text keyword (1–79 Latin-1 characters).
    """
    for k, v in metadata.items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise TypeError(f"metadata must map str to str, got {k!r}: {v!r}")
        if not 1 <= len(k) <= 79 or not k.isprintable():
            raise ValueError(f"metadata key {k!r} must be 1-79 printable characters")
        try:
            k.encode("latin-1")
        except UnicodeEncodeError as exc:
            raise ValueError(f"metadata key {k!r} must be Latin-1") from exc
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    png_path = stem.with_name(stem.name + ".png")
    pdf_path = stem.with_name(stem.name + ".pdf")

    fields = {k: v for k, v in metadata.items() if k != "title"}
    title = metadata.get("title", stem.name)
    description = "; ".join(f"{k}={v}" for k, v in fields.items())
    version = metadata.get("vnetsim_version")
    software = f"vnetsim {version}" if version else "vnetsim"
    software += f" (matplotlib {mpl.__version__})"

    reserved = {"Title", "Description", "Software"}
    png_meta = {"Title": title, "Description": description, "Software": software}
    png_meta.update({k: v for k, v in fields.items() if k not in reserved})
    pdf_meta = {
        "Title": title,
        "Subject": description,
        "Keywords": ", ".join(f"{k}={v}" for k, v in fields.items()),
        "Creator": software,
        "CreationDate": None,
    }
    with paper_style():
        fig.savefig(png_path, format="png", dpi=300, metadata=png_meta)
        fig.savefig(pdf_path, format="pdf", metadata=pdf_meta)
    return png_path, pdf_path
