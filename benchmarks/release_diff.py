"""What the release diff costs: the comparison of two given files, and what it adds to a release's inspect step.

Run: .venv/bin/python benchmarks/release_diff.py [--runs N] [--files OLD NEW]

With --files, it times `release_diff` on those two wheels (or sdists) in this
process: the median wall and CPU seconds of N comparisons, and the MB compared
per CPU second (the figure that survives a loaded machine). Without, it makes N
fresh sample packages with their 0.1.0 on a local index (pypiserver) and
releases 0.2.0 of each in this process (preflight, bump, build, inspect,
stage; built with the backend beside relsafe), first as relsafe does, then
with the diff replaced by an empty report (what inspect was before it), and
prints the medians of the inspect step's seconds both ways and of the diff's
own seconds (listing the index, downloading and hash-checking 0.1.0's wheel
and sdist, comparing), which runs beside inspect's other checks.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from relsafe.app import release as releaser
from relsafe.app.sample import create_sample
from relsafe.artifacts.differ import release_diff
from relsafe.steps import inspect as inspect_step
from relsafe.tools.localindex import LocalIndex


class Quiet:
    def step_started(self, name: str, title: str) -> None:
        pass

    def step_finished(self, name: str, status: str, seconds: float, summary: str) -> None:
        pass

    def note(self, name: str, text: str) -> None:
        pass


def time_files(old: Path, new: Path, runs: int) -> None:
    walls, cpus = [], []
    for _ in range(runs):
        wall, cpu = time.perf_counter(), time.process_time()
        report = release_diff([new], [old])
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    megabytes = (old.stat().st_size + new.stat().st_size) / 1e6
    print(report.summary())
    print(f"compare {old.name} with {new.name}: {megabytes:.1f} MB")
    print(f"  wall {statistics.median(walls):.3f} s, CPU {statistics.median(cpus):.3f} s (medians of {runs})")
    print(f"  {megabytes / statistics.median(cpus):.0f} MB per CPU second")


def _release(folder: Path, diff: Callable[..., Any] | None) -> tuple[float, float]:
    """Release 0.2.0 of a fresh sample whose 0.1.0 is on a local index: (inspect's seconds, the diff's seconds)."""
    with LocalIndex(folder / "index") as index:
        sample = create_sample(folder, index=(index.upload_url, index.index_url), offline=True)
        built = folder / "previous"
        subprocess.run(
            [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(built), str(sample.root)],
            check=True,
            capture_output=True,
        )
        for path in built.iterdir():
            shutil.copy(path, index.storage / path.name)
        config = sample.root / "release.toml"
        steps = '[release]\nsteps = ["preflight", "bump", "build", "inspect", "stage"]\n'
        config.write_text(steps + config.read_text(encoding="utf-8"), encoding="utf-8")
        subprocess.run(["git", "commit", "-qam", "steps"], cwd=sample.root, check=True)
        subprocess.run(["git", "push", "-q", "origin", "main"], cwd=sample.root, check=True)
        spent: list[float] = []
        original = inspect_step.Inspect._release_diff

        def timed(ctx: Any, files: list[Path]) -> Any:
            started = time.perf_counter()
            try:
                return (diff or original)(ctx, files)
            finally:
                spent.append(time.perf_counter() - started)

        inspect_step.Inspect._release_diff = staticmethod(timed)  # type: ignore[method-assign,assignment]
        try:
            outcome = releaser.start(sample.root, "minor", Quiet(), releaser.Options())
        finally:
            inspect_step.Inspect._release_diff = staticmethod(original)  # type: ignore[method-assign]
        seconds = outcome.release.step("inspect").seconds
        assert seconds is not None
        return seconds, spent[0]


def _empty(ctx: Any, files: list[Path]) -> Any:
    """inspect without the diff: a report of this release alone, nothing asked of the index."""
    return inspect_step._Compared(release_diff(files, []), [])


def time_releases(runs: int) -> None:
    measured: dict[str, list[tuple[float, float]]] = {"with the diff": [], "diff replaced by an empty report": []}
    for _ in range(runs):
        for label, diff in (("with the diff", None), ("diff replaced by an empty report", _empty)):
            with tempfile.TemporaryDirectory(prefix="relsafe-bench-diff-") as folder:
                measured[label].append(_release(Path(folder), diff))
    for label, found in measured.items():
        inspect_seconds = statistics.median(seconds for seconds, _ in found)
        diff_seconds = statistics.median(seconds for _, seconds in found)
        print(f"{label:34} inspect {inspect_seconds:.2f} s, the diff itself {diff_seconds:.3f} s (medians of {runs})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--files", nargs=2, type=Path, metavar=("OLD", "NEW"))
    arguments = parser.parse_args()
    os.environ.setdefault("PIP_CONFIG_FILE", os.devnull)
    if arguments.files:
        time_files(*arguments.files, arguments.runs)
    else:
        time_releases(arguments.runs)


if __name__ == "__main__":
    main()
