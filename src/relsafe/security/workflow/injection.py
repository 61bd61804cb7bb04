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
# The last part of a github.event.* path that only ever holds numbers, booleans or commit hashes.
_SAFE_EVENT_LEAVES = frozenset(
    {
        "number", "id", "sha", "head_sha", "after", "before", "run_number", "run_attempt", "fork", "draft",
        "merged", "locked", "private", "forced", "created", "deleted", "prerelease", "additions", "deletions",
        "changed_files", "commits", "comments", "review_comments",
    }
)  # fmt: skip
# Functions whose value is true or false, whatever their arguments hold.
_BOOLEAN_FUNCTIONS = frozenset({"contains", "startswith", "endswith", "success", "always", "failure", "cancelled"})
_LITERAL = re.compile(r"'(?:[^']|'')*'|-?\d+(?:\.\d+)?|true|false|null", re.IGNORECASE)
_CALL = re.compile(r"([A-Za-z_]\w*)\s*\(")


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
                    context
                    for context in _contexts(" ".join(value_carriers(expression.group(1))))
                    if _user_controlled(context, typed_inputs)
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
            for context in _contexts(" ".join(value_carriers(expression.group(1))))
        )
    ]


def value_carriers(expression: str) -> list[str]:
    """The parts of a `${{ … }}` expression whose text can become its value; the rest only decides which.

    `a && b` is b, or a when a is falsy (false, 0, '' or null: nothing that
    can carry shell syntax); `a || b` is a or b. A comparison, a negation and
    contains()/startsWith()/endsWith() are true or false; a quoted string or a
    number is itself. So `github.event.pull_request.head.repo.fork`,
    `${{ a == 'b' }}` and `fromJSON(inputs.x) && 'a' || ''` carry nothing.
    """
    carriers: list[str] = []
    for alternative in _split(expression, "||"):
        operand = _unwrap(_split(alternative, "&&")[-1])
        if operand != alternative.strip() and ("||" in operand or "&&" in operand):
            carriers += value_carriers(operand)
        elif not _carries_nothing(operand):
            carriers.append(operand)
    return carriers


def _carries_nothing(operand: str) -> bool:
    if not operand or _LITERAL.fullmatch(operand) or operand.startswith("!"):
        return True
    if any(_split(operand, comparison)[1:] for comparison in ("==", "!=", "<", ">")):
        return True
    call = _CALL.match(operand)
    return bool(call and call.group(1).lower() in _BOOLEAN_FUNCTIONS and _closes_at_end(operand, call.end() - 1))


def _split(expression: str, operator: str) -> list[str]:
    """The expression split at `operator` where it stands outside quotes and parentheses."""
    parts, depth, quoted, start, index = [], 0, False, 0, 0
    while index < len(expression):
        char = expression[index]
        if char == "'":
            quoted = not quoted
        elif not quoted and char in "([":
            depth += 1
        elif not quoted and char in ")]":
            depth -= 1
        elif not quoted and depth == 0 and expression.startswith(operator, index):
            parts.append(expression[start:index])
            index += len(operator)
            start = index
            continue
        index += 1
    return [part.strip() for part in [*parts, expression[start:]]]


def _unwrap(operand: str) -> str:
    """The operand without parentheses around the whole of it."""
    while operand.startswith("(") and _closes_at_end(operand, 0):
        operand = operand[1:-1].strip()
    return operand


def _closes_at_end(text: str, opening: int) -> bool:
    """Does the parenthesis at `opening` close at the last character of text?"""
    depth, quoted = 0, False
    for index in range(opening, len(text)):
        char = text[index]
        if char == "'":
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
            if depth == 0:
                return index == len(text) - 1
    return False


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
