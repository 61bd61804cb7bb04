"""Throughput and memory of the secret scan on a large wheel.

    .venv/bin/python benchmarks/scan_throughput.py [--size-mb 200]

Builds a wheel of about --size-mb MB in a temp folder (three quarters random,
incompressible bytes, one quarter Python-like text, one fake GitHub token),
then scans it --runs times in a fresh child process, so that the peak RSS it
reports belongs to the scans alone and not to building the wheel (Linux: it
reads /proc/self/status). The target is at least 150 MB/s and memory that
stays flat whatever the size; compare --size-mb 50 with the default to see it.

Throughput is given per second of wall clock and per second of CPU time (both
threads of the scan): on a shared, loaded machine only the second compares
runs. --wheel scans a wheel already built (--keep keeps the one built).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import string
import subprocess
import sys
import tempfile
import time
import tracemalloc
import zipfile
from pathlib import Path

from relsafe.security.artifact_scan import SecretFinding, scan_distribution

MIB = 1 << 20
BLOB_MIB = 8
TEXT_MIB = 4


def text_block(size: int) -> bytes:
    """Source-like lines, with the near misses (gh, AKIA, pypi-) a real package has."""
    words = ["def", "return", "self", "high", "through", "AKIA", "pypi-package", "github.com", "-----", "x"]
    lines: list[str] = []
    length = 0
    while length < size:
        line = "    " + " ".join(random.choices(words, k=8)) + f"  # {random.randrange(10**6)}\n"
        lines.append(line)
        length += len(line)
    return "".join(lines).encode()[:size]


def build_wheel(path: Path, size_mb: int) -> None:
    """Text first (it compresses), then random blobs until the file reaches size_mb."""
    token = ("ghp_" + "".join(random.choices(string.ascii_letters + string.digits, k=36))).encode()
    block = text_block(TEXT_MIB * MIB)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as wheel:
        wheel.writestr("bench-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: bench\nVersion: 1.0\n")
        for index in range(max(1, size_mb // 4 // TEXT_MIB)):
            planted = block[: MIB // 2] + b"\nTOKEN = '" + token + b"'\n" + block[MIB // 2 :]
            wheel.writestr(f"bench/module{index}.py", planted if index == 0 else block)
        index = 0
        while path.stat().st_size < (size_mb - BLOB_MIB) * 1e6:
            with wheel.open(f"bench/_data/blob{index}.bin", "w") as member:
                for _ in range(BLOB_MIB):
                    member.write(os.urandom(MIB))
            index += 1


def memory_mib(field: str) -> float:
    """VmRSS (resident now) or VmHWM (peak resident) of this process, from /proc."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise LookupError(field)


def measure(path: Path, runs: int) -> dict[str, float | list[float] | list[str]]:
    """Run in the child: time the scans, then trace Python allocations during one more."""
    with zipfile.ZipFile(path) as wheel:
        scanned = sum(info.file_size for info in wheel.infolist())
    Path("/proc/self/clear_refs").write_text("5")  # restart the peak (VmHWM) from the current RSS
    rss_before = memory_mib("VmRSS")
    seconds: list[float] = []
    cpu_seconds: list[float] = []
    findings: list[SecretFinding] = []
    for _ in range(runs):
        started, cpu = time.perf_counter(), time.process_time()
        findings = scan_distribution(path)
        seconds.append(time.perf_counter() - started)
        cpu_seconds.append(time.process_time() - cpu)
    peak = memory_mib("VmHWM")
    tracemalloc.start()
    scan_distribution(path)
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "file_mb": path.stat().st_size / 1e6,
        "scanned_mb": scanned / 1e6,
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "rss_before_mib": rss_before,
        "rss_peak_mib": peak,
        "traced_peak_mib": traced_peak / MIB,
        "findings": [str(finding) for finding in findings],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5, help="scans to time (default 5)")
    parser.add_argument("--wheel", type=Path, help="scan this wheel instead of building one")
    parser.add_argument("--keep", type=Path, help="build the wheel at this path and keep it")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.runs)))
        return
    with tempfile.TemporaryDirectory() as folder:
        wheel = args.wheel or args.keep or Path(folder) / "bench-1.0-py3-none-any.whl"
        if not args.wheel:
            started = time.perf_counter()
            build_wheel(wheel, args.size_mb)
            seconds = time.perf_counter() - started
            print(f"built {wheel.name}: {wheel.stat().st_size / 1e6:.0f} MB in {seconds:.1f} s")
        child = subprocess.run(
            [sys.executable, __file__, "--measure", str(wheel), "--runs", str(args.runs)],
            capture_output=True,
            text=True,
            check=True,
        )
    result = json.loads(child.stdout)
    times = sorted(result["seconds"])
    median, best = times[len(times) // 2], times[0]
    scanned, size = result["scanned_mb"], result["file_mb"]
    print(f"scanned {scanned:.0f} MB uncompressed, {len(times)} runs")
    for label, taken in (("median", median), ("best  ", best)):
        print(f"throughput, {label}: {scanned / taken:.0f} MB/s uncompressed, {size / taken:.0f} MB/s of wheel")
    cpu = sorted(result["cpu_seconds"])[len(times) // 2]
    print(f"per CPU second (median): {scanned / cpu:.0f} MB/s uncompressed, {size / cpu:.0f} MB/s of wheel")
    before, peak = result["rss_before_mib"], result["rss_peak_mib"]
    print(f"RSS: {before:.1f} MiB before the scans, peak {peak:.1f} MiB during them (+{peak - before:.1f})")
    print(f"peak Python allocations during a scan (tracemalloc): {result['traced_peak_mib']:.1f} MiB")
    print("findings:", *result["findings"], sep="\n  ")


if __name__ == "__main__":
    main()
