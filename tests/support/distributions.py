"""A distribution of either kind holding given members, for the checks that treat wheels and sdists alike."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from tests.support.sdists import write_sdist
from tests.support.wheels import write_wheel

WHEEL = "pkg-1.0-py3-none-any.whl"
SDIST = "pkg-1.0.tar.gz"


def write_distribution(folder: Path, kind: str, files: Mapping[str, bytes]) -> Path:
    """pkg 1.0 as a wheel ("wheel") or an sdist (else) in `folder`, holding exactly `files`."""
    if kind == "wheel":
        return write_wheel(folder / WHEEL, files)
    return write_sdist(folder / SDIST, files)
