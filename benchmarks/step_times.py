"""Per-step times of a full release of the sample package against a local index, and `relsafe demo`'s wall time.

Run: .venv/bin/python benchmarks/step_times.py [--runs N]
Prints the median seconds of each step (inspect and smoke run side by side, so
their sum exceeds the time they take together) and the median demo time.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from relsafe.sample import create_sample
from relsafe.tools.localindex import LocalIndex

RELSAFE = str(Path(sys.executable).parent / "relsafe")


def release_once() -> tuple[float, dict[str, float]]:
    with tempfile.TemporaryDirectory(prefix="relsafe-steps-") as folder, LocalIndex(Path(folder) / "ix") as index:
        sample = create_sample(Path(folder), index=(index.upload_url, index.index_url))
        started = time.perf_counter()
        subprocess.run([RELSAFE, "release", "minor"], cwd=sample.root, check=True, capture_output=True)
        total = time.perf_counter() - started
        status = json.loads(
            subprocess.run([RELSAFE, "status", "--json"], cwd=sample.root, check=True, capture_output=True).stdout
        )
        return total, {name: status["steps"][name]["seconds"] for name in status["order"]}


def demo_once() -> float:
    started = time.perf_counter()
    subprocess.run([RELSAFE, "demo"], check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    runs = parser.parse_args().runs
    totals, steps = [], []
    for _ in range(runs):
        total, per_step = release_once()
        totals.append(total)
        steps.append(per_step)
    print(f"release minor, whole pipeline: {statistics.median(totals):.2f} s (median of {runs})")
    for name in steps[0]:
        print(f"  {name:<14} {statistics.median(run[name] for run in steps):6.2f} s")
    demo = statistics.median(demo_once() for _ in range(runs))
    print(f"relsafe demo (offline, whole pipeline): {demo:.2f} s (target < 60 s)")


if __name__ == "__main__":
    main()
