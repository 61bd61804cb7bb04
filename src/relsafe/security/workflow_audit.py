"""The workflow audit: GitHub Actions workflows checked against the rules of safe Trusted Publishing.

Each rule stops a way a release workflow has been, or could be, turned against
its project: an attacker's branch name run as shell code, a token minted by the
wrong job, a cache or a checkout credential poisoned by an earlier job. The
rules are strict for workflows that can publish and advisory elsewhere. zizmor,
where installed, adds its broader checks to the same report.

A finding is silenced by `# relsafe: ignore[rule-id]` on the line it names.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from relsafe.errors import ConfigError, ToolFailed, UsageError
from relsafe.manifest import MARKER as MANIFEST_MARKER
from relsafe.runlog import RunLog
from relsafe.tools import zizmor
from relsafe.trusted_publishing import tag_pattern

ERROR = "error"
WARNING = "warning"
INFO = "info"

PUBLISH_ACTION = "pypa/gh-action-pypi-publish"
DANGEROUS_TRIGGERS = ("pull_request_target", "workflow_run")
WORKFLOWS_DIR = ".github/workflows"
# The `release` activities that publishing a GitHub Release sends.
RELEASE_TYPES = frozenset({"published", "created", "released"})
TAG, RELEASE = "tag", "release"  # what can start the publish run of a release (see `starts`)

_IGNORE = re.compile(r"#\s*relsafe:\s*ignore\[([^\]]*)\]")
_EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)
_CONTEXT = re.compile(r"(?<![\w.'\"-])(github|inputs)((?:\.[A-Za-z_*][\w*-]*|\[[^\]]*\])*)", re.IGNORECASE)
_SHA = re.compile(r"^[0-9a-f]{40}$")
_PUBLISH_COMMAND = re.compile(r"\b(?:twine\s+upload|uv\s+publish|hatch\s+publish|poetry\s+publish|flit\s+publish)\b")
# A tox environment or nox session named for releasing: `tox -e release`, `tox run -e py,publish`, `nox -s publish`.
_PUBLISH_SESSION = re.compile(
    r"\b(?:tox|nox)\b[^\n;&|]*?\s(?:-e|-s|--sessions?)(?:\s+|=)['\"]?[\w.,-]*(?:release|publish)",
    re.IGNORECASE,
)
_BUILD_COMMAND = re.compile(
    r"(?:-m\s+build\b|\bpyproject-build\b|\buv\s+build\b|\bhatch\s+build\b|\bpoetry\s+build\b"
    r"|\bflit\s+build\b|\bpip3?\s+wheel\b|-m\s+pip\s+wheel\b|\bsetup\.py\s+(?:sdist|bdist))"
)
_CREDENTIAL_VARIABLES = re.compile(
    r"\b(?:TWINE_PASSWORD|UV_PUBLISH_TOKEN|UV_PUBLISH_PASSWORD|POETRY_PYPI_TOKEN_\w+|HATCH_INDEX_AUTH|FLIT_PASSWORD)\b"
)
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


@dataclass(frozen=True)
class Finding:
    rule: str  # stable id, kebab-case
    severity: str  # "error" | "warning" | "info"
    path: str
    line: int
    message: str
    fix: str
    source: str = "relsafe"  # or "zizmor"


@dataclass
class AuditReport:
    findings: list[Finding]
    zizmor_status: str

    @property
    def has_errors(self) -> bool:
        return any(finding.severity == ERROR for finding in self.findings)

    def to_json(self) -> str:
        counts = {level: sum(f.severity == level for f in self.findings) for level in (ERROR, WARNING, INFO)}
        return json.dumps(
            {
                "findings": [asdict(finding) for finding in self.findings],
                "counts": counts,
                "zizmor": self.zizmor_status,
            },
            indent=2,
        )


def audit_workflows(
    paths: Sequence[Path],
    *,
    environment: str = "pypi",
    tag_format: str = "v{version}",
    log: RunLog,
    use_zizmor: bool = True,
) -> AuditReport:
    """Audit workflow files, or the *.yml and *.yaml files in directories, and report every finding.

    environment is the GitHub environment PyPI's publisher names; tag_format the
    release tags relsafe pushes. Raises UsageError for a missing path, no
    workflow at all, or a file that is not a readable workflow.
    """
    tag_pattern(tag_format)  # rejects a format without {version}
    files = _collect(paths)
    workflows = [_Workflow.load(path) for path in files]
    settings = _Settings(environment, tag_format)
    findings = [finding for workflow in workflows for rule in _RULES for finding in rule(workflow, settings)]
    status = "zizmor skipped"
    if use_zizmor:
        status, extra = _zizmor_findings(files, log)
        findings.extend(extra)
    lines = {workflow.path: workflow.lines for workflow in workflows}
    kept = [finding for finding in findings if not _ignored(finding, lines.get(finding.path, []))]
    kept.sort(key=lambda f: (f.path, f.line, f.source, f.rule))
    return AuditReport(findings=kept, zizmor_status=status)


def publishing_workflows(root: Path) -> list[str]:
    """The workflows under root's .github/workflows/ that upload a distribution, as repository paths.

    Every one of them is a way to publish, so preflight audits them all, not
    only the one PyPI trusts; the test is the one the rules use for a publish job.
    """
    folder = root / WORKFLOWS_DIR
    files = _workflow_files(folder) if folder.is_dir() else []
    return [path.relative_to(root).as_posix() for path in files if _Workflow.load(path).publish_jobs]


def discover_publish_workflow(root: Path) -> str | None:
    """The one workflow that publishes, when [publish] workflow does not name it; None when none does.

    Guessing between several would audit and register the wrong file with
    PyPI, so several are a ConfigError naming them.
    """
    found = publishing_workflows(root)
    if len(found) > 1:
        raise ConfigError(
            f"several workflows publish ({', '.join(found)}); set [publish] workflow in release.toml "
            "to the one registered as the Trusted Publisher on PyPI"
        )
    return found[0] if found else None


def starts(path: Path, tag_format: str) -> frozenset[str]:
    """What starts this workflow of what ends a release: TAG, pushing a tag the format makes
    (its final form, as tag-mismatch tests it), and RELEASE, publishing a GitHub Release."""
    triggers = _Workflow.load(path).triggers
    found = set()
    if _tag_pushes(triggers, tag_format.replace("{version}", "1.2.3")):
        found.add(TAG)
    if _release_publishes(triggers):
        found.add(RELEASE)
    return frozenset(found)


@dataclass(frozen=True)
class _Settings:
    environment: str
    tag_format: str


@dataclass
class _Workflow:
    """One parsed workflow with the facts every rule needs."""

    path: str
    lines: list[str]
    doc: Any
    on_line: int
    triggers: dict[str, Any]
    trigger_lines: dict[str, int]
    jobs: dict[str, Any]
    publish_jobs: set[str]

    @classmethod
    def load(cls, path: Path) -> _Workflow:
        name = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise UsageError(f"{name}: cannot read: {error}") from error
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
        on_line = _key_line(doc, on_key, 1)
        triggers: dict[str, Any] = {}
        trigger_lines: dict[str, int] = {}
        if isinstance(raw, str):
            triggers[raw] = None
            trigger_lines[raw] = on_line
        elif isinstance(raw, list):
            for index, event in enumerate(raw):
                triggers[str(event)] = None
                trigger_lines[str(event)] = _item_line(raw, index, on_line)
        elif isinstance(raw, dict):
            for event, config in raw.items():
                triggers[str(event)] = config
                trigger_lines[str(event)] = _key_line(raw, event, on_line)
        jobs = {str(job_id): job for job_id, job in doc["jobs"].items() if isinstance(job, dict)}
        publish_jobs = {job_id for job_id, job in jobs.items() if any(_publishes(step) for step in _steps(job))}
        return cls(name, text.splitlines(), doc, on_line, triggers, trigger_lines, jobs, publish_jobs)

    @property
    def publishing(self) -> bool:
        """Can this workflow upload to an index, or mint the OIDC token that can?"""
        return (
            bool(self.publish_jobs)
            or _grants_id_token(self.doc)
            or any(_grants_id_token(job) for job in self.jobs.values())
        )

    def job_line(self, job_id: str) -> int:
        return _key_line(self.doc["jobs"], job_id, 1)

    def steps(self) -> Iterator[Any]:
        for job in self.jobs.values():
            yield from _steps(job)

    def finding(self, rule: str, severity: str, line: int, message: str, fix: str) -> Finding:
        return Finding(rule=rule, severity=severity, path=self.path, line=line, message=message, fix=fix)

    def text_line(self, start: int, needle: str) -> int:
        """The first line at or after start (1-based) whose text contains needle, else start."""
        for number in range(start, len(self.lines) + 1):
            if needle in self.lines[number - 1]:
                return number
        return start


_Rule = Callable[[_Workflow, _Settings], Iterator[Finding]]


def _dangerous_trigger(workflow: _Workflow, settings: _Settings) -> Iterator[Finding]:
    for event in DANGEROUS_TRIGGERS:
        if event in workflow.triggers:
            severity = ERROR if workflow.publishing else WARNING
            where = "a workflow that can publish" if workflow.publishing else "this workflow"
            yield workflow.finding(
                "dangerous-trigger",
                severity,
                workflow.trigger_lines[event],
                f"`{event}` runs {where} with the base repository's token, secrets and caches "
                "on events an outsider can cause",
                "Publish only from a workflow triggered by the release tag; run checks of forks "
                "under `pull_request`, which gets no secrets.",
            )


def _template_injection(workflow: _Workflow, settings: _Settings) -> Iterator[Finding]:
    typed_inputs = _typed_inputs(workflow.triggers)
    for step in workflow.steps():
        scripts: list[tuple[Any, str]] = []
        if isinstance(step.get("run"), str):
            scripts.append((step, "run"))
        with_ = step.get("with")
        if (
            _action(step) == "actions/github-script"
            and isinstance(with_, dict)
            and isinstance(with_.get("script"), str)
        ):
            scripts.append((with_, "script"))
        for holder, key in scripts:
            start = _value_line(holder, key, _key_line(holder, key, 1))
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


def _id_token_scope(workflow: _Workflow, settings: _Settings) -> Iterator[Finding]:
    top = workflow.doc.get("permissions")
    if isinstance(top, dict) and str(top.get("id-token", "")).lower() == "write":
        yield workflow.finding(
            "id-token-scope",
            ERROR,
            _key_line(top, "id-token", 1),
            "`id-token: write` at the workflow level lets every job mint a PyPI upload token",
            "Set `permissions: {}` at the top and grant `id-token: write` on the publish job only.",
        )
    for job_id, job in workflow.jobs.items():
        permissions = job.get("permissions")
        if job_id in workflow.publish_jobs or not isinstance(permissions, dict):
            continue
        if str(permissions.get("id-token", "")).lower() == "write":
            yield workflow.finding(
                "id-token-scope",
                ERROR,
                _key_line(permissions, "id-token", 1),
                f"job `{job_id}` does not publish but can mint an OIDC token that PyPI accepts",
                "Remove `id-token: write` from every job except the one that runs the publish action.",
            )


def _write_all_permissions(workflow: _Workflow, settings: _Settings) -> Iterator[Finding]:
    holders = [(workflow.doc, "the workflow")] + [(job, f"job `{job_id}`") for job_id, job in workflow.jobs.items()]
    for holder, what in holders:
        if str(holder.get("permissions", "")).lower() == "write-all":
            yield workflow.finding(
                "write-all-permissions",
                ERROR,
                _key_line(holder, "permissions", 1),
                f"{what} grants `write-all`: the token can push code, move tags and mint OIDC tokens",
                "List only the permissions each job needs, e.g. `contents: read`.",
            )


def _missing_permissions(workflow: _Workflow, settings: _Settings) -> Iterator[Finding]:
    if "permissions" in workflow.doc:
        return
    yield workflow.finding(
        "missing-permissions",
        ERROR if workflow.publishing else WARNING,
        1,
        "no top-level `permissions:`: any job without its own gets the repository's default token, "
        "which may be read-write",
        "Add `permissions: {}` (or `contents: read`) at the top and grant more per job.",
    )


def _publish_environment(workflow: _Workflow, settings: _Settings) -> Iterator[Finding]:
    for job_id in sorted(workflow.publish_jobs):
        job = workflow.jobs[job_id]
        environment = job.get("environment")
        name = environment.get("name") if isinstance(environment, dict) else environment
        to_pypi = _targets_pypi(job)
        if name is None:
            yield workflow.finding(
                "publish-environment",
                ERROR,
                workflow.job_line(job_id),
                f"publish job `{job_id}` runs outside a GitHub environment, so no reviewer or "
                "tag rule stands between a push and the upload",
                f"Add `environment: {settings.environment if to_pypi else 'testpypi'}` to the job "
                "and protect that environment on GitHub.",
            )
        elif to_pypi and str(name) != settings.environment:
            yield workflow.finding(
                "publish-environment",
                ERROR,
                _key_line(job, "environment", workflow.job_line(job_id)),
                f"publish job `{job_id}` uses environment `{name}`, but the PyPI publisher is "
                f"configured for `{settings.environment}`",
                f"Use `environment: {settings.environment}`, or change [publish] environment in "
                "release.toml and on PyPI together.",
            )


def _publish_needs(workflow: _Workflow, settings: _Settings) -> Iterator[Finding]:
    for job_id in sorted(workflow.publish_jobs):
        if not workflow.jobs[job_id].get("needs"):
            yield workflow.finding(
                "publish-needs",
                ERROR,
                workflow.job_line(job_id),
                f"publish job `{job_id}` has no `needs:`: it does not upload what a separate, "
                "unprivileged build job made",
                "Build in its own job and add `needs: build` to the publish job.",
            )


def _build_in_publish_job(workflow: _Workflow, settings: _Settings) -> Iterator[Finding]:
    for job_id in sorted(workflow.publish_jobs):
        for step in _steps(workflow.jobs[job_id]):
            run = step.get("run")
            if isinstance(run, str) and _BUILD_COMMAND.search(run):
                yield workflow.finding(
                    "build-in-publish-job",
                    ERROR,
                    _key_line(step, "run", 1),
                    f"publish job `{job_id}` builds the package, so the build backend and every "
                    "build dependency run holding the upload token",
                    "Build in a job without `id-token`, upload the files as an artifact, and only "
                    "download them in the publish job.",
                )


def _rebuild_unverified(workflow: _Workflow, settings: _Settings) -> Iterator[Finding]:
    """Files built on the runner and published unchecked were never tested: the Ultralytics compromise
    changed exactly that build. A step that reads the release tag's manifest is the check."""
    if not workflow.publishing:
        return
    runs = [(step, step.get("run")) for step in workflow.steps()]
    if any(isinstance(run, str) and MANIFEST_MARKER in run for _step, run in runs):
        return
    for step, run in runs:
        if isinstance(run, str) and _BUILD_COMMAND.search(run):
            yield workflow.finding(
                "rebuild-unverified",
                WARNING,
                _key_line(step, "run", 1),
                "the workflow publishes files it builds on the runner and checks none of them against the "
                "release tag's manifest: what PyPI gets was never tested",
                "Let `relsafe init` write the workflow: with staging it promotes the staged files the tag "
                "names, without it checks the rebuilt files against the tag's manifest.",
            )
            return  # one finding per workflow: the concern is the workflow's, not each build's


