"""The folder the tests run from: outside any repository, with the project's pytest settings carried in.

pytest finds its rootdir and ini file by walking up from where it runs. A copy
of the tests anywhere inside the repository (even under `.git/`) picks up the
project's `pyproject.toml`, `pytest.ini` or root `conftest.py`, and
`pythonpath = ["src"]` then imports the source tree instead of the wheel: the
tests pass while the wheel may be broken. So the tests are copied to a
temporary folder, the settings that pytest would have read are written there,
and what points into the source tree is left out.

Which settings pytest reads is pytest's own rule (pytest 9,
`_pytest/config/findpaths.py`): in each folder from where it runs up to the
filesystem's root, the first of `pytest.toml`, `.pytest.toml`, `pytest.ini`,
`.pytest.ini` (each the configuration even when empty), `pyproject.toml`
(`[tool.pytest]` with native TOML types, or `[tool.pytest.ini_options]`, never
both), `tox.ini` (`[pytest]`) and `setup.cfg` (`[tool:pytest]`) that holds
them. The walk here starts at the project's root and stops at the
repository's top. Settings in native TOML types are carried as a
`pytest.toml`, so `filterwarnings = ["error"]` stays a list and still fails a
warning; the others as a `pytest.ini`.
"""

from __future__ import annotations

import configparser
import shlex
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomlkit

from relsafe.core.errors import RelsafeError, StepFailed
from relsafe.model.config import read_toml

_SOURCE_TREE_KEYS = ("pythonpath",)  # relative to the project: they would put its source first on sys.path
_ROOTDIR_OPTION = "--rootdir"
_NATIVE_FILE = "pytest.toml"  # what pytest 9 reads first: native TOML types, as [tool.pytest] has them
_INI_FILE = "pytest.ini"


@dataclass
class SmokeFolder:
    """A prepared folder and what was done to the project's settings to keep the source tree out."""

    path: Path
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PytestSettings:
    """The one configuration pytest would use: where it is, its options, and whether they keep TOML's types."""

    where: str
    options: dict[str, Any]
    native: bool


def pytest_settings(project_root: Path) -> PytestSettings | None:
    """The settings pytest would read for tests run from the project's root: the first file that holds them,
    folder by folder up to the repository's top, in pytest's order; None when none does.

    A file pytest would refuse (both [tool.pytest] and [tool.pytest.ini_options], a [pytest] section in
    setup.cfg, options outside pytest.toml's [pytest] table) fails here too, naming the file.
    """
    folders = _folders_up_to_repository_top(project_root)
    for folder in folders:
        for name, read in _READERS:
            path = folder / name
            if path.is_file():
                found = read(path, path.relative_to(folders[-1]).as_posix())  # as the repository names it
                if found is not None:
                    return found
    return None


def _folders_up_to_repository_top(project_root: Path) -> list[Path]:
    """The project's root and its parents up to the folder holding `.git` (the project's root alone outside
    a repository): where pytest, started at the project's root, would look for its settings."""
    start = project_root.resolve()
    folders: list[Path] = []
    for folder in (start, *start.parents):
        folders.append(folder)
        if (folder / ".git").exists():
            return folders
    return [start]


def _read_pytest_toml(path: Path, shown: str) -> PytestSettings:
    """pytest.toml and .pytest.toml: the configuration even when empty, in their [pytest] table."""
    document = _toml(path)
    table = document.get("pytest")
    if table is None:
        stray = sorted(key for key, value in document.items() if not isinstance(value, dict))
        if stray:
            raise StepFailed(
                f"{shown}: pytest's options must be in a [pytest] table; found {', '.join(stray)} outside it"
            )
        return PytestSettings(f"{shown} [pytest]", {}, native=True)
    return PytestSettings(f"{shown} [pytest]", _table(table, f"{shown}: [pytest]"), native=True)


def _read_pytest_ini(path: Path, shown: str) -> PytestSettings:
    """pytest.ini and .pytest.ini: the configuration even when empty or without a [pytest] section."""
    return PytestSettings(f"{shown} [pytest]", _ini_section(path, shown, "pytest") or {}, native=False)


def _read_pyproject(path: Path, shown: str) -> PytestSettings | None:
    tool = _toml(path).get("tool", {})
    found = tool.get("pytest", {}) if isinstance(tool, Mapping) else {}
    table = _table(found, f"{shown}: [tool.pytest]")
    native = {key: value for key, value in table.items() if key != "ini_options"}
    ini = table.get("ini_options")
    if native and ini:
        raise StepFailed(
            f"{shown}: [tool.pytest] and [tool.pytest.ini_options] both hold pytest's options, which pytest "
            "refuses; expected one of them (keep [tool.pytest])"
        )
    if native:
        return PytestSettings(f"{shown} [tool.pytest]", native, native=True)
    if ini is None:
        return None
    options = _table(ini, f"{shown}: [tool.pytest.ini_options]")
    # what pytest does with them: lists stay lists of lines, everything else becomes its string
    return PytestSettings(
        f"{shown} [tool.pytest.ini_options]",
        {key: value if isinstance(value, list) else _ini_scalar(value) for key, value in options.items()},
        native=False,
    )


