"""inspect: read every built file before anything leaves the machine.

Metadata that will not render, a wheel with the wrong layout, a version left
behind inside a file, an sdist that leaves out a file the tree builds into the
wheel, a secret shipped by accident, anything PyPI would refuse at upload (a confusing ZIP,
a RECORD that does not match, a file name not normalised, a platform tag such as
`linux_x86_64`, a Metadata-Version twine cannot send): each is found here, with no side effect, and refused.
With `[inspect] strict = false`, twine's warnings are shown instead of refused.

Beside those checks it makes the release diff (relsafe.artifacts.differ): the
files compared with the previous release's on the production index, downloaded
and checked against the sha256 the index lists. A start-up hook not in
`[inspect] accept-pth` refuses, and so does a previous release whose files are
not what the index lists; the other novelties are warnings. The diff is
recorded even when inspect refuses, for the rehearsal and `relsafe status` to
show.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from relsafe.artifacts.distribution import compare_wheel_file_lists, layout_problems, sha256_file, version_problems
from relsafe.artifacts.rebuild import rebuild_differences
from relsafe.core.errors import Refused, StepFailed
from relsafe.model.release_diff import ReleaseDiff
from relsafe.steps.build import release_checkout, remove_stale_checkouts
from relsafe.steps.context import Context
from relsafe.steps.contract import Step
from relsafe.tools import builder
from relsafe.tools.index import simple_api


@dataclass
class _Compared:
    """The release diff, the problems it refuses, and the production index's failure, if it failed."""

    report: ReleaseDiff | None
    problems: list[str]
    unreachable: StepFailed | None = None


