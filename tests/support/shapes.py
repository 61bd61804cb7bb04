"""Sample projects in every shape relsafe must release, each in a real git repository with a bare remote.

Each shape is a real package its own build backend builds (installed by the
isolated build from the session's loopback index, see conftest.py), with a
data file or a second module where the shape makes one easy to lose, and
tests that fail if it is lost. The release.toml points staging and production
at a local index and tests with unittest, so only the build backend comes from
the session's index.

SCM-versioned shapes (hatch-vcs, setuptools-scm) are tagged v0.1.0 and then
get one more commit, so that a build that were not told the release version
would come out as 0.1.1.devN+g…, never as the release version by accident.
"""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from relsafe.app.sample import IDENTITY, SampleProject, write_index_config, write_sources
from relsafe.journal.runlog import RunLog
from relsafe.model.publish_workflow import DEFAULT_WORKFLOW, render_publish_workflow
from relsafe.tools.git import init_bare, init_repository
from tests.support.files import write
from tests.support.git import git

NAME = "shape-sample"
MODULE = "shape_sample"
START = "0.1.0"
UNITTEST = """
[test]
command = "python -m unittest discover -s tests -v"
requires = []
"""


@dataclass(frozen=True)
class Shape:
    """One way a project can be laid out; `version_files` are what a bump must change (none for SCM)."""

    name: str
    write: Callable[[Path], None]
    version_files: tuple[str, ...]
    scm: bool = False
    data_file: bool = False
    tags: tuple[str, ...] = ()
    subdir: str = ""
    tag_format: str = "v{version}"  # what the publish workflow's tag filter is written for


def _write(path: Path, text: str) -> None:
    write(path.parent, path.name, text)


def _tests(root: Path, *, data_file: bool) -> None:
    """unittest tests against the installed package: the greeting, where it was imported from, its data file."""
    text = f"""
import unittest
from importlib import metadata, resources

import {MODULE}


class ShapeTest(unittest.TestCase):
    def test_greet(self):
        self.assertEqual({MODULE}.greet("world"), "Hello, world!")

    def test_installed_not_from_source(self):
        self.assertIn("site-packages", {MODULE}.__file__)

    def test_metadata_version_is_set(self):
        self.assertTrue(metadata.version("{NAME}"))
"""
    if data_file:
        text += f"""
    def test_data_file_is_installed(self):
        greeting = resources.files("{MODULE}").joinpath("greeting.txt").read_text(encoding="utf-8")
        self.assertEqual(greeting.strip(), "Hello")
"""
    _write(root / "tests" / "test_shape.py", text)


def _package(root: Path, version_line: str, *, data_file: bool) -> None:
    greeting = (
        'resources.files(__name__).joinpath("greeting.txt").read_text(encoding="utf-8").strip()'
        if data_file
        else '"Hello"'
    )
    _write(
        root / "src" / MODULE / "__init__.py",
        f'''
        """A sample package in one of the shapes relsafe releases."""

        from importlib import metadata, resources

        {version_line}
        GREETING = {greeting}


        def greet(name: str) -> str:
            return f"{{GREETING}}, {{name}}!"
        ''',
    )
    if data_file:
        _write(root / "src" / MODULE / "greeting.txt", "Hello\n")


def _common(root: Path) -> None:
    _write(root / "README.md", f"# {NAME}\n\nA sample package in one of the shapes relsafe releases.\n")
    _write(root / ".gitignore", "__pycache__/\n*.pyc\ndist/\nbuild/\n*.egg-info/\nsrc/*/_version.py\n")


def write_from_sample(backend: str) -> Callable[[Path], None]:
    """The shapes relsafe's own sample already writes (hatchling, setuptools with pyproject only, flit)."""

    def write(root: Path) -> None:
        write_sources(root, NAME, START, backend)
        (root / "tests" / "test_greet.py").unlink()  # replaced by the unittest tests every shape shares
        _tests(root, data_file=False)

    return write


def write_setup_cfg(root: Path, *, attr_version: bool = False) -> None:
    """setuptools configured in setup.cfg, with a data file that only MANIFEST.in puts in the sdist."""
    _common(root)
    _write(
        root / "pyproject.toml",
        """
        [build-system]
        requires = ["setuptools>=64"]
        build-backend = "setuptools.build_meta"
        """,
    )
    version = f"attr: {MODULE}.__version__" if attr_version else START
    _write(
        root / "setup.cfg",
        f"""
        [metadata]
        name = {NAME}
        version = {version}
        description = A sample package released by relsafe
        long_description = file: README.md
        long_description_content_type = text/markdown
        license = MIT

        [options]
        package_dir =
            = src
        packages = find:
        include_package_data = True
        python_requires = >=3.10

        [options.packages.find]
        where = src
        """,
    )
    _write(root / "MANIFEST.in", f"include src/{MODULE}/greeting.txt\n")
    _package(root, f'__version__ = "{START}"', data_file=True)
    _tests(root, data_file=True)


