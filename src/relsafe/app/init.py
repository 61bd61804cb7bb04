"""`relsafe init`: write release.toml and the publish workflow, and say what to register on PyPI and GitHub."""

from __future__ import annotations

from pathlib import Path

from relsafe.app.repository import Repository
from relsafe.core.errors import RelsafeError, UsageError
from relsafe.model.publish_workflow import (
    DEFAULT_WORKFLOW,
    InitWrite,
    PublisherSetup,
    index_site,
    plan_init,
    write_init,
)
from relsafe.security.workflow.audit import publishing_workflows
from relsafe.tools.index.simple_api import released_versions


def initialise(path: Path, *, force: bool) -> tuple[InitWrite, PublisherSetup]:
    """`relsafe init`: write release.toml and the publish workflow for this repository's GitHub remote.

    The workflow goes where the project already publishes from, as PyPI's
    publisher may name that file, else to the default publish.yml; any other
    workflow that uploads is named, since each is a way around the checks.
    """
    repo = Repository.open(path, keep_log=False)
    config, git = repo.config, repo.git
    remote_url = git.remote_url(config.remote)
    if remote_url is None:
        raise UsageError(
            f"git remote {config.remote!r} does not exist; init needs the GitHub remote to name the publisher",
            hint="add it with `git remote add origin git@github.com:OWNER/REPO.git`",
        )
    project = repo.project()
    settings: dict[str, dict[str, object]] = {}
    branch = git.branch()
    if branch is not None and branch != config.branch:
        settings["release"] = {"branch": branch}
    if not (repo.project_root / "tests").is_dir():
        found = [name for name in ("test", "testing") if (repo.project_root / name).is_dir()]
        if found:
            settings["test"] = {"paths": found}
    publishing = publishing_workflows(git.root)
    workflow = config.publish_workflow or (publishing[0] if len(publishing) == 1 else DEFAULT_WORKFLOW)
    plan = plan_init(
        project=project.name,
        remote_url=remote_url,
        tag_format=project.tag_format,
        environment=config.publish_environment,
        workflow=workflow,
        settings=settings,
        project_dir=repo.subdir,
        index_site=index_site(config.production_index_url),
        known=_known_on_production(config.production_index_url, project.name),
        other_publishers=[found for found in publishing if found != workflow],
        with_config=config.source != "pyproject.toml",
        staging_index_url=config.staging_index_url if "stage" in config.steps else None,
    )
    return write_init(git.root, plan, overwrite=force), plan.setup


def _known_on_production(index_url: str, project: str) -> bool | None:
    """Whether the production index has files of the project (its publisher is then added in its
    own settings, not as a pending one); None when the index cannot say."""
    try:
        return bool(released_versions(index_url, project))
    except RelsafeError:
        return None
