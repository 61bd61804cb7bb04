"""The folder the tests run from: outside any repository, with the project's pytest settings carried in.

pytest finds its rootdir and ini file by walking up from where it runs. A copy
of the tests anywhere inside the repository (even under `.git/`) picks up the
project's `pyproject.toml`, `pytest.ini` or root `conftest.py`, and
`pythonpath = ["src"]` then imports the source tree instead of the wheel: the
tests pass while the wheel may be broken. So the tests are copied to a
temporary folder, the settings that pytest would have read are written there
as its `pytest.ini`, and what points into the source tree is left out.
"""

from __future__ import annotations

import configparser
import shlex
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from relsafe.core.errors import StepFailed
from relsafe.model.config import read_toml

# pytest's own order: pytest.ini wins even when empty, then pyproject.toml, then these when they have the section.
_INI_FILES = (("pytest.ini", "pytest"), (".pytest.ini", "pytest"))
_SHARED_FILES = (("tox.ini", "pytest"), ("setup.cfg", "tool:pytest"))
_SOURCE_TREE_KEYS = ("pythonpath",)  # relative to the project: they would put its source first on sys.path
_ROOTDIR_OPTION = "--rootdir"


@dataclass
class SmokeFolder:
    """A prepared folder and what was done to the project's settings to keep the source tree out."""

    path: Path
    notes: list[str] = field(default_factory=list)


def _pytest_settings(root: Path) -> tuple[str, dict[str, str]] | None:
    """(where, options) of the project's pytest configuration, as pytest would find it at the project's root."""
    for name, section in _INI_FILES:
        if (root / name).is_file():
            return name, _ini_section(root / name, section)
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        options = read_toml(pyproject).get("tool", {}).get("pytest", {}).get("ini_options")
        if isinstance(options, Mapping):
            return "pyproject.toml [tool.pytest.ini_options]", {
                key: _ini_value(value) for key, value in options.items()
            }
    for name, section in _SHARED_FILES:
        if (root / name).is_file():
            found = _ini_section(root / name, section)
            if found:
                return f"{name} [{section}]", found
    return None


def _ini_section(path: Path, section: str) -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
    except configparser.Error as error:
        raise StepFailed(f"{path.name}: cannot be parsed for pytest's settings: {error}") from None
    return dict(parser.items(section)) if parser.has_section(section) else {}


def _ini_value(value: Any) -> str:
    """A TOML value as pytest's ini format writes it: lists one item a line."""
    if isinstance(value, list):
        return "\n" + "\n".join(str(item) for item in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _without_rootdir(addopts: str) -> str:
    words = shlex.split(addopts)
    kept: list[str] = []
    skip = False
    for word in words:
        if skip:
            skip = False
        elif word == _ROOTDIR_OPTION:
            skip = True
        elif not word.startswith(_ROOTDIR_OPTION + "="):
            kept.append(word)
    return shlex.join(kept)


def _carried(options: dict[str, str], where: str) -> tuple[dict[str, str], list[str]]:
    notes = []
    kept = dict(options)
    for key in _SOURCE_TREE_KEYS:
        if key in kept:
            value = " ".join(kept.pop(key).split())
            notes.append(f"left out {key} = {value} from {where}: it points into the source tree")
    if _ROOTDIR_OPTION in kept.get("addopts", ""):
        kept["addopts"] = _without_rootdir(kept["addopts"])
        notes.append(f"left out {_ROOTDIR_OPTION} from addopts in {where}: the rootdir is the test folder")
    return kept, notes


@contextmanager
def smoke_folder(project_root: Path, paths: tuple[str, ...]) -> Iterator[SmokeFolder]:
    """A temporary folder outside any repository with copies of `paths`, the root conftest.py and pytest's settings."""
    place = Path(tempfile.mkdtemp(prefix="relsafe-tests-"))
    try:
        folder = SmokeFolder(place)
        for relative in paths:
            source = project_root / relative
            if source.is_dir():
                shutil.copytree(source, place / relative, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            elif source.is_file():
                (place / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, place / relative)
            else:
                raise StepFailed(f"[test] paths: {relative!r} does not exist in the project")
        conftest = project_root / "conftest.py"
        if conftest.is_file() and not (place / "conftest.py").exists():
            shutil.copy2(conftest, place / "conftest.py")
            folder.notes.append("copied the root conftest.py beside the tests")
        settings = _pytest_settings(project_root)
        if settings is not None:
            where, options = settings
            kept, notes = _carried(options, where)
            ini = configparser.ConfigParser(interpolation=None)
            ini["pytest"] = kept
            with (place / "pytest.ini").open("w", encoding="utf-8") as stream:
                ini.write(stream)
            folder.notes += [f"pytest settings from {where}", *notes]
        yield folder
    finally:
        shutil.rmtree(place, ignore_errors=True)
