"""Staging on a real pypiserver, with and without a login: exactly the built files go up, each once.

Every test runs the real CLI against a real local index and then reads the
world itself: the index's storage folder (what it really holds, byte for
byte), the index's own log (pypiserver says "stored 'NAME'" once per file it
accepted), its simple API, and the repository and its bare remote with plain
git. Crashes are real SIGKILLs at named failpoints; outages are the index
process really stopped and started again on the same port.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from relsafe.app.sample import SampleProject, create_sample, write_index_config, write_sources
from relsafe.tools.index.simple_api import project_files
from relsafe.tools.localindex import LocalIndex
from tests.support.cli import RunRelsafe, relsafe_env
from tests.support.git import git
from tests.support.processes import KILLED, start, wait_for
from tests.support.projects import build
from tests.support.release_config import rewrite_workflow
from tests.support.remotes import IDENTITY, push_from_another_clone
from tests.support.world import journal_dir, status_json, world

pytestmark = pytest.mark.slow

NAME = "relsafe-sample"
VERSION = "0.2.0"
HIGHER = "0.3.0"
LOGIN = "__token__"
# shaped like real PyPI tokens: the prefix PyPI uses, then 60 characters
SECRET = "".join(["pypi-AgEIcHlwaS5vcmc", "U3RhZ2luZ1Rlc3RTZWNyZXRUaGF0TXVzdE5ldmVyQmVTaG93bkFueXdoZXJlMTI"])
WRONG_SECRET = "".join(["pypi-AgEIcHlwaS5vcmc", "V3JvbmdUb2tlbldoaWNoVGhlSW5kZXhSZWZ1c2VzV2l0aEZvcmJpZGRlbjQwMzk"])
STORED = re.compile(r"stored '([^']+)'")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- indexes and credentials --------------------------------------------------


@dataclass(frozen=True)
class Staging:
    """A staging index and the environment relsafe runs with to reach it (credentials, if any)."""

    index: LocalIndex
    env: dict[str, str]
    login: str  # "open", "env" or "pypirc"


def base_env(home: Path | None = None, **extra: str) -> dict[str, str]:
    """relsafe's environment without any credentials of the machine's (TWINE_*, the real ~/.pypirc)."""
    env = {k: v for k, v in relsafe_env(**extra).items() if not k.startswith("TWINE_") or k in extra}
    if home is not None:
        env["HOME"] = str(home)
    return env


def write_pypirc(home: Path, index: LocalIndex, password: str) -> Path:
    """A ~/.pypirc naming the index by its upload URL, readable by its owner only (as twine asks)."""
    home.mkdir(parents=True, exist_ok=True)
    pypirc = home / ".pypirc"
    pypirc.write_text(
        "[distutils]\nindex-servers =\n    staging\n\n"
        f"[staging]\nrepository = {index.upload_url}\nusername = {LOGIN}\npassword = {password}\n",
        encoding="utf-8",
    )
    pypirc.chmod(0o600)
    return pypirc


@pytest.fixture(params=["open", "env", "pypirc"])
def staging(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Staging]:
    """The staging index three ways: open uploads; a login from TWINE_USERNAME/TWINE_PASSWORD; one from ~/.pypirc."""
    login: str = request.param
    home = tmp_path / "home"
    home.mkdir()
    if login == "open":
        with LocalIndex() as index:
            yield Staging(index, base_env(home), login)
        return
    with LocalIndex(username=LOGIN, password=SECRET) as index:
        if login == "env":
            env = base_env(home, TWINE_USERNAME=LOGIN, TWINE_PASSWORD=SECRET)
        else:
            write_pypirc(home, index, SECRET)
            env = base_env(home)
        yield Staging(index, env, login)


@pytest.fixture
def production_index() -> Iterator[LocalIndex]:
    """An index of its own standing for production, so that staging and production can be told apart."""
    with LocalIndex() as index:
        yield index


def stopped_index() -> LocalIndex:
    """An index that has a port but is not running: what an outage looks like from the client."""
    index = LocalIndex().start()
    index.stop()
    return index


# -- the sample and what it built ----------------------------------------------


def staged_sample(
    base: Path, staging: LocalIndex, production: LocalIndex | str | None = None, extra: str = ""
) -> SampleProject:
    """The sample at 0.1.0, staging to `staging` and checking `production` (default: the staging index);
    `extra` is appended to its release.toml.

    It builds with the hatchling beside relsafe and tests with unittest, so a
    release needs no network at all beyond these loopback indexes.
    """
    sample = create_sample(base)
    production_url = production.index_url if isinstance(production, LocalIndex) else production
    write_index_config(
        sample.root, staging.upload_url, staging.index_url, offline=True, production_index_url=production_url
    )
    config = sample.root / "release.toml"
    config.write_text(config.read_text(encoding="utf-8") + extra, encoding="utf-8")
    git(sample.root, "add", "release.toml", str(rewrite_workflow(sample.root)))
    git(sample.root, "commit", "-q", "-m", "Release against local indexes")
    git(sample.root, "push", "-q", "origin", "main")
    git(sample.root, "fetch", "-q", "origin")
    return sample


def built(sample: SampleProject) -> dict[str, str]:
    """name → sha256 of the release's build as the journal recorded it, checked against the files themselves."""
    status = status_json(sample)
    assert status is not None
    artifacts = status["steps"]["build"]["outputs"]["artifacts"]
    folder = journal_dir(sample) / "releases" / status["id"] / "dist"
    recorded = {a["name"]: a["sha256"] for a in artifacts}
    assert {path.name: sha256(path) for path in folder.iterdir()} == recorded
    assert sorted(a["kind"] for a in artifacts) == ["sdist", "wheel"]
    return recorded


