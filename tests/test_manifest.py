"""The manifest a release tag carries: written and read back, and checkable by sha256sum as documented."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

from relsafe.model import manifest
from tests.support.git import git

WHEEL, SDIST = "pkg-1.2.0-py3-none-any.whl", "pkg-1.2.0.tar.gz"


def test_a_manifest_reads_back_from_its_tag_message_with_a_signature_after_it() -> None:
    written = manifest.Manifest({SDIST: "b" * 64, WHEEL: "a" * 64}, "https://test.pypi.org/simple/")
    message = written.tag_message("1.2.0") + "-----BEGIN PGP SIGNATURE-----\nabc\n-----END PGP SIGNATURE-----\n"
    assert message.startswith("Release 1.2.0\n\nrelsafe-manifest: 1\n" + "a" * 64 + "  " + WHEEL + "\n")
    assert manifest.parse(message) == written


def test_a_rebuild_manifest_pins_the_build_requirements_after_the_files() -> None:
    pins = ("build==1.2.2", "hatchling==1.27.0", "packaging==24.2")
    written = manifest.Manifest({SDIST: "b" * 64, WHEEL: "a" * 64}, None, pins)
    lines = written.tag_message("1.2.0").splitlines()
    assert lines[-3:] == [f"build-requires: {pin}" for pin in pins]
    assert not any(line.startswith("staging-index") for line in lines)
    assert manifest.parse(written.tag_message("1.2.0")) == written


def test_the_manifest_names_the_commit_its_files_were_built_from() -> None:
    written = manifest.Manifest({WHEEL: "a" * 64}, "https://test.pypi.org/simple/", commit="c" * 40)
    assert written.lines()[2] == "commit: " + "c" * 40
    assert manifest.parse(written.tag_message("1.2.0")) == written
    with pytest.raises(ValueError, match="not a full commit id"):
        manifest.of_artifacts([{"name": WHEEL, "sha256": "a" * 64}], None, commit="c" * 12)


@pytest.mark.parametrize(
    ("message", "error"),
    [
        ("Release 1\n\nrelsafe-manifest: 1\n", "names no file"),
        (f"Release 1\n\nrelsafe-manifest: 1\n{'a' * 64}  {WHEEL}\ncommit: abc123\n", "not one full commit id"),
        (
            f"Release 1\n\nrelsafe-manifest: 1\n{'a' * 64}  {WHEEL}\ncommit: {'c' * 40}\ncommit: {'d' * 40}\n",
            "not one full commit id",
        ),
        (f"Release 1\n\nrelsafe-manifest: 1\n{'a' * 64}  {WHEEL}\nbuild-requires: --index-url=x\n", "name==version"),
        (f"Release 1\n\nrelsafe-manifest: 1\n{'a' * 64}  {WHEEL}\nbuild-requires: hatchling>=1\n", "name==version"),
        (f"Release 1\n\nrelsafe-manifest: 1\n{'a' * 64}  {WHEEL}\n{'b' * 64}  {WHEEL}\n", "twice"),
    ],
)
def test_a_manifest_that_cannot_be_trusted_whole_is_refused(message: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        manifest.parse(message)


def test_a_message_without_the_marker_has_no_manifest() -> None:
    assert manifest.parse("Release 1.2.0\n") is None
    assert manifest.parse(f"Release\n\n{'a' * 64}  {WHEEL}\n") is None


def test_the_documented_shell_snippet_checks_the_files_with_sha256sum(tmp_path: Path) -> None:
    (tmp_path / WHEEL).write_bytes(b"wheel bytes")
    (tmp_path / SDIST).write_bytes(b"sdist bytes")
    files = {name: hashlib.sha256((tmp_path / name).read_bytes()).hexdigest() for name in (WHEEL, SDIST)}
    git(tmp_path, "init", "-q")
    git(tmp_path, "-c", "user.name=x", "-c", "user.email=x@x.invalid", "commit", "-q", "--allow-empty", "-m", "c")
    message = manifest.Manifest(files, "https://test.pypi.org/simple/").tag_message("1.2.0")
    git(tmp_path, "-c", "user.name=x", "-c", "user.email=x@x.invalid", "tag", "-a", "v1.2.0", "-m", message)
    snippet = "git cat-file tag v1.2.0 | sed -n '/^relsafe-manifest: 1$/,$p' | grep -E '^[0-9a-f]{64}  ' | sha256sum -c"
    checked = subprocess.run(["bash", "-o", "pipefail", "-c", snippet], cwd=tmp_path, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    (tmp_path / WHEEL).write_bytes(b"other bytes")
    assert subprocess.run(["bash", "-o", "pipefail", "-c", snippet], cwd=tmp_path, capture_output=True).returncode != 0
