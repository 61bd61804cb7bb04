"""release.toml for the foundation pipeline: what the release tests release with. Later steps need fresh venvs or
a staging index, and have their own tests."""

from __future__ import annotations

import textwrap
from pathlib import Path

from relsafe.app.sample import SampleProject
from relsafe.tools.localindex import LocalIndex
from tests.support.git import git

FOUNDATION_STEPS = ("preflight", "bump", "build", "tag", "push")
GATE_ITEMS = ["CHANGELOG.md has an entry for this version", "The docs are updated"]


def release_toml(index: LocalIndex, **release: str) -> str:
    """release.toml for the foundation steps against the loopback index; `release` adds [release] keys."""
    lines = ["[release]", "steps = [" + ", ".join(f'"{s}"' for s in FOUNDATION_STEPS) + "]"]
    lines += [f'{key.replace("_", "-")} = "{value}"' for key, value in release.items()]
    lines += ["", "[staging]", f'repository-url = "{index.upload_url}"', f'index-url = "{index.index_url}"']
    lines += ["", "[production]", f'index-url = "{index.index_url}"']
    return "\n".join(lines) + "\n"


def add_gate(sample: SampleProject) -> None:
    """A [[gate]] named checklist before tag, committed and pushed."""
    text = (sample.root / "release.toml").read_text(encoding="utf-8")
    text += (
        '\n[[gate]]\nname = "checklist"\nbefore = "tag"\nitems = [' + ", ".join(f'"{i}"' for i in GATE_ITEMS) + "]\n"
    )
    (sample.root / "release.toml").write_text(text, encoding="utf-8")
    git(sample.root, "commit", "-qam", "add a gate")
    git(sample.root, "push", "-q", "origin", "main")


def rewrite_workflow(root: Path) -> Path:
    """relsafe's publish workflow rewritten for the repository's release.toml, as `relsafe init --update` does
    after a maintainer changes what it renders (the steps, the staging index, the tag format); returns it,
    not committed. A release refuses a workflow that is not the rendering of its configuration. A
    configuration relsafe refuses renders nothing (a release stops at it first): the workflow is left alone."""
    from relsafe.app.init import initialise
    from relsafe.core.errors import ConfigError
    from relsafe.model.publish_workflow import DEFAULT_WORKFLOW

    try:
        done = initialise(root, update=True)
    except ConfigError:
        return root / DEFAULT_WORKFLOW
    return root / done.workflow


def staging_toml(upload_url: str, index_url: str, steps: str, extra: str = "") -> str:
    """release.toml for a quick release staged on a loopback index that stands for production too: no build
    isolation, the sample's unittest suite, `extra` appended."""
    return (
        textwrap.dedent(
            f"""\
        [release]
        steps = {steps}

        [staging]
        repository-url = "{upload_url}"
        index-url = "{index_url}"

        [production]
        index-url = "{index_url}"

        [build]
        isolation = false

        [test]
        command = "python -m unittest discover -s tests"
        requires = []
        """
        )
        + extra
    )
