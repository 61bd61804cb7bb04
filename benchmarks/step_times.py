"""Where a full release of the sample package spends its time, and `relsafe demo`'s wall time.

Run: .venv/bin/python benchmarks/step_times.py [--runs N] [--no-uv] [--profile] [--relsafe PATH]

For N releases (`relsafe release minor` of a fresh sample against a local
index) it prints the median whole-pipeline time and each step's median
seconds from `relsafe status --json`, then the critical path: when each step
started and ended (read from relsafe's plain progress lines as they arrive),
which steps overlap, the sum of the step times against the release's wall
time, and the time spent outside any step (start-up, between steps, exit).
Then the median `relsafe demo` time.

--no-uv also measures everything with RELSAFE_NO_UV=1 (the pure-pip path) and
prints both. --profile adds one more release, run through
subprocess_profile.py, and lists every subprocess relsafe started: when,
for how long, and for which step. --relsafe times another installation
(--profile always uses the relsafe beside this interpreter).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path

from relsafe.app.sample import create_sample
from relsafe.steps.table import STEPS
from relsafe.tools.localindex import LocalIndex

BIN = Path(sys.executable).parent
PROFILER = Path(__file__).with_name("subprocess_profile.py")
FINISHED = re.compile(r"^\S (?P<title>.+) \[(?P<status>[\w-]+), [\d.]+s\]")


def _step_names() -> dict[str, str]:
    """Step title -> step name, as the plain progress lines show titles."""
    names = {}
    for row in STEPS:
        module, _, attribute = row.implementation.partition(":")
        names[getattr(import_module(module), attribute).title] = row.name
    return names


TITLES = _step_names()


@dataclass
class Release:
    wall: float  # from starting relsafe to its exit
    seconds: dict[str, float]  # each step's own time, from the journal
    spans: dict[str, tuple[float, float]]  # each step's start and end, seconds after relsafe started


def _environment(no_uv: bool) -> dict[str, str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("RELSAFE_NO_UV", None)
    return env | {"RELSAFE_NO_UV": "1"} if no_uv else env


def _timed_release(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, dict[str, list[float]]]:
    """Run a release, stamping each plain progress line as it arrives: (epoch start, wall, title -> [start, end])."""
    marks: dict[str, list[float]] = {}
    started = time.time()
    output = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT, "text": True}
    with subprocess.Popen(command, cwd=cwd, env=env, **output) as run:
        assert run.stdout is not None
        for line in run.stdout:
            now = time.time() - started
            if line.startswith("… "):
                marks.setdefault(line[2:].strip(), []).append(now)
            elif finished := FINISHED.match(line):
                marks.setdefault(finished["title"], [now]).append(now)
    wall = time.time() - started
    if run.returncode != 0:
        raise SystemExit(f"{shlex.join(command)} failed (exit {run.returncode}) in {cwd}")
    return started, wall, marks


def release_once(relsafe: str, no_uv: bool, profile: Path | None = None) -> tuple[Release, float, Path | None]:
    """One release of a fresh sample; with `profile`, run through the subprocess profiler into that file.
    Returns the release, its epoch start, and the sample's root (gone once this returns)."""
    env = _environment(no_uv)
    with tempfile.TemporaryDirectory(prefix="relsafe-steps-") as folder, LocalIndex(Path(folder) / "ix") as index:
        sample = create_sample(Path(folder), index=(index.upload_url, index.index_url))
        command = [sys.executable, str(PROFILER), str(profile)] if profile else [relsafe]
        started, wall, marks = _timed_release([*command, "release", "minor"], sample.root, env)
        status = json.loads(
            subprocess.run([relsafe, "status", "--json"], cwd=sample.root, check=True, capture_output=True).stdout
        )
        seconds = {name: status["steps"][name]["seconds"] for name in status["order"]}
        spans = {TITLES.get(title, title): (times[0], times[-1]) for title, times in marks.items()}
        return Release(wall, seconds, spans), started, sample.root


def demo_once(relsafe: str, no_uv: bool) -> float:
    started = time.perf_counter()
    subprocess.run([relsafe, "demo"], check=True, capture_output=True, env=_environment(no_uv))
    return time.perf_counter() - started


def _union(spans: list[tuple[float, float]]) -> float:
    covered, reach = 0.0, float("-inf")
    for start, end in sorted(spans):
        if end > reach:
            covered += end - max(start, reach)
            reach = end
    return covered


