"""The smoke folder carries the pytest settings pytest itself would read in the tree, by pytest's own rules.

pytest's `locate_config` (the pytest these tests run with) is the oracle for which file wins; a real pytest run
in the tree and in the smoke folder shows that a suite failing in the tree (`filterwarnings = ["error"]`) fails in
smoke too, whichever file holds that setting.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from _pytest.config.findpaths import locate_config

from relsafe.app.sample import SampleProject
from relsafe.core.errors import StepFailed
from relsafe.tools.localindex import LocalIndex
from relsafe.wheeltest.folder import pytest_settings, smoke_folder
from tests.support.cli import RunRelsafe
from tests.support.files import write
from tests.support.git import commit_all, git
from tests.support.world import world

WARNING_TEST = """
import warnings


def test_warns():
    warnings.warn("deprecated on purpose", DeprecationWarning)
"""

# Each source of pytest's settings, holding `filterwarnings = error` in its own syntax.
SOURCES = {
    "pytest.toml": ("pytest.toml", '[pytest]\nfilterwarnings = ["error"]\n'),
    ".pytest.toml": (".pytest.toml", '[pytest]\nfilterwarnings = ["error"]\n'),
    "pytest.ini": ("pytest.ini", "[pytest]\nfilterwarnings =\n    error\n"),
    ".pytest.ini": (".pytest.ini", "[pytest]\nfilterwarnings = error\n"),
    "[tool.pytest]": ("pyproject.toml", '[project]\nname = "x"\n\n[tool.pytest]\nfilterwarnings = ["error"]\n'),
    "[tool.pytest.ini_options]": (
        "pyproject.toml",
        '[project]\nname = "x"\n\n[tool.pytest.ini_options]\nfilterwarnings = ["error"]\n',
    ),
    "tox.ini": ("tox.ini", "[tox]\nenvlist = py3\n\n[pytest]\nfilterwarnings = error\n"),
    "setup.cfg": ("setup.cfg", "[metadata]\nname = x\n\n[tool:pytest]\nfilterwarnings = error\n"),
}


def project(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    for name, text in {"tests/test_warns.py": WARNING_TEST, **files}.items():
        write(root, name, text)
    return root


def run_pytest(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
    )


def chosen_by_pytest(root: Path) -> str | None:
    """The file pytest itself takes its settings from, started at `root`, relative to it."""
    _rootdir, inipath, inicfg, _ = locate_config(root, [root])
    if inipath is None or (inipath.name == "pyproject.toml" and not inicfg and "pytest" not in inipath.read_text()):
        return None
    return inipath.relative_to(root).as_posix()


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_a_suite_that_fails_in_the_tree_fails_in_the_smoke_folder(tmp_path: Path, source: str) -> None:
    name, text = SOURCES[source]
    root = project(tmp_path, {name: text})
    in_tree = run_pytest(root)
    assert in_tree.returncode == 1 and "deprecated on purpose" in in_tree.stdout, in_tree.stdout

    with smoke_folder(root, ("tests",)) as folder:
        in_smoke = run_pytest(folder.path)
        notes = folder.notes
    assert in_smoke.returncode == 1 and "deprecated on purpose" in in_smoke.stdout, in_smoke.stdout
    assert any(note.startswith(f"pytest settings from {name}") for note in notes), notes


# Two or more sources at once: the one pytest picks (its oracle decides), whatever the others say.
LAYOUTS = {
    "pytest.toml before pytest.ini": ["pytest.toml", "pytest.ini", "[tool.pytest]"],
    "an empty pytest.ini before pyproject": ["empty pytest.ini", "[tool.pytest]"],
    "pyproject before tox.ini and setup.cfg": ["[tool.pytest.ini_options]", "tox.ini", "setup.cfg"],
    "pyproject without pytest's tables: tox.ini": ["pyproject without pytest", "tox.ini", "setup.cfg"],
    "tox.ini without [pytest]: setup.cfg": ["tox.ini without pytest", "setup.cfg"],
    "an empty pytest.toml before everything": ["empty pytest.toml", "pytest.ini", "setup.cfg"],
    "none": ["pyproject without pytest"],
}
EXTRA = {
    "empty pytest.ini": ("pytest.ini", "# nothing\n"),
    "empty pytest.toml": ("pytest.toml", ""),
    "pyproject without pytest": ("pyproject.toml", '[project]\nname = "x"\n\n[tool.black]\nline-length = 100\n'),
    "tox.ini without pytest": ("tox.ini", "[tox]\nenvlist = py3\n"),
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_the_file_carried_is_the_one_pytest_reads(tmp_path: Path, layout: str) -> None:
    files = dict((SOURCES | EXTRA)[source] for source in LAYOUTS[layout])
    root = project(tmp_path, files)
    found = pytest_settings(root)
    expected = chosen_by_pytest(root)
    assert (found.where.split(" ")[0] if found else None) == expected, (found, expected)


def test_settings_in_a_parent_folder_of_the_project_count_up_to_the_repository_top(tmp_path: Path) -> None:
    """A monorepo's package without settings of its own runs with the repository's, as pytest walks up."""
    root = project(tmp_path, {"setup.cfg": SOURCES["setup.cfg"][1]})
    package = root / "packages" / "one"
    write(package, "tests/test_warns.py", WARNING_TEST)
    found = pytest_settings(package)
    assert found is not None and found.where == "setup.cfg [tool:pytest]"
    assert found.options == {"filterwarnings": "error"}


def test_native_types_stay_native_and_the_source_tree_is_left_out(tmp_path: Path) -> None:
    pyproject = """
        [tool.pytest]
        filterwarnings = ["error", "ignore::UserWarning"]
        pythonpath = ["src"]
        addopts = ["-ra", "--rootdir", "."]
        xfail_strict = true
        """
    root = project(tmp_path, {"pyproject.toml": pyproject})
    with smoke_folder(root, ("tests",)) as folder:
        carried = (folder.path / "pytest.toml").read_text(encoding="utf-8")
        notes = folder.notes
    assert carried == textwrap.dedent(
        """\
        [pytest]
        filterwarnings = ["error", "ignore::UserWarning"]
        addopts = ["-ra"]
        xfail_strict = true
        """
    )
    assert "left out pythonpath = src from pyproject.toml [tool.pytest]: it points into the source tree" in notes


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (
            {"pyproject.toml": "[tool.pytest]\naddopts = ['-q']\n\n[tool.pytest.ini_options]\naddopts = '-q'\n"},
            "pyproject.toml: [tool.pytest] and [tool.pytest.ini_options] both hold pytest's options",
        ),
        ({"setup.cfg": "[pytest]\naddopts = -q\n"}, "setup.cfg: pytest fails on a [pytest] section"),
        ({"pytest.toml": "addopts = ['-q']\n"}, "pytest.toml: pytest's options must be in a [pytest] table"),
        ({"pytest.toml": "[pytest\n"}, "pytest.toml: not valid TOML"),
        ({"tox.ini": "[pytest]\naddopts\n"}, "tox.ini: cannot be parsed for pytest's settings"),
        ({"pyproject.toml": "[tool]\npytest = 3\n"}, "pyproject.toml: [tool.pytest]: expected a table"),
    ],
)
def test_settings_pytest_would_refuse_fail_naming_the_file(tmp_path: Path, files: dict[str, str], message: str) -> None:
    root = project(tmp_path, files)
    with pytest.raises(StepFailed, match=None) as caught:
        pytest_settings(root)
    assert caught.value.message.startswith(message) or message in caught.value.message, caught.value.message
    assert "\n" not in caught.value.message


@pytest.mark.slow
def test_a_release_whose_tests_fail_on_a_warning_in_the_tree_fails_smoke(
    sample: SampleProject, run_relsafe: RunRelsafe, local_index: LocalIndex
) -> None:
    """pytest 9's native table, with the source tree on pythonpath as projects have it: the tree fails, and so
    does the smoke step against the installed wheel; nothing reaches the remote or the staging index, and abort
    leaves the repository as it was."""
    pyproject = sample.root / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text(encoding="utf-8") + '\n[tool.pytest]\nfilterwarnings = ["error"]\npythonpath = ["src"]\n',
        encoding="utf-8",
    )
    write(sample.root, "tests/test_warns.py", WARNING_TEST)
    commit_all(sample, "Warnings are errors")
    in_tree = run_pytest(sample.root)
    assert in_tree.returncode == 1 and "deprecated on purpose" in in_tree.stdout, in_tree.stdout
    before = world(sample)

    proc = run_relsafe("release", "minor", cwd=sample.root)

    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output
    assert "pytest settings from pyproject.toml [tool.pytest] (as pytest.toml)" in output
    assert "the tests failed against the installed wheel" in output
    assert git(sample.remote, "tag", "--list") == ""
    assert list(local_index.storage.iterdir()) == []
    aborted = run_relsafe("abort", cwd=sample.root)
    assert aborted.returncode == 0, aborted.stdout + aborted.stderr
    assert world(sample) == before
