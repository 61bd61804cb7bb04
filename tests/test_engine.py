"""The pipeline in-process, in milliseconds: check → run → verify → record, and resume, with fake steps.

The steps are small Step subclasses that record which of their phases ran; the repository and the journal
are real (a `git init` in tmp_path, the journal's state.json read back from disk), so a resume here is a
pipeline built afresh from what the first run wrote. The one seam replaced is the engine's step loader
(`relsafe.engine.pipeline.load`), which can only name the real steps.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pytest

from relsafe.core.errors import Refused, StepFailed
from relsafe.engine import pipeline as engine
from relsafe.engine.pipeline import Pipeline
from relsafe.journal.records import Release
from relsafe.journal.runlog import RunLog
from relsafe.journal.store import Journal
from relsafe.model.config import Config
from relsafe.model.project import Project
from relsafe.model.tag_convention import TagConvention
from relsafe.steps.context import Context, StagingTarget
from relsafe.steps.contract import Check, Step
from relsafe.steps.table import STEP_NAMES
from relsafe.tools.git import Git

ORDER = ["bump", "build", "tag"]
NOWHERE = "http://127.0.0.1:9"  # the discard port: nothing here may reach an index


class FakeStep(Step):
    """Records each phase it is asked for in `calls`; its inputs are the content of source.txt in the
    repository, so that editing the file changes what the step was done on."""

    title: ClassVar[str] = "a fake step"

    def __init__(
        self, calls: list[str], *, found: Check | None = None, run_fails: bool = False, holds: bool = True
    ) -> None:
        self.calls = calls
        self.found = found or Check.ready()
        self.run_fails = run_fails
        self.holds = holds

    def fingerprint(self, ctx: Context) -> dict[str, Any]:
        return {"source": (ctx.git.root / "source.txt").read_text(encoding="utf-8")}

    def check(self, ctx: Context) -> Check:
        self.calls.append(f"{self.name}.check")
        return self.found

    def run(self, ctx: Context) -> dict[str, Any]:
        self.calls.append(f"{self.name}.run")
        if self.run_fails:
            raise StepFailed(f"{self.name} could not do its work")
        return {"summary": f"{self.name} ran"}

    def verify(self, ctx: Context) -> None:
        self.calls.append(f"{self.name}.verify")
        if not self.holds:
            raise StepFailed(f"{self.name}'s result is not there")


# The journal refuses to read back a step name relsafe does not know: the fakes borrow the real names.
class FakeBump(FakeStep):
    name: ClassVar[str] = "bump"


class FakeBuild(FakeStep):
    name: ClassVar[str] = "build"


class FakeTag(FakeStep):
    name: ClassVar[str] = "tag"


@dataclass
class Recorder:
    """An Observer that keeps what the console would have drawn."""

    events: list[tuple[str, ...]] = field(default_factory=list)

    def planned(self, steps: list[tuple[str, str]]) -> None:
        self.events.append(("planned", *(name for name, _title in steps)))

    def step_started(self, name: str, title: str) -> None:
        self.events.append(("started", name))

    def step_finished(self, name: str, status: str, seconds: float, summary: str) -> None:
        self.events.append(("finished", name, status, summary))

    def note(self, name: str, text: str) -> None:
        self.events.append(("note", name, text))


@pytest.fixture
def repo(tmp_path: Path) -> Git:
    """A real repository with one commit and a source.txt the fake steps take as their input."""
    root = tmp_path / "repo"
    identity = ("-c", "user.name=Engine Test", "-c", "user.email=engine@example.invalid")
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    (root / "source.txt").write_text("one", encoding="utf-8")
    subprocess.run(["git", *identity, "-C", str(root), "commit", "-q", "--allow-empty", "-m", "start"], check=True)
    return Git(root, RunLog(None))


def new_release(repo: Git) -> Release:
    return Release(
        id="20260101T000000-fake-0.2.0",
        request="minor",
        from_version="0.1.0",
        version="0.2.0",
        tag="v0.2.0",
        branch="main",
        remote="origin",
        base_commit=repo.head(),
        config_fingerprint=Config().fingerprint(),
        order=list(ORDER),
    )


def journal(repo: Git) -> Journal:
    return Journal(repo.root / ".git", STEP_NAMES)  # the common dir of a repository without worktrees


def context(repo: Git, release: Release) -> Context:
    project = Project(
        root=repo.root,
        subdir="",
        name="fake",
        backend="hatchling",
        version_source="files",
        current_version=release.from_version,
        version_files=(),
        bumpversion_config=None,
        import_names=(),
        tags=TagConvention("v{version}", "default"),
    )
    return Context(
        git=repo,
        project=project,
        config=Config(),
        folder=journal(repo).folder(release.id),
        release=release,
        log=RunLog(None),
        remote="origin",
        staging=StagingTarget(f"{NOWHERE}/legacy/", f"{NOWHERE}/simple/"),
        production_index_url=f"{NOWHERE}/simple/",
    )


def run(
    monkeypatch: pytest.MonkeyPatch, repo: Git, release: Release, steps: list[FakeStep], observer: Recorder
) -> None:
    """One run of the real Pipeline over `release` with these fakes standing for the steps of its order."""
    by_name: dict[str, Step] = {step.name: step for step in steps}
    monkeypatch.setattr(engine, "load", lambda name, config: by_name[name])
    Pipeline(context(repo, release), journal(repo), observer).run()


def resumed(repo: Git) -> Release:
    """The release in progress as a new process would find it: read back from the journal on disk."""
    release = journal(repo).current()
    assert release is not None
    return release


def on_disk(repo: Git) -> dict[str, dict[str, Any]]:
    """The fake steps' records as state.json holds them, read as plain JSON (the pipeline also keeps a
    preflight record, pending here)."""
    state = json.loads((repo.root / ".git" / "relsafe" / "state.json").read_text(encoding="utf-8"))
    return {name: record for name, record in state["steps"].items() if name in ORDER}


def statuses(repo: Git) -> dict[str, str]:
    return {name: record["status"] for name, record in on_disk(repo).items()}


def fail_at_build(monkeypatch: pytest.MonkeyPatch, repo: Git) -> list[str]:
    """A first run that does bump and then fails in build's run; returns its calls."""
    calls: list[str] = []
    steps: list[FakeStep] = [FakeBump(calls), FakeBuild(calls, run_fails=True), FakeTag(calls)]
    with pytest.raises(StepFailed, match="build could not do its work"):
        run(monkeypatch, repo, new_release(repo), steps, Recorder())
    assert statuses(repo) == {"bump": "done", "build": "failed", "tag": "pending"}
    return calls


