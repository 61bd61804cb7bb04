"""The release diff: what changed between the previous release's files and this release's, as the journal
records it, the screen shows it and the tag's message carries its digest.

The comparison itself reads archives (relsafe.artifacts.differ); this is its
result, plain data with its wording, so that the journal, `relsafe status` and
the tag step can read it without opening a file. Each change has a severity:

- `refused`: a start-up hook (a `.pth` file, a `sitecustomize` or `usercustomize`
  module) not listed in `[inspect] accept-pth`: the release stops (exit 4);
- `accepted`: a start-up hook that is listed: shown every time, never silent;
- `warning`: a novelty an attacker's payload arrives as (an entry point, a
  dependency, a native file, a file installed outside the package, a license);
- `info`: files added or removed, sizes, what was removed or tightened.

The digest is the sha256 of the report's canonical JSON (the files compared, by
name and sha256, and every change as worded), so `relsafe diff` on the same two
releases gives the same digest as the release recorded.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

REFUSED, WARNING, ACCEPTED, INFO = "refused", "warning", "accepted", "info"
SEVERITIES = (REFUSED, WARNING, ACCEPTED, INFO)
"""In the order the report lists them."""

TAG_PREFIX = "release-diff: "
SHOWN_PER_KIND = 8
"""Changes of one kind (files added, say) shown before `… and N more`, where the report is shown with a limit."""


@dataclass(frozen=True)
class FileFacts:
    """One compared file: its name, size and sha256."""

    name: str
    size: int
    sha256: str

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FileFacts:
        return cls(str(data["name"]), int(data["size"]), str(data["sha256"]))


@dataclass(frozen=True)
class Pair:
    """A file of this release and the previous release's file of the same kind (None: nothing to compare with)."""

    kind: str  # "wheel" or "sdist"
    new: FileFacts
    old: FileFacts | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Pair:
        old = data.get("old")
        return cls(str(data["kind"]), FileFacts.from_dict(data["new"]), FileFacts.from_dict(old) if old else None)

    def line(self) -> str:
        if self.old is None:
            return f"{self.kind}: {self.new.name} ({size_text(self.new.size)}), nothing to compare with"
        return (
            f"{self.kind}: {self.old.name} → {self.new.name}, "
            f"{size_text(self.old.size)} → {size_text(self.new.size)} ({growth(self.old.size, self.new.size)})"
        )


@dataclass(frozen=True)
class Change:
    """One difference: its kind (`console-script-added`…), severity, the file kind it was found in, what it is
    about (a member, a dependency's name, a script's name) and the sentence that says it."""

    kind: str
    severity: str
    distribution: str
    subject: str
    message: str

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Change:
        return cls(*(str(data[key]) for key in ("kind", "severity", "distribution", "subject", "message")))

    def line(self) -> str:
        return f"{self.severity}: {self.message}"


