"""Git, through GitPython, with every command written to the run log.

Git runs with the user's HOME (its configuration, identity, credential
helpers and signing keys are there), and without any credential variable of
the shell's: the hooks it runs are the project's code. Only the commands that
reach a remote or sign get back what git itself may need for that (the SSH
agent, GnuPG, the password-prompt programs, GitHub's CLI tokens:
core.environment.HELPERS_FOR_GIT), and so do the hooks they run (pre-push,
reference-transaction).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from urllib.parse import unquote, urlsplit

from relsafe.core import withheld
from relsafe.core.environment import is_credential
from relsafe.core.errors import ToolFailed, UsageError
from relsafe.core.redaction import DEFAULT_REDACTOR
from relsafe.journal.runlog import RunLog
from relsafe.tools import leftovers, process
from relsafe.tools.process import error_tail

TAIL_LINES = 12
_WORKTREES = threading.Lock()
"""Worktree add, remove and prune, one at a time in a process: inspect's side-by-side builds add and remove
worktrees of one repository at once, and `git worktree add` was seen to fail (exit 128) beside them under load."""


class Git:
    """One repository (or worktree) that relsafe reads and changes."""

    def __init__(self, path: Path, log: RunLog) -> None:
        import git

        self.log = log
        try:
            self._repo = git.Repo(path, search_parent_directories=True)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError):
            raise UsageError(
                # the absolute folder: "." says nothing about where relsafe looked
                f"{path.absolute()}: not a git repository (nor inside one)",
                hint="run relsafe inside the repository of the package to release, or pass --path",
            ) from None
        if self._repo.bare:
            raise UsageError(f"{path.absolute()}: a bare repository has no working tree to release from")
        self.root = Path(self._repo.working_tree_dir or path).resolve()
        self.module_store: Path | None = None
        """Where the submodules' own repositories are, when not in this repository's .git/modules: a rehearsal's
        sandbox is a clone without them, and builds from the user's repository's store instead."""

    def _run(
        self, *args: str, what: str | None = None, strip_newline_in_stdout: bool = True, helpers: bool = False
    ) -> str:
        """Run git through GitPython (its environment, LC_ALL=C) and wait here, where the command is known to
        process.stop_all: Ctrl-C or SIGTERM ends it, never leaves it running behind relsafe.

        GitPython passes os.environ on and can only override a variable, not drop it: a credential still in
        relsafe's environment (where it could not re-execute itself) reaches git and its hooks empty. With
        `helpers`, git gets back what it needs to reach a remote or sign (HELPERS_FOR_GIT)."""
        self.log.write(f"$ git {' '.join(args)}    (in {self.root})")
        env = dict.fromkeys((name for name, value in os.environ.items() if is_credential(name, value)), "")
        if helpers:
            env |= withheld.git_helpers()
        handle = self._repo.git.execute(["git", *args], as_process=True, env=env | leftovers.marker())
        proc = handle.proc
        if proc is None:  # GitPython hands over a started process; None only after it was ended
            raise ToolFailed(f"{what or 'git ' + args[0]}: not started")
        with process.tracked(proc):
            out, err = proc.communicate()
        output = out.decode("utf-8", errors="replace") if out else ""
        if proc.returncode != 0:
            text = f"{output}\n{err.decode('utf-8', errors='replace') if err else ''}".strip()
            self.log.write(text)
            self.log.write(f"= exit {proc.returncode}")
            raise ToolFailed(
                f"{what or 'git ' + args[0]} failed (exit {proc.returncode})",
                details=error_tail(self.log.redact(text), TAIL_LINES),
            )
        if strip_newline_in_stdout and output.endswith("\n"):
            output = output[:-1]
        if output:
            self.log.write(output)
        return output

    # -- reading -----------------------------------------------------------

    @property
    def common_dir(self) -> Path:
        return Path(self._run("rev-parse", "--path-format=absolute", "--git-common-dir").strip())

    def head(self) -> str:
        return self._run("rev-parse", "HEAD").strip()

    def resolve(self, rev: str) -> str | None:
        try:
            return self._run("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}").strip() or None
        except ToolFailed:
            return None

    def branch(self) -> str | None:
        """The checked-out branch, or None on a detached HEAD."""
        try:
            return self._run("symbolic-ref", "--quiet", "--short", "HEAD").strip() or None
        except ToolFailed:
            return None

    def dirty_paths(self) -> list[str]:
        """Changed tracked files and untracked, unignored files: both would change what gets built."""
        output = self._run("status", "--porcelain=v1", "--untracked-files=all")
        return [line[3:] for line in output.splitlines() if line.strip()]

    def commit_time(self, commit: str) -> int:
        return int(self._run("show", "-s", "--format=%ct", commit).strip())

    def commit_message(self, commit: str) -> str:
        return self._run("show", "-s", "--format=%B", commit).strip()

    def parents(self, commit: str) -> list[str]:
        return self._run("rev-list", "--parents", "-n", "1", commit).split()[1:]

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        try:
            self._run("merge-base", "--is-ancestor", ancestor, descendant)
        except ToolFailed:
            return False
        return True

    def changed_files(self, old: str, new: str) -> list[str]:
        return sorted(self._run("diff", "--name-only", old, new).split())

    def file_at(self, commit: str, path: str) -> str | None:
        try:
            return self._run("show", f"{commit}:{path}", strip_newline_in_stdout=False)
        except ToolFailed:
            return None

    def local_tag(self, name: str) -> str | None:
        """The commit a local tag points to, or None."""
        return self.resolve(f"refs/tags/{name}")

    def tag_is_annotated(self, name: str) -> bool:
        return self._run("cat-file", "-t", f"refs/tags/{name}").strip() == "tag"

    def tag_message(self, name: str) -> str:
        """An annotated tag's whole message (and its signature, if signed)."""
        return self._run("for-each-ref", "--format=%(contents)", f"refs/tags/{name}")

    def tags(self) -> list[str]:
        return self._run("tag", "--list").split()

    def tags_reachable(self, commit: str = "HEAD") -> list[str]:
        """Tags on `commit` or its ancestors: a release on another branch is no base for this one."""
        return self._run("tag", "--list", "--merged", commit).split()

    def identity(self) -> str:
        """'Name <email>' of the configured git user, for gate records."""
        name = self.config_value("user.name") or "unknown"
        email = self.config_value("user.email") or "unknown"
        return f"{name} <{email}>"

    def identity_problem(self) -> str | None:
        """Why git could not make the bump commit and the tag: no name and email it can use."""
        try:
            self._run("var", "GIT_AUTHOR_IDENT")
            self._run("var", "GIT_COMMITTER_IDENT")
        except ToolFailed:
            return "git has no identity to commit and tag with; set user.name and user.email (git config)"
        return None

    def signing_problem(self) -> str | None:
        """Why `git tag -s` would fail: no signing key, or one the signing program does not hold or cannot
        sign with (relsafe.tools.signing); nothing is signed to find out."""
        from relsafe.tools.signing import signing_problem

        try:  # "Name <email> 1765000000 +0000": git signs as "Name <email>" when user.signingkey is unset
            committer: str | None = self._run("var", "GIT_COMMITTER_IDENT").rsplit(" ", 2)[0]
        except ToolFailed:
            committer = None  # the identity check says so
        return signing_problem(self.config_value, committer, self.log)

    def config_value(self, key: str) -> str | None:
        try:
            return self._run("config", "--get", key).strip() or None
        except ToolFailed:
            return None

    # -- remotes -----------------------------------------------------------

    def remote_url(self, remote: str) -> str | None:
        """The remote's URL; a login in it (`https://<token>@host/`) is known to redaction from now on."""
        url = self.config_value(f"remote.{remote}.url")
        login = urlsplit(url).netloc.rpartition("@")[0] if url and "://" in url else ""
        if login:
            user, _, password = login.partition(":")
            DEFAULT_REDACTOR.add(unquote(password) if password else unquote(user))
        return url

    def fetch(self, remote: str) -> None:
        self._run("fetch", "--quiet", "--no-tags", remote, what=f"git fetch {remote}", helpers=True)

    def behind(self, remote: str, branch: str) -> int:
        """How many commits of the remote branch HEAD lacks (0 when the remote has no such branch)."""
        tracking = f"refs/remotes/{remote}/{branch}"
        if self.resolve(tracking) is None:
            return 0
        return int(self._run("rev-list", "--count", f"HEAD..{tracking}").strip())

    def count_between(self, older: str, newer: str) -> int:
        """How many commits `newer` has that `older` lacks."""
        return int(self._run("rev-list", "--count", f"{older}..{newer}").strip())

    def remote_refs(self, remote: str) -> dict[str, str]:
        """ref name → object id, straight from the remote (tags peeled to their commit as ref^{})."""
        output = self._run("ls-remote", remote, what=f"git ls-remote {remote}", helpers=True)
        refs: dict[str, str] = {}
        for line in output.splitlines():
            sha, _, ref = line.partition("\t")
            refs[ref] = sha
        return refs

    # -- writing -----------------------------------------------------------

    def commit(self, paths: list[str], message: str) -> str:
        self._run("add", "--", *paths)
        self._run("commit", "--quiet", "--no-verify", "-m", message, "--", *paths, what="git commit")
        return self.head()

    def create_tag(self, name: str, commit: str, message: str, sign: bool) -> None:
        flag = "-s" if sign else "-a"
        self._run("tag", flag, name, "-m", message, commit, what=f"git tag {name}", helpers=sign)

    def delete_tag(self, name: str) -> None:
        self._run("tag", "-d", name)

    def push_atomic(self, remote: str, refspecs: list[str]) -> None:
        self._run("push", "--atomic", "--porcelain", remote, *refspecs, what=f"git push {remote}", helpers=True)

    def reset_hard(self, commit: str) -> None:
        self._run("reset", "--hard", "--quiet", commit)

    def reset_keep(self, commit: str) -> bool:
        """Move the branch to `commit` keeping uncommitted changes; False (nothing moved) when a change is in a
        file that differs between HEAD and `commit`, which git refuses rather than lose it."""
        try:
            self._run("reset", "--keep", "--quiet", commit)
        except ToolFailed:
            return False
        return True

    def restore(self, paths: list[str], commit: str) -> None:
        self._run("checkout", commit, "--", *paths)

    def add_worktree(self, path: Path, commit: str) -> None:
        with _WORKTREES:
            self._run("worktree", "add", "--detach", "--quiet", str(path), commit)

    def tagged_clone(self, path: Path, commit: str, tag: str) -> None:
        """A private checkout of `commit` on which the lightweight tag `tag` exists, for a backend that reads the
        version from git's tags and takes it from no variable (versioneer's `git describe`).

        A clone, not a worktree: a worktree shares the repository's tags, and the release tag must not exist
        there before the tag step. It borrows this repository's objects (--shared) and is deleted afterwards.
        """
        self._run("clone", "--quiet", "--shared", "--no-checkout", str(self.common_dir), str(path))
        self._run("-C", str(path), "-c", "tag.gpgSign=false", "tag", tag, commit)
        self._run("-C", str(path), "-c", "advice.detachedHead=false", "checkout", "--quiet", "--detach", commit)

    def init_submodules(self, worktree: Path) -> None:
        """Check out every submodule (recursively) of `worktree` at the revision its commit records.

        A build of the commit must hold what the project ships, vendored
        submodules included. A submodule whose recorded revision the user's
        repository already holds (`.git/modules/NAME`) is cloned from there,
        never fetched again from its URL (which may be unreachable, or ask for
        a login). Any other is fetched by `git submodule update --init`, which
        writes its url into the configuration the worktree shares with the
        user's repository; what it added is taken out again, so a build changes
        nothing there. Git's own protections stay: a local-path or `file://`
        submodule URL needs protocol.file.allow from the user's configuration.
        """
        before = self._submodule_sections()
        try:
            self._populate_submodules(worktree, self.module_store or self.common_dir / "modules")
        finally:
            for name in sorted(self._submodule_sections() - before):
                self._run("config", "--local", "--remove-section", f"submodule.{name}")

    def _populate_submodules(self, checkout: Path, store: Path) -> None:
        """The submodules `checkout/.gitmodules` lists, each from `store/NAME` (the local module repository)
        when it holds the recorded commit, else from its URL; then theirs, from `store/NAME/modules`."""
        if not (checkout / ".gitmodules").is_file():
            return
        try:
            listed = self._run("-C", str(checkout), "config", "--file", ".gitmodules", "--get-regexp", r"\.path$")
        except ToolFailed:  # exit 1: no submodule listed
            return
        gitdir = Path(self._run("-C", str(checkout), "rev-parse", "--path-format=absolute", "--git-dir"))
        for line in listed.splitlines():
            key, _, path = line.partition(" ")
            name = key.removeprefix("submodule.").removesuffix(".path")
            entry = self._run("-C", str(checkout), "ls-tree", "HEAD", "--", path).split()
            if len(entry) < 3 or entry[1] != "commit":
                continue  # listed in .gitmodules, but the commit records no submodule there
            recorded, local = entry[2], store / name
            if local.is_dir() and self._holds_commit(local, recorded):
                target = gitdir / "modules" / name
                target.parent.mkdir(parents=True, exist_ok=True)
                self._run(
                    "clone",
                    "--quiet",
                    "--no-checkout",
                    "--separate-git-dir",
                    str(target),
                    str(local),
                    str(checkout / path),
                    what=f"git clone of the submodule {path} from {local}",
                )
                self._run(
                    "-C",
                    str(checkout / path),
                    "-c",
                    "advice.detachedHead=false",
                    "checkout",
                    "--quiet",
                    "--detach",
                    recorded,
                )
            else:
                self._run(
                    "-C",
                    str(checkout),
                    "submodule",
                    "update",
                    "--init",
                    "--checkout",
                    "--",
                    path,
                    what="git submodule update --init",
                    helpers=True,
                )
            self._populate_submodules(checkout / path, local / "modules")

    def _holds_commit(self, repository: Path, commit: str) -> bool:
        try:
            self._run(f"--git-dir={repository}", "cat-file", "-e", f"{commit}^{{commit}}")
        except ToolFailed:
            return False
        return True

    def _submodule_sections(self) -> set[str]:
        """Names of the `[submodule "…"]` sections in the repository's own configuration."""
        try:
            output = self._run("config", "--local", "--name-only", "--get-regexp", r"^submodule\.")
        except ToolFailed:  # exit 1: no such key
            return set()
        return {key.removeprefix("submodule.").rpartition(".")[0] for key in output.splitlines() if key.strip()}

    def remove_worktree(self, path: Path) -> None:
        """Remove a worktree relsafe made, submodules and all, and leave no entry in `git worktree list`.

        Git refuses `worktree remove` of a tree with populated submodules unless
        forced, and of a locked one unless forced twice; a folder git no longer
        knows (a killed run's) is deleted and then pruned.
        """
        import shutil

        for forces in (["--force"], ["--force", "--force"]):
            try:
                with _WORKTREES:
                    self._run("worktree", "remove", *forces, str(path))
                break
            except ToolFailed:
                continue  # locked, or not a worktree any more: force harder, then delete it below
        if path.exists():
            shutil.rmtree(path, ignore_errors=True)
        self.prune_worktrees()

    def prune_worktrees(self) -> None:
        """Forget worktrees whose folders are gone (a killed run's, removed by hand)."""
        with _WORKTREES:  # a prune beside an add could take the half-made worktree for a stale one
            self._run("worktree", "prune")

    def clone(self, source: str, destination: Path, *, bare: bool = False) -> None:
        """A full copy that shares nothing with this repository (no hardlinks, no alternates)."""
        flags = ["--bare"] if bare else []
        self._run("clone", *flags, "--quiet", "--no-hardlinks", source, str(destination), helpers=True)

    def export(self, commit: str, destination: Path) -> None:
        """The files of `commit` (no .git, nothing untracked) into destination, for tools that write where they run."""
        import tarfile
        import tempfile

        with tempfile.TemporaryDirectory(prefix="relsafe-export-") as scratch:
            archive = Path(scratch) / "tree.tar"
            self._run("archive", "--format=tar", "-o", str(archive), commit)
            with tarfile.open(archive) as tree:
                tree.extractall(destination, filter="data")

    def checkout_branch(self, branch: str, commit: str) -> None:
        self._run("checkout", "--quiet", "-B", branch, commit)

    def set_remote_url(self, remote: str, url: str) -> None:
        if self.remote_url(remote) is None:
            self._run("remote", "add", remote, url)
        else:
            self._run("remote", "set-url", remote, url)

    def set_config(self, key: str, value: str) -> None:
        self._run("config", key, value)

    def commit_all(self, message: str) -> str:
        self._run("add", "--all")
        self._run("commit", "--quiet", "--no-verify", "-m", message, what="git commit")
        return self.head()

    def push(self, remote: str, *refspecs: str) -> None:
        self._run("push", "--quiet", remote, *refspecs, what=f"git push {remote}", helpers=True)


