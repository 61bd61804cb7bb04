"""push: the release commit and its tag in one atomic push; the tag triggers publishing.

With [publish] trigger = "release" the tag starts nothing: the step records
the GitHub Release still to be published as the release's manual step. With
[publish] workflow-check = "audit-only" it records that relsafe cannot prove
what the project's own workflow publishes.

In a rehearsal the pushed tag starts no workflow, so the push step runs the
publish workflow as committed at the release commit, against the sandbox's
remote and embedded index (security.workflow.publish_run): its verdict is the
step's.
"""

from __future__ import annotations

import shutil
from contextlib import suppress
from typing import Any

from relsafe.core.errors import RelsafeError, StepFailed
from relsafe.journal.records import MANUAL_STEP
from relsafe.steps.context import Context
from relsafe.steps.contract import Check, Step
from relsafe.tools.git import tagged_commit

NEXT_STEP = "next_step"
"""The push step's output saying what a person does next: approve the publish job's deployment."""
UNPROVEN = "unproven"
"""The push step's output saying relsafe cannot prove what the project's own workflow publishes (audit-only)."""


class Push(Step):
    name = "push"
    title = "Push branch and tag"
    changes_world = True

    def fingerprint(self, ctx: Context) -> dict[str, Any]:
        return {"commit": ctx.bump_commit, "tag": ctx.release.tag, "branch": ctx.config.branch}

    def _remote_state(self, ctx: Context) -> tuple[str | None, str | None]:
        refs = ctx.git.remote_refs(ctx.remote)
        return tagged_commit(refs, ctx.release.tag), refs.get(f"refs/heads/{ctx.config.branch}")

    def check(self, ctx: Context) -> Check:
        tagged, branch_head = self._remote_state(ctx)
        if tagged is None:
            return Check.ready()
        if tagged != ctx.bump_commit:
            return Check.blocked(
                f"{ctx.remote} already has the tag {ctx.release.tag} on {tagged[:12]}, "
                f"not on the release commit {ctx.bump_commit[:12]}"
            )
        if branch_head is not None and (
            branch_head == ctx.bump_commit or ctx.git.is_ancestor(ctx.bump_commit, branch_head)
        ):
            return Check.done(**self._outputs(ctx))
        return Check.ready()

    def run(self, ctx: Context) -> dict[str, Any]:
        tag_ref = f"refs/tags/{ctx.release.tag}"
        ctx.git.push_atomic(ctx.remote, [f"{ctx.bump_commit}:refs/heads/{ctx.config.branch}", f"{tag_ref}:{tag_ref}"])
        outputs = self._outputs(ctx)
        if ctx.rehearsal and "stage" in ctx.release.order:
            outputs["summary"] = self._rehearse_publishing(ctx)
        elif ctx.rehearsal:
            ctx.note(
                "the publish workflow's rebuild was not run here: without staging it installs the pinned build "
                "requirements from PyPI; inspect's reproducibility check rebuilt the release commit with them"
            )
        return outputs

    @staticmethod
    def _rehearse_publishing(ctx: Context) -> str:
        """The committed workflow's jobs up to its upload, run against the sandbox's remote and the embedded
        index: the step's summary says what that proved, its notes how."""
        from relsafe.core.errors import UsageError
        from relsafe.model.publish_workflow import parse_github_remote
        from relsafe.security.workflow.publish_run import run_committed_workflow
        from relsafe.steps.preflight import publish_path_of
        from relsafe.tools.github_job_types import Trigger

        path = publish_path_of(ctx)
        workflow = ctx.release.publish_workflow or path.workflow or ""
        text = ctx.git.file_at(ctx.bump_commit, workflow) if workflow else None
        if text is None:
            raise StepFailed(f"the release commit has no publish workflow ({workflow}): the tag would publish nothing")
        remote_url = ctx.git.remote_url(ctx.remote) or ctx.remote
        try:
            real_remote = (ctx.real_git or ctx.git).remote_url(ctx.remote) or ""
            repository = parse_github_remote(real_remote).slug
        except UsageError:
            repository = ""
        event = "release" if ctx.config.publish_trigger == "release" else "push"
        folder = ctx.folder.publish_rehearsal
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        verdict = run_committed_workflow(
            text=text,
            workflow=workflow,
            root=ctx.git.root,
            owned=path.owned,
            trigger=Trigger(event, ctx.release.tag, ctx.bump_commit, remote_url, repository),
            stand_ins={ctx.config.staging_index_url: ctx.staging.index_url},
            tested=ctx.release.artifact_hashes(),
            folder=folder,
            log=ctx.log,
        )
        for note in verdict.notes:
            ctx.note(note)
        return verdict.summary

    @staticmethod
    def _outputs(ctx: Context) -> dict[str, Any]:
        from relsafe.steps.tag import unproven

        outputs: dict[str, Any] = {"remote": ctx.remote, "tag": ctx.release.tag, "commit": ctx.bump_commit}
        caveat = unproven(ctx)
        if caveat:
            outputs[UNPROVEN] = caveat
        if ctx.config.publish_trigger == "release":
            outputs[MANUAL_STEP] = (
                f"publish a GitHub Release for {ctx.release.tag} to start publishing "
                '(the publish workflow runs on `release`, not on the tag push: [publish] trigger = "release")'
            )
        outputs[NEXT_STEP] = Push._approval(ctx)
        return outputs

    @staticmethod
    def _approval(ctx: Context) -> str:
        """What a person does once the tag is pushed: the publish job waits for its environment's reviewers."""
        from relsafe.model.publish_workflow import parse_github_remote

        workflow = ctx.release.publish_workflow or "the publish workflow"
        where = "on the repository's Actions page"
        with suppress(RelsafeError):  # not a GitHub remote: the page is named, not linked
            where = f"at {parse_github_remote(ctx.git.remote_url(ctx.remote) or '').url}/actions"
        return (
            f"approve the deployment of the {workflow} run for {ctx.release.tag} (environment "
            f"'{ctx.config.publish_environment}') {where}"
        )

    def verify(self, ctx: Context) -> None:
        tagged, branch_head = self._remote_state(ctx)
        if tagged != ctx.bump_commit:
            raise StepFailed(f"{ctx.remote} does not have the tag {ctx.release.tag} on the release commit")
        if branch_head is None:
            raise StepFailed(f"{ctx.remote} has no branch {ctx.config.branch}")