class Inspect(Step):
    name = "inspect"
    concurrent = True
    title = "Inspect the built files"

    def fingerprint(self, ctx: Context) -> dict[str, Any]:
        inputs: dict[str, Any] = {
            "artifacts": ctx.release.artifact_hashes(),
            "allow": list(ctx.config.inspect_allow),
        }
        if not ctx.config.inspect_strict:  # only when set, so a release begun before the key existed resumes
            inputs["strict"] = False
        if ctx.config.inspect_accept_pth:  # likewise
            inputs["accept_pth"] = list(ctx.config.inspect_accept_pth)
        return inputs

    def run(self, ctx: Context) -> dict[str, Any]:
        # The checks' modules are imported here, in inspect's thread beside smoke, rather than by the pipeline
        # before preflight starts (the secret rules alone compile for tens of milliseconds).
        from relsafe.artifacts.checks import upload_findings
        from relsafe.security.artifact_scan import scan_distribution, stopping_on_exit
        from relsafe.tools.twine_check import metadata_check

        files = [ctx.folder.dist / artifact.name for artifact in ctx.release.artifacts()]
        wheel = next(path for path in files if path.name.endswith(".whl"))
        checks: dict[str, Callable[[], list[str]]] = {
            "layout": lambda: layout_problems(wheel),
            "version": lambda: [p for path in files for p in version_problems(path, ctx.release.version)],
            "sdist": lambda: self._sdist_problems(ctx, wheel),
            "upload": lambda: [str(finding) for path in files for finding in upload_findings(path)],
            "secrets": lambda: [
                f"secret: {finding}" for path in files for finding in scan_distribution(path, ctx.config.inspect_allow)
            ],
        }
        if "stage" not in ctx.release.order:  # the workflow can only rebuild: the build must be reproducible
            checks["reproducible"] = lambda: self._rebuild_problems(ctx, files)
        remove_stale_checkouts(ctx)  # before the two builds below make theirs side by side
        # The wheel built from the tree dominates; the other checks run beside it.
        # stopping_on_exit exits first: Ctrl-C or SIGTERM stops the running scans before the pool waits for them
        with ThreadPoolExecutor(max_workers=len(checks) + 2, thread_name_prefix="inspect") as pool, stopping_on_exit():
            rendering = pool.submit(metadata_check, files, ctx.log, strict=ctx.config.inspect_strict)
            comparing = pool.submit(self._release_diff, ctx, files)
            futures = {name: pool.submit(check) for name, check in checks.items()}
            metadata = rendering.result()
            results = {"metadata": metadata.problems} | {name: future.result() for name, future in futures.items()}
            try:
                compared = comparing.result()
            except StepFailed as error:  # this release's own files cannot be read: the other checks say why too
                compared = _Compared(None, [f"release diff: {error.message}"])
        results["diff"] = compared.problems
        report = compared.report
        if report is not None:  # shown by the rehearsal and status, refused or not
            ctx.record_progress({"diff": report.to_dict()})
        problems = [problem for found in results.values() for problem in found]
        if problems:
            hint = (
                "fix the project, then `relsafe abort` and release again; "
                "a reviewed false positive of the secret scan can go in [inspect] allow"
            )
            if report is not None and report.refused:
                hint += "; a start-up hook the project means to ship, once reviewed, goes in [inspect] accept-pth"
            if results.get("reproducible"):
                hint += "; a build that is not reproducible can still be released through staging (add stage to steps)"
            if metadata.problems and ctx.config.inspect_strict:
                hint += "; twine's warnings alone pass with [inspect] strict = false"
            raise Refused(
                f"inspect found {len(problems)} problem(s) in the built files: {problems[0]}",
                hint=hint,
                details=problems,
            )
        if compared.unreachable is not None:  # a real release compares, or says it could not: resumable
            raise compared.unreachable
        ctx.note(
            "metadata renders, layout sound, versions agree, PyPI takes the files, "
            "the sdist holds what the tree builds, no secrets"
        )
        for warning in metadata.warnings:
            ctx.note(f"{warning} (not refused: [inspect] strict = false)")
        outputs: dict[str, Any] = {"checks": sorted(results)}
        warned = f"; twine warned about {len(metadata.warnings)} file(s), not refused" if metadata.warnings else ""
        summary = f"{len(results)} checks passed{warned}"
        if report is not None:  # always, but for this release's own files unreadable, which refused above
            for change in [*report.warnings, *report.accepted]:
                ctx.note(f"release diff: {change.line()}")
            summary += f"; {report.summary(where=False)}"
            outputs["diff"] = report.to_dict()
        return outputs | {"summary": summary}

    @staticmethod
    def _release_diff(ctx: Context, files: list[Path]) -> _Compared:
        """The built files against the previous release's on the production index (the highest version below
        this one), downloaded into the release folder and checked against the index's listing."""
        from relsafe.artifacts.differ import release_diff
        from relsafe.tools.index.previous import fetch, previous_release
        from relsafe.tools.index.transfer import HashMismatch

        url, accept = ctx.production_index_url, ctx.config.inspect_accept_pth
        notes: list[str] = []
        try:
            previous = previous_release(simple_api.project_page(url, ctx.project.name), ctx.release.version)
            old_files = []
            if previous is not None:
                wheel = next(path.name for path in files if path.name.endswith(".whl"))
                for kind, entry in (("wheel", previous.wheel_like(wheel)), ("sdist", previous.sdist())):
                    if entry is None:
                        notes.append(f"{ctx.project.name} {previous.version} has no {kind} on {url}: not compared")
                    else:
                        old_files.append(fetch(entry, ctx.folder.previous_release))
        except HashMismatch as error:
            report = release_diff(
                files, [], accept_pth=accept, index_url=url, unavailable="its files are not what the index lists"
            )
            name = error.message.split(" from ", 1)[0]
            problem = (
                f"the previous release's {name} on the production index {url} is not the file the index lists "
                f"(sha256 {error.received}, listed {error.expected}): it changed after it was published, or "
                "something between here and the index changes it"
            )
            return _Compared(report, [problem, *_hook_problems(report)])
        except StepFailed as error:
            report = release_diff(files, [], accept_pth=accept, index_url=url, unavailable=error.message)
            if ctx.rehearsal:  # a rehearsal goes on without it, as preflight does
                ctx.note(f"release diff not made: {error.message}")
                return _Compared(report, _hook_problems(report))
            return _Compared(report, _hook_problems(report), unreachable=error)
        try:
            report = release_diff(
                files,
                old_files,
                accept_pth=accept,
                previous=previous.version if previous else None,
                index_url=url,
                notes=notes,
            )
        except StepFailed as error:  # the previous release's files as published cannot be read: say so, go on
            unreadable = f"its files cannot be read: {error.message}"
            report = release_diff(files, [], accept_pth=accept, index_url=url, unavailable=unreadable)
            ctx.note(f"release diff not made: {unreadable}")
        return _Compared(report, _hook_problems(report))

    def _rebuild_problems(self, ctx: Context, files: list[Path]) -> list[str]:
        """Build the release commit a second time, as the publish workflow will (with exactly the build's pinned
        requirements), and compare the bytes."""
        try:
            with _release_commit_built(ctx, wheel_only=False) as rebuilt:
                problems = rebuild_differences(files, rebuilt.files)
        except StepFailed as error:
            return [f"reproducible: a second build of the release commit failed: {error.message}"]
        return [f"reproducible: {problem}" for problem in problems]

    def _sdist_problems(self, ctx: Context, wheel: Path) -> list[str]:
        """A wheel straight from the release commit (the build made one beside the release's; made here when
        it is gone or changed): a file it holds that the released wheel (built from the sdist) lacks is a
        file the sdist left out."""
        recorded = ctx.release.tree_wheel()
        if recorded is not None:
            made = ctx.folder.tree_wheel_dir / recorded.name
            if made.is_file() and sha256_file(made) == recorded.sha256:
                return compare_wheel_file_lists(wheel, made)
        try:
            with _release_commit_built(ctx, wheel_only=True) as from_tree:
                return compare_wheel_file_lists(wheel, from_tree.files[0])
        except StepFailed as error:  # a failed build is a finding, reported with the others
            return [f"the source tree cannot build a wheel to compare with: {error.message}", *error.details[-5:]]


def _hook_problems(report: ReleaseDiff) -> list[str]:
    return [f"release diff: {change.message}" for change in report.refused]


@contextmanager
def _release_commit_built(ctx: Context, *, wheel_only: bool) -> Iterator[builder.Built]:
    """Another build of the release commit, in a fresh worktree, with the first build's time; its files are
    removed on leaving.

    The reproducibility rebuild is the publish workflow's: a fresh venv holding exactly the pinned
    requirements, even with `[build] isolation = false` (pins missing something, or relsafe's own
    environment adding a plugin, shows here rather than in the workflow). The wheel from the tree is
    built as the release was."""
    pins = ctx.release.build_requirements() or None
    isolated = ctx.config.build_isolation or (not wheel_only and pins is not None)
    with release_checkout(ctx) as checkout, tempfile.TemporaryDirectory(prefix="relsafe-rebuild-") as out:
        yield builder.build_distributions(
            checkout / ctx.project.subdir,
            Path(out),
            source_date_epoch=_source_date_epoch(ctx),
            pretend_version=ctx.pretend_version,
            isolated=isolated,
            pinned=pins if isolated else None,
            wheel_only=wheel_only,
            log=ctx.log,
        )


def _source_date_epoch(ctx: Context) -> int:
    """The time the build step gave its build, so that every rebuild here gives the same bytes."""
    return ctx.release.source_date_epoch or ctx.git.commit_time(ctx.bump_commit)
