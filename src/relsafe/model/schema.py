"""The schema of release.toml: every key with its type and meaning, the [[gate]] table, and the validator
that turns raw TOML into Config values, naming the file, the key and what was expected."""

from __future__ import annotations

import datetime
import difflib
import math
import os
import re
import shlex
import string
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from relsafe.core.errors import ConfigError
from relsafe.model.index_url import CREDENTIAL_HOSTS, host_of, is_loopback_host, is_production_pypi, url_problem

MAX_TAG_FORMAT = 64
"""Characters of a tag format: with a version of at most MAX_VERSION_LENGTH, a tag stays a short ref."""


# What `git check-ref-format` and `git tag` refuse in a tag name.
INVALID_TAG_NAME = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{|//|^[-./]|/\.|[./]$|\.lock(/|$)")


@dataclass(frozen=True)
class GateConfig:
    name: str
    before: str = "tag"
    items: tuple[str, ...] = ()


@dataclass(frozen=True)
class AuditIgnore:
    """A reviewed advisory the release may ship with ([[audit-deps.ignore]]): why, and until when."""

    id: str
    reason: str
    until: str | None = None
    """YYYY-MM-DD: the last day the ignore holds; None for no end."""


@dataclass(frozen=True)
class Key:
    """One key of the schema: its attribute on Config, the type it needs, and a description."""

    attribute: str
    kind: str  # "str", "bool", "number", "list[str]"
    description: str


SCHEMA: dict[str, dict[str, Key]] = {
    "release": {
        "branch": Key("branch", "str", "the release branch"),
        "remote": Key("remote", "str", "the git remote to push to"),
        "tag-format": Key("tag_format", "str", "tag name; must contain {version} (default: detected from the tags)"),
        "sign-tags": Key("sign_tags", "bool", "sign the release tag (git tag -s)"),
        "steps": Key("steps", "list[str]", "which steps run, in pipeline order"),
        "scratch-home": Key(
            "scratch_home",
            "bool",
            "run the project's code (build, installs, tests) with a HOME of its own (false: with yours)",
        ),
    },
    "version": {
        "files": Key("version_files", "list[str]", "files holding the version, when bump-my-version has no config"),
        "source": Key(
            "version_source", "str", '"tags": the version comes from git tags (no bump commit); "files": from files'
        ),
    },
    "build": {
        "isolation": Key(
            "build_isolation",
            "bool",
            "build in an isolated environment (false: use the backend installed beside relsafe)",
        ),
    },
    "test": {
        "command": Key("test_command", "str", "test command run with the fresh venv first on PATH"),
        "paths": Key("test_paths", "list[str]", "paths copied to a temp folder to run the tests from"),
        "requires": Key("test_requires", "list[str]", "requirements installed beside the wheel"),
        "extras": Key("test_extras", "list[str]", "the project's own extras, installed with the wheel"),
        "groups": Key("test_groups", "list[str]", "PEP 735 dependency groups from pyproject.toml"),
        "pythons": Key("test_pythons", "list[str]", "interpreters, one fresh venv each (default: relsafe's own)"),
        "env": Key("test_env", "list[str]", "variables the test command gets though they look like credentials"),
        "lock": Key(
            "test_lock",
            "str",
            "a lock file (uv.lock, poetry.lock, pylock.toml, requirements*.txt) pinning the test venv's dependencies",
        ),
    },
    "verify-stage": {
        "tests": Key(
            "verify_tests",
            "str",
            '"auto": run the tests again only when the environment differs from smoke\'s; "always": every time',
        ),
    },
    "staging": {
        "repository-url": Key("staging_repository_url", "str", "upload URL of the staging index"),
        "index-url": Key("staging_index_url", "str", "simple index URL of the staging index"),
        "upload-host": Key(
            "staging_upload_host", "str", "the host the upload credential may go to when it is not TestPyPI or loopback"
        ),
    },
    "production": {
        "index-url": Key("production_index_url", "str", "simple index URL of the production index"),
    },
    "inspect": {
        "allow": Key("inspect_allow", "list[str]", "reviewed paths the secret scan may pass"),
        "strict": Key("inspect_strict", "bool", "twine check --strict: its warnings refuse (false: shown only)"),
        "accept-pth": Key(
            "inspect_accept_pth", "list[str]", "reviewed start-up hooks (.pth files, sitecustomize) the wheel may ship"
        ),
    },
    "publish": {
        "workflow": Key("publish_workflow", "str", "the Trusted Publishing workflow file"),
        "workflow-check": Key(
            "publish_workflow_check",
            "str",
            '"exact": the workflow must be relsafe\'s rendering; "audit-only": the project\'s own, audited only',
        ),
        "environment": Key("publish_environment", "str", "the GitHub environment of the publish job"),
        "trigger": Key(
            "publish_trigger", "str", '"tag": the pushed tag starts it; "release": a GitHub Release published by hand'
        ),
    },
    "audit-deps": {
        "osv-url": Key("audit_osv_url", "str", "the OSV service's query URL (pip-audit --osv-url)"),
        "service": Key("audit_service", "str", '"osv", or "pypi" for PyPI\'s JSON API'),
    },
    "watch": {
        "timeout": Key("watch_timeout", "number", "seconds to wait for the version on the production index"),
        "interval": Key("watch_interval", "number", "seconds between two polls of the production index"),
    },
}


PUBLISH_TRIGGERS = ("tag", "release")
VERSION_SOURCES = ("tags", "files")
INT64 = range(-(2**63), 2**63)
"""What a TOML integer may be (the TOML specification: 64-bit signed); Python's reader takes any size."""
WORKFLOW_CHECKS = ("exact", "audit-only")
GATE_KEYS = {"name": "str", "before": "str", "items": "list[str]"}
TABLES = (*SCHEMA, "gate")
AUDIT_SERVICES = ("osv", "pypi")
VERIFY_TESTS = ("auto", "always")
AUDIT_IGNORE_KEYS = {"id": "str", "reason": "str", "until": "str"}
"""[[audit-deps.ignore]]: `until` may also be a TOML date (2027-01-31)."""
ADVISORY_ID = re.compile(r"[A-Za-z][A-Za-z0-9]*-[A-Za-z0-9._:-]+")


def _expected(kind: str) -> str:
    return {
        "str": "a string",
        "bool": "true or false",
        "number": "a number",
        "list[str]": "a list of strings",
    }[kind]


def _conforms(value: Any, kind: str) -> bool:
    if kind == "str":
        return isinstance(value, str)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


MARKUP_TAG = re.compile(r"\[[a-z#/@][^\[]*?\]", re.IGNORECASE)
"""What rich reads as a style tag ([bold], [/], [link=…]): in a gate's text it would restyle or hide the
checklist a person confirms."""


def _display_problem(text: str) -> str | None:
    """Why a text shown to a person for confirmation is not plain: a control or format character (a newline,
    an escape sequence, a bidi override) or console markup; None when it is plain."""
    for char in text:
        if unicodedata.category(char) in ("Cc", "Cf"):
            return f"the control character U+{ord(char):04X}"
    tag = MARKUP_TAG.search(text)
    return f"the markup tag {tag.group()}" if tag else None


def _suggest(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


class StepFacts(Protocol):
    """What configuration needs to know of a step: the step table's rows (`relsafe.steps.table`) have it."""

    @property
    def name(self) -> str: ...
    @property
    def needs(self) -> tuple[str, ...]: ...
    @property
    def default(self) -> bool: ...


class Validator:
    """Walks the raw TOML tables and turns them into Config keyword arguments."""

    def __init__(self, source: str, prefix: str, steps: Sequence[StepFacts]) -> None:
        self.source = source
        self.prefix = prefix
        self.known_steps = tuple(step.name for step in steps)
        self.needs = {step.name: step.needs for step in steps}

    def fail(self, key: str, message: str) -> ConfigError:
        return ConfigError(f"{self.source}: {self.prefix}{key}: {message}")

    def convert(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        self.refuse_big_integers(raw, "")
        values: dict[str, Any] = {}
        for table, content in raw.items():
            if table not in TABLES:
                raise self.fail(table, "unknown table" + _suggest(table, list(TABLES)))
            if table == "gate":
                values["gates"] = self.gates(content)
                continue
            if not isinstance(content, Mapping):
                raise self.fail(table, "expected a table")
            for key, value in content.items():
                if (table, key) == ("audit-deps", "ignore"):
                    values["audit_ignores"] = self.audit_ignores(value)
                    continue
                schema = SCHEMA[table]
                if key not in schema:
                    raise self.fail(f"{table}.{key}", "unknown key" + _suggest(key, list(schema)))
                spec = schema[key]
                if not _conforms(value, spec.kind):
                    raise self.fail(f"{table}.{key}", f"expected {_expected(spec.kind)}, got {value!r}")
                values[spec.attribute] = tuple(value) if isinstance(value, list) else value
        self.check_semantics(values)
        return values

    def refuse_big_integers(self, value: Any, key: str) -> None:
        """An integer beyond 64 bits is no TOML integer, though Python's reader takes it: named, not carried on
        into a timeout or a journal that another reader cannot hold."""
        if isinstance(value, Mapping):
            for name, item in value.items():
                self.refuse_big_integers(item, f"{key}.{name}" if key else str(name))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                self.refuse_big_integers(item, f"{key}[{index}]")
        elif isinstance(value, int) and not isinstance(value, bool) and value not in INT64:
            digits = len(str(abs(value)))
            raise self.fail(key, f"expected an integer within 64 bits (TOML's limit), got one of {digits} digits")

    def gates(self, content: Any) -> tuple[GateConfig, ...]:
        if not isinstance(content, list) or not all(isinstance(g, Mapping) for g in content):
            raise self.fail("gate", "expected an array of tables ([[gate]])")
        gates = []
        for index, gate in enumerate(content):
            where = f"gate[{index}]"
            for key, value in gate.items():
                if key not in GATE_KEYS:
                    raise self.fail(f"{where}.{key}", "unknown key" + _suggest(key, list(GATE_KEYS)))
                if not _conforms(value, GATE_KEYS[key]):
                    raise self.fail(f"{where}.{key}", f"expected {_expected(GATE_KEYS[key])}, got {value!r}")
            if "name" not in gate or not gate["name"].strip():
                raise self.fail(f"{where}.name", "expected a non-empty gate name")
            before = gate.get("before", "tag")
            if before not in self.known_steps or before in ("preflight", "gate"):
                guardable = [s for s in self.known_steps if s not in ("preflight", "gate")]
                raise self.fail(
                    f"{where}.before",
                    f"expected one of {', '.join(guardable)}, got {before!r}" + _suggest(before, guardable),
                )
            items = tuple(gate.get("items", ()))
            if not items:
                raise self.fail(f"{where}.items", "expected at least one checklist item")
            for key, text in [("name", gate["name"]), *((f"items[{i}]", item) for i, item in enumerate(items))]:
                problem = _display_problem(text)
                if problem is not None:
                    raise self.fail(f"{where}.{key}", f"expected plain text, got {problem} in {text!r}")
            gates.append(GateConfig(name=gate["name"], before=before, items=items))
        names = [g.name for g in gates]
        for name in names:
            if names.count(name) > 1:
                raise self.fail("gate", f"gate name {name!r} is used twice; names must be unique")
        return tuple(gates)

    def audit_ignores(self, content: Any) -> tuple[AuditIgnore, ...]:
        """[[audit-deps.ignore]]: each needs the advisory's id and a reason, one plain line each (they are shown
        and carried by the tag's message); `until` is a date."""
        if not isinstance(content, list) or not all(isinstance(entry, Mapping) for entry in content):
            raise self.fail("audit-deps.ignore", "expected an array of tables ([[audit-deps.ignore]])")
        ignores = []
        for index, entry in enumerate(content):
            where = f"audit-deps.ignore[{index}]"
            for key, value in entry.items():
                if key not in AUDIT_IGNORE_KEYS:
                    raise self.fail(f"{where}.{key}", "unknown key" + _suggest(key, list(AUDIT_IGNORE_KEYS)))
                if not _conforms(value, "str") and not (key == "until" and _is_date(value)):
                    raise self.fail(f"{where}.{key}", f"expected {_expected('str')}, got {value!r}")
            advisory = str(entry.get("id", "")).strip()
            if not ADVISORY_ID.fullmatch(advisory):
                raise self.fail(
                    f"{where}.id", f"expected an advisory id such as PYSEC-2023-87, GHSA-… or CVE-…, got {advisory!r}"
                )
            reason = " ".join(str(entry.get("reason", "")).split())
            if not reason:
                raise self.fail(f"{where}.reason", f"expected why {advisory} may be ignored: a reviewed reason")
            problem = _display_problem(str(entry["reason"]).strip())
            if problem is not None:
                raise self.fail(f"{where}.reason", f"expected plain text on one line, got {problem}")
            ignores.append(AuditIgnore(advisory, reason, self._until(entry.get("until"), f"{where}.until")))
        ids = [ignore.id for ignore in ignores]
        for advisory in ids:
            if ids.count(advisory) > 1:
                raise self.fail("audit-deps.ignore", f"{advisory} is ignored twice; keep one entry")
        return tuple(ignores)

    def _until(self, value: Any, key: str) -> str | None:
        if value is None:
            return None
        if _is_date(value):
            return str(value.isoformat())
        try:
            return datetime.date.fromisoformat(str(value)).isoformat()
        except ValueError:
            raise self.fail(key, f'expected a date "YYYY-MM-DD", got {value!r}') from None

    def _check_tag_format(self, tag_format: str) -> None:
        """Everything git and relsafe need of a tag name, found now and not at the tag step, after a bump
        commit, a build and a staging upload that burns the version on the index."""
        fields = [(name, spec, conversion) for _, name, spec, conversion in _parsed_format(tag_format, self)]
        if any(field != ("version", "", None) for field in fields if field[0] is not None):
            raise self.fail("release.tag-format", f"expected only the {{version}} placeholder, got {tag_format!r}")
        if ("version", "", None) not in fields:
            raise self.fail("release.tag-format", f"expected a format containing {{version}}, got {tag_format!r}")
        if tag_format.startswith("refs/"):
            raise self.fail(
                "release.tag-format", f"expected a tag name, not a ref (no leading refs/), got {tag_format!r}"
            )
        if len(tag_format) > MAX_TAG_FORMAT:
            raise self.fail(
                "release.tag-format", f"expected at most {MAX_TAG_FORMAT} characters, got {len(tag_format)}"
            )
        example = tag_format.format(version="1.0.0")
        if INVALID_TAG_NAME.search(example) or example == "@":
            raise self.fail(
                "release.tag-format", f"expected a valid git tag name, got {tag_format!r} (git refuses {example!r})"
            )

    def _check_steps(self, steps: tuple[str, ...]) -> None:
        positions = []
        for step in steps:
            if step not in self.known_steps:
                raise self.fail(
                    "release.steps",
                    f"unknown step {step!r}; expected some of {', '.join(self.known_steps)}"
                    + _suggest(step, list(self.known_steps)),
                )
            positions.append(self.known_steps.index(step))
        if positions != sorted(set(positions)):
            raise self.fail(
                "release.steps", "expected steps in pipeline order without repeats: " + ", ".join(self.known_steps)
            )
        if "preflight" not in steps:
            raise self.fail("release.steps", "'preflight' cannot be left out; it is what keeps a release safe")
        for step in steps:
            missing = [needed for needed in self.needs.get(step, ()) if needed not in steps]
            if missing:
                raise self.fail(
                    "release.steps", f"{step!r} needs {' and '.join(map(repr, missing))}, which the list leaves out"
                )

    def check_semantics(self, values: dict[str, Any]) -> None:
        tag_format = values.get("tag_format")
        if tag_format is not None:
            self._check_tag_format(tag_format)
        steps = values.get("steps")
        if steps is not None:
            self._check_steps(steps)
        command = values.get("test_command")
        if command is not None:
            try:
                words = shlex.split(command)
            except ValueError as error:
                raise self.fail(
                    "test.command", f"expected a command a shell could split ({error}), got {command!r}"
                ) from None
            if not words:
                raise self.fail("test.command", "expected a command, got an empty string")
        for path in values.get("test_paths", ()):
            if Path(path).is_absolute() or os.path.normpath(path).split(os.sep)[0] == os.pardir or not path.strip():
                raise self.fail("test.paths", f"expected paths inside the project, relative to it; got {path!r}")
        for table, key, attribute in (
            ("staging", "repository-url", "staging_repository_url"),
            ("staging", "index-url", "staging_index_url"),
            ("production", "index-url", "production_index_url"),
        ):
            url = values.get(attribute)
            problem = url_problem(url) if url is not None else None
            if problem is not None:  # never echo the URL: it may hold a credential
                raise self.fail(
                    f"{table}.{key}",
                    f"{problem}; give credentials as twine does (TWINE_USERNAME/TWINE_PASSWORD, keyring or "
                    "~/.pypirc), so they never reach the journal",
                )
        for name in values.get("test_env", ()):
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                raise self.fail("test.env", f"expected names of environment variables, got {name!r}")
        self._check_upload_host(values)
        for name in values.get("inspect_accept_pth", ()):
            if not name.strip() or "/" in name or "\\" in name:
                raise self.fail("inspect.accept-pth", f"expected file names such as 'name.pth', got {name!r}")
        source = self._one_of(values, "version_source", "version.source", VERSION_SOURCES)
        if source == "tags" and values.get("version_files"):
            raise self.fail("version.files", 'names files to bump, but source = "tags" bumps none; remove one of them')
        lock = values.get("test_lock")
        if lock is not None and (not lock.strip() or Path(lock).is_absolute() or os.pardir in Path(lock).parts):
            raise self.fail("test.lock", f"expected a path inside the project, relative to it; got {lock!r}")
        self._one_of(values, "publish_trigger", "publish.trigger", PUBLISH_TRIGGERS)
        self._one_of(values, "publish_workflow_check", "publish.workflow-check", WORKFLOW_CHECKS)
        self._one_of(values, "verify_tests", "verify-stage.tests", VERIFY_TESTS)
        service = self._one_of(values, "audit_service", "audit-deps.service", AUDIT_SERVICES)
        osv_url = values.get("audit_osv_url")
        problem = url_problem(osv_url) if osv_url is not None else None
        if problem is not None:  # never echo the URL: it may hold a credential
            raise self.fail("audit-deps.osv-url", f"{problem}; expected the service's query URL (…/v1/query)")
        if osv_url is not None and service == "pypi":
            raise self.fail("audit-deps.osv-url", 'is used with service = "osv" only; remove one of them')
        for key in ("watch_timeout", "watch_interval"):
            if key in values and not (math.isfinite(values[key]) and values[key] > 0):
                raise self.fail(f"watch.{key.split('_')[1]}", f"expected a finite positive number, got {values[key]!r}")

    def _one_of(self, values: dict[str, Any], field: str, key: str, choices: tuple[str, str]) -> Any:
        """values[field], refused unless it is one of the two `choices` (absent: None)."""
        value = values.get(field)
        if value is not None and value not in choices:
            expected = f'expected "{choices[0]}" or "{choices[1]}", got {value!r}'
            raise self.fail(key, expected + _suggest(value, list(choices)))
        return value

    def _check_upload_host(self, values: dict[str, Any]) -> None:
        """The upload credential goes to TestPyPI or a loopback index, or to the host [staging] upload-host
        names: a release.toml edited to name another host cannot send the maintainer's login there unseen."""
        url = values.get("staging_repository_url")
        named = (values.get("staging_upload_host") or "").strip()
        if "/" in named or "@" in named or ":" in named or " " in named:
            raise self.fail("staging.upload-host", f"expected a host name (no scheme, port or path), got {named!r}")
        if url is None:
            return
        host = host_of(url)
        if host in CREDENTIAL_HOSTS or is_loopback_host(host) or is_production_pypi(url):
            return  # production PyPI is refused on its own, as what it is (model.config)
        if not named or host_of(f"https://{named}/") != host:
            raise self.fail(
                "staging.repository-url",
                f"the upload credential would go to {host}, which is neither TestPyPI nor loopback; name that "
                f'host in [staging] upload-host = "{host}" to send it there',
            )


def _is_date(value: Any) -> bool:
    """A TOML local date (2027-01-31): a date, not a date-time."""
    return isinstance(value, datetime.date) and not isinstance(value, datetime.datetime)


def _parsed_format(tag_format: str, validator: Validator) -> list[tuple[str, str | None, str | None, str | None]]:
    try:
        return list(string.Formatter().parse(tag_format))
    except ValueError:
        raise validator.fail(
            "release.tag-format", f"expected only the {{version}} placeholder, got {tag_format!r}"
        ) from None
