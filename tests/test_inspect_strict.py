"""twine check in the inspect step: warnings refuse only when strict, and twine's text stays whole.

Every file here is a real build checked by the real twine.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from relsafe.app.sample import SampleProject
from relsafe.journal.runlog import RunLog
from relsafe.tools.twine_check import metadata_check
from tests.support.cli import RunRelsafe
from tests.support.git import git
from tests.support.projects import build_project
from tests.support.wheels import write_wheel

pytestmark = pytest.mark.slow

NO_README = "`long_description` missing."
NO_CONTENT_TYPE = "`long_description_content_type` missing. defaulting to `text/x-rst`."
BROKEN_RST = "Title\n=====\n\nSome *emphasis that is never closed.\n"


def build(root: Path, readme: str | None = None) -> list[Path]:
    """A real hatchling wheel and sdist, without a README (twine warns) or with `readme` as README.rst."""
    files = {"src/sample/__init__.py": "", **({"README.rst": readme} if readme else {})}
    return build_project(root, files, version="1.0", readme="README.rst" if readme is not None else None)


@pytest.fixture(scope="module")
def warned(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return build(tmp_path_factory.mktemp("no-readme"))


def test_strict_refuses_twine_warnings(warned: list[Path], tmp_path: Path) -> None:
    check = metadata_check(warned, RunLog(tmp_path / "run.log"), strict=True)
    assert check.warnings == []
    assert check.problems == [
        f"twine check --strict: {path.name}: FAILED due to warnings: {NO_CONTENT_TYPE}; {NO_README}" for path in warned
    ]


def test_not_strict_passes_twine_warnings_and_keeps_their_text(warned: list[Path], tmp_path: Path) -> None:
    check = metadata_check(warned, RunLog(tmp_path / "run.log"), strict=False)
    assert check.problems == []
    assert check.warnings == [
        f"twine check: {path.name}: PASSED with warnings: {NO_CONTENT_TYPE}; {NO_README}" for path in warned
    ]


@pytest.mark.parametrize("strict", [True, False])
def test_markup_that_does_not_render_refuses_either_way(tmp_path: Path, strict: bool) -> None:
    dists = build(tmp_path / "project", readme=BROKEN_RST)
    check = metadata_check(dists, RunLog(None), strict=strict)
    assert check.warnings == []
    assert len(check.problems) == 2
    for path, problem in zip(dists, check.problems, strict=True):
        assert problem.startswith(f"twine check{' --strict' if strict else ''}: {path.name}: FAILED: ")
        assert "`long_description` has syntax errors in markup and would not be rendered on PyPI." in problem
        assert "line 4: Warning: Inline emphasis start-string without end-string." in problem


def test_a_long_path_stays_whole_in_one_problem(
    warned: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """rich wraps at the terminal width, 80 columns on a dumb terminal: a path longer than that must not be cut."""
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("TERM", "dumb")  # as relsafe's own tests and some CI runners set it
    deep = tmp_path.joinpath(*["releases", "20261201T120000-0123456789abcdef"] * 6, "artifacts")
    deep.mkdir(parents=True)
    wheel = Path(shutil.copy(warned[-1], deep))
    assert len(str(wheel)) > 300

    check = metadata_check([wheel], RunLog(None), strict=True)

    assert check.problems == [
        f"twine check --strict: {wheel.name}: FAILED due to warnings: {NO_CONTENT_TYPE}; {NO_README}"
    ]


def test_a_file_twine_cannot_read_is_a_problem_with_twines_reason(tmp_path: Path) -> None:
    wheel = write_wheel(tmp_path / "broken-1.0-py3-none-any.whl", {"broken/__init__.py": b""})  # no .dist-info
    check = metadata_check([wheel], RunLog(None), strict=False)
    assert len(check.problems) == 1
    assert check.problems[0].startswith(f"twine check: {wheel.name}: could not be checked: InvalidDistribution: ")
    assert "No METADATA in archive" in check.problems[0]
    assert "\n" not in check.problems[0]


def drop_readme(sample: SampleProject, release_toml: str = "") -> None:
    pyproject = sample.root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('readme = "README.md"\n', ""))
    with (sample.root / "release.toml").open("a", encoding="utf-8") as config:
        config.write(release_toml)
    git(sample.root, "commit", "-qam", "no readme")
    git(sample.root, "push", "-q", "origin", "main")


def test_the_inspect_step_refuses_twine_warnings_by_default(sample: SampleProject, run_relsafe: RunRelsafe) -> None:
    drop_readme(sample)
    refused = run_relsafe("release", "minor", cwd=sample.root)
    output = " ".join((refused.stdout + refused.stderr).split())  # the console wraps too
    assert refused.returncode == 4, output
    assert "twine check --strict" in output and "FAILED due to warnings" in output and NO_README in output
    assert "[inspect] strict = false" in output  # the hint


def test_the_inspect_step_shows_twine_warnings_when_not_strict(sample: SampleProject, run_relsafe: RunRelsafe) -> None:
    drop_readme(sample, "\n[inspect]\nstrict = false\n")
    released = run_relsafe("release", "minor", cwd=sample.root)
    output = " ".join((released.stdout + released.stderr).split())
    assert released.returncode == 0, output
    assert "7 checks passed; twine warned about 2 file(s), not refused" in output
    assert f"PASSED with warnings: {NO_CONTENT_TYPE}; {NO_README}" in output
    assert "(not refused: [inspect] strict = false)" in output
