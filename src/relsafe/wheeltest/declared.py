"""The test set-up a project already declares, read for `relsafe init` to write into [test].

A project that keeps its test requirements in a `tests` extra or dependency
group, its tests under `testing/`, or runs `pytest tests/unit` from tox fails
its first rehearsal on an import or an empty run unless release.toml says so.
Only what is plainly declared is read: an extra or PEP 735 group named test,
tests or testing; pytest's `testpaths`; and a test command of hatch, tox or
nox that is pytest with arguments and nothing else (an install step, a plugin
option or a placeholder makes it the project's own, left alone).
"""

from __future__ import annotations

import configparser
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from relsafe.core.errors import RelsafeError
from relsafe.model.config import read_toml
from relsafe.wheeltest.folder import pytest_settings

TEST_NAMES = ("tests", "test", "testing")
DEFAULT_COMMAND = "python -m pytest -q"
_PYTEST = ("pytest", "py.test")
# pytest's own options: a command with any other (a plugin's, such as --cov or -n) is not simply pytest.
_PLAIN_FLAGS = ("-q", "-v", "-vv", "-x", "-s", "-l", "--strict-markers", "--strict-config", "--exitfirst")
_PLAIN_PREFIXES = ("-r", "--tb=", "--durations=", "--maxfail=", "-W", "--import-mode=", "-p")
_WITH_VALUE = ("-m", "-k", "-W", "-p", "--tb", "--maxfail", "--durations")
_NOX_RUN = re.compile(r"session\.run\(\s*((?:[\"'][^\"'\n]*[\"']\s*,?\s*)+)(\*session\.posargs\s*,?\s*)?\)")
_NOX_WORD = re.compile(r"[\"']([^\"'\n]*)[\"']")
_HATCH_ARGS = re.compile(r"\{args(?::(?P<default>[^{}]*))?\}")
_TOX_ARGS = re.compile(r"\{posargs(?::(?P<default>[^{}]*))?\}")


@dataclass
class Declared:
    """[test] settings the project declares, each with where it was read."""

    settings: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    """[test] key -> where its value was read, for the maintainer to check."""

    def set(self, key: str, value: Any, source: str) -> None:
        self.settings[key] = value
        self.sources[key] = source


def declared_tests(project_root: Path) -> Declared:
    """What the project's own files say about running its tests; empty when they say nothing relsafe uses."""
    found = Declared()
    pyproject = read_toml(project_root / "pyproject.toml") if (project_root / "pyproject.toml").is_file() else {}
    project = pyproject.get("project")
    extras = project.get("optional-dependencies") if isinstance(project, dict) else None
    names = _test_names(extras)
    if names:
        found.set("extras", names, "pyproject.toml [project.optional-dependencies]")
    names = _test_names(pyproject.get("dependency-groups"))
    if names:
        found.set("groups", names, "pyproject.toml [dependency-groups]")
    paths = _testpaths(project_root)
    if paths is not None:
        found.set("paths", paths[0], paths[1])
    elif not (project_root / "tests").is_dir():
        folders = [name for name in TEST_NAMES if (project_root / name).is_dir()]
        if folders:
            found.set("paths", folders, "the project's folders")
    for read in (_hatch_command, _tox_command, _nox_command):
        command = read(project_root, pyproject)
        if command is not None:
            _use_command(found, project_root, *command)
            break
    return found


def _test_names(table: Any) -> list[str]:
    if not isinstance(table, dict):
        return []
    return [name for name in table if canonicalize_name(str(name)) in TEST_NAMES]


def _testpaths(project_root: Path) -> tuple[list[str], str] | None:
    """The folders holding pytest's testpaths, from the settings pytest itself would read (and carries into
    the folder the tests run from), when they are test folders of the project, not its source."""
    try:
        settings = pytest_settings(project_root)
    except RelsafeError:
        return None  # the rehearsal's smoke step names the file pytest would refuse
    if settings is None:
        return None
    value = settings.options.get("testpaths")
    paths = value.split() if isinstance(value, str) else [str(item) for item in value or []]
    if not paths or not all(_inside(project_root, path) for path in paths):
        return None
    tops = list(dict.fromkeys(Path(path).parts[0] for path in paths))
    if tops == ["tests"] or any(_source_folder(project_root / top) for top in tops):
        return None
    return tops, f"{settings.where} testpaths"


