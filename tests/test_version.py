"""Provenance: the commit vnetsim records is its own, never the user's project's."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from vnetsim.version import source_commit

ROOT = Path(__file__).resolve().parent.parent


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(cwd), *args], capture_output=True, text=True, check=True
    ).stdout.strip()


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_the_checkout_records_its_head_with_a_dirty_flag() -> None:
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    head = _git(ROOT, "rev-parse", "HEAD")
    dirty = _git(ROOT, "status", "--porcelain", "--untracked-files=no", "--", "vnetsim")
    assert source_commit() == (f"{head}-dirty" if dirty else head)


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_a_copy_inside_another_git_project_records_no_commit(tmp_path: Path) -> None:
    project = tmp_path / "their-project"
    site = project / "venv" / "site-packages"
    site.mkdir(parents=True)
    shutil.copytree(ROOT / "vnetsim", site / "vnetsim", ignore=shutil.ignore_patterns("*.so"))
    _git(project, "init", "-q")
    (project / "README").write_text("theirs\n")
    _git(project, "add", "README")
    _git(project, "-c", "user.name=u", "-c", "user.email=u@x", "commit", "-qm", "theirs")
    code = "import vnetsim.version as v; print(v.__file__); print(repr(v.source_commit()))"
    where, commit = subprocess.run(
        [sys.executable, "-c", code], cwd=site, capture_output=True, text=True, check=True
    ).stdout.split()
    assert Path(where).resolve().is_relative_to(site.resolve())  # the copy was imported
    assert commit == "''"
    assert re.fullmatch(r"[0-9a-f]{40}", _git(project, "rev-parse", "HEAD"))


def test_the_version_comes_from_the_installed_metadata_and_names_a_commit_of_ours() -> None:
    from importlib.metadata import PackageNotFoundError, version

    from vnetsim.version import __version__

    try:
        installed = version("vnetsim")
    except PackageNotFoundError:
        assert __version__ == "0+unknown"
        return
    assert __version__ == installed
    # PEP 440; hatch-vcs puts the build's commit in the local part ("+gHASH") unless the
    # build was of a tagged commit. "+unknown.gHASH": a clone without tags (CI's), counted
    # from pyproject's fallback_version; "+unknown": a tree without git history at all.
    local = r"(\+(unknown\.)?g(?P<hash>[0-9a-f]{7,})(\.d\d{8})?|\+unknown)?"
    m = re.fullmatch(r"\d+(\.\d+)*(\.dev\d+)?" + local, installed)
    assert m, installed
    if m["hash"] and shutil.which("git") and (ROOT / ".git").exists():
        # the commit it was built from is this checkout's history (an editable install
        # built earlier names an ancestor of HEAD)
        subprocess.run(
            ["git", "-C", str(ROOT), "merge-base", "--is-ancestor", m["hash"], "HEAD"],
            check=True,
        )
