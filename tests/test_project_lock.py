"""[test] lock: the project's uv.lock, poetry.lock, pylock.toml or requirements file pins what smoke and
verify-stage install beside the wheel, never the wheel itself; a lock that cannot be read stops the release
before anything changes."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from relsafe.app.sample import SampleProject
from relsafe.core.errors import ConfigError
from relsafe.model.project_lock import read_lock
from relsafe.tools.localindex import LocalIndex
from tests.support.cli import RunRelsafe
from tests.support.git import git
from tests.support.osv_service import OsvService
from tests.support.wheels import with_record, write_wheel
from tests.support.world import journal_dir, status_json, world

UV_LOCK = """
version = 1
revision = 2
requires-python = ">=3.10"

[[package]]
name = "my-pkg"
version = "0.0.1"
source = { editable = "." }

[[package]]
name = "Pygments"
version = "2.17.2"
source = { registry = "https://pypi.org/simple" }

[[package]]
name = "numpy"
version = "2.2.6"
source = { registry = "https://pypi.org/simple" }
resolution-markers = ["python_full_version < '3.11'"]

[[package]]
name = "numpy"
version = "2.3.1"
source = { registry = "https://pypi.org/simple" }
resolution-markers = ["python_full_version >= '3.11'"]

[[package]]
name = "from-git"
version = "1.0"
source = { git = "https://example.invalid/x.git#abc" }
"""

POETRY_LOCK = """
[[package]]
name = "pytest"
version = "8.3.5"
optional = false
python-versions = ">=3.8"
groups = ["dev"]

[[package]]
name = "local-thing"
version = "0.1"
optional = false
python-versions = "*"

[package.source]
type = "directory"
url = "../local-thing"

[metadata]
lock-version = "2.1"
"""

PYLOCK = """
lock-version = "1.0"
created-by = "uv"

[[packages]]
name = "idna"
version = "3.10"
marker = "python_version >= '3.9'"
wheels = [{ url = "https://example.invalid/idna-3.10-py3-none-any.whl", hashes = { sha256 = "00" } }]

[[packages]]
name = "My_Pkg"
version = "0.0.1"
directory = { path = "." }
"""

REQUIREMENTS = """
# pip-compile output
-r base.txt
certifi==2025.1.31 \\
    --hash=sha256:00
charset-normalizer==3.4.1 ; python_version >= "3.8"  # via requests
requests>=2
-e .
my-pkg==0.0.1
"""


@pytest.mark.parametrize(
    ("name", "text", "pins"),
    [
        (
            "uv.lock",
            UV_LOCK,
            [
                "Pygments==2.17.2",
                'numpy==2.2.6 ; python_full_version < "3.11"',
                'numpy==2.3.1 ; python_full_version >= "3.11"',
            ],
        ),
        ("poetry.lock", POETRY_LOCK, ["pytest==8.3.5"]),
        ("pylock.toml", PYLOCK, ["idna==3.10"]),  # one version: its marker need not choose
        (
            "requirements/tests.txt",
            REQUIREMENTS,
            ["six==1.17.0", "certifi==2025.1.31", 'charset-normalizer==3.4.1 ; python_version >= "3.8"'],
        ),
    ],
)
def test_each_lock_kind_gives_its_index_pins_and_never_the_project_itself(
    tmp_path: Path, name: str, text: str, pins: list[str]
) -> None:
    (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / name).write_text(textwrap.dedent(text), encoding="utf-8")
    (tmp_path / "requirements" / "base.txt").parent.mkdir(exist_ok=True)
    (tmp_path / "requirements" / "base.txt").write_text("six==1.17.0\n", encoding="utf-8")
    lock = read_lock(tmp_path, name, "My_Pkg")
    assert list(lock.pins) == pins


@pytest.mark.parametrize(
    ("name", "text", "says"),
    [
        ("missing.lock", None, "[test] lock: 'missing.lock' does not exist"),
        ("Pipfile.lock", "{}", "expected uv.lock, poetry.lock, pylock.toml or a requirements .txt file"),
        ("uv.lock", "version = [", "uv.lock: not valid TOML"),
        ("uv.lock", "package = 3", "[test] lock: uv.lock: expected [[package]] tables"),
    ],
)
def test_a_lock_that_cannot_be_read_is_a_configuration_error(
    tmp_path: Path, name: str, text: str | None, says: str
) -> None:
    if text is not None:
        (tmp_path / name).write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        read_lock(tmp_path, name, "my-pkg")
    assert says in error.value.message


# -- a release that installs what the lock pins ---------------------------------------------------------------


@pytest.fixture
def osv() -> Iterator[OsvService]:
    with OsvService() as service:
        yield service


def publish_versions(name: str, versions: list[str], *folders: Path) -> None:
    """Wheels of a one-module package `name` at each version (its VERSION says which), into each index folder."""
    module = name.replace("-", "_")
    for version in versions:
        dist_info = f"{module}-{version}.dist-info"
        files = {
            f"{module}.py": f'VERSION = "{version}"\n'.encode(),
            f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
            f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        }
        for folder in folders:
            write_wheel(folder / f"{module}-{version}-py3-none-any.whl", with_record(files, f"{dist_info}/RECORD"))


PINNED_TEST = """
import unittest

