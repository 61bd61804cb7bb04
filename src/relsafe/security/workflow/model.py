"""The parsed workflow: the facts every rule needs, and where in the file each one is.

A workflow is read once (ruamel.yaml round-trip, which keeps line numbers) and
its triggers, jobs and publish jobs computed here, so that each rule is a short
function over this model. GitHub's trigger filters are evaluated here too, since
`starts` (which run a release starts) and the trigger rules must agree.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from relsafe.core.errors import UsageError
from relsafe.security.workflow.references import local_path
from relsafe.security.workflow.report import Finding
from relsafe.security.workflow.uploads import (
    PYPI_UPLOAD_URL,
    handed_credential,
    holds_upload_credential,
    is_publish_action,
    publishes,
    upload_command,
)

# The `release` activities that publishing a GitHub Release sends.
RELEASE_TYPES = frozenset({"published", "created", "released"})


@dataclass(frozen=True)
class Settings:
    environment: str | None  # the one PyPI's publisher names; None: not configured, whichever the workflow uses
    tag_format: str


@dataclass
class Workflow:
    """One parsed workflow with the facts every rule needs."""

    path: str
    lines: list[str]
    doc: Any
    on_line: int
    triggers: dict[str, Any]
    trigger_lines: dict[str, int]
    jobs: dict[str, Any]
    publish_jobs: set[str]
    calls_publish: set[str]  # jobs that call a local reusable workflow which publishes
    root: Path | None = None  # the repository its local actions and reusable workflows come from

    @classmethod
    def load(cls, path: Path, _seen: frozenset[Path] = frozenset()) -> Workflow:
        name = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise UsageError(f"{name}: cannot read: {error}") from error
        return cls.parse(text, name, repository_root(path), _seen | {path.resolve()})

    @classmethod
    def parse(cls, text: str, name: str, root: Path | None, _seen: frozenset[Path] = frozenset()) -> Workflow:
        """A workflow from its text; `root` is the repository its local actions and reusable workflows are read
        from (None: they are not read)."""
        doc = load_yaml(text, name)
        on_key = "on" if isinstance(doc, dict) and "on" in doc else True
        if not isinstance(doc, dict) or on_key not in doc or not isinstance(doc.get("jobs"), dict):
            raise UsageError(f"{name}: not a GitHub workflow (it needs `on:` and `jobs:`)")
        raw = doc[on_key]
        on_line = key_line(doc, on_key, 1)
        triggers: dict[str, Any] = {}
        trigger_lines: dict[str, int] = {}
        if isinstance(raw, str):
            triggers[raw] = None
            trigger_lines[raw] = on_line
        elif isinstance(raw, list):
            for index, event in enumerate(raw):
                triggers[str(event)] = None
                trigger_lines[str(event)] = item_line(raw, index, on_line)
        elif isinstance(raw, dict):
            for event, config in raw.items():
                triggers[str(event)] = config
                trigger_lines[str(event)] = key_line(raw, event, on_line)
        jobs = {str(job_id): job for job_id, job in doc["jobs"].items() if isinstance(job, dict)}
        everywhere = handed_credential(doc.get("env"))  # the workflow's env reaches every job
        publish_jobs = {
            job_id
            for job_id, job in jobs.items()
            if any(publishes(step, root) for step in job_steps(job))
            or holds_upload_credential(job.get("env"))
            or (everywhere is not None and bool(job_steps(job)))
        }
        calls_publish = {job_id for job_id, job in jobs.items() if _calls_publish(root, Path(name), job, _seen)}
        return cls(
            name, text.splitlines(), doc, on_line, triggers, trigger_lines, jobs, publish_jobs, calls_publish, root
        )

    @property
    def publishing(self) -> bool:
        """Can this workflow upload to an index? Decided by what its jobs do (an upload step, an upload
        credential, a call of a local workflow that uploads), never by `id-token: write` alone: PyPI accepts an
        OIDC token only from the workflow registered as its publisher, which is one that uploads, so the token
        of a workflow that uploads nothing serves another consumer (Scorecard, a credential broker, crates.io)."""
        return bool(self.publish_jobs or self.calls_publish)

    def job_line(self, job_id: str) -> int:
        """The job's key line; for an action (its steps as one pseudo-job), its `runs:` line."""
        jobs = self.doc.get("jobs") if isinstance(self.doc, dict) else None
        if isinstance(jobs, dict) and job_id in jobs:
            return key_line(jobs, job_id, 1)
        return key_line(self.doc, "runs", 1) if isinstance(self.doc, dict) else 1

    def with_needs(self, job_id: str) -> list[str]:
        """The job and every job it needs, directly or not, in the order found: what feeds its upload."""
        found: list[str] = []
        pending = [job_id]
        while pending:
            current = pending.pop(0)
            if current in found or current not in self.jobs:
                continue
            found.append(current)
            pending.extend(patterns(self.jobs[current].get("needs")))
        return found

    def steps(self) -> Iterator[Any]:
        for job in self.jobs.values():
            yield from job_steps(job)

    def finding(self, rule: str, severity: str, line: int, message: str, fix: str) -> Finding:
        return Finding(rule=rule, severity=severity, path=self.path, line=line, message=message, fix=fix)

    def text_line(self, start: int, needle: str) -> int:
        """The first line at or after start (1-based) whose text contains needle, else start."""
        for number in range(start, len(self.lines) + 1):
            if needle in self.lines[number - 1]:
                return number
        return start


