"""Facts detected from the project: its folder, name, where its version lives, its backend and its tags."""

from __future__ import annotations

import ast
import configparser
import glob as globbing
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from relsafe.core.errors import ConfigError, UsageError
from relsafe.model.config import Config, present, read_toml
from relsafe.model.tag_convention import TagConvention, read_convention
from relsafe.model.version_file import read_versions
from relsafe.model.version_location import declared_version_files, tag_versioning

BUMPVERSION_FILES = (".bumpversion.toml", ".bumpversion.cfg")
PROJECT_MARKERS = ("pyproject.toml", "setup.py", "setup.cfg")
PACKAGE_VERSION_FILES = ("__init__.py", "__version__.py", "__about__.py", "_version.py", "version.py")
LEGACY_BACKEND = "setuptools.build_meta:__legacy__"

if TYPE_CHECKING:  # `relsafe status` reaches this module and has no use for the email package
    import email.message

    BackendMetadata = Callable[[], email.message.Message]


@dataclass(frozen=True)
class Project:
    """What relsafe needs to know about the package it releases.

    version_source is "bumpversion" (the project's own bump-my-version
    config), "files" (static version strings relsafe bumps), or "scm" (the
    version comes from git tags: nothing to bump; `version_tool` names the
    tool that reads them, "" when only [version] source = "tags" says so).
    current_version is as the project spells it, and None for an
    SCM-versioned project never released.
    `root` is the project's folder, `subdir` the same relative to the
    repository ("" at its root, "backend" in a monorepo). `extras` is None
    when the project's extras are not known before a build.
    """

    root: Path
    subdir: str
    name: str
    backend: str
    version_source: str
    current_version: str | None
    version_files: tuple[str, ...]
    bumpversion_config: str | None
    import_names: tuple[str, ...]
    tags: TagConvention
    extras: frozenset[str] | None = None
    version_tool: str = ""

    @property
    def normalized_name(self) -> str:
        return canonicalize_name(self.name)

    @property
    def tag_format(self) -> str:
        return self.tags.tag_format

    def tag_for(self, version: str) -> str:
        return self.tag_format.format(version=version)


def find_project_root(start: Path, repository_root: Path) -> Path:
    """The nearest folder from `start` up to the repository's root that holds a project (a monorepo's package)."""
    here = start.resolve()
    for folder in (here, *here.parents):
        if any((folder / marker).is_file() for marker in PROJECT_MARKERS):
            return folder
        if folder == repository_root:
            break
    return repository_root


def _bumpversion_config(root: Path, pyproject: dict[str, Any]) -> str | None:
    for name in BUMPVERSION_FILES:
        if (root / name).is_file():
            return name
    if "bumpversion" in pyproject.get("tool", {}):
        return "pyproject.toml"
    setup_cfg = root / "setup.cfg"
    if setup_cfg.is_file() and "[bumpversion]" in setup_cfg.read_text(encoding="utf-8", errors="replace"):
        return "setup.cfg"
    return None


def _bumpversion_current(root: Path, config_file: str, pyproject: dict[str, Any]) -> str | None:
    if config_file == "pyproject.toml":
        value = pyproject["tool"]["bumpversion"].get("current_version")
        return value if isinstance(value, str) else None
    text = (root / config_file).read_text(encoding="utf-8")
    match = re.search(r"""^current_version\s*=\s*["']?([^"'\s]+)""", text, re.MULTILINE)
    return match.group(1) if match else None


_CFG_FILE_SECTION = re.compile(r"^\[bumpversion:file(?:\([^)]*\))?:(.+)\]\s*$", re.MULTILINE)
_CFG_GLOB_SECTION = re.compile(r"^\[bumpversion:glob(?:\([^)]*\))?:(.+)\]\s*$", re.MULTILINE)


def _bumpversion_entries(root: Path, config_file: str, pyproject: dict[str, Any]) -> list[tuple[str, str]]:
    """What a bump-my-version configuration names to rewrite, as (key, path or pattern): `filename`, `glob` and
    `glob_exclude` entries, `[bumpversion:file:…]` and `[bumpversion:glob:…]` sections."""
    if config_file.endswith(".cfg"):
        text = (root / config_file).read_text(encoding="utf-8", errors="replace")
        return [("filename", name) for name in _CFG_FILE_SECTION.findall(text)] + [
            ("glob", pattern) for pattern in _CFG_GLOB_SECTION.findall(text)
        ]
    if config_file == "pyproject.toml":
        table = pyproject["tool"]["bumpversion"]
    else:
        table = read_toml(root / config_file).get("tool", {}).get("bumpversion", {})
    entries = table.get("files", []) if isinstance(table, dict) else []
    found: list[tuple[str, str]] = []
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        for key in ("filename", "glob", "glob_exclude"):
            values = entry.get(key)
            for value in values if isinstance(values, list) else [values]:
                if isinstance(value, str):
                    found.append((key, value))
    return found


