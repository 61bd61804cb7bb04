"""verify-stage runs the tests again only when its venv differs from the one smoke tested.

The sample depends on flit-core (which no [test] requirement brings in). Smoke
installs it from the session's loopback index; verify-stage from the production
index only (the sample's local index), which serves a wheel of the same files.
When a newer flit-core is published on
production between smoke and verify-stage (the release held at a gate right
before verify-stage), the venv differs and the tests run again, saying why.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

from relsafe.app.sample import SampleProject
from relsafe.journal import records
from relsafe.journal.records import Installed
from relsafe.tools.localindex import LocalIndex
from relsafe.wheeltest.difference import differences
from tests.support.cli import RunRelsafe
from tests.support.git import git
from tests.support.osv_service import OsvService
from tests.support.wheelhouse import wheel_of_installed
from tests.support.world import journal_dir, status_json

DEPENDENCY = metadata.version("flit-core")
NEWER = f"{DEPENDENCY}.post1"
GATE = "hold"
MARKERS = {"python_full_version": "3.11.9", "sys_platform": "linux"}


@pytest.fixture
def osv() -> Iterator[OsvService]:
    """The loopback OSV service audit-deps asks about flit-core."""
    with OsvService() as service:
        yield service


def depending_on_flit_core(sample: SampleProject, production: LocalIndex, osv: OsvService, extra: str = "") -> None:
    """The sample requires flit-core; the production index serves the same files as the loopback index."""
    pyproject = sample.root / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8").replace(
        'description = "A sample package released by relsafe"',
        'description = "A sample package released by relsafe"\ndependencies = ["flit-core"]',
    )
    pyproject.write_text(text, encoding="utf-8")
    with (sample.root / "release.toml").open("a", encoding="utf-8") as release:
        release.write(f'\n[audit-deps]\nosv-url = "{osv.query_url}"\n' + textwrap.dedent(extra))
    git(sample.root, "commit", "-qam", "depend on flit-core")
    git(sample.root, "push", "-q", "origin", "main")
    wheel_of_installed(f"flit-core=={DEPENDENCY}", production.storage)


def verify_tests(sample: SampleProject) -> dict[str, Any]:
    status = status_json(sample)
    assert status is not None
    assert status["steps"]["verify-stage"]["status"] == "done", status["steps"]["verify-stage"]
    (environment,) = status["steps"]["verify-stage"]["outputs"]["environments"]
    tests: dict[str, Any] = environment["tests"]
    return tests


def suite_runs(sample: SampleProject) -> int:
    """How many times the sample's tests ran in this release's logs (pytest's tally line)."""
    logs = "\n".join(path.read_text(encoding="utf-8") for path in (journal_dir(sample) / "logs").glob("*.log"))
    return len(re.findall(r"\b\d+ passed in ", logs))


@pytest.mark.slow
@pytest.mark.parametrize("setting", ["auto", "always"])
def test_verify_stage_runs_the_tests_again_only_when_asked_if_the_venv_is_smokes(
    sample: SampleProject, local_index: LocalIndex, osv: OsvService, run_relsafe: RunRelsafe, setting: str
) -> None:
    depending_on_flit_core(sample, local_index, osv, f'\n[verify-stage]\ntests = "{setting}"\n')

    proc = run_relsafe("release", "minor", cwd=sample.root, timeout=900)

    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "flit-core" in local_index.log_path.read_text(encoding="utf-8"), "verify-stage got it from production"
    status = status_json(sample)
    assert status is not None
    smoke = status["steps"]["smoke"]["outputs"]["environments"][0]["installed"]
    verify = status["steps"]["verify-stage"]["outputs"]["environments"][0]["installed"]
    assert [(item["name"], item["version"]) for item in smoke] == [("flit-core", DEPENDENCY)]
    assert smoke == verify and smoke[0]["files"], "the same files, by their hashes"
    tests = verify_tests(sample)
    if setting == "auto":
        assert tests["ran"] is False
        assert "the venv is smoke's: the same 1 dependency" in tests["reason"]
        assert "tests not run again" in proc.stdout + proc.stderr
        assert suite_runs(sample) == 1, "smoke only"
    else:
        assert tests["ran"] is True and tests["reason"] == '[verify-stage] tests = "always"'
        assert re.match(r"\d+ passed", tests["summary"]), tests
        assert suite_runs(sample) == 2


@pytest.mark.slow
def test_a_dependency_published_on_production_after_smoke_makes_verify_stage_run_the_tests(
    sample: SampleProject, local_index: LocalIndex, osv: OsvService, run_relsafe: RunRelsafe
) -> None:
    gate = f'\n[[gate]]\nname = "{GATE}"\nbefore = "verify-stage"\nitems = ["go on"]\n'
    depending_on_flit_core(sample, local_index, osv, gate)
    waiting = run_relsafe("release", "minor", cwd=sample.root, timeout=900)
    assert waiting.returncode == 3, waiting.stdout + waiting.stderr

    wheel_of_installed(f"flit-core=={DEPENDENCY}", local_index.storage, as_version=NEWER)
    resumed = run_relsafe("resume", "--confirm", GATE, cwd=sample.root, timeout=900)

    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    tests = verify_tests(sample)
    assert tests["ran"] is True
    assert tests["reason"] == f"it differs from smoke's: flit-core {DEPENDENCY} → {NEWER}"
    assert re.match(r"\d+ passed", tests["summary"]), tests
    assert f"flit-core {DEPENDENCY} → {NEWER}" in resumed.stdout + resumed.stderr
    assert suite_runs(sample) == 2


def environment(*installed: Installed, **markers: str) -> records.TestedEnvironment:
    return records.TestedEnvironment("/usr/bin/python3", {**MARKERS, **markers}, installed)


def test_the_same_versions_and_files_on_the_same_interpreter_do_not_differ() -> None:
    here = environment(Installed("a", "1.0", files="f1"), Installed("b", "2.0", via="a", files="f2"))
    assert differences(here, here) == []


@pytest.mark.parametrize(
    ("smoke", "verify", "says"),
    [
        ([Installed("a", "1.0", files="f")], [Installed("a", "1.1", files="f")], "a 1.0 → 1.1"),
        ([Installed("a", "1.0", files="f")], [Installed("a", "1.0", files="g")], "a 1.0: other files than smoke"),
        ([], [Installed("a", "1.0", files="f")], "a 1.0 is installed here, not in smoke's venv"),
        ([Installed("a", "1.0", files="f")], [], "a 1.0 was in smoke's venv, not here"),
        ([Installed("a", "1.0")], [Installed("a", "1.0", files="f")], "a 1.0: smoke recorded no file hashes"),
    ],
    ids=["version", "files", "one more", "one less", "older record"],
)
def test_a_dependency_that_differs_is_named(smoke: list[Installed], verify: list[Installed], says: str) -> None:
    (found,) = differences(environment(*smoke), environment(*verify))
    assert found.startswith(says)


def test_another_interpreter_differs() -> None:
    found = differences(environment(), environment(python_full_version="3.11.10"))
    assert found == ["python_full_version 3.11.9 → 3.11.10"]
    assert differences(None, environment()) == ["smoke recorded no environment for python3"]


def test_the_files_digest_leaves_out_what_the_installer_writes_per_venv(tmp_path: Path) -> None:
    """Two venvs of the same wheel get the same digest though their console scripts and INSTALLER differ."""
    from relsafe.wheeltest.installed import files_digest

    digests = []
    for venv, installer in (("one", "pip"), ("two", "uv")):
        site = tmp_path / venv
        info = site / "a-1.0.dist-info"
        info.mkdir(parents=True)
        (site / "a.py").write_text("x = 1\n")
        (info / "METADATA").write_text("Metadata-Version: 2.1\nName: a\nVersion: 1.0\n")
        (info / "INSTALLER").write_text(installer)
        (info / "RECORD").write_text(
            "a.py,sha256=abc,6\na-1.0.dist-info/METADATA,sha256=def,40\n"
            f"a-1.0.dist-info/INSTALLER,sha256={installer},3\na-1.0.dist-info/RECORD,,\n"
            f"../../../bin/a,sha256={venv},10\na/__pycache__/a.cpython-311.pyc,,\n"
        )
        (distribution,) = metadata.distributions(path=[str(site)])
        digests.append(files_digest(distribution))
    assert digests[0] == digests[1] is not None
    (tmp_path / "one" / "a-1.0.dist-info" / "RECORD").write_text("a.py,sha256=other,6\n")
    (changed,) = metadata.distributions(path=[str(tmp_path / "one")])
    assert files_digest(changed) != digests[1]
