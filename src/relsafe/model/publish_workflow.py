"""Trusted Publishing set-up: what `relsafe init` writes and what it tells the maintainer to click.

relsafe never uploads to PyPI itself; the tag it pushes starts a GitHub workflow
that PyPI trusts through OIDC. This module renders that workflow and release.toml
from the packaged templates, and describes the PyPI pending publisher and the
GitHub protections as data for the CLI to show.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path, PurePosixPath
from string import Template
from typing import Any
from urllib.parse import urlsplit

import tomlkit
from packaging.utils import canonicalize_name

from relsafe.core.errors import ConfigError, UsageError
from relsafe.core.redaction import DEFAULT_REDACTOR
from relsafe.model.config_merge import merge_settings

DEFAULT_WORKFLOW = ".github/workflows/relsafe-publish.yml"
"""Where `relsafe init` writes relsafe's workflow unless [publish] workflow names another file: a name of its own,
so that it never takes the place of a workflow the project wrote."""
WRITTEN_BY = "Written by `relsafe init`"
"""The mark of relsafe's workflow in its opening comment: init and `init --update` rewrite no file without it."""
FOREIGN_WORKFLOW_HINT = (
    "point [publish] workflow at a file of relsafe's own (unset, .github/workflows/relsafe-publish.yml) and run "
    '`relsafe init`, or keep yours with [publish] workflow-check = "audit-only"'
)
DEFAULT_ENVIRONMENT = "pypi"
DEFAULT_TAG_FORMAT = "v{version}"
PYPI_SITE = "https://pypi.org"
RELEASE_TRIGGER = "\non:\n  release:\n    types: [published]\n"
"""What starts relsafe's workflow with [publish] trigger = "release": publishing the GitHub Release of the tag."""

_OWNER = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_REPO = r"[A-Za-z0-9._-]+?"
_REMOTE_FORMS = (
    # https://github.com/owner/repo(.git), optionally with user info
    re.compile(rf"^https?://(?:[^@/]+@)?github\.com/(?P<owner>{_OWNER})/(?P<repo>{_REPO})(?:\.git)?/?$"),
    # git@github.com:owner/repo.git
    re.compile(rf"^(?:[\w.-]+@)?github\.com:(?P<owner>{_OWNER})/(?P<repo>{_REPO})(?:\.git)?/?$"),
    # ssh://git@github.com(:22)/owner/repo.git and git://github.com/owner/repo.git
    re.compile(rf"^(?:ssh|git)://(?:[\w.-]+@)?github\.com(?::\d+)?/(?P<owner>{_OWNER})/(?P<repo>{_REPO})(?:\.git)?/?$"),
)
# PyPI project names (PEP 508) and GitHub environment names as relsafe accepts them.
_PROJECT_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$")
_ENVIRONMENT_NAME = re.compile(r"^[A-Za-z0-9._-]+$")
# Characters with a meaning in GitHub's filter patterns, escaped in the literal part of a tag format.
_GLOB_SPECIAL = re.compile(r"([*?+\[\]!\\])")
_TABLE_HEADER = re.compile(r"^(?P<commented>#\s*)?\[\[?(?P<table>[a-z-]+)\]\]?\s*(?:#.*)?$")
# A commented default in release.toml: "# key = value   # note".
_COMMENTED_KEY = re.compile(r"^# (?P<key>[a-z][a-z0-9-]*) = (?P<value>.*?)(?P<note>\s+#.*)?$")


@dataclass(frozen=True)
class GitHubRepository:
    owner: str
    name: str

    @property
    def slug(self) -> str:
        return f"{self.owner}/{self.name}"

    @property
    def url(self) -> str:
        return f"https://github.com/{self.slug}"