def _refuse_glob_outside(root: Path, repository_root: Path, pattern: str, key: str) -> None:
    """A glob must stay in the repository, and so must every file it matches now (bump-my-version expands it
    from the project's folder, recursively): a pattern that is absolute or climbs out with `..`, or a match
    that is a symlink to a file outside, is refused."""
    if Path(pattern).is_absolute() or os.path.isabs(pattern):
        raise ConfigError(f"{key}: {pattern!r}: expected a pattern relative to {root}, inside the repository")
    if os.pardir in Path(os.path.normpath(pattern)).parts or os.pardir in Path(pattern).parts:
        raise ConfigError(
            f"{key}: {pattern!r} climbs out of the project's folder with '..': expected files of the repository"
        )
    for match in globbing.glob(pattern, root_dir=root, recursive=True):
        _refuse_outside(root, repository_root, match, f"{key} {pattern!r} matches")


def _refuse_outside(root: Path, repository_root: Path, relative: str, key: str) -> None:
    """A version file must be the repository's own: the bump rewrites it and `abort` restores it through git.

    An absolute path, a `..` that climbs out or a symlink whose target lies
    outside would make the bump write a file git cannot restore.
    """
    if Path(relative).is_absolute():
        raise ConfigError(f"{key}: {relative!r}: expected a path relative to {root}, inside the repository")
    target = (root / relative).resolve()
    if not target.is_relative_to(repository_root.resolve()):
        how = "is a symlink to" if (root / relative).is_symlink() else "resolves to"
        raise ConfigError(
            f"{key}: {relative!r} {how} {target}, outside the repository {repository_root}: "
            "expected a file of the repository"
        )


def _setup_cfg(root: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    path = root / "setup.cfg"
    if path.is_file():
        try:
            parser.read(path, encoding="utf-8")
        except configparser.Error as error:
            raise ConfigError(f"setup.cfg: cannot be parsed: {error}") from None
    return parser


def _package_dirs(root: Path, name: str) -> list[Path]:
    """Import packages of the project, src layout first."""
    found: list[Path] = []
    for base in (root / "src", root):
        if not base.is_dir():
            continue
        for child in sorted(base.iterdir()):
            if (child / "__init__.py").is_file() and child.name not in ("tests", "test", "docs"):
                found.append(child)
        if found:
            return found
    module = name.replace("-", "_").replace(".", "_").lower()
    for base in (root / "src", root):
        if (base / f"{module}.py").is_file():
            return [base / f"{module}.py"]
    return found


PYPROJECT_SHAPE = (
    ("project", dict),
    ("project.dynamic", list),
    ("project.optional-dependencies", dict),
    ("build-system", dict),
    ("build-system.requires", list),
    ("build-system.build-backend", str),
    ("tool", dict),
    ("tool.poetry", dict),
    ("tool.poetry.extras", dict),
    ("tool.bumpversion", dict),
    ("tool.hatch", dict),
    ("tool.hatch.version", dict),
)
"""The pyproject.toml keys detection reads, each with the TOML type it needs (tables before their keys)."""


def _check_shape(pyproject: dict[str, Any]) -> None:
    """A key of the wrong type (`project = "x"`) is named, rather than met as a crash deep in detection."""
    for dotted, kind in PYPROJECT_SHAPE:
        *parents, key = dotted.split(".")
        table: Any = pyproject
        for parent in parents:
            table = table.get(parent, {})
        if key in table and not isinstance(table[key], kind):
            expected = {dict: "a table", list: "an array", str: "a string"}[kind]
            raise ConfigError(f"pyproject.toml: {dotted}: expected {expected}, got {table[key]!r:.60}")


def _static_name(
    project_table: dict[str, Any], pyproject: dict[str, Any], setup_cfg: configparser.ConfigParser
) -> tuple[Any, str]:
    """The name a file states, and the key it came from (for a message naming it)."""
    if "name" in project_table and "name" not in project_table.get("dynamic", []):
        return project_table["name"], "pyproject.toml: project.name"
    poetry_name = pyproject.get("tool", {}).get("poetry", {}).get("name")
    if poetry_name:
        return poetry_name, "pyproject.toml: tool.poetry.name"
    return setup_cfg.get("metadata", "name", fallback=None), "setup.cfg: metadata.name"


VALID_NAME = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)
"""A distribution name as the core metadata specification allows it: the name goes into file names, the
index's URLs, the tag and the screen, so anything else is refused before it reaches them."""


