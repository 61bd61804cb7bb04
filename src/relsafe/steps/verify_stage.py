"""verify-stage: what the staging index serves is what was tested, and it works once installed from there.

Every file is downloaded back and its hash compared with the build; the
wheel is installed in a fresh venv with its dependencies from the
production index only (never from the staging index, where anyone can
register a look-alike dependency), and the smoke checks run again.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from relsafe.core import failpoint
from relsafe.core.errors import StepFailed
from relsafe.steps.context import Context
from relsafe.steps.smoke import Smoke
from relsafe.tools import venv as venvs
from relsafe.tools.index import simple_api, transfer
from relsafe.wheeltest.requirements import wheel_requirement

LISTING_ATTEMPTS = 8
LISTING_FIRST_DELAY = 0.5
LISTING_MAX_DELAY = 30.0


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


class VerifyStage(Smoke):
    name = "verify-stage"
    title = "Verify the staged files"
    concurrent = False

    def fingerprint(self, ctx: Context) -> dict[str, Any]:
        return {
            **super().fingerprint(ctx),
            "index_url": ctx.staging.index_url,
            "production_index_url": ctx.production_index_url,
        }

    def install_wheel(self, ctx: Context, venv: venvs.Venv, wheel: Path) -> float:
        return venvs.install(
            venv,
            [wheel_requirement(wheel, ctx.project.name, ctx.config.test_extras)],
            ctx.log,
            index_url=ctx.production_index_url,
            what=f"installing {wheel.name}{self._extras(ctx)} from the staging index "
            "(dependencies from the production index)",
        )

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
        result = self.test_wheel(ctx, wheel)
        return {**result, "downloaded": downloaded}
