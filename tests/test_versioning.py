"""Version arithmetic, reading the version from tags, spelling it as the project does, writing it into files."""

from __future__ import annotations

import email.message
from pathlib import Path

import pytest

from relsafe.app.sample import create_sample
from relsafe.core.errors import ConfigError, ExitCode, Refused, UsageError
from relsafe.journal.runlog import RunLog
from relsafe.model.config import Config
from relsafe.model.project import detect_project
from relsafe.model.tag_convention import read_convention
from relsafe.tools.versioning import check_increase, next_version, spell_like, write_version
from tests.support.git import git


@pytest.mark.parametrize(
    ("current", "request_", "expected"),
    [
        # the three numbers
        ("0.1.0", "major", "1.0.0"),
        ("0.1.0", "minor", "0.2.0"),
        ("0.1.0", "patch", "0.1.1"),
        ("1.2.3", "major", "2.0.0"),
        ("1.2.3", "minor", "1.3.0"),
        ("1.2.3", "patch", "1.2.4"),
        ("1.2", "patch", "1.2.1"),
        ("1", "minor", "1.1.0"),
        ("1.2.3.post1", "patch", "1.2.4"),
        # a pre-release on its way to that bump is finished instead
        ("2.0.0rc1", "major", "2.0.0"),
        ("1.3.0b2", "minor", "1.3.0"),
        ("1.2.4a1", "patch", "1.2.4"),
        ("1.3.0rc1", "major", "2.0.0"),
        ("1.2.4rc1", "minor", "1.3.0"),
        # pre-releases start on the next patch and advance
        ("1.2.0", "alpha", "1.2.1a1"),
        ("1.2.0", "beta", "1.2.1b1"),
        ("1.2.0", "rc", "1.2.1rc1"),
        ("1.2.1rc1", "rc", "1.2.1rc2"),
        ("1.2.1a3", "alpha", "1.2.1a4"),
        ("1.2.1a3", "beta", "1.2.1b1"),
        ("1.2.1b1", "rc", "1.2.1rc1"),
        # release drops the pre-release suffix
        ("1.2.1rc2", "release", "1.2.1"),
        ("2.0.0a1", "release", "2.0.0"),
        # explicit versions are normalised PEP 440
        ("0.1.0", "0.5.0", "0.5.0"),
        ("0.1.0", "2.0", "2.0"),
        ("0.1.0", "v1.0.0", "1.0.0"),
        ("0.1.0", "1.0.0-RC1", "1.0.0rc1"),
        ("0.1.0", "1.0.0.post2", "1.0.0.post2"),
    ],
)
def test_next_version(current: str, request_: str, expected: str) -> None:
    assert next_version(current, request_) == expected


@pytest.mark.parametrize(
    ("current", "request_", "message"),
    [
        ("1.2.1rc1", "alpha", "cannot go from 1.2.1rc1"),
        ("1.2.1rc1", "beta", "beta comes before rc"),
        ("1.2.1b1", "alpha", "alpha comes before beta"),
        ("1.2.0", "release", "1.2.0 is not a pre-release"),
    ],
)
def test_impossible_requests_are_refused(current: str, request_: str, message: str) -> None:
    with pytest.raises(Refused) as raised:
        next_version(current, request_)
    assert message in raised.value.message
    assert raised.value.exit_code == ExitCode.REFUSED
    assert raised.value.hint


@pytest.mark.parametrize("request_", ["foo", "", "minor2", "1.0.0-final-final", "latest", "MAJOR "])
def test_invalid_requests_are_usage_errors(request_: str) -> None:
    with pytest.raises(UsageError) as raised:
        next_version("0.1.0", request_)
    assert raised.value.exit_code == ExitCode.USAGE
    assert "argument PART|VERSION" in raised.value.message
    assert repr(request_) in raised.value.message


@pytest.mark.parametrize(
    ("current", "new"), [("0.1.0", "0.1.0"), ("0.1.0", "0.0.9"), ("1.0", "1.0.0"), ("1.0.0", "1.0.0rc1")]
)
def test_check_increase_refuses_a_version_not_above(current: str, new: str) -> None:
    with pytest.raises(Refused) as raised:
        check_increase(current, new)
    assert f"{new} is not above the current version {current}" in raised.value.message


@pytest.mark.parametrize(("current", "new"), [("0.1.0", "0.1.1"), ("1.0.0rc1", "1.0.0"), ("1.0.0", "1.0.0.post1")])
def test_check_increase_accepts_a_higher_version(current: str, new: str) -> None:
    check_increase(current, new)


