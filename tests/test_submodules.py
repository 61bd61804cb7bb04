"""A project that vendors a library as a git submodule releases with the library inside its sdist and wheel.

The build checks the bump commit out in a detached worktree; the submodule
must be there at the revision that commit records (the library's repository
has a newer commit, which must not be used), and the worktree must be gone
afterwards although git refuses to remove one with submodules unless forced.
Local-path submodules need git's file transport, refused by default since
git 2.38: the test allows it for the relsafe process only, as a user would,
and relsafe never relaxes it itself.
"""

from __future__ import annotations

import shutil
import tarfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from relsafe.app.sample import SampleProject, create_sample
from relsafe.journal.runlog import RunLog
from relsafe.tools.git import Git
from relsafe.tools.localindex import LocalIndex
from tests.support.cli import RunRelsafe, relsafe_env
from tests.support.git import git
from tests.support.wheels import wheel_files
from tests.support.world import journal_dir, status_json

pytestmark = pytest.mark.slow

ALLOW_FILE = ("-c", "protocol.file.allow=always")
FILE_PROTOCOL_ENV = {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "protocol.file.allow", "GIT_CONFIG_VALUE_0": "always"}
IDENTITY = ("-c", "user.name=Library Author", "-c", "user.email=library@example.invalid")
VENDOR = "vendor/lib"
UNITTEST = '\n[test]\ncommand = "python -m unittest discover -s tests"\nrequires = []\n'


@dataclass(frozen=True)
class Vendored:
    sample: SampleProject
    library: Path  # the library's bare repository, the submodule's URL
    recorded: str  # the library commit the project's commit records
    latest: str  # a newer library commit, pushed after


def commit_library_file(work: Path, text: str, message: str) -> str:
    (work / "data.txt").write_text(text, encoding="utf-8")
    git(work, "add", "data.txt")
    git(work, *IDENTITY, "commit", "-q", "-m", message)
    git(work, "push", "-q", "origin", "HEAD:main")
    return git(work, "rev-parse", "HEAD")


@pytest.fixture
def vendored(tmp_path: Path, local_index: LocalIndex) -> Vendored:
    """The hatchling sample with a library as a submodule inside its package folder, committed and pushed.

    Inside the package, hatchling ships the library's files in both the sdist
    and the wheel. The library then gets a second commit the project does not record.
    """
    library = tmp_path / "library.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(library))
    work = tmp_path / "library-work"
    git(tmp_path, "clone", "-q", str(library), str(work))
    recorded = commit_library_file(work, "recorded revision\n", "Library data")

    sample = create_sample(tmp_path, index=(local_index.upload_url, local_index.index_url))
    with (sample.root / "release.toml").open("a", encoding="utf-8") as stream:
        stream.write(UNITTEST)  # the sample's tests need no package from an index
    path = f"src/{sample.module}/{VENDOR}"
    git(sample.root, *ALLOW_FILE, "submodule", "add", "-q", str(library), path)
    git(sample.root, "add", "--all")
    git(sample.root, *IDENTITY, "commit", "-q", "-m", "Vendor the library")
    git(sample.root, "push", "-q", "origin", "main")
    git(sample.root, "fetch", "-q", "origin")

    latest = commit_library_file(work, "a newer revision\n", "Library moves on")
    assert git(sample.root, "ls-tree", "HEAD", path).split()[2] == recorded
    return Vendored(sample, library, recorded, latest)


def worktrees(sample: SampleProject) -> list[str]:
    porcelain = git(sample.root, "worktree", "list", "--porcelain")
    return [line.removeprefix("worktree ") for line in porcelain.splitlines() if line.startswith("worktree ")]


def test_the_release_ships_the_submodule_at_the_recorded_revision_and_leaves_no_worktree(
    vendored: Vendored, run_relsafe: RunRelsafe
) -> None:
    sample = vendored.sample
    proc = run_relsafe("release", "minor", cwd=sample.root, env=relsafe_env(**FILE_PROTOCOL_ENV))
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert "Traceback" not in output
    record = status_json(sample)
    assert record is not None and record["status"] == "done", record

    dist = journal_dir(sample) / "releases" / record["id"] / "dist"
    [sdist] = dist.glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        members = {name.split("/", 1)[1]: name for name in archive.getnames() if "/" in name}
        vendored_file = f"src/{sample.module}/{VENDOR}/data.txt"
        assert vendored_file in members, sorted(members)
        data = archive.extractfile(members[vendored_file])
        assert data is not None and data.read() == b"recorded revision\n"
        assert f"src/{sample.module}/{VENDOR}/.git" not in members  # the submodule's gitdir link stays behind
    [wheel] = dist.glob("*.whl")
    assert wheel_files(wheel)[f"{sample.module}/{VENDOR}/data.txt"] == b"recorded revision\n"

    assert worktrees(sample) == [str(sample.root)]
    assert list((journal_dir(sample) / "releases" / record["id"]).glob("source-*")) == []
    assert not list((sample.root / ".git" / "worktrees").glob("*"))  # no admin folder, no submodule clone kept
    assert git(sample.root, "status", "--porcelain", "--untracked-files=all") == ""
    # the tag went to the remote on the commit that records the library revision
    assert git(sample.remote, "ls-tree", "v0.2.0", f"src/{sample.module}/{VENDOR}").split()[2] == (vendored.recorded)


