"""Whether a second build of the release commit gives the same bytes, and where it does not.

Without staging, nothing hands the publish workflow the tested files: it can
only build them again and check the result against the tag's manifest. That
works only if the build is reproducible, so relsafe proves it before tagging
by building the same commit a second time; a difference is named down to the
archive members, since "the wheel differs" alone tells nobody what to fix.
"""

from __future__ import annotations

import tarfile
import zipfile
from collections.abc import Sequence
from pathlib import Path

from relsafe.artifacts.distribution import sha256_file, sha256_stream
from relsafe.core.errors import StepFailed


def rebuild_differences(built: Sequence[Path], rebuilt: Sequence[Path]) -> list[str]:
    """One line per file of the first build that the second did not reproduce byte for byte."""
    second = {path.name: path for path in rebuilt}
    problems: list[str] = []
    for path in built:
        again = second.get(path.name)
        if again is None:
            problems.append(f"{path.name}: a second build of the same commit made no file of that name")
        elif sha256_file(again) != sha256_file(path):
            problems.append(f"{path.name}: a second build of the same commit differs: {_where(path, again)}")
    return problems


def _where(first: Path, second: Path) -> str:
    ours, theirs = _member_digests(first), _member_digests(second)
    only = sorted(ours.keys() ^ theirs.keys())
    changed = sorted(name for name in ours.keys() & theirs.keys() if ours[name] != theirs[name])
    if not only and not changed:
        return "the same members with the same contents, so the archive itself differs (timestamps, order)"
    parts = [f"{name} differs" for name in changed[:5]] + [f"{name} is in one build only" for name in only[:5]]
    more = len(changed) + len(only) - len(parts)
    return ", ".join(parts) + (f" and {more} more" if more > 0 else "")


def _member_digests(path: Path) -> dict[str, str]:
    """Member name → sha256 of its bytes, for a wheel or an sdist (regular files only), read in chunks."""
    digests: dict[str, str] = {}
    try:
        if path.name.endswith(".whl"):
            with zipfile.ZipFile(path) as wheel:
                for info in wheel.infolist():
                    if not info.is_dir():
                        with wheel.open(info) as member_bytes:
                            digests[info.filename] = sha256_stream(member_bytes)
            return digests
        with tarfile.open(path, mode="r:*") as sdist:
            for member in sdist:
                stream = sdist.extractfile(member) if member.isfile() else None
                if stream is not None:
                    digests[member.name] = sha256_stream(stream)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError, RuntimeError) as error:
        raise StepFailed(f"cannot read {path.name} to compare its members: {error}") from error
    return digests
