"""An outsider's text reaching a script by a detour: an `env:` entry, a step's or a job's output.

`env: TITLE: ${{ github.event.issue.title }}` is the safe way to hand text to
a script, as long as the script reads it as a variable ("$TITLE": the shell
never parses a variable's value as code, quoted or not). Expanded back with
`${{ env.TITLE }}`, it is pasted into the script as text before the shell runs
it, exactly like the event field itself. A step output written from such text
(`echo "title=$TITLE" >> "$GITHUB_OUTPUT"`) and a job output holding one carry
it on to `${{ steps.x.outputs.* }}` and `${{ needs.x.outputs.* }}`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from relsafe.security.workflow.injection import untrusted_expansions
from relsafe.security.workflow.model import Rule, Settings, Workflow, job_steps, key_line, patterns, value_line
from relsafe.security.workflow.report import ERROR, Finding

_EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)
_ENV_REF = re.compile(r"(?<![\w.])env\s*\.\s*([A-Za-z_]\w*)")
_STEP_REF = re.compile(r"(?<![\w.])steps\s*\.\s*([\w-]+)\s*\.\s*outputs\b")
_NEEDS_REF = re.compile(r"(?<![\w.])needs\s*\.\s*([\w-]+)\s*\.\s*outputs\s*\.\s*([\w-]+)")
_OUTPUT_WRITE = re.compile(r"\bGITHUB_OUTPUT\b|::set-output\b")


def tainted_env(mapping: Any) -> dict[str, str]:
    """The `env:` entries whose value expands an outsider's text: name -> the expansion."""
    if not isinstance(mapping, dict):
        return {}
    found = {}
    for name, value in mapping.items():
        untrusted = untrusted_expansions(str(value))
        if untrusted:
            found[str(name)] = untrusted[0]
    return found


def step_env(workflow: Workflow, job: Any, step: Any) -> dict[str, str]:
    """The tainted variables a step sees: the workflow's, its job's and its own `env:`, the nearest winning."""
    return {
        **tainted_env(workflow.doc.get("env")),
        **tainted_env(job.get("env")),
        **tainted_env(step.get("env")),
    }


def indirect_injection(workflow: Workflow, settings: Settings) -> Iterator[Finding]:
    """`${{ env.X }}`, `${{ steps.s.outputs.* }}` or `${{ needs.j.outputs.* }}` pasted into a script when it holds
    an outsider's text."""
    job_outputs = _job_outputs(workflow)
    for job in workflow.jobs.values():
        needs = set(patterns(job.get("needs")))
        outputs: dict[str, str] = {}  # step id -> where its outputs come from
        for step in job_steps(job):
            env = step_env(workflow, job, step)
            for holder, key in scripts(step):
                start = value_line(holder, key, key_line(holder, key, 1))
                for expression in _EXPRESSION.finditer(holder[key]):
                    source = _source(expression.group(1), env, outputs, job_outputs, needs)
                    if source is not None:
                        text = expression.group(0)
                        yield workflow.finding(
                            "template-injection",
                            ERROR,
                            script_line(workflow, start, holder[key], expression.start()),
                            f"`{text}` is pasted into the `{key}:` script before it runs, and {source}",
                            f'Read it as a variable: `env: VALUE: {text}` and "$VALUE" in the script.',
                        )
            _note_outputs(step, env, outputs)


def _note_outputs(step: Any, env: dict[str, str], outputs: dict[str, str]) -> None:
    """Record in outputs (step id -> where from) a step that writes its outputs from an outsider's text."""
    step_id, run = step.get("id"), step.get("run")
    if step_id is not None and isinstance(run, str) and _OUTPUT_WRITE.search(run):
        written = _written_from(run, env, outputs)
        if written is not None:
            outputs[str(step_id)] = f"step `{step_id}` writes its outputs from {written}"


def _written_from(run: str, env: dict[str, str], outputs: dict[str, str]) -> str | None:
    """What outsider's text a script that writes step outputs uses: an expansion, a tainted variable, or a
    tainted output of an earlier step."""
    untrusted = untrusted_expansions(run)
    if untrusted:
        return f"`{untrusted[0]}`"
    for name, expansion in env.items():
        if re.search(rf"\$\{{?{re.escape(name)}\b|env\s*\.\s*{re.escape(name)}\b", run):
            return f"`${name}`, which holds `{expansion}`"
    for match in _STEP_REF.finditer(run):
        if match.group(1) in outputs:
            return outputs[match.group(1)]
    return None


def _job_outputs(workflow: Workflow) -> dict[tuple[str, str], str]:
    """(job, output) -> where the outsider's text in a job's `outputs:` comes from."""
    found: dict[tuple[str, str], str] = {}
    for job_id, job in workflow.jobs.items():
        declared = job.get("outputs")
        if not isinstance(declared, dict):
            continue
        steps: dict[str, str] = {}
        for step in job_steps(job):
            _note_outputs(step, step_env(workflow, job, step), steps)
        for name, value in declared.items():
            untrusted = untrusted_expansions(str(value))
            if untrusted:
                found[(job_id, str(name))] = f"`{untrusted[0]}`"
            for match in _STEP_REF.finditer(str(value)):
                if match.group(1) in steps:
                    found[(job_id, str(name))] = steps[match.group(1)]
    return found


def _source(
    expression: str,
    env: dict[str, str],
    outputs: dict[str, str],
    job_outputs: dict[tuple[str, str], str],
    needs: set[str],
) -> str | None:
    for match in _ENV_REF.finditer(expression):
        if match.group(1) in env:
            return f"`env.{match.group(1)}` holds `{env[match.group(1)]}`, text an outsider chose"
    for match in _STEP_REF.finditer(expression):
        if match.group(1) in outputs:
            return f"{outputs[match.group(1)]}, text an outsider chose"
    for match in _NEEDS_REF.finditer(expression):
        origin = job_outputs.get((match.group(1), match.group(2)))
        if match.group(1) in needs and origin is not None:
            return f"job `{match.group(1)}` sets output `{match.group(2)}` from {origin}, text an outsider chose"
    return None


def script_line(workflow: Workflow, start: int, script: str, offset: int) -> int:
    """The file line of the character at offset in a script whose value starts on line start (a block scalar's
    text starts on a later line): each occurrence of a repeated expression on its own line."""
    first = next((line for line in script.splitlines() if line.strip()), "")
    return workflow.text_line(start, first.strip()) + script[:offset].count("\n")


def scripts(step: Any) -> list[tuple[Any, str]]:
    """Where a step holds a script: its `run:`, and the `script:` of actions/github-script."""
    scripts: list[tuple[Any, str]] = [(step, "run")] if isinstance(step.get("run"), str) else []
    with_ = step.get("with")
    uses = step.get("uses")
    if (
        isinstance(uses, str)
        and uses.lower().startswith("actions/github-script@")
        and isinstance(with_, dict)
        and isinstance(with_.get("script"), str)
    ):
        scripts.append((with_, "script"))
    return scripts


RULES: tuple[Rule, ...] = (indirect_injection,)
