"""Real projects, built by their real backends with `python -m build`."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tests.support.files import write_files


@dataclass(frozen=True)
class TinyDists:
    """A real wheel and sdist of a one-module package (the `tiny_dists` fixture builds them once a session)."""

    wheel: Path
    sdist: Path

    @property
    def files(self) -> list[Path]:
        return [self.wheel, self.sdist]


def build(
    root: Path,
    *build_args: str,
    out: Path | None = None,
    isolated: bool = False,
    env: Mapping[str, str] | None = None,
) -> list[Path]:
    """`python -m build` of `root` into `out` (root/dist by default); the files it made, wheel first.

    Not isolated, the backend comes from this virtualenv; isolated, from the session's loopback index (see
    conftest.py). A failed build fails the test with build's output.
    """
    out = out or root / "dist"
    isolation = [] if isolated else ["--no-isolation"]
    command = [sys.executable, "-m", "build", *isolation, "--outdir", str(out), *build_args, str(root)]
    built = subprocess.run(command, capture_output=True, text=True, check=False, env=env, timeout=600)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    return sorted(out.iterdir(), key=lambda path: (path.suffix != ".whl", path.name))


def hatchling_project(
    root: Path,
    files: Mapping[str, str] | None = None,
    *,
    name: str = "sample-pkg",
    version: str = "1.2.3",
    readme: str | None = "README.md",
    project: str = "",
    tool: str = "",
) -> Path:
    """A hatchling project of the package `sample` in src/: `project` adds lines to [project], `tool` tables
    after [tool.hatch.build.targets.wheel]; `files` add to (or replace) README.md and src/sample/__init__.py."""
    pyproject = (
        '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n'
        f'[project]\nname = "{name}"\nversion = "{version}"\n'
        + (f'readme = "{readme}"\n' if readme is not None else "")
        + project
        + '[tool.hatch.build.targets.wheel]\npackages = ["src/sample"]\n'
        + tool
    )
    defaults = {"README.md": "# sample\n"} if readme == "README.md" else {}
    init = {"src/sample/__init__.py": f'__version__ = "{version}"\n'}
    return write_files(root, {"pyproject.toml": pyproject, **defaults, **init, **(files or {})})


def build_project(
    root: Path,
    files: Mapping[str, str] | None = None,
    *build_args: str,
    name: str = "sample-pkg",
    version: str = "1.2.3",
    readme: str | None = "README.md",
    project: str = "",
    tool: str = "",
) -> list[Path]:
    """Build `hatchling_project(root, files, ...)` with the backend beside the tests; its dist files, wheel first."""
    hatchling_project(root, files, name=name, version=version, readme=readme, project=project, tool=tool)
    return build(root, *build_args)
