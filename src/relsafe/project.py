"""Facts detected from the project: its name, where its version lives, its build backend."""

from __future__ import annotations

import configparser
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from relsafe.config import read_toml
from relsafe.errors import ConfigError, UsageError

BUMPVERSION_FILES = (".bumpversion.toml", ".bumpversion.cfg")
SCM_BACKEND_MARKERS = ("hatch-vcs", "hatch_vcs", "setuptools-scm", "setuptools_scm")
VERSION_ASSIGNMENT = re.compile(r"""^__version__\s*(?::\s*str\s*)?=\s*["']([^"']+)["']""", re.MULTILINE)


@dataclass(frozen=True)
class Project:
    """What relsafe needs to know about the package it releases.

    version_source is "bumpversion" (the project's own bump-my-version
    config), "files" (static version strings relsafe bumps), or "scm" (the
    version comes from git tags: nothing to bump).
    """

    root: Path
    name: str
    backend: str
    version_source: str
    current_version: str
    version_files: tuple[str, ...]
    bumpversion_config: str | None
    import_names: tuple[str, ...]

    @property
    def normalized_name(self) -> str:
        return canonicalize_name(self.name)


def _load_pyproject(root: Path) -> dict[str, Any]:
    path = root / "pyproject.toml"
    return read_toml(path) if path.is_file() else {}


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
    module = name.replace("-", "_").lower()
    for base in (root / "src", root):
        if (base / f"{module}.py").is_file():
            return [base / f"{module}.py"]
    return found


def _files_with_version(root: Path, packages: list[Path]) -> list[Path]:
    candidates: list[Path] = []
    for package in packages:
        if package.is_file():
            candidates.append(package)
            continue
        for name in ("__init__.py", "__about__.py", "_version.py", "version.py"):
            candidates.append(package / name)
    return [path for path in candidates if path.is_file() and VERSION_ASSIGNMENT.search(path.read_text("utf-8"))]


def _read_version_assignment(path: Path) -> str | None:
    match = VERSION_ASSIGNMENT.search(path.read_text(encoding="utf-8"))
    return match.group(1) if match else None


def _requires_scm(pyproject: dict[str, Any]) -> bool:
    requires = " ".join(pyproject.get("build-system", {}).get("requires", [])).lower()
    tool = pyproject.get("tool", {})
    uses_hatch_vcs = tool.get("hatch", {}).get("version", {}).get("source") == "vcs"
    uses_scm = "setuptools_scm" in tool or "setuptools-scm" in tool
    return uses_hatch_vcs or (uses_scm and any(m in requires for m in SCM_BACKEND_MARKERS))


def detect_project(root: Path, configured_files: tuple[str, ...], scm_version: str | None) -> Project:
    """Read pyproject.toml (and setup.cfg) to learn what a release must change.

    `scm_version` is the version of the last release tag, used when the
    version comes from git tags rather than a file.
    """
    pyproject = _load_pyproject(root)
    project_table = pyproject.get("project", {})
    setup_cfg = _setup_cfg(root)
    name = project_table.get("name") or setup_cfg.get("metadata", "name", fallback=None)
    if not name:
        raise UsageError(
            f"{root}: no project name found: expected [project] name in pyproject.toml or [metadata] name in setup.cfg"
        )
    backend = pyproject.get("build-system", {}).get("build-backend", "setuptools.build_meta:__legacy__")
    packages = _package_dirs(root, name)
    import_names = tuple(path.stem if path.is_file() else path.name for path in packages)
    bumpversion = _bumpversion_config(root, pyproject)
    dynamic = "version" in project_table.get("dynamic", [])

    if bumpversion is None and _requires_scm(pyproject):
        if scm_version is None:
            scm_version = "0.0.0"
        return Project(root, name, backend, "scm", scm_version, (), None, import_names)

    files: list[str] = list(configured_files)
    if not files:
        if "version" in project_table and not dynamic:
            files.append("pyproject.toml")
        elif setup_cfg.has_option("metadata", "version") and not setup_cfg.get("metadata", "version").startswith(
            ("attr:", "file:")
        ):
            files.append("setup.cfg")
        files.extend(path.relative_to(root).as_posix() for path in _files_with_version(root, packages))

    current = _current_version(root, project_table, setup_cfg, files, bumpversion, pyproject)
    if current is None:
        raise UsageError(
            f"{root}: cannot find the current version: expected [project] version, a __version__ in the package, "
            "a bump-my-version config, or [version] files in release.toml"
        )
    try:
        Version(current)
    except InvalidVersion:
        raise UsageError(f"{root}: the current version {current!r} is not a valid PEP 440 version") from None
    source = "bumpversion" if bumpversion else "files"
    if source == "files" and not files:
        raise UsageError(f"{root}: no file holds the version; list them in release.toml [version] files")
    return Project(root, name, backend, source, current, tuple(files), bumpversion, import_names)


def _current_version(
    root: Path,
    project_table: dict[str, Any],
    setup_cfg: configparser.ConfigParser,
    files: list[str],
    bumpversion: str | None,
    pyproject: dict[str, Any],
) -> str | None:
    if bumpversion == "pyproject.toml":
        value = pyproject["tool"]["bumpversion"].get("current_version")
        if isinstance(value, str):
            return value
    elif bumpversion is not None:
        text = (root / bumpversion).read_text(encoding="utf-8")
        match = re.search(r"""^current_version\s*=\s*["']?([^"'\s]+)""", text, re.MULTILINE)
        if match:
            return match.group(1)
    if "version" in project_table and "version" not in project_table.get("dynamic", []):
        return str(project_table["version"])
    if setup_cfg.has_option("metadata", "version"):
        raw = setup_cfg.get("metadata", "version")
        if not raw.startswith(("attr:", "file:")):
            return raw
    for relative in files:
        path = root / relative
        if path.suffix == ".py" and path.is_file():
            found = _read_version_assignment(path)
            if found:
                return found
    return None