def stored(index: LocalIndex) -> dict[str, str]:
    """name → sha256 of every file in the index's storage folder: what it really serves."""
    return {path.name: sha256(path) for path in sorted(index.storage.iterdir()) if path.is_file()}


def stores(index: LocalIndex) -> list[str]:
    """Every file the index accepted, in order, from its own log (one line per accepted upload)."""
    return STORED.findall(index.log_path.read_text(encoding="utf-8", errors="replace"))


def uploading(output: str) -> list[str]:
    """The files a run said it was uploading."""
    return re.findall(r"uploading (\S+)", output)


def assert_tagged_and_pushed(sample: SampleProject) -> None:
    head = git(sample.root, "rev-parse", "HEAD")
    assert git(sample.root, "rev-parse", f"v{VERSION}^{{commit}}") == head
    assert git(sample.remote, "rev-parse", f"refs/tags/v{VERSION}^{{commit}}") == head
    assert git(sample.remote, "rev-parse", "refs/heads/main") == head


def assert_not_tagged(sample: SampleProject, remote_main: str) -> None:
    assert git(sample.root, "tag", "--list") == ""
    assert git(sample.remote, "tag", "--list") == ""
    assert git(sample.remote, "rev-parse", "refs/heads/main") == remote_main


def assert_staged_exactly_the_build(sample: SampleProject, index: LocalIndex) -> dict[str, str]:
    """The index holds exactly the two built files, byte for byte, lists them with the build's hashes,
    and accepted each of them exactly once."""
    build = built(sample)
    assert stored(index) == build
    listed = {f.filename: f.sha256 for f in project_files(index.index_url, NAME)}
    assert listed == build, "the simple API lists exactly the built files, for every version"
    assert sorted(stores(index)) == sorted(build), "each file was accepted exactly once"
    return build


def status(sample: SampleProject) -> dict[str, Any]:
    found = status_json(sample)
    assert found is not None
    return found


# -- files that are not ours ----------------------------------------------------


@pytest.fixture(scope="session")
def impostor_dists(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Path]]:
    """relsafe-sample built from other sources, per version: the same file names as a real build, other bytes.

    What someone else (or an earlier, different build) left on an index.
    """
    base = tmp_path_factory.mktemp("impostor")
    found: dict[str, dict[str, Path]] = {}
    for version in ("0.1.0", VERSION, HIGHER):
        root = base / version
        module = write_sources(root, NAME, version)
        init = root / "src" / module / "__init__.py"
        init.write_text(init.read_text(encoding="utf-8") + "\nIMPOSTOR = True\n", encoding="utf-8")
        wheel, sdist = build(root)
        found[version] = {"sdist": sdist, "wheel": wheel}
    return found


