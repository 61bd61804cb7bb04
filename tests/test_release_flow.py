"""A whole release through the real CLI: one bump commit, an annotated tag, an atomic push, a journal."""

from __future__ import annotations

import hashlib
import json
import subprocess
import tarfile
import time
import zipfile
from pathlib import Path

import pytest

from relsafe.app.sample import SampleProject
from tests.support import projects
from tests.support.cli import RunRelsafe, relsafe_env
from tests.support.git import git
from tests.support.release_config import FOUNDATION_STEPS
from tests.support.remotes import install_hook
from tests.support.wheels import wheel_files
from tests.support.world import assert_released, journal_dir, status_json

pytestmark = pytest.mark.slow

RELEASE_KEYS = {
    "id",
    "request",
    "from_version",
    "version",
    "tag",
    "branch",
    "remote",
    "base_commit",
    "config_fingerprint",
    "order",
    "rehearsal",
    "status",
    "created",
    "updated",
    "runs",
    "steps",
    "blockers",
    "schema",
}
STEP_KEYS = {"status", "attempts", "started", "ended", "seconds", "inputs", "outputs", "error"}
# 60 characters after the prefix, shaped like a real PyPI token
SECRET = "".join(["pypi-AgEIcHlwaS5vcmc", "Q2xhc3NpZmllZFRva2VuRm9yUmVsc2FmZVRlc3RzT25seU5vdFJlYWwxMjM0NTY"])


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def artifacts_dir(sample: SampleProject, release_id: str) -> Path:
    return journal_dir(sample) / "releases" / release_id / "dist"


