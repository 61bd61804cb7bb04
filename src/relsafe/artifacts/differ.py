"""Comparing this release's files with the previous release's: the changes the release diff reports.

The wheel is what installs, so most of the report is the wheels': its files,
its start-up hooks, entry points and console scripts, new top-level names and
files installed outside site-packages, native files and executables. The
sdist's own novelties are its files that are not in the wheel (a test fixture,
a build script, a prebuilt binary). Dependencies, Requires-Python and the
license are read from the wheel's METADATA (the sdist's PKG-INFO when no
wheel is compared).

Start-up hooks are judged on this release alone: every `.pth` file at the top
of site-packages and every sitecustomize or usercustomize module is refused
unless `accept-pth` names it, new or not, and an accepted one is listed every
time.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from pathlib import Path, PurePosixPath

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from relsafe.artifacts.contents import DATA, DIST_INFO, HEADERS, SITE_PACKAGES, Contents, native_kind
from relsafe.core.errors import UsageError
from relsafe.model.release_diff import (
    ACCEPTED,
    INFO,
    REFUSED,
    WARNING,
    Change,
    FileFacts,
    Pair,
    ReleaseDiff,
)

SCRIPT_GROUPS = {"console_scripts": "console script", "gui_scripts": "GUI script"}
_EXTRA_MARKER = re.compile(r"""\bextra\s*==\s*["']([^"']+)["']""")
_UNCOUNTED = frozenset({"<dist-info>/RECORD", "<dist-info>/RECORD.jws", "<dist-info>/RECORD.p7s"})
"""RECORD changes with every file; its signatures are not the project's."""
_OUTSIDE = {DATA: "the environment's prefix", HEADERS: "the headers folder"}


def release_diff(
    new_files: Sequence[Path],
    old_files: Sequence[Path],
    *,
    accept_pth: Collection[str] = (),
    previous: str | None = None,
    index_url: str | None = None,
    unavailable: str | None = None,
    notes: Sequence[str] = (),
) -> ReleaseDiff:
    """The release diff of `new_files` (this release's wheel and sdist) against `old_files` (the previous
    release's, at most one of each kind; none on a first release)."""
    new = sorted(map(Contents.read, new_files), key=lambda contents: contents.kind != "wheel")  # the wheel first
    old = {contents.kind: contents for contents in map(Contents.read, old_files)}
    if not new:
        raise UsageError("nothing to compare: no file of this release")
    project, version = new[0].dist.name, new[0].dist.version
    if previous is None and old:
        previous = next(iter(old.values())).dist.version
    changes: list[Change] = []
    pairs: list[Pair] = []
    new_wheel = next((contents for contents in new if contents.kind == "wheel"), None)
    old_wheel = old.get("wheel")
    if new_wheel is not None:
        changes += _startup_hooks(new_wheel, old_wheel, accept_pth, previous)
    for contents in new:
        before = old.get(contents.kind)
        pairs.append(Pair(contents.kind, _facts(contents), _facts(before) if before else None))
        if before is None:
            continue
        if contents.kind == "wheel":
            changes += _wheel_changes(before, contents)
        else:
            changes += _sdist_changes(before, contents, old_wheel, new_wheel)
    primary = next(((before, after) for after in new if (before := old.get(after.kind)) is not None), None)
    if primary is not None:
        changes += _metadata_changes(*primary)
    order = {severity: rank for rank, severity in enumerate((REFUSED, WARNING, ACCEPTED, INFO))}
    changes.sort(key=lambda change: order[change.severity])
    return ReleaseDiff(project, version, previous, index_url, tuple(pairs), tuple(changes), unavailable, tuple(notes))


def _facts(contents: Contents) -> FileFacts:
    return FileFacts(contents.dist.path.name, contents.dist.size, contents.dist.sha256)


