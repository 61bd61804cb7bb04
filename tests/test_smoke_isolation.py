"""The smoke step tests the installed wheel, never the source tree, and proves it while the tests run.

Projects commonly point pytest at their source (`pythonpath = ["src"]`, a root
conftest.py that edits sys.path). Run from a copy inside the repository, the
tests would import the source and pass with a broken wheel. Each test here
releases a real sample whose tests would pass from the source tree, and reads
where the wheel's package was imported from, as the smoke step recorded it.
"""

from __future__ import annotations

from typing import Any

import pytest

from relsafe.app.sample import SampleProject
from tests.support.cli import RunRelsafe
from tests.support.files import write
from tests.support.git import commit_all, git
from tests.support.world import status_json

pytestmark = pytest.mark.slow

MODULE = "relsafe_sample"
WHERE_TEST = f"""
import {MODULE}


def test_where():
    print("imported from", {MODULE}.__file__)
"""


def smoke_outputs(sample: SampleProject) -> dict[str, Any]:
    record = status_json(sample)
    assert record is not None
    outputs: dict[str, Any] = record["steps"]["smoke"]["outputs"]
    return outputs


def assert_tested_installed(sample: SampleProject) -> str:
    """The package the tests imported came from the smoke venv's site-packages; returns that path."""
    imported = smoke_outputs(sample)["environments"][0]["tests"]["imported_from"]
    where = imported[MODULE]
    assert "/site-packages/" in where and "/smoke/venv-0/" in where, imported
    assert not where.startswith(str(sample.root / "src")), where
    print(f"smoke imported {MODULE} from {where}")  # shown with -s or -rP: the closing evidence
    return str(where)


def test_pythonpath_into_src_is_left_out_and_the_wheel_is_tested(
    sample: SampleProject, run_relsafe: RunRelsafe
) -> None:
    pyproject = sample.root / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text() + '\n[tool.pytest.ini_options]\npythonpath = ["src"]\naddopts = "-ra --rootdir=."\n'
    )
    write(sample.root, "tests/test_where.py", WHERE_TEST)
    commit_all(sample, "pytest imports from src")

    proc = run_relsafe("release", "minor", cwd=sample.root)

    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert "left out pythonpath = src from pyproject.toml [tool.pytest.ini_options]" in output
    assert "left out --rootdir from addopts" in output
    print("smoke recorded:", assert_tested_installed(sample))


def test_a_root_pytest_ini_and_conftest_putting_src_first_still_test_the_wheel(
    sample: SampleProject, run_relsafe: RunRelsafe
) -> None:
    write(
        sample.root,
        "pytest.ini",
        "[pytest]\naddopts = --strict-markers\npythonpath = src\nmarkers =\n    slow: slow tests\n",
    )
    write(
        sample.root,
        "conftest.py",
        """
        import sys
        from pathlib import Path

        sys.path.insert(0, str(Path(__file__).parent / "src"))
        """,
    )
    write(
        sample.root,
        "tests/test_where.py",
        WHERE_TEST.replace("def test_where", "import pytest\n\n\n@pytest.mark.slow\ndef test_where"),
    )
    commit_all(sample, "pytest.ini and a root conftest.py put src first")

    proc = run_relsafe("release", "minor", cwd=sample.root)

    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert "copied the root conftest.py beside the tests" in output
    assert "pytest settings from pytest.ini" in output  # markers carried: --strict-markers would need them
    print("smoke recorded:", assert_tested_installed(sample))


def test_a_module_missing_from_the_wheel_fails_smoke_though_src_has_it(
    sample: SampleProject, run_relsafe: RunRelsafe
) -> None:
    pyproject = sample.root / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text()
        + f'\n[tool.hatch.build.targets.wheel]\nexclude = ["src/{MODULE}/extra.py"]\n'
        + '\n[tool.pytest.ini_options]\npythonpath = ["src"]\n'
    )
    write(sample.root, f"src/{MODULE}/extra.py", "ANSWER = 42\n")
    write(
        sample.root,
        "tests/test_extra.py",
        f"from {MODULE} import extra\n\n\ndef test_answer():\n    assert extra.ANSWER == 42\n",
    )
    commit_all(sample, "A module the wheel leaves out")

    proc = run_relsafe("release", "minor", cwd=sample.root)

    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output
    assert "the tests failed against the installed wheel" in output
    assert "extra" in output
    assert git(sample.remote, "tag", "--list") == ""


def test_a_test_that_imports_the_source_tree_anyway_is_caught_by_the_import_record(
    sample: SampleProject, run_relsafe: RunRelsafe
) -> None:
    """A hard-coded sys.path edit defeats any folder isolation; the record made during the run catches it."""
    source = sample.root / "src"
    write(
        sample.root,
        "tests/conftest.py",
        f"""
        import sys

        sys.path.insert(0, {str(source)!r})
        for name in [name for name in sys.modules if name.split(".")[0] == {MODULE!r}]:
            del sys.modules[name]
        """,
    )
    write(sample.root, "tests/test_where.py", WHERE_TEST)
    commit_all(sample, "A conftest that imports the source tree")

    proc = run_relsafe("release", "minor", cwd=sample.root)

    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output
    assert f"the tests did not test the wheel: {MODULE} was imported from {source / MODULE}" in output
    assert git(sample.remote, "tag", "--list") == ""
