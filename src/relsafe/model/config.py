"""release.toml: the schema, its defaults, and validation before anything runs.

The same tables may live under [tool.relsafe] in pyproject.toml. Every key is
optional; unknown keys and wrong types are errors naming the file, the key and
what was expected.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from relsafe.core.errors import ConfigError
from relsafe.model.index_url import is_production_pypi
from relsafe.model.schema import AuditIgnore, GateConfig, StepFacts, Validator

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib


CONFIG_FILE = "release.toml"
TESTPYPI_UPLOAD_URL = "https://test.pypi.org/legacy/"
TESTPYPI_INDEX_URL = "https://test.pypi.org/simple/"
PYPI_INDEX_URL = "https://pypi.org/simple/"
OSV_QUERY_URL = "https://api.osv.dev/v1/query"
DEFAULT_ENVIRONMENT = "pypi"  # the GitHub environment of the publish job relsafe writes


@dataclass(frozen=True)
class Config:
    """The validated configuration; `source` names where it came from, for messages."""

    source: str = "defaults"
    branch: str = "main"
    remote: str = "origin"
    tag_format: str | None = None  # None: read from the project's tags (see tag_convention)
    sign_tags: bool = False
    steps: tuple[str, ...] = ()
    scratch_home: bool = True
    version_files: tuple[str, ...] = ()
    version_source: str = ""  # "": detected; "tags" or "files" ([version] source)
    build_isolation: bool = True
    test_command: str = "python -m pytest -q"
    test_paths: tuple[str, ...] = ("tests",)
    test_requires: tuple[str, ...] = ("pytest",)
    test_extras: tuple[str, ...] = ()
    test_groups: tuple[str, ...] = ()
    test_pythons: tuple[str, ...] = ()
    test_env: tuple[str, ...] = ()
    test_lock: str = ""  # "": none; a lock file whose pins the test venvs install as constraints
    verify_tests: str = "auto"  # "always": verify-stage runs the tests again even when nothing differs
    staging_repository_url: str = TESTPYPI_UPLOAD_URL
    staging_index_url: str = TESTPYPI_INDEX_URL
    staging_upload_host: str = ""  # "": TestPyPI and loopback only
    production_index_url: str = PYPI_INDEX_URL
    inspect_allow: tuple[str, ...] = ()
    inspect_strict: bool = True
    inspect_accept_pth: tuple[str, ...] = ()
    gates: tuple[GateConfig, ...] = ()
    publish_workflow: str | None = None  # None: relsafe's own file (exact), or the one that publishes (audit-only)
    publish_workflow_check: str = "exact"  # "audit-only": the project keeps a workflow of its own, audited only
    publish_environment: str = DEFAULT_ENVIRONMENT
    publish_trigger: str = "tag"
    audit_osv_url: str = OSV_QUERY_URL
    audit_service: str = "osv"
    audit_ignores: tuple[AuditIgnore, ...] = ()
    watch_timeout: float = 1800.0
    watch_interval: float = 30.0
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def configured_environment(self) -> str | None:
        """[publish] environment when it names another than the default `pypi`; None otherwise, and then the
        environment the publish workflow uses is the one PyPI's publisher names (an audit takes it as set)."""
        return None if self.publish_environment == DEFAULT_ENVIRONMENT else self.publish_environment

    def fingerprint(self) -> str:
        """A short stable hash of what the user set: a changed configuration changes a step's inputs.

        Defaults are left out, so that a relsafe upgrade adding a key with a
        default does not look like an edit of release.toml to a resume.
        """
        defaults = asdict(Config())
        data = {key: value for key, value in asdict(self).items() if key != "source" and value != defaults[key]}
        blob = json.dumps(data, sort_keys=True, default=list).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


def present(path: Path) -> bool:
    """Whether a file relsafe reads is there: a folder or a dangling symlink in its place is a mistake to
    report, not a missing file to skip (the release would otherwise run on defaults)."""
    if not os.path.lexists(path):
        return False
    if path.is_file():
        return True
    if path.is_symlink() and not path.exists():
        found = f"a symlink to {os.readlink(path)}, which does not exist"
    else:
        found = "a folder" if path.is_dir() else "not a regular file"
    raise ConfigError(f"{path.name}: expected a file, found {found}")


def read_toml(path: Path) -> dict[str, Any]:
    """A TOML file, or a ConfigError naming it: never a traceback for a typo or a stray byte."""
    try:
        with path.open("rb") as stream:
            data: dict[str, Any] = tomllib.load(stream)
            return data
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path.name}: not valid TOML: {error}") from None
    except UnicodeDecodeError as error:
        byte = error.object[error.start : error.start + 1].hex()
        raise ConfigError(f"{path.name}: expected UTF-8 text, found byte 0x{byte} at offset {error.start}") from None
    except OSError as error:
        raise ConfigError(f"{path.name}: cannot be read: {error.strerror}") from None


def load_config(root: Path, steps: Sequence[StepFacts]) -> Config:
    """Read release.toml, else [tool.relsafe] in pyproject.toml, else defaults.

    `steps` are the steps this relsafe implements, in pipeline order.
    A staging URL that is the production index is refused: relsafe never
    uploads there.
    """
    release_toml = root / CONFIG_FILE
    pyproject = root / "pyproject.toml"
    raw: dict[str, Any] = {}
    source, prefix = "defaults", ""
    if present(release_toml):
        raw, source = read_toml(release_toml), CONFIG_FILE
        tool = read_toml(pyproject).get("tool", {}) if present(pyproject) else {}
        if isinstance(tool, Mapping) and "relsafe" in tool:
            raise ConfigError(
                f"{CONFIG_FILE} and pyproject.toml [tool.relsafe] both configure relsafe; expected only one of them"
            )
    elif present(pyproject):
        tool = read_toml(pyproject).get("tool", {})
        if isinstance(tool, Mapping) and "relsafe" in tool:
            raw, source, prefix = tool["relsafe"], "pyproject.toml", "tool.relsafe."
            if not isinstance(raw, Mapping):
                raise ConfigError("pyproject.toml: tool.relsafe: expected a table")
    values = Validator(source, prefix, steps).convert(raw)
    values.setdefault("steps", tuple(step.name for step in steps if step.default))
    for index, gate in enumerate(values.get("gates", ())):
        if gate.before not in values["steps"]:
            raise ConfigError(
                f"{source}: {prefix}gate[{index}].before: expected a step in [release] steps, "
                f"got {gate.before!r}, which does not run"
            )
    config = Config(source=source, **values)
    if is_production_pypi(config.staging_repository_url):
        raise ConfigError(
            f"{source}: {prefix}staging.repository-url: expected a staging index, got the production index "
            f"{config.staging_repository_url!r}; relsafe never uploads to PyPI itself (the tag triggers the "
            "Trusted Publishing workflow)"
        )
    return config
