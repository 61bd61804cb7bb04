"""Stage and verify-stage times of a real release of the sample package against a local pypiserver.

Run: .venv/bin/python benchmarks/staging.py [--runs N]

Each run makes the sample (offline: the backend beside relsafe, unittest),
releases it with `relsafe release minor` against a fresh local index, once
with open uploads and once with an index that requires a login (given as
TWINE_USERNAME/TWINE_PASSWORD), and reads the steps' `seconds` from
`relsafe status --json`. Prints the median of each, and the whole release's.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from relsafe.app.sample import create_sample
from relsafe.tools.localindex import LocalIndex

RELSAFE = str(Path(sys.executable).parent / "relsafe")
STEPS = ("stage", "verify-stage")
LOGIN = ("__token__", "pypi-AgEIcHlwaS5vcmc" + "QmVuY2htYXJrT25seVRva2VuTm90UmVhbEJlbmNobWFya09ubHlUb2tlbk5vdA")


def release_once(login: bool) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RELSAFE_", "TWINE_"))}
    username, password = LOGIN if login else (None, None)
    if login:
        env.update(TWINE_USERNAME=LOGIN[0], TWINE_PASSWORD=LOGIN[1])
    with (
        tempfile.TemporaryDirectory(prefix="relsafe-staging-") as folder,
        LocalIndex(Path(folder) / "index", username=username, password=password) as index,
    ):
        sample = create_sample(Path(folder), index=(index.upload_url, index.index_url), offline=True)
        started = time.perf_counter()
        subprocess.run([RELSAFE, "release", "minor"], cwd=sample.root, env=env, check=True, capture_output=True)
        total = time.perf_counter() - started
        status = json.loads(
            subprocess.run(
                [RELSAFE, "status", "--json"], cwd=sample.root, env=env, check=True, capture_output=True
            ).stdout
        )
        staged = sorted(path.name for path in index.storage.iterdir())
    if len(staged) != 2:
        raise SystemExit(f"expected the wheel and the sdist on the index, found {staged}")
    return {"release": total, **{name: float(status["steps"][name]["seconds"]) for name in STEPS}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    runs = parser.parse_args().runs
    for login in (False, True):
        results = [release_once(login) for _ in range(runs)]
        what = "index with a login" if login else "open index"
        print(f"{what} (median of {runs}):")
        for key in (*STEPS, "release"):
            values = [result[key] for result in results]
            print(f"  {key:<13} {statistics.median(values):6.2f} s   (min {min(values):.2f}, max {max(values):.2f})")


if __name__ == "__main__":
    main()
