"""Every tool that derives the version from git tags is detected from its configuration, and its build gets the
release version before the release tag exists.

uv-dynamic-versioning and poetry-dynamic-versioning depend on jinja2, whose MarkupSafe is not pure Python, so
the session's loopback index cannot serve them to an isolated build: they are built here with the backend
installed beside the tests (what `[build] isolation = false` does), through the build step's own builder. Each
sample is one commit past its v0.1.0 tag, so a build that were not told the version comes out as 0.1.1.dev…
or 0.1.0.post1…, never as the release version by accident. pdm-backend and versioneer are released for real
in test_layouts.py.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from relsafe.journal.runlog import RunLog
from relsafe.model.config import Config
from relsafe.model.project import Project, detect_project
from relsafe.tools import builder
from relsafe.tools.git import Git
from tests.support.git import git
from tests.support.shapes import MODULE, SCM_TAGS, Shape, create_shape, write_hatch_vcs, write_setuptools_scm
from tests.support.version_shapes import (
    write_hatch_version_path,
    write_pdm_scm,
    write_poetry_dynamic_versioning,
    write_uv_dynamic_versioning,
    write_versioneer,
)
from tests.support.wheels import wheel_metadata

WRITERS: dict[str, Callable[[Path], None]] = {
    "hatch-vcs": write_hatch_vcs,
    "setuptools-scm": write_setuptools_scm,
    "uv-dynamic-versioning": write_uv_dynamic_versioning,
    "pdm-backend": write_pdm_scm,
    "poetry-dynamic-versioning": write_poetry_dynamic_versioning,
    "versioneer": write_versioneer,
}


def no_backend() -> object:
    raise AssertionError("detection asked the build backend, though the files say everything")


def detected(root: Path, config: Config | None = None) -> Project:
    tags = git(root, "tag", "--list", "--merged", "HEAD").split()
    return detect_project(root, root, config or Config(), tags, no_backend)  # type: ignore[arg-type]


def tagged_sample(tmp_path: Path, name: str) -> Path:
    shape = Shape(name, WRITERS[name], (), scm=True, tags=SCM_TAGS)
    return create_shape(tmp_path, shape, "http://127.0.0.1:9/legacy/", "http://127.0.0.1:9/simple/").root


@pytest.mark.parametrize("tool", list(WRITERS))
def test_each_tag_versioning_tool_is_detected_from_its_configuration(tool: str, tmp_path: Path) -> None:
    root = tagged_sample(tmp_path, tool)
    project = detected(root)
    assert (project.version_source, project.version_tool) == ("scm", tool)
    assert project.current_version == "0.1.0", "the last release tag, never a placeholder in a file"
    assert project.version_files == ()


@pytest.mark.slow
@pytest.mark.parametrize("tool", ["uv-dynamic-versioning", "poetry-dynamic-versioning", "pdm-backend"])
def test_a_dunamai_or_pdm_build_gets_the_release_version_before_its_tag_exists(tool: str, tmp_path: Path) -> None:
    root = tagged_sample(tmp_path, tool)
    assert git(root, "describe", "--tags", "--match", "v*", "HEAD").startswith("v0.1.0-1-g")
    log = RunLog(None)
    repository = Git(root, log)
    epoch = repository.commit_time("HEAD")

    def build(pretend: str | None, out: Path) -> str:
        checkout = tmp_path / f"checkout-{out.name}"
        repository.add_worktree(checkout, git(root, "rev-parse", "HEAD"))
        try:
            built = builder.build_distributions(
                checkout, out, source_date_epoch=epoch, pretend_version=pretend, isolated=False, log=log
            )
        finally:
            repository.remove_worktree(checkout)
        [wheel] = [path for path in built.files if path.suffix == ".whl"]
        assert wheel.name.startswith(f"{MODULE}-")
        return str(wheel_metadata(wheel)["Version"])

    left_alone = build(None, tmp_path / "plain")
    assert left_alone != "0.2.0" and left_alone.startswith("0.1."), "the backend reads git: one commit past v0.1.0"
    assert build("0.2.0", tmp_path / "told") == "0.2.0"
    assert git(root, "tag", "--list", "v0.2.0") == "", "no tag was made to get there"


def test_versioneer_is_detected_from_setup_cfg_too(tmp_path: Path) -> None:
    root = tagged_sample(tmp_path, "versioneer")
    pyproject = (root / "pyproject.toml").read_text(encoding="utf-8")
    section = pyproject[pyproject.index("[tool.versioneer]") :]
    (root / "pyproject.toml").write_text(pyproject.replace(section, ""), encoding="utf-8")
    (root / "setup.cfg").write_text(section.replace("[tool.versioneer]", "[versioneer]").replace('"', ""))
    assert detected(root).version_tool == "versioneer"


def test_source_tags_makes_any_project_tag_versioned_and_files_overrides_a_detected_tool(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    write_hatch_version_path(plain)  # a version in a file, and no tool that reads tags
    tags_config = Config(version_source="tags")
    project = detect_project(plain, plain, tags_config, ["v1.4.0", "v1.3.9"], no_backend)  # type: ignore[arg-type]
    assert (project.version_source, project.version_tool, project.current_version) == ("scm", "", "1.4.0")

    scm = tagged_sample(tmp_path / "scm", "poetry-dynamic-versioning")
    project = detected(scm, Config(version_source="files"))
    # its [tool.poetry] version is the 0.0.0 placeholder, which "files" then bumps as the project asked
    assert (project.version_source, project.current_version) == ("files", "0.0.0")
    assert project.version_files == ("pyproject.toml",)