def _stored_credentials(workflow: _Workflow, settings: _Settings) -> Iterator[Finding]:
    for step in workflow.steps():
        with_ = step.get("with")
        if _action(step) == PUBLISH_ACTION and isinstance(with_, dict) and "password" in with_:
            yield workflow.finding(
                "stored-credentials",
                ERROR,
                _key_line(with_, "password", 1),
                "the publish action is given a stored API token; a leaked token uploads from anywhere",
                "Remove `password:`, register the workflow as a Trusted Publisher on PyPI and delete the token.",
            )
        run = step.get("run")
        if isinstance(run, str):
            command = _PUBLISH_COMMAND.search(run)
            if command:
                yield workflow.finding(
                    "stored-credentials",
                    ERROR,
                    workflow.text_line(_key_line(step, "run", 1), command.group(0).split()[0]),
                    f"`{command.group(0)}` in a script uploads with a stored token and makes no attestations",
                    "Upload with pypa/gh-action-pypi-publish and Trusted Publishing instead.",
                )
    for number, line in enumerate(workflow.lines, start=1):
        code = "" if line.lstrip().startswith("#") else line.split(" #")[0]
        variable = _CREDENTIAL_VARIABLES.search(code)
        if variable:
            yield workflow.finding(
                "stored-credentials",
                ERROR,
                number,
                f"`{variable.group(0)}` hands an upload credential to the workflow",
                "Remove the secret and use Trusted Publishing; revoke the token on PyPI.",
            )


