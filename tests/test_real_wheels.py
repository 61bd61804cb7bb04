"""The secret scan on the most downloaded real wheels: no false alarm, only reviewed true findings.

On demand only (it downloads about 180 MB from PyPI, which CI cannot reach):

    RELSAFE_REAL_WHEELS=1 .venv/bin/python -m pytest -m slow -p no:cacheprovider -s tests/test_real_wheels.py

Set RELSAFE_REAL_WHEELS_DIR to keep the downloads between runs. The figures (wheels, MB unpacked,
findings, seconds) are printed for the record.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import pytest

from relsafe.security.artifact_scan import scan_distribution

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        os.environ.get("RELSAFE_REAL_WHEELS") != "1", reason="downloads from PyPI: RELSAFE_REAL_WHEELS=1"
    ),
]

PROJECTS = [
    "numpy", "scipy", "botocore", "awscli", "cryptography", "django", "boto3", "urllib3", "requests",
    "setuptools", "certifi", "charset-normalizer", "idna", "typing-extensions", "packaging", "pyyaml", "six",
    "s3transfer", "pandas", "protobuf", "pip", "attrs", "pydantic-core", "pydantic", "grpcio", "jmespath",
    "python-dateutil", "rsa", "pyasn1", "click", "markupsafe", "jinja2", "pyarrow", "google-api-core",
    "azure-core", "apache-airflow-providers-amazon",
]  # fmt: skip

REVIEWED = {
    # AWS's documentation shows presigned URLs with the access key id that signed them (X-Amz-Credential)
    ("awscli", "awscli/examples/ecr/get-download-url-for-layer.rst", "AWS access key"),
    ("awscli", "awscli/examples/ssm/get-deployable-patch-snapshot-for-instance.rst", "AWS access key"),
    # a complete RSA private key in the sample output of `aws iot create-provisioning-claim`
    ("awscli", "awscli/examples/iot/create-provisioning-claim.rst", "private key"),
    # numpy's wheel ships one compiled module (bytecode is a finding by name: it may hold removed code)
    ("numpy", "numpy/distutils/__pycache__/conv_template.cpython-311.pyc", ".pyc file"),
}
"""True findings, reviewed: what the files really hold, none of them a false reading."""


def _download(folder: Path) -> list[Path]:
    environment = {**os.environ, "PIP_CONFIG_FILE": os.devnull}
    environment.pop("PIP_FIND_LINKS", None)
    for project in PROJECTS:
        if any(folder.glob(f"{project.replace('-', '_')}-*.whl")):
            continue
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", "--python-version",
             "3.11", "--platform", "manylinux_2_17_x86_64", "--platform", "manylinux2014_x86_64", "--platform",
             "any", "-d", str(folder), project],
            check=True,
            env=environment,
        )  # fmt: skip
    return sorted(folder.glob("*.whl"))


def test_the_most_downloaded_wheels_raise_only_reviewed_findings() -> None:
    kept = os.environ.get("RELSAFE_REAL_WHEELS_DIR")
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(kept or temporary)
        folder.mkdir(parents=True, exist_ok=True)
        wheels = _download(folder)
        assert len(wheels) >= 20
        unpacked = 0
        found: set[tuple[str, str, str]] = set()
        started, cpu = time.monotonic(), time.process_time()
        for wheel in wheels:
            with zipfile.ZipFile(wheel) as archive:
                unpacked += sum(info.file_size for info in archive.infolist())
            project = wheel.name.split("-")[0].replace("_", "-").lower()
            found |= {(project, finding.member, finding.kind) for finding in scan_distribution(wheel)}
        seconds, cpu_seconds = time.monotonic() - started, time.process_time() - cpu
    print(
        f"\n{len(wheels)} wheels, {unpacked / 1e6:.0f} MB unpacked, {len(found)} findings "
        f"({len(found & REVIEWED)} reviewed true ones), {seconds:.1f} s, {cpu_seconds:.1f} CPU-s"
    )
    for finding in sorted(found):
        print("  ", *finding)
    assert found <= REVIEWED, f"unreviewed findings: {sorted(found - REVIEWED)}"
