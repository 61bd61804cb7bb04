"""The release manifest: the sha256 of every tested file, carried by the release tag.

The tag's message ends with it, so whatever publishes from the tag (the
workflow `relsafe init` writes) can refuse any file that is not byte for byte
what relsafe built, inspected, smoke-tested and staged. The file lines are in
sha256sum's format, so `sha256sum -c` checks them as they are:

    Release 1.2.0

    relsafe-manifest: 1
    <64 hex>  pkg-1.2.0-py3-none-any.whl
    <64 hex>  pkg-1.2.0.tar.gz
    commit: <40 hex>
    staging-index: https://test.pypi.org/simple/

`commit` names the commit the files were built from (the bump commit): the
workflow refuses a tag that points at any other, so the files of one commit
(an aborted release's, still on staging) cannot be published under a tag on
another. `staging-index` names the index the files were verified on. Without
staging the workflow rebuilds the files and checks them against the hashes
instead; the manifest then has no `staging-index` but one `build-requires:
name==version --hash=sha256:<64 hex>` line per package the build ran with
(build, the backend, their dependencies, each with its wheel's sha256;
relsafe.model.build_requirements), each a line of a requirements file that
the rebuild installs with `pip install --require-hashes`.

Last come what the dependency audit recorded: `tested-lock: sha256:<hex>`,
the hash of the PEP 751 lock of the environment the wheel was tested in, and
one `audit-ignore: ID name==version [until DATE]: reason` line per reviewed
advisory the release ships with.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from relsafe.model import build_requirements

MARKER = "relsafe-manifest: 1"
_FILE_LINE = re.compile(r"(?P<sha256>[0-9a-f]{64})  (?P<name>[^\s/\\]+)")
_COMMIT = "commit: "
_COMMIT_ID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")  # SHA-1, or SHA-256 repositories
_STAGING = "staging-index: "
_BUILD_REQUIRES = "build-requires: "
_TESTED_LOCK = "tested-lock: sha256:"
_AUDIT_IGNORE = "audit-ignore: "


@dataclass(frozen=True)
class Manifest:
    files: Mapping[str, str]
    """file name → sha256 (hex)."""
    staging_index: str | None = None
    build_requires: tuple[str, ...] = ()
    """`name==version --hash=sha256:…` pins for a rebuild (without staging only)."""
    commit: str | None = None
    """The commit the files were built from; the workflow refuses a tag on any other."""
    tested_lock: str | None = None
    """The sha256 of the tested environment's pylock.toml (audit-deps)."""
    audit_ignores: tuple[str, ...] = ()
    """The reviewed advisories the release ships with, one line each (audit-deps)."""

    def lines(self) -> list[str]:
        lines = [MARKER, *(f"{self.files[name]}  {name}" for name in sorted(self.files))]
        if self.commit:
            lines.append(_COMMIT + self.commit)
        if self.staging_index:
            lines.append(_STAGING + self.staging_index)
        lines += [_BUILD_REQUIRES + pin for pin in self.build_requires]
        if self.tested_lock:
            lines.append(_TESTED_LOCK + self.tested_lock)
        lines += [_AUDIT_IGNORE + line for line in self.audit_ignores]
        return lines

    def tag_message(self, version: str) -> str:
        return "\n".join([f"Release {version}", "", *self.lines()]) + "\n"


def of_artifacts(
    files: Mapping[str, str],
    staging_index: str | None,
    build_requires: Sequence[str] = (),
    *,
    commit: str | None = None,
    tested_lock: str | None = None,
    audit_ignores: Sequence[str] = (),
) -> Manifest:
    """The manifest of the build step's recorded artifacts (file name → sha256), built from `commit`."""
    if commit is not None and not _COMMIT_ID.fullmatch(commit):
        raise ValueError(f"not a full commit id: {commit!r}")
    checked = tuple(build_requirements.checked(build_requires))
    return Manifest(dict(files), staging_index, checked, commit, tested_lock, tuple(audit_ignores))


def parse(message: str) -> Manifest | None:
    """The manifest at the end of a tag message; None when the message has none.

    The block runs from the marker line to the first line that is none of
    its own (a tag's signature follows it). A marker without a file line, or a
    file named twice, raises ValueError: a manifest that cannot be trusted
    whole is not a manifest.
    """
    lines = message.splitlines()
    if MARKER not in lines:
        return None
    files: dict[str, str] = {}
    staging: str | None = None
    commit: str | None = None
    pins: list[str] = []
    tested_lock: str | None = None
    ignores: list[str] = []
    for line in lines[lines.index(MARKER) + 1 :]:
        file_line = _FILE_LINE.fullmatch(line)
        if file_line:
            if file_line["name"] in files:
                raise ValueError(f"the manifest names {file_line['name']} twice")
            files[file_line["name"]] = file_line["sha256"]
        elif line.startswith(_COMMIT):
            if commit is not None or not _COMMIT_ID.fullmatch(line.removeprefix(_COMMIT)):
                raise ValueError(f"the manifest's commit line is not one full commit id: {line!r}")
            commit = line.removeprefix(_COMMIT)
        elif line.startswith(_STAGING):
            staging = line.removeprefix(_STAGING)
        elif line.startswith(_BUILD_REQUIRES):
            pins.append(line.removeprefix(_BUILD_REQUIRES))
        elif line.startswith(_TESTED_LOCK):
            tested_lock = line.removeprefix(_TESTED_LOCK)
        elif line.startswith(_AUDIT_IGNORE):
            ignores.append(line.removeprefix(_AUDIT_IGNORE))
        else:
            break
    if not files:
        raise ValueError("the manifest names no file")
    return Manifest(files, staging, tuple(build_requirements.checked(pins)), commit, tested_lock, tuple(ignores))
