"""GitHub Actions expressions as the rehearsal evaluates them for the committed publish workflow: what a runner
would decide for a tag push, and a refusal to guess at anything else."""

from __future__ import annotations

from typing import Any

import pytest

from relsafe.tools.github_expression import Contexts, Status, Unknown, condition, evaluate, expand

TAG_PUSH = {
    "github": {
        "event_name": "push",
        "ref": "refs/tags/v1.2.0",
        "ref_name": "v1.2.0",
        "ref_type": "tag",
        "sha": "0" * 40,
        "event": {},
    },
    "env": {"DIST": "/tmp/dist"},
    "steps": {"check": {"outputs": {"ok": "true"}}},
    "needs": {"prepare": {"result": "success", "outputs": {}}},
    "secrets": {},
    "vars": {},
    "runner": {"temp": "/tmp"},
}


def contexts(reads: list[str] | None = None) -> Contexts:
    found = reads if reads is not None else []
    return Contexts(TAG_PUSH, unknown_below=frozenset({"github.event"}), on_read=found.append)


@pytest.mark.parametrize(
    ("text", "runs"),
    [
        (None, True),
        ("github.event_name == 'release'", False),
        ("${{ github.event_name == 'push' }}", True),
        ("startsWith(github.ref, 'refs/tags/')", True),
        ("github.ref_type == 'TAG'", True),  # strings compare without case
        ("github.ref == 'refs/heads/main'", False),
        ("contains(github.ref_name, 'rc')", False),
        ("github.event_name == 'push' && !contains(github.ref, 'dev')", True),
        ("github.event_name == 'release' || github.ref_type == 'tag'", True),
        ("steps.check.outputs.ok == 'true'", True),
        ("needs.prepare.result == 'success'", True),
        ("secrets.PYPI_TOKEN != ''", False),  # no secrets in a rehearsal: empty, as an unset secret on GitHub
        ("always()", True),
        ("false", False),
    ],
)
def test_conditions_decide_as_a_runner_would_for_a_tag_push(text: Any, runs: bool) -> None:
    assert condition(text, contexts(), Status()) is runs


def test_a_condition_without_a_status_function_needs_success() -> None:
    assert condition("github.ref_type == 'tag'", contexts(), Status(success=False, failure=True)) is False
    assert condition("failure()", contexts(), Status(success=False, failure=True)) is True
    assert condition("always() && github.ref_type == 'tag'", contexts(), Status(success=False)) is True


def test_values_expand_into_scripts_and_env() -> None:
    assert expand("${{ runner.temp }}/dist", contexts()) == "/tmp/dist"
    assert expand("${{ format('{0}-{1}', github.ref_name, 'x') }}", contexts()) == "v1.2.0-x"
    assert evaluate("1 < 2", contexts()) is True


def test_secrets_read_are_reported() -> None:
    reads: list[str] = []
    expand("${{ secrets.PYPI_TOKEN }}", contexts(reads))
    assert reads == ["secrets.PYPI_TOKEN"]


@pytest.mark.parametrize(
    "text",
    ["hashFiles('**/*.lock') != ''", "github.event.head_commit.message == 'x'", "matrix.python == '3.12'", "a ==="],
)
def test_what_a_rehearsal_cannot_know_is_not_guessed(text: str) -> None:
    with pytest.raises(Unknown):
        condition(text, contexts(), Status())
