"""relsafe owns the publish path: the workflow PyPI trusts is relsafe's rendering for release.toml, exactly, and no
other workflow can publish to PyPI; a project that keeps its own says so, and nothing then claims what it publishes.

Real sample projects in real git repositories, through the real CLI: the
workflow drifted from release.toml (another staging index), each edit of it
(a step added, the hash check disabled, a guard, another tag pattern or
environment), a second path to PyPI in every spelling, the opt-out
(`workflow-check = "audit-only"`) and its wording, one publishing on branch
pushes (PyPA's sample project) or only on GitHub Releases (exit 4), and a
release with `[publish] trigger = "release"` that says what is left. Every
refused release leaves the repository, its remote and the staging index as
they were.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from relsafe.app.sample import SampleProject
from relsafe.model.publish_workflow import DEFAULT_WORKFLOW
from relsafe.security.workflow.audit import RELEASE, TAG, publishing_workflows, starts
from relsafe.security.workflow.model import Workflow
from relsafe.security.workflow.ownership import PublishPath, second_paths
from relsafe.tools.localindex import LocalIndex
from tests.support.cli import RunRelsafe, relsafe_env
from tests.support.git import git
from tests.support.processes import kill_at
from tests.support.release_config import release_toml, rewrite_workflow
from tests.support.world import assert_released, journal_dir, release_logs, world, zizmor_runs

WORKFLOWS = Path(".github/workflows")
OWNED = Path(DEFAULT_WORKFLOW)
CLAIM = "exactly the tested"  # what no output may say of a workflow relsafe did not write
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


def released_line(stdout: str) -> str:
    """The `released …` line: the release's verdict, before the `next:` line that names what to do."""
    return next(line for line in reversed(stdout.strip().splitlines()) if line.startswith("released "))


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
    return (sample.root / OWNED).read_text(encoding="utf-8")


def with_trigger(sample: SampleProject, trigger: str) -> str:
    """The sample's own publish workflow, started by `trigger` instead of the release tag."""
    text = publish_yml(sample)
    assert TAG_TRIGGER in text
    return text.replace(TAG_TRIGGER, trigger)


def preflight_only(index: LocalIndex, publish: str = "", steps: str = '["preflight"]') -> str:
    """release.toml that runs preflight alone (or `steps`): a release that passes it changes nothing."""
    foundation = 'steps = ["preflight", "bump", "build", "tag", "push"]'
    text = release_toml(index).replace(foundation, f"steps = {steps}")
    assert f"steps = {steps}" in text
    return text + (f"\n[publish]\n{publish}\n" if publish else "")


def configure(sample: SampleProject, toml: str) -> None:
    """A new release.toml and relsafe's workflow for it (`relsafe init --update`), committed and pushed."""
    (sample.root / "release.toml").write_text(toml, encoding="utf-8")
    rewrite_workflow(sample.root)
    git(sample.root, "add", "-A")
    git(sample.root, "commit", "-q", "-m", "Release configuration and its workflow")
    git(sample.root, "push", "-q", "origin", "main")


def staged(index: LocalIndex) -> list[str]:
    return sorted(path.name for path in index.storage.rglob("*") if path.is_file())


def refused(sample: SampleProject, run_relsafe: RunRelsafe, code: int, index: LocalIndex | None = None) -> str:
    """Run a release that must stop with `code` and leave the repository, its remote, the staging index and no
    release behind."""
    before, files = world(sample), staged(index) if index else []
    proc = run_relsafe("release", "minor", cwd=sample.root)
    assert proc.returncode == code, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert world(sample) == before
    assert (staged(index) if index else []) == files
    assert not (journal_dir(sample) / "state.json").exists()
    return proc.stderr


# -- relsafe's workflow, exactly ---------------------------------------------------------------------------


