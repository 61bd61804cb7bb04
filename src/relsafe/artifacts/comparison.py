"""Two builds of one release compared file by file: what a wheel installs, by its RECORD.

When production serves a wheel whose sha256 differs from the tested one, the
installed files that differ say why (a rebuilt extension, a changed module).
"""

from __future__ import annotations

from pathlib import Path

from relsafe.artifacts.wheel_record import record_entries

UNCOMPARED = ("RECORD", "WHEEL")
"""Files whose content names the tool that wrote them, not what gets installed."""


def installed_files(wheel: Path) -> dict[str, str]:
    """path → sha256 entry of RECORD, for every file the wheel installs (dist-info under one neutral name)."""
    entries: dict[str, str] = {}
    for path, (digest, _size) in record_entries(wheel).items():
        if path.rpartition("/")[2] in UNCOMPARED:
            continue
        if ".dist-info/" in path:
            path = "<dist-info>/" + path.split(".dist-info/", 1)[1]
        entries[path] = digest
    return entries


def record_differences(tested: Path, published: Path) -> list[str]:
    ours, theirs = installed_files(tested), installed_files(published)
    differences = [f"{path}: only in the tested wheel" for path in sorted(ours.keys() - theirs.keys())]
    differences += [f"{path}: only in the published wheel" for path in sorted(theirs.keys() - ours.keys())]
    differences += [
        f"{path}: content differs ({ours[path]} tested, {theirs[path]} published)"
        for path in sorted(ours.keys() & theirs.keys())
        if ours[path] != theirs[path]
    ]
    return differences
