"""Which workflow publishes, that every publishing workflow is audited, and that the tag really publishes.

Real sample projects in real git repositories, through the real CLI: a
workflow found among CI workflows, several found (exit 2), one publishing on
branch pushes (PyPA's sample project) or only on GitHub Releases (exit 4),
and a release with `[publish] trigger = "release"` that says what is left.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from relsafe.app.sample import SampleProject
from relsafe.security.workflow.audit import RELEASE, TAG, publishing_workflows, starts
from relsafe.tools.localindex import LocalIndex
from tests.support.cli import RunRelsafe
from tests.support.git import git
from tests.support.release_config import release_toml
from tests.support.world import assert_released, journal_dir, world

WORKFLOWS = Path(".github/workflows")
TAG_TRIGGER = "on:\n  push:\n    tags:\n      - 'v*'\n"

CI = """\
name: ci
on:
  push:
    branches: [main]
  pull_request:
permissions:
  contents: read
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2
        with:
          persist-credentials: false
      - run: python -m pip install tox && tox -e py
"""

# pypa/sampleproject's .github/workflows/release.yml: it publishes every push to main.
PYPA_RELEASE = """\
# this file is *not* meant to cover or endorse the use of GitHub Actions, but rather to
# help make automated releases for this project

name: Release

on:
  push:
    branches:
      - main

jobs:
  build-and-publish:
    runs-on: ubuntu-latest
    permissions:
      # IMPORTANT: this permission is mandatory for trusted publishing
      id-token: write
    steps:
    - name: Checkout
      uses: actions/checkout@v3
    - name: Set up Python
      uses: actions/setup-python@v4
      with:
        python-version: '3.x'
    - name: Install build dependencies
      run: python -m pip install -U setuptools wheel build
    - name: Build
      run: python -m build .
    - name: Publish
      uses: pypa/gh-action-pypi-publish@release/v1
      with:
        skip_existing: true
"""


def tox_release(command: str = "tox -e release") -> str:
    return f"""\
name: release
on:
  push:
    tags: ['v*']
permissions: {{}}
jobs:
  release:
    runs-on: ubuntu-latest
    steps:
      - run: {command}
"""


def change(sample: SampleProject, files: dict[str, str | None], toml: str | None = None) -> None:
    """Write (or, for None, remove) files and release.toml, commit and push: a clean, up-to-date start."""
    for name, text in files.items():
        path = sample.root / name
        if text is None:
            git(sample.root, "rm", "-q", name)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        git(sample.root, "add", name)
    if toml is not None:
        (sample.root / "release.toml").write_text(toml, encoding="utf-8")
        git(sample.root, "add", "release.toml")
    git(sample.root, "commit", "-q", "-m", "Change the workflows")
    git(sample.root, "push", "-q", "origin", "main")


def publish_yml(sample: SampleProject) -> str:
    return (sample.root / WORKFLOWS / "publish.yml").read_text(encoding="utf-8")


def with_trigger(sample: SampleProject, trigger: str) -> str:
    """The sample's own publish workflow, started by `trigger` instead of the release tag."""
    text = publish_yml(sample)
    assert TAG_TRIGGER in text
    return text.replace(TAG_TRIGGER, trigger)


def preflight_only(index: LocalIndex, publish: str = "") -> str:
    """release.toml that runs preflight alone: a release that passes it changes nothing."""
    steps = 'steps = ["preflight", "bump", "build", "tag", "push"]'
    text = release_toml(index).replace(steps, 'steps = ["preflight"]')
    assert 'steps = ["preflight"]' in text
    return text + (f"\n[publish]\n{publish}\n" if publish else "")


def refused(sample: SampleProject, run_relsafe: RunRelsafe, code: int) -> str:
    """Run a release that must stop with `code` and leave the repository, its remote and no release behind."""
    before = world(sample)
    proc = run_relsafe("release", "minor", cwd=sample.root)
    assert proc.returncode == code, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert world(sample) == before
    assert not (journal_dir(sample) / "state.json").exists()
    return proc.stderr


# -- discovery ------------------------------------------------------------------


def test_the_one_publishing_workflow_among_ci_workflows_is_found_and_audited(
    release_sample: SampleProject, empty_index: LocalIndex, run_relsafe: RunRelsafe
) -> None:
    sample = release_sample
    text = publish_yml(sample)
    change(
        sample,
        {
            str(WORKFLOWS / "publish.yml"): None,
            str(WORKFLOWS / "ci.yml"): CI,
            str(WORKFLOWS / "pypi.yml"): text,
        },
        toml=preflight_only(empty_index),
    )

    passed = run_relsafe("release", "minor", cwd=sample.root)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "finished preflight for 0.2.0" in passed.stdout

    # found means audited: the discovered file's mistakes refuse the release
    change(sample, {str(WORKFLOWS / "pypi.yml"): text.replace("persist-credentials: false", "fetch-depth: 0")})
    stderr = refused(sample, run_relsafe, 4)
    assert ".github/workflows/pypi.yml:" in stderr and "checkout-credentials" in stderr
    assert "ci.yml" not in stderr