Rule = Callable[[Workflow, Settings], Iterator[Finding]]


def load_yaml(text: str, name: str) -> Any:
    """The YAML document in text, with line numbers; UsageError naming the file and line when it is not YAML."""
    try:
        return YAML(typ="rt").load(text)
    except MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"{name}:{mark.line + 1}" if mark is not None else name
        raise UsageError(f"{where}: not valid YAML: {error.problem or error.context}") from error
    except YAMLError as error:
        raise UsageError(f"{name}: not valid YAML: {error}") from error


def key_line(mapping: Any, key: Any, default: int) -> int:
    try:
        return int(mapping.lc.key(key)[0]) + 1
    except (AttributeError, KeyError, TypeError):
        return default


def value_line(mapping: Any, key: Any, default: int) -> int:
    try:
        return int(mapping.lc.value(key)[0]) + 1
    except (AttributeError, KeyError, TypeError):
        return default


def item_line(sequence: Any, index: int, default: int) -> int:
    try:
        return int(sequence.lc.item(index)[0]) + 1
    except (AttributeError, KeyError, IndexError, TypeError):
        return default


def job_steps(job: Any) -> list[Any]:
    steps = job.get("steps")
    return [step for step in steps if isinstance(step, dict)] if isinstance(steps, list) else []


def uses_action(step: Any) -> str | None:
    """The lower-cased owner/name(/path) a step uses, without the ref."""
    uses = step.get("uses")
    return uses.partition("@")[0].lower() if isinstance(uses, str) else None


def repository_root(path: Path) -> Path | None:
    """The repository a workflow file belongs to: two folders up from .github/workflows/; None elsewhere (a
    workflow audited on its own, whose local actions cannot be found)."""
    folder = path.resolve().parent
    if folder.name == "workflows" and folder.parent.name == ".github":
        return folder.parent.parent
    return None


def _calls_publish(root: Path | None, caller: Path, job: Any, seen: frozenset[Path]) -> bool:
    """Does the job call a reusable workflow of this repository (`uses: ./.github/workflows/x.yml`, or the
    self-repository form `$/.github/workflows/x.yml`) that publishes?

    The path is taken from the repository root, or beside the caller when it
    lies outside .github/workflows/; a missing or unreadable file, or a cycle
    of calls, counts as not publishing (the audit of that file says why).
    """
    path = local_path(job.get("uses"))
    if path is None:
        return False
    target = root / path if root is not None else caller.parent / Path(path).name
    if not target.is_file() or target.resolve() in seen:
        return False
    try:
        called = Workflow.load(target, seen)
    except UsageError:
        return False
    return bool(called.publish_jobs or called.calls_publish)


