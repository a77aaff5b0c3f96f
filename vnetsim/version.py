"""The package version and source commit (foundation: they stamp manifests and figures)."""

from __future__ import annotations

import subprocess
from pathlib import Path

__version__ = "0.1.0"


def source_commit() -> str:
    """The git commit of the vnetsim source being run, or ``""`` outside a git checkout."""
    try:
        here = Path(__file__).resolve().parent
        return subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""
