"""Fixtures and world-reading helpers for the release tests (conftest loads them with `pytest_plugins`).

Everything here reads the real world with plain git and the real CLI, never
with relsafe's own wrappers, so a test cannot agree with a bug by construction.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from relsafe.app.sample import SampleProject, create_sample
from relsafe.tools.localindex import LocalIndex
from tests.conftest import RunRelsafe, git, relsafe_env

# The foundation pipeline: what these tests release with. Later steps need
# fresh venvs or a staging index, and have their own tests.
FOUNDATION_STEPS = ("preflight", "bump", "build", "tag", "push")
KILLED = -signal.SIGKILL
REJECT = "cat >/dev/null\necho 'push rejected by policy' >&2\nexit 1\n"
IDENTITY = ("-c", "user.name=Someone Else", "-c", "user.email=someone@example.invalid")


def relsafe_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "relsafe", *args]


@pytest.fixture(scope="session")
def empty_index() -> Iterator[LocalIndex]:
    """A real, empty index on loopback that stands for production and staging: preflight asks it, and
    nothing leaves the machine. One per test process; no test uploads to it."""
    with LocalIndex() as index:
        yield index


def release_toml(index: LocalIndex, **release: str) -> str:
    """release.toml for the foundation steps against the loopback index; `release` adds [release] keys."""
    lines = ["[release]", "steps = [" + ", ".join(f'"{s}"' for s in FOUNDATION_STEPS) + "]"]
    lines += [f'{key.replace("_", "-")} = "{value}"' for key, value in release.items()]
    lines += ["", "[staging]", f'repository-url = "{index.upload_url}"', f'index-url = "{index.index_url}"']
    lines += ["", "[production]", f'index-url = "{index.index_url}"']
    return "\n".join(lines) + "\n"


def rewrite_workflow(root: Path) -> Path:
    """relsafe's publish workflow rewritten for the repository's release.toml, as `relsafe init --update` does
    after a maintainer changes what it renders (the steps, the staging index, the tag format); returns it,
    not committed. A release refuses a workflow that is not the rendering of its configuration. A
    configuration relsafe refuses renders nothing (a release stops at it first): the workflow is left alone."""
    from relsafe.app.init import initialise
    from relsafe.core.errors import ConfigError
    from relsafe.model.publish_workflow import DEFAULT_WORKFLOW

    try:
        done = initialise(root, force=False, update=True)
    except ConfigError:
        return root / DEFAULT_WORKFLOW
    return root / done.workflow


@pytest.fixture
def release_sample(tmp_path: Path, empty_index: LocalIndex) -> SampleProject:
    """The sample package at 0.1.0 with a committed release.toml that runs the foundation steps, and relsafe's
    publish workflow for it (without staging: the rebuild)."""
    sample = create_sample(tmp_path)
    (sample.root / "release.toml").write_text(release_toml(empty_index), encoding="utf-8")
    git(sample.root, "add", "release.toml", str(rewrite_workflow(sample.root)))
    git(sample.root, "commit", "-q", "-m", "Release configuration")
    git(sample.root, "push", "-q", "origin", "main")
    git(sample.root, "fetch", "-q", "origin")
    return sample


# -- reading the world -------------------------------------------------------


@dataclass(frozen=True)
class World:
    """What a refused or failed command must leave exactly as it was."""

    head: str
    symbolic_head: str
    local_refs: str
    porcelain: str
    remote_refs: str
    files: tuple[tuple[str, str], ...]


def world(sample: SampleProject) -> World:
    try:
        symbolic = git(sample.root, "symbolic-ref", "-q", "HEAD")
    except subprocess.CalledProcessError:
        symbolic = "(detached)"
    tracked = git(sample.root, "ls-files").splitlines()
    return World(
        head=git(sample.root, "rev-parse", "HEAD"),
        symbolic_head=symbolic,
        local_refs=git(sample.root, "for-each-ref", "--format=%(objectname) %(refname)", "refs/heads", "refs/tags"),
        porcelain=git(sample.root, "status", "--porcelain", "--untracked-files=all"),
        remote_refs=git(sample.remote, "for-each-ref", "--format=%(objectname) %(refname)"),
        files=tuple((path, (sample.root / path).read_text(encoding="utf-8")) for path in tracked),
    )


def status_json(sample: SampleProject) -> dict[str, Any] | None:
    proc = subprocess.run(
        relsafe_command("status", "--json"),
        cwd=sample.root,
        env=relsafe_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    data: dict[str, Any] | None = json.loads(proc.stdout)
    return data


def journal_dir(sample: SampleProject) -> Path:
    return sample.root / ".git" / "relsafe"


def commits_since(sample: SampleProject, base: str, ref: str = "HEAD") -> list[str]:
    return git(sample.root, "rev-list", f"{base}..{ref}").splitlines()


def version_in_files(sample: SampleProject, ref: str = "HEAD") -> dict[str, str]:
    """The version each version file holds at a commit, read with plain git."""
    pyproject = git(sample.root, "show", f"{ref}:pyproject.toml")
    init = git(sample.root, "show", f"{ref}:src/{sample.module}/__init__.py")
    found: dict[str, str] = {}
    for line in pyproject.splitlines():
        if line.startswith("version = "):
            found["pyproject.toml"] = line.split('"')[1]
    for line in init.splitlines():
        if line.startswith("__version__ = "):
            found[f"src/{sample.module}/__init__.py"] = line.split('"')[1]
    return found


def assert_released(sample: SampleProject, version: str, base: str, *, tag: str | None = None) -> dict[str, Any]:
    """The invariants of a finished release of `version` started on `base`; returns `status --json`."""
    tag = tag or f"v{version}"
    new_commits = commits_since(sample, base)
    assert len(new_commits) == 1, f"expected exactly one bump commit, got {new_commits}"
    bump = new_commits[0]
    assert git(sample.root, "rev-parse", "HEAD") == bump
    assert git(sample.root, "rev-parse", f"{bump}^") == base
    assert version_in_files(sample, bump) == {
        "pyproject.toml": version,
        f"src/{sample.module}/__init__.py": version,
    }
    assert git(sample.root, "cat-file", "-t", f"refs/tags/{tag}") == "tag", "the tag must be annotated"
    assert git(sample.root, "rev-parse", f"{tag}^{{commit}}") == bump
    assert git(sample.root, "tag", "--points-at", bump).split() == [tag]
    assert git(sample.root, "status", "--porcelain", "--untracked-files=all") == ""
    assert git(sample.root, "symbolic-ref", "--short", "HEAD") == "main"
    # the remote has the branch at the bump commit and the very same tag object
    assert git(sample.remote, "rev-parse", "refs/heads/main") == bump
    assert git(sample.remote, "rev-parse", f"refs/tags/{tag}") == git(sample.root, "rev-parse", f"refs/tags/{tag}")
    assert git(sample.remote, "tag", "--points-at", bump).split() == [tag]
    status = status_json(sample)
    assert status is not None
    assert status["status"] == "done"
    assert status["version"] == version
    assert status["tag"] == tag
    assert status["base_commit"] == base
    assert [status["steps"][name]["status"] for name in status["order"]] == ["done"] * len(status["order"])
    assert status["steps"]["bump"]["outputs"]["commit"] == bump
    assert not (journal_dir(sample) / "state.json").exists(), "a finished release is no longer in progress"
    return status


def wait_for(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def install_hook(sample: SampleProject, script: str) -> Path:
    """A pre-receive hook in the bare remote: the remote itself refuses or delays a push."""
    hook = sample.remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\n" + script, encoding="utf-8")
    hook.chmod(0o755)
    return hook


def push_from_another_clone(sample: SampleProject, tmp_path: Path, message: str = "Someone else's work") -> str:
    """Someone else pushes a commit to the remote's main; returns it."""
    other = tmp_path / "other-clone"
    subprocess.run(["git", "clone", "-q", str(sample.remote), str(other)], check=True, capture_output=True)
    (other / "NOTES.md").write_text("work from elsewhere\n", encoding="utf-8")
    git(other, "add", "NOTES.md")
    git(other, *IDENTITY, "commit", "-q", "-m", message)
    git(other, "push", "-q", "origin", "main")
    return git(other, "rev-parse", "HEAD")


