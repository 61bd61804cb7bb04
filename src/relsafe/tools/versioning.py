"""Version arithmetic, and writing the new version into files with bump-my-version.

relsafe computes the next version itself (so that preflight can check the tag
and the indexes before anything changes) and hands bump-my-version an
explicit --new-version, so both always agree.
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

from packaging.version import InvalidVersion, Version

from relsafe.errors import Refused, UsageError
from relsafe.project import VERSION_ASSIGNMENT, Project
from relsafe.runlog import RunLog
from relsafe.tools import process

PARTS = ("major", "minor", "patch")
PRE_RELEASE_PARTS = {"alpha": "a", "beta": "b", "rc": "rc"}
FINAL_PART = "release"
ALL_PARTS = (*PARTS, *PRE_RELEASE_PARTS, FINAL_PART)


def _release_tuple(version: Version) -> tuple[int, int, int]:
    parts = (*version.release, 0, 0)
    return parts[0], parts[1], parts[2]


def next_version(current: str, request: str) -> str:
    """The version a request leads to.

    major/minor/patch bump that number (a pre-release of the same target is
    finished instead: 2.0.0rc1 + major = 2.0.0); alpha/beta/rc start or
    advance a pre-release (1.2.0 + rc = 1.2.1rc1, 1.2.1rc1 + rc = 1.2.1rc2);
    release drops the pre-release suffix; anything else is an explicit version.
    """
    base = Version(current)
    major, minor, patch = _release_tuple(base)
    if request in PARTS:
        target = {
            "major": (major + 1, 0, 0),
            "minor": (major, minor + 1, 0),
            "patch": (major, minor, patch + 1),
        }[request]
        if base.is_prerelease and _is_pre_of(base, request):
            target = (major, minor, patch)
        return "{}.{}.{}".format(*target)
    if request in PRE_RELEASE_PARTS:
        letter = PRE_RELEASE_PARTS[request]
        if base.pre is not None:
            current_letter, number = base.pre
            order = list(PRE_RELEASE_PARTS.values())
            if order.index(letter) < order.index(current_letter):
                names = dict(zip(order, PRE_RELEASE_PARTS, strict=True))
                raise Refused(
                    f"cannot go from {current} to a new {request} release: {request} comes before "
                    f"{names[current_letter]}",
                    hint="ask for the next pre-release kind, `release`, or an explicit version",
                )
            step = number + 1 if letter == current_letter else 1
            return f"{major}.{minor}.{patch}{letter}{step}"
        if base.is_devrelease:  # 1.2.0.dev1 is on its way to 1.2.0: its pre-release is 1.2.0rc1
            return f"{major}.{minor}.{patch}{letter}1"
        return f"{major}.{minor}.{patch + 1}{letter}1"
    if request == FINAL_PART:
        if not base.is_prerelease:
            raise Refused(
                f"{current} is not a pre-release; `release` finishes one",
                hint="ask for major, minor or patch",
            )
        return base.base_version
    try:
        explicit = Version(request)
    except InvalidVersion:
        raise UsageError(
            f"argument PART|VERSION: expected one of {', '.join(ALL_PARTS)} or a PEP 440 version, got {request!r}"
        ) from None
    if explicit.local is not None:
        raise UsageError(
            f"argument PART|VERSION: {request!r} is a local version; package indexes refuse local versions"
        )
    return str(explicit)


def _is_pre_of(base: Version, part: str) -> bool:
    """Whether a pre-release is already on its way to the `part` bump (2.0.0rc1 for major)."""
    _, minor, patch = _release_tuple(base)
    return {
        "major": minor == 0 and patch == 0,
        "minor": patch == 0,
        "patch": True,
    }[part]


def check_increase(current: str, new: str) -> None:
    if Version(new) <= Version(current):
        raise Refused(
            f"the requested version {new} is not above the current version {current}",
            hint="ask for a higher version, or major/minor/patch",
        )


def version_from_tags(tags: list[str], tag_format: str) -> str | None:
    """The highest version among tags made by tag_format: the current version of an SCM-versioned project."""
    prefix, _, suffix = tag_format.partition("{version}")
    pattern = re.compile(re.escape(prefix) + r"(?P<version>.+)" + re.escape(suffix) + r"$")
    versions = []
    for tag in tags:
        match = pattern.match(tag)
        if match:
            try:
                versions.append(Version(match.group("version")))
            except InvalidVersion:
                continue
    return str(max(versions)) if versions else None


def _bump_my_version() -> str:
    sibling = Path(sys.executable).with_name("bump-my-version")
    return str(sibling) if sibling.exists() else shutil.which("bump-my-version") or "bump-my-version"


def _toml_string(value: str) -> str:
    return "'" + value.replace("'", "") + "'" if "'" not in value else '"' + value.replace('"', '\\"') + '"'


def search_for(project: Project, relative: str, version: str) -> tuple[str, str]:
    """The exact text to find and its replacement, taken from the file itself.

    Searching for the literal assignment (not the bare version string) keeps
    `dependencies = ["foo>=0.1.0"]` untouched when the project is at 0.1.0.
    """
    path = project.root / relative
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".py":
        match = VERSION_ASSIGNMENT.search(text)
        line = match.group(0) if match else ""
    elif path.name in ("pyproject.toml", "setup.cfg"):
        found = re.search(r"^version\s*=\s*[\"']?" + re.escape(version) + r"[\"']?\s*$", text, re.MULTILINE)
        line = found.group(0).rstrip() if found else ""
    else:
        line = version
    if version not in line:
        raise Refused(
            f"{relative}: does not hold the current version {version}",
            hint="fix the file or [version] files in release.toml",
        )
    search = line.replace(version, "{current_version}")
    return search, search.replace("{current_version}", "{new_version}")


def _files_config(project: Project, current: str) -> str:
    lines = [
        "[tool.bumpversion]",
        f"current_version = {_toml_string(current)}",
        "parse = '(?P<full>.+)'",
        "serialize = ['{full}']",
        "commit = false",
        "tag = false",
        "allow_dirty = true",
    ]
    for relative in project.version_files:
        search, replace = search_for(project, relative, current)
        lines += [
            "",
            "[[tool.bumpversion.files]]",
            f"filename = {_toml_string(str(project.root / relative))}",
            f"search = {_toml_string(search)}",
            f"replace = {_toml_string(replace)}",
        ]
    return "\n".join(lines) + "\n"


def write_version(project: Project, current: str, new_version: str, work_dir: Path, log: RunLog) -> None:
    """Write new_version over current in the project's version files with bump-my-version, without committing.

    `current` is the release's starting version, not what the files say now:
    after an interrupted bump they may already hold the new one.
    """
    command = [
        _bump_my_version(),
        "bump",
        "--new-version",
        new_version,
        "--no-commit",
        "--no-tag",
        "--allow-dirty",
    ]
    if project.version_source == "files":
        work_dir.mkdir(parents=True, exist_ok=True)
        config_file = work_dir / "bumpversion.toml"
        config_file.write_text(_files_config(project, current), encoding="utf-8")
        command += ["--config-file", str(config_file)]
    process.run(command, log=log, cwd=project.root, what="bump-my-version")


def planned_changes(project: Project, new_version: str) -> dict[str, tuple[str, str]]:
    """path → (text now, text after the bump), computed in memory for `--plan`.

    Only for version files relsafe bumps itself; a project's own bump-my-version
    config decides its files, and an SCM-versioned project changes none.
    """
    changes: dict[str, tuple[str, str]] = {}
    for relative in project.version_files if project.version_source == "files" else ():
        search, replace = search_for(project, relative, project.current_version)
        before = (project.root / relative).read_text(encoding="utf-8")
        old = search.replace("{current_version}", project.current_version)
        new = replace.replace("{new_version}", new_version)
        changes[relative] = (before, before.replace(old, new))
    return changes
