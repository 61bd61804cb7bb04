"""A full staged release by relsafe against the expert's uv script, on the sample and on the sample with a slow suite.

The uv script is /work/shared/bench/uv_release.sh, run as it is (`--script`
names another copy): bump-my-version, `uv build`, `uv venv` + `uv pip` +
the tests, `uv publish` to the staging index, a second venv installing back
from it + the tests, tag, atomic push. Each round makes fresh copies of the
sample (each with its own bare remote and local index) and times both, in an
order that rotates each round, on two samples:

- **sample**: relsafe's sample package (one quick test);
- **3 s suite**: the same with one more test that takes 3 seconds, the share
  of a real project's suite in its release.

Both samples carry a bump-my-version configuration (the script's bump
needs one to update `__version__`), so relsafe bumps with bump-my-version
too. `--by-hand` also times the guides' commands typed in turn (python -m
venv, pip, python -m build, twine) on the plain sample.

Prints one line per run, the medians and the ratios relsafe / uv script
(goals: at most 1.0 on the sample, at most 0.8 with the 3 s suite), with
the load average before and after, since figures on a busy machine are not
a calm machine's.

Run: .venv/bin/python benchmarks/versus_manual.py [--rounds N] [--relsafe PATH] [--script PATH] [--by-hand]
(--relsafe times another installation, such as one made by the README's first
command, `pip install .`; default: the relsafe beside this interpreter.)
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

import uv

from relsafe.app.sample import SampleProject, create_sample
from relsafe.tools.localindex import LocalIndex

BIN = Path(sys.executable).parent
UV = uv.find_uv_bin()
SCRIPT = Path("/work/shared/bench/uv_release.sh")
SAMPLES = {"sample": 0.0, "3 s suite": 3.0}
GOALS = {"sample": 1.0, "3 s suite": 0.8}
SLOW_TEST = """import time


def test_takes_a_while():
    time.sleep({seconds})
"""


def sh(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> None:
    subprocess.run(command, cwd=cwd, check=True, capture_output=True, env=env)


def prepared(folder: Path, index: LocalIndex, suite_seconds: float) -> SampleProject:
    """The sample with a bump-my-version configuration and, given seconds, a test that takes that long."""
    sample = create_sample(folder, index=(index.upload_url, index.index_url))
    with (sample.root / "pyproject.toml").open("a", encoding="utf-8") as pyproject:
        pyproject.write(
            '\n[tool.bumpversion]\ncurrent_version = "0.1.0"\n\n'
            f'[[tool.bumpversion.files]]\nfilename = "src/{sample.module}/__init__.py"\n'
        )
    if suite_seconds:
        (sample.root / "tests" / "test_slow.py").write_text(SLOW_TEST.format(seconds=suite_seconds), encoding="utf-8")
    sh(["git", "add", "-A"], sample.root)
    sh(["git", "commit", "-qm", "bench set-up"], sample.root)
    sh(["git", "push", "-q", "origin", "main"], sample.root)
    return sample


def uv_script(script: Path) -> Callable[[SampleProject, LocalIndex], None]:
    def run(sample: SampleProject, index: LocalIndex) -> None:
        base_url = index.upload_url.rstrip("/")  # the script adds / and /simple/
        sh(["bash", str(script), str(sample.root), base_url, sys.executable], sample.root, {**os.environ, "UV": UV})

    return run


def with_relsafe(relsafe: Path) -> Callable[[SampleProject, LocalIndex], None]:
    def run(sample: SampleProject, index: LocalIndex) -> None:
        sh([str(relsafe), "release", "minor"], sample.root)

    return run


def by_hand(sample: SampleProject, index: LocalIndex) -> None:
    """What a careful maintainer types, in order, without relsafe or uv."""
    root = sample.root
    sh([str(BIN / "bump-my-version"), "bump", "minor", "--commit", "--no-tag"], root)
    sh([sys.executable, "-m", "build"], root)
    scratch = Path(tempfile.mkdtemp(prefix="by-hand-"))
    try:
        sh([sys.executable, "-m", "venv", str(scratch / "v1")], root)
        wheel = next((root / "dist").glob("*.whl"))
        sh([str(scratch / "v1/bin/pip"), "install", "-q", str(wheel), "pytest"], root)
        shutil.copytree(root / "tests", scratch / "t1" / "tests")
        sh([str(scratch / "v1/bin/python"), "-m", "pytest", "-q"], scratch / "t1")
        env = {**os.environ, "TWINE_USERNAME": "relsafe", "TWINE_PASSWORD": "open-index"}
        files = [str(path) for path in (root / "dist").iterdir()]
        sh([sys.executable, "-m", "twine", "upload", "--repository-url", index.upload_url, *files], root, env)
        sh([sys.executable, "-m", "venv", str(scratch / "v2")], root)
        pip = str(scratch / "v2/bin/pip")
        sh([pip, "install", "-q", "--extra-index-url", index.index_url, "relsafe-sample==0.2.0", "pytest"], root)
        shutil.copytree(root / "tests", scratch / "t2" / "tests")
        sh([str(scratch / "v2/bin/python"), "-m", "pytest", "-q"], scratch / "t2")
        sh(["git", "tag", "-a", "v0.2.0", "-m", "Release 0.2.0"], root)
        sh(["git", "push", "--atomic", "origin", "main", "v0.2.0"], root)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def one_round(kind: Callable[[SampleProject, LocalIndex], None], suite_seconds: float) -> float:
    with (
        tempfile.TemporaryDirectory(prefix="bench-") as folder,
        LocalIndex(Path(folder) / "ix") as index,
    ):
        sample = prepared(Path(folder), index, suite_seconds)
        started = time.perf_counter()
        kind(sample, index)
        return time.perf_counter() - started


def load() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--relsafe", type=Path, default=BIN / "relsafe", help="the relsafe executable to time")
    parser.add_argument("--script", type=Path, default=SCRIPT, help="the expert's uv script")
    parser.add_argument("--by-hand", action="store_true", help="also time the guides' commands typed by hand")
    arguments = parser.parse_args()
    kinds: dict[str, Callable[[SampleProject, LocalIndex], None]] = {
        "relsafe": with_relsafe(arguments.relsafe.absolute()),
        "uv script": uv_script(arguments.script.absolute()),
    }
    runs = [(name, sample) for sample in SAMPLES for name in kinds]
    if arguments.by_hand:
        kinds["by hand"] = by_hand
        runs.append(("by hand", "sample"))
    print(f"load average before: {load()}", flush=True)
    times: dict[tuple[str, str], list[float]] = {run: [] for run in runs}
    for number in range(arguments.rounds):
        shift = number % len(runs)  # each run goes first, second, … in turn
        for name, sample in runs[shift:] + runs[:shift]:
            times[name, sample].append(one_round(kinds[name], SAMPLES[sample]))
            print(f"round {number + 1}: {name:<9} {sample:<9} {times[name, sample][-1]:.1f} s", flush=True)
    print(f"load average after: {load()}")
    median = {run: statistics.median(found) for run, found in times.items()}
    for sample in SAMPLES:
        relsafe, scripted = median["relsafe", sample], median["uv script", sample]
        print(
            f"{sample}: relsafe {relsafe:.1f} s, uv script {scripted:.1f} s, "
            f"relsafe / uv script {relsafe / scripted:.2f}x (goal <= {GOALS[sample]}x)"
        )
    if arguments.by_hand:
        manual = median["by hand", "sample"]
        print(f"sample by hand: {manual:.1f} s, relsafe / by hand {median['relsafe', 'sample'] / manual:.2f}x")


if __name__ == "__main__":
    main()
