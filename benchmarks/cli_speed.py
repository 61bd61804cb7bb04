"""Prints `relsafe --help` time against `bump-my-version --help`; `--plan`, `release minor` and then `status`
(in the released sample) wall times.

Run: .venv/bin/python benchmarks/cli_speed.py [--runs N] [--relsafe PATH]
(--relsafe times another installation, such as one made by the README's first
command, `pip install .`; default: the relsafe beside this interpreter.)
Targets: --help and status under 0.15 s, --plan under 1 s.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from relsafe.app.sample import create_sample
from relsafe.tools.localindex import LocalIndex

BIN = Path(sys.executable).parent


def timed(command: list[str], cwd: Path | None = None) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - started


def median_of(runs: int, command: list[str], cwd: Path | None = None) -> float:
    timed(command, cwd)  # warm the file cache
    return statistics.median(timed(command, cwd) for _ in range(runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--relsafe", type=Path, default=BIN / "relsafe", help="the relsafe executable to time")
    arguments = parser.parse_args()
    runs, relsafe = arguments.runs, str(arguments.relsafe.absolute())
    relsafe_help = median_of(runs, [relsafe, "--help"])
    bump_help = median_of(runs, [str(BIN / "bump-my-version"), "--help"])
    print(f"relsafe --help          {relsafe_help:.3f} s (median of {runs}, target < 0.15 s)")
    print(f"bump-my-version --help  {bump_help:.3f} s")
    print(f"ratio                   {relsafe_help / bump_help:.2f}x  (target <= 0.5x, aim 0.2x)")
    with (
        tempfile.TemporaryDirectory(prefix="relsafe-bench-") as folder,
        LocalIndex(Path(folder) / "index") as index,
    ):
        sample = create_sample(Path(folder), index=(index.upload_url, index.index_url))
        plan = median_of(runs, [relsafe, "release", "minor", "--plan"], cwd=sample.root)
        print(f"relsafe release minor --plan   {plan:.3f} s (target < 1 s)")
        release = timed([relsafe, "release", "minor"], cwd=sample.root)
        print(f"relsafe release minor (full pipeline, local index)   {release:.1f} s")
        status = median_of(runs, [relsafe, "status"], cwd=sample.root)
        print(f"relsafe status (after that release)   {status:.3f} s (target < 0.15 s)")
        status_json = median_of(runs, [relsafe, "status", "--json"], cwd=sample.root)
        print(f"relsafe status --json                 {status_json:.3f} s")


if __name__ == "__main__":
    main()
