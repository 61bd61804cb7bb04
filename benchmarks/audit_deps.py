"""What the audit-deps step adds to a release: on the sample (no dependency) and on a sample with a dozen real ones.

Run: .venv/bin/python benchmarks/audit_deps.py [--runs N]

For each sample it makes N releases (`relsafe release minor`, staged on a local index) with audit-deps and N
with it left out of [release] steps, alternating, and prints the median whole-release wall time of each and
their difference, the median seconds the step itself took (`relsafe status --json`), and pip-audit's own run
time (the run log). The dozen dependencies are pure-Python packages installed beside relsafe (rich, tomlkit,
filelock, platformdirs, pathspec, wheel, packaging, pluggy, iniconfig and what they require: 12 in all),
repacked into a loopback index as the tests' session index is; the advisories come from the tests' loopback
OSV service with real PyPA records. Nothing leaves the machine, so the figures hold no internet round trip:
against OSV's public service each package adds one query's round trip, asked one after another.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.support: the loopback index and OSV

from tests.support.loopback import LOOPBACK_PACKAGES
from tests.support.osv_service import OsvService
from tests.support.wheelhouse import closure_wheelhouse

from relsafe.app.sample import SampleProject, create_sample
from relsafe.steps.table import DEFAULT_STEPS
from relsafe.tools.localindex import LocalIndex

RELSAFE = str(Path(sys.executable).parent / "relsafe")
DOZEN = ("rich", "tomlkit", "filelock", "platformdirs", "pathspec", "wheel", "packaging", "pluggy", "iniconfig")
PIP_AUDIT_EXIT = re.compile(r"= exit \d+ after ([\d.]+) s: pip-audit")


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def prepare(sample: SampleProject, dependencies: tuple[str, ...], osv_url: str, production: str, audit: bool) -> None:
    pyproject = sample.root / "pyproject.toml"
    if dependencies:
        listed = ", ".join(f'"{name}"' for name in dependencies)
        text = pyproject.read_text(encoding="utf-8")
        marker = 'requires-python = ">=3.10"'
        pyproject.write_text(text.replace(marker, f"{marker}\ndependencies = [{listed}]"), encoding="utf-8")
    release = sample.root / "release.toml"
    text = re.sub(r'(\[production\]\s*index-url = )"[^"]*"', rf'\1"{production}"', release.read_text(encoding="utf-8"))
    steps = [step for step in DEFAULT_STEPS if audit or step != "audit-deps"]
    text = "[release]\nsteps = [" + ", ".join(f'"{step}"' for step in steps) + "]\n\n" + text
    release.write_text(text + f'\n[audit-deps]\nosv-url = "{osv_url}"\n', encoding="utf-8")
    git(sample.root, "commit", "-qam", "benchmark settings")
    git(sample.root, "push", "-q", "origin", "main")


def release_once(dependencies: tuple[str, ...], audit: bool, osv: OsvService, index: LocalIndex) -> dict[str, float]:
    env = {**os.environ, "PIP_INDEX_URL": index.index_url, "UV_INDEX_URL": index.index_url}
    env["PIP_CONFIG_FILE"] = os.devnull
    with tempfile.TemporaryDirectory(prefix="relsafe-audit-bench-") as folder, LocalIndex(Path(folder) / "ix") as stage:
        sample = create_sample(Path(folder), index=(stage.upload_url, stage.index_url))
        prepare(sample, dependencies, osv.query_url, index.index_url, audit)
        started = time.perf_counter()
        done = subprocess.run([RELSAFE, "release", "minor"], cwd=sample.root, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"the release failed (exit {done.returncode}):\n{done.stdout}{done.stderr}")
        status = json.loads(
            subprocess.run(
                [RELSAFE, "status", "--json"], cwd=sample.root, env=env, check=True, capture_output=True, text=True
            ).stdout
        )
        logs = "".join(path.read_text() for path in (sample.root / ".git" / "relsafe" / "logs").glob("*.log"))
        found = PIP_AUDIT_EXIT.search(logs)
        return {
            "wall": wall,
            "step": status["steps"]["audit-deps"]["seconds"] if audit else 0.0,
            "pip_audit": float(found.group(1)) if found else 0.0,
            "audited": status["steps"]["audit-deps"]["outputs"]["audited"] if audit else 0,
        }


def measure(label: str, dependencies: tuple[str, ...], runs: int, osv: OsvService, index: LocalIndex) -> None:
    with_step: list[dict[str, float]] = []
    without: list[dict[str, float]] = []
    for _ in range(runs):  # alternating, so that a change in the machine's load falls on both
        with_step.append(release_once(dependencies, True, osv, index))
        without.append(release_once(dependencies, False, osv, index))
    wall_with = statistics.median(run["wall"] for run in with_step)
    wall_without = statistics.median(run["wall"] for run in without)
    print(f"{label}: {int(with_step[0]['audited'])} package(s) audited, median of {runs}")
    added = wall_with - wall_without
    print(f"  release with audit-deps {wall_with:6.2f} s, without {wall_without:6.2f} s: {added:+.2f} s")
    print(f"  the step itself         {statistics.median(run['step'] for run in with_step):6.2f} s")
    print(f"  of which pip-audit      {statistics.median(run['pip_audit'] for run in with_step):6.2f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="relsafe-audit-index-") as folder:
        closure_wheelhouse([*LOOPBACK_PACKAGES, *DOZEN], Path(folder))
        with LocalIndex(Path(folder)) as index, OsvService() as osv:
            measure("sample (no dependency)", (), arguments.runs, osv, index)
            measure("sample with a dozen dependencies", DOZEN, arguments.runs, osv, index)


if __name__ == "__main__":
    main()