def test_the_build_takes_the_submodule_from_the_local_objects_without_fetching_its_url(
    vendored: Vendored, run_relsafe: RunRelsafe
) -> None:
    """The library's repository is gone and git's file transport is not allowed: the build checkout gets the
    submodule from the user's .git/modules, which holds the recorded revision, and fetches nothing; so does the
    rehearsal's, whose sandbox is a clone without .git/modules."""
    sample = vendored.sample
    vendored.library.rename(vendored.library.with_name("moved-away.git"))
    config_before = (sample.root / ".git" / "config").read_text(encoding="utf-8")
    rehearsed = run_relsafe("release", "minor", "--dry-run", cwd=sample.root)
    assert rehearsed.returncode == 0, rehearsed.stdout + rehearsed.stderr
    proc = run_relsafe("release", "minor", cwd=sample.root)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    record = status_json(sample)
    assert record is not None and record["status"] == "done", record
    [wheel] = (journal_dir(sample) / "releases" / record["id"] / "dist").glob("*.whl")
    assert wheel_files(wheel)[f"{sample.module}/{VENDOR}/data.txt"] == b"recorded revision\n"
    assert worktrees(sample) == [str(sample.root)]
    assert not list((sample.root / ".git" / "worktrees").glob("*"))
    assert (sample.root / ".git" / "config").read_text(encoding="utf-8") == config_before
    assert git(sample.root, "status", "--porcelain", "--untracked-files=all") == ""


def test_a_submodule_missing_locally_is_fetched_and_keeps_gits_file_protection(
    vendored: Vendored, run_relsafe: RunRelsafe
) -> None:
    """Without the module in .git/modules the submodule comes from its URL, and relsafe keeps git's
    protection: without protocol.file.allow that checkout fails, cleanly."""
    sample = vendored.sample
    git(sample.root, "submodule", "deinit", "-q", "--force", "--all")  # as a clone that never initialised it
    shutil.rmtree(sample.root / ".git" / "modules")
    proc = run_relsafe("release", "minor", cwd=sample.root)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    assert "Traceback" not in output
    assert "git submodule update --init failed" in output, output
    assert "transport 'file' not allowed" in output, output

    assert worktrees(sample) == [str(sample.root)]
    assert list(journal_dir(sample).rglob("source-*")) == []
    assert git(sample.root, "status", "--porcelain", "--untracked-files=all") == ""


def superproject(base: Path) -> Path:
    """A repository recording a library as a submodule, made with plain git (no index, no release)."""
    library = base / "lib.git"
    git(base, "init", "-q", "--bare", "-b", "main", str(library))
    work = base / "lib-work"
    git(base, "clone", "-q", str(library), str(work))
    commit_library_file(work, "recorded revision\n", "Library data")
    root = base / "project"
    git(base, "init", "-q", "-b", "main", str(root))
    git(root, *ALLOW_FILE, "submodule", "add", "-q", str(library), VENDOR)
    git(root, *IDENTITY, "commit", "-q", "-m", "Vendor the library")
    return root


def test_remove_worktree_removes_a_locked_worktree_with_populated_submodules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Locked and holding a submodule: `worktree remove --force` is refused, so relsafe forces twice."""
    for key, value in FILE_PROTOCOL_ENV.items():
        monkeypatch.setenv(key, value)
    root = superproject(tmp_path)
    repository = Git(root, RunLog(None))
    checkout = tmp_path / "checkout"
    repository.add_worktree(checkout, repository.head())
    repository.init_submodules(checkout)
    assert (checkout / VENDOR / "data.txt").read_text(encoding="utf-8") == "recorded revision\n"
    git(root, "worktree", "lock", str(checkout))

    repository.remove_worktree(checkout)

    assert git(root, "worktree", "list", "--porcelain").splitlines()[0] == f"worktree {root}"
    assert len(git(root, "worktree", "list").splitlines()) == 1
    assert not checkout.exists()
    assert not list((root / ".git" / "worktrees").glob("*"))


def test_remove_worktree_deletes_a_folder_git_no_longer_knows(tmp_path: Path) -> None:
    """A killed run's checkout whose registration is gone: neither remove succeeds, the folder still goes."""
    root = superproject(tmp_path)
    repository = Git(root, RunLog(None))
    checkout = tmp_path / "checkout"
    (checkout / VENDOR).mkdir(parents=True)
    (checkout / VENDOR / "data.txt").write_text("left over\n", encoding="utf-8")

    repository.remove_worktree(checkout)

    assert not checkout.exists()
    assert len(git(root, "worktree", "list").splitlines()) == 1


def test_init_submodules_leaves_the_users_git_config_as_it_was(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A clone whose submodules were never initialised: the build's `--init` adds nothing to its .git/config."""
    for key, value in FILE_PROTOCOL_ENV.items():
        monkeypatch.setenv(key, value)
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(superproject(tmp_path)), str(clone))
    config = (clone / ".git" / "config").read_text(encoding="utf-8")
    assert "[submodule" not in config
    repository = Git(clone, RunLog(None))
    checkout = tmp_path / "checkout"
    repository.add_worktree(checkout, repository.head())

    repository.init_submodules(checkout)

    assert (checkout / VENDOR / "data.txt").read_text(encoding="utf-8") == "recorded revision\n"
    assert (clone / ".git" / "config").read_text(encoding="utf-8") == config
    repository.remove_worktree(checkout)
    assert not checkout.exists() and len(git(clone, "worktree", "list").splitlines()) == 1
