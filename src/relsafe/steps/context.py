"""What a step sees: the targets it may act on and the release it belongs to.

A rehearsal is the same steps with other targets (a sandbox clone, a
throwaway remote, the embedded index), so steps reach the world only
through this object.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from relsafe.journal.paths import ReleaseFolder
from relsafe.journal.records import Release
from relsafe.journal.runlog import RunLog
from relsafe.model.config import Config
from relsafe.model.project import Project
from relsafe.tools.git import Git

if TYPE_CHECKING:
    from relsafe.tools.index.credentials import Credentials


@dataclass(frozen=True)
class StagingTarget:
    """Where stage uploads and verify-stage reads back.

    Credentials are given only for the embedded index of a rehearsal; for a
    real staging index they are resolved when needed, the way twine would,
    and never stored.
    """

    repository_url: str
    index_url: str
    credentials: Credentials | None = None


@dataclass
class Context:
    git: Git
    project: Project
    config: Config
    folder: ReleaseFolder
    """The release's own folder under the journal: its artifacts, the steps' working files."""
    release: Release
    log: RunLog
    remote: str
    staging: StagingTarget
    production_index_url: str
    rehearsal: bool = False
    confirmed_gates: frozenset[str] = frozenset()
    confirm_all: bool = False
    ask: Callable[[str], bool] | None = None
    note: Callable[[str], None] = field(default=lambda _text: None)
    show: Callable[[list[str]], None] = field(default=lambda _lines: None)
    """Show a block of lines to the person running the release (the release diff, before a gate's questions)."""
    real_git: Git | None = None
    record_progress: Callable[[dict[str, Any]], None] = field(default=lambda _outputs: None)
    """Record the running step's outputs so far, in the journal at once, so that a crash resumes from them
    (stage: each file the index confirmed). The engine sets it for each step it runs; the journal itself is
    the engine's, never a step's."""

    @property
    def pretend_version(self) -> str | None:
        """The version to hand an SCM-versioned build, whose tag does not exist yet; None otherwise."""
        return self.release.version if self.project.version_source == "scm" else None

    @property
    def bump_commit(self) -> str:
        return self.release.bump_commit or self.release.base_commit
