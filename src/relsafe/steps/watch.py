"""watch (optional, after push): production serves what was tested.

The tag's workflow rebuilds the files, so their bytes may differ from the
tested ones (a newer backend, another timestamp); what must not differ is
what gets installed. The comparison is the wheel's RECORD: every installed
file's path and sha256.
"""

from __future__ import annotations

import csv
import io
import time
import zipfile
from pathlib import Path
from typing import Any

from relsafe.context import Context
from relsafe.errors import StepFailed
from relsafe.steps.base import Check, Step
from relsafe.steps.build import recorded_artifacts
from relsafe.tools import index

# Files whose content names the tool that wrote them, not what gets installed.
UNCOMPARED = ("RECORD", "WHEEL")


def installed_files(wheel: Path) -> dict[str, str]:
    """path → sha256 entry of RECORD, for every file the wheel installs."""
    with zipfile.ZipFile(wheel) as archive:
        record_name = next(name for name in archive.namelist() if name.endswith(".dist-info/RECORD"))
        text = archive.read(record_name).decode("utf-8")
    entries: dict[str, str] = {}
    for row in csv.reader(io.StringIO(text)):
        if not row or row[0].endswith(tuple("/" + name for name in UNCOMPARED)) or row[0] in UNCOMPARED:
            continue
        path = row[0]
        if ".dist-info/" in path:
            path = "<dist-info>/" + path.split(".dist-info/", 1)[1]
        entries[path] = row[1] if len(row) > 1 else ""
    return entries


def record_differences(tested: Path, published: Path) -> list[str]:
    ours, theirs = installed_files(tested), installed_files(published)
    differences = [f"{path}: only in the tested wheel" for path in sorted(ours.keys() - theirs.keys())]
    differences += [f"{path}: only in the published wheel" for path in sorted(theirs.keys() - ours.keys())]
    differences += [
        f"{path}: content differs ({ours[path]} tested, {theirs[path]} published)"
        for path in sorted(ours.keys() & theirs.keys())
        if ours[path] != theirs[path]
    ]
    return differences


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
        wheel_name = next(a["name"] for a in recorded_artifacts(ctx) if a["kind"] == "wheel")
        deadline = time.monotonic() + ctx.config.watch_timeout
        while True:
            listed = {
                f.filename: f
                for f in index.project_files(ctx.production_index_url, ctx.project.name, ctx.release.version)
            }
            wheels = [f for f in listed.values() if f.filename.endswith(".whl")]
            if wheels:
                break
            if time.monotonic() >= deadline:
                raise StepFailed(
                    f"{ctx.project.name} {ctx.release.version} did not appear on {ctx.production_index_url} "
                    f"within {ctx.config.watch_timeout:.0f} s",
                    hint="check the publish workflow's run on GitHub (it may wait for a reviewer), "
                    "then `relsafe resume`",
                )
            ctx.note(f"waiting for {ctx.release.version} on the production index")
            time.sleep(ctx.config.watch_interval)
        published = listed.get(wheel_name) or wheels[0]
        folder = ctx.work_dir / "watch"
        folder.mkdir(parents=True, exist_ok=True)
        downloaded = index.download(published.url, folder / published.filename)
        differences = record_differences(ctx.artifacts_dir / wheel_name, downloaded)
        if differences:
            raise StepFailed(
                f"the published {published.filename} differs from the tested wheel in {len(differences)} file(s): "
                + differences[0],
                hint="find out why the workflow's build differs before anyone installs it; consider yanking",
                details=differences,
            )
        return {"published": sorted(listed), "summary": f"{published.filename} matches the tested wheel"}
