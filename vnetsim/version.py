"""The package version (foundation: imported by the analysis layer to stamp figures)."""

__version__ = "0.1.0"
