"""A small, healthy sample package in a fresh git repository with a bare remote.

`relsafe demo` releases one; the tests make many, in each project shape, and
break them on purpose.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path

from relsafe.journal.runlog import RunLog
from relsafe.model.config import TESTPYPI_INDEX_URL
from relsafe.model.publish_workflow import DEFAULT_WORKFLOW, render_publish_workflow
from relsafe.tools.git import Git, init_bare, init_repository

IDENTITY = ("relsafe demo", "demo@relsafe.invalid")

BACKENDS = {
    "hatchling": ('requires = ["hatchling"]', 'build-backend = "hatchling.build"'),
    "setuptools": ('requires = ["setuptools>=64"]', 'build-backend = "setuptools.build_meta"'),
    "flit": ('requires = ["flit_core>=3.4,<4"]', 'build-backend = "flit_core.buildapi"'),
}


@dataclass(frozen=True)
class SampleProject:
    root: Path
    remote: Path
    name: str
    module: str

    def git(self, log: RunLog | None = None) -> Git:
        return Git(self.root, log or RunLog(None))


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")


def write_sources(
    root: Path, name: str, version: str, backend: str = "hatchling", staging_index_url: str = TESTPYPI_INDEX_URL
) -> str:
    """pyproject.toml, a src-layout package with __version__, a README, one test and the publish workflow
    that promotes what was staged on `staging_index_url`; returns the module name."""
    module = name.replace("-", "_")
    requires, build_backend = BACKENDS[backend]
    dynamic = backend == "flit"
    version_line = 'dynamic = ["version", "description"]' if dynamic else f'version = "{version}"'
    description = "" if dynamic else 'description = "A sample package released by relsafe"\n'
    _write(
        root / "pyproject.toml",
        f"""
        [build-system]
        {requires}
        {build_backend}

        [project]
        name = "{name}"
        {version_line}
        readme = "README.md"
        requires-python = ">=3.10"
        license = {{ text = "MIT" }}
        """
        + description,
    )
    _write(
        root / "src" / module / "__init__.py",
        f'''
        """A sample package released by relsafe."""

        __version__ = "{version}"


        def greet(name: str) -> str:
            return f"Hello, {{name}}!"
        ''',
    )
    _write(
        root / "tests" / "test_greet.py",
        f"""
        import unittest

        from {module} import greet


        def test_greet():
            assert greet("world") == "Hello, world!"


        class GreetTest(unittest.TestCase):
            \"\"\"The same check for unittest, which an offline release can run without installing pytest.\"\"\"

            def test_greet(self):
                self.assertEqual(greet("world"), "Hello, world!")
        """,
    )
    _write(root / "README.md", f"# {name}\n\nA sample package released by relsafe.\n")
    _write(root / ".gitignore", "__pycache__/\n*.pyc\ndist/\nbuild/\n*.egg-info/\n")
    workflow = root / DEFAULT_WORKFLOW
    workflow.parent.mkdir(parents=True, exist_ok=True)
    workflow.write_text(render_publish_workflow(project=name, staging_index_url=staging_index_url), encoding="utf-8")
    return module


DEMO_GATE = "checklist"


def write_index_config(
    root: Path,
    upload_url: str,
    index_url: str,
    gate: bool = False,
    offline: bool = False,
    production_index_url: str | None = None,
) -> None:
    """A release.toml that stages to, and treats as production, a local index: nothing leaves the machine.

    offline also builds with the backend installed beside relsafe and tests
    with unittest, so that not even a package registry is needed.
    production_index_url gives production an index of its own (another
    local one), for what must tell the two apart.
    """
    text = f"""
        # The sample releases against the embedded local index only.
        [staging]
        repository-url = "{upload_url}"
        index-url = "{index_url}"

        [production]
        index-url = "{production_index_url or index_url}"
        """
    if offline:
        text += """
        [build]
        isolation = false

        [test]
        command = "python -m unittest discover -s tests"
        requires = []
        """
    if gate:
        text += f"""
        [[gate]]
        name = "{DEMO_GATE}"
        before = "tag"
        items = ["CHANGELOG.md has an entry for this version", "The docs are updated"]
        """
    _write(root / "release.toml", text)


def create_sample(
    base: Path,
    name: str = "relsafe-sample",
    version: str = "0.1.0",
    backend: str = "hatchling",
    index: tuple[str, str] | None = None,
    gate: bool = False,
    offline: bool = False,
) -> SampleProject:
    """Write the sample package, commit it on main, and push it to a new bare remote.

    `index` is (upload URL, simple index URL) of a local index to write into
    release.toml as both staging and production.
    """
    log = RunLog(None)
    base = base.resolve()
    root, remote = base / name, base / f"{name}-remote.git"
    module = write_sources(root, name, version, backend, index[1] if index else TESTPYPI_INDEX_URL)
    if index is not None:
        write_index_config(root, *index, gate=gate, offline=offline)
    git = init_repository(root, log, identity=IDENTITY)
    git.commit_all("Initial commit")
    init_bare(remote, log)
    git.set_remote_url("origin", str(remote))
    git.push("origin", "main:refs/heads/main")
    git.fetch("origin")
    return SampleProject(root, remote, name, module)
