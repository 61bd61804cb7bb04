"""Layouts that real projects have and relsafe once got wrong, each released for real or refused as documented.

A trailing comment and single quotes on the version line; a zero-padded
calendar version; poetry-core; setup.py alone; hatch-vcs with bare tags, with
old `v` tags beside newer bare ones, and with no tag at all; a package in a
monorepo folder. Each one goes through the whole pipeline, staging included,
to a local index and a bare remote, and the test reads what was written with
plain git and from the built archives.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from relsafe.app.sample import SampleProject
from relsafe.tools.localindex import LocalIndex
from tests.support.cli import RunRelsafe
from tests.support.git import git
from tests.support.shapes import CALVER, LAYOUTS, MODULE, NAME, create_shape
from tests.support.version_shapes import VERSION_LAYOUTS
from tests.support.wheels import wheel_metadata
from tests.support.world import journal_dir, status_json, world

pytestmark = pytest.mark.slow


def make(name: str, tmp_path: Path, local_index: LocalIndex) -> SampleProject:
    return create_shape(tmp_path, {**LAYOUTS, **VERSION_LAYOUTS}[name], local_index.upload_url, local_index.index_url)


def released(sample: SampleProject, run_relsafe: RunRelsafe, *args: str, cwd: Path | None = None) -> dict[str, str]:
    proc = run_relsafe("release", *args, cwd=cwd or sample.root)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert "Traceback" not in output
    record = status_json(sample)
    assert record is not None and record["status"] == "done", record
    return record


def built_files(sample: SampleProject, record: dict[str, str]) -> list[str]:
    return sorted(path.name for path in (journal_dir(sample) / "releases" / record["id"] / "dist").iterdir())


def changed_lines(sample: SampleProject, ref: str = "HEAD") -> list[str]:
    diff = git(sample.root, "show", "--format=", "--unified=0", ref)
    return [line for line in diff.splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---")]


@pytest.mark.parametrize(
    ("layout", "request_", "version", "tag", "lines"),
    [
        (
            "commented-version",
            "minor",
            "0.2.0",
            "v0.2.0",
            [
                '-version = "0.1.0" # REQUIRED, although there are ways to make it dynamic',
                '+version = "0.2.0" # REQUIRED, although there are ways to make it dynamic',
                "-__version__  =  '0.1.0'",
                "+__version__  =  '0.2.0'",
            ],
        ),
        (
            "zero-padded-calver",
            "2026.7.23",
            "2026.07.23",
            "v2026.07.23",
            [
                f'-version = "{CALVER}"',
                '+version = "2026.07.23"',
                f'-__version__ = "{CALVER}"',
                '+__version__ = "2026.07.23"',
            ],
        ),
        (
            "poetry-core",
            "minor",
            "0.2.0",
            "v0.2.0",
            ['-version = "0.1.0"', '+version = "0.2.0"', '-__version__ = "0.1.0"', '+__version__ = "0.2.0"'],
        ),
        ("setup-py-only", "patch", "0.1.1", "v0.1.1", ['-__version__ = "0.1.0"', '+__version__ = "0.1.1"']),
        # the version in a module only the backend's configuration (or setup.py's exec) names
        ("version-module", "patch", "0.1.1", "v0.1.1", ['-__version__ = "0.1.0"', '+__version__ = "0.1.1"']),
        ("hatch-version-path", "minor", "0.2.0", "v0.2.0", ['-__version__ = "0.1.0"', '+__version__ = "0.2.0"']),
        (
            "setuptools-attr-version-module",
            "minor",
            "0.2.0",
            "v0.2.0",
            ['-__version__ = "0.1.0"', '+__version__ = "0.2.0"'],
        ),
    ],
)
def test_a_file_versioned_layout_bumps_exactly_the_line_it_read(
    layout: str,
    request_: str,
    version: str,
    tag: str,
    lines: list[str],
    tmp_path: Path,
    local_index: LocalIndex,
    run_relsafe: RunRelsafe,
) -> None:
    sample = make(layout, tmp_path, local_index)
    base = git(sample.root, "rev-parse", "HEAD")
    plan = run_relsafe("release", request_, "--plan", cwd=sample.root)
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert all(line in plan.stdout for line in lines), plan.stdout  # the plan shows what the bump writes

    record = released(sample, run_relsafe, request_)

    assert record["version"] == version and record["tag"] == tag
    assert git(sample.root, "rev-parse", "HEAD^") == base
    assert git(sample.root, "rev-parse", f"{tag}^{{commit}}") == git(sample.root, "rev-parse", "HEAD")
    assert sorted(changed_lines(sample)) == sorted(lines)
    # file names are PEP 440's spelling; what is inside is the release
    normal = version.replace(".07.", ".7.")
    assert built_files(sample, record) == sorted([f"{MODULE}-{normal}-py3-none-any.whl", f"{MODULE}-{normal}.tar.gz"])
    assert sorted(path.name for path in local_index.storage.iterdir()) == built_files(sample, record)


@pytest.mark.parametrize(
    ("layout", "request_", "from_version", "version", "tag"),
    [
        ("hatch-vcs-bare-tags", "minor", "26.1.0", "26.2.0", "26.2.0"),
        ("hatch-vcs-mixed-tags", "patch", "3.32.0", "3.32.1", "3.32.1"),
        ("hatch-vcs-no-tags", "0.1.0", "", "0.1.0", "v0.1.0"),
        # tools other than hatch-vcs and setuptools-scm: pdm-backend's scm source is told the version through
        # its variable; versioneer takes none and reads `git describe` in a clone that holds the tag
        ("pdm-backend-scm", "minor", "0.1.0", "0.2.0", "v0.2.0"),
        ("versioneer", "minor", "0.1.0", "0.2.0", "v0.2.0"),
    ],
)
def test_a_tag_versioned_layout_goes_on_from_its_own_last_tag(
    layout: str,
    request_: str,
    from_version: str,
    version: str,
    tag: str,
    tmp_path: Path,
    local_index: LocalIndex,
    run_relsafe: RunRelsafe,
) -> None:
    sample = make(layout, tmp_path, local_index)
    base = git(sample.root, "rev-parse", "HEAD")
    tags_before = set(git(sample.root, "tag", "--list").split())
    plan = run_relsafe("release", request_, "--plan", cwd=sample.root)
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert "files        none: the version comes from the tag" in plan.stdout
    if from_version:
        assert f"version      {from_version} → {version}" in plan.stdout
        if not tag.startswith("v"):
            assert "detected from the existing tags" in plan.stdout and "'{version}' (bare versions" in plan.stdout
    else:
        assert f"version      {version}: the first release (no release tag yet)" in plan.stdout

    record = released(sample, run_relsafe, request_)

    assert (record["from_version"], record["version"], record["tag"]) == (from_version, version, tag)
    assert git(sample.root, "rev-parse", f"{tag}^{{commit}}") == git(sample.root, "rev-parse", "HEAD")
    assert git(sample.remote, "rev-parse", f"refs/tags/{tag}^{{commit}}") == git(sample.root, "rev-parse", "HEAD")
    assert built_files(sample, record) == sorted([f"{MODULE}-{version}-py3-none-any.whl", f"{MODULE}-{version}.tar.gz"])
    # no bump commit: the tag is on the commit the release started from, and the wheel is that version inside
    assert git(sample.root, "rev-parse", "HEAD") == base
    dist = journal_dir(sample) / "releases" / record["id"] / "dist"
    assert wheel_metadata(dist / f"{MODULE}-{version}-py3-none-any.whl")["Version"] == version
    assert set(git(sample.root, "tag", "--list").split()) == tags_before | {tag}, "no other tag was made"


def test_a_first_release_needs_its_version_spelled_out(
    tmp_path: Path, local_index: LocalIndex, run_relsafe: RunRelsafe
) -> None:
    sample = make("hatch-vcs-no-tags", tmp_path, local_index)
    before = world(sample)
    proc = run_relsafe("release", "minor", cwd=sample.root)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "has no release tag yet" in proc.stderr and "relsafe release 0.1.0" in proc.stderr
    assert "0.0.0" not in proc.stdout + proc.stderr and "Traceback" not in proc.stderr
    assert world(sample) == before


def test_a_configured_tag_format_matching_no_tag_is_refused_naming_the_tags(
    tmp_path: Path, local_index: LocalIndex, run_relsafe: RunRelsafe
) -> None:
    sample = make("hatch-vcs-bare-tags", tmp_path, local_index)
    config = sample.root / "release.toml"
    config.write_text('[release]\ntag-format = "v{version}"\n' + config.read_text(), encoding="utf-8")
    git(sample.root, "commit", "-qam", "Configure the tag format")
    before = world(sample)
    proc = run_relsafe("release", "minor", cwd=sample.root)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "'v{version}' matches none of the release tags (26.1.0, 26.0.0)" in proc.stderr
    assert "tag-format = '{version}'" in proc.stderr
    assert world(sample) == before


def test_a_monorepo_folder_releases_its_own_project_with_its_own_tags(
    tmp_path: Path, local_index: LocalIndex, run_relsafe: RunRelsafe
) -> None:
    sample = make("monorepo-folder", tmp_path, local_index)
    root_pyproject = (sample.root / "pyproject.toml").read_text()
    tag = f"{NAME}-v0.2.0"

    record = released(sample, run_relsafe, "minor", "-C", "backend")

    assert (record["from_version"], record["version"], record["tag"]) == ("0.1.0", "0.2.0", tag)
    changed = git(sample.root, "show", "--format=", "--name-only", "HEAD").split()
    assert sorted(changed) == ["backend/pyproject.toml", f"backend/src/{MODULE}/__init__.py"]
    assert (sample.root / "pyproject.toml").read_text() == root_pyproject, "the root project is not touched"
    assert git(sample.remote, "rev-parse", f"refs/tags/{tag}^{{commit}}") == git(sample.root, "rev-parse", "HEAD")
    assert built_files(sample, record) == sorted([f"{MODULE}-0.2.0-py3-none-any.whl", f"{MODULE}-0.2.0.tar.gz"])
    # from inside the folder, the next release finds the same project and goes on from its tag
    again = released(sample, run_relsafe, "patch", cwd=sample.root / "backend" / "src")
    assert again["tag"] == f"{NAME}-v0.2.1"
    assert subprocess.run(["git", "tag", "-l", "v0.*"], cwd=sample.root, capture_output=True, text=True).stdout == ""


def test_a_version_not_above_the_latest_release_on_production_is_refused(
    tmp_path: Path, local_index: LocalIndex, run_relsafe: RunRelsafe
) -> None:
    """A pre-release already published sorts above 0.2.0: installers would never pick the new release."""
    sample = make("commented-version", tmp_path, local_index)
    (local_index.storage / f"{MODULE}-0.5.0rc1.tar.gz").write_bytes(b"published earlier, by hand")
    before = world(sample)
    proc = run_relsafe("release", "minor", cwd=sample.root)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 4, output
    assert f"{NAME} 0.2.0 is not above the latest release 0.5.0rc1 on the production index" in output
    assert world(sample) == before


def test_init_writes_the_version_module_and_the_lock_it_finds(
    tmp_path: Path, local_index: LocalIndex, run_relsafe: RunRelsafe
) -> None:
    """requests' shape: `relsafe init` finds src/PKG/__version__.py and names it, and the project's uv.lock."""
    sample = make("version-module", tmp_path, local_index)
    (sample.root / "release.toml").unlink()
    (sample.root / "uv.lock").write_text('version = 1\n\n[[package]]\nname = "six"\nversion = "1.17.0"\n')
    git(sample.root, "add", "-A")
    git(sample.root, "commit", "-qm", "No relsafe configuration yet; a uv lock")
    git(sample.root, "remote", "set-url", "origin", "git@github.com:acme/widget.git")

    done = run_relsafe("init", cwd=sample.root)

    assert done.returncode == 0, done.stdout + done.stderr
    written = (sample.root / "release.toml").read_text(encoding="utf-8")
    assert f'\nfiles = ["src/{MODULE}/__version__.py"]' in written, written
    assert '\nlock = "uv.lock"' in written, written


def test_the_plan_of_a_setup_py_project_runs_its_code_only_for_a_name_nothing_else_states(
    tmp_path: Path, local_index: LocalIndex, run_relsafe: RunRelsafe
) -> None:
    """--plan reads the literal name from setup.py and asks no backend (which would run setup.py: seconds, and the
    project's code); a name setup.py computes is asked of the backend, as the release does."""
    sample = make("setup-py-only", tmp_path, local_index)
    setup_py = sample.root / "setup.py"
    ran = tmp_path / "setup-py-ran"
    setup_py.write_text(f"open({str(ran)!r}, 'w').close()\n" + setup_py.read_text(encoding="utf-8"), encoding="utf-8")
    git(sample.root, "commit", "-qam", "setup.py says when it runs")

    plan = run_relsafe("release", "minor", "--plan", cwd=sample.root)
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert f"project      {NAME} (" in plan.stdout and "compared with the version files by --dry-run" in plan.stdout
    assert not ran.exists(), "the plan ran setup.py"

    text = setup_py.read_text(encoding="utf-8").replace(f'name="{NAME}"', f'name="-".join({NAME.split("-")!r})')
    setup_py.write_text(text, encoding="utf-8")
    git(sample.root, "commit", "-qam", "a computed name")
    computed = run_relsafe("release", "minor", "--plan", cwd=sample.root)
    assert computed.returncode == 0, computed.stdout + computed.stderr
    assert f"project      {NAME} (" in computed.stdout
    assert ran.exists(), "only the backend knows a computed name"