def write_hatch_vcs(root: Path) -> None:
    """hatchling with hatch-vcs: the version comes from git tags; no file holds it."""
    _common(root)
    _write(
        root / "pyproject.toml",
        f"""
        [build-system]
        requires = ["hatchling", "hatch-vcs"]
        build-backend = "hatchling.build"

        [project]
        name = "{NAME}"
        dynamic = ["version"]
        description = "A sample package released by relsafe"
        readme = "README.md"
        requires-python = ">=3.10"
        license = {{ text = "MIT" }}

        [tool.hatch.version]
        source = "vcs"
        """,
    )
    _package(root, f'__version__ = metadata.version("{NAME}")', data_file=False)
    _tests(root, data_file=False)


def write_setuptools_scm(root: Path) -> None:
    """setuptools with setuptools-scm, writing the version into a generated (ignored) _version.py."""
    _common(root)
    _write(
        root / "pyproject.toml",
        f"""
        [build-system]
        requires = ["setuptools>=64", "setuptools-scm>=8"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "{NAME}"
        dynamic = ["version"]
        description = "A sample package released by relsafe"
        readme = "README.md"
        requires-python = ">=3.10"
        license = {{ text = "MIT" }}

        [tool.setuptools_scm]
        version_file = "src/{MODULE}/_version.py"
        """,
    )
    _package(root, "from ._version import __version__", data_file=False)
    _tests(root, data_file=False)


def _hatchling_pyproject(root: Path, version_line: str) -> None:
    _write(
        root / "pyproject.toml",
        f"""
        [build-system]
        requires = ["hatchling"]
        build-backend = "hatchling.build"

        [project]
        name = "{NAME}"
        {version_line}
        description = "A sample package released by relsafe"
        readme = "README.md"
        requires-python = ">=3.10"
        license = {{ text = "MIT" }}
        """,
    )


def write_commented_version(root: Path) -> None:
    """PyPA's sample-project spelling: a trailing comment on the version line; single quotes and extra spaces."""
    _common(root)
    _hatchling_pyproject(root, f'version = "{START}" # REQUIRED, although there are ways to make it dynamic')
    _package(root, f"__version__  =  '{START}'", data_file=False)
    _tests(root, data_file=False)


CALVER = "2026.07.22"


def write_calver(root: Path) -> None:
    """A zero-padded calendar version, which PEP 440 would spell 2026.7.22."""
    _common(root)
    _hatchling_pyproject(root, f'version = "{CALVER}"')
    _package(root, f'__version__ = "{CALVER}"', data_file=False)
    _tests(root, data_file=False)


def write_poetry_core(root: Path) -> None:
    """poetry-core with the name and the version in [tool.poetry], as poetry 1.x projects have them."""
    _common(root)
    _write(
        root / "pyproject.toml",
        f"""
        [build-system]
        requires = ["poetry-core>=1.9"]
        build-backend = "poetry.core.masonry.api"

        [tool.poetry]
        name = "{NAME}"
        version = "{START}"
        description = "A sample package released by relsafe"
        authors = ["relsafe maintainers <maintainers@relsafe.invalid>"]
        readme = "README.md"
        license = "MIT"
        packages = [{{ include = "{MODULE}", from = "src" }}]

        [tool.poetry.dependencies]
        python = ">=3.10"
        """,
    )
    _package(root, f'__version__ = "{START}"', data_file=False)
    _tests(root, data_file=False)


def write_setup_py_only(root: Path) -> None:
    """No pyproject.toml, no setup.cfg: setup.py reads the version from the package, as older projects do."""
    _common(root)
    _write(
        root / "setup.py",
        f"""
        import re
        from pathlib import Path

        from setuptools import find_packages, setup

        init = Path(__file__).parent / "src" / "{MODULE}" / "__init__.py"
        version = re.search(r'__version__ = "(.+)"', init.read_text()).group(1)

        setup(
            name="{NAME}",
            version=version,
            description="A sample package released by relsafe",
            long_description=Path("README.md").read_text(),
            long_description_content_type="text/markdown",
            package_dir={{"": "src"}},
            packages=find_packages("src"),
            python_requires=">=3.10",
        )
        """,
    )
    _package(root, f'__version__ = "{START}"', data_file=False)
    _tests(root, data_file=False)