@dataclass(frozen=True)
class ReleaseDiff:
    """The release diff of `project` `version` against `previous` (None: nothing earlier was compared)."""

    project: str
    version: str
    previous: str | None
    index_url: str | None
    """Where the previous release's files came from (None: files given directly)."""
    pairs: tuple[Pair, ...]
    changes: tuple[Change, ...]
    unavailable: str | None = None
    """Why the previous release could not be compared although there may be one (an unreachable index, in a
    rehearsal); None when it was compared or there is none."""
    notes: tuple[str, ...] = field(default=())
    """What the comparison could not cover (the previous release has no sdist, no wheel of the same kind)."""

    @property
    def first_release(self) -> bool:
        return self.previous is None and self.unavailable is None

    def of(self, severity: str) -> list[Change]:
        return [change for change in self.changes if change.severity == severity]

    @property
    def refused(self) -> list[Change]:
        return self.of(REFUSED)

    @property
    def warnings(self) -> list[Change]:
        return self.of(WARNING)

    @property
    def accepted(self) -> list[Change]:
        return self.of(ACCEPTED)

    def canonical(self) -> dict[str, Any]:
        """What the digest covers: the files compared and every change, in a stable order."""
        return {
            "project": self.project,
            "version": self.version,
            "previous": self.previous,
            "files": [
                [p.kind, p.new.name, p.new.sha256, p.old.name if p.old else None, p.old.sha256 if p.old else None]
                for p in self.pairs
            ],
            "changes": [[c.kind, c.severity, c.distribution, c.subject, c.message] for c in self.changes],
        }

    @property
    def digest(self) -> str:
        blob = json.dumps(self.canonical(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def counts(self) -> str:
        """`1 refused, 3 warnings, 1 accepted, 12 info`: the severities present (or `no change`)."""
        parts = []
        for severity in SEVERITIES:
            found = len(self.of(severity))
            if found:
                parts.append(f"{found} {severity if severity != WARNING or found == 1 else 'warnings'}")
        return ", ".join(parts) or "no change"

    def against(self, *, where: bool = True) -> str:
        """What this release was compared with, in words (`where`: and on which index)."""
        on = f" on {self.index_url}" if self.index_url and where else ""
        if self.unavailable is not None:
            return f"not compared with the previous release: {self.unavailable}"
        if self.previous is None:
            return f"first release: no version of {self.project} below {self.version}{on} to compare with"
        return f"of {self.project} {self.previous} → {self.version}{on}"

    def summary(self, *, where: bool = True) -> str:
        """One line: what it was compared with and how many changes of each severity."""
        if self.previous is None:
            return f"release diff: {self.against(where=where)}; {self.counts()}"
        return f"release diff {self.against(where=where)}: {self.counts()}"

    def tag_line(self) -> str:
        """The line the release tag's message carries: the digest, and what it was compared with."""
        if self.unavailable is not None:
            what = "previous release not compared"
        elif self.previous is None:
            what = "first release"
        else:
            what = f"against {self.previous}"
        return f"{TAG_PREFIX}sha256:{self.digest} {what} ({self.counts()})"

    def lines(self, limit: int | None = SHOWN_PER_KIND, severities: tuple[str, ...] = SEVERITIES) -> list[str]:
        """The report to show: what was compared, then each change of the given severities, worst first; at most
        `limit` changes of one kind (None: all), the rest counted; the digest last."""
        lines = [self.summary(), *(f"  {pair.line()}" for pair in self.pairs), *(f"  note: {n}" for n in self.notes)]
        for severity in severities:
            shown: dict[str, int] = {}
            for change in self.of(severity):
                shown[change.kind] = shown.get(change.kind, 0) + 1
                if limit is None or shown[change.kind] <= limit:
                    lines.append(f"  {change.line()}")
            for kind, count in shown.items():
                if limit is not None and count > limit:
                    lines.append(f"  {severity}: … and {count - limit} more {kind.replace('-', ' ')}")
        lines.append(f"  digest sha256:{self.digest}")
        return lines

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["digest"] = self.digest
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReleaseDiff:
        return cls(
            project=str(data["project"]),
            version=str(data["version"]),
            previous=str(data["previous"]) if data.get("previous") else None,
            index_url=str(data["index_url"]) if data.get("index_url") else None,
            pairs=tuple(Pair.from_dict(pair) for pair in data.get("pairs", [])),
            changes=tuple(Change.from_dict(change) for change in data.get("changes", [])),
            unavailable=str(data["unavailable"]) if data.get("unavailable") else None,
            notes=tuple(str(note) for note in data.get("notes", [])),
        )


def size_text(size: int) -> str:
    """Bytes as people read them: `812 B`, `4.1 KiB`, `12.3 MiB`."""
    if size < 1024:
        return f"{size} B"
    value = float(size)
    for unit in ("KiB", "MiB", "GiB"):
        value /= 1024
        if value < 1024 or unit == "GiB":
            break
    return f"{value:.1f} {unit}"


def growth(old: int, new: int) -> str:
    """`+8.0 KiB, +12.4%`, `-79.2 KiB, -0.5%`, `same size`; `new` when the old size is 0."""
    if old == new:
        return "same size"
    if old == 0:
        return "new"
    sign = "+" if new > old else "-"
    return f"{sign}{size_text(abs(new - old))}, {(new - old) * 100 / old:+.1f}%"
