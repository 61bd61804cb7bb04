"""release.toml for the foundation pipeline: what the release tests release with. Later steps need fresh venvs or
a staging index, and have their own tests."""

from __future__ import annotations

from relsafe.tools.localindex import LocalIndex

FOUNDATION_STEPS = ("preflight", "bump", "build", "tag", "push")


def release_toml(index: LocalIndex, **release: str) -> str:
    """release.toml for the foundation steps against the loopback index; `release` adds [release] keys."""
    lines = ["[release]", "steps = [" + ", ".join(f'"{s}"' for s in FOUNDATION_STEPS) + "]"]
    lines += [f'{key.replace("_", "-")} = "{value}"' for key, value in release.items()]
    lines += ["", "[staging]", f'repository-url = "{index.upload_url}"', f'index-url = "{index.index_url}"']
    lines += ["", "[production]", f'index-url = "{index.index_url}"']
    return "\n".join(lines) + "\n"
