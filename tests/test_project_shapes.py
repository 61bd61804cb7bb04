"""Every project shape releases end to end, staging included, with its own build backend.

hatchling; setuptools with pyproject.toml only, with setup.cfg and MANIFEST.in,
and with an `attr:` version; flit; and the SCM-versioned shapes (hatch-vcs,
setuptools-scm), where no file holds the version: the next version comes
from the last tag, the build is told it before the tag exists, and the tag
goes on the very commit that was built. Each test reads the result itself:
the index's storage, the built archives, and the repository and its remote
with plain git.
"""

from __future__ import annotations

import email
import hashlib
import subprocess
from pathlib import Path
from typing import Any

import pytest

from relsafe.app.sample import SampleProject
from relsafe.tools.localindex import LocalIndex
from tests.support.cli import RunRelsafe
from tests.support.git import git
from tests.support.sdists import sdist_files
from tests.support.shapes import INIT, MODULE, NAME, SHAPES, Shape, create_shape
from tests.support.wheels import wheel_files, wheel_metadata
from tests.support.world import commits_since, journal_dir, status_json

pytestmark = pytest.mark.slow

VERSION = "0.2.0"
SDIST = f"{MODULE}-{VERSION}.tar.gz"
WHEEL = f"{MODULE}-{VERSION}-py3-none-any.whl"
# what a build adds to an sdist beside the project's own files
GENERATED = ("PKG-INFO", ".egg-info/", "_version.py", "setup.cfg")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_at(sample: SampleProject, ref: str, path: str) -> bytes | None:
    done = subprocess.run(["git", "show", f"{ref}:{path}"], cwd=sample.root, capture_output=True, check=False)
    return done.stdout if done.returncode == 0 else None


def assert_built_from(sample: SampleProject, sdist: Path, ref: str) -> None:
    """Every project file in the sdist is byte for byte the file at `ref`: the tag names the commit that was built."""
    compared = []
    for path, content in sdist_files(sdist).items():
        if any(marker in path for marker in GENERATED):
            continue
        expected = file_at(sample, ref, path)
        assert expected is not None, f"{path} is in the sdist but not in {ref}"
        assert content == expected, f"{path} in the sdist differs from {ref}"
        compared.append(path)
    assert "pyproject.toml" in compared and INIT in compared, compared


def release(sample: SampleProject, run_relsafe: RunRelsafe) -> dict[str, Any]:
    proc = run_relsafe("release", "minor", cwd=sample.root)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert f"released {VERSION}" in proc.stdout
    assert "Traceback" not in output
    record = status_json(sample)
    assert record is not None and record["status"] == "done"
    return record


@pytest.mark.parametrize("shape", list(SHAPES.values()), ids=list(SHAPES))
def test_each_shape_releases_end_to_end_through_staging(
    shape: Shape, tmp_path: Path, local_index: LocalIndex, run_relsafe: RunRelsafe
) -> None:
    sample = create_shape(tmp_path, shape, local_index.upload_url, local_index.index_url)
    base = git(sample.root, "rev-parse", "HEAD")

    record = release(sample, run_relsafe)

    assert (record["from_version"], record["version"]) == ("0.1.0", VERSION)
    # exactly the wheel and the sdist went to staging, byte for byte the build
    artifacts = {a["name"]: a["sha256"] for a in record["steps"]["build"]["outputs"]["artifacts"]}
    assert sorted(artifacts) == sorted([SDIST, WHEEL])
    dist = journal_dir(sample) / "releases" / record["id"] / "dist"
    on_index = {path.name: sha256(path.read_bytes()) for path in local_index.storage.iterdir()}
    assert on_index == artifacts == {path.name: sha256(path.read_bytes()) for path in dist.iterdir()}
    assert sorted(record["steps"]["verify-stage"]["outputs"]["downloaded"]) == sorted(artifacts)
    # the files are the release version inside, not just by name
    metadata = wheel_metadata(dist / WHEEL)
    assert (metadata["Name"], metadata["Version"]) == (NAME, VERSION)
    sdist = sdist_files(dist / SDIST)
    assert email.message_from_bytes(sdist["PKG-INFO"])["Version"] == VERSION
    members = list(wheel_files(dist / WHEEL))
    assert f"{MODULE}/__init__.py" in members
    if shape.data_file:
        assert f"{MODULE}/greeting.txt" in members and f"src/{MODULE}/greeting.txt" in sdist

    tag = git(sample.root, "rev-parse", f"v{VERSION}^{{commit}}")
    if shape.scm:
        assert commits_since(sample, base) == [], "an SCM-versioned release changes no file and makes no commit"
        assert tag == base
        assert record["steps"]["bump"]["outputs"]["files"] == []
    else:
        assert commits_since(sample, base) == [tag], "one bump commit, tagged"
        assert git(sample.root, "rev-parse", f"{tag}^") == base
        changed = git(sample.root, "diff", "--name-only", base, tag).split()
        assert sorted(changed) == sorted(shape.version_files)
        for path in shape.version_files:
            assert VERSION in git(sample.root, "show", f"{tag}:{path}")
            assert "0.1.0" not in git(sample.root, "show", f"{tag}:{path}")
    assert_built_from(sample, dist / SDIST, f"v{VERSION}")
    assert git(sample.root, "cat-file", "-t", f"v{VERSION}") == "tag"
    assert git(sample.remote, "rev-parse", f"refs/tags/v{VERSION}^{{commit}}") == tag
    assert git(sample.remote, "rev-parse", "refs/heads/main") == git(sample.root, "rev-parse", "HEAD") == tag
    assert git(sample.root, "status", "--porcelain", "--untracked-files=all") == ""


