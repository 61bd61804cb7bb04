"""`relsafe init` on projects as they are: configuration only, never surgery.

A remote not on GitHub still gets both files; no workflow relsafe did not write is rewritten, by init or
`init --update` (and `--force` is gone); an existing release.toml only gains what it lacks, comments and
values kept; the environment, test extras, groups, paths and command the project declares are read and said.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from relsafe.app.sample import SampleProject
from relsafe.model.publish_workflow import DEFAULT_WORKFLOW
from relsafe.tools.localindex import LocalIndex
from relsafe.wheeltest.declared import declared_tests
from tests.support.cli import RunRelsafe, relsafe_env
from tests.support.files import write
from tests.support.git import commit_all, git
from tests.support.osv_service import OsvService

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

WIDE = relsafe_env(COLUMNS="300")

# A project's own CI: lint, tests, docs and an upload from a protected environment (238 lines in the real one).
MAIN_YML = """\
name: main
on:
  push:
    branches: [main]
    tags: ["v*"]
permissions: {}
jobs:
  lint:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2
        with:
          persist-credentials: false
      - run: pipx run ruff check .
  tests:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2
        with:
          persist-credentials: false
      - run: pipx run tox
  publish:
    needs: [lint, tests]
    if: startsWith(github.ref, 'refs/tags/')
    runs-on: ubuntu-latest
    environment:
      name: release-pypi
      url: https://pypi.org/p/relsafe-sample
    permissions:
      id-token: write
    steps:
      - uses: actions/download-artifact@fa0a91b85d4f404e444e00e005971372dc801d16 # v4.1.8
      - uses: pypa/gh-action-pypi-publish@76f52bc884231f62b9a034ebfe128415bbaabdfc # v1.12.4
