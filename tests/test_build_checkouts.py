"""Build checkouts: inspect makes two side by side (the wheel from the tree, the reproducibility rebuild), and
neither may take the other's; a killed run's checkout is removed before a step makes its own."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

from relsafe.journal.paths import CHECKOUT_PREFIX, ReleaseFolder
from relsafe.journal.runlog import RunLog
from relsafe.steps.build import release_checkout, remove_stale_checkouts
from relsafe.steps.context import Context
from relsafe.tools.git import Git
from tests.support.git import git


def repository_context(tmp_path: Path) -> Any:
    root = tmp_path / "repo"
    root.mkdir()
    git(root.parent, "init", "-q", "-b", "main", str(root))
    (root / "a.txt").write_text("a\n", encoding="utf-8")
    git(root, "add", "a.txt")
    git(root, "-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-qm", "one")
    repository = Git(root, RunLog(None))
    return SimpleNamespace(
        folder=ReleaseFolder(tmp_path / "journal", "release"),
        git=repository,
        bump_commit=repository.head(),
        project=SimpleNamespace(version_source="files", version_tool=""),  # a worktree, as for a bump commit
    )


def test_checkouts_made_side_by_side_keep_each_its_own(tmp_path: Path) -> None:
    ctx = cast(Context, repository_context(tmp_path))

    both_made = threading.Barrier(2, timeout=120)

    def hold() -> bool:
        with release_checkout(ctx) as checkout:
            both_made.wait()  # both checkouts exist at once; then each is removed while the other may still read
            return (checkout / "a.txt").read_text(encoding="utf-8") == "a\n"

    for _ in range(4):
        both_made.reset()
        with ThreadPoolExecutor(max_workers=2) as pool:
            assert [future.result() for future in [pool.submit(hold), pool.submit(hold)]] == [True, True]
    assert list(ctx.folder.path.iterdir()) == []
    assert len(git(ctx.git.root, "worktree", "list").splitlines()) == 1


def test_a_killed_runs_checkout_is_removed_and_forgotten_before_a_step_makes_its_own(tmp_path: Path) -> None:
    ctx = cast(Context, repository_context(tmp_path))
    ctx.folder.path.mkdir(parents=True)
    stale = ctx.folder.path / f"{CHECKOUT_PREFIX}killed"
    git(ctx.git.root, "worktree", "add", "-q", "--detach", str(stale), ctx.bump_commit)

    remove_stale_checkouts(ctx)

    assert not stale.exists()
    assert len(git(ctx.git.root, "worktree", "list").splitlines()) == 1