def _source_folder(folder: Path) -> bool:
    """src/ or a package: copying it beside the tests would put the source tree on their path."""
    return folder.name == "src" or (folder / "__init__.py").is_file()


def _inside(project_root: Path, path: str) -> bool:
    if not path or path.startswith(("/", "~")) or ".." in Path(path).parts or any(ch in path for ch in "*?["):
        return False
    return (project_root / path).exists()


def _hatch_command(project_root: Path, pyproject: dict[str, Any]) -> tuple[str, str] | None:
    envs = pyproject.get("tool", {}).get("hatch", {}).get("envs", {})
    if not isinstance(envs, dict):
        return None
    for env_name in ("test", "tests", "testing", "default", "hatch-test"):
        scripts = envs.get(env_name, {}).get("scripts", {}) if isinstance(envs.get(env_name), dict) else {}
        for script in ("test", "tests", "run"):
            text = scripts.get(script) if isinstance(scripts, dict) else None
            if isinstance(text, str):
                return _HATCH_ARGS.sub(lambda match: match["default"] or "", text), (
                    f"pyproject.toml [tool.hatch.envs.{env_name}.scripts] {script}"
                )
    return None


def _tox_command(project_root: Path, pyproject: dict[str, Any]) -> tuple[str, str] | None:
    path = project_root / "tox.ini"
    if not path.is_file():
        return None
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError):
        return None
    if not parser.has_option("testenv", "commands"):
        return None
    lines = [line.strip() for line in parser.get("testenv", "commands").splitlines() if line.strip()]
    if len(lines) != 1:
        return None  # an install step or several commands: the project's own
    return _TOX_ARGS.sub(lambda match: match["default"] or "", lines[0]), "tox.ini [testenv] commands"


def _nox_command(project_root: Path, pyproject: dict[str, Any]) -> tuple[str, str] | None:
    path = project_root / "noxfile.py"
    if not path.is_file():
        return None
    text = path.read_text(encoding="utf-8", errors="replace")
    runs = [_NOX_WORD.findall(match[1]) for match in _NOX_RUN.finditer(text)]
    pytest_runs = [words for words in runs if words and words[0] in _PYTEST]
    if len(pytest_runs) != 1:
        return None  # none, or several sessions that differ: not one plain command
    return shlex.join(pytest_runs[0]), "noxfile.py session.run"


def _use_command(found: Declared, project_root: Path, text: str, source: str) -> None:
    """Keep a command that is pytest with its own options and paths of the project; its paths join [test]
    paths (the tests run from a copy of them), and one that only names them adds nothing to the default."""
    try:
        words = shlex.split(text)
    except ValueError:
        return
    if words[:3] == ["python", "-m", "pytest"]:
        words = words[3:]
    elif words and words[0] in _PYTEST:
        words = words[1:]
    else:
        return
    options: list[str] = []
    paths: list[str] = []
    pending_value = False
    for word in words:
        if pending_value:
            options.append(word)
            pending_value = False
        elif word in _WITH_VALUE:
            options.append(word)
            pending_value = True
        elif word.startswith("-"):
            if word not in _PLAIN_FLAGS and not word.startswith(_PLAIN_PREFIXES):
                return  # a plugin's option: the plugin would have to be installed too
            options.append(word)
        elif _inside(project_root, word):
            paths.append(word.rstrip("/"))
        else:
            return
    folders = list(found.settings.get("paths", ["tests"]))
    tops = [Path(path).parts[0] for path in paths]
    if any(_source_folder(project_root / top) for top in tops):
        return
    missing = [top for top in dict.fromkeys(tops) if top not in folders]
    if missing:
        found.set("paths", folders + missing, source)
    quiet = [] if any(option in ("-q", "-v", "-vv") for option in options) else ["-q"]
    if options or sorted(set(tops)) != sorted(set(paths)):
        found.set("command", shlex.join(["python", "-m", "pytest", *quiet, *options, *paths]), source)
