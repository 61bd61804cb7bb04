"""Rules on what starts a workflow: events an outsider causes, and publishing from anything but the release tag."""

from __future__ import annotations

import re
from collections.abc import Iterator

from relsafe.model.publish_workflow import tag_pattern
from relsafe.security.workflow.injection import untrusted_expansions
from relsafe.security.workflow.model import (
    Rule,
    Settings,
    Workflow,
    branch_pushes,
    filter_matches,
    job_steps,
    key_line,
    patterns,
    targets_pypi,
    uses_action,
)
from relsafe.security.workflow.outsiders import runs_triggering_artifact, untrusted_ref
from relsafe.security.workflow.report import ERROR, WARNING, Finding

# Events that run with the base repository's token, secrets and caches, and whose runs outsiders start.
DANGEROUS_TRIGGERS = ("pull_request_target", "workflow_run")
# Events any GitHub user can cause on a public repository by writing an issue, comment, discussion or review.
UNTRUSTED_TRIGGERS = (
    "issue_comment",
    "issues",
    "discussion",
    "discussion_comment",
    "pull_request_review",
    "pull_request_review_comment",
)
_ENV_FILE_WRITE = re.compile(r"\bGITHUB_(?:ENV|PATH)\b|\bgithub\.(?:env|path)\b")
# A job condition that only holds for a tag ref or a published release (black's `github.event_name == 'release'`),
# and nothing (`||`, `!`, `always()`) that widens it.
_TAG_ONLY = re.compile(
    r"startsWith\(\s*github\.ref\s*,\s*'refs/tags/|github\.ref_type\s*==\s*'tag'|github\.event_name\s*==\s*'release'",
    re.IGNORECASE,
)
_WIDENING = re.compile(r"\|\||!\s*(?:startsWith|\()|always\(\)|failure\(\)|cancelled\(\)", re.IGNORECASE)


def dangerous_trigger(workflow: Workflow, settings: Settings) -> Iterator[Finding]:
    """`pull_request_target`/`workflow_run` matter when the workflow can publish or runs the outsider's code;
    one that checks out nothing of theirs (a labeler) is their intended use."""
    checkout = _untrusted_checkout(workflow) or runs_triggering_artifact(workflow)
    for event in DANGEROUS_TRIGGERS:
        if event not in workflow.triggers or not (workflow.publishing or checkout):
            continue
        what = (
            "a workflow that can publish"
            if workflow.publishing
            else f"this workflow, which checks out or runs the outsider's code (line {checkout}),"
        )
        yield workflow.finding(
            "dangerous-trigger",
            ERROR,
            workflow.trigger_lines[event],
            f"`{event}` runs {what} with the base repository's token, secrets and caches "
            "on events an outsider can cause",
            "Publish only from a workflow triggered by the release tag; run checks of forks "
            "under `pull_request`, which gets no secrets.",
        )


def untrusted_trigger(workflow: Workflow, settings: Settings) -> Iterator[Finding]:
    """Issue, comment, discussion and review events carry text anyone chose, and anyone can cause them: a workflow
    they start must not be able to publish, nor expand that text or write $GITHUB_ENV/$GITHUB_PATH (which every
    later step loads) where it holds the repository's token."""
    events = [event for event in UNTRUSTED_TRIGGERS if event in workflow.triggers]
    use = _untrusted_use(workflow) if events else None
    if use is None and not workflow.publishing:
        return
    what = "" if use is None else f", and line {use[0]} {use[1]}"
    where = "a workflow that can publish" if workflow.publishing else "this workflow"
    for event in events:
        yield workflow.finding(
            "untrusted-trigger",
            ERROR if workflow.publishing else WARNING,
            workflow.trigger_lines[event],
            f"`{event}` lets anyone with a GitHub account start {where}{what}",
            "Keep issue and comment automation in its own workflow without secrets, `id-token` or writes to "
            "$GITHUB_ENV; pass event text through `env:` and quote it.",
        )


def _untrusted_checkout(workflow: Workflow) -> int | None:
    """The line of the first step that checks out (or fetches) a pull request's or triggering run's code, named
    directly or through an `env:` entry."""
    for job in workflow.jobs.values():
        for step in job_steps(job):
            action = uses_action(step)
            with_ = step.get("with") if isinstance(step.get("with"), dict) else {}
            if action == "actions/checkout":
                target = f"{with_.get('ref', '')} {with_.get('repository', '')}"
                if untrusted_ref(workflow, job, step, target):
                    return key_line(with_, "ref" if "ref" in with_ else "repository", key_line(step, "uses", 1))
            run = step.get("run")
            if isinstance(run, str) and re.search(r"\b(?:git|gh)\b", run) and untrusted_ref(workflow, job, step, run):
                return key_line(step, "run", 1)
    return None


