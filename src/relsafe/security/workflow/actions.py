"""Composite actions (`action.yml`): audited as what they are, and found through the workflows that use them.

A composite action's steps run inside the calling job, with its token and
secrets: the Ultralytics injection (`git pull origin ${{ github.head_ref }}`)
sat in one. A `${{ github.* }}` expansion of an outsider's text is injection
wherever the action runs; `${{ inputs.* }}` is as safe as what each caller
passes, so it is a warning in the action and an error in the workflow that
passes it an outsider's text. An action a publishing workflow uses runs in the
publish path and gets that workflow's strict rules (caches, pins, checkout).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from relsafe.core.errors import UsageError
from relsafe.security.workflow.indirection import indirect_injection, script_line, scripts
from relsafe.security.workflow.injection import untrusted_expansions
from relsafe.security.workflow.model import Rule, Settings, Workflow, job_steps, key_line, load_yaml, value_line
from relsafe.security.workflow.report import ERROR, WARNING, Finding
from relsafe.security.workflow.supply_chain import checkout_credentials, release_cache, unpinned_action
from relsafe.security.workflow.uploads import publishes

ACTION_FILES = ("action.yml", "action.yaml")
ACTION_JOB = "(action)"  # the one pseudo-job that holds a composite action's steps
_EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)
_INPUT = re.compile(r"(?<![\w.])inputs\s*\.\s*([A-Za-z_][\w-]*)|(?<![\w.])inputs\s*\[\s*['\"]([^'\"]+)['\"]\s*\]")


def is_action_file(path: Path) -> bool:
    return path.name in ACTION_FILES


def load_action(path: Path, root: Path | None = None, *, in_publish_path: bool = False) -> Workflow:
    """An action definition as a Workflow of one pseudo-job holding its steps (none for a JavaScript or Docker
    action). in_publish_path: a workflow that can publish uses it, so it gets the rules of publishing."""
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"{name}: cannot read: {error}") from error
    doc = load_yaml(text, name)
    runs = doc.get("runs") if isinstance(doc, dict) else None
    if not isinstance(runs, dict):
        raise UsageError(f"{name}: not a GitHub workflow (`on:` and `jobs:`) nor an action (`runs:`)")
    steps = runs.get("steps") if isinstance(runs.get("steps"), list) else []
    root = root if root is not None else _repository_of(path)
    job = {"steps": steps}
    publishing = any(publishes(step, root) for step in job_steps(job))
    return Workflow(
        path=name,
        lines=text.splitlines(),
        doc=doc,
        on_line=1,
        triggers={},
        trigger_lines={},
        jobs={ACTION_JOB: job},
        publish_jobs=set(),
        # not a reusable workflow's call: the action runs in the job of a workflow that can publish, or publishes
        calls_publish={ACTION_JOB} if in_publish_path or publishing else set(),
        root=root,
    )


def is_action_document(path: Path) -> bool:
    """Does the YAML file hold an action definition (`runs:`, no `jobs:`) rather than a workflow?"""
    try:
        doc = load_yaml(path.read_text(encoding="utf-8"), str(path))
    except (OSError, UnicodeDecodeError, UsageError):
        return False
    return isinstance(doc, dict) and isinstance(doc.get("runs"), dict) and "jobs" not in doc


def local_action_file(root: Path | None, uses: Any) -> Path | None:
    """The action.yml of a step's `uses: ./path` in the repository at root; None for any other `uses:`."""
    if root is None or not isinstance(uses, str) or not uses.startswith("./"):
        return None
    folder = root / uses.partition("@")[0]
    return next((folder / name for name in ACTION_FILES if (folder / name).is_file()), None)


def local_actions(workflows: Sequence[Workflow], audited: Sequence[Path]) -> list[Workflow]:
    """The local actions the workflows (and those actions) use, once each and not those already audited, each
    with the strict rules when a workflow that can publish uses it."""
    seen = {path.resolve() for path in audited}
    found: dict[Path, Workflow] = {}
    pending = [(workflow, workflow.publishing) for workflow in workflows]
    while pending:
        user, publishing = pending.pop(0)
        for step in user.steps():
            path = local_action_file(_as_given(user), step.get("uses"))
            if path is None or path.resolve() in seen:
                continue
            known = found.get(path.resolve())
            if known is not None and (known.publishing or not publishing):
                continue  # audited already, with rules at least as strict
            try:
                action = load_action(path, user.root, in_publish_path=publishing)
            except UsageError:
                continue  # the caller still runs it; zizmor and the action's own audit name the problem
            found[path.resolve()] = action
            pending.append((action, action.publishing))
    return list(found.values())


