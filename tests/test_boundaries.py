"""relsafe writes only inside the repository, and never uploads to PyPI under any of its names."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from relsafe.app.sample import SampleProject
from relsafe.model.index_url import is_production_pypi
from tests.support.cli import RunRelsafe
from tests.support.git import git
from tests.support.world import journal_dir, world


@pytest.mark.parametrize(
    "url",
    [
        "https://upload.pypi.org/legacy/",
        "https://UPLOAD.PyPI.org/legacy/",
        "https://upload.pypi.org./legacy/",
        "https://upload.pypi.org:443/legacy/",
        "https://pypi.python.org/pypi",
        "https://upload.pypi.io/legacy/",
        "https://ｐｙｐｉ.org/legacy/",  # full-width letters, which IDNA maps to "pypi"
        " https://pypi.org/simple/ ",
    ],
)
def test_every_name_of_pypi_is_production(url: str) -> None:
    assert is_production_pypi(url)


@pytest.mark.parametrize("url", ["https://test.pypi.org/legacy/", "http://127.0.0.1:8080/", "https://pypi.org.evil/"])
def test_other_indexes_are_not_production(url: str) -> None:
    assert not is_production_pypi(url)


def test_a_staging_url_that_is_pypi_in_disguise_is_refused(sample: SampleProject, run_relsafe: RunRelsafe) -> None:
    text = (sample.root / "release.toml").read_text(encoding="utf-8")
    start = text.index('repository-url = "')
    end = text.index('"', start + len('repository-url = "'))
    disguised = 'repository-url = "https://Upload.PyPI.org.:443/legacy/'
    (sample.root / "release.toml").write_text(text[:start] + disguised + text[end:], encoding="utf-8")
    git(sample.root, "commit", "-qam", "stage to PyPI itself")
    before = world(sample)

    refused = run_relsafe("release", "minor", cwd=sample.root)

    assert refused.returncode == 2, refused.stderr
    assert "staging.repository-url: expected a staging index, got the production index" in refused.stderr
    assert world(sample) == before


def _version_files(sample: SampleProject, *files: str) -> None:
    with (sample.root / "release.toml").open("a", encoding="utf-8") as stream:
        stream.write("\n[version]\nfiles = [" + ", ".join(repr(name) for name in files) + "]\n")


@pytest.mark.parametrize("shape", ["parent folder", "absolute path", "symlink leaving the repository"])
def test_a_version_file_outside_the_repository_is_refused_and_left_alone(
    shape: str, sample: SampleProject, tmp_path: Path, run_relsafe: RunRelsafe
) -> None:
    victim = sample.root.parent / "victim.py"
    victim.write_text('__version__ = "0.1.0"\n', encoding="utf-8")
    if shape == "parent folder":
        named = "../victim.py"
    elif shape == "absolute path":
        named = str(victim)
    else:
        named = "src/version_link.py"
        os.symlink(victim, sample.root / named)
    _version_files(sample, "pyproject.toml", named)
    git(sample.root, "add", "-A")
    git(sample.root, "commit", "-qm", "version files")
    git(sample.root, "push", "-q", "origin", "main")
    before = world(sample)

    for command in (("release", "minor", "--plan"), ("release", "minor")):
        refused = run_relsafe(*command, cwd=sample.root)
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert "[version] files:" in refused.stderr and "repository" in refused.stderr
        assert "Traceback" not in refused.stderr
    assert victim.read_text(encoding="utf-8") == '__version__ = "0.1.0"\n'
    assert world(sample) == before
    assert not (journal_dir(sample) / "state.json").exists()


def test_a_bump_my_version_file_outside_the_repository_is_refused(
    sample: SampleProject, run_relsafe: RunRelsafe
) -> None:
    victim = sample.root.parent / "victim.txt"
    victim.write_text("0.1.0\n", encoding="utf-8")
    (sample.root / ".bumpversion.toml").write_text(
        '[tool.bumpversion]\ncurrent_version = "0.1.0"\n\n[[tool.bumpversion.files]]\nfilename = "../victim.txt"\n',
        encoding="utf-8",
    )
    git(sample.root, "add", "-A")
    git(sample.root, "commit", "-qm", "bump-my-version configuration")
    git(sample.root, "push", "-q", "origin", "main")
    before = world(sample)

    refused = run_relsafe("release", "minor", cwd=sample.root)

    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert ".bumpversion.toml: bump-my-version files: '../victim.txt'" in refused.stderr
    assert victim.read_text(encoding="utf-8") == "0.1.0\n"
    assert world(sample) == before
