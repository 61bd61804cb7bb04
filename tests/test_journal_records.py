"""The typed journal records read what earlier relsafes wrote, and write it back byte for byte.

A record is the JSON a release's steps returned: the accessors give it types
without changing a byte of state.json, and a status no relsafe writes is a
damaged record like an unknown step.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from relsafe.core.errors import DamagedJournal, StepFailed
from relsafe.journal.records import Artifact, Confirmation, Status, TreeWheel
from relsafe.journal.store import Journal
from relsafe.steps.table import STEP_NAMES

WHEEL = {"kind": "wheel", "name": "pkg-1.1.0-py3-none-any.whl", "sha256": "a" * 64, "size": 2048}
SDIST = {"kind": "sdist", "name": "pkg-1.1.0.tar.gz", "sha256": "b" * 64, "size": 4096}


def step(status: str, outputs: dict[str, Any], **more: Any) -> dict[str, Any]:
    record = {
        "attempts": 1,
        "ended": "2026-01-02T10:00:05+0000",
        "error": None,
        "error_details": [],
        "inputs": {},
        "outputs": outputs,
        "seconds": 5.0,
        "started": "2026-01-02T10:00:00+0000",
        "status": status,
    }
    return record | more


def written_before() -> dict[str, Any]:
    """A release as the relsafe before typed records wrote it, every step a later one reads included."""
    return {
        "base_commit": "1" * 40,
        "blockers": [],
        "branch": "main",
        "config_fingerprint": "f" * 64,
        "created": "2026-01-02T09:59:00+0000",
        "from_version": "1.0.0",
        "id": "20260102T095900-pkg-1.1.0",
        "order": ["preflight", "bump", "build", "stage", "gate:checklist", "tag", "push"],
        "rehearsal": False,
        "remote": "origin",
        "request": "minor",
        "runs": 2,
        "schema": 1,
        "status": "failed",
        "steps": {
            "preflight": step("done", {"warnings": ["the working tree has untracked files"]}),
            "bump": step("done", {"commit": "2" * 40, "files": ["pyproject.toml"]}),
            "build": step(
                "done",
                {
                    "artifacts": [WHEEL, SDIST],
                    "build_requires": ["build==1.2.2", "hatchling==1.27.0"],
                    "source_date_epoch": 1767347940,
                    "tree_wheel": {"name": WHEEL["name"], "sha256": "c" * 64},
                },
            ),
            "stage": step("interrupted", {"repository_url": "http://127.0.0.1:1/", "uploaded": [WHEEL["name"]]}),
            "gate:checklist": step("done", {"how": "confirmed by --yes", "items": ["the changelog is written"]}),
            "tag": step("done", {"commit": "2" * 40, "manifest": ["relsafe-manifest: 1"], "tag": "v1.1.0"}),
            "push": step("failed", {"manual_step": "publish a GitHub Release"}, error="the remote refused"),
        },
        "tag": "v1.1.0",
        "updated": "2026-01-02T10:01:00+0000",
        "version": "1.1.0",
    }


def as_written(record: dict[str, Any]) -> str:
    return json.dumps(record, indent=2, sort_keys=True) + "\n"


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    return Journal(tmp_path, STEP_NAMES)


def test_an_earlier_record_is_written_back_byte_for_byte(journal: Journal) -> None:
    journal.dir.mkdir()
    journal.state_path.write_text(as_written(written_before()), encoding="utf-8")
    release = journal.current()
    assert release is not None

    journal.save(release)

    expected = written_before() | {"updated": release.updated}
    assert journal.state_path.read_text(encoding="utf-8") == as_written(expected)


def test_the_accessors_give_what_each_step_recorded_typed(journal: Journal) -> None:
    journal.dir.mkdir()
    journal.state_path.write_text(as_written(written_before()), encoding="utf-8")
    release = journal.current()
    assert release is not None

    assert release.status == Status.FAILED == "failed" and release.step("stage").status is Status.INTERRUPTED
    assert release.bump_commit == "2" * 40 and release.bump_files == ["pyproject.toml"]
    assert release.artifacts() == [Artifact(**WHEEL), Artifact(**SDIST)]
    assert release.artifact_hashes() == {WHEEL["name"]: "a" * 64, SDIST["name"]: "b" * 64}
    assert release.build_requirements() == ["build==1.2.2", "hatchling==1.27.0"]
    assert release.source_date_epoch == 1767347940
    assert release.tree_wheel() == TreeWheel(WHEEL["name"], "c" * 64)
    assert release.staged_files == [WHEEL["name"]]
    assert release.preflight_warnings == ["the working tree has untracked files"]
    assert release.tag_manifest == ["relsafe-manifest: 1"]
    assert release.manual_step == "publish a GitHub Release"
    assert release.confirmation("checklist") == Confirmation("confirmed by --yes", ["the changelog is written"])


def test_a_release_that_recorded_nothing_yet_has_empty_accessors(journal: Journal) -> None:
    record = written_before() | {"steps": {}}
    journal.dir.mkdir()
    journal.state_path.write_text(as_written(record), encoding="utf-8")
    release = journal.current()
    assert release is not None

    assert release.bump_commit is None and release.bump_files == []
    assert release.artifacts() == [] and release.artifact_hashes() == {} and release.build_requirements() == []
    assert release.source_date_epoch is None and release.tree_wheel() is None
    assert release.staged_files == [] and release.preflight_warnings == [] and release.tag_manifest == []
    assert release.manual_step is None and release.confirmation("checklist") is None


def test_damaged_build_requirements_stop_the_step_that_reads_them(journal: Journal) -> None:
    record = written_before()
    record["steps"]["build"]["outputs"]["build_requires"] = ["build>=1"]
    journal.dir.mkdir()
    journal.state_path.write_text(as_written(record), encoding="utf-8")
    release = journal.current()
    assert release is not None

    with pytest.raises(StepFailed, match="the build's requirements recorded in the journal are damaged"):
        release.build_requirements()


def test_a_status_no_relsafe_writes_is_a_damaged_record(journal: Journal) -> None:
    record = written_before()
    record["steps"]["bump"]["status"] = "finished"
    journal.dir.mkdir()
    journal.state_path.write_text(as_written(record), encoding="utf-8")

    with pytest.raises(DamagedJournal, match=r"steps\.bump\.status: expected one of pending, .*found 'finished'"):
        journal.current()
