"""The sdist→wheel rebuild happens in a temp folder outside any repository, and leaves nothing behind.

poetry-core's sdist→wheel build runs `git ls-files`; unpacked under a `.git/`
folder (the release's own folder lives in `.git/relsafe/`) it fails with exit
128. These tests build a real poetry-core project's sdist, with the sdist
stored where relsafe stores it, and rebuild the wheel from it.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

import pytest

from relsafe.errors import ToolFailed
from relsafe.runlog import RunLog
from relsafe.tools.builder import build_wheel_from_sdist
from tests.conftest import git
from tests.shapes import MODULE, write_poetry_core

pytestmark = pytest.mark.slow

EPOCH = 1_700_000_000


@pytest.fixture
def scratch_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The system temp dir for this test alone, so a leftover scratch folder can be seen (outside any repository)."""
    root = tmp_path / "system-tmp"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    return root


def poetry_sdist(base: Path) -> tuple[Path, Path]:
    """A poetry-core project committed in a git repo, and its sdist where relsafe keeps builds (under .git/)."""
    root = base / "poetry-project"
    write_poetry_core(root)
    git(root.parent, "init", "-q", "-b", "main", str(root))
    git(root, "add", "--all")
    git(root, "-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-q", "-m", "Initial commit")
    dist = root / ".git" / "relsafe" / "releases" / "r1" / "dist"
    subprocess.run(
        [sys.executable, "-m", "build", "--sdist", "--outdir", str(dist), str(root)],
        cwd=root,
        check=True,
        capture_output=True,
        text=True,
    )
    return root, next(dist.glob("*.tar.gz"))


def build_folders(log: Path) -> list[Path]:
    """Where the log says each `python -m build` ran."""
    return [Path(found) for found in re.findall(r"-m build .*\(in (.+)\)$", log.read_text(), flags=re.MULTILINE)]


def test_a_poetry_core_sdist_stored_under_git_rebuilds_its_wheel_outside_the_repository(
    tmp_path: Path, scratch_root: Path
) -> None:
    root, sdist = poetry_sdist(tmp_path)
    log = tmp_path / "run.log"

    with build_wheel_from_sdist(sdist, source_date_epoch=EPOCH, pretend_version=None, log=RunLog(log)) as wheel:
        assert wheel.name.endswith("-py3-none-any.whl")
        with zipfile.ZipFile(wheel) as archive:
            assert f"{MODULE}/__init__.py" in archive.namelist()
        [folder] = build_folders(log)
        assert folder.is_relative_to(scratch_root) and folder.name.startswith(MODULE), folder
        assert not folder.is_relative_to(root)
        assert wheel.is_relative_to(scratch_root)

    assert list(scratch_root.iterdir()) == []  # unpacked sdist and wheel removed on leaving
    assert git(root, "status", "--porcelain", "--untracked-files=all") == ""


def test_a_failed_rebuild_also_removes_its_temp_folder(tmp_path: Path, scratch_root: Path) -> None:
    """An sdist whose backend cannot be loaded: the failure is reported, and the scratch folder still goes."""
    project = tmp_path / "broken-1.0"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = []\nbuild-backend = "no_such_backend_relsafe"\n', encoding="utf-8"
    )
    sdist = tmp_path / "broken-1.0.tar.gz"
    with tarfile.open(sdist, "w:gz") as archive:
        archive.add(project, arcname=project.name)

    with (
        pytest.raises(ToolFailed),
        build_wheel_from_sdist(sdist, source_date_epoch=EPOCH, pretend_version=None, isolated=False, log=RunLog(None)),
    ):
        pass

    assert list(scratch_root.iterdir()) == []
