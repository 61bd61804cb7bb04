"""Where a project's version comes from, read from its build backend's configuration: git tags, or a file.

A backend that derives the version from git (hatch-vcs, setuptools-scm,
uv-dynamic-versioning, pdm-backend's scm source, poetry-dynamic-versioning,
versioneer) needs no bump commit: the release tag gives the version. A
backend that reads it from a module (setuptools `attr:`/`file:`, hatch's
`[tool.hatch.version] path`, pdm's file source) names the file to bump, which
may be one no scan would guess (requests' `__version__.py`).
"""

from __future__ import annotations

import configparser
from pathlib import Path
from typing import Any

SCM_REQUIRES = ("setuptools-scm", "setuptools_scm")

TAG_OVERRIDES = (
    "SETUPTOOLS_SCM_PRETEND_VERSION",  # setuptools-scm and hatch-vcs
    "PDM_BUILD_SCM_VERSION",  # pdm-backend's scm source
    "UV_DYNAMIC_VERSIONING_BYPASS",  # uv-dynamic-versioning
    "POETRY_DYNAMIC_VERSIONING_BYPASS",  # poetry-dynamic-versioning
)
"""The variables through which each tag-versioning tool takes a version before its tag exists."""

TAKES_OVERRIDE = ("hatch-vcs", "setuptools-scm", "pdm-backend", "uv-dynamic-versioning", "poetry-dynamic-versioning")
"""The tools that honour one of TAG_OVERRIDES; any other (versioneer) must see the tag itself in git."""


def _get(table: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(table, dict):
            return None
        table = table.get(key)
    return table


def tag_versioning(pyproject: dict[str, Any], setup_cfg: configparser.ConfigParser) -> str | None:
    """The tool that gives the project its version from git tags, by its distribution name; None for none."""
    tool = pyproject.get("tool", {})
    requires = " ".join(str(item) for item in _get(pyproject, "build-system", "requires") or []).lower()
    hatch_source = _get(tool, "hatch", "version", "source")
    if hatch_source == "vcs":
        return "hatch-vcs"
    if hatch_source == "uv-dynamic-versioning":
        return "uv-dynamic-versioning"
    if any(name in tool for name in SCM_REQUIRES) and any(name in requires for name in SCM_REQUIRES):
        return "setuptools-scm"
    if _get(tool, "pdm", "version", "source") == "scm":
        return "pdm-backend"
    if _get(tool, "poetry-dynamic-versioning", "enable") is True:
        return "poetry-dynamic-versioning"
    if "versioneer" in tool or setup_cfg.has_section("versioneer"):
        return "versioneer"
    return None


def declared_version_files(
    root: Path, pyproject: dict[str, Any], setup_cfg: configparser.ConfigParser
) -> list[tuple[str, str]]:
    """The files the backend's dynamic version configuration reads, as (path relative to root, the key that
    names it), existing or not: hatch's and pdm's `path`, setuptools' `attr:` and `file:` in pyproject.toml or
    setup.cfg. An `attr:` naming anything but `__version__` is left to the scan, which reads `__version__`."""
    tool = pyproject.get("tool", {})
    found: list[tuple[str, str]] = []
    hatch = _get(tool, "hatch", "version")
    if isinstance(hatch, dict) and hatch.get("source", "regex") == "regex" and isinstance(hatch.get("path"), str):
        found.append((hatch["path"], "pyproject.toml [tool.hatch.version] path"))
    pdm = _get(tool, "pdm", "version")
    if isinstance(pdm, dict) and pdm.get("source") == "file" and isinstance(pdm.get("path"), str):
        found.append((pdm["path"], "pyproject.toml [tool.pdm.version] path"))
    dynamic = _get(tool, "setuptools", "dynamic", "version")
    package_dir = _get(tool, "setuptools", "package-dir")
    base = package_dir.get("", "") if isinstance(package_dir, dict) else ""
    if isinstance(dynamic, dict):
        key = "pyproject.toml [tool.setuptools.dynamic] version"
        found += [(path, key) for path in _setuptools_files(root, dynamic.get("attr"), dynamic.get("file"), base)]
    value = setup_cfg.get("metadata", "version", fallback="").strip()
    if value.startswith(("attr:", "file:")):
        directories = setup_cfg.get("options", "package_dir", fallback="")
        cfg_base = next(
            (line.partition("=")[2].strip() for line in directories.splitlines() if line.strip().startswith("=")), ""
        )
        kind, _, target = value.partition(":")
        attr, files = (target.strip(), None) if kind == "attr" else (None, target.strip())
        found += [(path, "setup.cfg [metadata] version") for path in _setuptools_files(root, attr, files, cfg_base)]
    return found


def _setuptools_files(root: Path, attr: Any, files: Any, base: str) -> list[str]:
    if isinstance(files, str):
        return [name.strip() for name in files.split(",") if name.strip()]
    if isinstance(files, list):
        return [name for name in files if isinstance(name, str)]
    if not isinstance(attr, str) or not attr.endswith(".__version__"):
        return []
    module = attr.removesuffix(".__version__").split(".")
    for folder in dict.fromkeys((base, "src", "")):
        stem = Path(folder, *module)
        for candidate in (stem / "__init__.py", stem.with_suffix(".py")):
            if (root / candidate).is_file():
                return [candidate.as_posix()]
    return []