def _unpinned_action(workflow: _Workflow, settings: _Settings) -> Iterator[Finding]:
    severity = ERROR if workflow.publishing else WARNING
    for holder in [*workflow.jobs.values(), *workflow.steps()]:
        uses = holder.get("uses")
        if not isinstance(uses, str) or uses.startswith("./"):
            continue
        if uses.startswith("docker://"):
            if "@sha256:" in uses:
                continue
        elif _SHA.match(uses.partition("@")[2]):
            continue
        yield workflow.finding(
            "unpinned-action",
            severity,
            _key_line(holder, "uses", 1),
            f"`{uses}` is not pinned to a commit: whoever can move that tag or branch changes what runs here",
            "Pin to the full 40-character commit SHA with the version in a comment, "
            "e.g. `uses: owner/action@<sha> # v1.2.3`.",
        )


def _release_cache(workflow: _Workflow, settings: _Settings) -> Iterator[Finding]:
    if not workflow.publishing:
        return
    for step in workflow.steps():
        action = _action(step)
        with_ = step.get("with") if isinstance(step.get("with"), dict) else {}
        line = _key_line(step, "uses", 1)
        if action is None:
            continue
        if action == "actions/cache" or action.startswith("actions/cache/"):
            cached = f"`{action}` restores"
        elif action == "actions/setup-python" and with_.get("cache"):
            cached, line = f"setup-python `cache: {with_['cache']}` restores", _key_line(with_, "cache", line)
        elif action == "astral-sh/setup-uv" and str(with_.get("enable-cache", "auto")).lower() != "false":
            cached = "setup-uv caches by default and restores"
            line = _key_line(with_, "enable-cache", line)
        else:
            continue
        yield workflow.finding(
            "release-cache",
            ERROR,
            line,
            f"{cached} files that any workflow on the default branch could have written into a release build",
            "Remove caching from the release workflow (`enable-cache: false` for setup-uv).",
        )


