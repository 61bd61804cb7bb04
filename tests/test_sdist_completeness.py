"""inspect's sdist check: the released wheel is built from the sdist, so a file the sdist leaves out is found by
comparing it with a wheel built straight from the release commit's tree."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from relsafe.app.sample import create_sample
from relsafe.tools.localindex import LocalIndex
from tests.support.cli import RunRelsafe
from tests.support.git import git

pytestmark = pytest.mark.slow


def test_a_file_the_sdist_leaves_out_is_refused_before_anything_leaves_the_machine(
    tmp_path: Path, local_index: LocalIndex, run_relsafe: RunRelsafe
) -> None:
    sample = create_sample(tmp_path, index=(local_index.upload_url, local_index.index_url), offline=True)
    data = f"src/{sample.module}/table.json"
    (sample.root / data).write_text("{}\n", encoding="utf-8")
    pyproject = sample.root / "pyproject.toml"
    exclusion = f'\n[tool.hatch.build.targets.sdist]\nexclude = ["{data}"]\n'
    pyproject.write_text(pyproject.read_text(encoding="utf-8") + exclusion, encoding="utf-8")
    git(sample.root, "add", "--all")
    git(sample.root, "commit", "-qm", "A data file the sdist forgets")
    git(sample.root, "push", "-q", "origin", "main")

    refused = run_relsafe("release", "minor", cwd=sample.root)

    output = refused.stdout + refused.stderr
    assert refused.returncode == 4, output
    assert f"{sample.module}/table.json is in a wheel built from the source tree but not in" in output
    assert "the sdist lacks it" in output
    assert list(local_index.storage.iterdir()) == [], "refused before the upload"
    assert git(sample.remote, "tag", "--list") == ""

    [tree_wheels] = (sample.root / ".git" / "relsafe" / "releases").glob("*/tree-wheel")
    shutil.rmtree(tree_wheels)  # the build's wheel from the tree is gone: inspect makes its own
    again = run_relsafe("resume", cwd=sample.root)
    assert again.returncode == 4, again.stdout + again.stderr
    assert f"{sample.module}/table.json is in a wheel built from the source tree" in again.stdout + again.stderr

    pyproject.write_text(pyproject.read_text(encoding="utf-8").replace(exclusion, ""), encoding="utf-8")
    git(sample.root, "commit", "-qam", "The sdist ships the data file")
    git(sample.root, "push", "-q", "origin", "main")
    assert run_relsafe("abort", cwd=sample.root).returncode == 0
    released = run_relsafe("release", "minor", cwd=sample.root)
    assert released.returncode == 0, released.stdout + released.stderr