"""


@pytest.fixture
def osv() -> Iterator[OsvService]:
    """A loopback OSV service, for the audit of the dependency the tests extra brings."""
    with OsvService() as service:
        yield service


def without_relsafe_files(sample: SampleProject) -> None:
    """The sample as a project that has never met relsafe: no workflow of relsafe's, release.toml kept only for
    its local indexes (set again by the caller when it wants one)."""
    git(sample.root, "rm", "-q", DEFAULT_WORKFLOW)
    git(sample.root, "commit", "-qm", "before relsafe")


@pytest.mark.slow
@pytest.mark.parametrize("remote", ["bare", "https://gitlab.com/acme/widget.git", None])
def test_init_without_github_writes_both_files_and_says_what_it_could_not_derive(
    remote: str | None, sample: SampleProject, run_relsafe: RunRelsafe
) -> None:
    root = sample.root
    without_relsafe_files(sample)
    (root / "release.toml").unlink()
    if remote is None:
        git(root, "remote", "remove", "origin")
    elif remote != "bare":
        git(root, "remote", "set-url", "origin", remote)
    done = run_relsafe("init", cwd=root, env=WIDE)
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert f"wrote {root / 'release.toml'}" in out
    assert f"wrote {root / DEFAULT_WORKFLOW}" in out
    where = "does not exist" if remote is None else "is not on github.com"
    assert "not derived: the remote 'origin' " in out and where in out, out
    assert "OWNER" in out and "REPO" in out and "Owner" in out
    if remote is not None and remote != "bare":
        assert "gitlab.com/acme/widget" in out
    assert run_relsafe("audit", cwd=root).returncode == 0


@pytest.mark.slow
def test_init_never_rewrites_a_workflow_it_did_not_write_and_force_is_gone(
    sample: SampleProject, run_relsafe: RunRelsafe
) -> None:
    """[publish] workflow names the project's main.yml: init keeps it and says why; --update refuses it before
    writing anything; --force is refused; main.yml stays byte for byte, release.toml only gains its environment."""
    root = sample.root
    without_relsafe_files(sample)
    main = root / ".github" / "workflows" / "main.yml"
    write(root, ".github/workflows/main.yml", MAIN_YML)
    with (root / "release.toml").open("a", encoding="utf-8") as config:
        config.write('\n[publish]\nworkflow = ".github/workflows/main.yml"   # ours: lint, tests, docs\n')
    commit_all(sample, "the project's own CI")
    config_before = (root / "release.toml").read_text(encoding="utf-8")
    git(root, "remote", "set-url", "origin", "git@github.com:acme/widget.git")

    done = run_relsafe("init", cwd=root, env=WIDE)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"kept {main}: it is the project's own workflow" in done.stdout
    assert "init never rewrites it" in done.stdout and "audit-only" in done.stdout
    for args in (("init", "--update"), ("init", "--force")):
        refused = run_relsafe(*args, cwd=root, env=WIDE)
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert "Traceback" not in refused.stderr
    assert "never rewrites it" in run_relsafe("init", "--update", cwd=root, env=WIDE).stderr
    assert main.read_text(encoding="utf-8") == MAIN_YML
    config_after = (root / "release.toml").read_text(encoding="utf-8")
    assert config_after.startswith(config_before), "only added to: the environment main.yml uses"
    assert tomllib.loads(config_after)["publish"]["environment"] == "release-pypi"
    assert not (root / DEFAULT_WORKFLOW).exists()
    audited = run_relsafe("audit", cwd=root, env=WIDE)
    assert audited.returncode != 0 and "never rewrites" in audited.stdout, audited.stdout


@pytest.mark.slow
def test_init_beside_a_publishing_workflow_writes_its_own_with_that_environment(
    sample: SampleProject, run_relsafe: RunRelsafe
) -> None:
    """The project's main.yml uploads from `release-pypi`: relsafe's workflow uses the same environment,
    release.toml says so, the printed publisher matches, and main.yml is named, not changed."""
    root = sample.root
    without_relsafe_files(sample)
    main = root / ".github" / "workflows" / "main.yml"
    write(root, ".github/workflows/main.yml", MAIN_YML)
    commit_all(sample, "the project's own CI")
    git(root, "remote", "set-url", "origin", "https://github.com/acme/widget.git")

    done = run_relsafe("init", cwd=root, env=WIDE)
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert main.read_text(encoding="utf-8") == MAIN_YML
    assert 'read [publish] environment = "release-pypi": the environment job `publish` of ' in out
    assert any("Environment name" in line and "release-pypi" in line for line in out.splitlines()), out
    assert "Create the environment 'release-pypi'" in out and "'pypi'" not in out
    assert "also publishes to PyPI: .github/workflows/main.yml" in out
    workflow = (root / DEFAULT_WORKFLOW).read_text(encoding="utf-8")
    assert "name: release-pypi" in workflow
    config = tomllib.loads((root / "release.toml").read_text(encoding="utf-8"))
    assert config["publish"]["environment"] == "release-pypi"
    assert config["staging"], "the sample's own settings stay"


@pytest.mark.slow
def test_init_adds_only_what_release_toml_lacks_keeping_comments_and_values(
    sample: SampleProject, run_relsafe: RunRelsafe
) -> None:
    root = sample.root
    with (root / "pyproject.toml").open("a", encoding="utf-8") as pyproject:
        pyproject.write('\n[project.optional-dependencies]\ntests = ["pyproject-hooks"]\n')
    with (root / "release.toml").open("a", encoding="utf-8") as config:
        config.write('\n[test]\nrequires = ["pytest"]   # the runner we use\n# groups = []  # none yet\n')
    commit_all(sample, "a tests extra")
    before = (root / "release.toml").read_text(encoding="utf-8")

    done = run_relsafe("init", cwd=root, env=WIDE)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f'added to {root / "release.toml"} (your settings kept): [test] extras = ["tests"]' in done.stdout, (
        done.stdout
    )
    assert 'read [test] extras = ["tests"]: read from pyproject.toml [project.optional-dependencies]' in done.stdout
    after = (root / "release.toml").read_text(encoding="utf-8")
    assert after.startswith(before.rstrip("\n")), "every line of the maintainer's file stays as it was"
    assert "# the runner we use" in after and "# groups = []  # none yet" in after
    assert "added by relsafe init: read from pyproject.toml [project.optional-dependencies]" in after
    assert tomllib.loads(after)["test"] == {"requires": ["pytest"], "extras": ["tests"]}

    again = run_relsafe("init", cwd=root, env=WIDE)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "your settings were used" in again.stdout and "added to" not in again.stdout
    assert (root / "release.toml").read_text(encoding="utf-8") == after


@pytest.mark.slow
def test_init_merges_into_tool_relsafe_in_pyproject(sample: SampleProject, run_relsafe: RunRelsafe) -> None:
    root = sample.root
    staging = (root / "release.toml").read_text(encoding="utf-8")
    (root / "release.toml").unlink()
    indented = "\n".join(line.strip() for line in staging.splitlines())
    tables = indented.replace("[staging]", "[tool.relsafe.staging]").replace(
        "[production]", "[tool.relsafe.production]"
    )
    with (root / "pyproject.toml").open("a", encoding="utf-8") as pyproject:
        pyproject.write(f'\n[dependency-groups]\ntesting = ["pytest"]\n{tables}\n')
    commit_all(sample, "relsafe configured in pyproject.toml")
    done = run_relsafe("init", cwd=root, env=WIDE)
    assert done.returncode == 0, done.stdout + done.stderr
    assert not (root / "release.toml").exists()
    document = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    assert document["tool"]["relsafe"]["test"] == {"groups": ["testing"]}
    assert document["tool"]["relsafe"]["staging"]["index-url"].startswith("http://127.0.0.1:")


@pytest.mark.slow
def test_the_extra_init_reads_makes_the_first_rehearsal_pass(
    sample: SampleProject, run_relsafe: RunRelsafe, osv: OsvService, loopback_only: LocalIndex
) -> None:
    """The tests import what only the project's `tests` extra installs: the rehearsal fails on the import
    until init has read the extra into release.toml, then passes. The session's loopback index plays
    production (it serves the extra's dependency to verify-stage), the loopback OSV service the advisories."""
    root = sample.root
    with (root / "pyproject.toml").open("a", encoding="utf-8") as pyproject:
        pyproject.write('\n[project.optional-dependencies]\ntests = ["pyproject-hooks"]\n')
    write(root, "tests/test_hooks.py", "import pyproject_hooks\n\n\ndef test_hooks():\n    assert pyproject_hooks\n")
    config = (root / "release.toml").read_text(encoding="utf-8")
    production = re.sub(r'(\[production\]\s*index-url = )"[^"]*"', rf'\1"{loopback_only.index_url}"', config)
    (root / "release.toml").write_text(production + f'\n[audit-deps]\nosv-url = "{osv.query_url}"\n', encoding="utf-8")
    commit_all(sample, "tests that need the tests extra")
    failed = run_relsafe("release", "patch", "--dry-run", cwd=root, env=WIDE)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    logs = "".join(log.read_text(encoding="utf-8") for log in (root / ".git" / "relsafe" / "logs").glob("*.log"))
    assert "No module named 'pyproject_hooks'" in logs

    done = run_relsafe("init", cwd=root, env=WIDE)
    assert done.returncode == 0, done.stdout + done.stderr
    commit_all(sample, "relsafe init")
    rehearsed = run_relsafe("release", "patch", "--dry-run", cwd=root, env=WIDE)
    assert rehearsed.returncode == 0, rehearsed.stdout + rehearsed.stderr
    assert "rehearsal passed" in rehearsed.stdout


# -- what the project declares, read from its own files -------------------------------------------------------


def project(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in {"pyproject.toml": '[project]\nname = "p"\nversion = "1"\n', **files}.items():
        write(tmp_path, name, text)
    (tmp_path / "tests").mkdir(exist_ok=True)
    (tmp_path / ".git").mkdir(exist_ok=True)  # pytest's settings are looked for up to the repository's top
    return tmp_path


PYPROJECT_WITH = '[project]\nname = "p"\nversion = "1"\n'


@pytest.mark.parametrize(
    ("files", "settings"),
    [
        ({}, {}),
        (
            {"pyproject.toml": PYPROJECT_WITH + '[project.optional-dependencies]\nTesting = ["x"]\ndocs = ["y"]\n'},
            {"extras": ["Testing"]},
        ),
        (
            {"pyproject.toml": PYPROJECT_WITH + '[dependency-groups]\ntests = ["x"]\ndev = ["y"]\n'},
            {"groups": ["tests"]},
        ),
        ({"pytest.ini": "[pytest]\ntestpaths = tests integration\n"}, {}),
        (
            {"pytest.ini": "[pytest]\ntestpaths =\n    tests\n    integration\n", "integration/test_x.py": ""},
            {"paths": ["tests", "integration"]},
        ),
        ({"setup.cfg": "[tool:pytest]\ntestpaths = tests/unit\n", "tests/unit/test_x.py": ""}, {}),
        ({"setup.cfg": "[tool:pytest]\ntestpaths = testing\n", "testing/test_x.py": ""}, {"paths": ["testing"]}),
        ({"pytest.ini": "[pytest]\ntestpaths = src/p/tests\n", "src/p/tests/test_x.py": ""}, {}),
        ({"tox.ini": "[testenv]\ncommands = pytest {posargs} tests\n"}, {}),
        (
            {"tox.ini": "[testenv]\ncommands = pytest -x {posargs:tests/unit}\n", "tests/unit/test_x.py": ""},
            {"command": "python -m pytest -q -x tests/unit"},
        ),
        ({"tox.ini": "[testenv]\ncommands =\n    poetry install -v\n    poetry run pytest tests/\n"}, {}),
        ({"tox.ini": "[testenv]\ncommands = pytest --cov=p tests\n"}, {}),
        (
            {
                "pyproject.toml": PYPROJECT_WITH + '[tool.hatch.envs.test.scripts]\ntest = "pytest -v {args:tests}"\n',
            },
            {"command": "python -m pytest -v tests"},
        ),
        ({"noxfile.py": 'def tests(session):\n    session.run("pytest", "tests/")\n'}, {}),
        (
            {
                "noxfile.py": 'def tests(session):\n    session.install("pytest")\n'
                '    session.run("py.test", "-k", "not slow", "tests/", *session.posargs)\n'
            },
            {"command": "python -m pytest -q -k 'not slow' tests"},
        ),
        ({"noxfile.py": 'def t(session):\n    session.run("pytest", "a")\n    session.run("pytest", "b")\n'}, {}),
    ],
    ids=[
        "nothing",
        "extra",
        "group",
        "testpaths-missing-folder",
        "testpaths",
        "setup-cfg-subfolder",
        "setup-cfg",
        "testpaths-in-src",
        "tox-default",
        "tox-args",
        "tox-two-commands",
        "tox-plugin-option",
        "hatch",
        "nox-default",
        "nox-args",
        "nox-two",
    ],
)
def test_declared_tests_reads_only_what_is_plainly_declared(
    tmp_path: Path, files: dict[str, str], settings: dict[str, object]
) -> None:
    assert declared_tests(project(tmp_path, files)).settings == settings


def test_declared_tests_finds_a_testing_folder_and_says_where_each_value_came_from(tmp_path: Path) -> None:
    root = project(tmp_path, {"pyproject.toml": PYPROJECT_WITH + '[dependency-groups]\ntest = ["x"]\n'})
    (root / "tests").rmdir()
    (root / "testing").mkdir()
    found = declared_tests(root)
    assert found.settings == {"groups": ["test"], "paths": ["testing"]}
    assert found.sources == {"groups": "pyproject.toml [dependency-groups]", "paths": "the project's folders"}
