"""The versions a build ran with: recorded from the environment it used, and enough to build the same bytes."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import pytest

from relsafe import build_requirements
from relsafe.distribution import sha256_file
from relsafe.runlog import RunLog
from relsafe.tools.builder import build_distributions
from tests.shapes import write_from_sample

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
