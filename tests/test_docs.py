"""The documentation matches the code: the configuration reference, the command pages, a strict build."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

from relsafe.model.config import Config
from relsafe.model.publish_workflow import DEFAULT_WORKFLOW
from relsafe.model.schema import AUDIT_IGNORE_KEYS, GATE_KEYS, SCHEMA, GateConfig
from relsafe.model.tag_convention import DEFAULT_FORMAT

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
MKDOCS_YML = ROOT / "mkdocs.yml"

HEADING = re.compile(r"^#{2,3}\s+`?(\[\[?[a-z.-]+\]\]?)`?\s*$")
ROW = re.compile(
    r"^\|\s*`(?P<key>[a-z][a-z-]*)`\s*"  # | `key`
    r"\|\s*(?P<type>[^|]+?)\s*"  # | type
    r"\|\s*(?P<default>[^|]+?)\s*"  # | default
    r"\|\s*(?P<description>[^|]*?)\s*\|\s*$"  # | description |
)
REQUIRED = "*required*"


def reference_tables() -> dict[str, dict[str, tuple[str, str, str]]]:
    """TOML table name → key → (type, default cell, description), from docs/configuration.md."""
    tables: dict[str, dict[str, tuple[str, str, str]]] = {}
    current: str | None = None
    for line in (DOCS / "configuration.md").read_text(encoding="utf-8").splitlines():
        heading = HEADING.match(line)
        if heading:
            current = heading.group(1).strip("[]")
            continue
        if line.startswith("#"):
            current = None
            continue
        row = ROW.match(line)
        if row and current is not None:
            keys = tables.setdefault(current, {})
            assert row["key"] not in keys, f"[{current}] {row['key']} is documented twice"
            keys[row["key"]] = (row["type"], row["default"], row["description"])
    return tables


def toml_value(cell: str) -> Any:
    """The value a default cell shows: `"main"`, `false`, `[]`, `1800`."""
    text = cell.strip()
    assert text.startswith("`") and text.endswith("`"), f"default {cell!r} is not one code span"
    return tomllib.loads(f"value = {text.strip('`')}")["value"]


def effective_default(attribute: str) -> Any:
    """Config()'s default as TOML would write it; an empty step list means relsafe's default steps, no
    tag format the default convention (when the tags follow no other one), and no publish workflow the
    default file (when no workflow publishes yet)."""
    value = getattr(Config(), attribute)
    if attribute == "tag_format" and value is None:
        value = DEFAULT_FORMAT
    if attribute == "publish_workflow" and value is None:
        value = DEFAULT_WORKFLOW
    if attribute == "steps" and not value:
        from relsafe.steps.table import DEFAULT_STEPS

        value = DEFAULT_STEPS
    return list(value) if isinstance(value, tuple) else value


def test_configuration_reference_lists_exactly_the_schema() -> None:
    documented = reference_tables()
    assert set(documented) == {*SCHEMA, "gate", "audit-deps.ignore"}, (
        "one table per TOML table of relsafe.model.schema.SCHEMA, plus [[gate]] and [[audit-deps.ignore]]"
    )
    for table, keys in SCHEMA.items():
        assert set(documented[table]) == set(keys), f"[{table}]"
        for key, spec in keys.items():
            kind, default, description = documented[table][key]
            assert kind == spec.kind, f"[{table}] {key}: type"
            assert toml_value(default) == effective_default(spec.attribute), f"[{table}] {key}: default"
            assert description, f"[{table}] {key}: description"


def test_configuration_reference_lists_the_gate_keys() -> None:
    gate = reference_tables()["gate"]
    assert set(gate) == set(GATE_KEYS)
    defaults = {f.name: f.default for f in fields(GateConfig)}
    for key, kind in GATE_KEYS.items():
        documented_kind, default, description = gate[key]
        assert documented_kind == kind, f"[[gate]] {key}: type"
        assert description, f"[[gate]] {key}: description"
        if key in ("name", "items"):  # validation requires both
            assert default == REQUIRED, f"[[gate]] {key}: default"
        else:
            assert toml_value(default) == defaults[key], f"[[gate]] {key}: default"


def test_configuration_reference_lists_the_audit_ignore_keys() -> None:
    ignore = reference_tables()["audit-deps.ignore"]
    assert set(ignore) == set(AUDIT_IGNORE_KEYS)
    for key, kind in AUDIT_IGNORE_KEYS.items():
        documented_kind, default, description = ignore[key]
        assert documented_kind == kind, f"[[audit-deps.ignore]] {key}: type"
        assert description, f"[[audit-deps.ignore]] {key}: description"
        assert (default == REQUIRED) is (key in ("id", "reason")), f"[[audit-deps.ignore]] {key}: default"


def command_names() -> list[str]:
    import typer.main

    from relsafe.cli.main import app

    group = typer.main.get_command(app)
    return sorted(group.commands)  # type: ignore[attr-defined]


def nav_pages(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, list):
        return [page for item in node for page in nav_pages(item)]
    if isinstance(node, dict):
        return [page for value in node.values() for page in nav_pages(value)]
    return []


def test_every_command_has_a_page_in_the_nav() -> None:
    import yaml

    config = yaml.safe_load(MKDOCS_YML.read_text(encoding="utf-8"))
    pages = nav_pages(config["nav"])
    names = command_names()
    assert {"release", "resume", "status", "abort", "init", "audit", "demo"} <= set(names)
    for name in names:
        assert (DOCS / "commands" / f"{name}.md").is_file(), f"docs/commands/{name}.md is missing"
        assert f"commands/{name}.md" in pages, f"commands/{name}.md is not in mkdocs.yml's nav"
    for page in pages:
        assert (DOCS / page).is_file(), f"the nav names {page}, which does not exist"


@pytest.mark.slow
def test_mkdocs_builds_strictly(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site"), "-f", str(MKDOCS_YML)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "site" / "index.html").is_file()