def write_monorepo_package(root: Path) -> None:
    """The hatchling sample in a monorepo's folder; the workflows live at the repository's root."""
    write_from_sample("hatchling")(root)
    shutil.rmtree(root / ".github")


INIT = f"src/{MODULE}/__init__.py"
SCM_TAGS = ("v0.0.9", "v0.1.0")  # an older release, then the last one
SHAPES = {
    shape.name: shape
    for shape in (
        Shape("hatchling", write_from_sample("hatchling"), ("pyproject.toml", INIT)),
        Shape("setuptools-pyproject", write_from_sample("setuptools"), ("pyproject.toml", INIT)),
        Shape("setuptools-setup-cfg", write_setup_cfg, ("setup.cfg", INIT), data_file=True),
        Shape(
            "setuptools-attr-version",
            lambda root: write_setup_cfg(root, attr_version=True),
            (INIT,),
            data_file=True,
        ),
        Shape("flit", write_from_sample("flit"), (INIT,)),
        Shape("hatch-vcs", write_hatch_vcs, (), scm=True, tags=SCM_TAGS),
        Shape("setuptools-scm", write_setuptools_scm, (), scm=True, tags=SCM_TAGS),
    )
}

# Shapes met in real projects that relsafe once got wrong; test_layouts.py releases each.
LAYOUTS = {
    shape.name: shape
    for shape in (
        Shape("commented-version", write_commented_version, ("pyproject.toml", INIT)),
        Shape("zero-padded-calver", write_calver, ("pyproject.toml", INIT)),
        Shape("poetry-core", write_poetry_core, ("pyproject.toml", INIT)),
        Shape("setup-py-only", write_setup_py_only, (INIT,)),
        Shape("hatch-vcs-bare-tags", write_hatch_vcs, (), scm=True, tags=("26.0.0", "26.1.0"), tag_format="{version}"),
        Shape(
            "hatch-vcs-mixed-tags",
            write_hatch_vcs,
            (),
            scm=True,
            tags=("v3.0.1", "v3.0.2", "3.31.0", "3.32.0"),
            tag_format="{version}",
        ),
        Shape("hatch-vcs-no-tags", write_hatch_vcs, (), scm=True, tags=()),
        Shape(
            "monorepo-folder",
            write_monorepo_package,
            ("pyproject.toml", INIT),
            tags=("v9.0.0", f"{NAME}-v0.1.0"),
            subdir="backend",
            tag_format=f"{NAME}-v{{version}}",
        ),
    )
}


def create_shape(base: Path, shape: Shape, upload_url: str, index_url: str) -> SampleProject:
    """The shape's project, committed on main and pushed with its tags (SCM shapes default to v0.0.9 and v0.1.0).

    The tags are made oldest first, the last on a commit of its own; SCM shapes
    then get one more commit. A shape in a subfolder (a monorepo) gets another
    project at the repository's root, and the publish workflow stays at the root.
    """
    log = RunLog(None)
    base = base.resolve()
    top, remote = base / NAME, base / f"{NAME}-remote.git"
    root = top / shape.subdir
    shape.write(root)
    if shape.subdir:
        _write(top / "pyproject.toml", '[project]\nname = "root-app"\nversion = "9.0.0"\n')
    # relsafe's workflow for the shape's configuration (its tag format, its staging index), as `relsafe init` writes
    _write(
        top / DEFAULT_WORKFLOW,
        render_publish_workflow(project=NAME, tag_format=shape.tag_format, staging_index_url=index_url),
    )
    write_index_config(root, upload_url, index_url)
    with (root / "release.toml").open("a", encoding="utf-8") as stream:
        stream.write(textwrap.dedent(UNITTEST))
    repository = init_repository(top, log, identity=IDENTITY)
    repository.commit_all("Initial commit")
    tags = shape.tags
    for tag in tags[:-1]:
        git(top, "tag", "-a", tag, "-m", f"Release {tag}", "HEAD")
    if tags:
        _write(top / "NEWS.md", f"{tags[-1]}: the last release\n")
        repository.commit_all("Prepare the last release")
        git(top, "tag", "-a", tags[-1], "-m", f"Release {tags[-1]}", "HEAD")
    if shape.scm:
        git(top, "tag", "not-a-release")
        # one commit after the last release: without the release version a build would be X.Y.Z+1.dev1+g…
        _write(top / "CHANGELOG.md", "# Changes\n\n## Unreleased\n\n- a farewell\n")
        repository.commit_all("Add a changelog")
    init_bare(remote, log)
    repository.set_remote_url("origin", str(remote))
    git(top, "push", "-q", "origin", "main", "--follow-tags")
    git(top, "fetch", "-q", "origin")
    return SampleProject(top, remote, NAME, MODULE)