def _checkout_credentials(workflow: _Workflow, settings: _Settings) -> Iterator[Finding]:
    for step in workflow.steps():
        if _action(step) != "actions/checkout":
            continue
        with_ = step.get("with")
        persist = with_.get("persist-credentials", True) if isinstance(with_, dict) else True
        if str(persist).lower() != "false":
            yield workflow.finding(
                "checkout-credentials",
                ERROR if workflow.publishing else WARNING,
                _key_line(step, "uses", 1),
                "actions/checkout leaves the job's token in .git/config, where later steps and "
                "uploaded artifacts can read it",
                "Add `with: persist-credentials: false` to the checkout step.",
            )


_WEAKENINGS = {
    "attestations": "turns off the PEP 740 attestations that tie each file to this workflow",
    "verify-metadata": "uploads files whose metadata was never checked",
    "skip-existing": "hides a second upload of a version, which should fail loudly",
}


def _weakened_publish(workflow: _Workflow, settings: _Settings) -> Iterator[Finding]:
    for step in workflow.steps():
        with_ = step.get("with")
        if _action(step) != PUBLISH_ACTION or not isinstance(with_, dict):
            continue
        weakened = [key for key in ("attestations", "verify-metadata") if str(with_.get(key, "")).lower() == "false"]
        if str(with_.get("skip-existing", "")).lower() == "true" and _is_pypi(_repository_url(with_)):
            weakened.append("skip-existing")
        for key in weakened:
            yield workflow.finding(
                "weakened-publish",
                ERROR,
                _key_line(with_, key, 1),
                f"`{key}: {with_[key]}` {_WEAKENINGS[key]}",
                f"Remove `{key}:` from the publish step; its default is the safe setting.",
            )