@pytest.mark.parametrize(
    ("tags", "tag_format", "expected"),
    [
        (["v0.1.0", "v0.10.0", "v0.9.0"], "v{version}", "0.10.0"),
        (["v1.0.0rc1", "v0.9.0"], "v{version}", "1.0.0rc1"),
        (["v1.0.0rc1", "v1.0.0"], "v{version}", "1.0.0"),
        (["release-2.0", "v3.0", "2.1"], "release-{version}", "2.0"),
        (["pkg+1.0+final", "pkg+2.0+final", "pkg+3.0"], "pkg+{version}+final", "2.0"),
        (["vnext", "v1.0.x", "docs"], "v{version}", None),
        (["2026.07.22", "2026.7.3"], "{version}", "2026.07.22"),
        ([], "v{version}", None),
    ],
)
def test_the_latest_release_tag_of_a_configured_format(tags: list[str], tag_format: str, expected: str | None) -> None:
    convention = read_convention(tags, tag_format, "pkg", in_subfolder=False)
    assert convention.source == "configured"
    assert (convention.latest or (None, None))[1] == expected


@pytest.mark.parametrize(
    ("tags", "in_subfolder", "tag_format", "source", "latest"),
    [
        (["v0.1.0", "v0.2.0"], False, "v{version}", "default", "0.2.0"),
        (["26.0.0", "26.1.0", "not-a-release"], False, "{version}", "detected", "26.1.0"),
        # switched from v3.0.x to bare 3.32.x years ago: the newer convention holds the highest version
        (["v3.0.1", "v3.0.2", "3.31.0", "3.32.1"], False, "{version}", "detected", "3.32.1"),
        (["pkg-v1.2.3", "pkg-v1.10.0"], False, "pkg-v{version}", "detected", "1.10.0"),
        # in a monorepo folder only the project's own name counts; the root project's tags are not its own
        (["v9.0.0", "pkg-v1.0.0", "other-v5.0.0"], True, "pkg-v{version}", "default", "1.0.0"),
        (["v9.0.0", "other-v5.0.0"], True, "pkg-v{version}", "default", None),
        (["release-candidate", "docs-2024"], False, "v{version}", "default", None),
        ([], False, "v{version}", "default", None),
    ],
)
def test_an_unconfigured_tag_format_is_read_from_the_tags(
    tags: list[str], in_subfolder: bool, tag_format: str, source: str, latest: str | None
) -> None:
    convention = read_convention(tags, None, "pkg", in_subfolder=in_subfolder)
    assert (convention.tag_format, convention.source) == (tag_format, source)
    assert (convention.latest or (None, None))[1] == latest
    assert tag_format in convention.describe()


def test_a_configured_format_that_matches_no_release_tag_is_refused_naming_the_tags() -> None:
    with pytest.raises(ConfigError) as raised:
        read_convention(["26.0.0", "26.1.0"], "v{version}", "pkg", in_subfolder=False)
    assert raised.value.exit_code == ExitCode.USAGE
    assert "26.1.0, 26.0.0" in raised.value.message
    assert "tag-format = '{version}'" in raised.value.message


@pytest.mark.parametrize(
    ("new", "current", "spelled"),
    [
        ("2026.7.23", "2026.07.22", "2026.07.23"),
        ("2026.8.1", "2026.07.22", "2026.08.01"),
        ("2026.7.23rc1", "2026.07.22", "2026.07.23rc1"),
        ("2026.7.23", "2026.7.22", "2026.7.23"),
        ("0.2.0", "0.1.0", "0.2.0"),
        ("1.0.0", None, "1.0.0"),
    ],
)
def test_versions_keep_the_projects_spelling(new: str, current: str | None, spelled: str) -> None:
    assert spell_like(new, current) == spelled


def no_backend() -> email.message.Message:
    raise AssertionError("a project that states its name and version needs no backend run")


def test_write_version_changes_only_the_version_assignments(tmp_path: Path) -> None:
    """A dependency pinned at the same version string, and a README mention, are left alone."""
    sample = create_sample(tmp_path)
    pyproject = sample.root / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace('version = "0.1.0"', 'version = "0.1.0"\ndependencies = ["foo>=0.1.0"]')
    )
    readme = sample.root / "README.md"
    readme.write_text(readme.read_text() + "\nSince 0.1.0.\n")
    git(sample.root, "commit", "-q", "-am", "A dependency and a README mention")
    project = detect_project(sample.root, sample.root, Config(), [], no_backend)
    assert project.version_files == ("pyproject.toml", f"src/{sample.module}/__init__.py")

    write_version(project, "0.1.0", "0.2.0", RunLog(None))

    diff = git(sample.root, "diff", "--unified=0")
    changed = [line for line in diff.splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---")]
    assert sorted(changed) == sorted(
        ['-version = "0.1.0"', '+version = "0.2.0"', '-__version__ = "0.1.0"', '+__version__ = "0.2.0"']
    )
    assert 'dependencies = ["foo>=0.1.0"]' in pyproject.read_text()
    assert "Since 0.1.0." in readme.read_text()


def test_a_dev_release_moves_to_a_pre_release_of_the_same_version() -> None:
    assert next_version("1.2.0.dev1", "rc") == "1.2.0rc1"
    assert next_version("1.2.0.dev1", "alpha") == "1.2.0a1"


def test_a_local_version_is_refused_because_no_index_accepts_it() -> None:
    with pytest.raises(UsageError, match="local version"):
        next_version("1.0.0", "1.0.1+mine")
