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
from relsafe.tools.localindex import LocalIndex
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


@pytest.mark.parametrize(
    "pin", ["hatchling==1 --hash=sha256:" + "a" * 63, "hatchling==1 --hash=md5:" + "a" * 32, "hatchling==1 --hash"]
)
def test_a_hash_is_a_full_sha256_or_nothing(pin: str) -> None:
    with pytest.raises(ValueError, match="name==version"):
        build_requirements.checked([pin])
    assert build_requirements.checked(["hatchling==1 --hash=sha256:" + "a" * 64])


def test_a_pin_whose_wheel_is_unknown_gets_no_hash() -> None:
    assert build_requirements.with_hashes(["a==1"], {"a==1": "f" * 64}) == ["a==1 --hash=sha256:" + "f" * 64]
    with pytest.raises(ValueError, match="b==2 is in the build environment, but no wheel with a sha256"):
        build_requirements.with_hashes(["a==1", "b==2"], {"a==1": "f" * 64})
    assert build_requirements.hashed(["a==1 --hash=sha256:" + "f" * 64])
    assert not build_requirements.hashed(["a==1"]) and not build_requirements.hashed([])


@pytest.mark.slow
@pytest.mark.parametrize("isolated", [True, False])
def test_without_staging_each_pin_carries_the_sha256_of_the_wheel_pip_installed_and_a_rebuild_requires_them(
    tmp_path: Path, loopback_only: LocalIndex, isolated: bool
) -> None:
    """The session's loopback index serves the backends: each recorded hash is the sha256 of the file it serves
    for that version, whether the build filled its own venv (pip's report) or ran beside relsafe (a fresh venv
    filled with exactly the pins); a rebuild installs them with --require-hashes and gives the same bytes."""
    source = tmp_path / "project"
    write_from_sample("hatchling")(source)
    log = RunLog(tmp_path / "run.log")
    first = build_distributions(
        source, tmp_path / "one", source_date_epoch=EPOCH, pretend_version=None, isolated=isolated, hashes=True, log=log
    )
    served = {path.name: sha256_file(path) for path in loopback_only.storage.iterdir()}
    assert build_requirements.hashed(first.requirements)
    for pin in first.requirements:
        name, _, rest = pin.partition("==")
        version, _, digest = rest.partition(build_requirements.HASH_OPTION)
        assert served[f"{name.replace('-', '_')}-{version}-py3-none-any.whl"] == digest, pin
    assert "--report" in log.path.read_text(encoding="utf-8")

    again = build_distributions(
        source, tmp_path / "two", source_date_epoch=EPOCH, pretend_version=None, pinned=first.requirements, log=log
    )
    assert again.requirements == first.requirements
    assert [sha256_file(path) for path in again.files] == [sha256_file(path) for path in first.files]
    assert "--require-hashes" in log.path.read_text(encoding="utf-8")

    wrong = [*first.requirements[:-1], first.requirements[-1][:-64] + "0" * 64]
    with pytest.raises(ToolFailed, match="installing the build backend"):
        build_distributions(
            source, tmp_path / "three", source_date_epoch=EPOCH, pretend_version=None, pinned=wrong, log=log
        )


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
    # the scratch HOME the project's code runs with is the process's (tools.home), removed when it exits
    left = [path for path in scratch.iterdir() if not path.name.startswith("relsafe-home-")]
    assert left == [], "the fresh environment and every scratch folder of the build are gone"