def _reusable_publish(workflow: _Workflow, settings: _Settings) -> Iterator[Finding]:
    if workflow.publishing and "workflow_call" in workflow.triggers:
        yield workflow.finding(
            "reusable-publish",
            ERROR,
            workflow.trigger_lines["workflow_call"],
            "a reusable workflow (`workflow_call`) cannot be a Trusted Publisher on PyPI",
            "Publish from the top-level workflow that the release tag triggers.",
        )


def _branch_push(workflow: _Workflow, settings: _Settings) -> Iterator[Finding]:
    if not workflow.publish_jobs or not _branch_pushes(workflow.triggers):
        return
    push = workflow.triggers["push"]
    line = workflow.trigger_lines["push"]
    if isinstance(push, dict) and ({"branches", "branches-ignore"} & set(push)):
        line = _key_line(push, "branches" if "branches" in push else "branches-ignore", line)
    yield workflow.finding(
        "branch-push-publish",
        ERROR,
        line,
        "this workflow publishes when a branch is pushed: relsafe's own push of the release branch, "
        "or any merge, uploads whatever that commit builds, outside the tag ruleset",
        f"Trigger it on release tags only: `on: push: tags: ['{tag_pattern(settings.tag_format)}']`.",
    )


def _tag_trigger(workflow: _Workflow, settings: _Settings) -> Iterator[Finding]:
    if not workflow.publishing:
        return
    push = workflow.triggers.get("push", False)
    line = workflow.trigger_lines.get("push", workflow.on_line)
    if not isinstance(push, dict) or not ({"tags", "tags-ignore"} & set(push)):
        if workflow.publish_jobs and _branch_pushes(workflow.triggers):
            return  # branch-push-publish reports it, with the same fix
        everything = "push" in workflow.triggers and not isinstance(push, dict)
        yield workflow.finding(
            "no-tag-trigger",
            WARNING,
            line,
            "this publishing workflow runs on every push, not only release tags"
            if everything
            else "this publishing workflow is not triggered by pushing a release tag, which is how relsafe releases",
            f"Trigger it with `on: push: tags: ['{tag_pattern(settings.tag_format)}']`.",
        )
        return
    include = _patterns(push.get("tags", ["**"]))
    exclude = _patterns(push.get("tags-ignore", []))
    line = _key_line(push, "tags" if "tags" in push else "tags-ignore", line)
    final = settings.tag_format.replace("{version}", "1.2.3")
    pre = settings.tag_format.replace("{version}", "1.2.3rc1")
    if not _filter_matches(final, include, exclude):
        yield workflow.finding(
            "tag-mismatch",
            ERROR,
            line,
            f"the tag filter does not match `{final}`, a tag made by the tag format "
            f"`{settings.tag_format}`: releases would never publish",
            f"Use `tags: ['{tag_pattern(settings.tag_format)}']`, or fix [release] tag-format.",
        )
    elif not _filter_matches(pre, include, exclude):
        yield workflow.finding(
            "tag-mismatch",
            WARNING,
            line,
            f"the tag filter does not match the pre-release tag `{pre}`",
            f"Use `tags: ['{tag_pattern(settings.tag_format)}']` if pre-releases should publish too.",
        )


