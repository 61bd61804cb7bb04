"""Bad configuration stops everything with exit 2 and one line naming the file and the key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from relsafe.app.sample import SampleProject, create_sample
from relsafe.model.config import read_toml
from relsafe.tools.localindex import LocalIndex
from tests.support.cli import RunRelsafe
from tests.support.git import git
from tests.support.release_config import release_toml
from tests.support.world import journal_dir, status_json, world

# release.toml content → what the one error line must say
RELEASE_TOML_ERRORS = {
    "unknown-key": (
        '[release]\ntag-fromat = "v{version}"\n',
        ["release.toml: release.tag-fromat: unknown key", "did you mean 'tag-format'?"],
    ),
    "wrong-type-bool": (
        '[release]\nsign-tags = "yes"\n',
        ["release.toml: release.sign-tags:", "true or false"],
    ),
    "wrong-type-list": (
        '[release]\nsteps = "preflight"\n',
        ["release.toml: release.steps:", "a list of strings"],
    ),
    "wrong-type-str": (
        "[release]\nbranch = 1\n",
        ["release.toml: release.branch:", "expected a string, got 1"],
    ),
    "wrong-type-number": (
        '[watch]\ntimeout = "soon"\n',
        ["release.toml: watch.timeout:", "expected a number"],
    ),
    "tag-format-without-version": (
        '[release]\ntag-format = "release"\n',
        ["release.toml: release.tag-format:", "{version}", "'release'"],
    ),
    "tag-format-other-placeholder": (
        '[release]\ntag-format = "v{version}-{build}"\n',
        ["release.toml: release.tag-format:", "only the {version} placeholder"],
    ),
    "tag-format-not-a-git-tag": (
        '[release]\ntag-format = "v {version}"\n',
        ["release.toml: release.tag-format:", "valid git tag name", "git refuses 'v 1.0.0'"],
    ),
    "tag-format-leading-dash": (
        '[release]\ntag-format = "-{version}"\n',
        ["release.toml: release.tag-format:", "valid git tag name"],
    ),
    "unknown-step": (
        '[release]\nsteps = ["preflight", "biuld"]\n',
        ["release.toml: release.steps:", "unknown step 'biuld'", "did you mean 'build'?"],
    ),
    "out-of-order-steps": (
        '[release]\nsteps = ["preflight", "build", "bump"]\n',
        ["release.toml: release.steps:", "pipeline order"],
    ),
    "repeated-step": (
        '[release]\nsteps = ["preflight", "bump", "bump"]\n',
        ["release.toml: release.steps:", "without repeats"],
    ),
    "preflight-left-out": (
        '[release]\nsteps = ["bump", "build", "tag", "push"]\n',
        ["release.toml: release.steps:", "'preflight' cannot be left out"],
    ),
    "unknown-table": (
        '[relase]\nbranch = "main"\n',
        ["release.toml: relase: unknown table", "did you mean 'release'?"],
    ),
    "table-is-a-value": ('release = "main"\n', ["release.toml: release:", "expected a table"]),
    "bad-toml": ('[release\nbranch = "main"\n', ["release.toml: not valid TOML", "line 1"]),
    "gate-unknown-key": (
        '[[gate]]\nname = "checklist"\nitmes = ["docs"]\n',
        ["release.toml: gate[0].itmes: unknown key", "did you mean 'items'?"],
    ),
    "integer-beyond-64-bits": (
        "[watch]\ntimeout = 18446744073709551616\n",
        ["release.toml: watch.timeout:", "an integer within 64 bits", "20 digits"],
    ),
    "integer-beyond-64-bits-in-a-gate": (
        '[[gate]]\nname = "checklist"\nitems = ["docs", -9223372036854775809]\n',
        ["release.toml: gate[0].items[1]:", "an integer within 64 bits"],
    ),
    "version-source-unknown": (
        '[version]\nsource = "tag"\n',
        ["release.toml: version.source:", 'expected "tags" or "files"', "did you mean 'tags'?"],
    ),
    "version-source-tags-with-files": (
        '[version]\nsource = "tags"\nfiles = ["pyproject.toml"]\n',
        ["release.toml: version.files:", 'source = "tags" bumps none'],
    ),
    "test-lock-outside": (
        '[test]\nlock = "../uv.lock"\n',
        ["release.toml: test.lock:", "inside the project"],
    ),
    "production-as-staging": (
        '[staging]\nrepository-url = "https://upload.pypi.org/legacy/"\n',
        ["release.toml: staging.repository-url:", "production index"],
    ),
}

# [tool.relsafe] in pyproject.toml: appended text → what the error line must say
PYPROJECT_ERRORS = {
    "unknown-key": (
        '\n[tool.relsafe.release]\ntag-fromat = "v{version}"\n',
        ["pyproject.toml: tool.relsafe.release.tag-fromat: unknown key", "did you mean 'tag-format'?"],
    ),
    "wrong-type": (
        "\n[tool.relsafe.release]\nsign-tags = 1\n",
        ["pyproject.toml: tool.relsafe.release.sign-tags:"],
    ),
    "unknown-table": (
        '\n[tool.relsafe.relase]\nbranch = "main"\n',
        ["pyproject.toml: tool.relsafe.relase: unknown"],
    ),
    "not-a-table": ("\n[tool]\nrelsafe = 1\n", ["pyproject.toml: tool.relsafe: expected a table"]),
    "table-is-a-value": (
        '\n[tool.relsafe]\nrelease = "main"\n',
        ["pyproject.toml: tool.relsafe.release:", "a table"],
    ),
    "bad-toml": ("\n[tool.relsafe\n", ["pyproject.toml: not valid TOML"]),
}


@pytest.fixture
def sample(tmp_path: Path) -> SampleProject:
    """The sample package with no relsafe configuration at all: everything here is written by the test."""
    return create_sample(tmp_path)


def _assert_config_error(proc_stderr: str, stdout: str, expected: list[str]) -> None:
    assert "Traceback" not in stdout + proc_stderr
    lines = proc_stderr.strip().splitlines()
    assert len(lines) == 1, proc_stderr
    assert lines[0].startswith("error: ")
    for text in expected:
        assert text in lines[0], lines[0]


@pytest.mark.parametrize("name", list(RELEASE_TOML_ERRORS))
def test_bad_release_toml_exits_2_naming_file_and_key(
    name: str, sample: SampleProject, run_relsafe: RunRelsafe
) -> None:
    content, expected = RELEASE_TOML_ERRORS[name]
    (sample.root / "release.toml").write_text(content, encoding="utf-8")
    before = world(sample)

    proc = run_relsafe("release", "minor", cwd=sample.root)

    assert proc.returncode == 2, proc.stdout + proc.stderr
    _assert_config_error(proc.stderr, proc.stdout, expected)
    assert world(sample) == before
    assert status_json(sample) is None
    assert not (journal_dir(sample) / "state.json").exists()


@pytest.mark.parametrize("name", list(PYPROJECT_ERRORS))
def test_bad_tool_relsafe_in_pyproject_exits_2(name: str, sample: SampleProject, run_relsafe: RunRelsafe) -> None:
    content, expected = PYPROJECT_ERRORS[name]
    with (sample.root / "pyproject.toml").open("a", encoding="utf-8") as stream:
        stream.write(content)
    before = world(sample)

    proc = run_relsafe("release", "minor", cwd=sample.root)

    assert proc.returncode == 2, proc.stdout + proc.stderr
    _assert_config_error(proc.stderr, proc.stdout, expected)
    assert world(sample) == before
    assert status_json(sample) is None


@pytest.mark.parametrize("command", [("resume",), ("abort",), ("release", "patch")])
def test_every_command_that_acts_validates_the_configuration_first(
    command: tuple[str, ...], sample: SampleProject, run_relsafe: RunRelsafe
) -> None:
    (sample.root / "release.toml").write_text("[release]\nremote = []\n", encoding="utf-8")
    before = world(sample)

    proc = run_relsafe(*command, cwd=sample.root)

    assert proc.returncode == 2
    _assert_config_error(proc.stderr, proc.stdout, ["release.toml: release.remote:", "expected a string"])
    assert world(sample) == before


def _commit(sample: SampleProject, *paths: str) -> None:
    git(sample.root, "add", *paths)
    git(sample.root, "commit", "-q", "-m", "Configure relsafe")
    git(sample.root, "push", "-q", "origin", "main")


def test_release_toml_settings_take_effect(
    sample: SampleProject, empty_index: LocalIndex, run_relsafe: RunRelsafe
) -> None:
    """A configured release branch and tag format are the ones preflight checks against."""
    (sample.root / "release.toml").write_text(
        release_toml(empty_index, branch="trunk", tag_format="rel-{version}"), encoding="utf-8"
    )
    _commit(sample, "release.toml")
    git(sample.root, "tag", "rel-0.2.0")
    before = world(sample)

    proc = run_relsafe("release", "minor", cwd=sample.root)

    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert "not the release branch 'trunk'" in proc.stderr
    assert "the tag rel-0.2.0 already exists locally" in proc.stderr
    assert world(sample) == before


def test_tool_relsafe_in_pyproject_takes_effect(
    sample: SampleProject, empty_index: LocalIndex, run_relsafe: RunRelsafe
) -> None:
    table = re.sub(r"^\[", "[tool.relsafe.", release_toml(empty_index, tag_format="rel-{version}"), flags=re.M)
    with (sample.root / "pyproject.toml").open("a", encoding="utf-8") as stream:
        stream.write("\n" + table)
    _commit(sample, "pyproject.toml")
    git(sample.root, "tag", "rel-0.2.0")
    before = world(sample)

    proc = run_relsafe("release", "minor", cwd=sample.root)

    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert "the tag rel-0.2.0 already exists locally" in proc.stderr
    assert world(sample) == before
    status = status_json(sample)
    assert status is not None
    assert (status["tag"], status["order"]) == ("rel-0.2.0", ["preflight", "bump", "build", "tag", "push"])


def test_release_toml_and_tool_relsafe_together_are_refused(tmp_path: Path) -> None:
    from relsafe.core.errors import ConfigError
    from relsafe.model.config import load_config
    from relsafe.steps.table import STEPS

    (tmp_path / "release.toml").write_text("[release]\nbranch = 'main'\n", encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text("[tool.relsafe.release]\nbranch = 'trunk'\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="both configure relsafe"):
        load_config(tmp_path, STEPS)


def test_the_fingerprint_ignores_defaults_so_new_keys_do_not_look_like_edits() -> None:
    from relsafe.model.config import Config

    assert Config(branch="main").fingerprint() == Config().fingerprint()
    assert Config(branch="trunk").fingerprint() != Config().fingerprint()


def test_relsafes_own_smoke_installs_every_package_the_tests_loopback_index_repacks() -> None:
    """relsafe's own release runs part of this suite in its smoke venvs, whose session index repacks these
    packages from the venv: each must come with relsafe or its [test] requires, else the self-release fails."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    from tests.support.loopback import LOOPBACK_PACKAGES

    repository = Path(__file__).resolve().parent.parent
    requires = read_toml(repository / "release.toml")["test"]["requires"]
    runtime = read_toml(repository / "pyproject.toml")["project"]["dependencies"]
    installed = {canonicalize_name(Requirement(entry).name) for entry in [*requires, *runtime]}
    missing = {canonicalize_name(name) for name in LOOPBACK_PACKAGES} - installed
    assert not missing, f"add to release.toml [test] requires: {sorted(missing)}"
