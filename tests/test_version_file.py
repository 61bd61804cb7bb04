"""Version files read and rewritten in their own syntax, and the project's version found where maintainers put it."""

from __future__ import annotations

import email.message
from pathlib import Path

import pytest

from relsafe.core.errors import ExitCode, RelsafeError, UsageError
from relsafe.model.config import Config
from relsafe.model.project import Project, detect_project, find_project_root
from relsafe.model.version_file import read_versions, replace_version
from tests.support.files import write


@pytest.mark.parametrize(
    ("relative", "text", "after"),
    [
        (
            "pyproject.toml",
            '[project]\nname = "p"\nversion = "4.0.0" # REQUIRED, see PEP 440\ndependencies = ["q>=4.0.0"]\n',
            '[project]\nname = "p"\nversion = "4.1.0" # REQUIRED, see PEP 440\ndependencies = ["q>=4.0.0"]\n',
        ),
        (
            "pyproject.toml",
            "[project]\nname = 'p'\nversion   =   '4.0.0'   # spaced\n",
            "[project]\nname = 'p'\nversion   =   '4.1.0'   # spaced\n",
        ),
        (
            "pyproject.toml",
            '[tool.poetry]\nname = "p"\nversion = "4.0.0"\n\n[tool.poetry.dependencies]\nq = "4.0.0"\n',
            '[tool.poetry]\nname = "p"\nversion = "4.1.0"\n\n[tool.poetry.dependencies]\nq = "4.0.0"\n',
        ),
        (
            "src/p/__init__.py",
            "__version__ = '4.0.0'  # keep\nX = '4.0.0'\n",
            "__version__ = '4.1.0'  # keep\nX = '4.0.0'\n",
        ),
        ("src/p/_version.py", '__version__: str = "4.0.0"\n', '__version__: str = "4.1.0"\n'),
        (
            "setup.py",
            'setup(\n    name="p",\n    version="4.0.0",\n    install_requires=["q==4.0.0"],\n)\n',
            'setup(\n    name="p",\n    version="4.1.0",\n    install_requires=["q==4.0.0"],\n)\n',
        ),
        (
            "setup.cfg",
            "[metadata]\nname = p\nversion = 4.0.0\n\n[options]\ninstall_requires = q==4.0.0\n",
            "[metadata]\nname = p\nversion = 4.1.0\n\n[options]\ninstall_requires = q==4.0.0\n",
        ),
        ("VERSION", "4.0.0\n", "4.1.0\n"),
    ],
)
def test_the_line_read_is_the_line_written(relative: str, text: str, after: str, tmp_path: Path) -> None:
    write(tmp_path, relative, text)
    assert read_versions(tmp_path, relative) == ["4.0.0"]
    assert replace_version(tmp_path, relative, "4.0.0", "4.1.0") == after


def test_a_file_without_the_current_version_is_a_usage_error(tmp_path: Path) -> None:
    write(tmp_path, "src/p/__init__.py", '__version__ = "1.0"\n')
    with pytest.raises(UsageError, match=r"src/p/__init__.py: does not hold the current version 2.0"):
        replace_version(tmp_path, "src/p/__init__.py", "2.0", "2.1")


def no_backend() -> email.message.Message:
    raise AssertionError("a project that states its name and version needs no backend run")


def detect(root: Path, config: Config | None = None, tags: list[str] | None = None) -> Project:
    return detect_project(root, root, config or Config(), tags or [], no_backend)


def test_version_files_that_disagree_are_refused_naming_each(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", '[project]\nname = "p"\nversion = "1.1.0"\n')
    write(tmp_path, "src/p/__init__.py", '__version__ = "1.0.0"\n')
    with pytest.raises(UsageError) as raised:
        detect(tmp_path)
    assert raised.value.exit_code == ExitCode.USAGE
    assert "pyproject.toml says 1.1.0, src/p/__init__.py says 1.0.0" in raised.value.message


def test_a_poetry_project_is_read_from_tool_poetry(tmp_path: Path) -> None:
    write(
        tmp_path,
        "pyproject.toml",
        '[tool.poetry]\nname = "My_Pkg"\nversion = "0.3.0"\n[tool.poetry.extras]\nfast = []\n',
    )
    write(tmp_path, "src/my_pkg/__init__.py", '"""no version here"""\n')
    project = detect(tmp_path)
    assert (project.name, project.current_version, project.version_files) == ("My_Pkg", "0.3.0", ("pyproject.toml",))
    assert project.extras == frozenset({"fast"})


def test_a_project_with_no_version_anywhere_names_every_place_looked(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", '[project]\nname = "p"\ndynamic = ["version"]\n')
    write(tmp_path, "src/p/__init__.py", '"""no version here"""\n')
    with pytest.raises(RelsafeError) as raised:
        detect_project(tmp_path, tmp_path, Config(), [], no_backend)
    message = raised.value.message
    for place in ("[project] version", "[tool.poetry] version", "setup.cfg", "setup.py", "src/p/__init__.py"):
        assert place in message


def test_the_project_folder_is_the_nearest_one_up_to_the_repository(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", '[project]\nname = "root"\nversion = "1.0"\n')
    write(tmp_path, "backend/pyproject.toml", '[project]\nname = "backend"\nversion = "1.0"\n')
    (tmp_path / "backend" / "src" / "deep").mkdir(parents=True)
    (tmp_path / "docs").mkdir()
    assert find_project_root(tmp_path / "backend" / "src" / "deep", tmp_path) == tmp_path / "backend"
    assert find_project_root(tmp_path / "docs", tmp_path) == tmp_path
    assert find_project_root(tmp_path, tmp_path) == tmp_path