def _read_tox_ini(path: Path, shown: str) -> PytestSettings | None:
    options = _ini_section(path, shown, "pytest")
    return None if options is None else PytestSettings(f"{shown} [pytest]", options, native=False)


def _read_setup_cfg(path: Path, shown: str) -> PytestSettings | None:
    options = _ini_section(path, shown, "tool:pytest")
    if options is not None:
        return PytestSettings(f"{shown} [tool:pytest]", options, native=False)
    if _ini_section(path, shown, "pytest") is not None:
        raise StepFailed(f"{shown}: pytest fails on a [pytest] section in setup.cfg; expected [tool:pytest]")
    return None


# pytest's own order within one folder.
_READERS: tuple[tuple[str, Callable[[Path, str], PytestSettings | None]], ...] = (
    ("pytest.toml", _read_pytest_toml),
    (".pytest.toml", _read_pytest_toml),
    ("pytest.ini", _read_pytest_ini),
    (".pytest.ini", _read_pytest_ini),
    ("pyproject.toml", _read_pyproject),
    ("tox.ini", _read_tox_ini),
    ("setup.cfg", _read_setup_cfg),
)


def _toml(path: Path) -> dict[str, Any]:
    try:
        return read_toml(path)
    except RelsafeError as error:  # a ConfigError names relsafe's configuration: this is the project's tests'
        raise StepFailed(f"pytest's settings: {error.message}") from None


def _table(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise StepFailed(f"{where}: expected a table of pytest's options, found {type(value).__name__}")
    return dict(value)


def _ini_section(path: Path, shown: str, section: str) -> dict[str, str] | None:
    """The section's options, None when the file has no such section."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keep the keys as written
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError) as error:
        reason = str(error).splitlines()[0]
        raise StepFailed(f"{shown}: cannot be parsed for pytest's settings: {reason}") from None
    return dict(parser.items(section)) if parser.has_section(section) else None


def _ini_scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _ini_value(value: Any) -> str:
    """A value as pytest's ini format writes it: lists one item a line."""
    if isinstance(value, list):
        return "\n" + "\n".join(str(item) for item in value)
    return _ini_scalar(value)


def _without_rootdir(addopts: str) -> str:
    return shlex.join(_words_without_rootdir(shlex.split(addopts)))


def _words_without_rootdir(words: list[str]) -> list[str]:
    kept: list[str] = []
    skip = False
    for word in words:
        if skip:
            skip = False
        elif word == _ROOTDIR_OPTION:
            skip = True
        elif not word.startswith(_ROOTDIR_OPTION + "="):
            kept.append(word)
    return kept


def _carried(settings: PytestSettings) -> tuple[dict[str, Any], list[str]]:
    """The options without what points into the source tree, and a note for each thing left out."""
    notes = []
    kept = dict(settings.options)
    for key in _SOURCE_TREE_KEYS:
        if key in kept:
            value = kept.pop(key)
            shown = " ".join(str(item) for item in value) if isinstance(value, list) else " ".join(str(value).split())
            notes.append(f"left out {key} = {shown} from {settings.where}: it points into the source tree")
    addopts = kept.get("addopts")
    if isinstance(addopts, list) and any(str(word).startswith(_ROOTDIR_OPTION) for word in addopts):
        kept["addopts"] = _words_without_rootdir([str(word) for word in addopts])
    elif isinstance(addopts, str) and _ROOTDIR_OPTION in addopts:
        kept["addopts"] = _without_rootdir(addopts)
    if kept.get("addopts") != addopts:
        notes.append(f"left out {_ROOTDIR_OPTION} from addopts in {settings.where}: the rootdir is the test folder")
    return kept, notes


def _write_settings(place: Path, settings: PytestSettings, options: dict[str, Any]) -> str:
    """The options as pytest will read them in `place`: native TOML types in a pytest.toml, the rest in a
    pytest.ini. Returns the file's name."""
    if settings.native:
        (place / _NATIVE_FILE).write_text(tomlkit.dumps({"pytest": options}), encoding="utf-8")
        return _NATIVE_FILE
    ini = configparser.ConfigParser(interpolation=None)
    ini.optionxform = str  # type: ignore[assignment,method-assign]
    ini["pytest"] = {key: _ini_value(value) for key, value in options.items()}
    with (place / _INI_FILE).open("w", encoding="utf-8") as stream:
        ini.write(stream)
    return _INI_FILE


@contextmanager
def smoke_folder(project_root: Path, paths: tuple[str, ...]) -> Iterator[SmokeFolder]:
    """A temporary folder outside any repository with copies of `paths`, the root conftest.py and pytest's settings."""
    settings = pytest_settings(project_root)  # a file pytest would refuse fails before anything is copied
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
        if settings is not None:
            kept, notes = _carried(settings)
            written = _write_settings(place, settings, kept)
            folder.notes += [f"pytest settings from {settings.where} (as {written})", *notes]
        yield folder
    finally:
        shutil.rmtree(place, ignore_errors=True)