def test_minor_release_bumps_tags_pushes_and_records_every_step(
    release_sample: SampleProject, run_relsafe: RunRelsafe
) -> None:
    sample = release_sample
    base = git(sample.root, "rev-parse", "HEAD")
    # a stale, ignored dist/ of the user's must be neither used nor touched
    stale = sample.root / "dist" / "relsafe_sample-0.0.1-py3-none-any.whl"
    stale.parent.mkdir()
    stale.write_bytes(b"not a wheel")
    assert git(sample.root, "status", "--porcelain", "--untracked-files=all") == ""

    proc = run_relsafe("release", "minor", cwd=sample.root)

    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "released 0.2.0" in proc.stdout
    # what comes next: the publish job waits for a reviewer (the sample's remote is a folder, not GitHub)
    assert "next: approve the deployment of the .github/workflows/relsafe-publish.yml run for v0.2.0 " in proc.stdout
    assert "(environment 'pypi') on the repository's Actions page" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr
    status = assert_released(sample, "0.2.0", base)
    assert git(sample.remote, "tag", "--list") == "v0.2.0"
    assert git(sample.root, "log", "-1", "--format=%s") == "Bump version: 0.1.0 → 0.2.0"
    assert sorted(git(sample.root, "diff", "--name-only", base, "HEAD").split()) == [
        "pyproject.toml",
        f"src/{sample.module}/__init__.py",
    ]
    assert git(sample.root, "for-each-ref", "--format=%(contents:subject)", "refs/tags/v0.2.0") == "Release 0.2.0"

    # the journal record: its schema and its content
    assert set(status) >= RELEASE_KEYS, RELEASE_KEYS - set(status)
    assert status["schema"] == 1
    assert status["request"] == "minor"
    assert status["from_version"] == "0.1.0"
    assert (status["branch"], status["remote"], status["rehearsal"], status["runs"]) == (
        "main",
        "origin",
        False,
        1,
    )
    assert status["order"] == list(FOUNDATION_STEPS)
    assert status["blockers"] == []
    assert status["id"].endswith("relsafe-sample-0.2.0")
    for name in FOUNDATION_STEPS:
        record = status["steps"][name]
        assert set(record) >= STEP_KEYS, (name, STEP_KEYS - set(record))
        assert record["attempts"] == 1, name
        assert record["started"] and record["ended"] and record["error"] is None, name
        assert isinstance(record["seconds"], (int, float)) and record["seconds"] >= 0, name
    bump = git(sample.root, "rev-parse", "HEAD")
    assert status["steps"]["bump"]["outputs"]["files"] == [
        "pyproject.toml",
        f"src/{sample.module}/__init__.py",
    ]
    build_inputs = status["steps"]["build"]["inputs"]
    assert (build_inputs["commit"], build_inputs["version"]) == (bump, "0.2.0")
    assert status["steps"]["tag"]["outputs"]["tag"] == "v0.2.0"
    pushed = status["steps"]["push"]["outputs"]
    assert (pushed["remote"], pushed["tag"], pushed["commit"]) == ("origin", "v0.2.0", bump)

    # artifacts live in the release's own folder, with the recorded hashes
    folder = artifacts_dir(sample, status["id"])
    recorded = status["steps"]["build"]["outputs"]["artifacts"]
    assert sorted(p.name for p in folder.iterdir()) == sorted(a["name"] for a in recorded)
    assert [p.name for p in folder.parent.iterdir()] == ["dist"], "virtualenvs and checkouts are gone"
    assert git(sample.root, "worktree", "list").count("\n") == 0, "no build worktree is left registered"
    assert {a["kind"] for a in recorded} == {"sdist", "wheel"}
    for artifact in recorded:
        path = folder / artifact["name"]
        assert "0.2.0" in artifact["name"]
        assert artifact["sha256"] == sha256(path)
        assert artifact["size"] == path.stat().st_size
    members = wheel_files(next(folder.glob("*.whl")))
    metadata = members["relsafe_sample-0.2.0.dist-info/METADATA"].decode()
    init = members[f"{sample.module}/__init__.py"].decode()
    assert "\nVersion: 0.2.0\n" in metadata
    assert '__version__ = "0.2.0"' in init
    assert sorted(p.name for p in (sample.root / "dist").iterdir()) == [stale.name]
    assert stale.read_bytes() == b"not a wheel"

    # history keeps the finished release; the text status shows every step done
    history = json.loads((journal_dir(sample) / "history" / f"{status['id']}.json").read_text())
    assert history["status"] == "done"
    text = run_relsafe("status", cwd=sample.root)
    assert text.returncode == 0
    assert "0.1.0 → 0.2.0" in text.stdout and "v0.2.0" in text.stdout
    lines = text.stdout.splitlines()
    for name in FOUNDATION_STEPS:
        row = next(line for line in lines if line.startswith(name + " "))
        assert row.split()[1] == "done", row


@pytest.mark.parametrize(
    ("request_", "version"),
    [
        ("patch", "0.1.1"),
        ("major", "1.0.0"),
        ("0.5.0", "0.5.0"),
        ("rc", "0.1.1rc1"),
        ("alpha", "0.1.1a1"),
    ],
)
def test_each_kind_of_request_releases_the_computed_version(
    release_sample: SampleProject, run_relsafe: RunRelsafe, request_: str, version: str
) -> None:
    sample = release_sample
    base = git(sample.root, "rev-parse", "HEAD")

    proc = run_relsafe("release", request_, cwd=sample.root)

    assert proc.returncode == 0, proc.stdout + proc.stderr
    status = assert_released(sample, version, base)
    assert status["request"] == request_
    names = sorted(a["name"] for a in status["steps"]["build"]["outputs"]["artifacts"])
    assert names == [f"relsafe_sample-{version}-py3-none-any.whl", f"relsafe_sample-{version}.tar.gz"]