def _startup_hooks(
    new: Contents, old: Contents | None, accept_pth: Collection[str], previous: str | None
) -> list[Change]:
    before = {hook.name for hook in old.startup_hooks()} if old is not None else set()
    changes = []
    for hook in new.startup_hooks():
        if old is None:
            age = ""
        elif hook.name in before:
            age = f", already in {previous}"
        else:
            age = ", new"
        if hook.name in accept_pth:
            message = f"start-up hook {hook.member} ({hook.what()}{age}): accepted by [inspect] accept-pth"
            changes.append(Change("startup-hook", ACCEPTED, "wheel", hook.member, message))
        else:
            added, age = ("start-up hook added", "") if age == ", new" else ("start-up hook", age)
            message = f"{added}: {hook.member} ({hook.what()}{age}); not accepted ([inspect] accept-pth)"
            changes.append(Change("startup-hook", REFUSED, "wheel", hook.member, message))
    after = {hook.name for hook in new.startup_hooks()}
    if old is not None:
        for hook in old.startup_hooks():
            if hook.name not in after:
                changes.append(
                    Change("startup-hook-removed", INFO, "wheel", hook.member, f"start-up hook removed: {hook.member}")
                )
    return changes


def _wheel_changes(old: Contents, new: Contents) -> list[Change]:
    changes = _entry_point_changes(old, new)
    added = sorted(new.members.keys() - old.members.keys())
    removed = sorted(old.members.keys() - new.members.keys())
    hooks = {hook.member for hook in new.startup_hooks()}
    old_tops = _top_level_names(old)
    for key in added:
        member, where = new.members[key], new.location(key)
        if member.path in hooks:
            pass  # reported as a start-up hook
        elif where.scheme == SITE_PACKAGES and (top := PurePosixPath(where.path).parts[0]) not in old_tops:
            old_tops.add(top)  # one warning per new name, not per file under it
            name = _import_name(top)
            message = f"top-level name added to site-packages: {top}" + (f" (importable as {name})" if name else "")
            changes.append(Change("top-level-added", WARNING, "wheel", top, message))
        elif where.scheme in _OUTSIDE:
            message = (
                f"file installed outside the package added: {where.scheme}/{where.path} (into {_OUTSIDE[where.scheme]})"
            )
            changes.append(Change("outside-package-added", WARNING, "wheel", member.path, message))
        native = native_kind(member, where)
        if native is not None:
            changes.append(Change("native-added", WARNING, "wheel", member.path, f"{native} added: {member.path}"))
    changes += [
        Change("file-added", INFO, "wheel", new.members[key].path, f"wheel file added: {new.members[key].path}")
        for key in added
    ]
    changes += [
        Change("file-removed", INFO, "wheel", old.members[key].path, f"wheel file removed: {old.members[key].path}")
        for key in removed
    ]
    changed = [
        key
        for key in sorted(new.members.keys() & old.members.keys() - _UNCOUNTED)
        if (new.members[key].digest, new.members[key].size) != (old.members[key].digest, old.members[key].size)
    ]
    if changed:
        message = f"wheel files changed: {len(changed)} of {len(new.members)}"
        changes.append(Change("files-changed", INFO, "wheel", str(len(changed)), message))
    return changes


def _top_level_names(contents: Contents) -> set[str]:
    return {
        PurePosixPath(where.path).parts[0]
        for key in contents.members
        if (where := contents.location(key)).scheme == SITE_PACKAGES
    }


def _import_name(top: str) -> str | None:
    """The name `import` takes for a top-level entry of site-packages, when it is importable."""
    stem = top.split(".", 1)[0]
    if not stem.isidentifier():
        return None
    if "." not in top or top.endswith((".py", ".pyc", ".so", ".pyd")):
        return stem
    return None


def _entry_point_changes(old: Contents, new: Contents) -> list[Change]:
    changes = []
    for group, name in sorted(new.entry_points.keys() | old.entry_points.keys()):
        target, was = new.entry_points.get((group, name)), old.entry_points.get((group, name))
        if target == was:
            continue
        what = SCRIPT_GROUPS.get(group)
        label = what or "entry point"
        subject = name if what else f"[{group}] {name}"
        kind = "console-script" if what else "entry-point"
        if was is None:
            changes.append(Change(f"{kind}-added", WARNING, "wheel", subject, f"{label} added: {subject} = {target}"))
        elif target is None:
            changes.append(Change(f"{kind}-removed", INFO, "wheel", subject, f"{label} removed: {subject} (was {was})"))
        else:
            message = f"{label} changed: {subject} = {target} (was {was})"
            changes.append(Change(f"{kind}-changed", WARNING, "wheel", subject, message))
    return changes