def grants_id_token(holder: Any) -> bool:
    permissions = holder.get("permissions")
    if isinstance(permissions, dict):
        return str(permissions.get("id-token", "")).lower() == "write"
    return str(permissions).lower() == "write-all"


def repository_url(with_: Any) -> str:
    return str(with_.get("repository-url") or with_.get("repository_url") or "")


def is_pypi(url: str) -> bool:
    return not url or "upload.pypi.org" in url or url.rstrip("/") in {"https://pypi.org", "https://pypi.org/legacy"}


def targets_pypi(job: Any) -> bool:
    """Does this publish job upload to PyPI itself rather than to TestPyPI or another index?"""
    for step in job_steps(job):
        with_ = step.get("with")
        if is_publish_action(step):
            return is_pypi(repository_url(with_) if isinstance(with_, dict) else "")
        run = step.get("run")
        if isinstance(run, str) and (upload_command(run) or PYPI_UPLOAD_URL.search(run)):
            return "test.pypi.org" not in run and "testpypi" not in run.lower()
    return True


def patterns(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [str(item) for item in value] if isinstance(value, list) else []


def branch_pushes(triggers: dict[str, Any]) -> bool:
    """Does pushing a branch start the workflow? Only a `push:` filtered on tags alone leaves branches out."""
    if "push" not in triggers:
        return False
    push = triggers["push"]
    if not isinstance(push, dict):
        return True
    return bool({"branches", "branches-ignore"} & set(push)) or not ({"tags", "tags-ignore"} & set(push))


def tag_pushes(triggers: dict[str, Any], tag: str) -> bool:
    """Does pushing this tag start the workflow? A `push:` filtered on branches alone leaves tags out."""
    if "push" not in triggers:
        return False
    push = triggers["push"]
    if not isinstance(push, dict):
        return True
    if not ({"tags", "tags-ignore"} & set(push)):
        return not ({"branches", "branches-ignore"} & set(push))
    return filter_matches(tag, patterns(push.get("tags", ["**"])), patterns(push.get("tags-ignore", [])))


def release_publishes(triggers: dict[str, Any]) -> bool:
    """Does publishing a GitHub Release start the workflow? `release:` without `types:` takes every activity."""
    if "release" not in triggers:
        return False
    config = triggers["release"]
    types = config.get("types") if isinstance(config, dict) else None
    return types is None or bool(RELEASE_TYPES & set(patterns(types)))


def filter_matches(tag: str, include: list[str], exclude: list[str]) -> bool:
    """GitHub's filter semantics: the last matching pattern decides; `!pattern` excludes."""
    matched = False
    for pattern in include:
        negated = pattern.startswith("!")
        if _glob(pattern[1:] if negated else pattern).fullmatch(tag):
            matched = not negated
    return matched and not any(_glob(pattern).fullmatch(tag) for pattern in exclude)


def _glob(pattern: str) -> re.Pattern[str]:
    """A GitHub filter pattern as a regex: `*` stays within a path segment, `**` crosses `/`,
    `?` and `+` repeat the previous character, `[...]` is a class, `\\` escapes."""
    out: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if pattern.startswith("**", index):
            out.append(".*")
            index += 2
            continue
        if char == "*":
            out.append("[^/]*")
        elif char in "?+":
            out.append(char)
        elif char == "[":
            end = pattern.find("]", index + 1)
            if end == -1:
                out.append(re.escape(char))
            else:
                out.append("[" + pattern[index + 1 : end].replace("\\", "\\\\") + "]")
                index = end
        elif char == "\\" and index + 1 < len(pattern):
            index += 1
            out.append(re.escape(pattern[index]))
        else:
            out.append(re.escape(char))
        index += 1
    return re.compile("".join(out))
