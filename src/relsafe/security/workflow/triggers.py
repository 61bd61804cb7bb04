"""Rules on what starts a workflow: events an outsider causes, and publishing from anything but the release tag."""

from __future__ import annotations

from collections.abc import Iterator

from relsafe.security.workflow.model import Rule, Settings, Workflow, branch_pushes, filter_matches, key_line, patterns
from relsafe.security.workflow.report import ERROR, WARNING, Finding
from relsafe.trusted_publishing import tag_pattern

DANGEROUS_TRIGGERS = ("pull_request_target", "workflow_run")


def dangerous_trigger(workflow: Workflow, settings: Settings) -> Iterator[Finding]:
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
    if not workflow.publish_jobs or not branch_pushes(workflow.triggers):
        return
    push = workflow.triggers["push"]
    line = workflow.trigger_lines["push"]
    if isinstance(push, dict) and ({"branches", "branches-ignore"} & set(push)):
        line = key_line(push, "branches" if "branches" in push else "branches-ignore", line)
    yield workflow.finding(
        "branch-push-publish",
        ERROR,
        line,
        "this workflow publishes when a branch is pushed: relsafe's own push of the release branch, "
        "or any merge, uploads whatever that commit builds, outside the tag ruleset",
        f"Trigger it on release tags only: `on: push: tags: ['{tag_pattern(settings.tag_format)}']`.",
    )


def tag_trigger(workflow: Workflow, settings: Settings) -> Iterator[Finding]:
    if not workflow.publishing:
        return
    push = workflow.triggers.get("push", False)
    line = workflow.trigger_lines.get("push", workflow.on_line)
    if not isinstance(push, dict) or not ({"tags", "tags-ignore"} & set(push)):
        if workflow.publish_jobs and branch_pushes(workflow.triggers):
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


RULES: tuple[Rule, ...] = (dangerous_trigger, reusable_publish, branch_push, tag_trigger)