# -- running and killing relsafe ----------------------------------------------


def start(sample: SampleProject, *args: str, **env: str) -> subprocess.Popen[str]:
    """A relsafe process in a session of its own, so that what it leaves running can be found."""
    return subprocess.Popen(
        relsafe_command(*args),
        cwd=sample.root,
        env=relsafe_env(**env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def session_processes(session: int) -> list[int]:
    """Live (non-zombie) processes of a session, read from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[3]) == session:
            found.append(int(entry.name))
    return found


def kill_at(sample: SampleProject, failpoint: str) -> int:
    """Run `release minor` until the named failpoint kills it; returns the dead process's pid."""
    proc = start(sample, "release", "minor", RELSAFE_FAILPOINT=failpoint)
    _out, err = proc.communicate(timeout=300)
    assert proc.returncode == KILLED, err
    return proc.pid


def kill_once_the_remote_took_the_push(sample: SampleProject, tmp_path: Path) -> None:
    """Run `release minor` and kill it from the remote's post-receive hook: the refs are updated, the
    journal never hears of it. Waits for the orphaned `git push` to finish."""
    pid_file = tmp_path / "relsafe.pid"
    hook = sample.remote / "hooks" / "post-receive"
    hook.write_text(f"#!/bin/sh\ncat >/dev/null\nkill -9 \"$(cat '{pid_file}')\"\n", encoding="utf-8")
    hook.chmod(0o755)
    proc = start(sample, "release", "minor")
    pid_file.write_text(str(proc.pid), encoding="utf-8")
    _out, err = proc.communicate(timeout=300)
    assert proc.returncode == KILLED, err
    wait_for(lambda: not session_processes(proc.pid), 120, "the killed run's git push to finish")
    hook.unlink()


def fail_push(sample: SampleProject, run_relsafe: RunRelsafe) -> tuple[dict[str, Any], Path]:
    """A release whose push the remote refuses; returns its journal record and the (still installed) hook."""
    hook = install_hook(sample, REJECT)
    proc = run_relsafe("release", "minor", cwd=sample.root)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    status = status_json(sample)
    assert status is not None
    return status, hook
