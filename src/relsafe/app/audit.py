"""`relsafe audit`: audit GitHub workflows with the repository's own publish settings when run inside one."""

from __future__ import annotations

from pathlib import Path

from relsafe.app.repository import Repository
from relsafe.core.errors import UsageError as NotARepository
from relsafe.journal.runlog import RunLog
from relsafe.model.config import Config
from relsafe.model.tag_convention import DEFAULT_FORMAT
from relsafe.security.workflow.audit import audit_workflows
from relsafe.security.workflow.report import AuditReport


def audit_paths(path: Path, paths: list[Path]) -> AuditReport:
    """`relsafe audit`: the repository's configured environment and tag format when run inside one."""
    try:
        repo = Repository.open(path, keep_log=False)
    except NotARepository:
        config, root = Config(), path
    else:
        config, root = repo.config, repo.git.root
    targets = paths or [root / ".github" / "workflows"]
    return audit_workflows(
        targets,
        environment=config.publish_environment,
        tag_format=config.tag_format or DEFAULT_FORMAT,
        log=RunLog(None),
    )
