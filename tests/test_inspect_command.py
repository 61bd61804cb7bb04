"""`relsafe inspect FILE...`: the checks of built files that need no project, through the real CLI."""

from __future__ import annotations

import json
import random
import string
from pathlib import Path

import pytest

from relsafe.app.sample import create_sample
from tests.support.cli import RunRelsafe
from tests.support.projects import build
from tests.support.wheels import repack, wheel_files


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The sample package's wheel and sdist, built as a maintainer would, with the backend beside relsafe."""
    base = tmp_path_factory.mktemp("inspect")
    sample = create_sample(base)
    return {path.suffix: path for path in build(sample.root, out=base / "dist")}


def planted_token() -> str:
    return "ghp_" + "".join(random.choices(string.ascii_letters + string.digits, k=36))


def test_clean_files_pass(built: dict[str, Path], tmp_path: Path, run_relsafe: RunRelsafe) -> None:
    done = run_relsafe("inspect", *map(str, built.values()), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().splitlines()[-1].startswith("clean: 2 file(s)")


def test_a_secret_is_one_line_naming_file_member_and_rule_never_the_token(
    built: dict[str, Path], tmp_path: Path, run_relsafe: RunRelsafe
) -> None:
    token = planted_token()
    source = built[".whl"]
    wheel = repack(source, tmp_path / source.name, {"relsafe_sample/settings.py": f"TOKEN = {token!r}\n".encode()})

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
    members = wheel_files(source)
    metadata = next(name for name in members if name.endswith("METADATA"))
    changes = {metadata: members[metadata].replace(b"Version: 0.1.0", b"Version: 9.9.9"), "tests/__init__.py": b""}
    wheel = repack(source, tmp_path / source.name, changes, record=False)  # as it was edited, not as built

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