def test_a_workflow_drifted_from_release_toml_is_refused_with_the_diff_until_init_update_rewrites_it(
    sample: SampleProject, local_index: LocalIndex, run_relsafe: RunRelsafe
) -> None:
    """[staging] edited after `init`: the committed workflow still promotes from the old index. The release stops
    before anything changes, says where the difference is and how to fix it, and shows the diff."""
    config = sample.root / "release.toml"
    old = local_index.index_url
    new = old.replace("127.0.0.1", "localhost")
    config.write_text(config.read_text(encoding="utf-8").replace(f'index-url = "{old}"', f'index-url = "{new}"', 1))
    change(sample, {"release.toml": config.read_text(encoding="utf-8")})

    stderr = refused(sample, run_relsafe, 4, local_index)

    first = next(line for line in stderr.splitlines() if line.startswith("error:"))
    assert f"{OWNED} at " in first and "is not relsafe's workflow for release.toml" in first, first
    assert f"jobs.prepare.env.STAGING_INDEX_URL is `{old}` where relsafe writes `{new}`" in first, first
    assert "`relsafe init --update` rewrites it" in first
    assert f"-      STAGING_INDEX_URL: '{old}'" in stderr and f"+      STAGING_INDEX_URL: '{new}'" in stderr
    audited = run_relsafe("audit", cwd=sample.root)
    assert audited.returncode == 4 and "publish-workflow-differs" in audited.stdout, audited.stdout

    updated = run_relsafe("init", "--update", cwd=sample.root)

    assert updated.returncode == 0, updated.stdout + updated.stderr
    assert f"wrote {sample.root / OWNED}" in updated.stdout
    assert f"STAGING_INDEX_URL: '{new}'" in publish_yml(sample)
    assert run_relsafe("audit", cwd=sample.root).returncode == 0
    again = run_relsafe("init", "--update", cwd=sample.root)
    assert f"{OWNED} is already relsafe's workflow for release.toml" in again.stdout


STAGED = '["preflight", "bump", "build", "stage"]'  # the workflow that promotes staged files; preflight refuses first
UPLOAD = "      - uses: actions/upload-artifact"
CHECK = "        if actual != expected:"

# (id, the edit, what the one-line reason says, the release's steps)
EDITS = [
    (
        "a step overwriting a verified file",
        lambda text: text.replace(
            UPLOAD,
            '      - run: cp "$RUNNER_TEMP/other.whl" "$RUNNER_TEMP/dist/relsafe_sample-0.2.0-py3-none-any.whl"\n'
            + UPLOAD,
            1,
        ),
        "jobs.prepare.steps[4] was added: `run: cp",
        STAGED,
    ),
    (
        "the hash check disabled",
        lambda text: text.replace(CHECK, "        if actual != expected and False:", 1),
        "jobs.prepare.steps[3].run, line ",
        STAGED,
    ),
    (
        "a guard that never holds on a tag push",
        lambda text: text.replace(
            "    needs: prepare\n", "    needs: prepare\n    if: github.event_name == 'release'\n"
        ),
        "jobs.publish.if was added: `github.event_name == 'release'`",
        STAGED,
    ),
    (
        "another tag pattern",
        lambda text: text.replace("      - 'v*'", "      - 'release-*'"),
        "on.push.tags[1] is `release-*` where relsafe writes `v*`",
        STAGED,
    ),
    (
        "another environment",
        lambda text: text.replace("      name: pypi\n", "      name: production\n"),
        "jobs.publish.environment.name is `production` where relsafe writes `pypi`",
        STAGED,
    ),
    (
        "wider permissions on the rebuild",
        lambda text: text.replace("permissions: {}\n", "permissions: read-all\n", 1),
        "permissions is `read-all` where relsafe writes `{}`",
        '["preflight"]',
    ),
]


@pytest.mark.parametrize(("edit", "reason", "steps"), [case[1:] for case in EDITS], ids=[case[0] for case in EDITS])
def test_every_edit_of_relsafes_workflow_is_refused_naming_it(
    release_sample: SampleProject,
    empty_index: LocalIndex,
    run_relsafe: RunRelsafe,
    edit: Callable[[str], str],
    reason: str,
    steps: str,
) -> None:
    sample = release_sample
    configure(sample, preflight_only(empty_index, steps=steps))
    edited = edit(publish_yml(sample))
    assert edited != publish_yml(sample), "the edit applies to the rendered workflow"
    change(sample, {str(OWNED): edited})

    stderr = refused(sample, run_relsafe, 4, empty_index)

    first = next(line for line in stderr.splitlines() if line.startswith("error:"))
    assert "is not relsafe's workflow for release.toml" in first and reason in first, first
    assert "relsafe's rendering" in stderr, "the diff is shown"


