"""`relsafe init`: write release.toml and the publish workflow, and say what to register on PyPI and GitHub."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

from relsafe.app.repository import Repository
from relsafe.core.errors import RelsafeError, UsageError
from relsafe.model.project import Project
from relsafe.model.project_lock import LOCK_FILES
from relsafe.model.publish_workflow import (
    InitWrite,
    PublisherSetup,
    index_site,
    plan_init,
    write_init,
)
from relsafe.security.workflow.model import Workflow
from relsafe.security.workflow.ownership import (
    WORKFLOWS_DIR,
    PublishPath,
    drift,
    publish_path,
    second_paths,
    workflow_files,
)
from relsafe.tools.index.simple_api import released_versions


@dataclass(frozen=True)
class Initialised:
    """What `relsafe init` did, and what the maintainer must know about the publish path."""

    done: InitWrite
    setup: PublisherSetup | None
    """What to register on PyPI and protect on GitHub; None for `--update`, which only rewrites the workflow."""
    workflow: str
    """The workflow PyPI trusts, as a repository path."""
    audit_only: bool = False
    """[publish] workflow-check = "audit-only": the project's own workflow was left as it is, unproven."""
    drift: str | None = None
    """Why the workflow kept in place is not relsafe's rendering (a release refuses it)."""
    others: tuple[str, ...] = ()
    """The other workflows that can publish to PyPI: a release refuses each, and init changes none."""


def initialise(path: Path, *, force: bool, update: bool = False) -> Initialised:
    """`relsafe init`: write release.toml and relsafe's publish workflow for this repository's GitHub remote.

    The workflow goes to [publish] workflow, else to relsafe's own file
    (.github/workflows/relsafe-publish.yml): init never writes over another
    workflow, nor deletes one; every other workflow that can publish to PyPI
    is named, since a release refuses each. `update` rewrites relsafe's
    workflow from the current configuration (what a release requires);
    `force` replaces both files. With [publish] workflow-check =
    "audit-only" the project keeps its own workflow and init writes none.
    """
    repo = Repository.open(path, keep_log=False)
    config, git = repo.config, repo.git
    audit_only = config.publish_workflow_check == "audit-only"
    if update:
        return _update(repo)
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
    settings.update(_version_and_lock(repo, project))
    if not (repo.project_root / "tests").is_dir():
        found = [name for name in ("test", "testing") if (repo.project_root / name).is_dir()]
        if found:
            settings.setdefault("test", {})["paths"] = found
    trusted = publish_path(git.root, config, project.name, project.tag_format)
    if trusted.workflow is None:
        raise UsageError(
            '[publish] workflow-check = "audit-only", but no workflow publishes to PyPI and [publish] workflow '
            "names none",
            hint='name the project\'s publish workflow in [publish] workflow, or remove workflow-check = "audit-only"',
        )
    workflow = trusted.workflow
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
        with_config=config.source != "pyproject.toml",
        staging_index_url=config.staging_index_url if "stage" in config.steps else None,
        trigger=config.publish_trigger,
        with_workflow=not audit_only,
    )
    workflow_path = PurePosixPath(workflow)
    done = write_init(
        git.root,
        plan,
        overwrite=force,
        same=lambda relative, found, text: relative == workflow_path and drift(found, text, workflow) is None,
    )
    differs = None
    if not audit_only and any(kept == git.root / workflow for kept in done.kept):
        kept_drift = drift((git.root / workflow).read_text(encoding="utf-8"), plan.files[workflow_path], workflow)
        differs = kept_drift.reason if kept_drift else None
    others = tuple(_second_paths(git.root, trusted))
    setup = replace(plan.setup, other_publishers=others)
    return Initialised(done, setup, workflow, audit_only, differs, others)


def _update(repo: Repository) -> Initialised:
    """`relsafe init --update`: relsafe's workflow rewritten for the current configuration, nothing else
    written, and no remote or index asked (the publisher on PyPI stays as it was registered)."""
    config, root = repo.config, repo.git.root
    if config.publish_workflow_check == "audit-only":
        raise UsageError(
            '[publish] workflow-check = "audit-only": the publish workflow is the project\'s own, and relsafe '
            "does not rewrite it",
            hint='remove workflow-check (or set it to "exact") to let relsafe own the publish workflow',
        )
    project = repo.project()
    trusted = publish_path(root, config, project.name, project.tag_format)
    assert trusted.workflow is not None and trusted.rendered is not None
    target = root / trusted.workflow
    written: list[Path] = []
    if not target.is_file() or drift(target.read_text(encoding="utf-8"), trusted.rendered, trusted.workflow):
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(trusted.rendered, encoding="utf-8")
        written.append(target)
    others = tuple(_second_paths(root, trusted))
    return Initialised(InitWrite(written, []), None, trusted.workflow, others=others)


SCANNED_VERSION_FILES = ("pyproject.toml", "setup.cfg", "setup.py", "__init__.py")
"""Where every relsafe finds a version by itself: a version file elsewhere is written into [version] files."""


def _version_and_lock(repo: Repository, project: Project) -> dict[str, dict[str, object]]:
    """[version] files when the version lives in a module only the backend's configuration names (requests'
    `__version__.py`), and [test] lock when the project has a lock file: what init writes beside the defaults."""
    settings: dict[str, dict[str, object]] = {}
    files = project.version_files
    if project.version_source == "files" and any(PurePosixPath(f).name not in SCANNED_VERSION_FILES for f in files):
        settings["version"] = {"files": list(files)}
    lock = next((name for name in LOCK_FILES if (project.root / name).is_file()), None)
    if lock is not None and not repo.config.test_lock:
        settings["test"] = {"lock": lock}
    return settings


def _second_paths(root: Path, trusted: PublishPath) -> list[str]:
    """The workflows besides the trusted one that can publish to PyPI, as repository paths."""
    folder = root / WORKFLOWS_DIR
    found = []
    for file in workflow_files(folder) if folder.is_dir() else []:
        shown = file.relative_to(root).as_posix()
        try:
            if shown != trusted.workflow and second_paths(Workflow.load(file), trusted):
                found.append(shown)
        except UsageError:
            continue  # not a readable workflow: the audit says so
    return found


def _known_on_production(index_url: str, project: str) -> bool | None:
    """Whether the production index has files of the project (its publisher is then added in its
    own settings, not as a pending one); None when the index cannot say."""
    try:
        return bool(released_versions(index_url, project))
    except RelsafeError:
        return None