def _setup_py_name(root: Path) -> str | None:
    """The name a setup.py states as a literal `setup(name="...")`, read without running it; None otherwise."""
    try:
        tree = ast.parse((root / "setup.py").read_text(encoding="utf-8", errors="replace"))
    except (OSError, SyntaxError, ValueError):
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "setup":
            for keyword in node.keywords:
                if keyword.arg == "name" and isinstance(keyword.value, ast.Constant):
                    return keyword.value.value if isinstance(keyword.value.value, str) else None
    return None


def _checked_name(name: Any, key: str) -> str:
    if not isinstance(name, str) or not VALID_NAME.match(name):
        raise ConfigError(
            f"{key}: expected a valid distribution name (ASCII letters, digits, '.', '_' and '-', starting and "
            f"ending with a letter or digit), got {name!r}"
        )
    return name


def _static_extras(
    project_table: dict[str, Any], pyproject: dict[str, Any], setup_cfg: configparser.ConfigParser
) -> frozenset[str] | None:
    """The extras a project declares where a reader can see them; None when only its backend knows."""
    if project_table and "optional-dependencies" not in project_table.get("dynamic", []):
        return frozenset(map(canonicalize_name, project_table.get("optional-dependencies", {})))
    poetry = pyproject.get("tool", {}).get("poetry")
    if isinstance(poetry, dict):
        return frozenset(map(canonicalize_name, poetry.get("extras", {})))
    if setup_cfg.has_section("options.extras_require"):
        return frozenset(map(canonicalize_name, setup_cfg.options("options.extras_require")))
    return None


def _detected_version_files(root: Path, packages: list[Path], declared: list[str]) -> list[str]:
    """Where a project states its version, in the order a maintainer would name them: the files its backend's
    configuration names first, then those a scan of the usual places finds."""
    candidates = [*declared, "pyproject.toml", "setup.cfg", "setup.py"]
    for package in packages:
        if package.is_file():
            candidates.append(package.relative_to(root).as_posix())
        else:
            candidates += [(package / name).relative_to(root).as_posix() for name in PACKAGE_VERSION_FILES]
    found = [relative for relative in candidates if (root / relative).is_file() and read_versions(root, relative)]
    return list(dict.fromkeys(found))


def _places_looked(packages: list[Path], root: Path, declared: list[tuple[str, str]]) -> str:
    places = [f"{path} (named by {key})" for path, key in declared]
    places += ["pyproject.toml [project] version and [tool.poetry] version", "setup.cfg [metadata] version"]
    places.append("setup.py version='…'")
    for package in packages:
        relative = package.relative_to(root).as_posix()
        names = [relative] if package.is_file() else [f"{relative}/{name}" for name in PACKAGE_VERSION_FILES]
        places.append("__version__ in " + ", ".join(names))
    if not packages:
        places.append("__version__ in the package (no package found under src/ or the project folder)")
    places.append("a bump-my-version configuration")
    return "; ".join(places)


def _files_version(root: Path, files: list[str], looked: str, metadata: BackendMetadata | None) -> str:
    """The one version every version file states; the files disagreeing is an error, not a guess."""
    stated: dict[str, list[str]] = {}
    for relative in files:
        if not (root / relative).is_file():
            raise ConfigError(f"[version] files: {relative!r} does not exist in {root}")
        stated[relative] = read_versions(root, relative)
    versions = {text for found in stated.values() for text in found}
    if not versions:
        reported = f" (its build backend reports {metadata()['Version']})" if metadata is not None else ""
        raise UsageError(
            f"{root}: cannot find the current version{reported}: looked in {looked}",
            hint='list the files that hold it in release.toml [version] files, or set [version] source = "tags" '
            "when git tags give the version",
        )
    if len(versions) > 1:
        listed = ", ".join(f"{path} says {', '.join(found)}" for path, found in stated.items() if found)
        raise UsageError(f"the version files disagree: {listed}", hint="make them state the same version")
    (current,) = versions
    for relative, found in stated.items():
        if not found and current not in (root / relative).read_text(encoding="utf-8", errors="replace"):
            raise ConfigError(f"[version] files: {relative} does not hold the current version {current}")
    if metadata is not None and Version(metadata()["Version"]) != _valid(current, root):
        raise UsageError(
            f"{root}: {', '.join(stated)} say {current}, but the build backend reports {metadata()['Version']}",
            hint="list the file the backend reads in release.toml [version] files",
        )
    return current


