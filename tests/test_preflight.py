"""Preflight refuses (exit 4) every unsafe starting point, changes nothing, and leaves nothing in progress."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from relsafe.app.sample import SampleProject
from tests.support.cli import RunRelsafe, relsafe_env
from tests.support.git import git
from tests.support.remotes import push_from_another_clone
from tests.support.static_index import StaticIndex
from tests.support.world import assert_released, journal_dir, release_logs, status_json, world, zizmor_runs


@dataclass(frozen=True)
class Case:
    """An unsafe starting point: how to make it, what relsafe must say, how a maintainer fixes it."""

    break_it: Callable[[SampleProject, Path], None]
    expected: tuple[str, ...]
    fix: Callable[[SampleProject], None]
    request: str = "minor"
    in_preflight: bool = True  # refused by the preflight step (recorded), or before any step


def _modify_tracked(sample: SampleProject, _tmp: Path) -> None:
    (sample.root / "README.md").write_text("# edited but not committed\n", encoding="utf-8")


def _add_untracked(sample: SampleProject, _tmp: Path) -> None:
    (sample.root / "notes.txt").write_text("scratch\n", encoding="utf-8")


def _other_branch(sample: SampleProject, _tmp: Path) -> None:
    git(sample.root, "checkout", "-q", "-b", "feature")


def _detach(sample: SampleProject, _tmp: Path) -> None:
    git(sample.root, "checkout", "-q", "--detach")


def _behind(sample: SampleProject, tmp: Path) -> None:
    push_from_another_clone(sample, tmp)


def _tag_locally(sample: SampleProject, _tmp: Path) -> None:
    git(sample.root, "tag", "v0.2.0")


def _tag_on_remote_only(sample: SampleProject, _tmp: Path) -> None:
    git(sample.root, "tag", "v0.2.0")
    git(sample.root, "push", "-q", "origin", "refs/tags/v0.2.0")
    git(sample.root, "tag", "-d", "v0.2.0")


def _no_remote(sample: SampleProject, _tmp: Path) -> None:
    git(sample.root, "remote", "remove", "origin")


def _nothing(_sample: SampleProject, _tmp: Path) -> None:
    pass


def _checkout_main(sample: SampleProject) -> None:
    git(sample.root, "checkout", "-q", "main")


CASES = {
    "dirty-tree": Case(
        _modify_tracked,
        ("working tree is not clean", "README.md"),
        lambda s: git(s.root, "checkout", "--", "README.md") and None,
    ),
    "untracked-file": Case(
        _add_untracked,
        ("working tree is not clean", "notes.txt"),
        lambda s: (s.root / "notes.txt").unlink(),
    ),
    "wrong-branch": Case(_other_branch, ("on branch 'feature'", "release branch 'main'"), _checkout_main),
    "detached-head": Case(_detach, ("HEAD is detached",), _checkout_main),
    "behind-remote": Case(
        _behind,
        ("main is behind origin/main",),
        lambda s: git(s.root, "pull", "-q", "--ff-only", "origin", "main") and None,
    ),
    "tag-exists-locally": Case(
        _tag_locally,
        ("tag v0.2.0 already exists locally",),
        lambda s: git(s.root, "tag", "-d", "v0.2.0") and None,
    ),
    "tag-exists-on-remote-only": Case(
        _tag_on_remote_only,
        ("tag v0.2.0 already exists on origin",),
        lambda s: git(s.root, "push", "-q", "origin", ":refs/tags/v0.2.0") and None,
    ),
    "remote-missing": Case(
        _no_remote,
        ("git remote 'origin' does not exist",),
        lambda s: git(s.root, "remote", "add", "origin", str(s.remote)) and None,
    ),
    "same-version": Case(_nothing, ("0.1.0 is not above the current version 0.1.0",), _nothing, "0.1.0", False),
    "lower-version": Case(_nothing, ("0.0.9 is not above the current version 0.1.0",), _nothing, "0.0.9", False),
    "final-of-a-final": Case(_nothing, ("0.1.0 is not a pre-release",), _nothing, "release", False),
}


def _refuse(case: Case, sample: SampleProject, tmp_path: Path, run_relsafe: RunRelsafe) -> None:
    """Break the repository, run a release, and check the refusal and that nothing changed."""
    case.break_it(sample, tmp_path)
    before = world(sample)

    proc = run_relsafe("release", case.request, cwd=sample.root)

    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    error = next(line for line in proc.stderr.splitlines() if line.startswith("error:"))
    assert proc.stderr.count("error:") == 1, proc.stderr
    assert sum(case.expected[0] in line for line in proc.stderr.splitlines()) == 1, "said once, not repeated"
    for text in case.expected:
        assert text in error, error
    assert world(sample) == before
    assert not (journal_dir(sample) / "state.json").exists(), "a refused release must not stay in progress"
    status = status_json(sample)
    if case.in_preflight:
        assert status is not None
        assert status["status"] == "refused"
        assert status["steps"]["preflight"]["status"] in ("blocked", "failed")
        assert all(text in status["steps"]["preflight"]["error"] for text in case.expected)
        later = {name: record for name, record in status["steps"].items() if name != "preflight"}
        assert all(r["attempts"] == 0 and r["status"] == "pending" for r in later.values()), later
        # nothing to resume: the refusal closed the release, and the hint must not send the user to resume
        assert "relsafe resume" not in proc.stderr
        assert "release again" in proc.stderr
    else:
        assert status is None
    resumed = run_relsafe("resume", cwd=sample.root)
    assert resumed.returncode == 2
    assert "no release is in progress" in resumed.stderr
    assert world(sample) == before


@pytest.mark.parametrize("name", list(CASES))
def test_refuses_with_exit_4_and_changes_nothing(
    name: str, release_sample: SampleProject, tmp_path: Path, run_relsafe: RunRelsafe
) -> None:
    _refuse(CASES[name], release_sample, tmp_path, run_relsafe)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["dirty-tree", "detached-head", "behind-remote", "tag-exists-on-remote-only"])
def test_a_release_works_once_the_cause_is_fixed(
    name: str, release_sample: SampleProject, tmp_path: Path, run_relsafe: RunRelsafe
) -> None:
    sample, case = release_sample, CASES[name]
    _refuse(case, sample, tmp_path, run_relsafe)
    case.fix(sample)
    base = git(sample.root, "rev-parse", "HEAD")

    proc = run_relsafe("release", "minor", cwd=sample.root)

    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert_released(sample, "0.2.0", base)


def test_zizmor_audits_the_trusted_workflow_once(release_sample: SampleProject, run_relsafe: RunRelsafe) -> None:
    """The audit, asking for exactly the trusted workflow, takes the run preflight started on it at once
    instead of starting another (that preflight starts it early: test_publish_workflow's second path)."""
    sample = release_sample
    base = git(sample.root, "rev-parse", "HEAD")

    proc = run_relsafe("release", "minor", cwd=sample.root)

    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert_released(sample, "0.2.0", base)
    runs = zizmor_runs(release_logs(sample))
    assert [[Path(file).name for file in run] for run in runs] == [["relsafe-publish.yml"]]


def test_every_problem_is_reported_at_once(
    release_sample: SampleProject, tmp_path: Path, run_relsafe: RunRelsafe
) -> None:
    sample = release_sample
    _other_branch(sample, tmp_path)
    _add_untracked(sample, tmp_path)
    _tag_locally(sample, tmp_path)
    before = world(sample)

    proc = run_relsafe("release", "minor", cwd=sample.root)

    assert proc.returncode == 4
    for text in ("on branch 'feature'", "notes.txt", "tag v0.2.0 already exists locally"):
        assert text in proc.stderr
    assert world(sample) == before


def test_two_refusals_in_a_row_are_both_kept_in_history(
    release_sample: SampleProject, tmp_path: Path, run_relsafe: RunRelsafe
) -> None:
    """Release ids must be unique even when two releases start within the same second."""
    sample = release_sample
    _add_untracked(sample, tmp_path)

    first = run_relsafe("release", "minor", cwd=sample.root)
    second = run_relsafe("release", "minor", cwd=sample.root)

    assert (first.returncode, second.returncode) == (4, 4)
    records = list((journal_dir(sample) / "history").glob("*.json"))
    assert len(records) == 2, records


@pytest.mark.parametrize("status", ["archived", "quarantined", "deprecated"])
def test_a_project_that_takes_no_upload_on_the_production_index_is_refused(
    status: str, release_sample: SampleProject, run_relsafe: RunRelsafe
) -> None:
    """PEP 792: archived and quarantined projects refuse uploads, so the release stops before anything changes;
    a deprecated one is only a warning."""
    sample = release_sample
    reason = "Superseded by\nnew-sample \x1b[31m"  # one line on the screen, whatever the index sends
    with StaticIndex() as production:
        production.publish("relsafe-sample", [], None, status={"status": status, "reason": reason})
        url = production.index_url
        config = sample.root / "release.toml"
        config.write_text(config.read_text().replace("[production]\n", f'[production]\nindex-url = "{url}"\n#'))
        git(sample.root, "commit", "-qam", "production index with a status")
        git(sample.root, "push", "-q", "origin", "main")
        before = world(sample)

        proc = run_relsafe("release", "minor", cwd=sample.root)

    said = f"relsafe-sample is {status} on the production index {url}: Superseded by new-sample"
    if status == "deprecated":
        assert proc.returncode == 0, proc.stdout + proc.stderr
        shown = " ".join(proc.stdout.split())  # the console wraps long lines
        assert said in shown and "(uploads still work)" in shown, shown
        assert "\x1b" not in proc.stdout
        return
    assert proc.returncode == 4, proc.stdout + proc.stderr
    error = next(line for line in proc.stderr.splitlines() if line.startswith("error:"))
    assert said in error and "accepts no upload (PEP 792)" in error, error
    assert "\x1b" not in proc.stderr
    assert world(sample) == before
    assert status_json(sample)["steps"]["preflight"]["status"] in ("blocked", "failed")  # type: ignore[index]


SECOND_PUBLISHER = """\
name: upload
on:
  push:
    branches: [main]
jobs:
  upload:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: pipx run build
      - uses: pypa/gh-action-pypi-publish@release/v1
        with:
          password: ${{ secrets.PYPI_TOKEN }}
"""


def test_workflow_findings_say_once_where_their_fix_is_and_piped_lines_stay_whole(
    release_sample: SampleProject, run_relsafe: RunRelsafe
) -> None:
    """Each finding is one line, whole even when piped at the default 80 columns; `relsafe audit` is named once."""
    sample = release_sample
    (sample.root / ".github" / "workflows" / "upload.yml").write_text(SECOND_PUBLISHER, encoding="utf-8")
    git(sample.root, "add", "-A")
    git(sample.root, "commit", "-qm", "A second way to PyPI")
    git(sample.root, "push", "-q", "origin", "main")
    env = {key: value for key, value in relsafe_env().items() if key != "COLUMNS"}

    refused = run_relsafe("release", "minor", cwd=sample.root, env=env)
    rehearsed = run_relsafe("release", "minor", "--dry-run", cwd=sample.root, env=env)

    assert refused.returncode == 4, refused.stdout + refused.stderr
    findings = [line for line in refused.stderr.splitlines() if "upload.yml:" in line]
    assert len(findings) >= 2, refused.stderr
    assert refused.stderr.count("relsafe audit") == 1, refused.stderr
    assert rehearsed.returncode == 4, rehearsed.stdout + rehearsed.stderr
    table = rehearsed.stdout.split("blocker(s)", 1)[1]
    assert table.count("relsafe audit") == 1, table
    shown = [line.strip() for line in table.splitlines() if "upload.yml:" in line]
    assert len(shown) >= 2 and any(len(line) > 80 for line in shown), shown
    for line in findings:  # the same finding, not cut into pieces
        message = line.split("upload.yml:", 1)[1]
        assert any(message in whole for whole in shown), (message, shown)
