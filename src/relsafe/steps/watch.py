"""watch (optional, after push): production serves exactly the bytes that were tested.

Every file the production index lists for the version is downloaded and its
sha256 compared with the tag's manifest: a file that differs, one missing, or
one that was never tested is reported, with the installed files that differ
inside a wheel (its RECORD) to tell why. Where the index offers PEP 740
provenance, the publisher it names must be this repository's publish workflow.
"""

from __future__ import annotations

import time
from pathlib import PurePosixPath
from typing import Any

from relsafe.artifacts.comparison import record_differences
from relsafe.artifacts.distribution import sha256_file
from relsafe.core.errors import Refused, RelsafeError, StepFailed
from relsafe.model.publish_workflow import DEFAULT_WORKFLOW, parse_github_remote
from relsafe.steps.context import Context
from relsafe.steps.contract import Check, Step
from relsafe.steps.tag import release_manifest
from relsafe.tools.index import provenance, simple_api, transfer


class Watch(Step):
    name = "watch"
    title = "Watch production"

    def fingerprint(self, ctx: Context) -> dict[str, Any]:
        return {"production_index_url": ctx.production_index_url, "version": ctx.release.version}

    def check(self, ctx: Context) -> Check:
        if ctx.rehearsal:
            return Check.done(summary="not rehearsed: the publish workflow runs only for a real tag")
        return Check.ready()

    def run(self, ctx: Context) -> dict[str, Any]:
        carried = release_manifest(ctx)
        if carried is None:
            raise StepFailed("watch needs the built files to compare production with, and this release built none")
        tested = dict(carried.files)
        listed = self._wait_for(ctx, tested)
        folder = ctx.folder.published_downloads
        folder.mkdir(parents=True, exist_ok=True)
        differences = [f"{name}: on production but never tested" for name in sorted(listed.keys() - tested.keys())]
        for name, expected in sorted(tested.items()):
            published = transfer.download(listed[name].url, folder / name)
            actual = sha256_file(published)
            if actual != expected:
                differences.append(f"{name}: sha256 {actual} on production, {expected} in the tag's manifest")
                if name.endswith(".whl"):
                    differences += [f"  {line}" for line in record_differences(ctx.folder.dist / name, published)]
        if differences:
            raise StepFailed(
                f"production serves other files than were tested: {differences[0]}",
                hint="find out how the workflow got other bytes before anyone installs them; consider yanking",
                details=differences,
            )
        publishers = self._check_publishers(ctx, [listed[name] for name in sorted(tested)])
        summary = f"{len(tested)} file(s) on production are byte for byte the tested ones"
        return {"published": sorted(listed), "publishers": publishers, "summary": summary}

    @staticmethod
    def _wait_for(ctx: Context, tested: dict[str, str]) -> dict[str, simple_api.IndexFile]:
        """The version's files once every tested one is listed; StepFailed (resumable) after the timeout."""
        deadline = time.monotonic() + ctx.config.watch_timeout
        while True:
            listed = {
                f.filename: f
                for f in simple_api.project_files(ctx.production_index_url, ctx.project.name, ctx.release.version)
            }
            missing = sorted(tested.keys() - listed.keys())
            if not missing:
                return listed
            if time.monotonic() >= deadline:
                raise StepFailed(
                    f"{ctx.project.name} {ctx.release.version} did not appear on {ctx.production_index_url} "
                    f"within {ctx.config.watch_timeout:.0f} s (missing: {', '.join(missing)})",
                    hint="check the publish workflow's run on GitHub (it may wait for a reviewer), "
                    "then `relsafe resume`",
                )
            ctx.note(f"waiting for {ctx.release.version} on the production index")
            time.sleep(ctx.config.watch_interval)

    @staticmethod
    def _check_publishers(ctx: Context, files: list[simple_api.IndexFile]) -> list[str]:
        """Each file's publisher from its provenance, refused unless it is this repository's publish workflow."""
        offered = [file for file in files if file.provenance]
        if not offered:
            return ["the production index offers no provenance for these files"]
        if len(offered) < len(files):  # provenance for some files only: the others came another way
            missing = ", ".join(file.filename for file in files if not file.provenance)
            raise Refused(
                f"production offers provenance for some of the files but not for {missing}",
                hint="a file uploaded without Trusted Publishing: check the project's publishers; consider yanking",
            )
        trusted = ctx.release.publish_workflow or ctx.config.publish_workflow
        workflow = PurePosixPath(trusted or DEFAULT_WORKFLOW).name
        try:
            repository = parse_github_remote(ctx.git.remote_url(ctx.remote) or "").slug
        except RelsafeError:
            repository = None
        found: list[str] = []
        for file in offered:
            publishers = provenance.provenance_publishers(str(file.provenance))
            if not publishers:
                raise Refused(f"the provenance of {file.filename} on production names no publisher")
            for publisher in publishers:
                found.append(f"{file.filename}: {publisher}")
                ours = repository is not None and publisher.repository.lower() == repository.lower()
                if not ours or publisher.workflow != workflow:
                    expected = f"{repository or 'this repository'}, workflow {workflow}"
                    raise Refused(
                        f"{file.filename} on production was published by {publisher}, not by {expected}",
                        hint="someone else can publish this project: check its publishers on PyPI; consider yanking",
                    )
        return found
