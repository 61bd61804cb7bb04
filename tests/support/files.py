"""Files of sample projects, written where a test wants them."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from pathlib import Path


def write(root: Path, relative: str, text: str) -> Path:
    """`text`, dedented and without leading blank lines, at `relative` under `root` (folders made)."""
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def write_files(root: Path, files: Mapping[str, str]) -> Path:
    """Each text, as given, at its path under `root` (folders made); returns `root`."""
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root
