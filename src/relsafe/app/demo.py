"""`relsafe demo`: a full release of a generated sample package, on this machine only."""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from relsafe.app.release import Options, start
from relsafe.app.sample import DEMO_GATE, create_sample
from relsafe.engine.pipeline import Observer
from relsafe.journal.paths import ReleaseFolder, journal_dir
from relsafe.journal.records import Release
from relsafe.journal.runlog import RunLog
from relsafe.model.publish_workflow import DEFAULT_WORKFLOW
from relsafe.security.workflow.publish_run import run_committed_workflow
from relsafe.tools.github_job_types import Trigger
from relsafe.tools.localindex import LocalIndex


@dataclass
class DemoResult:
    release: Release
    folder: Path
    kept: bool
    seconds: float
    log_path: Path | None
    staged: list[str]
    project: Path
    published: str
    """What the sample's publish workflow, run here as committed, proved the tag would publish."""

    def summary(self) -> list[str]:
        release = self.release
        lines = [
            f"demo: released {release.from_label} → {release.version} of a sample package in {self.seconds:.1f} s",
        ]
        for name in release.order:
            record = release.steps.get(name)
            lines.append(f"  {name:<16} {record.status if record else 'pending'}")
        for artifact in release.artifacts():
            lines.append(f"  built {artifact.name}  sha256 {artifact.sha256[:16]}…")
        lines.append(f"  staged on the embedded index and read back: {', '.join(self.staged)}")
        gate = release.confirmation(DEMO_GATE)
        if gate is not None:
            lines.append(
                f"  gate {DEMO_GATE!r}: the demo answered it for you ({gate.how}: {'; '.join(gate.items)}); "
                "a real release asks you each item"
            )
        lines.append(f"  tag {release.tag} pushed to the sample's bare remote, with the manifest of the tested files")
        lines.append(f"  the publish workflow, run here: {self.published}")
        if self.kept:
            lines.append(f"  the sample project is in {self.project}")
            lines.append(f"  its artifacts are in {ReleaseFolder(journal_dir(self.project / '.git'), release.id).dist}")
            lines.append(f"  `relsafe status -C {self.project}` shows the journal")
        else:
            lines.append("  the sample project was removed (use --keep to look at it and its artifacts)")
        lines += [
            "on your own project:",
            "  relsafe init                       # release.toml and the publish workflow, and what to set up",
            "  relsafe release patch --dry-run    # the whole release rehearsed, leaving no trace",
        ]
        return lines


def run_demo(observer: Observer, *, keep: bool = False) -> DemoResult:
    folder = Path(tempfile.mkdtemp(prefix="relsafe-demo-"))
    started = time.monotonic()
    try:
        with LocalIndex(folder / "index") as local_index:
            sample = create_sample(
                folder, index=(local_index.upload_url, local_index.index_url), gate=True, offline=True
            )
            # the demo's gate is answered for the user, and recorded as such
            options = Options(confirmed_gates=frozenset({DEMO_GATE}))
            outcome = start(sample.root, "minor", observer, options)
            staged = sorted(path.name for path in local_index.storage.rglob("*") if path.is_file())
            release = outcome.release
            commit = str(release.bump_commit)
            log = RunLog(outcome.log_path)
            text = sample.git(log).file_at(commit, DEFAULT_WORKFLOW)
            assert text is not None, "the sample commits relsafe's workflow"
            published = run_committed_workflow(
                text=text,
                workflow=DEFAULT_WORKFLOW,
                root=sample.root,
                owned=True,
                trigger=Trigger("push", release.tag, commit, str(sample.remote)),
                stand_ins={},
                tested=release.artifact_hashes(),
                folder=folder / "publish-job",
                log=log,
            ).summary
        seconds = time.monotonic() - started
        return DemoResult(release, folder, keep, seconds, outcome.log_path, staged, sample.root, published)
    finally:
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)