def test_a_resumed_pipeline_skips_what_is_done_and_goes_on_from_the_first_unfinished_step(
    monkeypatch: pytest.MonkeyPatch, repo: Git
) -> None:
    """Resume must neither repeat a finished step (a second bump commit) nor skip the one that failed."""
    first = fail_at_build(monkeypatch, repo)
    calls: list[str] = []
    observer = Recorder()

    run(monkeypatch, repo, resumed(repo), [FakeBump(calls), FakeBuild(calls), FakeTag(calls)], observer)

    assert first == ["bump.check", "bump.run", "bump.verify", "build.check", "build.run"]
    # bump is only confirmed (its inputs, then its postcondition), never checked or run again
    assert calls == ["bump.verify", "build.check", "build.run", "build.verify", "tag.check", "tag.run", "tag.verify"]
    assert ("finished", "bump", "done", "done earlier") in observer.events
    assert statuses(repo) == {"bump": "done", "build": "done", "tag": "done"}
    assert {name: record["attempts"] for name, record in on_disk(repo).items()} == {"bump": 1, "build": 2, "tag": 1}
    assert on_disk(repo)["build"]["error"] is None


def test_a_step_whose_effect_already_exists_is_recorded_done_with_what_check_found_without_running(
    monkeypatch: pytest.MonkeyPatch, repo: Git
) -> None:
    """Resume trusts the world first: a tag that already exists is recorded, not made a second time."""
    calls: list[str] = []
    observer = Recorder()
    steps: list[FakeStep] = [FakeBump(calls), FakeBuild(calls), FakeTag(calls, found=Check.done(tag="v0.2.0"))]

    run(monkeypatch, repo, new_release(repo), steps, observer)

    assert "tag.run" not in calls
    assert calls[-2:] == ["tag.check", "tag.verify"]
    assert on_disk(repo)["tag"]["status"] == "done"
    assert on_disk(repo)["tag"]["outputs"] == {"tag": "v0.2.0"}
    assert on_disk(repo)["tag"]["attempts"] == 0
    assert ("finished", "tag", "done", "already done") in observer.events


