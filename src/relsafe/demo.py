"""`relsafe demo`: a full release of a generated sample package, on this machine only."""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from relsafe.pipeline import Observer
from relsafe.releaser import Options, start
from relsafe.sample import create_sample
from relsafe.state import Release
from relsafe.tools.localindex import LocalIndex


@dataclass
class DemoResult:
    release: Release
    folder: Path
    kept: bool
    seconds: float
    log_path: Path | None
    lines: list[str] = field(default_factory=list)

    def summary(self) -> list[str]:
        release = self.release
        lines = [
            f"demo: released {release.from_version} → {release.version} of a sample package in {self.seconds:.1f} s",
        ]
        for name in release.order:
            record = release.steps.get(name)
            lines.append(f"  {name:<13} {record.status if record else 'pending'}")
        artifacts = release.output("build", "artifacts") or []
        for artifact in artifacts:
            lines.append(f"  built {artifact['name']}  sha256 {artifact['sha256'][:16]}…")
        if self.kept:
            lines.append(f"  the sample project and its remote are in {self.folder}")
        else:
            lines.append("  the sample project was removed (use --keep to look at it)")
        return lines


def run_demo(observer: Observer, *, keep: bool = False) -> DemoResult:
    folder = Path(tempfile.mkdtemp(prefix="relsafe-demo-"))
    started = time.monotonic()
    try:
        with LocalIndex(folder / "index") as local_index:
            sample = create_sample(folder, index=(local_index.upload_url, local_index.index_url))
            outcome = start(sample.root, "minor", observer, Options(confirm_all=True))
        return DemoResult(outcome.release, folder, keep, time.monotonic() - started, outcome.log_path)
    finally:
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)
