"""`relsafe init`: write release.toml and the publish workflow, and say what to register on PyPI and GitHub."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

import tomlkit

from relsafe.app.repository import Repository
from relsafe.core.errors import RelsafeError, UsageError
from relsafe.model.config import read_toml
from relsafe.model.project import Project
from relsafe.model.project_lock import LOCK_FILES
from relsafe.model.publish_workflow import (
    FOREIGN_WORKFLOW_HINT,
    InitWrite,
    PublisherSetup,
    index_site,
    plan_init,
    write_init,
    written_by_relsafe,
)
from relsafe.security.workflow.model import Workflow, targets_pypi
from relsafe.security.workflow.ownership import (
    WORKFLOWS_DIR,
    PublishPath,
    drift,
    publish_path,
    second_paths,
    workflow_files,
)
from relsafe.tools.index.simple_api import released_versions
from relsafe.wheeltest.declared import declared_tests


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
    foreign: bool = False
    """The workflow kept in place is not one relsafe wrote: init and `init --update` never rewrite it."""
    read: tuple[str, ...] = ()
    """What init read from the project's own files for the configuration, and where."""


def initialise(path: Path, *, update: bool = False) -> Initialised:
    """`relsafe init`: write release.toml and relsafe's publish workflow, replacing neither.

    The workflow goes to [publish] workflow, else to relsafe's own file
    (.github/workflows/relsafe-publish.yml): init never writes over another
    workflow, nor deletes one; every other workflow that can publish to PyPI
    is named, since a release refuses each. An existing configuration gets
    only the settings it lacks. What the project already declares (its test
    extras, groups, paths and command; the environment its publishing
    workflow uses) is read and said. `update` rewrites relsafe's workflow
    from the current configuration (what a release requires). With [publish]
    workflow-check = "audit-only" the project keeps its own workflow and init
    writes none. A remote not on github.com leaves the publisher's owner and
    repository to fill in.
    """
    repo = Repository.open(path, keep_log=False)
    config, git = repo.config, repo.git
    audit_only = config.publish_workflow_check == "audit-only"
    if update:
        return _update(repo)
    project = repo.project()
    configured = _configured(repo)
    settings: dict[str, dict[str, object]] = {}
    notes: dict[tuple[str, str], str] = {}
    read: list[str] = []
    branch = git.branch()
    if branch is not None and branch != config.branch:
        settings["release"] = {"branch": branch}
    declared = declared_tests(repo.project_root)
    for key, value in declared.settings.items():
        settings.setdefault("test", {})[key] = value
        notes[("test", key)] = f"read from {declared.sources[key]}"
        if key not in configured.get("test", {}):
            read.append(f"[test] {key} = {_shown(value)}: read from {declared.sources[key]}")
    for table, values in _version_and_lock(repo, project).items():
        for key, value in values.items():
            settings.setdefault(table, {})[key] = value
            source = "where the build backend reads the version" if table == "version" else "the lock file found"
            notes[(table, key)] = source
            if key not in configured.get(table, {}):
                read.append(f"[{table}] {key} = {_shown(value)}: {source}")
    if "paths" not in settings.get("test", {}) and not (repo.project_root / "tests").is_dir():
        folders = [name for name in ("test", "testing") if (repo.project_root / name).is_dir()]
        if folders:
            settings.setdefault("test", {})["paths"] = folders
    trusted = publish_path(git.root, config, project.name, project.tag_format)
    if trusted.workflow is None:
        raise UsageError(
            '[publish] workflow-check = "audit-only", but no workflow publishes to PyPI and [publish] workflow '
            "names none",
            hint='name the project\'s publish workflow in [publish] workflow, or remove workflow-check = "audit-only"',
        )
    workflow = trusted.workflow
    environment = config.publish_environment
    if "environment" not in configured.get("publish", {}):
        found = _publishing_environment(git.root, workflow if audit_only else None)
        if found is not None:
            environment, where = found
            notes[("publish", "environment")] = f"the environment {where} uses"
            if environment != config.publish_environment:
                read.append(f"[publish] environment = {_shown(environment)}: the environment {where} uses")
    plan = plan_init(
        project=project.name,
        remote_url=git.remote_url(config.remote),
        remote=config.remote,
        tag_format=project.tag_format,
        environment=environment,
        workflow=workflow,
        settings=settings,
        notes=notes,
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
        same=lambda relative, found, text: relative == workflow_path and drift(found, text, workflow) is None,
    )
    differs, foreign = None, False
    if not audit_only and any(kept == git.root / workflow for kept in done.kept):
        committed = (git.root / workflow).read_text(encoding="utf-8")
        kept_drift = drift(committed, plan.files[workflow_path], workflow)
        differs = kept_drift.reason if kept_drift else None
        foreign = not written_by_relsafe(committed)
    others = tuple(_second_paths(git.root, trusted))
    setup = replace(plan.setup, other_publishers=others)
    return Initialised(done, setup, workflow, audit_only, differs, others, foreign, tuple(read))


def _update(repo: Repository) -> Initialised:
    """`relsafe init --update`: relsafe's workflow rewritten for the current configuration, nothing else
    written, and no remote or index asked (the publisher on PyPI stays as it was registered). A file at the
    workflow's path that relsafe did not write is refused, before anything is written."""
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
    committed = target.read_text(encoding="utf-8") if target.is_file() else None
    if committed is not None and not written_by_relsafe(committed):
        raise UsageError(
            f"{trusted.workflow} is the project's own workflow, not one relsafe wrote; relsafe never rewrites it",
            hint=FOREIGN_WORKFLOW_HINT,
        )
    if committed is None or drift(committed, trusted.rendered, trusted.workflow):
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


def _configured(repo: Repository) -> dict[str, dict[str, object]]:
    """The tables the maintainer's configuration sets, as written (not the defaults filled in)."""
    if repo.config.source == "release.toml":
        raw = read_toml(repo.project_root / "release.toml")
    elif repo.config.source == "pyproject.toml":
        raw = read_toml(repo.project_root / "pyproject.toml")["tool"]["relsafe"]
    else:
        return {}
    return {name: table for name, table in raw.items() if isinstance(table, dict)}


def _publishing_environment(root: Path, only: str | None) -> tuple[str, str] | None:
    """The GitHub environment of the jobs that upload to PyPI, when they all use one (its name, and which
    job of which workflow): protected already, it is the one to keep. `only` limits it to that workflow."""
    found: dict[str, str] = {}
    folder = root / WORKFLOWS_DIR
    files = [root / only] if only else workflow_files(folder) if folder.is_dir() else []
    for file in files:
        shown = file.relative_to(root).as_posix()
        try:
            workflow = Workflow.load(file)
        except UsageError:
            continue  # not a readable workflow: the audit says so
        for job_id in sorted(workflow.publish_jobs):
            job = workflow.jobs[job_id]
            value = job.get("environment")
            name = value.get("name") if isinstance(value, dict) else value
            if isinstance(name, str) and targets_pypi(job) and "${{" not in name:
                found.setdefault(name, f"job `{job_id}` of {shown}")
    if len(found) != 1:
        return None
    return next(iter(found.items()))


def _shown(value: object) -> str:
    return tomlkit.item(value).as_string()


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
