"""`relsafe abort`: end the release in progress, undoing only what is safely local."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from relsafe.app.repository import Repository
from relsafe.core.errors import DamagedJournal, UsageError
from relsafe.journal.records import Release, Status
from relsafe.steps.bump import found_bump_commit, is_pure_bump
from relsafe.tools.git import tagged_commit


@dataclass
class Aborted:
    what: str  # "the release of 1.2.0", or the damaged journal set aside
    notes: list[str]


def abort(path: Path) -> Aborted:
    """End the release in progress, undoing only what is safely local.

    A damaged state.json is set aside instead, so that a journal is never stuck: without a record there
    is nothing relsafe may safely undo, and the notes say what to check by hand.
    """
    repo = Repository.open(path)
    with repo.journal.lock():
        try:
            release = repo.journal.current()
        except DamagedJournal:
            kept = repo.journal.set_aside()
            return Aborted(
                "the release in progress: its journal was damaged",
                [
                    f"moved {repo.journal.state_path.name} to {kept}",
                    "undid nothing: check `git status`, `git tag` and `git log` (and the staging index) for what "
                    "the release had done",
                ],
            )
        if release is None:
            raise UsageError("no release is in progress; nothing to abort")
        notes = [*repo.cleaned_up, *_undo_local(repo, release)]
        release.status = Status.ABORTED
        repo.close(release)
        return Aborted(f"the release of {release.version}", notes)


def _undo_local(repo: Repository, release: Release) -> list[str]:
    git, notes = repo.git, []
    pushed = f"{release.tag} was already pushed: publishing has been triggered and cannot be undone here"
    if release.step("push").status == Status.DONE:
        return [pushed]
    refs = git.remote_refs(release.remote) if git.remote_url(release.remote) else {}
    tagged = git.local_tag(release.tag)
    # a crash right after the commit, or right after the push, leaves the journal behind the world
    bump_commit = release.bump_commit or found_bump_commit(git, release)
    if bump_commit and tagged_commit(refs, release.tag) == bump_commit:
        return [pushed]
    if tagged is not None and tagged_commit(refs, release.tag) is None and tagged == bump_commit:
        git.delete_tag(release.tag)
        notes.append(f"deleted the local tag {release.tag}")
    remote_head = refs.get(f"refs/heads/{release.branch}")
    if bump_commit and bump_commit != release.base_commit and git.resolve(bump_commit):
        if remote_head is not None and git.is_ancestor(bump_commit, remote_head):
            where = f"{release.remote}/{release.branch}"
            notes.append(f"kept the bump commit {bump_commit[:12]}: it is already on {where}")
        elif git.head() == bump_commit and not git.dirty_paths():
            git.reset_hard(release.base_commit)
            notes.append(f"removed the bump commit {bump_commit[:12]} (HEAD is back on {release.base_commit[:12]})")
        else:
            notes.append(
                f"kept the bump commit {bump_commit[:12]}: HEAD moved or the tree has changes; "
                f"remove it yourself with `git reset --hard {release.base_commit[:12]}` if you want"
            )
    elif git.head() == release.base_commit:
        leftovers = git.dirty_paths()
        purely_bumped = [p for p in leftovers if is_pure_bump(git, release, p)]
        if purely_bumped:
            git.restore(purely_bumped, release.base_commit)
            notes.append("restored the version files an interrupted bump had changed: " + ", ".join(purely_bumped))
    staged = release.staged_files
    if staged:
        notes.append(
            "cannot undo: " + ", ".join(staged) + " stay on the staging index; that version number is used up there"
        )
    return notes
