"""[test] extras, groups and requires: PEP 735 groups resolved, the project's extras installed with the wheel,
and a requirement that would install the project itself refused before anything changes."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

from relsafe.app.sample import SampleProject
from relsafe.core.errors import ConfigError
from relsafe.journal.runlog import RunLog
from relsafe.model.config import Config
from relsafe.tools import venv as venvs
from relsafe.tools.localindex import LocalIndex
from relsafe.wheeltest.dependency_groups import DependencyGroups
from relsafe.wheeltest.environment import Environments
from relsafe.wheeltest.requirements import check_test_dependencies, group_requirements, wheel_requirement
from tests.support.cli import RunRelsafe, relsafe_env
from tests.support.git import git
from tests.support.osv_service import OsvService
from tests.support.wheelhouse import wheel_of_installed
from tests.support.world import journal_dir, status_json, world

NAME = "My_Pkg"


@pytest.fixture
def osv() -> Iterator[OsvService]:
    """The loopback OSV service audit-deps asks about the extra's requirement (no test reaches the public one)."""
    with OsvService() as service:
        yield service


def groups(table: dict[str, Any], *names: str) -> list[str]:
    return DependencyGroups(table).requirements(names)


# -- PEP 735 dependency groups --------------------------------------------------


def test_a_group_lists_its_requirements_in_order() -> None:
    assert groups({"test": ["pytest>=8", "iniconfig"]}, "test") == ["pytest>=8", "iniconfig"]


def test_includes_are_expanded_where_they_stand_and_each_requirement_comes_once() -> None:
    table = {
        "test": ["pytest", {"include-group": "typing"}, "coverage"],
        "typing": ["mypy", {"include-group": "Base"}],
        "base": ["pytest", "six"],
    }
    assert groups(table, "test") == ["pytest", "mypy", "six", "coverage"]
    assert groups(table, "typing", "test") == ["mypy", "pytest", "six", "coverage"]


def test_group_names_compare_normalized() -> None:
    table = {"Test_Tools": ["pytest"], "docs": [{"include-group": "test.tools"}]}
    assert groups(table, "test-tools") == ["pytest"]
    assert groups(table, "docs") == ["pytest"]
    assert "TEST-tools" in DependencyGroups(table)
    assert "lint" not in DependencyGroups(table)


