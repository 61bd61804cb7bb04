"""The versions a build ran with: recorded from the environment it used, and enough to build the same bytes."""

from __future__ import annotations

import importlib.metadata
import tempfile
import time
from pathlib import Path

import pytest

from relsafe.artifacts.distribution import sha256_file
from relsafe.core.errors import ToolFailed
from relsafe.journal.runlog import RunLog
from relsafe.model import build_requirements
from relsafe.tools.builder import build_distributions, prepare_environment
from tests.support.shapes import write_from_sample

EPOCH = 1_700_000_000


def test_the_closure_pins_a_requirement_and_everything_it_imports_as_installed() -> None:
    pins = build_requirements.closure(["hatchling", "build"])
    names = {pin.partition("==")[0] for pin in pins}
    assert {"hatchling", "pathspec", "pluggy", "packaging", "trove-classifiers", "build", "pyproject-hooks"} <= names
    assert f"pluggy=={importlib.metadata.version('pluggy')}" in pins
    assert pins == sorted(pins) and len(names) == len(pins)
    assert "pip" not in names and "pytest" not in names, "only what the build imports"


@pytest.mark.parametrize("pin", ["hatchling>=1", "--index-url=http://x", "hatchling==1 ; python_version<'3'", "==1"])
def test_anything_but_name_equals_version_is_no_pin(pin: str) -> None:
    with pytest.raises(ValueError, match="name==version"):
        build_requirements.checked([pin])


@pytest.mark.slow
def test_an_isolated_build_records_its_environment_and_a_pinned_rebuild_gives_the_same_bytes(tmp_path: Path) -> None:
    """Like every isolated build, this installs hatchling from the package index the machine is configured with."""
    source = tmp_path / "project"
    write_from_sample("hatchling")(source)
    log = RunLog(tmp_path / "run.log")
    first = build_distributions(source, tmp_path / "one", source_date_epoch=EPOCH, pretend_version=None, log=log)
    names = {pin.partition("==")[0] for pin in first.requirements}
    assert {"build", "hatchling", "packaging", "pathspec", "pluggy", "trove-classifiers"} <= names
    assert "pip" not in names
    assert f"build=={importlib.metadata.version('build')}" in first.requirements, "the frontend relsafe builds with"

    again = build_distributions(
        source, tmp_path / "two", source_date_epoch=EPOCH, pretend_version=None, pinned=first.requirements, log=log
    )
    assert again.requirements == first.requirements, "exactly the pins, nothing resolved anew"
    assert [sha256_file(path) for path in again.files] == [sha256_file(path) for path in first.files]
    assert "--no-deps" in log.path.read_text(encoding="utf-8")


@pytest.mark.slow
def test_a_prepared_environment_is_taken_over_only_for_the_same_build_system(tmp_path: Path) -> None:
    """The build step starts installing the backend while bump runs; the build uses that venv, not a second."""
    source = tmp_path / "project"
    write_from_sample("hatchling")(source)
    log = RunLog(tmp_path / "run.log")
    prepared = prepare_environment(source, log)
    assert prepared is not None and prepared.requires == ("hatchling",)
    built = build_distributions(
        source, tmp_path / "one", source_date_epoch=EPOCH, pretend_version=None, prepared=prepared, log=log
    )
    assert len(built.files) == 2 and not prepared.folder.exists(), "used, then removed with the build"
    assert log.path.read_text(encoding="utf-8").count(": installing the build backend") == 1

    other = tmp_path / "other"
    write_from_sample("flit")(other)
    stale = prepare_environment(source, log)  # made for hatchling, offered to a flit project
    assert stale is not None
    build_distributions(other, tmp_path / "two", source_date_epoch=EPOCH, pretend_version=None, prepared=stale, log=log)
    stale.venv.result()
    deadline = time.monotonic() + 10  # the removal runs in the thread that finished the venv, just after
    while stale.folder.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not stale.folder.exists(), "not taken, and removed once made"
    assert "flit_core" in log.path.read_text(encoding="utf-8")


@pytest.mark.slow
@pytest.mark.parametrize("isolated", [False, True])
def test_a_backend_that_cannot_run_is_one_error_and_leaves_no_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated: bool
) -> None:
    scratch = tmp_path / "system-tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    source = tmp_path / "broken"
    source.mkdir()
    (source / "pyproject.toml").write_text(
        '[build-system]\nrequires = []\nbuild-backend = "no_such_backend_relsafe"\n', encoding="utf-8"
    )
    log = RunLog(tmp_path / "run.log")
    with pytest.raises(ToolFailed) as caught:
        build_distributions(
            source, tmp_path / "out", source_date_epoch=EPOCH, pretend_version=None, isolated=isolated, log=log
        )
    assert "\n" not in caught.value.message
    assert list(scratch.iterdir()) == [], "the fresh environment and every scratch folder are gone"
