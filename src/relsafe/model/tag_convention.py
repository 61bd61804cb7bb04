"""How a project names its release tags, and the last release those tags record.

Projects tag `v1.2.3`, bare `26.1.0`, or `name-v1.2.3` in a monorepo, and
some switched convention years ago (old `v3.0.x` beside newer `3.32.x`).
Reading the wrong convention releases a wrong version with exit 0, so the
convention is read from the tags themselves unless `tag-format` sets it, and
a configured one that matches nothing beside tags that look like releases is
refused rather than taken for a first release.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from relsafe.core.errors import ConfigError

DEFAULT_FORMAT = "v{version}"
CONFIGURED, DEFAULT, DETECTED = "configured", "default", "detected"
_SEPARATORS = "-_./@"
_LISTED = 5


def split_tag(tag: str) -> tuple[str, str] | None:
    """(prefix, version text) of a tag that ends in a PEP 440 version, or None.

    The version starts at the first digit that begins a number and leaves a
    valid version after it, so `name-v1.2.3` splits as ("name-v", "1.2.3").
    """
    for match in re.finditer(r"(?<![0-9])[0-9]", tag):
        text = tag[match.start() :]
        try:
            Version(text)
        except InvalidVersion:
            continue
        return tag[: match.start()], text
    return None


def _format_of(prefix: str) -> str:
    return prefix + "{version}"


def _describe(tag_format: str) -> str:
    example = tag_format.format(version="1.2.3")
    return "bare versions" if tag_format == "{version}" else f"tags like {example}"


@dataclass(frozen=True)
class TagConvention:
    """The tag format in force, where it came from, and the release tags it matches (tag → version as written)."""

    tag_format: str
    source: str
    releases: dict[str, str] = field(default_factory=dict)

    @property
    def latest(self) -> tuple[str, str] | None:
        """(tag, version as the tag spells it) of the highest release, by PEP 440 order."""
        if not self.releases:
            return None
        tag = max(self.releases, key=lambda name: Version(self.releases[name]))
        return tag, self.releases[tag]

    def describe(self) -> str:
        """One line for the plan and the rehearsal: which convention, and why."""
        how = {
            CONFIGURED: "from [release] tag-format",
            DEFAULT: "the default",
            DETECTED: "detected from the existing tags; set [release] tag-format to change it",
        }[self.source]
        return f"{self.tag_format!r} ({_describe(self.tag_format)}, {how})"


def _plausible_prefix(prefix: str, project: str, *, named_only: bool) -> bool:
    """Prefixes a release of this project could carry: none, `v`, or its own name (monorepos)."""
    stem = prefix[:-1] if prefix[-1:] in ("v", "V") else prefix
    stem = stem[:-1] if stem[-1:] and stem[-1] in _SEPARATORS else stem
    if not stem:
        return not named_only
    return canonicalize_name(stem) == canonicalize_name(project)


def release_tags(tags: list[str], tag_format: str) -> dict[str, str]:
    """The tags the format makes, with the version each one names (as written)."""
    prefix, _, suffix = tag_format.partition("{version}")
    found = {}
    for tag in tags:
        if tag.startswith(prefix) and tag.endswith(suffix) and len(tag) > len(prefix) + len(suffix):
            text = tag[len(prefix) : len(tag) - len(suffix)]
            try:
                Version(text)
            except InvalidVersion:
                continue
            if text[0].isdigit():  # `vv1.0` or `v-1.0` is no release of `v{version}`
                found[tag] = text
    return found


def read_convention(tags: list[str], configured: str | None, project: str, *, in_subfolder: bool) -> TagConvention:
    """The convention of `tags` (those reachable from HEAD) for `project`.

    Without configuration the candidates are no prefix, `v`, and the project's
    own name (only the name in a monorepo subfolder, where bare and `v` tags
    belong to the repository's other project); the one holding the highest
    version wins, the default on a tie.
    """
    default = f"{project}-v{{version}}" if in_subfolder else DEFAULT_FORMAT
    candidates: dict[str, dict[str, str]] = {}
    for tag in tags:
        parts = split_tag(tag)
        if parts and _plausible_prefix(parts[0], project, named_only=in_subfolder):
            candidates.setdefault(_format_of(parts[0]), {})[tag] = parts[1]
    if configured is not None:
        matched = release_tags(tags, configured)
        others = {tag: text for fmt, found in candidates.items() if fmt != configured for tag, text in found.items()}
        if not matched and others:
            best = max(candidates, key=lambda fmt: max(Version(v) for v in candidates[fmt].values()))
            listed = sorted(others, key=lambda tag: Version(others[tag]), reverse=True)
            raise ConfigError(
                f"[release] tag-format {configured!r} matches none of the release tags "
                f"({', '.join(listed[:_LISTED])}{' …' if len(listed) > _LISTED else ''}); "
                f"expected tag-format = {best!r}",
                hint="set [release] tag-format to the convention the tags follow, so the last release is read right",
            )
        return TagConvention(configured, CONFIGURED, matched)
    if not candidates:
        return TagConvention(default, DEFAULT)

    def highest(fmt: str) -> Version:
        return max(Version(text) for text in candidates[fmt].values())

    best = max(candidates, key=lambda fmt: (highest(fmt), fmt == default))
    return TagConvention(best, DEFAULT if best == default else DETECTED, candidates[best])