def _sdist_changes(
    old: Contents, new: Contents, old_wheel: Contents | None, new_wheel: Contents | None
) -> list[Change]:
    """The sdist's files added and removed that are not in the wheel beside it, and the native files among them."""
    changes: list[Change] = []
    in_new_wheel, in_old_wheel = _wheel_paths(new_wheel), _wheel_paths(old_wheel)
    beside = " (not in the wheel)" if new_wheel is not None else ""  # two sdists alone: every file is the sdist's
    for key in sorted(new.members.keys() - old.members.keys()):
        if _in_wheel(key, in_new_wheel):
            continue
        native = native_kind(new.members[key])
        if native is not None:
            message = f"{native} added to the sdist: {key}"
            changes.append(Change("sdist-native-added", WARNING, "sdist", key, message))
        changes.append(Change("sdist-file-added", INFO, "sdist", key, f"sdist file added{beside}: {key}"))
    for key in sorted(old.members.keys() - new.members.keys()):
        if not _in_wheel(key, in_old_wheel):
            message = f"sdist file removed{beside}: {key}"
            changes.append(Change("sdist-file-removed", INFO, "sdist", key, message))
    return changes


def _wheel_paths(wheel: Contents | None) -> set[str]:
    if wheel is None:
        return set()
    return {where.path for key in wheel.members if (where := wheel.location(key)).scheme != DIST_INFO}


def _in_wheel(sdist_path: str, wheel_paths: set[str]) -> bool:
    """Whether an sdist member is one the wheel installs (`src/pkg/a.py` is `pkg/a.py`)."""
    parts = PurePosixPath(sdist_path).parts
    return any("/".join(parts[start:]) in wheel_paths for start in range(len(parts)))


def _metadata_changes(old: Contents, new: Contents) -> list[Change]:
    where = new.kind
    return [
        *_dependency_changes(old, new, where),
        *_extra_changes(old, new, where),
        *_requires_python_change(old, new, where),
        *_license_changes(old, new, where),
    ]


def _requirements(contents: Contents) -> dict[tuple[str, str], list[str]]:
    """(name, extra) → the Requires-Dist lines of that name for that extra ("" for the base install)."""
    found: dict[tuple[str, str], list[str]] = {}
    for line in contents.fields("Requires-Dist"):
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            name, extra = line.split(";")[0].strip(), ""
        else:
            name = canonicalize_name(requirement.name)
            extra = _extra_of(str(requirement.marker) if requirement.marker else "")
        found.setdefault((name, extra), []).append(line)
    return found


def _extra_of(marker: str) -> str:
    found = _EXTRA_MARKER.search(marker)
    return canonicalize_name(found.group(1)) if found else ""


def _dependency_changes(old: Contents, new: Contents, where: str) -> list[Change]:
    before, after = _requirements(old), _requirements(new)
    changes = []
    for name, extra in sorted(before.keys() | after.keys()):
        was, now = before.get((name, extra)), after.get((name, extra))
        scope = f" (extra {extra!r})" if extra else ""
        if was == now:
            continue
        if was is None:
            for line in now or []:
                changes.append(Change("dependency-added", WARNING, where, name, f"dependency added{scope}: {line}"))
        elif now is None:
            for line in was:
                changes.append(Change("dependency-removed", INFO, where, name, f"dependency removed{scope}: {line}"))
        else:
            changes.append(_dependency_change(name, scope, was, now, where))
    return changes


def _dependency_change(name: str, scope: str, was: list[str], now: list[str], where: str) -> Change:
    before, after = "; ".join(was), "; ".join(now)
    how = "changed"
    if len(was) == len(now) == 1:
        old, new = _parsed(was[0]), _parsed(now[0])
        if old is not None and new is not None:
            if new.url and not old.url:
                message = f"dependency now installed from a URL{scope}: {after} (was {before})"
                return Change("dependency-changed", WARNING, where, name, message)
            same_rest = (old.url, sorted(old.extras), str(old.marker)) == (new.url, sorted(new.extras), str(new.marker))
            if same_rest:
                how = compare_specifiers(old.specifier, new.specifier)
                if how == "same":
                    return Change(
                        "dependency-rewritten", INFO, where, name, f"dependency rewritten{scope}: {before} → {after}"
                    )
                before, after = _shown(old.specifier), _shown(new.specifier)
                message = f"dependency {how}{scope}: {name} {before} → {after}"
                severity = INFO if how == "tightened" else WARNING
                return Change(f"dependency-{how}", severity, where, name, message)
    return Change("dependency-changed", WARNING, where, name, f"dependency changed{scope}: {before} → {after}")


