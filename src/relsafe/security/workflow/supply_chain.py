"""Rules on what a workflow runs that others control: unpinned actions, restored caches, stored checkout tokens."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from relsafe.security.workflow.model import Rule, Settings, Workflow, key_line, uses_action
from relsafe.security.workflow.references import is_local
from relsafe.security.workflow.report import ERROR, WARNING, Finding

_SHA = re.compile(r"^[0-9a-f]{40}$")


def unpinned_action(workflow: Workflow, settings: Settings) -> Iterator[Finding]:
    severity = ERROR if workflow.publishing else WARNING
    for holder in [*workflow.jobs.values(), *workflow.steps()]:
        uses = holder.get("uses")
        if not isinstance(uses, str) or is_local(uses):
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


# Actions that cache unless told not to, and the input that tells them.
_CACHING_BY_DEFAULT = {
    "actions/setup-go": "cache",
    "actions/setup-node": "package-manager-cache",  # v5: npm projects that name their package manager
    "astral-sh/setup-uv": "enable-cache",
}
# Inputs that turn a setup action's cache on: setup-python/-node/-java `cache: pip`, setup-ruby `bundler-cache`,
# setup-micromamba `cache-environment`/`cache-downloads`.
_CACHE_INPUTS = ("cache", "enable-cache", "bundler-cache", "cache-environment", "cache-downloads")
# An action named for caching restores one: buildjet/cache, Swatinem/rust-cache, hynek/setup-cached-uv.
_CACHE_ACTION = re.compile(r"[^/]*cach(?:e|ed|ing)\b[^/]*", re.IGNORECASE)


def release_cache(workflow: Workflow, settings: Settings) -> Iterator[Finding]:
    """Caches are shared by every workflow of the default branch: in any job of a workflow that can publish, what
    one restores may have been written by a pull request's run (the Ultralytics chain)."""
    if not workflow.publishing:
        return
    for step in workflow.steps():
        cache = _cache(step)
        if cache is not None:
            line, cached = cache
            yield workflow.finding(
                "release-cache",
                ERROR,
                line,
                f"{cached} files that any workflow on the default branch could have written into a release build",
                "Remove caching from the release workflow: no `cache:` input, `actions/cache` step or "
                "`bundler-cache`; `enable-cache: false` for setup-uv, `cache: false` for setup-go, "
                "`package-manager-cache: false` for setup-node.",
            )


def _cache(step: Any) -> tuple[int, str] | None:
    """Where (the step's `uses:` line, where zizmor reports it too) and how a step restores a cache, or None."""
    action = uses_action(step)
    if action is None:
        return None
    with_ = step.get("with") if isinstance(step.get("with"), dict) else {}
    line = key_line(step, "uses", 1)
    name = action.rsplit("/", 1)[-1]
    parts = action.split("/")
    if len(parts) >= 2 and _CACHE_ACTION.fullmatch(parts[1]):
        return line, f"`{action}` restores"
    for key in _CACHE_INPUTS:
        if key in with_ and _on(with_[key]):
            return line, f"{name} `{key}: {with_[key]}` restores"
    opt_out = _CACHING_BY_DEFAULT.get(action)
    if opt_out is not None and _on(with_.get(opt_out, True)):
        return line, f"{name} caches by default (unless `{opt_out}: false`) and restores"
    return None


def _on(value: Any) -> bool:
    return str(value).strip().lower() not in {"", "false", "none", "0"}


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
