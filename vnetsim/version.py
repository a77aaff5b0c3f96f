"""The package version and source commit (foundation: they stamp manifests and figures)."""

from __future__ import annotations

import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path


def _installed_version() -> str:
    """The version in the installed package's metadata (hatch-vcs wrote it from git at build
    time); ``0+unknown`` for a source tree that was never installed (e.g. on PYTHONPATH)."""
    try:
        return version("vnetsim")
    except PackageNotFoundError:
        return "0+unknown"


__version__ = _installed_version()

_HERE = Path(__file__).resolve()


def _git(*args: str) -> str:
    try:
        return subprocess.run(
            ["git", "-C", str(_HERE.parent), *args],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def source_commit() -> str:
    """The git commit of the vnetsim source being run, ``-dirty`` appended when that source
    has uncommitted changes; ``""`` when it is not a vnetsim checkout.

    Only vnetsim's own repository counts: a vnetsim installed in site-packages inside a
    user's git project must not record the user's commit as its own.
    """
    top = _git("rev-parse", "--show-toplevel")
    if not top or (Path(top) / "vnetsim" / "version.py").resolve() != _HERE:
        return ""
    commit = _git("rev-parse", "HEAD")
    if not commit:
        return ""
    dirty = _git("status", "--porcelain", "--untracked-files=no", "--", ".")  # the package
    return f"{commit}-dirty" if dirty else commit