def _parsed(line: str) -> Requirement | None:
    try:
        return Requirement(line)
    except InvalidRequirement:
        return None


def _shown(specifier: SpecifierSet) -> str:
    return str(specifier) or "any version"


def compare_specifiers(old: SpecifierSet, new: SpecifierSet) -> str:
    """`same`, `loosened` (the new one admits versions the old one did not, and refuses none it took),
    `tightened`, or `changed` (both), judged on the versions either names and their neighbours."""
    candidates = {Version("0"), Version("99999")}
    for spec in [*old, *new]:
        candidates |= _neighbours(spec.version)
    took = {version for version in candidates if old.contains(version, prereleases=True)}
    takes = {version for version in candidates if new.contains(version, prereleases=True)}
    if took == takes:
        return "same"
    if took < takes:
        return "loosened"
    if takes < took:
        return "tightened"
    return "changed"


def _neighbours(text: str) -> set[Version]:
    """A version a specifier names and the versions just around it: just below, just above, the next minor and
    the next major, which tell one bound from another."""
    try:
        version = Version(text.removesuffix(".*"))
    except InvalidVersion:
        return set()
    release = list(version.release)
    found = {version, Version(".".join(map(str, [*release, 1]))), Version(f"{release[0] + 1}")}
    found.add(Version(".".join(map(str, [*release[:1], (release[1] if len(release) > 1 else 0) + 1]))))
    nonzero = [index for index, part in enumerate(release) if part > 0]
    if nonzero:
        last = nonzero[-1]
        below = [*release[:last], release[last] - 1, *([99999] * (len(release) - last))]
        found.add(Version(".".join(map(str, below))))
    if version.epoch:
        found = {Version(f"{version.epoch}!{candidate}") for candidate in found}
    return found


def _extra_changes(old: Contents, new: Contents, where: str) -> list[Change]:
    before = {canonicalize_name(extra) for extra in old.fields("Provides-Extra")}
    after = {canonicalize_name(extra) for extra in new.fields("Provides-Extra")}
    return [Change("extra-added", INFO, where, extra, f"extra added: {extra}") for extra in sorted(after - before)] + [
        Change("extra-removed", INFO, where, extra, f"extra removed: {extra}") for extra in sorted(before - after)
    ]


def _requires_python_change(old: Contents, new: Contents, where: str) -> list[Change]:
    was, now = old.field("Requires-Python") or "", new.field("Requires-Python") or ""
    if was == now:
        return []
    try:
        how = compare_specifiers(SpecifierSet(was), SpecifierSet(now))
    except InvalidSpecifier:
        how = "changed"
    if how == "same":
        return []
    message = f"Requires-Python {how}: {was or 'none'} → {now or 'none'}"
    return [Change(f"requires-python-{how}", WARNING, where, "Requires-Python", message)]


def _license_changes(old: Contents, new: Contents, where: str) -> list[Change]:
    changes = []
    for field in ("License-Expression", "License"):
        was, now = old.field(field) or "", new.field(field) or ""
        if was != now:
            message = f"license changed ({field}): {_short(was)} → {_short(now)}"
            changes.append(Change("license-changed", WARNING, where, field, message))
    before = {c for c in old.fields("Classifier") if c.startswith("License ::")}
    after = {c for c in new.fields("Classifier") if c.startswith("License ::")}
    for classifier in sorted(after - before):
        changes.append(Change("license-changed", WARNING, where, classifier, f"license classifier added: {classifier}"))
    for classifier in sorted(before - after):
        changes.append(
            Change("license-changed", WARNING, where, classifier, f"license classifier removed: {classifier}")
        )
    return changes


def _short(text: str) -> str:
    """A license field as one short line: a long License field holds the whole license text."""
    if not text:
        return "none"
    line = " ".join(text.split())
    return line if len(line) <= 60 else f"{line[:57]}… ({len(text)} characters)"