def test_init_writes_to_the_workflow_the_project_publishes_from(sample: SampleProject, run_relsafe: RunRelsafe) -> None:
    root = sample.root
    text = publish_yml(sample)
    git(root, "rm", "-q", "release.toml")
    change(sample, {str(WORKFLOWS / "publish.yml"): None, str(WORKFLOWS / "release.yml"): text})
    git(root, "remote", "set-url", "origin", "https://github.com/acme/widget.git")

    done = run_relsafe("init", cwd=root)

    assert done.returncode == 0, done.stdout + done.stderr
    assert any("Workflow name" in line and "release.yml" in line for line in done.stdout.splitlines()), done.stdout
    assert not (root / WORKFLOWS / "publish.yml").exists()
    assert (root / WORKFLOWS / "release.yml").read_text(encoding="utf-8") == text
    assert 'workflow = ".github/workflows/release.yml"' in (root / "release.toml").read_text(encoding="utf-8")


def test_two_publishing_workflows_without_configuration_exit_2_naming_both(
    release_sample: SampleProject, run_relsafe: RunRelsafe
) -> None:
    sample = release_sample
    change(sample, {str(WORKFLOWS / "ci.yml"): CI, str(WORKFLOWS / "tox-release.yml"): tox_release()})

    stderr = refused(sample, run_relsafe, 2)

    error = next(line for line in stderr.splitlines() if line.startswith("error:"))
    assert ".github/workflows/publish.yml" in error and ".github/workflows/tox-release.yml" in error, error
    assert "ci.yml" not in error
    assert "[publish] workflow" in error


def test_no_publishing_workflow_is_refused_with_the_way_to_write_one(
    release_sample: SampleProject, run_relsafe: RunRelsafe
) -> None:
    sample = release_sample
    change(sample, {str(WORKFLOWS / "publish.yml"): None, str(WORKFLOWS / "ci.yml"): CI})

    stderr = refused(sample, run_relsafe, 4)

    assert "no publish workflow" in stderr and "relsafe init" in stderr


@pytest.mark.parametrize(
    ("command", "publishes"),
    [
        ("tox -e release", True),
        ("python -m tox run -e py312,publish", True),
        ("uvx tox r -e 'release'", True),
        ("nox -s publish", True),
        ("nox --session=release", True),
        ("twine upload dist/*", True),
        ("uv publish", True),
        ("tox -e py312", False),
        ("nox -s tests", False),
        ("echo release notes && tox -e lint", False),
        ("tox -e prepare-release-pr -- main", False),  # pytest's: opens the release pull request
        ("nox -s release-notes", False),
        ("tox -e pypi-upload", True),
    ],
)
def test_a_release_session_of_tox_or_nox_counts_as_publishing(tmp_path: Path, command: str, publishes: bool) -> None:
    folder = tmp_path / WORKFLOWS
    folder.mkdir(parents=True)
    (folder / "release.yml").write_text(tox_release(command), encoding="utf-8")
    (folder / "ci.yml").write_text(CI, encoding="utf-8")

    assert publishing_workflows(tmp_path) == ([".github/workflows/release.yml"] if publishes else [])


# -- every publishing workflow is audited: branch pushes ------------------------------


@pytest.mark.parametrize("configured", [True, False], ids=["beside-the-configured-one", "the-only-one"])
def test_a_workflow_publishing_on_branch_pushes_is_refused_naming_file_and_line(
    release_sample: SampleProject, empty_index: LocalIndex, run_relsafe: RunRelsafe, configured: bool
) -> None:
    sample = release_sample
    files: dict[str, str | None] = {str(WORKFLOWS / "release.yml"): PYPA_RELEASE}
    if not configured:
        files[str(WORKFLOWS / "publish.yml")] = None
    pinned = '\n[publish]\nworkflow = ".github/workflows/publish.yml"\n'
    toml = release_toml(empty_index) + (pinned if configured else "")
    change(sample, files, toml=toml)
    line = PYPA_RELEASE.splitlines().index("    branches:") + 1

    stderr = refused(sample, run_relsafe, 4)

    assert f".github/workflows/release.yml:{line}: branch-push-publish:" in stderr, stderr
    assert "relsafe's own push of the release branch" in stderr
    assert "publish.yml" not in stderr, "the configured workflow has nothing wrong"


# -- the configured workflow must run for the tag -----------------------------------


RELEASE_PUBLISHED = "on:\n  release:\n    types: [published]\n"