def upload_directly(index: LocalIndex, path: Path) -> None:
    """Put a file on the index with plain twine, the way another person's upload would."""
    login = index.credentials
    env = {k: v for k, v in os.environ.items() if not k.startswith("TWINE_")}
    env["NO_PROXY"] = "127.0.0.1"
    subprocess.run(
        [sys.executable, "-m", "twine", "upload", "--non-interactive", "--disable-progress-bar",
         "--repository-url", index.upload_url, "-u", login.username, "-p", login.password, str(path)],
        env=env, check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    assert stored(index)[path.name] == sha256(path)


# -- a staged release -----------------------------------------------------------


def test_a_staged_release_puts_exactly_the_wheel_and_sdist_on_the_index_with_the_builds_hashes(
    tmp_path: Path, staging: Staging, run_relsafe: RunRelsafe
) -> None:
    sample = staged_sample(tmp_path, staging.index)

    proc = run_relsafe("release", "minor", cwd=sample.root, env=staging.env)

    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert f"released {VERSION}" in proc.stdout
    build = assert_staged_exactly_the_build(sample, staging.index)
    assert sorted(uploading(output)) == sorted(build)
    record = status(sample)
    assert sorted(record["steps"]["stage"]["outputs"]["uploaded"]) == sorted(build)
    assert record["steps"]["stage"]["outputs"]["repository_url"] == staging.index.upload_url
    assert sorted(record["steps"]["verify-stage"]["outputs"]["downloaded"]) == sorted(build)
    downloads = journal_dir(sample) / "releases" / record["id"] / "verify-stage" / "downloads"
    assert not downloads.exists(), "read back and checked against the build, then removed as the release ended"
    assert_tagged_and_pushed(sample)
    if staging.login != "open":
        assert SECRET not in output
        assert "readable by other users" not in output  # the .pypirc is 600


def test_an_index_that_requires_a_login_stops_a_release_without_one_and_resume_finishes_with_it(
    tmp_path: Path, run_relsafe: RunRelsafe
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    with LocalIndex(username=LOGIN, password=SECRET) as index:
        sample = staged_sample(tmp_path, index)
        remote_main = git(sample.remote, "rev-parse", "refs/heads/main")

        refused = run_relsafe("release", "minor", cwd=sample.root, env=base_env(home))

        output = refused.stdout + refused.stderr
        assert refused.returncode == 1, output
        assert "refused the credentials" in output
        assert "Traceback" not in output
        assert stored(index) == {} and stores(index) == []
        assert_not_tagged(sample, remote_main)
        assert status(sample)["steps"]["stage"]["status"] == "failed"

        env = base_env(home, TWINE_USERNAME=LOGIN, TWINE_PASSWORD=SECRET)
        resumed = run_relsafe("resume", cwd=sample.root, env=env)

        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        assert_staged_exactly_the_build(sample, index)
        assert_tagged_and_pushed(sample)


# -- outages and crashes ----------------------------------------------------------


@pytest.mark.parametrize("login", ["open", "env"])
def test_the_index_stopped_during_a_release_fails_it_and_resume_after_a_restart_finishes(
    login: str, tmp_path: Path, run_relsafe: RunRelsafe
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    username, password = (LOGIN, SECRET) if login == "env" else (None, None)
    extra = {"TWINE_USERNAME": LOGIN, "TWINE_PASSWORD": SECRET} if login == "env" else {}
    env = base_env(home, **extra)
    with LocalIndex(username=username, password=password) as index:
        sample = staged_sample(tmp_path, index)
        remote_main = git(sample.remote, "rev-parse", "refs/heads/main")
        hold = tmp_path / "hold"
        hold.mkdir()
        reached = hold / "after-preflight.reached"

        # preflight needs the index; it goes down once preflight is past, before anything else asks it
        proc = start(
            sample,
            "release",
            "minor",
            HOME=str(home),
            RELSAFE_FAILPOINT="after-preflight=hold",
            RELSAFE_FAILPOINT_HOLD=str(hold),
            **extra,
        )
        try:
            wait_for(lambda: reached.exists() or proc.poll() is not None, 300, "preflight to pass")
            assert reached.exists(), "preflight never passed"
        except AssertionError:
            proc.kill()
            raise AssertionError(f"preflight never passed: {proc.communicate()}") from None
        index.stop()
        reached.unlink()  # the release goes on
        out, err = proc.communicate(timeout=300)

        assert proc.returncode == 1, out + err
        assert "Traceback" not in out + err
        assert "unreachable" in err and f"127.0.0.1:{index.port}" in err
        assert "relsafe resume" in err
        failed = status(sample)
        # the index is production too: inspect is the first to need it again, for the release diff
        assert failed["steps"]["inspect"]["status"] == "failed"
        assert failed["steps"]["stage"]["status"] == "pending"
        assert failed["steps"]["smoke"]["status"] == "done", "the outage did not touch what came before"
        assert stored(index) == {}
        assert_not_tagged(sample, remote_main)

        index.start()  # same port, same storage: the index is back
        resumed = run_relsafe("resume", cwd=sample.root, env=env)

        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        assert "done earlier" in resumed.stdout, "resume went on from inspect, not from the start"
        assert_staged_exactly_the_build(sample, index)
        assert_tagged_and_pushed(sample)
        assert git(sample.root, "log", "--format=%s").count(f"→ {VERSION}") == 1, "one bump, not two"


@pytest.mark.parametrize("login", ["open", "env"])
def test_a_kill_between_the_two_uploads_resume_uploads_only_the_second_file(
    login: str, tmp_path: Path, run_relsafe: RunRelsafe
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    username, password = (LOGIN, SECRET) if login == "env" else (None, None)
    extra = {"TWINE_USERNAME": LOGIN, "TWINE_PASSWORD": SECRET} if login == "env" else {}
    with LocalIndex(username=username, password=password) as index:
        sample = staged_sample(tmp_path, index)

        proc = start(sample, "release", "minor", RELSAFE_FAILPOINT="between-uploads", HOME=str(home), **extra)
        _out, err = proc.communicate(timeout=300)

        assert proc.returncode == KILLED, err
        build = built(sample)
        first, second = list(build)  # the build records the sdist first
        assert first.endswith(".tar.gz") and second.endswith(".whl")
        assert stored(index) == {first: build[first]}, "the kill came after exactly one upload"
        first_mtime = (index.storage / first).stat().st_mtime_ns
        interrupted = status(sample)
        assert interrupted["steps"]["stage"]["status"] == "running"
        assert interrupted["steps"]["stage"]["outputs"]["uploaded"] == [first], "journaled as soon as it landed"

        resumed = run_relsafe("resume", cwd=sample.root, env=base_env(home, **extra))

        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        assert uploading(resumed.stdout) == [second], "resume uploads only the missing file"
        assert stores(index) == [first, second], "the index accepted each file once"
        assert (index.storage / first).stat().st_mtime_ns == first_mtime
        assert_staged_exactly_the_build(sample, index)
        assert_tagged_and_pushed(sample)


def test_a_kill_between_uploads_then_an_outage_resume_fails_until_the_index_is_back(
    tmp_path: Path, local_index: LocalIndex, run_relsafe: RunRelsafe
) -> None:
    sample = staged_sample(tmp_path, local_index)
    remote_main = git(sample.remote, "rev-parse", "refs/heads/main")
    proc = start(sample, "release", "minor", RELSAFE_FAILPOINT="between-uploads")
    _out, err = proc.communicate(timeout=300)
    assert proc.returncode == KILLED, err
    first, second = list(built(sample))
    local_index.stop()

    down = run_relsafe("resume", cwd=sample.root)

    assert down.returncode == 1, down.stdout + down.stderr
    assert "unreachable" in down.stderr
    assert_not_tagged(sample, remote_main)
    assert status(sample)["steps"]["stage"]["outputs"]["uploaded"] == [first]

    local_index.start()
    resumed = run_relsafe("resume", cwd=sample.root)

    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert uploading(resumed.stdout) == [second]
    assert stores(local_index) == [first, second]
    assert_staged_exactly_the_build(sample, local_index)
    assert_tagged_and_pushed(sample)


@pytest.mark.parametrize(("planted", "failpoint"), [("sdist", "after-bump-commit"), ("wheel", "between-uploads")])
def test_a_different_file_of_the_same_name_on_staging_is_refused_before_any_tag(
    planted: str,
    failpoint: str,
    tmp_path: Path,
    local_index: LocalIndex,
    impostor_dists: dict[str, dict[str, Path]],
    run_relsafe: RunRelsafe,
) -> None:
    sample = staged_sample(tmp_path, local_index)
    remote_main = git(sample.remote, "rev-parse", "refs/heads/main")
    proc = start(sample, "release", "minor", RELSAFE_FAILPOINT=failpoint)
    _out, err = proc.communicate(timeout=300)
    assert proc.returncode == KILLED, err
    # while relsafe was down, someone else put their own build of this version's file on staging
    impostor = impostor_dists[VERSION][planted]
    upload_directly(local_index, impostor)
    before = stored(local_index)

    refused = run_relsafe("resume", cwd=sample.root)

    output = refused.stdout + refused.stderr
    assert refused.returncode == 4, output
    assert "Traceback" not in output
    assert "already holds other files" in output and impostor.name in output
    build = built(sample)
    assert impostor.name in build and build[impostor.name] != sha256(impostor), "same name, other bytes"
    assert stored(local_index) == before, "nothing was uploaded over or beside it"
    assert (local_index.storage / impostor.name).read_bytes() == impostor.read_bytes()
    assert_not_tagged(sample, remote_main)
    assert status(sample)["steps"]["stage"]["status"] in ("blocked", "failed")
    assert (journal_dir(sample) / "state.json").exists(), "the release stays in progress, for abort to end it"


# -- preflight ----------------------------------------------------------------------


def test_the_version_already_on_the_production_index_is_refused_before_anything_changes(
    tmp_path: Path,
    local_index: LocalIndex,
    production_index: LocalIndex,
    impostor_dists: dict[str, dict[str, Path]],
    run_relsafe: RunRelsafe,
) -> None:
    sample = staged_sample(tmp_path, local_index, production_index)
    upload_directly(production_index, impostor_dists[VERSION]["wheel"])
    before = world(sample)

    refused = run_relsafe("release", "minor", cwd=sample.root)

    output = refused.stdout + refused.stderr
    assert refused.returncode == 4, output
    assert f"{VERSION} is already on the production index {production_index.index_url}" in output
    assert "staging index" not in output, "staging holds nothing of it: only production is named"
    assert world(sample) == before
    assert stored(local_index) == {}
    assert not (journal_dir(sample) / "state.json").exists(), "a refused release is not in progress"


def test_files_of_this_version_already_on_staging_are_refused_before_bumping(
    tmp_path: Path,
    local_index: LocalIndex,
    production_index: LocalIndex,
    impostor_dists: dict[str, dict[str, Path]],
    run_relsafe: RunRelsafe,
) -> None:
    sample = staged_sample(tmp_path, local_index, production_index)
    wheel = impostor_dists[VERSION]["wheel"]
    upload_directly(local_index, wheel)
    before, held = world(sample), stored(local_index)

    refused = run_relsafe("release", "minor", cwd=sample.root)

    output = refused.stdout + refused.stderr
    assert refused.returncode == 4, output
    assert "the staging index" in output and wheel.name in output
    assert "production index" not in output
    assert world(sample) == before, "refused before the bump: no commit, no changed file"
    assert stored(local_index) == held
    assert not (journal_dir(sample) / "state.json").exists()


def test_files_of_other_versions_on_staging_do_not_stop_a_release(
    tmp_path: Path,
    local_index: LocalIndex,
    production_index: LocalIndex,
    impostor_dists: dict[str, dict[str, Path]],
    run_relsafe: RunRelsafe,
) -> None:
    sample = staged_sample(tmp_path, local_index, production_index)
    for path in impostor_dists["0.1.0"].values():
        upload_directly(local_index, path)
        upload_directly(production_index, path)
    earlier = stored(local_index)

    proc = run_relsafe("release", "minor", cwd=sample.root)

    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert stored(local_index) == {**earlier, **built(sample)}
    assert_tagged_and_pushed(sample)


@pytest.mark.parametrize("down", ["staging", "production"])
def test_an_unreachable_index_stops_a_real_release_with_exit_1_and_a_clear_message(
    down: str, tmp_path: Path, local_index: LocalIndex, run_relsafe: RunRelsafe
) -> None:
    stopped = stopped_index()
    try:
        if down == "staging":
            sample = staged_sample(tmp_path, stopped, local_index)
        else:
            sample = staged_sample(tmp_path, local_index, stopped)
        before = world(sample)

        failed = run_relsafe("release", "minor", cwd=sample.root)

        output = failed.stdout + failed.stderr
        assert failed.returncode == 1, output
        assert "Traceback" not in output
        assert f"index unreachable at {stopped.index_url}" in failed.stderr
        assert world(sample) == before, "nothing changed"
        assert not (journal_dir(sample) / "state.json").exists()
    finally:
        stopped.close()


# -- resume asks the world again --------------------------------------------------------

GATE = "before-staging"
GATE_BEFORE_STAGE = f"""
[[gate]]
name = "{GATE}"
before = "stage"
items = ["The changelog is final"]
"""


def waiting_before_stage(
    tmp_path: Path, staging: LocalIndex, production: LocalIndex, run_relsafe: RunRelsafe
) -> SampleProject:
    """A release of the sample bumped, built and tested, waiting (exit 3) at a gate right before stage."""
    sample = staged_sample(tmp_path, staging, production, extra=GATE_BEFORE_STAGE)
    waiting = run_relsafe("release", "minor", cwd=sample.root)
    assert waiting.returncode == 3, waiting.stdout + waiting.stderr
    assert status(sample)["steps"]["stage"]["status"] == "pending"
    return sample


def someone_tags_the_remote(sample: SampleProject, tmp_path: Path) -> Path:
    """Someone else pushes their own annotated tag of the release's version; returns their clone."""
    other = tmp_path / "tagging-clone"
    subprocess.run(["git", "clone", "-q", str(sample.remote), str(other)], check=True, capture_output=True)
    git(other, *IDENTITY, "tag", "-a", f"v{VERSION}", "-m", "their tag")
    git(other, "push", "-q", "origin", f"v{VERSION}")
    return other


@pytest.mark.parametrize("change", ["branch", "tag", "published", "higher"])
def test_resume_asks_the_world_again_before_staging_and_refuses_what_changed_meanwhile(
    change: str,
    tmp_path: Path,
    local_index: LocalIndex,
    production_index: LocalIndex,
    impostor_dists: dict[str, dict[str, Path]],
    run_relsafe: RunRelsafe,
) -> None:
    sample = waiting_before_stage(tmp_path, local_index, production_index, run_relsafe)
    base = git(sample.remote, "rev-parse", "refs/heads/main")
    bump = git(sample.root, "rev-parse", "HEAD")
    # while the release waits at its gate, the world moves on
    if change == "branch":
        push_from_another_clone(sample, tmp_path)
        reason = "origin/main has commits the release commit lacks"
    elif change == "tag":
        other = someone_tags_the_remote(sample, tmp_path)
        reason = f"the tag v{VERSION} already exists on origin on {base[:12]}, not on the release commit {bump[:12]}"
    elif change == "published":
        upload_directly(production_index, impostor_dists[VERSION]["wheel"])
        reason = f"{NAME} {VERSION} is already on the production index {production_index.index_url}"
    else:
        upload_directly(production_index, impostor_dists[HIGHER]["wheel"])
        reason = f"{NAME} {VERSION} is not above the latest release {HIGHER} on the production index"
    remote_refs = git(sample.remote, "for-each-ref")

    refused = run_relsafe("resume", "--confirm", GATE, cwd=sample.root)

    output = refused.stdout + refused.stderr
    assert refused.returncode == 4, output
    assert "Traceback" not in output
    assert f"error: stage not started, the world changed since preflight: {reason}" in refused.stderr
    assert "nothing more was uploaded or pushed" in refused.stderr and "relsafe resume" in refused.stderr
    assert stored(local_index) == {} and stores(local_index) == [], "the version number is not burned on staging"
    assert git(sample.remote, "for-each-ref") == remote_refs, "nothing was pushed"
    assert git(sample.root, "tag", "--list") == ""
    assert git(sample.root, "rev-parse", "HEAD") == bump
    record = status(sample)
    assert (journal_dir(sample) / "state.json").exists(), "the release stays in progress"
    assert record["steps"][f"gate:{GATE}"]["status"] == "done"
    assert record["steps"]["stage"]["status"] == "blocked"
    assert reason in record["steps"]["stage"]["error"]
    assert record["steps"]["stage"]["attempts"] == 0

    if change in ("published", "higher"):
        # no fix but another version
        aborted = run_relsafe("abort", cwd=sample.root)
        assert aborted.returncode == 0, aborted.stdout + aborted.stderr
        assert not (journal_dir(sample) / "state.json").exists()
        assert git(sample.root, "rev-parse", "HEAD") == base, "the unpushed bump commit was removed"
        assert stored(local_index) == {}
        return
    if change == "branch":
        # the maintainer decides the other commit goes
        git(sample.root, "push", "-q", "--force", "origin", f"{base}:refs/heads/main")
    else:
        git(other, "push", "-q", "origin", f":refs/tags/v{VERSION}")
    resumed = run_relsafe("resume", cwd=sample.root)

    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "rechecked since preflight" in resumed.stdout
    assert_staged_exactly_the_build(sample, local_index)
    assert_tagged_and_pushed(sample)


def test_resume_lists_an_unreachable_production_index_with_the_other_reasons_and_fails_on_it_alone(
    tmp_path: Path, local_index: LocalIndex, production_index: LocalIndex, run_relsafe: RunRelsafe
) -> None:
    sample = waiting_before_stage(tmp_path, local_index, production_index, run_relsafe)
    remote_refs = git(sample.remote, "for-each-ref")
    other = someone_tags_the_remote(sample, tmp_path)
    production_index.stop()

    both = run_relsafe("resume", "--confirm", GATE, cwd=sample.root)

    assert both.returncode == 4, both.stdout + both.stderr
    assert f"the tag v{VERSION} already exists on origin" in both.stderr and "(and 1 more)" in both.stderr
    assert f"index unreachable at {production_index.index_url}" in both.stderr and "(not checked)" in both.stderr

    git(other, "push", "-q", "origin", f":refs/tags/v{VERSION}")
    alone = run_relsafe("resume", cwd=sample.root)

    assert alone.returncode == 1, alone.stdout + alone.stderr
    assert "Traceback" not in alone.stdout + alone.stderr
    assert f"index unreachable at {production_index.index_url}" in alone.stderr
    assert "relsafe resume" in alone.stderr
    assert status(sample)["steps"]["stage"]["status"] == "failed"
    assert stored(local_index) == {}
    assert git(sample.remote, "for-each-ref") == remote_refs, "nothing was pushed"

    production_index.start()
    resumed = run_relsafe("resume", cwd=sample.root)

    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert_staged_exactly_the_build(sample, local_index)
    assert_tagged_and_pushed(sample)


# -- secrets ----------------------------------------------------------------------------


def files_holding(folder: Path, needles: list[bytes]) -> tuple[list[str], int]:
    """Files under folder that contain any needle, and how many files were read."""
    found, count = [], 0
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            count += 1
            data = path.read_bytes()
            if any(needle in data for needle in needles):
                found.append(str(path))
    return found, count


def test_an_upload_token_never_appears_in_output_logs_or_anywhere_under_git(
    tmp_path: Path, run_relsafe: RunRelsafe
) -> None:
    home = tmp_path / "home"
    with LocalIndex(username=LOGIN, password=SECRET) as index:
        sample = staged_sample(tmp_path, index)
        outputs: list[str] = []

        # a wrong token first: the index refuses it with 403, and the error paths run
        wrong = run_relsafe(
            "release", "minor", cwd=sample.root, env=base_env(home, TWINE_USERNAME=LOGIN, TWINE_PASSWORD=WRONG_SECRET)
        )
        outputs += [wrong.stdout, wrong.stderr]
        assert wrong.returncode == 1, wrong.stdout + wrong.stderr
        assert "403" in wrong.stdout + wrong.stderr
        outputs.append(json.dumps(status(sample)))

        # then the right one, from ~/.pypirc
        write_pypirc(home, index, SECRET)
        resumed = run_relsafe("resume", cwd=sample.root, env=base_env(home))
        outputs += [resumed.stdout, resumed.stderr]
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        assert_staged_exactly_the_build(sample, index)
        shown = run_relsafe("status", cwd=sample.root, env=base_env(home))
        outputs += [shown.stdout, shown.stderr]
        outputs.append(json.dumps(status(sample)))

    tails = [SECRET.removeprefix("pypi-AgEIcHlwaS5vcmc"), WRONG_SECRET.removeprefix("pypi-AgEIcHlwaS5vcmc")]
    needles = [SECRET, WRONG_SECRET, *tails]
    for text in outputs:
        assert not any(needle in text for needle in needles)
    logs = sorted((journal_dir(sample) / "logs").iterdir())
    assert len(logs) >= 2, "each run kept its log"
    log_text = "\n".join(path.read_text(encoding="utf-8") for path in logs)
    assert "uv publish" in log_text and "403 Forbidden" in log_text, "the logs hold the uploader's own output, redacted"
    holding, read = files_holding(sample.root / ".git", [n.encode() for n in needles])
    assert holding == []
    assert read > 50, "the whole git directory was read: objects, journal, logs, artifacts"
    assert files_holding(sample.remote, [n.encode() for n in needles])[0] == []
    worktree = [p for p in git(sample.root, "ls-files", "--others", "--cached").splitlines()]
    assert all(SECRET not in (sample.root / p).read_text(encoding="utf-8", errors="replace") for p in worktree)
