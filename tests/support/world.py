"""Readers of the world a release leaves: the repository and its remote with plain git, the journal's folder,
and `relsafe status --json` through the real CLI, never through relsafe's own wrappers."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from relsafe.app.sample import SampleProject
from tests.support.cli import relsafe_command, relsafe_env
from tests.support.git import git


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


def zizmor_runs(log_text: str) -> list[tuple[str, ...]]:
    """The files of each zizmor audit a run log records (its `$ command` lines), in the order they started."""
    runs = []
    for line in log_text.splitlines():
        _, _, command = line.partition(" $ ")
        words = command.split()
        if words and Path(words[0]).name == "zizmor" and "--offline" in words:
            runs.append(tuple(words[words.index("json") + 1 :]))
    return runs


def release_logs(sample: SampleProject) -> str:
    """Every run log the journal keeps, oldest first."""
    logs = sorted((journal_dir(sample) / "logs").iterdir(), key=lambda path: path.stat().st_mtime)
    return "\n".join(path.read_text(encoding="utf-8") for path in logs)