# A relsafe upgraded while a release was stopped: it renders the workflow otherwise (another runner image).
UPGRADED = """
import runpy

import relsafe.security.workflow.ownership as ownership

rendered = ownership.expected_workflow
ownership.expected_workflow = lambda *args, **kwargs: rendered(*args, **kwargs).replace(
    "runs-on: ubuntu-latest", "runs-on: ubuntu-24.04"
)
runpy.run_module("relsafe", run_name="__main__")
"""


@pytest.mark.slow
def test_a_resumed_release_checks_the_workflow_at_the_release_commit_before_tag_and_push(
    release_sample: SampleProject, run_relsafe: RunRelsafe
) -> None:
    sample = release_sample
    base = git(sample.root, "rev-parse", "HEAD")
    kill_at(sample, "after-bump-commit")
    bump = git(sample.root, "rev-parse", "HEAD")
    before = world(sample)

    upgraded = subprocess.run(
        [sys.executable, "-c", UPGRADED, "resume"],
        cwd=sample.root,
        env=relsafe_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert upgraded.returncode == 4, upgraded.stdout + upgraded.stderr
    first = next(line for line in upgraded.stderr.splitlines() if line.startswith("error:"))
    assert first.startswith("error: tag not started, the world changed since preflight: "), first
    assert f"{OWNED} at {bump[:12]} is not relsafe's workflow for release.toml: " in first, first
    assert "jobs.build.runs-on is `ubuntu-latest` where relsafe writes `ubuntu-24.04`" in first, first
    assert "+    runs-on: ubuntu-24.04" in upgraded.stderr, "the diff is shown"
    assert world(sample) == before, "no tag made, nothing pushed"

    resumed = run_relsafe("resume", cwd=sample.root)

    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert_released(sample, "0.2.0", base)


def test_comments_and_formatting_are_not_a_difference(
    release_sample: SampleProject, empty_index: LocalIndex, run_relsafe: RunRelsafe
) -> None:
    sample = release_sample
    configure(sample, preflight_only(empty_index))
    text = publish_yml(sample)
    flow_style = "    permissions: {contents: read}\n"
    reformatted = "# reviewed by the maintainers\n" + text.replace(
        "permissions: {}", "permissions: {}   # nothing by default"
    ).replace("      - '", '      - "', 1).replace("*'\n", '*"\n', 1).replace(
        "    permissions:\n      contents: read # to check out the tag\n", flow_style, 1
    )
    assert flow_style in reformatted
    assert reformatted != text
    change(sample, {str(OWNED): reformatted})

    passed = run_relsafe("release", "minor", cwd=sample.root)

    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "finished preflight for 0.2.0" in passed.stdout
    assert run_relsafe("audit", cwd=sample.root).returncode == 0


def test_relsafes_workflow_under_the_name_pypi_trusts_is_checked_the_same(
    release_sample: SampleProject, empty_index: LocalIndex, run_relsafe: RunRelsafe
) -> None:
    """[publish] workflow names where relsafe's workflow lives (a publisher registered as pypi.yml)."""
    sample = release_sample
    text = publish_yml(sample)
    change(
        sample,
        {str(OWNED): None, str(WORKFLOWS / "ci.yml"): CI, str(WORKFLOWS / "pypi.yml"): text},
        toml=preflight_only(empty_index, 'workflow = ".github/workflows/pypi.yml"'),
    )
    passed = run_relsafe("release", "minor", cwd=sample.root)
    assert passed.returncode == 0, passed.stdout + passed.stderr

    change(
        sample,
        {
            str(WORKFLOWS / "pypi.yml"): publish_yml_at(sample, "pypi.yml").replace(
                "persist-credentials: false", "fetch-depth: 0"
            )
        },
    )
    stderr = refused(sample, run_relsafe, 4, empty_index)
    assert ".github/workflows/pypi.yml:" in stderr and "checkout-credentials" in stderr
    assert "is not relsafe's workflow" in stderr
    assert "ci.yml" not in stderr


def publish_yml_at(sample: SampleProject, name: str) -> str:
    return (sample.root / WORKFLOWS / name).read_text(encoding="utf-8")


def test_no_publishing_workflow_is_refused_with_the_way_to_write_one(
    release_sample: SampleProject, run_relsafe: RunRelsafe
) -> None:
    sample = release_sample
    change(sample, {str(OWNED): None, str(WORKFLOWS / "ci.yml"): CI})

    stderr = refused(sample, run_relsafe, 4)

    assert f"no publish workflow at {OWNED}" in stderr and "relsafe init" in stderr


# -- a second path to PyPI ------------------------------------------------------------------------------------


def test_another_publishing_workflow_is_a_second_path_to_pypi(
    release_sample: SampleProject, empty_index: LocalIndex, run_relsafe: RunRelsafe
) -> None:
    sample = release_sample
    change(
        sample,
        {
            str(WORKFLOWS / "ci.yml"): CI,
            str(WORKFLOWS / "tox-release.yml"): steps_job("      - run: |\n          uv \\\n            publish\n"),
        },
    )

    stderr = refused(sample, run_relsafe, 4, empty_index)

    assert (
        ".github/workflows/tox-release.yml:7: second-publish-path: a second path to PyPI: job `release` runs " in stderr
    )
    assert "`uv publish`" in stderr and f"beside {OWNED}" in stderr
    assert "ci.yml" not in stderr
    # zizmor, started on the trusted workflow alone before the audit knew of the second, ran again on both
    runs = sorted([Path(file).name for file in run] for run in zizmor_runs(release_logs(sample)))
    assert runs == [["relsafe-publish.yml"], ["relsafe-publish.yml", "tox-release.yml"]]
    audited = run_relsafe("audit", cwd=sample.root)
    assert "second-publish-path" in audited.stdout and audited.returncode == 4


def test_a_composite_action_wrapping_the_publish_action_is_a_second_path(
    release_sample: SampleProject, empty_index: LocalIndex, run_relsafe: RunRelsafe
) -> None:
    sample = release_sample
    wrapper = f"name: release\nruns:\n  using: composite\n  steps:\n    - uses: {PUBLISH_PIN}\n"
    workflow = (
        "name: wrapped\non:\n  push:\n    tags: ['v*']\npermissions: {}\njobs:\n  ship:\n"
        "    runs-on: ubuntu-latest\n    environment: pypi\n    permissions:\n      id-token: write\n"
        "    steps:\n      - uses: ./.github/actions/ship\n"
    )
    change(sample, {".github/actions/ship/action.yml": wrapper, str(WORKFLOWS / "wrapped.yml"): workflow})

    stderr = refused(sample, run_relsafe, 4, empty_index)

    assert "wrapped.yml:7: second-publish-path" in stderr, stderr
    assert "uses ./.github/actions/ship, a composite action whose step uses pypa/gh-action-pypi-publish@" in stderr


def test_a_workflow_that_only_uploads_to_testpypi_is_not_a_path_to_pypi(tmp_path: Path) -> None:
    folder = tmp_path / WORKFLOWS
    folder.mkdir(parents=True)
    (folder / "test-pypi.yml").write_text(
        tox_release("twine upload --repository-url https://test.pypi.org/legacy/ dist/*")
    )

    found = second_paths(Workflow.load(folder / "test-pypi.yml"), PublishPath(str(OWNED), "exact", ""))
    assert found == []


PUBLISH_PIN = "pypa/gh-action-pypi-publish@ed0c53931b1dc9bd32cbe73a98c7f6766f8a527e"


def steps_job(steps: str, env: str = "") -> str:
    return (
        "name: release\non:\n  push:\n    tags: ['v*']\npermissions: {}\njobs:\n  release:\n"
        f"    runs-on: ubuntu-latest\n{env}    steps:\n{steps}"
    )


@pytest.mark.parametrize(
    ("steps", "publishes"),
    [
        ("      - run: uv publish\n", True),
        ("      - run: |\n          uv \\\n            publish --trusted-publishing always\n", True),
        ("      - run: pipx run uv publish\n", True),
        ("      - run: uvx uv publish\n", True),
        ("      - run: uvx twine upload dist/*\n", True),
        ("      - run: python -m twine upload dist/*\n", True),
        ("      - run: uv --directory pkg --verbose publish\n", True),
        ("      - run: /opt/venv/bin/uv publish\n", True),
        ("      - run: hatch -v publish\n", True),
        ("      - run: poetry publish --build\n", True),
        ("      - run: flit publish\n", True),
        ("      - run: pdm publish\n", True),
        ("      - run: maturin upload target/wheels/*\n", True),
        ("      - run: python setup.py sdist upload\n", True),
        ("      - run: make dist && uv publish\n", True),
        ("      - run: uv build\n", False),
        ("      - run: uv run publish-notes\n", False),
        ("      - run: uv pip install twine\n", False),
        ("      - run: hatch build && hatch run test\n", False),
        (f"      - uses: {PUBLISH_PIN}\n", True),
        ("      - uses: someone/gh-action-pypi-publish@0123456789abcdef0123456789abcdef01234567\n", True),
        ("      - uses: docker://ghcr.io/pypa/gh-action-pypi-publish:release-v1\n", True),
        ("      - run: ./scripts/release\n        env:\n          TOKEN: ${{ secrets.PYPI_API_TOKEN }}\n", True),
        ("      - run: ./scripts/release\n        env:\n          UV_PUBLISH_TOKEN: ${{ secrets.X }}\n", True),
        ("      - uses: some/upload-action@v1\n        with:\n          password: ${{ secrets.TOKEN }}\n", True),
        ("      - run: ./scripts/coverage\n        env:\n          TOKEN: ${{ secrets.CODECOV_TOKEN }}\n", False),
    ],
)
def test_every_spelling_of_an_upload_counts_as_publishing(tmp_path: Path, steps: str, publishes: bool) -> None:
    folder = tmp_path / WORKFLOWS
    folder.mkdir(parents=True)
    (folder / "release.yml").write_text(steps_job(steps), encoding="utf-8")
    (folder / "ci.yml").write_text(CI, encoding="utf-8")

    assert publishing_workflows(tmp_path) == ([".github/workflows/release.yml"] if publishes else [])


def test_a_token_handed_to_the_job_and_a_composite_action_nested_twice_count_as_publishing(tmp_path: Path) -> None:
    folder = tmp_path / WORKFLOWS
    folder.mkdir(parents=True)
    env = "    env:\n      PASSWORD: ${{ secrets.TEST_PYPI_PASSWORD }}\n"
    (folder / "job-env.yml").write_text(steps_job("      - run: ./release.sh\n", env), encoding="utf-8")
    outer = tmp_path / ".github/actions/outer"
    inner = tmp_path / ".github/actions/inner"
    outer.mkdir(parents=True)
    inner.mkdir(parents=True)
    composite = "runs:\n  using: composite\n  steps:\n"
    (outer / "action.yaml").write_text(composite + "    - uses: ./.github/actions/inner\n", encoding="utf-8")
    (inner / "action.yml").write_text(composite + "    - run: twine upload dist/*\n      shell: bash\n")
    (folder / "nested.yml").write_text(steps_job("      - uses: ./.github/actions/outer\n"), encoding="utf-8")
    (outer / "action.yaml").write_text(composite + "    - uses: ./.github/actions/outer\n", encoding="utf-8")
    (folder / "cycle.yml").write_text(steps_job("      - uses: ./.github/actions/outer\n"), encoding="utf-8")

    assert publishing_workflows(tmp_path) == [".github/workflows/job-env.yml"], "a cycle of actions publishes nothing"
    (outer / "action.yaml").write_text(composite + "    - uses: ./.github/actions/inner\n", encoding="utf-8")
    assert publishing_workflows(tmp_path) == [
        ".github/workflows/cycle.yml",
        ".github/workflows/job-env.yml",
        ".github/workflows/nested.yml",
    ]


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


# -- init writes its own file and never another -----------------------------------------------------------------


def test_init_writes_its_own_workflow_beside_the_projects_and_names_that_one_a_second_path(
    sample: SampleProject, run_relsafe: RunRelsafe
) -> None:
    root = sample.root
    git(root, "rm", "-q", "release.toml")
    change(sample, {str(OWNED): None, str(WORKFLOWS / "release.yml"): PYPA_RELEASE})
    git(root, "remote", "set-url", "origin", "https://github.com/acme/widget.git")

    done = run_relsafe("init", cwd=root, env=relsafe_env(COLUMNS="300"))

    assert done.returncode == 0, done.stdout + done.stderr
    assert f"wrote {root / OWNED}" in done.stdout
    assert any("Workflow name" in line and "relsafe-publish.yml" in line for line in done.stdout.splitlines())
    assert (root / WORKFLOWS / "release.yml").read_text(encoding="utf-8") == PYPA_RELEASE, "never rewritten"
    assert "also publishes to PyPI: .github/workflows/release.yml, a second path to PyPI" in done.stdout
    assert "workflow =" not in (root / "release.toml").read_text(encoding="utf-8").replace("# workflow", "")


# -- the opt-out: the project's own workflow, audited, never vouched for -----------------------------------------


def own_workflow(sample: SampleProject) -> str:
    """The project's own publish workflow: relsafe's, with a step of the project's (no longer relsafe's)."""
    return publish_yml(sample).replace(
        "      - name: Check the rebuilt files",
        '      - run: ls -l "$RUNNER_TEMP"\n      - name: Check the rebuilt files',
    )


def test_audit_only_keeps_the_projects_workflow_and_no_output_claims_the_tested_files(
    release_sample: SampleProject, empty_index: LocalIndex, run_relsafe: RunRelsafe
) -> None:
    sample = release_sample
    opt_out = 'workflow = ".github/workflows/release.yml"\nworkflow-check = "audit-only"'
    change(
        sample,
        {str(OWNED): None, str(WORKFLOWS / "release.yml"): own_workflow(sample)},
        toml=release_toml(empty_index) + f"\n[publish]\n{opt_out}\n",
    )
    base = git(sample.root, "rev-parse", "HEAD")
    caveat = (
        "relsafe cannot prove what .github/workflows/release.yml will publish: [publish] workflow-check = "
        '"audit-only" keeps the project\'s own workflow, which relsafe audits but did not write'
    )

    proc = run_relsafe("release", "minor", cwd=sample.root)

    assert proc.returncode == 0, proc.stdout + proc.stderr
    status = assert_released(sample, "0.2.0", base)
    assert f"preflight: {caveat}" in proc.stdout, "warned at preflight"
    assert released_line(proc.stdout) == f"released 0.2.0: v0.2.0 pushed to origin; {caveat}"
    message = git(sample.root, "for-each-ref", "--format=%(contents)", "refs/tags/v0.2.0")
    assert message.startswith(f"Release 0.2.0\n\n{caveat}.\n\nrelsafe-manifest: 1\n"), message
    assert status["steps"]["preflight"]["outputs"]["workflow_check"] == "audit-only"
    assert status["steps"]["preflight"]["outputs"]["warnings"] == [caveat]
    assert status["steps"]["push"]["outputs"]["unproven"] == caveat
    runs = [[Path(file).name for file in run] for run in zizmor_runs(release_logs(sample))]
    assert runs == [["release.yml"]], "the named workflow, audited by the run preflight started on it"
    shown = run_relsafe("status", cwd=sample.root)
    for text in (proc.stdout, proc.stderr, message, shown.stdout):
        assert CLAIM not in text
    assert caveat in run_relsafe("audit", cwd=sample.root).stdout

    init = run_relsafe("init", "--update", cwd=sample.root)
    assert init.returncode == 2 and "does not rewrite it" in init.stderr


def test_audit_only_still_audits_the_projects_workflow_and_refuses_a_second_path(
    release_sample: SampleProject, empty_index: LocalIndex, run_relsafe: RunRelsafe
) -> None:
    sample = release_sample
    opt_out = 'workflow = ".github/workflows/release.yml"\nworkflow-check = "audit-only"'
    own = own_workflow(sample).replace("persist-credentials: false", "fetch-depth: 0")
    change(
        sample,
        {str(OWNED): None, str(WORKFLOWS / "release.yml"): own, str(WORKFLOWS / "nightly.yml"): tox_release()},
        toml=preflight_only(empty_index, opt_out),
    )

    stderr = refused(sample, run_relsafe, 4, empty_index)

    assert ".github/workflows/release.yml:" in stderr and "checkout-credentials" in stderr
    assert ".github/workflows/nightly.yml:7: second-publish-path" in stderr
    assert "beside .github/workflows/release.yml" in stderr
    assert "not relsafe's workflow" not in stderr, "the project's own workflow is not compared"


def test_audit_only_without_a_named_workflow_refuses_several_exit_2_naming_them(
    release_sample: SampleProject, empty_index: LocalIndex, run_relsafe: RunRelsafe
) -> None:
    sample = release_sample
    change(
        sample,
        {str(WORKFLOWS / "ci.yml"): CI, str(WORKFLOWS / "tox-release.yml"): tox_release()},
        toml=preflight_only(empty_index, 'workflow-check = "audit-only"'),
    )

    stderr = refused(sample, run_relsafe, 2)

    error = next(line for line in stderr.splitlines() if line.startswith("error:"))
    assert str(OWNED) in error and ".github/workflows/tox-release.yml" in error, error
    assert "ci.yml" not in error
    assert "[publish] workflow" in error


def test_an_unknown_workflow_check_exits_2_naming_the_key(
    release_sample: SampleProject, empty_index: LocalIndex, run_relsafe: RunRelsafe
) -> None:
    sample = release_sample
    change(sample, {}, toml=release_toml(empty_index) + '\n[publish]\nworkflow-check = "audit"\n')

    stderr = refused(sample, run_relsafe, 2)

    assert "release.toml: publish.workflow-check:" in stderr and "'audit'" in stderr and "did you mean" in stderr


# -- every publishing workflow is audited: branch pushes ------------------------------


@pytest.mark.parametrize("configured", [True, False], ids=["beside-the-configured-one", "the-only-one"])
def test_a_workflow_publishing_on_branch_pushes_is_refused_naming_file_and_line(
    release_sample: SampleProject, empty_index: LocalIndex, run_relsafe: RunRelsafe, configured: bool
) -> None:
    sample = release_sample
    files: dict[str, str | None] = {str(WORKFLOWS / "release.yml"): PYPA_RELEASE}
    if not configured:
        files[str(OWNED)] = None
    pinned = f'\n[publish]\nworkflow = "{OWNED}"\n'
    toml = release_toml(empty_index) + (pinned if configured else "")
    change(sample, files, toml=toml)
    line = PYPA_RELEASE.splitlines().index("    branches:") + 1

    stderr = refused(sample, run_relsafe, 4, empty_index)

    assert f".github/workflows/release.yml:{line}: branch-push-publish:" in stderr, stderr
    assert "relsafe's own push of the release branch" in stderr
    assert f"{OWNED}:" not in stderr, "relsafe's workflow has nothing wrong"


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
    change(sample, {str(OWNED): with_trigger(sample, trigger)}, toml=toml)

    stderr = refused(sample, run_relsafe, 4)

    assert str(OWNED) in stderr
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
    change(sample, {str(OWNED): with_trigger(sample, RELEASE_PUBLISHED)}, toml=toml)
    base = git(sample.root, "rev-parse", "HEAD")

    proc = run_relsafe("release", "minor", cwd=sample.root)

    assert proc.returncode == 0, proc.stdout + proc.stderr
    status = assert_released(sample, "0.2.0", base)
    last = released_line(proc.stdout)
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
    assert released_line(proc.stdout) == "released 0.2.0: v0.2.0 pushed to origin"
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