HEAD_COMMIT = ("--verify", "--quiet", "HEAD^{commit}")


def plain_common_dir(path: Path) -> Path | None:
    """The git common folder (where the journal lives) of the work tree holding `path`, with one git command
    and without GitPython, whose import costs more than a `relsafe status` may take; None unless `path` is
    in a work tree whose HEAD is a commit (Git says what is wrong otherwise)."""
    if not path.is_dir():
        return None
    try:
        found = process.run(
            ["git", "rev-parse", "--is-inside-work-tree", "--path-format=absolute", "--git-common-dir", *HEAD_COMMIT],
            log=RunLog(None),
            cwd=path,
            check=False,
            real_home=True,
        )
    except ToolFailed:  # git cannot start: the full way says so
        return None
    lines = found.output.splitlines()
    if found.returncode != 0 or len(lines) != 3 or lines[0] != "true":
        return None
    return Path(lines[1])


def tagged_commit(refs: dict[str, str], tag: str) -> str | None:
    """The commit a tag names in `remote_refs`: an annotated tag's peeled entry, not the tag object."""
    ref = f"refs/tags/{tag}"
    return refs.get(ref + "^{}", refs.get(ref))


def init_repository(path: Path, log: RunLog, *, branch: str = "main", identity: tuple[str, str] | None = None) -> Git:
    """A new repository with a first branch name (and a local identity, for machines without one)."""
    import git

    path.mkdir(parents=True, exist_ok=True)
    log.write(f"$ git init -b {branch} {path}")
    git.Repo.init(path, initial_branch=branch)
    repository = Git(path, log)
    if identity is not None:
        repository.set_config("user.name", identity[0])
        repository.set_config("user.email", identity[1])
    return repository


def init_bare(path: Path, log: RunLog) -> None:
    import git

    log.write(f"$ git init --bare {path}")
    git.Repo.init(path, bare=True, initial_branch="main")