def test_a_pre_release_then_its_final_release(release_sample: SampleProject, run_relsafe: RunRelsafe) -> None:
    sample = release_sample
    first_base = git(sample.root, "rev-parse", "HEAD")
    assert run_relsafe("release", "rc", cwd=sample.root).returncode == 0
    rc_commit = git(sample.root, "rev-parse", "HEAD")

    proc = run_relsafe("release", "release", cwd=sample.root)

    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert git(sample.root, "rev-parse", "v0.1.1rc1^{commit}") == rc_commit
    assert git(sample.root, "rev-parse", f"{rc_commit}^") == first_base
    status = assert_released(sample, "0.1.1", rc_commit)
    assert (status["from_version"], status["request"]) == ("0.1.1rc1", "release")
    # two releases: the remote has both tags, each on its own bump commit
    assert git(sample.remote, "tag", "--list").split() == ["v0.1.1", "v0.1.1rc1"]
    history = sorted((journal_dir(sample) / "history").glob("*.json"))
    assert len(history) == 2


def test_the_build_is_reproducible_from_the_bump_commit(
    release_sample: SampleProject, run_relsafe: RunRelsafe, tmp_path: Path
) -> None:
    sample = release_sample
    assert run_relsafe("release", "minor", cwd=sample.root).returncode == 0
    status = status_json(sample)
    assert status is not None
    build = status["steps"]["build"]["outputs"]
    epoch = build["source_date_epoch"]
    assert epoch == int(git(sample.root, "show", "-s", "--format=%ct", "v0.2.0^{commit}"))

    # the epoch reached the build: archive timestamps are the bump commit's time
    folder = artifacts_dir(sample, status["id"])
    with zipfile.ZipFile(next(folder.glob("*.whl"))) as archive:
        stamps = {info.date_time for info in archive.infolist()}
    expected = time.gmtime(epoch)[:6]
    assert all(abs(time.mktime((*s, 0, 0, -1)) - time.mktime((*expected, 0, 0, -1))) <= 2 for s in stamps), stamps
    with tarfile.open(next(folder.glob("*.tar.gz"))) as archive:
        assert {member.mtime for member in archive.getmembers()} == {epoch}

    # an independent rebuild of the tagged commit gives the same bytes
    checkout = tmp_path / "rebuild-src"
    subprocess.run(
        ["git", "clone", "-q", "--branch", "v0.2.0", str(sample.remote), str(checkout)],
        check=True,
        capture_output=True,
    )
    rebuilt = projects.build(
        checkout, out=tmp_path / "rebuild-dist", isolated=True, env={**relsafe_env(), "SOURCE_DATE_EPOCH": str(epoch)}
    )
    assert {a["name"]: a["sha256"] for a in build["artifacts"]} == {p.name: sha256(p) for p in rebuilt}


def test_the_journal_never_dirties_the_tree_nor_holds_a_secret(
    release_sample: SampleProject, run_relsafe: RunRelsafe
) -> None:
    sample = release_sample
    base = git(sample.root, "rev-parse", "HEAD")
    # the remote echoes the secret and refuses: it reaches relsafe's output, its error and its log
    hook = install_hook(sample, 'echo "remote says: token is $TWINE_PASSWORD" >&2\nexit 1\n')
    secret_env = relsafe_env(TWINE_PASSWORD=SECRET)

    failed = run_relsafe("release", "minor", cwd=sample.root, env=secret_env)
    hook.unlink()
    resumed = run_relsafe("resume", cwd=sample.root, env=secret_env)

    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "remote says: token is" in failed.stderr  # the line was shown, so the secret had its chance
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert_released(sample, "0.2.0", base)
    assert git(sample.remote, "tag", "--list") == "v0.2.0"
    for proc in (failed, resumed):
        assert SECRET not in proc.stdout + proc.stderr
        assert SECRET[:24] not in proc.stdout + proc.stderr
    files = [p for p in journal_dir(sample).rglob("*") if p.is_file()]
    assert any(p.suffix == ".log" for p in files) and any(p.suffix == ".json" for p in files)
    logged = b"".join(p.read_bytes() for p in files if p.suffix == ".log")
    assert b"remote says: token is" in logged
    for path in files:
        content = path.read_bytes()
        assert SECRET.encode() not in content, path
        assert SECRET[:24].encode() not in content, path
