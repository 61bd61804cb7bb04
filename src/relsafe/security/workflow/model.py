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
from relsafe.security.workflow.report import Finding

PUBLISH_ACTION = "pypa/gh-action-pypi-publish"
# The publish action's repository name: a fork (`someone/gh-action-pypi-publish`) or its image
# (`docker://ghcr.io/pypa/gh-action-pypi-publish:release-v1`) uploads the same way.
PUBLISH_ACTION_NAME = "gh-action-pypi-publish"
# The `release` activities that publishing a GitHub Release sends.
RELEASE_TYPES = frozenset({"published", "created", "released"})
# What an upload tool reads its login from: a job or step given one of these uploads.
UPLOAD_CREDENTIALS = re.compile(
    r"TWINE_PASSWORD|UV_PUBLISH_TOKEN|UV_PUBLISH_PASSWORD|POETRY_PYPI_TOKEN_\w+|HATCH_INDEX_AUTH|FLIT_PASSWORD"
)
# A secret named for an index upload (`${{ secrets.PYPI_API_TOKEN }}`, `secrets.TWINE_PASSWORD`): handed to a step
# in any variable or input, it is a token that step can upload with, whatever the step runs.
UPLOAD_SECRET = re.compile(
    r"\bsecrets\s*\.\s*\w*(?:PYPI|TWINE|UV_PUBLISH|FLIT_PASSWORD|HATCH_INDEX|POETRY_PYPI)\w*", re.IGNORECASE
)
# The upload commands of the packaging tools: tool -> its subcommands that upload.
UPLOAD_TOOLS = {
    "twine": frozenset({"upload"}),
    "uv": frozenset({"publish"}),
    "hatch": frozenset({"publish"}),
    "poetry": frozenset({"publish"}),
    "flit": frozenset({"publish"}),
    "pdm": frozenset({"publish"}),
    "maturin": frozenset({"publish", "upload"}),
}
# Options of those tools (and of the launchers before them) that take a value as the next word.
_VALUE_OPTIONS = frozenset(
    {
        "--directory",
        "--project",
        "--config-file",
        "--cache-dir",
        "--color",
        "--python",
        "--python-preference",
        "--allow-insecure-host",
        "--config",
        "--data-dir",
        "--env",
        "--repository",
        "-C",
        "-P",
        "-c",
        "-e",
        "-p",
        "-r",
    }
)
# Where one shell command ends and the next begins: `a && b`, `a; b`, `a | b`, `$(a)`, a new line.
_COMMAND_BREAK = re.compile(r"\|\||&&|[;|&\n()`]|\$\(")
# A tox environment or nox session named for releasing: `tox -e release`, `tox run -e py,publish`, `nox -s publish`,
# `tox -e pypi-upload`; not one that merely mentions it (`tox -e prepare-release-pr` opens a pull request).
PUBLISH_SESSION = re.compile(
    r"\b(?:tox|nox)\b[^\n;&|]*?\s(?:-e|-s|--sessions?)(?:\s+|=)['\"]?(?:[\w.-]+,)*"
    r"(?:(?:test)?pypi[-_])?(?:release|publish|upload|deploy)(?:[-_](?:(?:test)?pypi|test))?(?![\w.-])",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Settings:
    environment: str
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
        try:
            doc = YAML(typ="rt").load(text)
        except MarkedYAMLError as error:
            mark = error.problem_mark or error.context_mark
            where = f"{name}:{mark.line + 1}" if mark is not None else name
            raise UsageError(f"{where}: not valid YAML: {error.problem or error.context}") from error
        except YAMLError as error:
            raise UsageError(f"{name}: not valid YAML: {error}") from error
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
        everywhere = _handed_credential(doc.get("env"))  # the workflow's env reaches every job
        publish_jobs = {
            job_id
            for job_id, job in jobs.items()
            if any(publishes(step, root) for step in job_steps(job))
            or _holds_upload_credential(job.get("env"))
            or (everywhere is not None and bool(job_steps(job)))
        }
        calls_publish = {job_id for job_id, job in jobs.items() if _calls_publish(root, Path(name), job, _seen)}
        return cls(
            name, text.splitlines(), doc, on_line, triggers, trigger_lines, jobs, publish_jobs, calls_publish, root
        )

    @property
    def publishing(self) -> bool:
        """Can this workflow upload to an index, or mint the OIDC token that can?"""
        return (
            bool(self.publish_jobs or self.calls_publish)
            or grants_id_token(self.doc)
            or any(grants_id_token(job) and not attests(job) for job in self.jobs.values())
        )

    def job_line(self, job_id: str) -> int:
        return key_line(self.doc["jobs"], job_id, 1)

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


def publishes(step: Any, root: Path | None = None) -> bool:
    """Does this step upload a distribution? What makes a job a publish job and a workflow one that publishes."""
    return publishing_reason(step, root) is not None


def publishing_reason(step: Any, root: Path | None = None, _seen: frozenset[Path] = frozenset()) -> str | None:
    """How this step uploads a distribution, in a few words; None when it does not.

    The publish action or a fork of it; an upload command in a `run:` script
    (`uv publish` however it is spelt: split over lines with `\\`, behind
    `pipx run`, `uvx` or `python -m`, with options before the subcommand); a
    tox/nox session named for releasing; an upload credential or a secret named
    for one handed to the step (`TWINE_PASSWORD`, `password:`,
    `${{ secrets.PYPI_TOKEN }}`), whatever it runs; a local composite action
    (`uses: ./.github/actions/x`, read from the repository at `root`) with such
    a step inside.
    """
    if is_publish_action(step):
        return f"uses {step.get('uses')}"
    run = step.get("run")
    if isinstance(run, str):
        found = upload_command(run) or _session(run)
        if found:
            return f"runs `{found}`"
    with_ = step.get("with")
    if isinstance(with_, dict) and "password" in with_:
        return f"gives {step.get('uses') or 'the step'} a `password:`"
    credential = _handed_credential(step.get("env")) or _handed_credential(with_)
    if credential:
        return f"is handed {credential}"
    uses = step.get("uses")
    if root is not None and isinstance(uses, str) and uses.startswith("./"):
        return _composite_reason(root, uses, _seen)
    return None


def is_publish_action(step: Any) -> bool:
    """pypa/gh-action-pypi-publish, a fork of it under any owner, or its container image."""
    uses = step.get("uses")
    if not isinstance(uses, str):
        return False
    if uses.lower().startswith("docker://"):
        return PUBLISH_ACTION_NAME in uses.lower()
    parts = uses.partition("@")[0].lower().split("/")
    return len(parts) >= 2 and parts[1] == PUBLISH_ACTION_NAME


def upload_command(run: str) -> str | None:
    """The upload command a script runs (`uv publish`, `python -m twine upload`), as written without its options;
    None when it runs none. A command split over lines with `\\` counts as one line."""
    text = re.sub(r"\\\r?\n", " ", run)
    for command in _COMMAND_BREAK.split(text):
        words = [word.strip("'\"") for word in command.split() if word != "\\"]
        for index, word in enumerate(words):
            tool = word.rsplit("/", 1)[-1]
            if tool.endswith("setup.py") and "upload" in words[index + 1 :]:
                return "setup.py upload"
            subcommand = _subcommand(words[index + 1 :])
            if subcommand is not None and subcommand in UPLOAD_TOOLS.get(tool, ()):
                return f"{tool} {subcommand}"
    return None


def _subcommand(words: list[str]) -> str | None:
    """The first word that is not an option (nor an option's value)."""
    skip = False
    for word in words:
        if skip:
            skip = False
        elif word in _VALUE_OPTIONS:
            skip = True
        elif not word.startswith("-"):
            return word
    return None


def _session(run: str) -> str | None:
    found = PUBLISH_SESSION.search(re.sub(r"\\\r?\n", " ", run))
    return " ".join(found.group(0).split()) if found else None


def _handed_credential(mapping: Any) -> str | None:
    """`NAME` of an upload credential, or the secret named for an upload, that a step's or job's `env:` or `with:`
    hands over; None when it hands none."""
    if not isinstance(mapping, dict):
        return None
    for name, value in mapping.items():
        if UPLOAD_CREDENTIALS.fullmatch(str(name)):
            return f"`{name}`"
        secret = UPLOAD_SECRET.search(str(value))
        if secret:
            return f"`{''.join(secret.group(0).split())}` (as `{name}`)"
    return None


def _holds_upload_credential(env: Any) -> bool:
    return _handed_credential(env) is not None


def _composite_reason(root: Path, uses: str, seen: frozenset[Path]) -> str | None:
    """Does the local action a step uses contain a publishing step? Only composite actions can be read."""
    folder = (root / uses.partition("@")[0]).resolve()
    if folder in seen:
        return None
    for name in ("action.yml", "action.yaml"):
        path = folder / name
        if not path.is_file():
            continue
        try:
            doc = YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, YAMLError):
            return None
        runs = doc.get("runs") if isinstance(doc, dict) else None
        steps = runs.get("steps") if isinstance(runs, dict) else None
        for step in steps if isinstance(steps, list) else []:
            inner = publishing_reason(step, root, seen | {folder}) if isinstance(step, dict) else None
            if inner:
                return f"uses {uses}, a composite action whose step {inner}"
        return None
    return None


def attests(job: Any) -> bool:
    """Does the job make GitHub artifact attestations (actions/attest*), which need `id-token: write` to sign?"""
    return any((uses_action(step) or "").startswith("actions/attest") for step in job_steps(job))


def repository_root(path: Path) -> Path | None:
    """The repository a workflow file belongs to: two folders up from .github/workflows/; None elsewhere (a
    workflow audited on its own, whose local actions cannot be found)."""
    folder = path.resolve().parent
    if folder.name == "workflows" and folder.parent.name == ".github":
        return folder.parent.parent
    return None


def _calls_publish(root: Path | None, caller: Path, job: Any, seen: frozenset[Path]) -> bool:
    """Does the job call a reusable workflow of this repository (`uses: ./.github/workflows/x.yml`) that publishes?

    The path is taken from the repository root, or beside the caller when it
    lies outside .github/workflows/; a missing or unreadable file, or a cycle
    of calls, counts as not publishing (the audit of that file says why).
    """
    uses = job.get("uses")
    if not isinstance(uses, str) or not uses.startswith("./"):
        return False
    path = uses.partition("@")[0]
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
        if isinstance(run, str) and upload_command(run):
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
