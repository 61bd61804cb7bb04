"""`release --plan`: what a release would do, read in well under a second, changing nothing."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

from relsafe.releaser import Repository, new_release
from relsafe.tools import versioning


@dataclass
class Plan:
    lines: list[str]
    diff: str


def make_plan(path: Path, request: str) -> Plan:
    repo = Repository.open(path, keep_log=False)
    project = repo.project()
    release = new_release(repo, project, request)
    config = repo.config
    lines = [
        f"project      {project.name} ({project.backend}, version from {project.version_source})",
        f"version      {release.from_version} → {release.version}",
        f"commit       'Bump version: {release.from_version} → {release.version}' on {config.branch}",
        f"tag          {release.tag}{' (signed)' if config.sign_tags else ' (annotated)'}",
        f"push         {config.branch} and {release.tag} to {config.remote}, atomically",
        f"steps        {' → '.join(release.order)}",
        f"staging      {config.staging_repository_url} (read back from {config.staging_index_url})",
        f"production   {config.production_index_url} (read only; the tag's workflow publishes)",
    ]
    lines += [f"gate         {gate.name} before {gate.before}: {'; '.join(gate.items)}" for gate in config.gates]
    if project.version_source == "bumpversion":
        lines.append(f"files        as configured in {project.bumpversion_config} (bump-my-version)")
    elif project.version_source == "scm":
        lines.append("files        none: the version comes from the tag")
    diff = "".join(
        "".join(difflib.unified_diff(before.splitlines(True), after.splitlines(True), f"a/{name}", f"b/{name}"))
        for name, (before, after) in versioning.planned_changes(project, release.version).items()
    )
    return Plan(lines, diff)