import lockdep_runtime
import lockdep_tool


class PinnedTest(unittest.TestCase):
    def test_the_locked_versions_were_installed(self):
        self.assertEqual((lockdep_runtime.VERSION, lockdep_tool.VERSION), ("1.0", "1.0"))
"""


@pytest.mark.slow
def test_smoke_and_verify_stage_install_the_locked_versions_and_the_wheel_from_the_build(
    sample: SampleProject,
    run_relsafe: RunRelsafe,
    local_index: LocalIndex,
    loopback_only: LocalIndex,
    osv: OsvService,
) -> None:
    # two versions of each, on the index the test venvs use and on production (verify-stage's only index)
    publish_versions("lockdep-runtime", ["1.0", "2.0"], loopback_only.storage, local_index.storage)
    publish_versions("lockdep-tool", ["1.0", "2.0"], loopback_only.storage, local_index.storage)
    pyproject = (sample.root / "pyproject.toml").read_text(encoding="utf-8")
    pyproject = pyproject.replace("[project]\n", '[project]\ndependencies = ["lockdep-runtime>=1"]\n', 1)
    (sample.root / "pyproject.toml").write_text(pyproject, encoding="utf-8")
    (sample.root / "tests" / "test_pinned.py").write_text(textwrap.dedent(PINNED_TEST), encoding="utf-8")
    (sample.root / "uv.lock").write_text(
        'version = 1\n\n[[package]]\nname = "relsafe-sample"\nversion = "0.0.1"\nsource = { editable = "." }\n\n'
        '[[package]]\nname = "lockdep-runtime"\nversion = "1.0"\nsource = { registry = "https://pypi.org/simple" }\n\n'
        '[[package]]\nname = "lockdep-tool"\nversion = "1.0"\nsource = { registry = "https://pypi.org/simple" }\n',
        encoding="utf-8",
    )
    with (sample.root / "release.toml").open("a", encoding="utf-8") as stream:
        stream.write(
            '\n[test]\ncommand = "python -m unittest discover -v -s tests"\nrequires = ["lockdep-tool"]\n'
            f'lock = "uv.lock"\n\n[audit-deps]\nosv-url = "{osv.query_url}"\n'
        )
    git(sample.root, "add", "-A")
    git(sample.root, "commit", "-qm", "Depend on lockdep, pinned by uv.lock")
    git(sample.root, "push", "-q", "origin", "main")

    plan = run_relsafe("release", "minor", "--plan", cwd=sample.root)
    assert "lock         test dependencies at the versions uv.lock pins" in plan.stdout, plan.stdout
    proc = run_relsafe("release", "minor", cwd=sample.root, timeout=900)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert "test dependencies at the versions uv.lock pins" in proc.stdout, "the screen says which lock was used"
    status = status_json(sample)
    assert status is not None and status["steps"]["smoke"]["status"] == "done"
    log = "\n".join(path.read_text(encoding="utf-8") for path in (journal_dir(sample) / "logs").glob("*.log"))
    assert log.count("PinnedTest.test_the_locked_versions_were_installed) ... ok") == 1, log  # smoke's run
    # the wheel under test is the build's 0.2.0 (the import probe compares it), though the lock names 0.0.1
    installed = status["steps"]["smoke"]["outputs"]["environments"][0]["installed"]
    versions = {item["name"]: item["version"] for item in installed}
    assert versions.get("lockdep-runtime") == "1.0", installed
    # verify-stage installed the same locked version from production, so its venv is smoke's: not run again
    (verified,) = status["steps"]["verify-stage"]["outputs"]["environments"]
    assert {item["name"]: item["version"] for item in verified["installed"]}.get("lockdep-runtime") == "1.0"
    assert verified["tests"]["ran"] is False, verified["tests"]


@pytest.mark.slow
def test_a_missing_lock_exits_2_naming_it_and_changes_nothing(sample: SampleProject, run_relsafe: RunRelsafe) -> None:
    with (sample.root / "release.toml").open("a", encoding="utf-8") as stream:
        stream.write('\n[test]\nlock = "uv.lock"\n')
    git(sample.root, "commit", "-qam", "Name a lock that is not there")
    before = world(sample)
    proc = run_relsafe("release", "minor", cwd=sample.root)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "[test] lock: 'uv.lock' does not exist" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert world(sample) == before
