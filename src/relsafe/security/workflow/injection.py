"""The rule on `${{ … }}` expansions that paste text an outsider chose into a script before it runs."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from relsafe.security.workflow.model import Rule, Settings, Workflow, key_line, uses_action, value_line
from relsafe.security.workflow.report import ERROR, Finding

_EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)
_CONTEXT = re.compile(r"(?<![\w.'\"-])(github|inputs)((?:\.[A-Za-z_*][\w*-]*|\[[^\]]*\])*)", re.IGNORECASE)
# github.* contexts whose values an outsider cannot shape into shell syntax.
_SAFE_GITHUB = frozenset(
    {
        "action", "action_path", "actor", "actor_id", "api_url", "env", "event_name", "graphql_url",
        "job", "path", "ref_protected", "ref_type", "repository", "repository_id", "repository_owner",
        "repository_owner_id", "repositoryurl", "retention_days", "run_attempt", "run_id", "run_number",
        "server_url", "sha", "token", "triggering_actor", "workflow_ref", "workflow_sha", "workspace",
    }
)  # fmt: skip
# The last part of a github.event.* path that only ever holds numbers or commit hashes.
_SAFE_EVENT_LEAVES = frozenset({"number", "id", "sha", "after", "before", "run_number", "run_attempt"})


def template_injection(workflow: Workflow, settings: Settings) -> Iterator[Finding]:
    typed_inputs = _typed_inputs(workflow.triggers)
    for step in workflow.steps():
        scripts: list[tuple[Any, str]] = []
        if isinstance(step.get("run"), str):
            scripts.append((step, "run"))
        with_ = step.get("with")
        if (
            uses_action(step) == "actions/github-script"
            and isinstance(with_, dict)
            and isinstance(with_.get("script"), str)
        ):
            scripts.append((with_, "script"))
        for holder, key in scripts:
            start = value_line(holder, key, key_line(holder, key, 1))
            for expression in _EXPRESSION.finditer(holder[key]):
                unsafe = [
                    context for context in _contexts(expression.group(1)) if _user_controlled(context, typed_inputs)
                ]
                if unsafe:
                    yield workflow.finding(
                        "template-injection",
                        ERROR,
                        workflow.text_line(start, expression.group(0)),
                        f"`{expression.group(0)}` is pasted into the `{key}:` script before it runs; "
                        f"{', '.join(unsafe)} can carry text such as `$(curl …|sh)` chosen by someone else",
                        "Pass the value through `env:` (e.g. `env: VALUE: "
                        f'{expression.group(0)}`) and use "$VALUE" in the script.',
                    )


def untrusted_expansions(text: str) -> list[str]:
    """The `${{ … }}` expressions in text that expand github.* data an outsider chose (a title, a branch name)."""
    return [
        expression.group(0)
        for expression in _EXPRESSION.finditer(text)
        if any(
            context.lower().startswith("github") and _user_controlled(context, set())
            for context in _contexts(expression.group(1))
        )
    ]


def _typed_inputs(triggers: dict[str, Any]) -> set[str]:
    """Inputs declared boolean or number: GitHub validates them, so they cannot carry shell syntax."""
    typed: set[str] = set()
    for event in ("workflow_dispatch", "workflow_call"):
        config = triggers.get(event)
        inputs = config.get("inputs") if isinstance(config, dict) else None
        if isinstance(inputs, dict):
            typed.update(
                str(name).lower()
                for name, spec in inputs.items()
                if isinstance(spec, dict) and str(spec.get("type", "")).lower() in {"boolean", "number"}
            )
    return typed


def _contexts(expression: str) -> list[str]:
    return [match.group(0) for match in _CONTEXT.finditer(expression)]


def _user_controlled(context: str, typed_inputs: set[str]) -> bool:
    parts = [part.strip("'\"") for part in re.split(r"\.|\[|\]", context.lower()) if part]
    root, rest = parts[0], parts[1:]
    if root == "inputs":
        return not rest or rest[0] not in typed_inputs
    if not rest:
        return True
    if rest[0] == "event":
        return len(rest) == 1 or rest[-1] not in _SAFE_EVENT_LEAVES
    return rest[0] not in _SAFE_GITHUB


RULES: tuple[Rule, ...] = (template_injection,)
