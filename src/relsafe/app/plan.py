"""`release --plan`: what a release would do, read in well under a second, changing nothing."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

from relsafe.app.release import new_release
from relsafe.app.repository import Repository
from relsafe.steps.bump import release_commit_message
from relsafe.tools import versioning
from relsafe.tools.pip_audit import describe_service


@dataclass
class Plan:
    lines: list[str]
    diff: str


def make_plan(path: Path, request: str) -> Plan:
    repo = Repository.open(path, keep_log=False)
    project = repo.project(check_backend=False)
    skipped: list[str] = []
    release = new_release(repo, project, request, skipped)
    config = repo.config
    where = f" in {project.subdir}/" if project.subdir else ""
    lines = [f"project      {project.name}{where} ({project.backend}, version from {project.version_source})"]
    if project.current_version is None:
        lines.append(f"version      {release.version}: the first release (no release tag yet)")
    else:
        lines.append(f"version      {release.from_version} → {release.version}")
    lines += [f"             ({line})" for line in skipped]
    if (project.root / "setup.py").is_file():
        lines.append("setup.py     what its backend reports is compared with the version files by --dry-run, not here")
    if project.version_source != "scm":
        lines.append(f"commit       '{release_commit_message(release)}' on {config.branch}")
    lines += [
        f"tag          {release.tag}{' (signed)' if config.sign_tags else ' (annotated)'}",
        f"tag format   {project.tags.describe()}",
        f"push         {config.branch} and {release.tag} to {config.remote}, atomically",
        f"steps        {' → '.join(release.order)}",
        f"staging      {config.staging_repository_url} (read back from {config.staging_index_url})",
        f"production   {config.production_index_url} (read only; the tag's workflow publishes)",
    ]
    lines += [f"gate         {gate.name} before {gate.before}: {'; '.join(gate.items)}" for gate in config.gates]
    if "audit-deps" in release.order:
        reviewed = f"; {len(config.audit_ignores)} reviewed ignore(s)" if config.audit_ignores else ""
        service = describe_service(config.audit_service, config.audit_osv_url)
        lines.append(f"audit        the tested dependencies on {service} (pip-audit){reviewed}")
    if config.test_lock:
        lines.append(f"lock         test dependencies at the versions {config.test_lock} pins")
    if project.version_source == "bumpversion":
        lines.append(f"files        as configured in {project.bumpversion_config} (bump-my-version)")
    elif project.version_source == "scm":
        read_by = f", read by {project.version_tool}" if project.version_tool else ""
        lines.append(f"files        none: the version comes from the tag{read_by}")
    changes = versioning.planned_changes(project, release.from_version, release.version)
    paths = {name: f"{project.subdir}/{name}" if project.subdir else name for name in changes}  # as git names them
    diff = "".join(
        "".join(
            difflib.unified_diff(
                before.splitlines(True), after.splitlines(True), f"a/{paths[name]}", f"b/{paths[name]}"
            )
        )
        for name, (before, after) in changes.items()
    )
    return Plan(lines, diff)
