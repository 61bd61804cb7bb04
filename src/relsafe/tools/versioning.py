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

from relsafe.core.errors import Refused, UsageError
from relsafe.journal.runlog import RunLog
from relsafe.model.project import Project
from relsafe.model.version_file import replace_version
from relsafe.tools import process

PARTS = ("major", "minor", "patch")
PRE_RELEASE_PARTS = {"alpha": "a", "beta": "b", "rc": "rc"}
FINAL_PART = "release"
_RELEASE_NUMBERS = re.compile(r"\d+(?:\.\d+)*")
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
    return explicit_version(request)


def explicit_version(request: str) -> str:
    """A version the user typed, normalised, or a usage error saying what PART|VERSION accepts."""
    if len(request) > MAX_VERSION_LENGTH:
        raise UsageError(
            f"argument PART|VERSION: {len(request)} characters; expected a version of at most {MAX_VERSION_LENGTH}"
        )
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


MAX_VERSION_LENGTH = 64
"""Characters of a version: it becomes file names, a tag and a folder name, all well under the OS limits."""

MAX_NUMBER_DIGITS = 18
"""Digits of any number in a version: below 2**63, what indexes and installers store and compare."""


def check_publishable(version: str) -> None:
    """Refuse, before anything runs, a version that could not become a file name, a tag or an index entry."""
    if len(version) > MAX_VERSION_LENGTH:
        raise UsageError(
            f"argument PART|VERSION: the version has {len(version)} characters; expected at most {MAX_VERSION_LENGTH}"
        )
    parsed = Version(version)
    numbers = [parsed.epoch, *parsed.release, parsed.pre[1] if parsed.pre else 0, parsed.post or 0, parsed.dev or 0]
    if any(len(str(number)) > MAX_NUMBER_DIGITS for number in numbers):
        raise UsageError(
            f"argument PART|VERSION: {version[:MAX_VERSION_LENGTH]} has a number of more than {MAX_NUMBER_DIGITS} "
            "digits, which indexes and installers cannot store"
        )


def check_increase(current: str, new: str) -> None:
    if Version(new) <= Version(current):
        raise Refused(
            f"the requested version {new} is not above the current version {current}",
            hint="ask for a higher version, or major/minor/patch",
        )


def spell_like(version: str, current: str | None) -> str:
    """`version` in the spelling the project uses: zero-padded numbers stay padded (2026.07.22 → 2026.07.23).

    PEP 440 compares 2026.07.23 and 2026.7.23 as equal, but the project's
    files and tags keep the padding, so relsafe writes them the same way.
    """
    padded = _RELEASE_NUMBERS.match(current or "")
    found = _RELEASE_NUMBERS.match(version)
    if padded is None or found is None:
        return version
    numbers = padded.group(0).split(".")
    if not any(len(number) > 1 and number.startswith("0") for number in numbers):
        return version
    parts = found.group(0).split(".")
    spelled = [part.zfill(len(numbers[i])) if i < len(numbers) else part for i, part in enumerate(parts)]
    return ".".join(spelled) + version[found.end() :]


def _bump_my_version() -> str:
    sibling = Path(sys.executable).with_name("bump-my-version")
    return str(sibling) if sibling.exists() else shutil.which("bump-my-version") or "bump-my-version"


def write_version(project: Project, current: str, new_version: str, log: RunLog) -> None:
    """Write new_version over current in the project's version files, without committing.

    `current` is the release's starting version, not what the files say now:
    after an interrupted bump they may already hold the new one. A project
    with its own bump-my-version configuration is bumped by bump-my-version;
    otherwise relsafe rewrites each file itself, exactly as `--plan` shows it.
    """
    if project.version_source == "bumpversion":
        command = [
            _bump_my_version(),
            "bump",
            "--new-version",
            new_version,
            "--no-commit",
            "--no-tag",
            "--allow-dirty",
        ]
        process.run(command, log=log, cwd=project.root, what="bump-my-version")
        return
    for relative, (_before, after) in planned_changes(project, current, new_version).items():
        (project.root / relative).write_text(after, encoding="utf-8")
        log.write(f"wrote {new_version} into {relative}")


def planned_changes(project: Project, current: str, new_version: str) -> dict[str, tuple[str, str]]:
    """path → (text now, text after the bump), computed in memory; what the bump writes and `--plan` shows.

    Only for version files relsafe bumps itself; a project's own bump-my-version
    config decides its files, and an SCM-versioned project changes none.
    """
    changes: dict[str, tuple[str, str]] = {}
    for relative in project.version_files if project.version_source == "files" else ():
        before = (project.root / relative).read_text(encoding="utf-8")
        changes[relative] = (before, replace_version(project.root, relative, current, new_version))
    return changes
