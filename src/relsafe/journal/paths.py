"""Where the journal keeps a release's files: every path under releases/<id>/ is named here.

The release folder holds the built files (dist/, kept when the release ends), the lock of the environment
they were tested in (pylock.toml, kept too) and the steps' working files (build checkouts, the wheel built
from the tree, virtualenvs, downloads), which are removed when it ends. Naming them in one place keeps
what a step writes and what another reads the same path.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

CHECKOUT_PREFIX = "source-"
"""A build checkout's folder name starts with this: a git worktree, so it is removed through git."""


def journal_dir(git_common_dir: Path) -> Path:
    """The journal's folder in a repository's git common directory."""
    return git_common_dir / "relsafe"


def releases_dir(journal: Path) -> Path:
    """The folder holding one folder per release."""
    return journal / "releases"


@dataclass(frozen=True)
class ReleaseFolder:
    """releases/<id>/ in the journal folder `journal`, and what the steps keep in it."""

    journal: Path
    release_id: str

    @property
    def path(self) -> Path:
        return releases_dir(self.journal) / self.release_id

    @property
    def dist(self) -> Path:
        """The built sdist and wheel: the release's artifacts, the only folder kept when it ends."""
        return self.path / "dist"

    @property
    def dist_partial(self) -> Path:
        """Where the build writes before its files move into dist/ at once."""
        return self.path / "dist.partial"

    @property
    def build_requirements_file(self) -> Path:
        """The build's pins, written before its files move into place, so a build found finished has them too."""
        return self.path / "build-requirements.txt"

    @property
    def tree_wheel_dir(self) -> Path:
        """The wheel the build makes straight from the tree, beside the release's own build."""
        return self.path / "tree-wheel"

    def new_checkout(self) -> Path:
        """A fresh folder for a build checkout; uniquely named, since inspect makes two side by side."""
        self.path.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=CHECKOUT_PREFIX, dir=self.path))

    def checkouts(self) -> list[Path]:
        """The build checkouts in the folder (a killed run's, when no step of this run holds one)."""
        return sorted(self.path.glob(f"{CHECKOUT_PREFIX}*"))

    @staticmethod
    def is_checkout(path: Path) -> bool:
        return path.name.startswith(CHECKOUT_PREFIX)

    def wheel_tests(self, step: str) -> Path:
        """Where a step testing the wheel makes its fresh virtualenvs (one per [test] python) and test folder."""
        return self.path / step

    @property
    def dependency_lock(self) -> Path:
        """audit-deps: the PEP 751 lock of the environment smoke tested the wheel in, kept when the release ends
        (its sha256 is in the tag's manifest), beside dist/ so that its `path` to the wheel reads `dist/…`."""
        return self.path / "pylock.toml"

    @property
    def audit_scratch(self) -> Path:
        """audit-deps: pip-audit's input, report and HTTP cache."""
        return self.path / "audit-deps"

    @property
    def staged_downloads(self) -> Path:
        """verify-stage: the files downloaded back from the staging index."""
        return self.path / "verify-stage" / "downloads"

    @property
    def previous_release(self) -> Path:
        """inspect: the previous release's files downloaded from the production index, for the release diff."""
        return self.path / "previous-release"

    @property
    def published_downloads(self) -> Path:
        """watch: the files downloaded from the production index."""
        return self.path / "watch"

    @property
    def publish_rehearsal(self) -> Path:
        """push, in a rehearsal: where the publish workflow's preparing job runs."""
        return self.path / "publish-rehearsal"

    def scratch(self) -> list[Path]:
        """What the steps made besides the artifacts and the lock of the tested environment (virtualenvs,
        downloads, build checkouts): tens of megabytes that nothing needs once the release has ended."""
        if not self.path.is_dir():
            return []
        return sorted(path for path in self.path.iterdir() if path not in (self.dist, self.dependency_lock))