@dataclass(frozen=True)
class PublisherSetup:
    """The values a maintainer enters on PyPI and GitHub so that only the release tag can publish.

    PyPI matches a publisher on owner, repository, workflow file name and
    environment; a mismatch in any of them makes the upload fail at release time.
    """

    project: str
    repository: GitHubRepository
    workflow_file: str  # the file name only: that is what PyPI matches
    environment: str
    tag_pattern: str
    index_site: str = PYPI_SITE  # where the production index is managed
    # Does the production index already know the project? None when it could not be asked.
    known: bool | None = False
    other_publishers: tuple[str, ...] = ()  # workflows beside workflow_file that upload too
    underived: str | None = None
    """Why owner and repository are placeholders (the remote is not on github.com); None when derived."""

    @property
    def pypi_url(self) -> str:
        """Where the publisher is added: a new project's is pending, on the account; an existing one's is
        a trusted publisher in the project's own settings."""
        if self.known:
            return self.project_publishing_url
        return f"{self.index_site}/manage/account/publishing/"

    @property
    def project_publishing_url(self) -> str:
        return f"{self.index_site}/manage/project/{canonicalize_name(self.project)}/settings/publishing/"

    @property
    def pypi_fields(self) -> tuple[tuple[str, str], ...]:
        """PyPI's publisher form, label and value, in the form's order (the project name only when pending)."""
        project = () if self.known else (("PyPI Project Name", self.project),)
        return (
            *project,
            ("Owner", self.repository.owner),
            ("Repository name", self.repository.name),
            ("Workflow name", self.workflow_file),
            ("Environment name", self.environment),
        )

    @property
    def github_environment_url(self) -> str:
        return f"{self.repository.url}/settings/environments"

    @property
    def github_rulesets_url(self) -> str:
        return f"{self.repository.url}/settings/rules"

    @property
    def github_steps(self) -> tuple[str, ...]:
        """What to protect on GitHub, one instruction per item."""
        return (
            f"Create the environment '{self.environment}' ({self.github_environment_url}): add "
            "required reviewers (yourself and a co-maintainer), enable 'Prevent self-review' "
            "when there are two or more of you, and limit 'Deployment branches and tags' to "
            f"tags matching '{self.tag_pattern}'.",
            f"Add a tag ruleset ({self.github_rulesets_url}) targeting '{self.tag_pattern}': "
            "restrict creations, updates and deletions, with only the maintainers who release "
            "in the bypass list, so a release tag can neither be made by others nor moved.",
            f"Protect the release branch so the commit a tag points at was reviewed, and keep "
            f"{self.repository.url}/settings/actions at 'Read repository contents' for the "
            "default workflow token.",
        )


