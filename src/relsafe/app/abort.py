"""`relsafe abort`: end the release in progress, undoing only what is safely local."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from relsafe.app.repository import Repository
from relsafe.core.errors import DamagedJournal, UsageError
from relsafe.journal.records import Release, Status
from relsafe.steps.bump import found_bump_commit, is_pure_bump
from relsafe.tools.git import Git, tagged_commit


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
        else:
            notes.append(_undo_bump(git, release, bump_commit))
    elif git.head() == release.base_commit:
        leftovers = git.dirty_paths()
        purely_bumped = [p for p in leftovers if is_pure_bump(git, release, p)]
        if purely_bumped:
            git.restore(purely_bumped, release.base_commit)
            notes.append("restored the version files an interrupted bump had changed: " + ", ".join(purely_bumped))
    staged = release.staged_files
    if staged:
        notes.append(
            "cannot undo: " + ", ".join(staged) + f" stay on the staging index; {release.version} is used up there, "
            f"so the next `relsafe release {release.request}` takes the version after it"
        )
    return notes


def _undo_bump(git: Git, release: Release, bump: str) -> str:
    """Take the unpushed bump commit away without losing any work: uncommitted changes stay (git's
    `reset --keep` refuses rather than overwrite one), and commits made after the bump are kept, with the
    command that drops the bump from under them. Never advises a command that throws work away."""
    base, short = release.base_commit[:12], bump[:12]
    head = git.head()
    if head == bump:
        dirty = git.dirty_paths()
        if git.reset_keep(release.base_commit):
            kept = f"; your uncommitted changes are kept ({', '.join(dirty[:3])})" if dirty else ""
            return f"removed the bump commit {short} (HEAD is back on {base}){kept}"
        return (
            f"kept the bump commit {short}: uncommitted changes touch the files it changed; commit or stash them, "
            f"then `git reset --keep {base}` removes it and keeps everything else"
        )
    if git.is_ancestor(bump, head):
        later = git.count_between(bump, head)
        return (
            f"kept the bump commit {short}: {later} commit(s) were made after it; "
            f"`git rebase --onto {base} {short}` drops the bump and keeps them "
            f"(or `git revert {short}` undoes it in a new commit)"
        )
    return (
        f"kept the bump commit {short}: HEAD ({head[:12]}) is elsewhere; on the branch that holds it, "
        f"`git rebase --onto {base} {short}` drops it and keeps any later commits"
    )
