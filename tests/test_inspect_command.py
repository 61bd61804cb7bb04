"""`relsafe inspect FILE...`: the checks of built files that need no project, through the real CLI."""

from __future__ import annotations

import base64
import hashlib
import json
import random
import string
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from relsafe.app.sample import create_sample
from tests.support.cli import RunRelsafe


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The sample package's wheel and sdist, built as a maintainer would, with the backend beside relsafe."""
    base = tmp_path_factory.mktemp("inspect")
    sample = create_sample(base)
    out = base / "dist"
    subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(sample.root)],
        check=True,
        capture_output=True,
    )
    return {path.suffix: path for path in out.iterdir()}


def planted_token() -> str:
    return "ghp_" + "".join(random.choices(string.ascii_letters + string.digits, k=36))


def repack(source: Path, folder: Path, added: dict[str, bytes]) -> Path:
    """A copy of a wheel with members added and listed in its RECORD, as a backend would have written them."""
    wheel = folder / source.name
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as copied:
        for entry in original.infolist():
            data = original.read(entry)
            if entry.filename.endswith(".dist-info/RECORD"):
                lines = [f"{name},{record_hash(content)},{len(content)}\n" for name, content in added.items()]
                data += "".join(lines).encode()
            copied.writestr(entry, data)
        for name, content in added.items():
            copied.writestr(name, content)
    return wheel


def record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def test_clean_files_pass(built: dict[str, Path], tmp_path: Path, run_relsafe: RunRelsafe) -> None:
    done = run_relsafe("inspect", *map(str, built.values()), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().splitlines()[-1].startswith("clean: 2 file(s)")


def test_a_secret_is_one_line_naming_file_member_and_rule_never_the_token(
    built: dict[str, Path], tmp_path: Path, run_relsafe: RunRelsafe
) -> None:
    token = planted_token()
    wheel = repack(built[".whl"], tmp_path, {"relsafe_sample/settings.py": f"TOKEN = {token!r}\n".encode()})

    found = run_relsafe("inspect", str(wheel), cwd=tmp_path)
    allowed = run_relsafe("inspect", str(wheel), "--allow", "relsafe_sample/settings.py", cwd=tmp_path)
    as_json = run_relsafe("inspect", str(wheel), "--format", "json", cwd=tmp_path)

    assert found.returncode == 4, found.stdout + found.stderr
    assert f"{wheel.name}: relsafe_sample/settings.py: secret: GitHub token" in found.stdout
    assert token not in found.stdout + found.stderr + as_json.stdout
    assert allowed.returncode == 0, allowed.stdout
    report = json.loads(as_json.stdout)
    assert as_json.returncode == 4 and report["clean"] is False and report["files"] == [wheel.name]
    assert report["findings"] == [
        {"file": wheel.name, "member": "relsafe_sample/settings.py", "check": "secret", "message": "GitHub token"}
    ]


def test_broken_metadata_and_layout_are_findings(
    built: dict[str, Path], tmp_path: Path, run_relsafe: RunRelsafe
) -> None:
    source = built[".whl"]
    wheel = tmp_path / source.name
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(wheel, "w") as broken:
        for entry in original.infolist():
            data = original.read(entry)
            if entry.filename.endswith("METADATA"):
                data = data.replace(b"Version: 0.1.0", b"Version: 9.9.9")
            broken.writestr(entry, data)
        broken.writestr("tests/__init__.py", b"")

    found = run_relsafe("inspect", str(wheel), cwd=tmp_path)

    assert found.returncode == 4, found.stdout + found.stderr
    assert f"{wheel.name}: -: version: {wheel.name}: METADATA says version 9.9.9" in found.stdout
    assert f"{wheel.name}: -: layout: {wheel.name} installs a top-level 'tests'" in found.stdout


@pytest.mark.parametrize("shape", ["missing", "folder", "other extension", "corrupt wheel", "corrupt sdist", "none"])
def test_bad_arguments_are_one_line_and_exit_2(shape: str, tmp_path: Path, run_relsafe: RunRelsafe) -> None:
    paths = {
        "missing": tmp_path / "gone-1.0-py3-none-any.whl",
        "folder": tmp_path,
        "other extension": tmp_path / "notes.txt",
        "corrupt wheel": tmp_path / "pkg-1.0-py3-none-any.whl",
        "corrupt sdist": tmp_path / "pkg-1.0.tar.gz",
    }
    for name in ("other extension", "corrupt wheel", "corrupt sdist"):
        paths[name].write_bytes(b"not an archive")
    args = [str(paths[shape])] if shape in paths else []

    refused = run_relsafe("inspect", *args, cwd=tmp_path)

    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "argument FILE:" in refused.stderr and "Traceback" not in refused.stderr
    assert len([line for line in refused.stderr.splitlines() if line.startswith("error:")]) == 1
