"""--dry-run rehearses every step for real in a sandbox and leaves no trace; --plan only reads."""

from __future__ import annotations

import hashlib
import json

import pytest

from relsafe.app.sample import SampleProject
from relsafe.tools.index.simple_api import files_for
from relsafe.tools.localindex import LocalIndex
from tests.support.cli import RunRelsafe
from tests.support.git import git
from tests.support.processes import kill_at
from tests.support.world import assert_released, journal_dir

PYPI_LIKE_TOKEN = "pypi-AgEIcHlwaS5vcmc" + "Q" * 64


def world(sample: SampleProject, local_index: LocalIndex) -> dict[str, object]:
    """Everything a rehearsal must leave as it was."""
    root = sample.root
    files = {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file() and ".git" not in path.relative_to(root).parts
    }
    journal = root / ".git" / "relsafe"
    return {
        "files": files,
        "head": git(root, "rev-parse", "HEAD"),
        "branch": git(root, "symbolic-ref", "HEAD"),
        "refs": git(root, "for-each-ref"),
        "status": git(root, "status", "--porcelain"),
        "worktrees": git(root, "worktree", "list", "--porcelain"),
        "remote": git(sample.remote, "for-each-ref"),
        "state": (journal / "state.json").exists(),
        "index": sorted(p.name for p in local_index.storage.rglob("*") if p.is_file()),
    }


@pytest.mark.slow
def test_rehearsal_with_unreachable_staging_changes_nothing_and_a_real_release_follows(
    sample: SampleProject, local_index: LocalIndex, run_relsafe: RunRelsafe
) -> None:
    local_index.stop()  # the configured staging (and production) index cannot be reached
    before = world(sample, local_index)
    rehearsed = run_relsafe("release", "minor", "--dry-run", cwd=sample.root)
    output = rehearsed.stdout + rehearsed.stderr
    assert rehearsed.returncode == 0, output
    assert "warning" in output and "not checked" in output
    assert "rehearsal passed" in output
    assert world(sample, local_index) == before

    history = list((sample.root / ".git" / "relsafe" / "history").glob("*.json"))
    assert len(history) == 1
    record = json.loads(history[0].read_text())
    assert record["rehearsal"] is True and record["status"] == "rehearsed"
    assert all(record["steps"][name]["status"] == "done" for name in record["order"])

    local_index.restart()
    released = run_relsafe("release", "minor", cwd=sample.root)
    assert released.returncode == 0, released.stdout + released.stderr
    assert git(sample.remote, "rev-parse", "refs/tags/v0.2.0^{commit}") == git(sample.root, "rev-parse", "HEAD")
    assert len(files_for(local_index.index_url, "relsafe-sample", "0.2.0")) == 2


@pytest.mark.slow
def test_rehearsal_collects_every_blocker_and_shows_no_secret(
    sample: SampleProject, local_index: LocalIndex, run_relsafe: RunRelsafe
) -> None:
    root = sample.root
    module = root / "src" / sample.module
    (module / ".pypirc").write_text(f"[pypi]\nusername = __token__\npassword = {PYPI_LIKE_TOKEN}\n", encoding="utf-8")
    (root / "tests" / "test_broken.py").write_text(
        "def test_greets_the_moon():\n    assert False, 'the moon was not greeted'\n", encoding="utf-8"
    )
    git(root, "add", "-A")
    git(root, "commit", "-qm", "a secret and a failing test")
    git(root, "push", "-q", "origin", "main")
    before = world(sample, local_index)

    rehearsed = run_relsafe("release", "minor", "--dry-run", cwd=root)
    output = rehearsed.stdout + rehearsed.stderr
    assert rehearsed.returncode == 4, output  # the worst blocker: a refused secret
    assert ".pypirc" in output
    assert "test_greets_the_moon" in output
    assert "smoke" in output and "inspect" in output
    assert PYPI_LIKE_TOKEN not in output
    assert world(sample, local_index) == before
    for path in (root / ".git").rglob("*"):
        if path.is_file():
            assert PYPI_LIKE_TOKEN.encode() not in path.read_bytes() or "objects" in path.parts


