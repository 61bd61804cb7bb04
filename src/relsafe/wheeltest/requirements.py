"""What a test venv gets beside the wheel: [test] requires, the project's own extras, its dependency groups.

Checked against the project before anything changes: a misspelt extra or
group would otherwise fail only in smoke, after the bump commit. And a
requirement naming the project itself (`.`, `.[test]`, its name) is
refused: pip builds the working tree into the venv and then skips the
wheel as already installed, so the tests would pass against a source build
while the step reports the wheel. Extras go with the wheel instead.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname  # noqa: TID251 - a file: URL to a path; nothing is opened

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)

from relsafe.core.errors import ConfigError
from relsafe.model.config import Config, read_toml
from relsafe.wheeltest.dependency_groups import VALID_NAME, DependencyGroups

EDITABLE_OPTIONS = ("--editable", "-e")
TRAILING_EXTRAS = re.compile(r"\[([^\]]*)\]\s*$")
EXTRAS = re.compile(r"\[([^\]]*)\]")
# a scheme of two letters at least, after an optional VCS prefix (git+file:): C:\ is a path
URL_SCHEME = re.compile(r"^([a-z][a-z0-9.-]*\+)?([a-z][a-z0-9.-]+):", re.IGNORECASE)


def check_test_dependencies(
    config: Config, project_root: Path, project_name: str, declared_extras: frozenset[str] | None
) -> None:
    """Raise ConfigError for a [test] requires entry that is the project itself, or an extra or group it lacks.

    declared_extras None means the extras are unknown before a build (a
    dynamic optional-dependencies): their names are then not checked.
    """
    prefix = f"{config.source}: {'tool.relsafe.' if config.source == 'pyproject.toml' else ''}test"
    for entry in config.test_requires:
        if _names_project(entry, project_root, project_name):
            raise ConfigError(f"{prefix}.requires: {_self_reference(entry, project_name)}")
    for extra in config.test_extras:
        if not VALID_NAME.match(extra):
            raise ConfigError(f"{prefix}.extras: {extra!r} is not an extra name (letters, digits, '-', '_', '.')")
        if declared_extras is not None and canonicalize_name(extra) not in declared_extras:
            declared = sorted(declared_extras)
            exists = f"it declares: {', '.join(declared)}" if declared else "it declares none"
            raise ConfigError(
                f"{prefix}.extras: {extra!r} is not an extra of {project_name} "
                f"([project.optional-dependencies] or [tool.poetry.extras]); {exists}" + _suggest(extra, declared)
            )
    if not config.test_groups:
        return
    groups = _groups(project_root, f"{prefix}.groups")
    for name in config.test_groups:
        if name not in groups:
            raise ConfigError(
                f"{prefix}.groups: {name!r} is not a dependency group; {groups.describe()}"
                + _suggest(name, groups.names)
            )
    for name in config.test_groups:
        for requirement in groups.requirements([name]):
            if _names_project(requirement, project_root, project_name):
                raise ConfigError(
                    f"{prefix}.groups: group {name!r} requires {requirement!r}, {project_name} itself, which would "
                    f"be installed from an index instead of the wheel; use [test] extras and a group without it"
                )


def group_requirements(config: Config, project_root: Path) -> list[str]:
    """The requirement strings of the [test] groups, includes resolved, from the project's pyproject.toml."""
    if not config.test_groups:
        return []
    return _groups(project_root, "test.groups").requirements(config.test_groups)


def wheel_requirement(wheel: Path, project_name: str, extras: Sequence[str]) -> str | Path:
    """The wheel as pip and uv both install it with the project's extras: `name[a,b] @ file:///…/x.whl`."""
    if not extras:
        return wheel
    return f"{project_name}[{','.join(extras)}] @ {wheel.resolve().as_uri()}"


def _groups(project_root: Path, key: str) -> DependencyGroups:
    pyproject = project_root / "pyproject.toml"
    if not pyproject.is_file():
        raise ConfigError(f"{key}: dependency groups live in pyproject.toml, and the project has none")
    return DependencyGroups.of(read_toml(pyproject))


def _suggest(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _self_reference(entry: str, project_name: str) -> str:
    found = EXTRAS.search(entry.split(";", 1)[0].split("@", 1)[0])
    extras = [extra.strip() for extra in found.group(1).split(",") if extra.strip()] if found else []
    example = "[" + ", ".join(f'"{extra}"' for extra in extras or ["test"]) + "]"
    return (
        f"{entry!r} installs {project_name} itself: pip builds the source tree into the test venv and then skips "
        f"the wheel as already installed, so the tests would not run against the wheel; remove it and list the "
        f"project's extras in [test] extras instead (extras = {example})"
    )


def _names_project(entry: str, project_root: Path, project_name: str) -> bool:
    """Whether pip, given this requirement, would install the project itself rather than something else."""
    text = entry.strip()
    for option in EDITABLE_OPTIONS:
        if text.startswith(option):
            text = text[len(option) :].lstrip(" =")
            break
    try:
        requirement = Requirement(text)
    except InvalidRequirement:
        return _location_is_project(text, project_root, project_name)
    if canonicalize_name(requirement.name) == canonicalize_name(project_name):
        return True
    if _is_distribution_of(requirement.name, project_name):
        return True  # pip takes an existing `x-1.0-py3-none-any.whl` for a file, not a name
    return requirement.url is not None and _location_is_project(requirement.url, project_root, project_name)


def _location_is_project(location: str, project_root: Path, project_name: str) -> bool:
    """A path or URL that is the project's folder, or a wheel or sdist of it, or a VCS URL naming it."""
    location = location.split(";", 1)[0].strip()
    location = TRAILING_EXTRAS.sub("", location).strip()
    scheme = URL_SCHEME.match(location)
    if scheme:
        url = urlsplit(location[len(scheme.group(1) or "") :])
        for part in url.fragment.split("&"):
            key, _, egg = part.partition("=")
            if key == "egg" and canonicalize_name(TRAILING_EXTRAS.sub("", egg)) == canonicalize_name(project_name):
                return True
        if url.scheme.lower() != "file":
            return _is_distribution_of(unquote(url.path).rsplit("/", 1)[-1], project_name)
        path = url2pathname(unquote(url.path))
        if scheme.group(1) and "@" in path.rsplit("/", 1)[-1]:
            path = path.rsplit("@", 1)[0]  # git+file:///repo@v1: the revision is not part of the path
    else:
        path = location
    candidate = Path(path).expanduser()
    if not candidate.is_absolute():
        candidate = project_root / candidate
    resolved = candidate.resolve()
    return resolved == project_root.resolve() or _is_distribution_of(resolved.name, project_name)


def _is_distribution_of(filename: str, project_name: str) -> bool:
    try:
        if filename.endswith(".whl"):
            name = parse_wheel_filename(filename)[0]
        elif filename.endswith((".tar.gz", ".zip")):
            name = parse_sdist_filename(filename)[0]
        else:
            return False
    except (InvalidWheelFilename, InvalidSdistFilename):
        return False
    return name == canonicalize_name(project_name)
