"""A full staged release by relsafe against the same work done by hand with the usual commands.

Each round makes two fresh copies of one sample package (each with its own
bare remote and local index) and times, alternately, `relsafe release minor`
and the by-hand sequence: bump-my-version, python -m build, python -m venv +
pip install + pytest, twine upload, a fresh venv installing back from the
index + pytest, git tag + push. Prints the medians and the ratio.

Run: .venv/bin/python benchmarks/versus_manual.py [--rounds N]
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
from pathlib import Path

from relsafe.sample import create_sample
from relsafe.tools.localindex import LocalIndex

BIN = Path(sys.executable).parent


def sh(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> None:
    subprocess.run(command, cwd=cwd, check=True, capture_output=True, env=env)


def by_hand(root: Path, index: LocalIndex, module: str) -> None:
    """What a careful maintainer types, in order, without relsafe."""
    sh(
        [
            str(BIN / "bump-my-version"),
            "bump",
            "--current-version",
            "0.1.0",
            "--no-commit",
            "--no-tag",
            "minor",
            "pyproject.toml",
            f"src/{module}/__init__.py",
        ],
        root,
    )
    sh(["git", "commit", "-qam", "Bump version: 0.1.0 → 0.2.0"], root)
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
        sh(
            [
                str(scratch / "v2/bin/pip"),
                "install",
                "-q",
                "--extra-index-url",
                index.index_url,
                "relsafe-sample==0.2.0",
                "pytest",
            ],
            root,
        )
        shutil.copytree(root / "tests", scratch / "t2" / "tests")
        sh([str(scratch / "v2/bin/python"), "-m", "pytest", "-q"], scratch / "t2")
        sh(["git", "tag", "-a", "v0.2.0", "-m", "Release 0.2.0"], root)
        sh(["git", "push", "--atomic", "origin", "main", "v0.2.0"], root)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def with_relsafe(root: Path) -> None:
    sh([str(BIN / "relsafe"), "release", "minor"], root)


def one_round(kind: str) -> float:
    with (
        tempfile.TemporaryDirectory(prefix=f"bench-{kind}-") as folder,
        LocalIndex(Path(folder) / "ix") as index,
    ):
        sample = create_sample(Path(folder), index=(index.upload_url, index.index_url))
        started = time.perf_counter()
        if kind == "relsafe":
            with_relsafe(sample.root)
        else:
            by_hand(sample.root, index, sample.module)
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    rounds = parser.parse_args().rounds
    times: dict[str, list[float]] = {"relsafe": [], "by hand": []}
    for number in range(rounds):
        for kind in ("relsafe", "by hand") if number % 2 == 0 else ("by hand", "relsafe"):
            times[kind].append(one_round(kind))
            print(f"round {number + 1}: {kind:<8} {times[kind][-1]:.1f} s", flush=True)
    relsafe, manual = statistics.median(times["relsafe"]), statistics.median(times["by hand"])
    print(
        f"median: relsafe {relsafe:.1f} s, by hand {manual:.1f} s, ratio {relsafe / manual:.2f}x "
        "(target <= 0.5x, aim 0.35x)"
    )


if __name__ == "__main__":
    main()
