"""A file that states the project's version, read and rewritten in its own syntax.

The line read is the line written: `version = "4.0.0" # REQUIRED`, single
quotes, extra spaces and a zero-padded `2026.07.22` all survive a bump, and
only the version itself changes. pyproject.toml goes through tomlkit, which
keeps comments and formatting; Python files and setup.cfg through patterns
that match the assignment, never the bare version string, so a dependency
pin that happens to equal the version is left alone.
"""

from __future__ import annotations

import configparser
import re
from pathlib import Path
from typing import Any

from relsafe.core.errors import UsageError

VERSION_ASSIGNMENT = re.compile(r"""^__version__\s*(?::\s*str\s*)?=\s*(["'])(?P<version>[^"'\n]+)\1""", re.MULTILINE)
SETUP_PY_VERSION = re.compile(r"""\bversion\s*=\s*(["'])(?P<version>[^"'\n]+)\1""")
SETUP_CFG_VERSION = re.compile(r"^version\s*[=:]\s*(?P<version>[^\s#;]+)", re.MULTILINE)
_POETRY = ("tool", "poetry")
_PROJECT = ("project",)


def _pattern(relative: str) -> re.Pattern[str] | None:
    name = Path(relative).name
    if name == "setup.py":
        return SETUP_PY_VERSION
    if name == "setup.cfg":
        return SETUP_CFG_VERSION
    if name.endswith(".py"):
        return VERSION_ASSIGNMENT
    return None


def _table(document: Any, keys: tuple[str, ...]) -> Any:
    for key in keys:
        if not hasattr(document, "get"):
            return None
        document = document.get(key)
    return document


def _pyproject_tables(document: Any) -> list[Any]:
    """The tables whose `version` key is the project's version: [project] (when static) and [tool.poetry]."""
    found = []
    project = _table(document, _PROJECT)
    if project is not None and isinstance(project.get("version"), str) and "version" not in project.get("dynamic", []):
        found.append(project)
    poetry = _table(document, _POETRY)
    if poetry is not None and isinstance(poetry.get("version"), str):
        found.append(poetry)
    return found


def _parse_pyproject(text: str, relative: str) -> Any:
    import tomlkit
    from tomlkit.exceptions import ParseError

    try:
        return tomlkit.parse(text)
    except ParseError as error:
        raise UsageError(f"{relative}: not valid TOML: {error}") from None


def _setup_cfg_metadata(text: str, relative: str) -> str | None:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text, source=relative)
    except configparser.Error as error:
        raise UsageError(f"{relative}: cannot be parsed: {error}") from None
    value = parser.get("metadata", "version", fallback=None)
    return None if value is None or value.startswith(("attr:", "file:")) else value


def read_versions(root: Path, relative: str) -> list[str]:
    """Every version the file states, as written (pyproject.toml may state it twice, for PEP 621 and poetry)."""
    try:
        text = (root / relative).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"{relative}: cannot be read as a version file: {error}") from None
    if Path(relative).name == "pyproject.toml":
        return [str(table["version"]) for table in _pyproject_tables(_parse_pyproject(text, relative))]
    if Path(relative).name == "setup.cfg":
        value = _setup_cfg_metadata(text, relative)
        return [value] if value else []
    pattern = _pattern(relative)
    if pattern is not None:
        match = pattern.search(text)
        return [match.group("version")] if match else []
    stripped = text.strip()  # a VERSION file: the version and nothing else
    return [stripped] if stripped and len(stripped.split()) == 1 else []


def replace_version(root: Path, relative: str, current: str, new: str) -> str:
    """The file's text with `current` replaced by `new` where the file states the version, and nowhere else."""
    text = (root / relative).read_text(encoding="utf-8")
    if Path(relative).name == "pyproject.toml":
        import tomlkit

        document = _parse_pyproject(text, relative)
        tables = [table for table in _pyproject_tables(document) if table["version"] == current]
        for table in tables:
            old = table["version"]
            table["version"] = tomlkit.string(new, literal=old.type.is_literal())
        changed = tomlkit.dumps(document) if tables else text
    else:
        pattern = _pattern(relative)
        if pattern is None:
            changed = text.replace(current, new)
        else:
            changed = pattern.sub(
                lambda m: m.group(0).replace(current, new) if m.group("version") == current else m.group(0), text
            )
    if changed == text:
        raise UsageError(
            f"{relative}: does not hold the current version {current}",
            hint="fix the file, or [version] files in release.toml",
        )
    return changed
