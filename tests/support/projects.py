"""Real projects, built by their real backends with `python -m build`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class TinyDists:
    """A real wheel and sdist of a one-module package (the `tiny_dists` fixture builds them once a session)."""

    wheel: Path
    sdist: Path

    @property
    def files(self) -> list[Path]:
        return [self.wheel, self.sdist]