@pytest.mark.parametrize(
    ("table", "says"),
    [
        ({"a": [{"include-group": "b"}], "b": [{"include-group": "a"}]}, "include cycle a -> b -> a"),
        ({"a": [{"include-group": "a"}]}, "include cycle a -> a"),
        ({"a": [{"include-group": "b"}], "b": [{"include-group": "c"}], "c": [{"include-group": "B"}]}, "b -> c -> b"),
        ({"a": [{"include-group": "nope"}], "b": []}, "dependency-groups.a: includes 'nope', which is not a group"),
        ({"a": ["pytest", {"include": "b"}]}, "dependency-groups.a: expected a requirement string or"),
        ({"a": [{"include-group": "b", "extra": 1}], "b": []}, "dependency-groups.a: expected a requirement"),
        ({"a": ["not a requirement!"]}, "dependency-groups.a: 'not a requirement!' is not a valid requirement"),
        ({"a": "pytest"}, "dependency-groups.a: expected a list"),
        ({"a": [], "A": []}, "the same name once normalized"),
        ({"-a": []}, "expected a group name"),
    ],
)
def test_a_broken_group_is_a_configuration_error_naming_the_file_and_the_group(
    table: dict[str, Any], says: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        DependencyGroups(table).requirements([next(iter(table))])
    assert raised.value.message.startswith("pyproject.toml: dependency-groups")
    assert says in raised.value.message


def test_only_the_groups_used_are_validated() -> None:
    assert groups({"test": ["pytest"], "broken": [{"include-group": "nope"}]}, "test") == ["pytest"]


# -- checking [test] against the project ---------------------------------------


def project(tmp_path: Path, pyproject: str = "") -> Path:
    root = tmp_path / "my-pkg"
    root.mkdir()
    (root / "pyproject.toml").write_text(
        textwrap.dedent(f"""
            [project]
            name = "{NAME}"
            version = "1.0"
        """)
        + textwrap.dedent(pyproject),
        encoding="utf-8",
    )
    return root


def check(
    root: Path, declared: frozenset[str] | None = frozenset({"test"}), source: str = "release.toml", **keys: Any
) -> None:
    """check_test_dependencies with [test] keys given as keywords (requires=[...], extras=[...], groups=[...])."""
    config = Config(source=source, **{f"test_{key}": tuple(value) for key, value in keys.items()})
    check_test_dependencies(config, root, NAME, declared)


def refused(root: Path, **keys: Any) -> str:
    with pytest.raises(ConfigError) as raised:
        check(root, **keys)
    message = raised.value.message
    assert "\n" not in message
    assert raised.value.exit_code == 2
    return message


SELF_REFERENCES = [
    ".",
    "./",
    ".[test]",
    "./[test]",
    " . ",
    "src/..",
    "-e .",
    "--editable=.",
    "file:.",
    "My_Pkg",
    "my-pkg",
    "MY.PKG",
    "my_pkg[test]>=1",
    "My_Pkg[test] >= 1 ; python_version >= '3.8'",
    "my-pkg @ file:///somewhere/else/my_pkg-1.0-py3-none-any.whl",
    "my-pkg[test] @ https://example.invalid/x.whl",
    "dist/my_pkg-0.9-py3-none-any.whl",
    "my_pkg-0.9-py3-none-any.whl",
    "/elsewhere/My_Pkg-0.9.tar.gz",
    "https://example.invalid/files/my_pkg-1.0-py3-none-any.whl",
    "git+https://example.invalid/me/my-pkg.git#egg=my_pkg",
]


@pytest.mark.parametrize("entry", SELF_REFERENCES)
def test_a_requires_entry_naming_the_project_itself_is_refused(tmp_path: Path, entry: str) -> None:
    message = refused(project(tmp_path), requires=["pytest", entry])
    assert message.startswith("release.toml: test.requires: ")
    assert repr(entry) in message
    assert "[test] extras" in message
    assert "skips the wheel" in message


@pytest.mark.parametrize("form", ["{root}", "{root}/", "{root}[test]", "{uri}", "{uri}/", "git+{uri}@main", "{up}"])
def test_the_project_folder_by_any_path_or_url_is_refused(tmp_path: Path, form: str) -> None:
    root = project(tmp_path)
    (root / "src").mkdir()
    entry = form.format(root=root, uri=root.as_uri(), up=f"{root}/src/..")
    assert "[test] extras" in refused(root, requires=[entry])


def test_a_symlink_to_the_project_is_the_project(tmp_path: Path) -> None:
    root = project(tmp_path)
    (tmp_path / "link").symlink_to(root)
    refused(root, requires=[str(tmp_path / "link")])


@pytest.mark.parametrize(
    "entry",
    [
        "pytest",
        "pytest>=8; python_version >= '3.10'",
        "my-pkg-helpers",
        "pytest-my-pkg[test]",
        "../other-package",
        "tests/helper_package",
        "other @ https://example.invalid/other-1.0-py3-none-any.whl",
        "dist/other-1.0-py3-none-any.whl",
        "git+https://example.invalid/me/other.git#egg=other",
    ],
)
def test_other_requirements_pass(tmp_path: Path, entry: str) -> None:
    check(project(tmp_path), requires=[entry])


def test_the_message_suggests_the_extras_the_entry_named(tmp_path: Path) -> None:
    message = refused(project(tmp_path), requires=[".[test,docs]"])
    assert 'extras = ["test", "docs"]' in message


def test_in_pyproject_the_key_is_named_under_tool_relsafe(tmp_path: Path) -> None:
    message = refused(project(tmp_path), requires=["."], source="pyproject.toml")
    assert message.startswith("pyproject.toml: tool.relsafe.test.requires: ")


def test_declared_extras_pass_in_any_spelling(tmp_path: Path) -> None:
    check(project(tmp_path), declared=frozenset({"test", "docs-build"}), extras=["Test", "docs_build"])


def test_a_missing_extra_names_the_key_and_the_extras_that_exist(tmp_path: Path) -> None:
    message = refused(project(tmp_path), declared=frozenset({"test", "docs"}), extras=["tset"])
    assert message.startswith("release.toml: test.extras: 'tset' is not an extra of My_Pkg")
    assert "it declares: docs, test" in message
    assert "did you mean 'test'" in message


def test_a_project_without_extras_says_so(tmp_path: Path) -> None:
    assert "it declares none" in refused(project(tmp_path), declared=frozenset(), extras=["test"])


def test_unknown_extras_are_not_checked_but_must_be_names(tmp_path: Path) -> None:
    root = project(tmp_path)
    check(root, declared=None, extras=["anything"])
    assert "not an extra name" in refused(root, declared=None, extras=["a,b"])


GROUPS = """
    [dependency-groups]
    test = ["pytest", {include-group = "typing"}]
    typing = ["mypy"]
"""


def test_declared_groups_pass_and_resolve(tmp_path: Path) -> None:
    root = project(tmp_path, GROUPS)
    check(root, groups=["test"])
    assert group_requirements(Config(test_groups=("Test",)), root) == ["pytest", "mypy"]
    assert group_requirements(Config(), root) == []


def test_a_missing_group_names_the_key_and_the_groups_that_exist(tmp_path: Path) -> None:
    message = refused(project(tmp_path, GROUPS), groups=["tests"])
    assert message.startswith("release.toml: test.groups: 'tests' is not a dependency group")
    assert "pyproject.toml [dependency-groups] has: test, typing" in message
    assert "did you mean 'test'" in message


def test_a_project_without_groups_says_so(tmp_path: Path) -> None:
    assert "pyproject.toml has no [dependency-groups]" in refused(project(tmp_path), groups=["test"])


def test_a_project_without_pyproject_has_no_groups(tmp_path: Path) -> None:
    message = refused(tmp_path, groups=["test"])
    assert message.startswith("release.toml: test.groups: ")
    assert "pyproject.toml" in message


def test_a_cycle_in_a_used_group_is_refused(tmp_path: Path) -> None:
    root = project(
        tmp_path, '[dependency-groups]\ntest = [{include-group = "more"}]\nmore = [{include-group = "test"}]\n'
    )
    assert "include cycle test -> more -> test" in refused(root, groups=["test"])


def test_a_group_that_requires_the_project_itself_is_refused(tmp_path: Path) -> None:
    root = project(tmp_path, '[dependency-groups]\ntest = [{include-group = "dev"}]\ndev = ["my-pkg[test]"]\n')
    message = refused(root, groups=["test"])
    assert message.startswith("release.toml: test.groups: group 'test' requires 'my-pkg[test]', My_Pkg itself")
    assert "[test] extras" in message


def test_the_wheel_requirement_carries_the_extras() -> None:
    wheel = Path("/tmp/some where/my_pkg-1.0-py3-none-any.whl")
    assert wheel_requirement(wheel, NAME, ()) == wheel
    assert wheel_requirement(wheel, NAME, ("test", "docs")) == (
        "My_Pkg[test,docs] @ file:///tmp/some%20where/my_pkg-1.0-py3-none-any.whl"
    )


# -- through the real CLI -------------------------------------------------------


def commit(sample: SampleProject, relative: str, text: str) -> None:
    path = sample.root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    git(sample.root, "add", "-A")
    git(sample.root, "commit", "-qm", f"set {relative}")
    git(sample.root, "push", "-q", "origin", "main")


def append(sample: SampleProject, relative: str, text: str) -> None:
    current = (sample.root / relative).read_text(encoding="utf-8")
    commit(sample, relative, current + "\n" + textwrap.dedent(text).lstrip())


@pytest.mark.slow
@pytest.mark.parametrize(
    ("release_toml", "pyproject", "says"),
    [
        ('[test]\nextras = ["test"]\n', "", "release.toml: test.extras: 'test' is not an extra of relsafe-sample"),
        ('[test]\ngroups = ["tests"]\n', GROUPS, "release.toml: test.groups: 'tests' is not a dependency group"),
        ('[test]\nrequires = ["pytest", ".[test]"]\n', "", "release.toml: test.requires: '.[test]' installs"),
        ('[test]\nrequires = ["relsafe_sample"]\n', "", "release.toml: test.requires: 'relsafe_sample' installs"),
        (
            '[test]\ngroups = ["test"]\n',
            '[dependency-groups]\ntest = [{include-group = "lint"}]\n',
            "pyproject.toml: dependency-groups.test: includes 'lint', which is not a group",
        ),
    ],
    ids=["missing extra", "missing group", "requires .[test]", "requires the project's name", "unknown include"],
)
def test_a_test_dependency_error_exits_2_with_one_line_and_changes_nothing(
    sample: SampleProject, run_relsafe: RunRelsafe, release_toml: str, pyproject: str, says: str
) -> None:
    if pyproject:
        append(sample, "pyproject.toml", pyproject)
    append(sample, "release.toml", release_toml)
    before = world(sample)
    proc = run_relsafe("release", "minor", cwd=sample.root)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 2, output
    assert "Traceback" not in output
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, output
    assert says in errors[0], output
    assert world(sample) == before
    assert not (journal_dir(sample) / "state.json").exists()


EXTRA_AND_GROUP = """
    [project.optional-dependencies]
    test = ["iniconfig"]

    [dependency-groups]
    test = [{include-group = "checks"}]
    checks = ["pluggy"]
"""

IMPORTS_TEST = '''
    """Passes only where [test] extras and groups were installed: neither package is in requires."""

    import sys
    import unittest

    import iniconfig
    import pluggy


    class InstalledTest(unittest.TestCase):
        def test_the_extra_and_the_group_are_in_the_test_venv(self):
            for module in (iniconfig, pluggy):
                self.assertTrue(module.__file__.startswith(sys.prefix), module.__file__)
'''


@pytest.mark.slow
@pytest.mark.parametrize("installer", ["uv", "pip"])
def test_a_release_tests_the_wheel_with_its_extra_and_a_dependency_group(
    sample: SampleProject, run_relsafe: RunRelsafe, local_index: LocalIndex, installer: str, osv: OsvService
) -> None:
    append(sample, "pyproject.toml", EXTRA_AND_GROUP)
    commit(sample, "tests/test_installed.py", textwrap.dedent(IMPORTS_TEST).lstrip())
    append(
        sample,
        "release.toml",
        f"""
        [test]
        command = "python -m unittest discover -v -s tests"
        requires = []
        extras = ["test"]
        groups = ["test"]

        [audit-deps]
        osv-url = "{osv.query_url}"
        """,
    )
    # verify-stage installs the wheel's dependencies from the production index only: here the local index, not
    # the session's loopback index that serves iniconfig to everything else
    wheel_of_installed(f"iniconfig=={metadata.version('iniconfig')}", local_index.storage)
    env = relsafe_env(**({"RELSAFE_NO_UV": "1"} if installer == "pip" else {}))
    proc = run_relsafe("release", "minor", cwd=sample.root, env=env, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    status = status_json(sample)
    assert status is not None
    assert status["steps"]["smoke"]["status"] == status["steps"]["verify-stage"]["status"] == "done"
    log = "\n".join(path.read_text(encoding="utf-8") for path in (journal_dir(sample) / "logs").glob("*.log"))
    installs = [line for line in log.splitlines() if " install " in line]
    with_extra = [line for line in installs if "relsafe-sample[test] @ file:///" in line]
    assert len(with_extra) == 2, installs  # smoke, then verify-stage from the production index only
    assert f"--index-url {local_index.index_url}" in with_extra[1]
    assert len([line for line in installs if line.endswith(" pluggy")]) == 2, installs
    # verify-stage's venv holds the same iniconfig, byte for byte: the tests ran once, in smoke
    assert log.count("InstalledTest.test_the_extra_and_the_group_are_in_the_test_venv) ... ok") == 1, log
    assert status["steps"]["verify-stage"]["outputs"]["environments"][0]["tests"]["ran"] is False
    assert "iniconfig" in local_index.log_path.read_text(encoding="utf-8"), "verify-stage got it from production"
    # the extra's requirement is audited; pluggy, a dependency group's, is the tests' only
    assert status["steps"]["audit-deps"]["outputs"]["packages"] == [f"iniconfig=={metadata.version('iniconfig')}"]
    assert osv.requests == [("iniconfig", metadata.version("iniconfig"))]


def test_uv_is_found_through_its_package_without_path() -> None:
    """The README's `pip install .` brings uv; relsafe uses it even when the venv's bin folder is not on PATH."""
    import uv

    probe = "from relsafe.tools.uv import uv_executable; print(uv_executable())"
    env = {key: value for key, value in os.environ.items() if key != "RELSAFE_NO_UV"} | {"PATH": ""}
    found = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    assert found.stdout.strip() == str(uv.find_uv_bin())
    forced_env = env | {"RELSAFE_NO_UV": "1"}
    forced = subprocess.run([sys.executable, "-c", probe], env=forced_env, capture_output=True, text=True, check=True)
    assert forced.stdout.strip() == "None"


def test_the_groups_are_read_before_the_venvs_are_prepared_in_the_background(tmp_path: Path) -> None:
    """The bump that runs right after may rewrite pyproject.toml in place: a venv prepared meanwhile must not
    read it then (it could find it empty, and take the groups for missing: exit 2 in the middle of a release)."""
    root = project(tmp_path, '[dependency-groups]\ntest = ["iniconfig"]\n')
    config = Config(test_requires=(), test_groups=("test",))
    environments = Environments(tmp_path / "venvs", config, root, RunLog(None), "sample")
    environments.prepare()
    (root / "pyproject.toml").write_text("", encoding="utf-8")  # what a reader sees mid-rewrite

    venv = environments.take(0, sys.executable)

    (site,) = venvs.site_packages(venv, RunLog(None))
    assert list(site.glob("iniconfig-*.dist-info")), "the group's requirement is installed"
