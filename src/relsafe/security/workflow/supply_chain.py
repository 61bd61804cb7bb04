"""Rules on what a workflow runs that others control: unpinned actions, restored caches, stored checkout tokens."""

from __future__ import annotations

import re
from collections.abc import Iterator

from relsafe.security.workflow.model import Rule, Settings, Workflow, key_line, uses_action
from relsafe.security.workflow.report import ERROR, WARNING, Finding

_SHA = re.compile(r"^[0-9a-f]{40}$")


def unpinned_action(workflow: Workflow, settings: Settings) -> Iterator[Finding]:
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
            key_line(holder, "uses", 1),
            f"`{uses}` is not pinned to a commit: whoever can move that tag or branch changes what runs here",
            "Pin to the full 40-character commit SHA with the version in a comment, "
            "e.g. `uses: owner/action@<sha> # v1.2.3`.",
        )


def release_cache(workflow: Workflow, settings: Settings) -> Iterator[Finding]:
    if not workflow.publishing:
        return
    for step in workflow.steps():
        action = uses_action(step)
        with_ = step.get("with") if isinstance(step.get("with"), dict) else {}
        line = key_line(step, "uses", 1)
        if action is None:
            continue
        if action == "actions/cache" or action.startswith("actions/cache/"):
            cached = f"`{action}` restores"
        elif action == "actions/setup-python" and with_.get("cache"):
            cached, line = f"setup-python `cache: {with_['cache']}` restores", key_line(with_, "cache", line)
        elif action == "astral-sh/setup-uv" and str(with_.get("enable-cache", "auto")).lower() != "false":
            cached = "setup-uv caches by default and restores"
            line = key_line(with_, "enable-cache", line)
        else:
            continue
        yield workflow.finding(
            "release-cache",
            ERROR,
            line,
            f"{cached} files that any workflow on the default branch could have written into a release build",
            "Remove caching from the release workflow (`enable-cache: false` for setup-uv).",
        )


def checkout_credentials(workflow: Workflow, settings: Settings) -> Iterator[Finding]:
    for step in workflow.steps():
        if uses_action(step) != "actions/checkout":
            continue
        with_ = step.get("with")
        persist = with_.get("persist-credentials", True) if isinstance(with_, dict) else True
        if str(persist).lower() != "false":
            yield workflow.finding(
                "checkout-credentials",
                ERROR if workflow.publishing else WARNING,
                key_line(step, "uses", 1),
                "actions/checkout leaves the job's token in .git/config, where later steps and "
                "uploaded artifacts can read it",
                "Add `with: persist-credentials: false` to the checkout step.",
            )


RULES: tuple[Rule, ...] = (unpinned_action, release_cache, checkout_credentials)