def _as_given(workflow: Workflow) -> Path | None:
    """The workflow's repository root spelt as its path was given (relative stays relative), for the paths of
    the actions it uses."""
    if workflow.root is None:
        return None
    return next((folder for folder in Path(workflow.path).parents if folder.resolve() == workflow.root), workflow.root)


def _repository_of(path: Path) -> Path | None:
    """The repository an action file lies in (the folder holding .git), whose local actions it may use."""
    for folder in path.resolve().parents:
        if (folder / ".git").exists():
            return folder
    return None


# -- the rules -------------------------------------------------------------------------------------------------


def action_injection(action: Workflow, settings: Settings) -> Iterator[Finding]:
    """`${{ … }}` pasted into a composite action's script: an outsider's github.* text is an error, an input a
    warning (it is what the callers pass)."""
    for step in action.steps():
        for holder, key in scripts(step):
            start = value_line(holder, key, key_line(holder, key, 1))
            for expression in _EXPRESSION.finditer(holder[key]):
                text, line = expression.group(0), script_line(action, start, holder[key], expression.start())
                untrusted = untrusted_expansions(text)
                inputs = _inputs(expression.group(1))
                if untrusted:
                    yield action.finding(
                        "template-injection",
                        ERROR,
                        line,
                        f"`{text}` is pasted into the `{key}:` script of this action before it runs: it expands "
                        "text an outsider chose (a branch name, a title) in every workflow that uses the action",
                        f'Pass the value through `env:` (e.g. `env: VALUE: {text}`) and use "$VALUE" in the script.',
                    )
                elif inputs:
                    yield action.finding(
                        "template-injection",
                        WARNING,
                        line,
                        f"`{text}` is pasted into the `{key}:` script of this action before it runs: whatever a "
                        f"caller passes as `{inputs[0]}` becomes shell code",
                        f'Pass the input through `env:` (e.g. `env: VALUE: {text}`) and use "$VALUE" in the script.',
                    )


def input_injection(workflow: Workflow, settings: Settings) -> Iterator[Finding]:
    """A step that passes an outsider's text to an input its local action pastes into a script."""
    for step in workflow.steps():
        path = local_action_file(_as_given(workflow), step.get("uses"))
        with_ = step.get("with")
        if path is None or not isinstance(with_, dict):
            continue
        pasted = _pasted_inputs(path)
        for name, value in with_.items():
            untrusted = untrusted_expansions(str(value))
            where = pasted.get(str(name).lower())
            if untrusted and where is not None:
                yield workflow.finding(
                    "template-injection",
                    ERROR,
                    key_line(with_, name, 1),
                    f"`{untrusted[0]}`, text an outsider chose, is passed as `{name}` to {step.get('uses')}, which "
                    f"pastes it into a script before it runs ({path}:{where})",
                    f'In the action, pass `inputs.{name}` through `env:` and use it quoted ("$VALUE").',
                )


def _inputs(expression: str) -> list[str]:
    return [match.group(1) or match.group(2) for match in _INPUT.finditer(expression)]


def _pasted_inputs(path: Path) -> dict[str, int]:
    """The inputs (lower-cased) a composite action pastes into its scripts, with the line of the first paste."""
    try:
        action = load_action(path)
    except UsageError:
        return {}
    pasted: dict[str, int] = {}
    for step in action.steps():
        for holder, key in scripts(step):
            start = value_line(holder, key, key_line(holder, key, 1))
            for expression in _EXPRESSION.finditer(holder[key]):
                for name in _inputs(expression.group(1)):
                    pasted.setdefault(name.lower(), action.text_line(start, expression.group(0)))
    return pasted


ACTION_RULES: tuple[Rule, ...] = (
    action_injection,
    indirect_injection,
    unpinned_action,
    release_cache,
    checkout_credentials,
)
RULES: tuple[Rule, ...] = (input_injection,)