_RULES: tuple[_Rule, ...] = (
    _dangerous_trigger,
    _template_injection,
    _id_token_scope,
    _write_all_permissions,
    _missing_permissions,
    _publish_environment,
    _publish_needs,
    _build_in_publish_job,
    _rebuild_unverified,
    _stored_credentials,
    _unpinned_action,
    _release_cache,
    _checkout_credentials,
    _weakened_publish,
    _reusable_publish,
    _branch_push,
    _tag_trigger,
)


def _collect(paths: Sequence[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(_workflow_files(path))
        elif path.is_file():
            files.append(path)
        else:
            raise UsageError(f"{path}: no such file or directory")
    if not files:
        raise UsageError(f"no workflow files (*.yml, *.yaml) in {', '.join(str(p) for p in paths) or 'nothing'}")
    return files


def _workflow_files(folder: Path) -> list[Path]:
    return sorted(path for path in folder.iterdir() if path.suffix in {".yml", ".yaml"} and path.is_file())


def _zizmor_findings(files: list[Path], log: RunLog) -> tuple[str, list[Finding]]:
    if zizmor.find_zizmor() is None:
        return zizmor.NOT_INSTALLED, []
    try:
        report = zizmor.run_zizmor(files, log=log)
    except ToolFailed as error:
        return f"{error.message}; its checks did not run", []
    severities = {"High": ERROR, "Medium": WARNING}
    findings = [
        Finding(
            rule=item.ident,
            severity=severities.get(item.severity, INFO),
            path=item.path,
            line=item.line,
            message=f"{item.desc}: {item.annotation}" if item.annotation else item.desc,
            fix=f"{item.fix} (see {item.url})" if item.fix else f"see {item.url}",
            source="zizmor",
        )
        for item in report.findings
    ]
    return report.status, findings


def _ignored(finding: Finding, lines: list[str]) -> bool:
    if not 1 <= finding.line <= len(lines):
        return False
    return any(
        finding.rule in {rule.strip() for rule in match.group(1).split(",")}
        for match in _IGNORE.finditer(lines[finding.line - 1])
    )


def _key_line(mapping: Any, key: Any, default: int) -> int:
    try:
        return int(mapping.lc.key(key)[0]) + 1
    except (AttributeError, KeyError, TypeError):
        return default


def _value_line(mapping: Any, key: Any, default: int) -> int:
    try:
        return int(mapping.lc.value(key)[0]) + 1
    except (AttributeError, KeyError, TypeError):
        return default


def _item_line(sequence: Any, index: int, default: int) -> int:
    try:
        return int(sequence.lc.item(index)[0]) + 1
    except (AttributeError, KeyError, IndexError, TypeError):
        return default


def _steps(job: Any) -> list[Any]:
    steps = job.get("steps")
    return [step for step in steps if isinstance(step, dict)] if isinstance(steps, list) else []


def _action(step: Any) -> str | None:
    """The lower-cased owner/name(/path) a step uses, without the ref."""
    uses = step.get("uses")
    return uses.partition("@")[0].lower() if isinstance(uses, str) else None


def _publishes(step: Any) -> bool:
    """Does this step upload a distribution? What makes a job a publish job and a workflow one that publishes."""
    run = step.get("run")
    return _action(step) == PUBLISH_ACTION or (
        isinstance(run, str) and bool(_PUBLISH_COMMAND.search(run) or _PUBLISH_SESSION.search(run))
    )


def _grants_id_token(holder: Any) -> bool:
    permissions = holder.get("permissions")
    if isinstance(permissions, dict):
        return str(permissions.get("id-token", "")).lower() == "write"
    return str(permissions).lower() == "write-all"


def _repository_url(with_: Any) -> str:
    return str(with_.get("repository-url") or with_.get("repository_url") or "")


def _is_pypi(url: str) -> bool:
    return not url or "upload.pypi.org" in url or url.rstrip("/") in {"https://pypi.org", "https://pypi.org/legacy"}


def _targets_pypi(job: Any) -> bool:
    """Does this publish job upload to PyPI itself rather than to TestPyPI or another index?"""
    for step in _steps(job):
        with_ = step.get("with")
        if _action(step) == PUBLISH_ACTION:
            return _is_pypi(_repository_url(with_) if isinstance(with_, dict) else "")
        run = step.get("run")
        if isinstance(run, str) and _PUBLISH_COMMAND.search(run):
            return "test.pypi.org" not in run and "testpypi" not in run.lower()
    return True


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


def _patterns(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [str(item) for item in value] if isinstance(value, list) else []


def _branch_pushes(triggers: dict[str, Any]) -> bool:
    """Does pushing a branch start the workflow? Only a `push:` filtered on tags alone leaves branches out."""
    if "push" not in triggers:
        return False
    push = triggers["push"]
    if not isinstance(push, dict):
        return True
    return bool({"branches", "branches-ignore"} & set(push)) or not ({"tags", "tags-ignore"} & set(push))


def _tag_pushes(triggers: dict[str, Any], tag: str) -> bool:
    """Does pushing this tag start the workflow? A `push:` filtered on branches alone leaves tags out."""
    if "push" not in triggers:
        return False
    push = triggers["push"]
    if not isinstance(push, dict):
        return True
    if not ({"tags", "tags-ignore"} & set(push)):
        return not ({"branches", "branches-ignore"} & set(push))
    return _filter_matches(tag, _patterns(push.get("tags", ["**"])), _patterns(push.get("tags-ignore", [])))


def _release_publishes(triggers: dict[str, Any]) -> bool:
    """Does publishing a GitHub Release start the workflow? `release:` without `types:` takes every activity."""
    if "release" not in triggers:
        return False
    config = triggers["release"]
    types = config.get("types") if isinstance(config, dict) else None
    return types is None or bool(RELEASE_TYPES & set(_patterns(types)))


def _filter_matches(tag: str, include: list[str], exclude: list[str]) -> bool:
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