@pytest.mark.parametrize("name", ["hatch-vcs", "setuptools-scm"])
def test_an_scm_versioned_build_is_told_the_release_version_before_the_tag_exists(
    name: str, tmp_path: Path, local_index: LocalIndex, run_relsafe: RunRelsafe
) -> None:
    sample = create_shape(tmp_path, SHAPES[name], local_index.upload_url, local_index.index_url)
    base = git(sample.root, "rev-parse", "HEAD")
    # HEAD is one commit past v0.1.0: left to itself the backend would build 0.1.1.dev1+g…
    assert git(sample.root, "describe", "--tags", "--match", "v*", "HEAD").startswith("v0.1.0-1-g")
    assert git(sample.root, "tag", "--points-at", base) == ""

    record = release(sample, run_relsafe)

    # the next version came from the highest release tag (v0.1.0 over v0.0.9; not-a-release ignored)
    assert record["from_version"] == "0.1.0"
    build, tag = record["steps"]["build"], record["steps"]["tag"]
    assert build["ended"] <= tag["started"], "built before the tag existed"
    names = [a["name"] for a in build["outputs"]["artifacts"]]
    assert sorted(names) == sorted([SDIST, WHEEL]), "exactly the release version: no .dev, no local +g… part"
    dist = journal_dir(sample) / "releases" / record["id"] / "dist"
    assert wheel_metadata(dist / WHEEL)["Version"] == VERSION
    assert git(sample.root, "tag", "--points-at", base).split() == [f"v{VERSION}"]
    # a second release goes on from the tag this one made
    (sample.root / "CHANGELOG.md").write_text("# Changes\n\n- more\n", encoding="utf-8")
    git(sample.root, "commit", "-qam", "More changes")
    git(sample.root, "push", "-q", "origin", "main")
    proc = run_relsafe("release", "patch", cwd=sample.root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "released 0.2.1" in proc.stdout
    assert git(sample.root, "rev-parse", "v0.2.1^{commit}") == git(sample.root, "rev-parse", "HEAD")
    assert sorted(p.name for p in local_index.storage.iterdir()) == sorted(
        [SDIST, WHEEL, f"{MODULE}-0.2.1.tar.gz", f"{MODULE}-0.2.1-py3-none-any.whl"]
    )


@pytest.mark.parametrize("name", ["setuptools-setup-cfg", "setuptools-scm"])
def test_a_build_leaves_the_working_tree_untouched_so_the_next_release_can_start(
    name: str, tmp_path: Path, local_index: LocalIndex, run_relsafe: RunRelsafe
) -> None:
    """setuptools writes *.egg-info, and setuptools-scm its version file, where it builds: never in the user's tree."""
    sample = create_shape(tmp_path, SHAPES[name], local_index.upload_url, local_index.index_url)
    (sample.root / ".gitignore").write_text("__pycache__/\n", encoding="utf-8")  # nothing about build byproducts
    git(sample.root, "commit", "-qam", "A minimal .gitignore")
    git(sample.root, "push", "-q", "origin", "main")

    release(sample, run_relsafe)

    assert git(sample.root, "status", "--porcelain", "--untracked-files=all", "--ignored") == ""
    assert git(sample.root, "worktree", "list", "--porcelain").count("worktree ") == 1, "no checkout left behind"
    again = run_relsafe("release", "patch", cwd=sample.root)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "released 0.2.1" in again.stdout
    assert git(sample.root, "status", "--porcelain", "--untracked-files=all", "--ignored") == ""