def _valid(version: str, root: Path) -> Version:
    try:
        return Version(version)
    except InvalidVersion:
        raise UsageError(f"{root}: the current version {version!r} is not a valid PEP 440 version") from None


def detect_project(
    root: Path,
    repository_root: Path,
    config: Config,
    tags: list[str],
    backend_metadata: BackendMetadata,
    *,
    check_backend: bool = True,
) -> Project:
    """Read the project's files (and, for a setup.py-only project, ask its backend) to learn what a release changes.

    `tags` are the tags reachable from HEAD; `backend_metadata` runs the build
    backend, and is called only when no file states the name or the version.
    check_backend=False (`--plan`) asks it only for a name no file states, not
    even a literal `setup(name=...)`: its report of the version and extras is
    then not compared with the files.
    """
    pyproject_path = root / "pyproject.toml"
    pyproject = read_toml(pyproject_path) if present(pyproject_path) else {}
    _check_shape(pyproject)
    project_table = pyproject.get("project", {})
    setup_cfg = _setup_cfg(root)
    has_setup_py = (root / "setup.py").is_file()
    metadata = cache(backend_metadata) if has_setup_py or project_table.get("dynamic") else None

    name, key = _static_name(project_table, pyproject, setup_cfg)
    if not name and has_setup_py and not check_backend:
        name, key = _setup_py_name(root), "setup.py: setup(name=...)"
    if not name and metadata is not None:
        name, key = metadata()["Name"], "the name the build backend reports"
    if not check_backend:
        metadata = None
    if not name:
        raise UsageError(
            f"{root}: no project name found: looked in pyproject.toml [project] name and [tool.poetry] name, "
            "setup.cfg [metadata] name, and setup.py (none there)"
        )
    name = _checked_name(name, key)
    backend = pyproject.get("build-system", {}).get("build-backend", LEGACY_BACKEND)
    packages = _package_dirs(root, name)
    import_names = tuple(path.stem if path.is_file() else path.name for path in packages)
    extras = _static_extras(project_table, pyproject, setup_cfg)
    if extras is None and metadata is not None:
        extras = frozenset(canonicalize_name(extra) for extra in metadata().get_all("Provides-Extra") or [])
    subdir = "" if root == repository_root else root.relative_to(repository_root).as_posix()
    convention = read_convention(tags, config.tag_format, name, in_subfolder=bool(subdir))
    bumpversion = _bumpversion_config(root, pyproject) if config.version_source != "tags" else None
    tool = tag_versioning(pyproject, setup_cfg) if config.version_source != "files" else None
    files: tuple[str, ...] = ()
    current: str | None
    if bumpversion is not None:
        source, current = "bumpversion", _bumpversion_current(root, bumpversion, pyproject)
        if current is None:
            raise UsageError(f"{bumpversion}: the bump-my-version configuration has no current_version")
        for kind, relative in _bumpversion_entries(root, bumpversion, pyproject):
            if kind == "filename":
                _refuse_outside(root, repository_root, relative, f"{bumpversion}: bump-my-version files")
            else:
                _refuse_glob_outside(root, repository_root, relative, f"{bumpversion}: bump-my-version {kind}")
    elif tool or config.version_source == "tags":
        latest = convention.latest
        source, current = "scm", latest[1] if latest else None
    else:
        declared = declared_version_files(root, pyproject, setup_cfg)
        for relative, named_by in declared:
            _refuse_outside(root, repository_root, relative, named_by)
        readable = [path for path, _ in declared if (root / path).is_file()]
        files = tuple(config.version_files) or tuple(_detected_version_files(root, packages, readable))
        for relative in files:
            _refuse_outside(root, repository_root, relative, "[version] files")
        looked = _places_looked(packages, root, declared)
        source, current = "files", _files_version(root, list(files), looked, metadata if has_setup_py else None)
    if current is not None:
        _valid(current, root)
    return Project(
        root=root,
        subdir=subdir,
        name=name,
        backend=backend,
        version_source=source,
        current_version=current,
        version_files=files,
        bumpversion_config=bumpversion,
        import_names=import_names,
        tags=convention,
        extras=extras,
        version_tool=(tool or "") if source == "scm" else "",
    )
