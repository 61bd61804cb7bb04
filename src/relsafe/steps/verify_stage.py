"""verify-stage: what the staging index serves is what was tested, and it works once installed from there.

Every file is downloaded back and its hash compared with the build; the
wheel is installed in a fresh venv with its dependencies from the
production index only (never from the staging index, where anyone can
register a look-alike dependency), `pip check` and the import probe run
there, and the venv is compared with the one smoke tested
(relsafe.wheeltest.difference). The tests run again only when it differs,
or when `[verify-stage] tests = "always"`: the same wheel with the same
dependencies, byte for byte, on the same interpreter, would run the same
code a second time and prove nothing new.
"""

from __future__ import annotations

import shutil
import time
from typing import Any

from relsafe.core import failpoint
from relsafe.core.errors import StepFailed
from relsafe.steps.context import Context
from relsafe.steps.contract import Step
from relsafe.tools.index import simple_api, transfer
from relsafe.wheeltest.environment import Wheel
from relsafe.wheeltest.session import Session, inputs

LISTING_ATTEMPTS = 8
LISTING_FIRST_DELAY = 0.5
LISTING_MAX_DELAY = 30.0
ALWAYS = '[verify-stage] tests = "always"'
FROM_STAGING = " from the staging index (dependencies from the production index)"


def wait_for_listing(ctx: Context) -> dict[str, simple_api.IndexFile]:
    """Poll the staging index until it lists every built file (TestPyPI can lag behind an upload)."""
    wanted = {a.name for a in ctx.release.artifacts()}
    delay = LISTING_FIRST_DELAY
    for attempt in range(1, LISTING_ATTEMPTS + 1):
        listed = {
            f.filename: f
            for f in simple_api.project_files(ctx.staging.index_url, ctx.project.name, ctx.release.version)
        }
        if wanted <= listed.keys():
            return listed
        if attempt < LISTING_ATTEMPTS:
            ctx.note(f"waiting for the staging index to list {', '.join(sorted(wanted - listed.keys()))}")
            time.sleep(delay)
            delay = min(delay * 2, LISTING_MAX_DELAY)
    raise StepFailed(
        f"the staging index does not list {', '.join(sorted(wanted - listed.keys()))} after {LISTING_ATTEMPTS} tries",
        hint="it may be lagging: run `relsafe resume` in a minute",
    )


class VerifyStage(Step):
    name = "verify-stage"
    title = "Verify the staged files"
    concurrent = False

    def __init__(self) -> None:
        self._session: Session | None = None

    def fingerprint(self, ctx: Context) -> dict[str, Any]:
        return {
            "artifacts": ctx.release.artifact_hashes(),
            **inputs(ctx.config),
            "index_url": ctx.staging.index_url,
            "production_index_url": ctx.production_index_url,
        }

    def prepare(self, ctx: Context) -> None:
        """Create the venvs and install the test requirements early: only the wheel waits for the staging."""
        self._session_for(ctx).prepare()

    def run(self, ctx: Context) -> dict[str, Any]:
        listed = wait_for_listing(ctx)
        folder = ctx.folder.staged_downloads
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        downloaded = []
        for artifact in ctx.release.artifacts():
            entry = listed[artifact.name]
            if entry.sha256 != artifact.sha256:
                raise StepFailed(
                    f"the staging index lists {entry.filename} with sha256 {entry.sha256[:12]}…, "
                    f"the build has {artifact.sha256[:12]}…"
                )
            transfer.download(entry.url, folder / entry.filename, expected_sha256=artifact.sha256)
            downloaded.append(entry.filename)
        failpoint.hit("verify-stage-downloaded")
        ctx.note(f"downloaded {len(downloaded)} file(s) back; hashes equal the build")
        wheel = next(folder / name for name in downloaded if name.endswith(".whl"))
        staged = Wheel(wheel, index_url=ctx.production_index_url, origin=FROM_STAGING)
        session = self._session_for(ctx)
        if ctx.config.verify_tests == "always":
            result = session.run(staged, ctx.release.version, ctx.note, always=ALWAYS)
        else:
            tested = {environment.python: environment for environment in ctx.release.tested_environments() or []}
            result = session.run(staged, ctx.release.version, ctx.note, tested=tested)
        return {**result, "downloaded": downloaded}

    def _session_for(self, ctx: Context) -> Session:
        """One session from prepare to run, so that run takes the venvs prepare started."""
        if self._session is None:
            self._session = Session(ctx.project, ctx.config, ctx.folder.wheel_tests(self.name), ctx.log)
        return self._session