@pytest.mark.slow
def test_rehearsal_reports_a_real_blocker_in_the_repository(
    sample: SampleProject, local_index: LocalIndex, run_relsafe: RunRelsafe
) -> None:
    (sample.root / "notes.txt").write_text("uncommitted\n", encoding="utf-8")
    before = world(sample, local_index)
    rehearsed = run_relsafe("release", "minor", "--dry-run", cwd=sample.root)
    output = rehearsed.stdout + rehearsed.stderr
    assert rehearsed.returncode == 4, output
    assert "not clean" in output and "notes.txt" in output
    assert "preflight" in output
    # the rest of the pipeline still ran, in the sandbox
    record = json.loads(next((sample.root / ".git" / "relsafe" / "history").glob("*.json")).read_text())
    assert record["status"] == "blocked"
    assert record["steps"]["smoke"]["status"] == "done"
    assert world(sample, local_index) == before


@pytest.mark.slow
def test_a_rehearsal_or_a_release_while_a_release_is_in_progress_names_it_and_changes_nothing(
    release_sample: SampleProject, empty_index: LocalIndex, run_relsafe: RunRelsafe
) -> None:
    sample = release_sample
    base = git(sample.root, "rev-parse", "HEAD")
    kill_at(sample, "after-bump-commit")
    state = journal_dir(sample) / "state.json"
    in_progress = state.read_text(encoding="utf-8")
    before = world(sample, empty_index)
    message = (
        "a release of 0.2.0 is in progress (step bump); finish it with `relsafe resume` or end it with `relsafe abort`"
    )

    rehearsed = run_relsafe("release", "minor", "--dry-run", cwd=sample.root)

    output = rehearsed.stdout + rehearsed.stderr
    assert rehearsed.returncode == 4, output
    assert message in rehearsed.stdout
    assert "1 blocker(s)" in rehearsed.stdout and "would go through" not in output
    record = json.loads(next((journal_dir(sample) / "history").glob("*.json")).read_text())
    assert record["rehearsal"] is True and record["status"] == "blocked"
    assert record["blockers"] == [{"step": "preflight", "message": message, "exit_code": "4"}]
    # the bumped files say 0.2.0 already, so this version is no increase: the release in progress is named first
    same = run_relsafe("release", "0.2.0", "--dry-run", cwd=sample.root)
    assert same.returncode == 4, same.stdout + same.stderr
    assert f"error: {message}" in same.stderr

    released = run_relsafe("release", "patch", cwd=sample.root)

    assert released.returncode == 4, released.stdout + released.stderr
    assert f"error: {message}" in released.stderr
    assert world(sample, empty_index) == before
    assert state.read_text(encoding="utf-8") == in_progress, "neither touched the release in progress"

    resumed = run_relsafe("resume", cwd=sample.root)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert_released(sample, "0.2.0", base)


@pytest.mark.slow
def test_plan_prints_the_release_and_changes_nothing(
    sample: SampleProject, local_index: LocalIndex, run_relsafe: RunRelsafe
) -> None:
    before = world(sample, local_index)
    planned = run_relsafe("release", "minor", "--plan", cwd=sample.root)
    assert planned.returncode == 0, planned.stderr
    out = planned.stdout
    assert "0.1.0 → 0.2.0" in out
    assert "v0.2.0" in out
    assert local_index.index_url in out
    assert '-version = "0.1.0"' in out and '+version = "0.2.0"' in out
    assert '+__version__ = "0.2.0"' in out
    assert world(sample, local_index) == before
    assert not (sample.root / ".git" / "relsafe").exists()


# -- the rehearsal runs the committed publish workflow ------------------------------------------------------------

OWNED = ".github/workflows/relsafe-publish.yml"
UPLOAD = "      - uses: actions/upload-artifact"


def commit_workflow(sample: SampleProject, path: str, text: str, toml_extra: str = "") -> None:
    """The workflow at `path` (relsafe's own removed when it is another), committed and pushed."""
    root = sample.root
    if path != OWNED:
        git(root, "rm", "-q", OWNED)
    (root / path).parent.mkdir(parents=True, exist_ok=True)  # git rm took the folder with its last file
    (root / path).write_text(text, encoding="utf-8")
    if toml_extra:
        with (root / "release.toml").open("a", encoding="utf-8") as config:
            config.write(toml_extra)
    git(root, "add", "-A")
    git(root, "commit", "-qm", "the publish workflow as the project has it")
    git(root, "push", "-q", "origin", "main")