def _untrusted_use(workflow: Workflow) -> tuple[int, str] | None:
    """The first step that expands event text into a script or an action's input, or writes an env file."""
    for step in workflow.steps():
        run = step.get("run")
        if isinstance(run, str) and _ENV_FILE_WRITE.search(run):
            return key_line(step, "run", 1), "writes $GITHUB_ENV or $GITHUB_PATH, which later steps load as code"
        texts = [(step, "run")] if isinstance(run, str) else []
        with_ = step.get("with")
        if isinstance(with_, dict):
            texts += [(with_, key) for key, value in with_.items() if isinstance(value, str)]
        for holder, key in texts:
            expansions = untrusted_expansions(holder[key])
            if expansions:
                return key_line(holder, key, 1), f"expands `{expansions[0]}`, text the event's author wrote"
    return None


def reusable_publish(workflow: Workflow, settings: Settings) -> Iterator[Finding]:
    if workflow.publishing and "workflow_call" in workflow.triggers:
        yield workflow.finding(
            "reusable-publish",
            ERROR,
            workflow.trigger_lines["workflow_call"],
            "a reusable workflow (`workflow_call`) cannot be a Trusted Publisher on PyPI",
            "Publish from the top-level workflow that the release tag triggers.",
        )


def branch_push(workflow: Workflow, settings: Settings) -> Iterator[Finding]:
    reachable = _branch_reachable(workflow)
    if not reachable:
        return
    push = workflow.triggers["push"]
    line = workflow.trigger_lines["push"]
    if isinstance(push, dict) and ({"branches", "branches-ignore"} & set(push)):
        line = key_line(push, "branches" if "branches" in push else "branches-ignore", line)
    jobs = ", ".join(f"`{job_id}`" for job_id in reachable)
    yield workflow.finding(
        "branch-push-publish",
        ERROR,
        line,
        f"this workflow publishes ({jobs}) when a branch is pushed: relsafe's own push of the release branch, "
        "or any merge, uploads whatever that commit builds, outside the tag ruleset",
        f"Trigger it on release tags only: `on: push: tags: ['{tag_pattern(settings.tag_format)}']`.",
    )


def _branch_reachable(workflow: Workflow) -> list[str]:
    """The jobs that publish to PyPI, or call a reusable workflow that does, which a branch push runs: all of
    them, unless a job's `if:` (or that of a job it needs) only holds for tags. A job that uploads to TestPyPI
    alone tests the upload; it is no way to PyPI."""
    if not branch_pushes(workflow.triggers):
        return []
    return [
        job_id
        for job_id in sorted(workflow.publish_jobs | workflow.calls_publish)
        if (job_id in workflow.calls_publish or targets_pypi(workflow.jobs[job_id]))
        and (
            not any(_tag_only(workflow.jobs[needed]) for needed in workflow.with_needs(job_id))
            or _WIDENING.search(str(workflow.jobs[job_id].get("if", "")))
        )
    ]


def _tag_only(job: object) -> bool:
    condition = job.get("if") if isinstance(job, dict) else None
    return isinstance(condition, str) and bool(_TAG_ONLY.search(condition)) and not _WIDENING.search(condition)


def tag_trigger(workflow: Workflow, settings: Settings) -> Iterator[Finding]:
    if not workflow.publishing:
        return
    push = workflow.triggers.get("push", False)
    line = workflow.trigger_lines.get("push", workflow.on_line)
    if not isinstance(push, dict) or not ({"tags", "tags-ignore"} & set(push)):
        if _branch_reachable(workflow):
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
    include = patterns(push.get("tags", ["**"]))
    exclude = patterns(push.get("tags-ignore", []))
    line = key_line(push, "tags" if "tags" in push else "tags-ignore", line)
    final = settings.tag_format.replace("{version}", "1.2.3")
    pre = settings.tag_format.replace("{version}", "1.2.3rc1")
    if not filter_matches(final, include, exclude):
        yield workflow.finding(
            "tag-mismatch",
            ERROR,
            line,
            f"the tag filter does not match `{final}`, a tag made by the tag format "
            f"`{settings.tag_format}`: releases would never publish",
            f"Use `tags: ['{tag_pattern(settings.tag_format)}']`, or fix [release] tag-format.",
        )
    elif not filter_matches(pre, include, exclude):
        yield workflow.finding(
            "tag-mismatch",
            WARNING,
            line,
            f"the tag filter does not match the pre-release tag `{pre}`",
            f"Use `tags: ['{tag_pattern(settings.tag_format)}']` if pre-releases should publish too.",
        )


RULES: tuple[Rule, ...] = (dangerous_trigger, untrusted_trigger, reusable_publish, branch_push, tag_trigger)