def test_a_changed_input_is_refused_on_resume_with_a_message_naming_it(
    monkeypatch: pytest.MonkeyPatch, repo: Git
) -> None:
    """A step done on other inputs must not be built on: the message says which input changed, from what to
    what, and nothing runs."""
    fail_at_build(monkeypatch, repo)
    before = on_disk(repo)
    (repo.root / "source.txt").write_text("two", encoding="utf-8")
    calls: list[str] = []
    observer = Recorder()

    with pytest.raises(Refused) as refused:
        run(monkeypatch, repo, resumed(repo), [FakeBump(calls), FakeBuild(calls), FakeTag(calls)], observer)

    assert refused.value.message == "bump was done on other inputs than it would have now: source: one → two"
    assert calls == []
    assert observer.events == [("planned", "bump", "build", "tag"), ("started", "bump")]
    assert on_disk(repo) == before


def test_a_blocked_check_stops_the_run_with_the_step_recorded_blocked_and_its_reasons(
    monkeypatch: pytest.MonkeyPatch, repo: Git
) -> None:
    """A refusal found before acting is recorded as such (blocked, resumable), and nothing after it starts."""
    calls: list[str] = []
    observer = Recorder()
    blocked = Check.blocked("the working tree has changes", "origin/main moved")
    steps: list[FakeStep] = [FakeBump(calls), FakeBuild(calls, found=blocked), FakeTag(calls)]

    with pytest.raises(Refused) as refused:
        run(monkeypatch, repo, new_release(repo), steps, observer)

    reasons = "build: the working tree has changes; origin/main moved"
    assert refused.value.message == reasons
    assert calls == ["bump.check", "bump.run", "bump.verify", "build.check"]
    assert statuses(repo) == {"bump": "done", "build": "blocked", "tag": "pending"}
    assert on_disk(repo)["build"]["error"] == reasons
    assert on_disk(repo)["build"]["attempts"] == 0
    assert ("finished", "build", "blocked", reasons) in observer.events
    assert ("started", "tag") not in observer.events


def test_a_step_whose_verify_fails_is_not_recorded_done_and_runs_again_on_resume(
    monkeypatch: pytest.MonkeyPatch, repo: Git
) -> None:
    """run returning is not enough: only a postcondition that holds makes a step done."""
    calls: list[str] = []
    steps: list[FakeStep] = [FakeBump(calls), FakeBuild(calls, holds=False), FakeTag(calls)]

    with pytest.raises(StepFailed, match="build's result is not there"):
        run(monkeypatch, repo, new_release(repo), steps, Recorder())

    assert calls == ["bump.check", "bump.run", "bump.verify", "build.check", "build.run", "build.verify"]
    assert statuses(repo) == {"bump": "done", "build": "failed", "tag": "pending"}
    assert on_disk(repo)["build"]["error"] == "build's result is not there"

    again: list[str] = []
    run(monkeypatch, repo, resumed(repo), [FakeBump(again), FakeBuild(again), FakeTag(again)], Recorder())

    assert again[:4] == ["bump.verify", "build.check", "build.run", "build.verify"]
    assert statuses(repo) == {"bump": "done", "build": "done", "tag": "done"}


def test_a_step_done_earlier_that_no_longer_holds_is_refused_on_resume(
    monkeypatch: pytest.MonkeyPatch, repo: Git
) -> None:
    """A finished step whose result has gone (a deleted tag, a removed file) is not silently built on."""
    fail_at_build(monkeypatch, repo)
    calls: list[str] = []
    steps: list[FakeStep] = [FakeBump(calls, holds=False), FakeBuild(calls), FakeTag(calls)]

    with pytest.raises(Refused, match="bump was done, but no longer holds: bump's result is not there"):
        run(monkeypatch, repo, resumed(repo), steps, Recorder())

    assert calls == ["bump.verify"]
    assert statuses(repo) == {"bump": "done", "build": "failed", "tag": "pending"}