def rehearsed(sample: SampleProject, local_index: LocalIndex, run_relsafe: RunRelsafe, code: int) -> str:
    before = world(sample, local_index)
    done = run_relsafe("release", "minor", "--dry-run", cwd=sample.root)
    output = done.stdout + done.stderr
    assert done.returncode == code, output
    assert world(sample, local_index) == before
    return output


@pytest.mark.slow
@pytest.mark.parametrize(
    ("step", "verdict"),
    [
        (
            '      - run: echo "::error::the project\'s own check failed"; exit 3\n',
            "the publish workflow would not publish: job `prepare` failed at step 4 (exit 3): "
            "the project's own check failed",
        ),
        (
            '      - run: cp "$DIST/relsafe_sample-0.2.0.tar.gz" "$DIST/relsafe_sample-0.2.0-py3-none-any.whl"\n'
            "        env:\n          DIST: ${{ runner.temp }}/dist\n",
            "run here as committed, would upload files that were not tested: "
            "relsafe_sample-0.2.0-py3-none-any.whl with sha256 ",
        ),
    ],
    ids=["a-failing-step", "a-step-overwriting-a-verified-file"],
)
def test_the_rehearsal_runs_the_committed_job_and_a_step_added_to_it_decides(
    sample: SampleProject, local_index: LocalIndex, run_relsafe: RunRelsafe, step: str, verdict: str
) -> None:
    """Not the bundled template: the workflow as committed at the release commit runs, and what it does is the
    rehearsal's verdict, beside preflight's refusal of a workflow that is not relsafe's."""
    text = (sample.root / OWNED).read_text(encoding="utf-8")
    commit_workflow(sample, OWNED, text.replace(UPLOAD, step + UPLOAD, 1))

    output = rehearsed(sample, local_index, run_relsafe, 4)

    assert "2 blocker(s)" in output
    assert "is not relsafe's workflow for release.toml: jobs.prepare.steps[4] was added" in output
    assert verdict in " ".join(output.split()), output
    assert "exactly the tested" not in output


def own_workflow(sample: SampleProject) -> str:
    """A project's own workflow: relsafe's, with a step of the project's added to the preparing job."""
    text = (sample.root / OWNED).read_text(encoding="utf-8")
    return text.replace(UPLOAD, '      - run: ls -l "$RUNNER_TEMP/dist"\n' + UPLOAD, 1)


AUDIT_ONLY = '\n[publish]\nworkflow = ".github/workflows/release.yml"\nworkflow-check = "audit-only"\n'


@pytest.mark.slow
def test_an_audit_only_rehearsal_runs_the_projects_workflow_and_claims_nothing(
    sample: SampleProject, local_index: LocalIndex, run_relsafe: RunRelsafe
) -> None:
    commit_workflow(sample, ".github/workflows/release.yml", own_workflow(sample), AUDIT_ONLY)

    output = rehearsed(sample, local_index, run_relsafe, 0)

    caveat = "relsafe cannot prove what .github/workflows/release.yml will publish"
    assert "push: ran prepare: 3 `run:` step(s)" in output, "the project's step ran too"
    assert (
        ".github/workflows/release.yml's jobs ran here as committed; in this run its upload step would get the 2 "
        f"file(s) the release built; {caveat}" in output
    )
    assert f"warning: {caveat}" in output
    assert "rehearsal passed" in output
    assert "exactly the tested" not in output


@pytest.mark.slow
def test_an_audit_only_workflow_whose_publish_job_never_runs_on_a_tag_push_fails_the_rehearsal(
    sample: SampleProject, local_index: LocalIndex, run_relsafe: RunRelsafe
) -> None:
    """A guard the audit cannot judge: `if: github.event_name == 'release'` on a tag-triggered workflow. Only
    running the committed job shows that the tag would publish nothing."""
    guarded = own_workflow(sample).replace(
        "    needs: prepare\n", "    needs: prepare\n    if: github.event_name == 'release'\n"
    )
    commit_workflow(sample, ".github/workflows/release.yml", guarded, AUDIT_ONLY)

    output = rehearsed(sample, local_index, run_relsafe, 1)

    assert "1 blocker(s)" in output
    assert (
        "the publish workflow would not publish: the publish job `publish` would not run: its "
        "`if: github.event_name == 'release'` is false when v0.2.0 is pushed" in " ".join(output.split())
    )