def critical_path(releases: list[Release]) -> list[str]:
    """Medians of each step's start and end, who overlaps whom, and the time in no step at all."""
    lines = [f"  {'step':<14} {'start':>6} {'end':>6} {'wall':>6}  overlaps"]
    for name in releases[0].spans:
        start = statistics.median(release.spans[name][0] for release in releases)
        end = statistics.median(release.spans[name][1] for release in releases)
        beside = [
            other
            for other, (other_start, other_end) in releases[0].spans.items()
            if other != name and other_start < releases[0].spans[name][1] and releases[0].spans[name][0] < other_end
        ]
        lines.append(f"  {name:<14} {start:6.2f} {end:6.2f} {end - start:6.2f}  {', '.join(beside)}")
    wall = statistics.median(release.wall for release in releases)
    summed = statistics.median(sum(release.seconds.values()) for release in releases)
    in_steps = statistics.median(_union(list(release.spans.values())) for release in releases)
    before = [min(span[0] for span in release.spans.values()) for release in releases]
    after = [release.wall - max(span[1] for span in release.spans.values()) for release in releases]
    between = [
        release.wall - _union(list(release.spans.values())) - first - last
        for release, first, last in zip(releases, before, after, strict=True)
    ]
    lines += [
        f"  wall {wall:.2f} s; sum of step times {summed:.2f} s; some step running {in_steps:.2f} s",
        f"  outside any step {wall - in_steps:.2f} s: before the first {statistics.median(before):.2f} s, "
        f"after the last {statistics.median(after):.2f} s, between steps {statistics.median(between):.2f} s",
    ]
    return lines


def measure(relsafe: str, runs: int, no_uv: bool) -> None:
    print("== without uv (RELSAFE_NO_UV=1) ==" if no_uv else "== with uv ==", flush=True)
    releases = [release_once(relsafe, no_uv)[0] for _ in range(runs)]
    wall = statistics.median(release.wall for release in releases)
    print(f"release minor, whole pipeline: {wall:.2f} s (median of {runs})")
    for name in releases[0].seconds:
        print(f"  {name:<14} {statistics.median(release.seconds[name] for release in releases):6.2f} s")
    print("critical path (seconds after relsafe started, medians):")
    print("\n".join(critical_path(releases)))
    demo = statistics.median(demo_once(relsafe, no_uv) for _ in range(runs))
    print(f"relsafe demo (offline, whole pipeline): {demo:.2f} s (median of {runs}, target < 60 s)", flush=True)


def _shown(argv: list[str], root: Path) -> str:
    text = shlex.join(argv).replace(str(root / ".git" / "relsafe"), "$J").replace(str(root), "$REPO")
    text = text.replace(str(BIN) + "/", "").replace(tempfile.gettempdir() + "/", "$TMP/")
    text = " ".join(text.split())
    return text if len(text) <= 150 else text[:147] + "..."


def profile(no_uv: bool) -> None:
    """Every subprocess of one release, in start order, with its step; then the seconds per step."""
    with tempfile.TemporaryDirectory(prefix="relsafe-profile-") as folder:
        out = Path(folder) / "profile.jsonl"
        release, started, root = release_once(str(BIN / "relsafe"), no_uv, out)
        records = sorted((json.loads(line) for line in out.read_text().splitlines()), key=lambda r: r["started"])
    label = "without uv" if no_uv else "with uv"
    print(f"[{label}] every subprocess of one `relsafe release minor` ({len(records)}; wall {release.wall:.2f} s):")
    print(f"  {'start':>6} {'secs':>5}  {'step: function':<40} command  ($J: .git/relsafe, $REPO: the sample)")
    per_step: dict[str, list[float]] = {}
    for record in records:
        seconds = record["ended"] - record["started"]
        per_step.setdefault(record["step"], []).append(seconds)
        shown = _shown(record["argv"], root) if root else shlex.join(record["argv"])
        print(f"  {record['started'] - started:6.2f} {seconds:5.2f}  {record['step']:<40} {shown}")
    print(f"[{label}] subprocess seconds by step: function (count, sum, longest):")
    for step, times in sorted(per_step.items(), key=lambda item: -sum(item[1])):
        print(f"  {step:<40} {len(times):3d} {sum(times):6.2f} s {max(times):6.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-uv", action="store_true", help="also measure with RELSAFE_NO_UV=1, print both")
    parser.add_argument("--profile", action="store_true", help="list every subprocess of one release")
    parser.add_argument("--relsafe", type=Path, default=BIN / "relsafe", help="the relsafe executable to time")
    arguments = parser.parse_args()
    relsafe = str(arguments.relsafe.absolute())
    modes = (False, True) if arguments.no_uv else (False,)
    for no_uv in modes:
        measure(relsafe, arguments.runs, no_uv)
    if arguments.profile:
        for no_uv in modes:
            profile(no_uv)


if __name__ == "__main__":
    main()
