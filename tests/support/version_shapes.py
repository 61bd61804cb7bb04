"""Sample projects whose version lives where real projects keep it: in git tags read by a tool other than hatch-vcs
and setuptools-scm, or in a version module that only the backend's configuration names.

Each is written like the shapes in shapes.py (the same package, tests and README) and released by test_layouts.py
or built by test_tag_versioning.py with its real backend.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.shapes import MODULE, NAME, SCM_TAGS, START, Shape, _common, _package, _tests, _write

METADATA = """
description = "A sample package released by relsafe"
readme = "README.md"
requires-python = ">=3.10"
license = {{ text = "MIT" }}
"""
VERSION_FROM_METADATA = f'__version__ = metadata.version("{NAME}")'


def _pyproject(root: Path, build_system: str, tool: str, *, dynamic: bool = True) -> None:
    version = 'dynamic = ["version"]' if dynamic else f'version = "{START}"'
    _write(
        root / "pyproject.toml",
        f'[build-system]\n{build_system}\n\n[project]\nname = "{NAME}"\n{version}\n{METADATA.format()}\n{tool}\n',
    )


def write_pdm_scm(root: Path) -> None:
    """pdm-backend with `[tool.pdm.version] source = "scm"`: the version from git tags."""
    _common(root)
    _pyproject(
        root,
        'requires = ["pdm-backend"]\nbuild-backend = "pdm.backend"',
        '[tool.pdm.version]\nsource = "scm"\n',
    )
    _package(root, VERSION_FROM_METADATA, data_file=False)
    _tests(root, data_file=False)


def write_uv_dynamic_versioning(root: Path) -> None:
    """hatchling with uv-dynamic-versioning (dunamai underneath) as its version source."""
    _common(root)
    _pyproject(
        root,
        'requires = ["hatchling", "uv-dynamic-versioning"]\nbuild-backend = "hatchling.build"',
        '[tool.hatch.version]\nsource = "uv-dynamic-versioning"\n\n[tool.uv-dynamic-versioning]\nvcs = "git"\n',
    )
    _package(root, VERSION_FROM_METADATA, data_file=False)
    _tests(root, data_file=False)


def write_poetry_dynamic_versioning(root: Path) -> None:
    """poetry-core through poetry-dynamic-versioning's backend; [tool.poetry] version is a placeholder."""
    _common(root)
    _write(
        root / "pyproject.toml",
        f"""
        [build-system]
        requires = ["poetry-core>=1.9", "poetry-dynamic-versioning>=1,<2"]
        build-backend = "poetry_dynamic_versioning.backend"

        [tool.poetry]
        name = "{NAME}"
        version = "0.0.0"
        description = "A sample package released by relsafe"
        authors = ["relsafe maintainers <maintainers@relsafe.invalid>"]
        readme = "README.md"
        license = "MIT"
        packages = [{{ include = "{MODULE}", from = "src" }}]

        [tool.poetry.dependencies]
        python = ">=3.10"

        [tool.poetry-dynamic-versioning]
        enable = true
        vcs = "git"
        """,
    )
    _package(root, VERSION_FROM_METADATA, data_file=False)
    _tests(root, data_file=False)


def write_versioneer(root: Path) -> None:
    """setuptools with versioneer as a build requirement ([tool.versioneer]); `versioneer install` itself writes
    the package's _version.py, which asks `git describe` for the version."""
    _common(root)
    _write(root / ".gitignore", "__pycache__/\n*.pyc\ndist/\nbuild/\n*.egg-info/\n")
    _pyproject(
        root,
        'requires = ["setuptools>=64", "versioneer"]\nbuild-backend = "setuptools.build_meta"',
        f"""
[tool.versioneer]
VCS = "git"
style = "pep440"
versionfile_source = "src/{MODULE}/_version.py"
versionfile_build = "{MODULE}/_version.py"
tag_prefix = "v"
parentdir_prefix = "{MODULE}-"
""",
    )
    _write(
        root / "setup.py",
        "import versioneer\nfrom setuptools import setup\n\n"
        "setup(version=versioneer.get_version(), cmdclass=versioneer.get_cmdclass())\n",
    )
    _package(root, "", data_file=False)
    _tests(root, data_file=False)
    done = subprocess.run(
        [sys.executable, "-m", "versioneer", "install", "--no-vendor"], cwd=root, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (root / "src" / MODULE / "_version.py").is_file()


def write_version_module(root: Path) -> None:
    """requests' shape: setup.py reads `__version__` from src/PKG/__version__.py, beside __title__ and others."""
    _common(root)
    _write(
        root / "src" / MODULE / "__version__.py",
        f'__title__ = "{NAME}"\n__description__ = "A sample package"\n__version__ = "{START}"\n__build__ = 0x000100\n',
    )
    _write(
        root / "setup.py",
        f"""
        from pathlib import Path

        from setuptools import find_packages, setup

        about = {{}}
        exec((Path(__file__).parent / "src" / "{MODULE}" / "__version__.py").read_text(), about)

        setup(
            name=about["__title__"],
            version=about["__version__"],
            description="A sample package released by relsafe",
            long_description=Path("README.md").read_text(),
            long_description_content_type="text/markdown",
            package_dir={{"": "src"}},
            packages=find_packages("src"),
            python_requires=">=3.10",
        )
        """,
    )
    _package(root, "from .__version__ import __version__", data_file=False)
    _tests(root, data_file=False)


def write_hatch_version_path(root: Path) -> None:
    """hatchling reading the version from the module `[tool.hatch.version] path` names (src/PKG/__about__.py)."""
    _common(root)
    _pyproject(
        root,
        'requires = ["hatchling"]\nbuild-backend = "hatchling.build"',
        f'[tool.hatch.version]\npath = "src/{MODULE}/__about__.py"\n',
    )
    _write(root / "src" / MODULE / "__about__.py", f'__version__ = "{START}"\n')
    _package(root, "from .__about__ import __version__", data_file=False)
    _tests(root, data_file=False)


def write_setuptools_attr_version_module(root: Path) -> None:
    """setuptools reading `attr: PKG.__version__.__version__` from pyproject.toml's [tool.setuptools.dynamic]."""
    _common(root)
    _pyproject(
        root,
        'requires = ["setuptools>=64"]\nbuild-backend = "setuptools.build_meta"',
        f'[tool.setuptools.dynamic]\nversion = {{ attr = "{MODULE}.__version__.__version__" }}\n',
    )
    _write(root / "src" / MODULE / "__version__.py", f'__title__ = "{NAME}"\n__version__ = "{START}"\n')
    _package(root, "from .__version__ import __version__", data_file=False)
    _tests(root, data_file=False)


VERSION_LAYOUTS = {
    shape.name: shape
    for shape in (
        Shape("pdm-backend-scm", write_pdm_scm, (), scm=True, tags=SCM_TAGS),
        Shape("versioneer", write_versioneer, (), scm=True, tags=SCM_TAGS),
        Shape("version-module", write_version_module, (f"src/{MODULE}/__version__.py",)),
        Shape("hatch-version-path", write_hatch_version_path, (f"src/{MODULE}/__about__.py",)),
        Shape(
            "setuptools-attr-version-module",
            write_setuptools_attr_version_module,
            (f"src/{MODULE}/__version__.py",),
        ),
    )
}
"""Released for real by test_layouts.py: their backends (pdm-backend, versioneer, hatchling, setuptools) are pure
Python, so the session's loopback index serves them to the isolated builds."""