@pytest.mark.parametrize(
    ("trigger", "setting", "expected"),
    [
        (RELEASE_PUBLISHED, "", ("publishes only when a GitHub Release is published", "pushing v0.2.0", "trigger")),
        ("on:\n  release:\n", "", ("publishes only when a GitHub Release is published",)),
        ("on:\n  workflow_dispatch:\n", "", ("is not started by pushing v0.2.0", "tags: ['v*']")),
        ("on:\n  workflow_dispatch:\n", 'trigger = "release"', ("is not started by publishing a GitHub Release",)),
        (TAG_TRIGGER + "  release:\n    types: [released]\n", 'trigger = "release"', ("also runs when v0.2.0",)),
    ],
    ids=["release-published", "release-any", "dispatch-only", "release-setting-without-release", "both-triggers"],
)
def test_a_publish_workflow_the_release_does_not_start_is_refused(
    release_sample: SampleProject,
    empty_index: LocalIndex,
    run_relsafe: RunRelsafe,
    trigger: str,
    setting: str,
    expected: tuple[str, ...],
) -> None:
    sample = release_sample
    toml = release_toml(empty_index) + (f"\n[publish]\n{setting}\n" if setting else "")
    change(sample, {str(WORKFLOWS / "publish.yml"): with_trigger(sample, trigger)}, toml=toml)

    stderr = refused(sample, run_relsafe, 4)

    assert ".github/workflows/publish.yml" in stderr
    for text in expected:
        assert text in stderr, stderr


def test_an_unknown_trigger_setting_exits_2_naming_the_key(
    release_sample: SampleProject, empty_index: LocalIndex, run_relsafe: RunRelsafe
) -> None:
    sample = release_sample
    change(sample, {}, toml=release_toml(empty_index) + '\n[publish]\ntrigger = "releases"\n')

    stderr = refused(sample, run_relsafe, 2)

    assert "release.toml: publish.trigger:" in stderr and "'releases'" in stderr and "did you mean" in stderr


def test_with_trigger_release_the_release_ends_saying_a_github_release_must_be_published(
    release_sample: SampleProject, empty_index: LocalIndex, run_relsafe: RunRelsafe
) -> None:
    sample = release_sample
    toml = release_toml(empty_index) + '\n[publish]\ntrigger = "release"\n'
    change(sample, {str(WORKFLOWS / "publish.yml"): with_trigger(sample, RELEASE_PUBLISHED)}, toml=toml)
    base = git(sample.root, "rev-parse", "HEAD")

    proc = run_relsafe("release", "minor", cwd=sample.root)

    assert proc.returncode == 0, proc.stdout + proc.stderr
    status = assert_released(sample, "0.2.0", base)
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith("released 0.2.0: v0.2.0 pushed to origin"), last
    assert "publish a GitHub Release for v0.2.0 to start publishing" in last, last
    manual = status["steps"]["push"]["outputs"]["manual_step"]
    assert "publish a GitHub Release for v0.2.0" in manual
    shown = run_relsafe("status", cwd=sample.root)
    assert shown.returncode == 0, shown.stderr
    assert f"remaining manual step: {manual}" in shown.stdout, shown.stdout
    assert shown.stdout.count("GitHub Release") == 1, "shown once, not also in the outputs column"


def test_with_the_default_trigger_the_release_ends_without_a_manual_step(
    release_sample: SampleProject, run_relsafe: RunRelsafe
) -> None:
    sample = release_sample
    base = git(sample.root, "rev-parse", "HEAD")

    proc = run_relsafe("release", "minor", cwd=sample.root)

    assert proc.returncode == 0, proc.stdout + proc.stderr
    status = assert_released(sample, "0.2.0", base)
    assert proc.stdout.strip().splitlines()[-1] == "released 0.2.0: v0.2.0 pushed to origin"
    assert "manual_step" not in status["steps"]["push"]["outputs"]
    assert "manual step" not in run_relsafe("status", cwd=sample.root).stdout


@pytest.mark.parametrize(
    ("trigger", "expected"),
    [
        (TAG_TRIGGER, {TAG}),
        ("on: push\n", {TAG}),
        ("on:\n  push:\n    paths: ['src/**']\n", {TAG}),
        ("on:\n  push:\n    branches: [main]\n", set()),
        ("on:\n  push:\n    tags: ['release-*']\n", set()),
        (RELEASE_PUBLISHED, {RELEASE}),
        ("on:\n  release:\n    types: [created, edited]\n", {RELEASE}),
        ("on:\n  release:\n    types: [prereleased, deleted]\n", set()),
        ("on: [release, workflow_dispatch]\n", {RELEASE}),
        (TAG_TRIGGER + "  release:\n", {TAG, RELEASE}),
    ],
)
def test_what_starts_a_workflow_follows_github_event_rules(tmp_path: Path, trigger: str, expected: set[str]) -> None:
    path = tmp_path / "publish.yml"
    path.write_text(textwrap.dedent(trigger) + "jobs:\n  noop:\n    runs-on: ubuntu-latest\n", encoding="utf-8")
    assert starts(path, "v{version}") == expected