@dataclass(frozen=True)
class InitWrite:
    """What `relsafe init` did with each file: written, kept because it differs (the maintainer's), or, for
    an existing configuration, the settings added to it."""

    written: list[Path]
    kept: list[Path]
    added: dict[Path, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class InitPlan:
    """What `relsafe init` writes (paths relative to the repository root) and what it tells."""

    files: dict[PurePosixPath, str]
    setup: PublisherSetup
    settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    """release.toml's settings, for merging into an existing configuration."""
    config: PurePosixPath | None = None
    """Where the configuration is (release.toml, or pyproject.toml with [tool.relsafe])."""
    notes: dict[tuple[str, str], str] = field(default_factory=dict)
    """Where a setting's value was read, as a comment beside a key merged into an existing configuration."""


def index_site(index_url: str) -> str:
    """The site that manages a simple index (`https://pypi.org` for `https://pypi.org/simple/`),
    where its publishers are set up."""
    parts = urlsplit(index_url)
    return f"{parts.scheme}://{parts.netloc}"


def github_repository(url: str) -> GitHubRepository | None:
    """Owner and repository from a GitHub remote URL in its https, scp-like or ssh:// form; None for another
    host or a path on disk."""
    text = url.strip()
    for form in _REMOTE_FORMS:
        match = form.match(text)
        if match:
            return GitHubRepository(match["owner"], match["repo"])
    return None


def parse_github_remote(url: str) -> GitHubRepository:
    """Owner and repository from a GitHub remote URL; a UsageError for any other."""
    found = github_repository(url)
    if found is not None:
        return found
    raise UsageError(
        f"not a GitHub repository URL: {DEFAULT_REDACTOR(url.strip())}",
        hint="Trusted Publishing from relsafe's workflow needs a remote on github.com, "
        "e.g. https://github.com/OWNER/REPO.git or git@github.com:OWNER/REPO.git",
    )


def tag_pattern(tag_format: str) -> str:
    """The GitHub tag filter matching every tag the format makes: "v{version}" -> "v*"."""
    _check_tag_format(tag_format)
    prefix, _, suffix = tag_format.partition("{version}")
    return _GLOB_SPECIAL.sub(r"\\\1", prefix) + "*" + _GLOB_SPECIAL.sub(r"\\\1", suffix)


def render_publish_workflow(
    *,
    project: str,
    tag_format: str = DEFAULT_TAG_FORMAT,
    environment: str = DEFAULT_ENVIRONMENT,
    staging_index_url: str | None = None,
    trigger: str = "tag",
) -> str:
    """The publish workflow for this project.

    With a staging index (templates/publish.yml) it promotes the staged files
    the tag's manifest names and builds nothing; without one
    (templates/publish-rebuild.yml) one job rebuilds the tagged commit with the
    manifest's hashed build requirements, and another, which runs nothing of
    the project, hands on its files only if they are the ones the manifest
    names. Both check with templates/promote.py. With trigger
    "release" publishing a GitHub Release for the tag starts it instead of the tag push ([publish] trigger).
    """
    _check_project(project)
    _check_environment(environment)
    values = {
        "project": project,
        "environment": environment,
        "tag_pattern": tag_pattern(tag_format).replace("'", "''"),  # the pattern sits in single quotes
    }
    script = "\n".join(f"          {line}" if line else "" for line in _template("promote.py").splitlines())
    if staging_index_url is None:
        text = Template(_template("publish-rebuild.yml")).substitute(values, promote_script=script)
    else:
        text = Template(_template("publish.yml")).substitute(
            values, staging_index_url=staging_index_url.replace("'", "''"), promote_script=script
        )
    if trigger == "release":
        on_tag = f"\non:\n  push:\n    tags:\n      - '{values['tag_pattern']}'\n"
        if text.count(on_tag) != 1:
            raise ValueError("the workflow template has no tag trigger to replace")
        text = text.replace(on_tag, RELEASE_TRIGGER).replace(
            "when a release tag is pushed.", "when the GitHub Release of a release tag is published.", 1
        )
    return text


def template_defaults() -> dict[tuple[str, str], Any]:
    """Each (table, key) release.toml's template shows, with the default its commented line gives."""
    defaults: dict[tuple[str, str], Any] = {}
    table = ""
    for line in _template("release.toml").splitlines():
        header = _TABLE_HEADER.match(line)
        if header:
            table = "" if header["commented"] else header["table"]
        commented = _COMMENTED_KEY.match(line)
        if commented and table:
            defaults[(table, commented["key"])] = tomlkit.parse(f"x = {commented['value']}").unwrap()["x"]
    return defaults


def render_release_toml(settings: Mapping[str, Mapping[str, Any]] | None = None) -> str:
    """release.toml from its commented template, with only non-default values uncommented.

    settings maps table -> key -> value, e.g. {"release": {"branch": "master"}}.
    A key the template does not list is a programming error (ValueError).
    """
    pending = {(table, key): value for table, keys in (settings or {}).items() for key, value in keys.items()}
    lines: list[str] = []
    table = ""
    for line in _template("release.toml").splitlines():
        header = _TABLE_HEADER.match(line)
        if header:
            table = "" if header["commented"] else header["table"]  # a commented [[gate]] takes no settings
        commented = _COMMENTED_KEY.match(line)
        if commented and (table, commented["key"]) in pending:
            value = pending.pop((table, commented["key"]))
            default = tomlkit.parse(f"x = {commented['value']}").unwrap()["x"]
            if value != default:
                line = f"{commented['key']} = {tomlkit.item(value).as_string()}{commented['note'] or ''}"
        lines.append(line)
    if pending:
        unknown = ", ".join(f"{table}.{key}" for table, key in pending)
        raise ValueError(f"release.toml has no setting {unknown}")
    return "\n".join(lines) + "\n"


def plan_init(
    *,
    project: str,
    remote_url: str | None,
    remote: str = "origin",
    tag_format: str = DEFAULT_TAG_FORMAT,
    environment: str = DEFAULT_ENVIRONMENT,
    workflow: str = DEFAULT_WORKFLOW,
    settings: Mapping[str, Mapping[str, Any]] | None = None,
    notes: Mapping[tuple[str, str], str] | None = None,
    project_dir: str = "",
    index_site: str = PYPI_SITE,
    known: bool | None = False,
    other_publishers: Sequence[str] = (),
    with_config: bool = True,
    staging_index_url: str | None = None,
    trigger: str = "tag",
    with_workflow: bool = True,
) -> InitPlan:
    """Everything `relsafe init` writes and shows, computed without touching the disk.

    The tag format, environment and workflow path are written into release.toml
    when they differ from the defaults, so preflight later checks the same file.
    release.toml goes in `project_dir` (a monorepo's package folder); the
    workflow stays at the repository's root, where GitHub reads it. Without
    `with_workflow` (a project that keeps its own) only release.toml is written;
    without `with_config` ([tool.relsafe] configures relsafe) settings are only
    merged into pyproject.toml. A remote that is not on github.com (or none)
    leaves the publisher's owner and repository as placeholders, and says why.
    """
    repository = github_repository(remote_url) if remote_url is not None else None
    underived = None
    if repository is None:
        where = (
            f"the remote {remote!r} does not exist"
            if remote_url is None
            else f"the remote {remote!r} ({DEFAULT_REDACTOR(remote_url.strip())}) is not on github.com"
        )
        underived = (
            f"{where}: PyPI's Trusted Publisher names the GitHub owner and repository whose workflow uploads, so "
            "OWNER and REPO below are placeholders; push the repository to GitHub and run `relsafe init` again "
            "to see them filled in"
        )
        repository = GitHubRepository("OWNER", "REPO")
    workflow_path = PurePosixPath(workflow)
    if workflow_path.is_absolute() or ".." in workflow_path.parts or workflow_path.suffix not in {".yml", ".yaml"}:
        raise UsageError(f"publish workflow must be a .yml file inside the repository: {workflow}")
    merged: dict[str, dict[str, Any]] = {table: dict(keys) for table, keys in (settings or {}).items()}
    merged.setdefault("release", {})["tag-format"] = tag_format
    merged.setdefault("publish", {}).update({"workflow": workflow, "environment": environment})
    files: dict[PurePosixPath, str] = {}
    if with_workflow:
        files[workflow_path] = render_publish_workflow(
            project=project,
            tag_format=tag_format,
            environment=environment,
            staging_index_url=staging_index_url,
            trigger=trigger,
        )
    config = PurePosixPath(project_dir) / ("release.toml" if with_config else "pyproject.toml")
    if with_config:  # not when pyproject.toml's [tool.relsafe] configures relsafe: only one of them may
        files[config] = render_release_toml(merged)
    setup = PublisherSetup(
        project=project,
        repository=repository,
        workflow_file=workflow_path.name,
        environment=environment,
        tag_pattern=tag_pattern(tag_format),
        index_site=index_site,
        known=known,
        other_publishers=tuple(other_publishers),
        underived=underived,
    )
    return InitPlan(files=files, setup=setup, settings=merged, config=config, notes=dict(notes or {}))


def write_init(
    root: Path,
    plan: InitPlan,
    *,
    same: Callable[[PurePosixPath, str, str], bool] | None = None,
) -> InitWrite:
    """Write the plan's files under root, replacing none.

    A file that already holds the same text (or, as `same` judges, an
    equivalent one) is left alone; a workflow that differs is kept as it is,
    because it may hold the maintainer's edits or be theirs. An existing
    configuration gets only the settings it lacks, its own comments and values
    kept. Each file is decided alone: an edited release.toml does not stop the
    workflow from being written.
    """
    written: list[Path] = []
    kept: list[Path] = []
    added: dict[Path, list[str]] = {}
    config = root / Path(*plan.config.parts) if plan.config is not None else None
    if config is not None and config.name == "pyproject.toml" and config.is_file():
        text, lines = merge_settings(
            config.read_text(encoding="utf-8"),
            plan.settings,
            template_defaults(),
            under=("tool", "relsafe"),
            name="pyproject.toml",
            notes=plan.notes,
        )
        if lines:
            config.write_text(text, encoding="utf-8")
            added[config] = lines
    for relative, text in plan.files.items():
        path = root / Path(*relative.parts)
        if path.exists():
            found = path.read_text(encoding="utf-8")
            if found == text or (same is not None and same(relative, found, text)):
                continue
            if path == config:
                merged, lines = merge_settings(found, plan.settings, template_defaults(), notes=plan.notes)
                if lines:
                    path.write_text(merged, encoding="utf-8")
                    added[path] = lines
                else:
                    kept.append(path)
                continue
            kept.append(path)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return InitWrite(written, kept, added)


def written_by_relsafe(text: str) -> bool:
    """Whether a workflow's opening comment carries relsafe's mark: the only workflows init may rewrite."""
    for line in text.splitlines():
        if not line.startswith("#"):
            return False
        if WRITTEN_BY in line:
            return True
    return False


def _template(name: str) -> str:
    return resources.files("relsafe").joinpath("templates").joinpath(name).read_text(encoding="utf-8")


def _check_tag_format(tag_format: str) -> None:
    if tag_format.count("{version}") != 1:
        raise ConfigError(f"tag-format must contain {{version}} exactly once: {tag_format!r}")


def _check_project(project: str) -> None:
    if not _PROJECT_NAME.match(project):
        raise UsageError(f"not a valid PyPI project name: {project!r}")


def _check_environment(environment: str) -> None:
    if not _ENVIRONMENT_NAME.match(environment):
        raise UsageError(f"not a usable GitHub environment name: {environment!r}")
