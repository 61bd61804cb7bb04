"""A wheel whose platform tag PyPI refuses (`linux_x86_64`, what a C extension built here gets) is refused by
inspect, naming the tag, in a release and in `relsafe inspect FILE`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from relsafe.app.sample import SampleProject, create_sample
from relsafe.artifacts.platform_tags import platform_problems, uploadable
from relsafe.tools.localindex import LocalIndex
from tests.support.cli import RunRelsafe
from tests.support.files import write
from tests.support.git import commit_all, git
from tests.support.world import world

# A hatchling build hook that makes the wheel platform-specific, as a compiled extension module does: hatchling
# then tags it for this interpreter and machine (cp3XX-cp3XX-linux_x86_64 here), never manylinux.
PLATFORM_HOOK = """
from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class CustomBuildHook(BuildHookInterface):
    def initialize(self, version, build_data):
        build_data["pure_python"] = False
        build_data["infer_tag"] = True
"""
HOOK_TABLE = '\n[tool.hatch.build.targets.wheel.hooks.custom]\npath = "hatch_build.py"\n'


@pytest.mark.parametrize(
    ("platform", "taken"),
    [
        ("any", True),
        ("win_amd64", True),
        ("win32", True),
        ("manylinux1_x86_64", True),
        ("manylinux2014_aarch64", True),
        ("manylinux_2_17_x86_64", True),
        ("manylinux_2_28_ppc64", True),
        ("musllinux_1_2_aarch64", True),
        ("musllinux_1_2_ppc64", False),
        ("manylinux_2_17_sparc", False),
        ("linux_x86_64", False),
        ("linux_aarch64", False),
        ("linux_i686", False),
        ("linux_armv7l", True),
        ("macosx_10_9_x86_64", True),
        ("macosx_11_0_arm64", True),
        ("macosx_11_3_arm64", False),
        ("macosx_9_0_x86_64", False),
        ("ios_13_0_arm64_iphoneos", True),
        ("android_24_arm64_v8a", True),
        ("android_24_mips", False),
        ("pyemscripten_2025_0_wasm32", True),
        ("freebsd_14_0_release_amd64", False),
        ("cygwin_3_5_x86_64", False),
    ],
)
def test_the_platform_tags_pypi_takes(platform: str, taken: bool) -> None:
    assert uploadable(platform) is taken


def test_each_refused_tag_of_a_compressed_set_is_named(tmp_path: Path) -> None:
    wheel = tmp_path / "pkg-1.0-cp312-cp312-manylinux_2_17_x86_64.linux_x86_64.linux_i686.whl"
    problems = platform_problems(wheel)
    assert [problem.split(":")[0] for problem in problems] == ["platform tag linux_i686", "platform tag linux_x86_64"]
    assert "auditwheel, which is the CI's job" in problems[0]
    assert platform_problems(tmp_path / "pkg-1.0-py3-none-any.whl") == []
    assert platform_problems(tmp_path / "pkg-1.0.tar.gz") == []


def platform_sample(base: Path, index: tuple[str, str] | None = None) -> SampleProject:
    sample = create_sample(base, index=index)
    pyproject = sample.root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text(encoding="utf-8") + HOOK_TABLE, encoding="utf-8")
    write(sample.root, "hatch_build.py", PLATFORM_HOOK)
    commit_all(sample, "A platform-specific wheel, as a C extension makes")
    return sample


def test_relsafe_inspect_refuses_a_linux_wheel_naming_its_tag(tmp_path: Path, run_relsafe: RunRelsafe) -> None:
    sample = platform_sample(tmp_path)
    out = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--wheel", "--outdir", str(out), str(sample.root)],
        check=True,
        capture_output=True,
    )
    wheel = next(out.glob("*.whl"))
    assert "-linux_" in wheel.name, wheel.name

    found = run_relsafe("inspect", str(wheel), cwd=tmp_path)

    assert found.returncode == 4, found.stdout + found.stderr
    platform = wheel.name.removesuffix(".whl").rsplit("-", 1)[1]
    assert f"{wheel.name}: -: platform: platform tag {platform}: PyPI refuses it" in found.stdout
    assert "auditwheel" in found.stdout


@pytest.mark.slow
def test_a_release_of_a_linux_wheel_is_refused_at_inspect_and_changes_nothing_abort_cannot_undo(
    tmp_path: Path, local_index: LocalIndex, run_relsafe: RunRelsafe
) -> None:
    sample = platform_sample(tmp_path, index=(local_index.upload_url, local_index.index_url))
    before = world(sample)

    proc = run_relsafe("release", "minor", cwd=sample.root)

    output = proc.stdout + proc.stderr
    assert proc.returncode == 4, output
    assert "inspect found 1 problem(s) in the built files" in output
    assert "platform: platform tag linux_" in output and "auditwheel" in output
    assert git(sample.remote, "tag", "--list") == "" and git(sample.root, "tag", "--list") == ""
    assert git(sample.remote, "rev-parse", "refs/heads/main") == before.head
    assert list(local_index.storage.iterdir()) == []
    aborted = run_relsafe("abort", cwd=sample.root)
    assert aborted.returncode == 0, aborted.stdout + aborted.stderr
    assert world(sample) == before
