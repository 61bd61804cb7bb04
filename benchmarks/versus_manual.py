"""A full staged release by relsafe against the same work done by hand, and scripted by an expert with uv.

Each round makes three fresh copies of one sample package (each with its own
bare remote and local index) and times, in an order that rotates each round,
`relsafe release minor`; the by-hand sequence (bump-my-version, python -m
build, python -m venv + pip install + pytest, twine upload, a fresh venv
installing back from the index + pytest, git tag + push); and the fastest
script an expert would write with uv (the same bump and commit, uv build,
uv venv + uv pip + pytest, uv publish, a second uv venv installing back from
the index + pytest, git tag + push). Prints the medians and the ratios
relsafe/uv script (goal <= 1.0) and relsafe/by hand (goal <= 0.35).

Run: .venv/bin/python benchmarks/versus_manual.py [--rounds N] [--relsafe PATH]
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
from pathlib import Path

import uv

from relsafe.app.sample import create_sample
from relsafe.tools.localindex import OPEN_INDEX_LOGIN, LocalIndex

BIN = Path(sys.executable).parent
UV = uv.find_uv_bin()
KINDS = ("relsafe", "by hand", "uv script")


def sh(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> None:
    subprocess.run(command, cwd=cwd, check=True, capture_output=True, env=env)


def bump_and_commit(root: Path, module: str) -> None:
    """The version bump both the by-hand sequence and the uv script start with."""
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


def tag_and_push(root: Path) -> None:
    sh(["git", "tag", "-a", "v0.2.0", "-m", "Release 0.2.0"], root)
    sh(["git", "push", "--atomic", "origin", "main", "v0.2.0"], root)


def tests_in_venv(root: Path, scratch: Path, n: str) -> None:
    """Run the sample's tests with venv v{n}'s interpreter, from a copy outside the source tree (t{n})."""
    shutil.copytree(root / "tests", scratch / f"t{n}" / "tests")
    sh([str(scratch / f"v{n}/bin/python"), "-m", "pytest", "-q"], scratch / f"t{n}")


def by_hand(root: Path, index: LocalIndex, module: str) -> None:
    """What a careful maintainer types, in order, without relsafe."""
    bump_and_commit(root, module)
    sh([sys.executable, "-m", "build"], root)
    scratch = Path(tempfile.mkdtemp(prefix="by-hand-"))
    try:
        sh([sys.executable, "-m", "venv", str(scratch / "v1")], root)
        wheel = next((root / "dist").glob("*.whl"))
        sh([str(scratch / "v1/bin/pip"), "install", "-q", str(wheel), "pytest"], root)
        tests_in_venv(root, scratch, "1")
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
        tests_in_venv(root, scratch, "2")
        tag_and_push(root)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def uv_script(root: Path, index: LocalIndex, module: str) -> None:
    """The fastest script an expert writes with uv: the same work, with uv's cache and installer, and fewer checks."""
    bump_and_commit(root, module)
    sh([UV, "build", "-q"], root)
    scratch = Path(tempfile.mkdtemp(prefix="uv-script-"))
    try:
        wheel = next((root / "dist").glob("*.whl"))
        sh([UV, "venv", "-q", str(scratch / "v1")], root)
        sh([UV, "pip", "install", "-q", "--python", str(scratch / "v1/bin/python"), str(wheel), "pytest"], root)
        tests_in_venv(root, scratch, "1")
        username, password = OPEN_INDEX_LOGIN
        env = {**os.environ, "UV_PUBLISH_USERNAME": username, "UV_PUBLISH_PASSWORD": password}
        sh([UV, "publish", "-q", "--publish-url", index.upload_url], root, env)
        sh([UV, "venv", "-q", str(scratch / "v2")], root)
        sh(
            [
                UV,
                "pip",
                "install",
                "-q",
                "--python",
                str(scratch / "v2/bin/python"),
                "--extra-index-url",
                index.index_url,
                "relsafe-sample==0.2.0",
                "pytest",
            ],
            root,
        )
        tests_in_venv(root, scratch, "2")
        tag_and_push(root)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def with_relsafe(root: Path, relsafe: Path) -> None:
    sh([str(relsafe), "release", "minor"], root)


def one_round(kind: str, relsafe: Path = BIN / "relsafe") -> float:
    with (
        tempfile.TemporaryDirectory(prefix=f"bench-{kind}-") as folder,
        LocalIndex(Path(folder) / "ix") as index,
    ):
        sample = create_sample(Path(folder), index=(index.upload_url, index.index_url))
        started = time.perf_counter()
        if kind == "relsafe":
            with_relsafe(sample.root, relsafe)
        elif kind == "by hand":
            by_hand(sample.root, index, sample.module)
        else:
            uv_script(sample.root, index, sample.module)
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--relsafe", type=Path, default=BIN / "relsafe", help="the relsafe executable to time")
    arguments = parser.parse_args()
    rounds, relsafe_path = arguments.rounds, arguments.relsafe.absolute()
    times: dict[str, list[float]] = {kind: [] for kind in KINDS}
    for number in range(rounds):
        shift = number % len(KINDS)  # each kind goes first, second and third in turn
        for kind in KINDS[shift:] + KINDS[:shift]:
            times[kind].append(one_round(kind, relsafe_path))
            print(f"round {number + 1}: {kind:<9} {times[kind][-1]:.1f} s", flush=True)
    relsafe, manual, scripted = (statistics.median(times[kind]) for kind in KINDS)
    print(f"median: relsafe {relsafe:.1f} s, by hand {manual:.1f} s, uv script {scripted:.1f} s")
    print(f"relsafe / uv script: {relsafe / scripted:.2f}x (goal <= 1.0x)")
    print(f"relsafe / by hand:   {relsafe / manual:.2f}x (goal <= 0.35x)")


if __name__ == "__main__":
    main()
