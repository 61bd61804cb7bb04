"""`relsafe audit`: audit GitHub workflows with the repository's own publish settings when run inside one."""

from __future__ import annotations

from pathlib import Path

from relsafe.app.repository import Repository
from relsafe.core.errors import RelsafeError
from relsafe.core.errors import UsageError as NotARepository
from relsafe.journal.runlog import RunLog
from relsafe.model.config import Config
from relsafe.model.publish_workflow import DEFAULT_WORKFLOW
from relsafe.model.tag_convention import DEFAULT_FORMAT
from relsafe.security.workflow.audit import audit_workflows
from relsafe.security.workflow.ownership import PublishPath, publish_path
from relsafe.security.workflow.report import AuditReport


def audit_paths(path: Path, paths: list[Path]) -> AuditReport:
    """`relsafe audit`: the repository's configured environment and tag format when run inside one.

    In a repository that relsafe releases (a release.toml or [tool.relsafe], or
    relsafe's own workflow file), the audit also checks who owns the publish
    path: the trusted workflow as it is in the working tree must be relsafe's
    rendering for the configuration (unless workflow-check = "audit-only"),
    and no other workflow may publish to PyPI.
    """
    owner: PublishPath | None = None
    try:
        repo = Repository.open(path, keep_log=False)
    except NotARepository:
        config, root, tag_format = Config(), path, DEFAULT_FORMAT
    else:
        config, root = repo.config, repo.git.root
        tag_format = config.tag_format or DEFAULT_FORMAT
        found = _publish_path(repo)
        if found is not None:
            owner, tag_format = found
    targets = paths or [root / ".github" / "workflows"]
    return audit_workflows(
        targets,
        environment=config.configured_environment,
        tag_format=tag_format,
        log=RunLog(None),
        publish_path=owner,
        root=root,
    )


def _publish_path(repo: Repository) -> tuple[PublishPath, str] | None:
    """The publish path relsafe owns here, and the project's tag format; None where relsafe is not set up (a
    project merely audited) or the project cannot be read (a release's preflight says why)."""
    config, root = repo.config, repo.git.root
    if config.source == "defaults" and not (root / DEFAULT_WORKFLOW).is_file():
        return None
    try:
        project = repo.project()
        return publish_path(root, config, project.name, project.tag_format), project.tag_format
    except RelsafeError:
        return None
